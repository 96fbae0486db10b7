"""Isolation and secrets: a caller cannot touch another caller's call, a stranger learns
nothing about the API's routes, and no view, error or log line shows a secret."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from voxmem import Settings
from voxmem._config import SecretMaskingFilter, mask_secrets
from voxmem._exceptions import StoreUnavailable
from voxmem._operations import OPERATIONS, dispatch
from voxmem.engine import MemoryEngine
from voxmem.models import IndexRecord
from voxmem.runtime import create_app

TOKEN = "isolation-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
IDENT = {"project_id": "proj", "agent_id": "agent"}
ANN = {"id": "ann"}
BOB = {"id": "bob"}


async def post(http: httpx.AsyncClient, op: str, body: dict[str, Any]) -> httpx.Response:
    return await http.post(OPERATIONS[op].path, json={**IDENT, **body}, headers=AUTH)


def code_of(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def test_end_session_with_another_callers_session_is_identity_mismatch(
        http: httpx.AsyncClient) -> None:
    opened = await post(http, "start_session", {"user": ANN, "session_id": "ses-ann"})
    assert opened.status_code == 200
    await post(http, "save_response", {"user": ANN, "user_text": "my order is 4421",
                                       "assistant_text": "noted"})
    stolen = await post(http, "end_session", {"user": BOB, "session_id": "ses-ann",
                                              "reason": "hijacked",
                                              "report": {"by": "bob"}})
    assert stolen.status_code == 409
    assert code_of(stolen) == "identity_mismatch"
    # Ann's call is still open and hers to end, with her own reason.
    ended = await post(http, "end_session", {"user": ANN, "reason": "completed"})
    assert ended.status_code == 200
    assert ended.json()["sessionId"] == "ses-ann"
    await post(http, "flush", {})
    exported = (await post(http, "export_user", {"user": ANN})).json()
    [session] = [s for s in exported["sessions"] if s["sessionId"] == "ses-ann"]
    assert session["endReason"] == "completed"
    assert session["report"] is None
    assert "hijacked" not in str(exported)


async def test_end_session_is_checked_after_the_call_reached_the_store(
        http: httpx.AsyncClient) -> None:
    await post(http, "start_session", {"user": ANN, "session_id": "ses-stored"})
    await post(http, "flush", {})
    stolen = await post(http, "end_session", {"user": BOB, "session_id": "ses-stored"})
    assert stolen.status_code == 409


async def test_session_memories_of_another_callers_call_is_identity_mismatch(
        http: httpx.AsyncClient) -> None:
    await post(http, "start_session", {"user": ANN, "session_id": "ses-ann-2"})
    response = await post(http, "session_memories", {"user": BOB, "session_id": "ses-ann-2"})
    assert response.status_code == 409
    assert code_of(response) == "identity_mismatch"


async def test_import_into_another_callers_session_is_identity_mismatch(
        http: httpx.AsyncClient, engine: MemoryEngine) -> None:
    await post(http, "start_session", {"user": ANN, "session_id": "ses-ann-3"})
    now = engine.clock()
    response = await post(http, "import_history", {"user": BOB, "sessions": [
        {"session_id": "ses-ann-3", "started_at": now - 60,
         "turns": [{"user_text": "I am Ann now", "assistant_text": "ok"}]}]})
    assert response.status_code == 409
    assert code_of(response) == "identity_mismatch"


# -- the token gate -----------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/nope"), ("POST", "/nope"), ("GET", "/"),
    ("GET", OPERATIONS["search_memory"].path),          # wrong method on a real route
    ("DELETE", OPERATIONS["save_response"].path),
    ("POST", OPERATIONS["save_response"].path + "/"),   # would be a 307 redirect
    ("GET", "/openapi.json"), ("GET", "/v1/settings"), ("OPTIONS", "/v1/runtime"),
    ("POST", "/v1/health"), ("GET", "/v1/health/"),
])
async def test_without_the_token_every_path_but_health_is_401(
        http: httpx.AsyncClient, method: str, path: str) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        response = await http.request(method, path, headers=headers)
        assert response.status_code == 401, (method, path, response.status_code)
        assert code_of(response) == "unauthorized"
        assert "location" not in response.headers


async def test_health_alone_answers_without_a_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_with_the_token_unknown_routes_still_use_the_envelope(
        http: httpx.AsyncClient) -> None:
    missing = await http.get("/v1/nope", headers=AUTH)
    assert missing.status_code == 404 and code_of(missing) == "not_found"
    slash = await http.post(OPERATIONS["save_response"].path + "/", headers=AUTH, json={})
    assert slash.status_code == 404 and "location" not in slash.headers


# -- secrets --------------------------------------------------------------------------------
PG_URL = "postgresql://app:hunter2-secret@db.internal:5432/voxmem"


def test_settings_view_masks_the_store_url_password() -> None:
    settings = Settings(store_url=PG_URL, embeddings_api_key="sk-live-abcdef",
                        llm_base_url="http://user:llm-pass@127.0.0.1:11434/v1")
    shown = settings.to_dict()
    assert shown["store_url"] == "postgresql://app:***@db.internal:5432/voxmem"
    assert shown["embeddings_api_key"] == "***"
    assert "llm-pass" not in str(shown) and "hunter2" not in str(shown)


async def test_runtime_settings_view_shows_no_password(sqlite_settings: Settings,
                                                      tmp_path: Path) -> None:
    engine = MemoryEngine(sqlite_settings)
    await engine.start()
    try:
        # The view shows the settings the runtime was started with (here: with a URL).
        app = create_app(engine, token=TOKEN, settings=sqlite_settings.replace(
            llm_base_url="http://u:llm-pass@127.0.0.1:1/v1", llm_api_key="k-123456"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://runtime") as client:
            response = await client.get("/v1/settings", headers=AUTH)
    finally:
        await engine.close()
    assert response.status_code == 200
    assert "llm-pass" not in response.text and "k-123456" not in response.text


class UnreachableStoreEngine(MemoryEngine):
    """A fake outage: the store's driver reports an error quoting its connection URL,
    as libpq does for some malformed or refused connection strings."""

    async def list_indexes(self, tenant_id: str, project_id: str) -> list[IndexRecord]:
        raise StoreUnavailable(f"cannot connect to Postgres: bad conninfo {PG_URL} "
                               "password=hunter2-secret")


async def test_errors_on_the_wire_never_carry_a_password(sqlite_settings: Settings) -> None:
    engine = UnreachableStoreEngine(sqlite_settings)
    await engine.start()
    try:
        app = create_app(engine, token=TOKEN)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://runtime") as client:
            response = await client.post(OPERATIONS["list_indexes"].path, headers=AUTH,
                                         json=IDENT)
    finally:
        await engine.close()
    assert response.status_code == 503
    assert "hunter2" not in response.text
    assert "postgresql://app:***@db.internal" in response.json()["error"]["message"]


async def test_errors_in_process_never_carry_a_password(sqlite_settings: Settings) -> None:
    engine = UnreachableStoreEngine(sqlite_settings)
    await engine.start()
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await dispatch(engine, "list_indexes", IDENT)
    finally:
        await engine.close()
    assert "hunter2" not in str(caught.value) and "hunter2" not in caught.value.message


def test_log_lines_never_carry_a_password() -> None:
    settings = Settings(store_url=PG_URL, embeddings_api_key="sk-live-abcdef")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretMaskingFilter(settings))
    logger = logging.getLogger("voxmem.test_secrets")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("connecting to %s", PG_URL)
        logger.warning("embedding call failed with key %s", "sk-live-abcdef")
        try:
            raise RuntimeError(f"driver said: {PG_URL}")
        except RuntimeError:
            logger.exception("store failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "hunter2" not in text and "sk-live-abcdef" not in text
    assert text.count("***") >= 3


def test_mask_secrets_handles_key_value_connection_strings() -> None:
    assert mask_secrets("host=db password='a b' user=x") == "host=db password=*** user=x"
    assert mask_secrets("no secret here") == "no secret here"
