"""``end_session`` answers with the call as it is stored, never a record made up for it.

Found by probing the runtime from outside: ending a call id that was never opened, or
one erased with its caller, answered 200 with invented times (and journaled an end and
started learning for a call that does not exist); ending a call that had already ended
answered with a new end time and the new reason while the store kept the old ones.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from voxmem import Settings
from voxmem._operations import OPERATIONS
from voxmem.engine import MemoryEngine

TOKEN = "end-session-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
IDENT = {"project_id": "proj", "agent_id": "agent"}
ANN = {"id": "ann"}


class SteppedClock:
    """Wall-clock time that moves only when the test says so (calls an hour apart)."""

    def __init__(self) -> None:
        self.now = time.time() - 7200

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
async def engine(settings: Settings, clock: SteppedClock) -> AsyncIterator[MemoryEngine]:
    eng = MemoryEngine(settings, clock=clock)
    await eng.start()
    try:
        yield eng
    finally:
        await eng.close()


async def post(http: httpx.AsyncClient, op: str, body: dict[str, Any]) -> httpx.Response:
    return await http.post(OPERATIONS[op].path, json={**IDENT, **body}, headers=AUTH)


async def test_ending_a_call_that_was_never_opened_is_session_not_found(
        http: httpx.AsyncClient, engine: MemoryEngine) -> None:
    before = engine.writes.journal.last_seq
    response = await post(http, "end_session", {"user": ANN, "session_id": "no-such-call"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"
    assert engine.writes.journal.last_seq == before  # nothing journaled for it
    assert await engine.store.get_session("default", "proj", "no-such-call") is None


async def test_ending_a_call_erased_with_its_caller_is_session_not_found(
        http: httpx.AsyncClient) -> None:
    await post(http, "start_session", {"user": ANN, "session_id": "erased-call"})
    await post(http, "save_response", {"user": ANN, "user_text": "my name is Ann",
                                       "assistant_text": "hi Ann"})
    assert (await post(http, "forget_user", {"user": ANN})).status_code == 200
    response = await post(http, "end_session", {"user": ANN, "session_id": "erased-call",
                                                "report": {"summary": "Ann called"}})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"
    await post(http, "flush", {})
    exported = (await post(http, "export_user", {"user": ANN})).json()
    assert exported["sessions"] == []
    assert "Ann called" not in str(exported)


async def test_ending_an_ended_call_again_answers_what_is_stored(
        http: httpx.AsyncClient, clock: SteppedClock) -> None:
    await post(http, "start_session", {"user": ANN, "session_id": "first-call"})
    clock.now += 600
    first = (await post(http, "end_session", {"user": ANN, "reason": "completed"})).json()
    clock.now += 1800
    # A second call is open when the first is ended again (a retry, a late worker).
    second = (await post(http, "start_session", {"user": ANN,
                                                 "session_id": "second-call"})).json()
    await post(http, "flush", {})
    clock.now += 60
    again = await post(http, "end_session", {"user": ANN, "session_id": "first-call",
                                             "reason": "transferred"})
    assert again.status_code == 200
    body = again.json()
    assert body["sessionId"] == "first-call"
    assert (body["startedAt"], body["endedAt"], body["endReason"]) == (
        first["startedAt"], first["endedAt"], "completed")
    assert body["startedAt"] != second["startedAt"]
    # The open call was not touched.
    calls = (await post(http, "list_calls", {"user_id": "ann"})).json()["calls"]
    [open_call] = [c for c in calls if c["sessionId"] == "second-call"]
    assert open_call["endedAt"] is None
