"""The runtime's REST API, in-process (httpx ASGITransport): routes, auth, the error
envelope and the SPEC §12 bad-input table. Nothing here starts a process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from voxmem import Settings
from voxmem._operations import OPERATIONS, dispatch
from voxmem.engine import MemoryEngine
from voxmem.models import IndexRecord
from voxmem.runtime import create_app

TOKEN = "test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
IDENT = {"project_id": "proj", "agent_id": "agent"}
USER = {"id": "caller-1", "name": "Ada"}


def rest(op: str) -> str:
    return OPERATIONS[op].path


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[MemoryEngine]:
    eng = MemoryEngine(settings)
    await eng.start()
    try:
        yield eng
    finally:
        await eng.close()


async def post(http: httpx.AsyncClient, op: str, body: dict[str, Any],
               headers: dict[str, str] | None = None) -> httpx.Response:
    return await http.post(rest(op), json=body, headers=AUTH if headers is None else headers)


def envelope(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return dict(body["error"])


async def journal_seq(http: httpx.AsyncClient) -> int:
    response = await http.get("/v1/runtime", headers=AUTH)
    return int(response.json()["stats"]["journalSeq"])


async def test_every_operation_has_exactly_one_route(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json", headers=AUTH)).json()
    routed = {(method.upper(), path): spec["operationId"]
              for path, methods in schema["paths"].items()
              for method, spec in methods.items()}
    for op in OPERATIONS.values():
        assert routed[(op.method, op.path)] == op.name
    assert sorted(v for v in routed.values() if v in OPERATIONS) == sorted(OPERATIONS)


async def test_health_needs_no_token_and_reveals_nothing(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("headers", [
    {}, {"authorization": "Bearer wrong-token"}, {"authorization": TOKEN},
    {"authorization": f"Basic {TOKEN}"}, {"authorization": f"Bearer {TOKEN}x"},
])
@pytest.mark.parametrize("op", sorted(OPERATIONS))
async def test_every_operation_requires_the_token(http: httpx.AsyncClient, op: str,
                                                  headers: dict[str, str]) -> None:
    response = await post(http, op, {**IDENT, "user": USER, "query": "x",
                                     "user_text": "secret", "assistant_text": "y"}, headers)
    assert response.status_code == 401
    err = envelope(response)
    assert err["code"] == "unauthorized"
    assert "secret" not in response.text


@pytest.mark.parametrize("path", ["/v1/settings", "/v1/runtime"])
async def test_admin_views_require_the_token(http: httpx.AsyncClient, path: str) -> None:
    assert (await http.get(path)).status_code == 401
    assert (await http.get(path, headers=AUTH)).status_code == 200


async def test_unauthorized_save_writes_nothing(http: httpx.AsyncClient) -> None:
    before = await journal_seq(http)
    response = await post(http, "save_response", {**IDENT, "user": USER, "user_text": "a",
                                                   "assistant_text": "b"}, headers={})
    assert response.status_code == 401
    assert await journal_seq(http) == before


async def test_save_then_search_round_trip(http: httpx.AsyncClient) -> None:
    saved = await post(http, "save_response", {
        **IDENT, "user": USER, "user_text": "My favourite colour is teal",
        "assistant_text": "Teal it is"})
    assert saved.status_code == 200
    assert saved.json()["eventId"].startswith("evt_")
    found = await post(http, "search_memory", {**IDENT, "user": USER,
                                               "query": "favourite colour"})
    assert found.status_code == 200
    body = found.json()
    assert "teal" in body["contextText"]
    assert body["trace"]["degraded"] is False
    other = await post(http, "search_memory", {**IDENT, "user": {"id": "caller-2"},
                                               "query": "favourite colour"})
    assert "teal" not in other.json()["contextText"]


async def test_http_and_in_process_answer_alike(http: httpx.AsyncClient,
                                                engine: MemoryEngine) -> None:
    body = {**IDENT, "user": USER, "query": "x", "lanes": ["gossip"]}
    response = await post(http, "search_memory", body)
    with pytest.raises(Exception) as err:
        await dispatch(engine, "search_memory", body)
    assert envelope(response) == err.value.to_envelope()["error"]  # type: ignore[attr-defined]
    assert response.status_code == err.value.status_code  # type: ignore[attr-defined]


SEARCH_CASES: list[tuple[dict[str, Any], str]] = [
    ({"user": {"id": ""}}, "user.id"),
    ({"user": {"id": "   "}}, "user.id"),
    ({}, "user"),
    ({"user": {"id": 7}}, "user.id"),
    ({"user": USER, "lanes": ["profile", "gossip"]}, "lanes"),
    ({"user": USER, "timeout_ms": -1}, "timeout_ms"),
    ({"user": USER, "timeout_ms": "fast"}, "timeout_ms"),
    ({"user": USER, "query": 42}, "query"),
    ({"user": USER, "top_k": {"org": "many"}}, "top_k"),
    ({"user": USER, "project_id": ""}, "project_id"),
]


@pytest.mark.parametrize(("patch", "field"), SEARCH_CASES)
async def test_search_bad_input_is_400_naming_the_field(http: httpx.AsyncClient,
                                                       patch: dict[str, Any],
                                                       field: str) -> None:
    response = await post(http, "search_memory", {**IDENT, "query": "hello", **patch})
    assert response.status_code == 400
    err = envelope(response)
    assert err["code"] == "bad_request"
    assert err["details"]["field"] == field


@pytest.mark.parametrize(("patch", "field", "status"), [
    ({"user_text": 12}, "user_text", 400),
    ({"assistant_text": ["a"]}, "assistant_text", 400),
    ({"user_text": "x" * 70_000}, "user_text", 413),
    ({"user": {"id": ""}}, "user.id", 400),
    ({"interrupted": "yes"}, "interrupted", 400),
    ({"metadata": [1, 2]}, "metadata", 400),
])
async def test_save_bad_input_names_the_field_and_writes_nothing(
        http: httpx.AsyncClient, patch: dict[str, Any], field: str, status: int) -> None:
    before = await journal_seq(http)
    response = await post(http, "save_response", {**IDENT, "user": USER, "user_text": "hi",
                                                   "assistant_text": "hello", **patch})
    assert response.status_code == status
    assert envelope(response)["details"]["field"] == field
    assert await journal_seq(http) == before


@pytest.mark.parametrize("documents", [
    [{"id": f"d{i}", "text": "short"} for i in range(101)],
    [{"id": f"d{i}", "text": "x" * 60_000} for i in range(20)],
])
async def test_oversized_index_batch_is_413_and_nothing_written(
        http: httpx.AsyncClient, documents: list[dict[str, Any]]) -> None:
    response = await post(http, "create_index", {**IDENT, "name": "kb",
                                                 "documents": documents})
    assert response.status_code == 413
    assert envelope(response)["code"] == "index.batch_too_large"
    listed = await post(http, "list_indexes", IDENT)
    assert listed.json() == []


async def test_index_build_and_org_recall(http: httpx.AsyncClient) -> None:
    built = await post(http, "create_index", {**IDENT, "name": "kb", "documents": [
        {"id": "returns", "text": "Returns are accepted within 30 days with a receipt."}]})
    assert built.status_code == 200
    assert built.json()["indexName"] == "kb"
    assert [i["name"] for i in (await post(http, "list_indexes", IDENT)).json()] == ["kb"]


@pytest.mark.parametrize(("raw", "why"), [
    (b'{"project_id": "proj",', "not valid JSON"),
    (b"", "empty"),
    (b"[1, 2, 3]", "JSON object"),
    (b'"just a string"', "JSON object"),
    (b'{"project_id": "proj", "timeout_ms": NaN}', "not valid JSON"),
    (b'{"project_id": "proj", "user": {"id": "\xff\xfe"}}', "UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested"),
])
async def test_unreadable_bodies_are_400_never_500(http: httpx.AsyncClient, raw: bytes,
                                                  why: str) -> None:
    response = await http.post(rest("save_response"), content=raw,
                               headers={**AUTH, "content-type": "application/json"})
    assert response.status_code == 400, response.text
    err = envelope(response)
    assert err["code"] == "bad_request"
    assert err["details"]["field"] == "body"
    assert why in err["message"]


async def test_lone_surrogate_text_is_refused(http: httpx.AsyncClient) -> None:
    raw = json.dumps({**IDENT, "user": USER, "user_text": "\ud800",
                      "assistant_text": "x"}).encode()
    response = await http.post(rest("save_response"), content=raw, headers=AUTH)
    assert response.status_code == 400
    assert envelope(response)["details"]["field"] == "user_text"


async def test_body_over_the_limit_is_413(sqlite_settings: Settings, tmp_path: Path) -> None:
    settings = sqlite_settings.replace(runtime_max_body_bytes=4096)
    eng = MemoryEngine(settings)
    await eng.start()
    try:
        app = create_app(eng, token=TOKEN)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://runtime") as client:
            response = await client.post(rest("save_response"), headers=AUTH, json={
                **IDENT, "user": USER, "user_text": "x" * 5000, "assistant_text": "y"})
            assert response.status_code == 413
            assert envelope(response)["details"]["field"] == "body"
    finally:
        await eng.close()


async def test_unknown_route_and_wrong_method_use_the_envelope(
        http: httpx.AsyncClient) -> None:
    missing = await http.get("/v1/nope", headers=AUTH)
    assert missing.status_code == 404
    assert envelope(missing)["code"] == "not_found"
    wrong = await http.get(rest("search_memory"), headers=AUTH)
    assert wrong.status_code == 405
    assert envelope(wrong)["code"] == "bad_request"


async def test_session_id_of_another_caller_is_identity_mismatch(
        http: httpx.AsyncClient) -> None:
    opened = await post(http, "start_session", {**IDENT, "user": USER,
                                                "session_id": "ses-shared"})
    assert opened.status_code == 200
    await post(http, "flush", IDENT)
    stolen = await post(http, "start_session", {**IDENT, "user": {"id": "caller-2"},
                                                "session_id": "ses-shared"})
    assert stolen.status_code == 409
    assert envelope(stolen)["code"] == "identity_mismatch"


async def test_end_without_a_session_is_session_not_found(http: httpx.AsyncClient) -> None:
    response = await post(http, "end_session", {**IDENT, "user": {"id": "nobody"}})
    assert response.status_code == 404
    assert envelope(response)["code"] == "session_not_found"


async def test_settings_view_lists_every_setting_with_secrets_masked(
        sqlite_settings: Settings) -> None:
    settings = sqlite_settings.replace(runtime_token="s3cret", embeddings_api_key="k3y")
    eng = MemoryEngine(settings)
    await eng.start()
    try:
        app = create_app(eng, token=TOKEN)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://runtime") as client:
            response = await client.get("/v1/settings", headers=AUTH)
    finally:
        await eng.close()
    rows = {row["name"]: row for row in response.json()["settings"]}
    assert rows["recall_timeout_ms"]["env"] == "VOXMEM_RECALL_TIMEOUT_MS"
    assert rows["recall_timeout_ms"]["help"]
    assert rows["embedder"]["value"] == "hashing"
    assert "s3cret" not in response.text and "k3y" not in response.text


class ExplodingEngine(MemoryEngine):
    """A fake dependency: an engine with a bug in one operation."""

    async def list_indexes(self, tenant_id: str, project_id: str) -> list[IndexRecord]:
        raise RuntimeError("boom: internal detail")


async def test_a_bug_is_a_500_internal_envelope_without_internals(
        sqlite_settings: Settings) -> None:
    eng = ExplodingEngine(sqlite_settings)
    await eng.start()
    try:
        app = create_app(eng, token=TOKEN)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://runtime") as client:
            response = await post(client, "list_indexes", IDENT)
            ok = await post(client, "search_memory", {**IDENT, "user": USER, "query": "x"})
    finally:
        await eng.close()
    assert response.status_code == 500
    assert envelope(response)["code"] == "internal"
    assert "boom" not in response.text
    assert ok.status_code == 200  # one bug does not take the runtime down


def test_docs_list_every_route() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "runtime.md").read_text()
    for op in OPERATIONS.values():
        assert f"| `{op.method} {op.path}` | `{op.name}` |" in doc, op.name
