"""An identifier said aloud is no proof, before its owner is known either: a stranger who
reads out Ann's phone number and e-mail address in their own first call (nobody owns
them yet, so they are linked to the stranger as "said in call") must not become the
caller Ann's own calls resolve to. Before the fix Ann's first call from her number
resolved to the stranger, her words were filed in the stranger's memory and the stranger,
calling back from their own number, heard them. End to end through the runtime's REST
routes, real turns, both stores."""

from __future__ import annotations

from typing import Any

import httpx

from voxmem._operations import OPERATIONS

TOKEN = "squatted-identifiers-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
IDENT = {"project_id": "proj", "agent_id": "agent"}
STRANGER = {"id": "+14155550999"}
ANN_PHONE = "+1 510 555 0100"


async def post(http: httpx.AsyncClient, op: str, body: dict[str, Any]) -> Any:
    response = await http.post(OPERATIONS[op].path, json={**IDENT, **body}, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


async def stranger_claims_anns_identifiers(http: httpx.AsyncClient) -> None:
    await post(http, "start_session", {"user": STRANGER})
    await post(http, "save_response", {
        "user": STRANGER, "assistant_text": "Noted.",
        "user_text": "my other number is 510 555 0100 and my email is ann dot lee at "
                     "example dot com"})
    await post(http, "end_session", {"user": STRANGER, "reason": "completed"})
    await post(http, "flush", {"learning": True})
    said = {i["kind"] for i in (await post(http, "show_caller", {"user": STRANGER}))[
        "identifiers"]}
    assert {"phone", "email"} <= said  # the precondition: the stranger holds both links


async def test_a_number_said_first_by_a_stranger_does_not_take_its_owners_calls(
        http: httpx.AsyncClient) -> None:
    await stranger_claims_anns_identifiers(http)
    # Ann calls for the first time, from her own number (the SIP layer's, not spoken).
    found = await post(http, "resolve_caller", {
        "identifiers": [{"kind": "phone", "value": ANN_PHONE, "source": "sip"}],
        "default_user_id": "ann"})
    assert found["userId"] == "ann", found
    ann = {"id": found["userId"]}
    await post(http, "start_session", {"user": ann})
    await post(http, "save_response", {"user": ann, "assistant_text": "Noted.",
                                       "user_text": "my door code is 4412 and my dog is "
                                                    "called Biscuit"})
    await post(http, "end_session", {"user": ann, "reason": "completed"})
    await post(http, "flush", {"learning": True})
    heard = await post(http, "search_memory", {"user": STRANGER, "timeout_ms": 3000,
                                               "query": "what is my dog called"})
    assert "Biscuit" not in heard["contextText"], "the stranger heard Ann's call"
    # Her next call from the same number finds her, not the stranger.
    again = await post(http, "resolve_caller", {
        "identifiers": [{"kind": "phone", "value": ANN_PHONE, "source": "sip"}]})
    assert again["userId"] == "ann", again


async def test_an_address_said_first_by_a_stranger_does_not_link_the_crm_caller(
        http: httpx.AsyncClient) -> None:
    await stranger_claims_anns_identifiers(http)
    found = await post(http, "resolve_caller", {
        "identifiers": [{"kind": "email", "value": "ann.lee@example.com", "source": "crm"}],
        "default_user_id": "crm-ann"})
    assert (found["userId"], found["linked"]) == ("crm-ann", False), found


async def test_the_owner_saying_them_later_is_not_attached_to_the_stranger(
        http: httpx.AsyncClient) -> None:
    """In a call too: Ann, on her first call from a new number, gives her e-mail address
    and her number (two identifiers of one owner: that attaches a first-time caller).
    Their only owner is the stranger who said them first, so her call went to the
    stranger, and with it what she says next."""
    await stranger_claims_anns_identifiers(http)
    ann = {"id": "+14155550123"}
    await post(http, "start_session", {"user": ann})
    for text in ("my email is ann dot lee at example dot com",
                 "and my mobile is 510 555 0100", "my dog is called Biscuit"):
        await post(http, "save_response", {"user": ann, "user_text": text,
                                           "assistant_text": "Thanks."})
        await post(http, "flush", {})
    assert [m for m in await post(http, "list_merges", {"user_id": ann["id"]})
            if m["status"] == "merged"] == []
    await post(http, "end_session", {"user": ann, "reason": "completed"})
    await post(http, "flush", {"learning": True})
    heard = await post(http, "search_memory", {"user": STRANGER, "timeout_ms": 3000,
                                               "query": "what is my dog called"})
    assert "Biscuit" not in heard["contextText"], "the stranger heard Ann's call"
