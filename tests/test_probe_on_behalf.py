"""A caller who says they are calling for someone else must not be attached to that
person (callers.md, "During a call"), also when they say so in one turn and give the
person's name and e-mail address in the next ones. Before the fix "I'm calling for my
mother." / "Her name is Ann Lee." / "The email is ..." attached the call to Ann ("her
name is" read as the caller's own name, the first turn forgotten) and the caller heard
Ann's memory. End to end through the runtime's REST routes, both stores."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from voxmem._operations import OPERATIONS
from voxmem.entities._identifiers import spoken_claims

TOKEN = "on-behalf-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
IDENT = {"project_id": "proj", "agent_id": "agent"}
ANN = {"id": "ann", "name": "Ann Lee",
       "metadata": {"email": "ann.lee@example.com", "phone": "+1 510 555 0100"}}


async def post(http: httpx.AsyncClient, op: str, body: dict[str, Any]) -> Any:
    response = await http.post(OPERATIONS[op].path, json={**IDENT, **body}, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


async def caller_says(http: httpx.AsyncClient, number: str, *said: str) -> str:
    """Ann's history, then a first call from ``number``; what recall gives that caller."""
    await post(http, "start_session", {"user": ANN})
    await post(http, "save_response", {"user": ANN, "assistant_text": "Noted.",
                                       "user_text": "my dog is called Biscuit"})
    await post(http, "end_session", {"user": ANN, "reason": "completed"})
    await post(http, "flush", {})
    who = {"id": number}
    await post(http, "start_session", {"user": who})
    for text in said:
        await post(http, "save_response", {"user": who, "user_text": text,
                                           "assistant_text": "Thanks."})
        await post(http, "flush", {})  # each turn acted on before the next is said
    found = await post(http, "search_memory", {"user": who, "query": "what is my dog called",
                                               "timeout_ms": 3000})
    return str(found["contextText"])


@pytest.mark.parametrize("said", [
    ("Hi, I'm calling for my mother.", "Her name is Ann Lee.",
     "The email is ann dot lee at example dot com"),
    ("I'm phoning on behalf of my mum.", "The email is ann dot lee at example dot com",
     "and the number is 510 555 0100"),
], ids=["name-in-a-later-turn", "two-identifiers-in-later-turns"])
async def test_calling_for_someone_else_in_an_earlier_turn_attaches_nothing(
        http: httpx.AsyncClient, said: tuple[str, ...]) -> None:
    context = await caller_says(http, "+14155550901", *said)
    assert "Biscuit" not in context, "the caller heard the memory of the one they call for"
    merges = await post(http, "list_merges", {"user_id": "+14155550901"})
    assert [m for m in merges if m["status"] == "merged"] == []


@pytest.mark.parametrize("text", ["Her name is Ann Lee.", "his name is John",
                                  "my mother's name is Ann", "My son’s name is Jon"])
def test_a_name_said_of_someone_else_is_not_the_callers(text: str) -> None:
    assert spoken_claims(text).names == ()


def test_calling_for_someone_is_read_without_an_identifier() -> None:
    assert spoken_claims("Hi, I'm calling for my mother.").on_behalf
    assert not spoken_claims("Hi, I'm calling about my order.").on_behalf


def test_the_callers_own_name_is_still_read() -> None:
    assert spoken_claims("this is Ann Lee, her name is on the account").names == ("ann",)
    assert spoken_claims("hi, my name is Ann").names == ("ann",)
