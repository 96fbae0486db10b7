"""Unlinking one identifier from a caller (a phone linked by mistake), through every door:
REST (token, validation, 404 for an identifier the caller does not have), the embedded
sync client and the ``voxmem callers unlink`` CLI, on both stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from voxmem import NotFound, Settings, VoiceClientSync
from voxmem._operations import OPERATIONS
from voxmem.cli import main

from .test_callers_api import AUTH, call
from .test_callers_api import TOKEN as TOKEN  # the conftest `http` fixture serves behind it

PATH = OPERATIONS["unlink_identifier"].path


async def _callers_of(http: httpx.AsyncClient, identifier: str) -> list[str]:
    return [r["userId"] for r in await call(http, "find_callers",
                                            {"identifier": identifier})]


async def test_a_phone_linked_by_mistake_is_unlinked_and_leads_nowhere_after(
        http: httpx.AsyncClient) -> None:
    # The app signed Ann in on a call from her neighbour's phone: the phone became hers.
    await call(http, "resolve_caller", {
        "identifiers": [{"kind": "phone", "value": "+1 510 555 0100", "source": "sip"},
                        {"kind": "email", "value": "ann@example.com", "source": "crm"}],
        "user_id": "ann"})
    await call(http, "link_identifier", {"user": {"id": "bob"}, "kind": "email",
                                         "value": "bob@example.com"})
    assert await _callers_of(http, "(510) 555-0100") == ["ann"]

    # Another caller does not have it: 404, and Ann keeps it.
    missing = await call(http, "unlink_identifier", {"user": {"id": "bob"}, "kind": "phone",
                                                     "value": "+15105550100"}, status=404)
    assert missing["error"]["code"] == "not_found"
    assert await _callers_of(http, "+15105550100") == ["ann"]

    # Spelled another way, it is the same identifier.
    removed = await call(http, "unlink_identifier", {
        "user": {"id": "ann"}, "kind": "phone", "value": "five one oh, five five five, "
                                                          "oh one hundred"})
    assert (removed["kind"], removed["value"], removed["userId"]) == (
        "phone", "+15105550100", "ann")
    assert await _callers_of(http, "+15105550100") == []
    shown = await call(http, "show_caller", {"user": {"id": "ann"}})
    assert {(i["kind"], i["value"]) for i in shown["identifiers"]} == {
        ("email", "ann@example.com")}

    # The neighbour's next call from that phone is a new caller, not Ann.
    found = await call(http, "resolve_caller", {
        "identifiers": [{"kind": "phone", "value": "+15105550100", "source": "sip"}],
        "default_user_id": "neighbour"})
    assert (found["userId"], found["linked"]) == ("neighbour", False)

    # Unlinking again: nothing to remove.
    again = await call(http, "unlink_identifier", {"user_id": "ann", "kind": "phone",
                                                   "value": "+15105550100"}, status=404)
    assert again["error"]["details"] == {"kind": "phone", "value": "+15105550100"}


@pytest.mark.parametrize(("body", "field"), [
    ({"user": {"id": "ann"}, "kind": "fax", "value": "1"}, "kind"),
    ({"user": {"id": "ann"}, "kind": "phone", "value": "12"}, "value"),
    ({"user": {"id": "ann"}, "kind": "phone"}, "value"),
    ({"user": {"id": "ann"}, "kind": "", "value": "+15105550100"}, "kind"),
    ({"kind": "phone", "value": "+15105550100"}, "user"),
])
async def test_bad_input_names_the_field(http: httpx.AsyncClient, body: dict[str, Any],
                                         field: str) -> None:
    await call(http, "link_identifier", {"user": {"id": "ann"}, "kind": "phone",
                                         "value": "+15105550100"})
    error = (await call(http, "unlink_identifier", body, status=400))["error"]
    assert error["code"] == "bad_request" and error["details"]["field"] == field
    assert await _callers_of(http, "+15105550100") == ["ann"]  # nothing removed


async def test_without_the_token_nothing_is_unlinked(http: httpx.AsyncClient) -> None:
    await call(http, "link_identifier", {"user": {"id": "ann"}, "kind": "phone",
                                         "value": "+15105550100"})
    body = {"project_id": "proj", "agent_id": "agent", "user": {"id": "ann"},
            "kind": "phone", "value": "+15105550100"}
    for headers in ({}, {"authorization": "Bearer wrong"}):
        response = await http.post(PATH, json=body, headers=headers)
        assert response.status_code == 401
    assert await _callers_of(http, "+15105550100") == ["ann"]
    assert (await http.post(PATH, json=body, headers=AUTH)).status_code == 200


def test_sync_client_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=str(data), embedder="hashing")
    with VoiceClientSync(project_id="proj", agent_id="agent", embedded=True,
                         settings=settings) as client:
        client.link_identifier("phone", "+1 510 555 0100", user_id="kim")
        client.link_identifier("account", "ACCT-99120", user_id="kim")
        removed = client.unlink_identifier("account", "account nine nine one two zero",
                                           user_id="kim")
        assert removed["value"] == "99120"
        with pytest.raises(NotFound):
            client.unlink_identifier("account", "99120", user_id="kim")

    def cli(*args: str) -> int:
        return main(["callers", args[0], "--data-dir", str(data), "--project", "proj",
                     "--embedded", *args[1:]])

    assert cli("unlink", "--user", "kim", "phone", "(510) 555-0100") == 0
    assert "unlinked phone +15105550100 from kim" in capsys.readouterr().out
    assert cli("unlink", "--user", "kim", "phone", "(510) 555-0100") != 0
    assert "has no phone" in capsys.readouterr().err
    assert cli("find", "510 555 0100") == 1
