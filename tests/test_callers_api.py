"""Callers through every door: REST (responses checked against the OpenAPI schemas),
the embedded client and the ``voxmem callers`` CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from voxmem import Settings, VoiceClientSync
from voxmem._operations import OPERATIONS
from voxmem.cli import main
from voxmem.runtime._app import openapi_document

TOKEN = "test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
IDENT = {"project_id": "proj", "agent_id": "agent"}
CALLER_OPS = ("resolve_caller", "link_identifier", "unlink_identifier", "find_callers",
              "show_caller", "merge_callers", "unmerge_callers", "list_merges")
DOC = openapi_document("test")


def documented(op: str, which: str) -> dict[str, Any]:
    """The request or 200 response schema of ``op``, with the components it refers to."""
    spec = DOC["paths"][OPERATIONS[op].path]["post"]
    body = spec["requestBody"] if which == "request" else spec["responses"]["200"]
    return {**body["content"]["application/json"]["schema"], "components": DOC["components"]}


async def call(http: httpx.AsyncClient, op: str, body: dict[str, Any],
               status: int = 200) -> Any:
    """POST one operation; check the status and, on success, the documented schema."""
    response = await http.post(OPERATIONS[op].path, json={**IDENT, **body}, headers=AUTH)
    assert response.status_code == status, response.text
    if status == 200:
        jsonschema.Draft202012Validator(documented(op, "response")).validate(response.json())
    return response.json()


async def test_openapi_documents_typed_caller_operations(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/openapi.json", headers=AUTH)).json()
    assert doc["paths"] == json.loads(json.dumps(DOC["paths"]))
    for op in CALLER_OPS:
        for which in ("request", "response"):
            schema = documented(op, which)
            assert set(schema) != {"components"}, (op, which)  # a real schema, not {}
            jsonschema.Draft202012Validator.check_schema(schema)


async def test_rest_round_trip(http: httpx.AsyncClient) -> None:
    found = await call(http, "resolve_caller", {
        "identifiers": [{"kind": "phone", "value": "(510) 555-0100", "source": "sip"}],
        "user_id": "ann", "name": "Ann"})
    assert found["userId"] == "ann"
    link = await call(http, "link_identifier", {"user": {"id": "ann"}, "kind": "email",
                                                "value": "a n n at example dot com"})
    assert link["value"] == "ann@example.com"
    assert [r["userId"] for r in await call(http, "find_callers",
                                            {"identifier": "ann@example.com"})] == ["ann"]
    again = await call(http, "resolve_caller", {
        "identifiers": [{"kind": "email", "value": "ANN@example.com"},
                        {"kind": "phone", "value": "+44 20 7946 0018", "source": "sip"}],
        "default_user_id": "+442079460018"})
    assert again["userId"] == "ann" and again["linked"]
    # An id that names nobody is not merged (it would redirect a stranger's later calls).
    await call(http, "merge_callers", {"from_id": "guest-1", "to_id": "ann"}, status=404)
    await call(http, "link_identifier", {"user": {"id": "guest-1"}, "kind": "account",
                                         "value": "ACC-7"})
    merged = await call(http, "merge_callers", {"from_id": "guest-1", "to_id": "ann",
                                                "reason": "signed in"})
    assert merged["status"] == "merged"
    shown = await call(http, "show_caller", {"user": {"id": "ann"}})
    assert {i["kind"] for i in shown["identifiers"]} == {"phone", "email", "name", "account"}
    assert [m["mergeId"] for m in await call(http, "list_merges", {"user_id": "ann"})] == [
        merged["mergeId"]]
    undone = await call(http, "unmerge_callers", {"merge_id": merged["mergeId"]})
    assert undone["fromUserId"] == "guest-1"
    assert (await call(http, "list_merges", {}))[0]["status"] == "undone"


@pytest.mark.parametrize(("op", "body", "field"), [
    ("resolve_caller", {"identifiers": "phone"}, "identifiers"),
    ("resolve_caller", {"identifiers": [{"kind": "phone"}]}, "identifiers[0].value"),
    ("resolve_caller", {"identifiers": [{"kind": "fax", "value": "1"}]}, "kind"),
    ("resolve_caller", {"identifiers": [{"kind": "phone", "value": "12"}]}, "value"),
    ("link_identifier", {"user": {"id": "a"}, "kind": "email", "value": "nope"}, "value"),
    # Shown as 510-555-0100, read in order as +10010555015: neither is linked.
    ("link_identifier", {"user": {"id": "a"}, "kind": "phone", "value": "\u202e0010-555-015"},
     "value"),
    ("resolve_caller", {"identifiers": [{"kind": "livekit_identity",
                                         "value": "\u202enimda"}]}, "value"),
    ("merge_callers", {"from_id": "a", "to_id": "a"}, "to_id"),
    ("merge_callers", {"from_id": "a", "to_id": "b", "status": "maybe"}, "status"),
    ("unmerge_callers", {}, "merge_id"),
    ("find_callers", {"identifier": ""}, "identifier"),
])
async def test_bad_input_names_the_field(http: httpx.AsyncClient, op: str,
                                         body: dict[str, Any], field: str) -> None:
    error = (await call(http, op, body, status=400))["error"]
    assert error["code"] == "bad_request" and error["details"]["field"] == field


def test_sync_client_and_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    with VoiceClientSync(project_id="proj", agent_id="agent", embedded=True,
                         settings=Settings(data_dir=str(data), embedder="hashing")) as client:
        client.resolve_caller([{"kind": "account", "value": "ACCT-99120", "source": "crm"}],
                              user_id="kim", name="Kim")
        client.save_response(user={"id": "guest-2"}, user_text="my order is QX-5521",
                             assistant_text="Found it")
        assert client.find_callers("account nine nine one two zero")[0]["userId"] == "kim"

    def cli(*args: str) -> int:
        return main(["callers", args[0], "--data-dir", str(data), "--project", "proj",
                     "--embedded", *args[1:]])

    assert cli("find", "nine nine one two zero") == 0
    assert "kim  account 99120" in capsys.readouterr().out
    assert cli("find", "555 0000") == 1
    capsys.readouterr()
    assert cli("merge", "guest-2", "kim", "--reason", "same person", "--json") == 0
    merge_id = json.loads(capsys.readouterr().out)["mergeId"]
    assert cli("show", "--user", "kim") == 0
    shown = capsys.readouterr().out
    assert "account" in shown and merge_id in shown and "same person" in shown
    assert cli("unmerge", merge_id) == 0
    assert "unmerged guest-2 from kim" in capsys.readouterr().out


async def test_livekit_identity_feeds_resolution(settings: Settings) -> None:
    from voxmem import VoiceClient
    from voxmem.integrations._livekit_identity import (
        _LINKING,
        CallerIdentity,
        canonical_identity,
    )

    async with VoiceClient(project_id="proj", agent_id="agent", embedded=True,
                           settings=settings) as client:
        # The backend knows the caller by its own id; the room tells us their phone.
        backend = CallerIdentity(user_id="u-123", source="job_metadata", name="Ada",
                                 phone="+15105550100", participant_identity="sip_abc")
        assert await canonical_identity(client, backend) == backend
        while _LINKING:
            await next(iter(_LINKING))
        # Next time they ring with no metadata: the SIP phone finds them.
        sip = CallerIdentity(user_id="+15105550100", source="sip", phone="+15105550100",
                             sip_call_id="call-2")
        assert (await canonical_identity(client, sip)).user_id == "u-123"
        stranger = CallerIdentity(user_id="+14155550100", source="sip", phone="+14155550100")
        assert (await canonical_identity(client, stranger)).user_id == "+14155550100"
        assert (await client.find_callers("sip_abc"))[0]["userId"] == "u-123"
