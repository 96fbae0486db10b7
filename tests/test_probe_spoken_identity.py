"""An identifier said aloud is no secret: a first-time caller who reads out a known
caller's e-mail address must not hear that caller's memory (end to end through the
runtime's REST routes, two callers, real turns; both stores)."""

from __future__ import annotations

from typing import Any

import httpx

from voxmem._operations import OPERATIONS

TOKEN = "spoken-identity-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
IDENT = {"project_id": "proj", "agent_id": "agent"}
ANN = {"id": "ann", "name": "Ann Lee",
       "metadata": {"email": "ann.lee@example.com", "phone": "+1 510 555 0100"}}


async def post(http: httpx.AsyncClient, op: str, body: dict[str, Any]) -> Any:
    response = await http.post(OPERATIONS[op].path, json={**IDENT, **body}, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


async def ann_has_a_history(http: httpx.AsyncClient) -> None:
    await post(http, "start_session", {"user": ANN})
    await post(http, "save_response", {
        "user": ANN, "user_text": "my dog is called Biscuit and my door code is 4412",
        "assistant_text": "Noted, Biscuit."})
    await post(http, "end_session", {"user": ANN, "reason": "completed"})
    await post(http, "flush", {})


async def new_caller_says(http: httpx.AsyncClient, number: str, *said: str) -> str:
    """A first call from ``number``: the turns said, then what recall gives the caller."""
    who = {"id": number}
    await post(http, "start_session", {"user": who})
    for text in said:
        await post(http, "save_response", {"user": who, "user_text": text,
                                           "assistant_text": "Thanks."})
        await post(http, "flush", {})  # each turn acted on before the next is said
    found = await post(http, "search_memory", {"user": who, "query": "what is my dog called",
                                               "timeout_ms": 3000})
    return str(found["contextText"])


async def test_an_e_mail_said_alone_proposes_and_does_not_attach(
        http: httpx.AsyncClient) -> None:
    await ann_has_a_history(http)
    context = await new_caller_says(http, "+14155550999",
                                    "hi, my email is a n n dot lee at example dot com")
    assert "Biscuit" not in context, "a stranger heard Ann's memory"
    merges = await post(http, "list_merges", {"user_id": "+14155550999"})
    assert [(m["toUserId"], m["status"]) for m in merges] == [("ann", "proposed")]
    assert merges[0]["evidence"]["identifier"]["kind"] == "email"
    # Said again in the same call: still one proposal, still no link.
    await post(http, "save_response", {"user": {"id": "+14155550999"},
                                       "user_text": "ann dot lee at example dot com",
                                       "assistant_text": "ok"})
    await post(http, "flush", {})
    assert len(await post(http, "list_merges", {"user_id": "+14155550999"})) == 1
    shown = await post(http, "show_caller", {"user": {"id": "+14155550999"}})
    assert shown["userId"] == "+14155550999"


async def test_a_phone_number_said_alone_does_not_attach(http: httpx.AsyncClient) -> None:
    await ann_has_a_history(http)
    context = await new_caller_says(http, "+14155550998",
                                    "my number is five one oh, five five five, oh one hundred")
    assert "Biscuit" not in context
    merges = await post(http, "list_merges", {"user_id": "+14155550998"})
    assert [m["status"] for m in merges] == ["proposed"]


async def test_with_a_matching_name_the_call_attaches(http: httpx.AsyncClient) -> None:
    await ann_has_a_history(http)
    context = await new_caller_says(
        http, "+14155550997", "hi, this is Ann, my email is ann dot lee at example dot com",
        "what was my dog called again?")
    assert "Biscuit" in context
    merges = await post(http, "list_merges", {"user_id": "+14155550997"})
    assert [(m["toUserId"], m["status"]) for m in merges] == [("ann", "merged")]


async def test_a_name_said_after_the_identifier_settles_the_proposal(
        http: httpx.AsyncClient) -> None:
    await ann_has_a_history(http)
    context = await new_caller_says(
        http, "+14155550996", "my email is ann dot lee at example dot com",
        "oh and this is Ann by the way")
    assert "Biscuit" in context
    merges = await post(http, "list_merges", {"user_id": "+14155550996"})
    assert sorted(m["status"] for m in merges) == ["merged", "proposed"]


async def test_two_identifiers_of_the_same_caller_attach(http: httpx.AsyncClient) -> None:
    await ann_has_a_history(http)
    context = await new_caller_says(
        http, "+14155550995", "my email is ann dot lee at example dot com",
        "and my old number was 510 555 0100")
    assert "Biscuit" in context
    merges = await post(http, "list_merges", {"user_id": "+14155550995"})
    merged = [m for m in merges if m["status"] == "merged"]
    assert len(merged) == 1 and merged[0]["evidence"]["also"]


async def test_a_wrong_name_with_the_e_mail_links_nobody(http: httpx.AsyncClient) -> None:
    await ann_has_a_history(http)
    context = await new_caller_says(
        http, "+14155550994", "this is Mark, my email is ann dot lee at example dot com")
    assert "Biscuit" not in context
    assert await post(http, "list_merges", {"user_id": "+14155550994"}) == []
