"""A search's deadline covers the whole request as the caller sees it, queueing
included: once it has passed, the answer is ``degraded`` at once, never late. Saves are
never dropped for being late."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx

from voxmem._operations import OPERATIONS, dispatch
from voxmem.engine import MemoryEngine

TOKEN = "deadline-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
IDENT = {"project_id": "proj", "agent_id": "agent"}
USER = {"id": "caller-deadline"}


async def seed(engine: MemoryEngine) -> None:
    await dispatch(engine, "save_response", {**IDENT, "user": USER,
                                             "user_text": "my parcel goes to 27 Elm Road",
                                             "assistant_text": "noted"})


async def test_a_search_that_waited_past_its_deadline_is_answered_degraded_at_once(
        engine: MemoryEngine) -> None:
    await seed(engine)
    # Arrived a second ago with a 250 ms budget: queued past its deadline.
    result = await dispatch(engine, "search_memory", {
        **IDENT, "user": USER, "query": "parcel", "timeout_ms": 250},
        received_at=time.time() - 1.0)
    trace = result["trace"]
    assert trace["degraded"] is True
    assert "deadline" in trace["errors"]
    assert trace["lanesUsed"] == [] and result["contextText"] == ""
    assert trace["timeoutMs"] == 250


async def test_a_search_in_time_reports_its_queueing_and_keeps_the_requested_budget(
        engine: MemoryEngine) -> None:
    await seed(engine)
    result = await dispatch(engine, "search_memory", {
        **IDENT, "user": USER, "query": "parcel", "timeout_ms": 5000},
        received_at=time.time() - 0.5)
    trace = result["trace"]
    assert trace["timeoutMs"] == 5000
    assert trace["queuedMs"] >= 500
    assert "Elm Road" in result["contextText"]


async def test_client_deadline_in_the_past_is_degraded_over_rest(
        http: httpx.AsyncClient, engine: MemoryEngine) -> None:
    await seed(engine)
    response = await http.post(OPERATIONS["search_memory"].path, headers=AUTH, json={
        **IDENT, "user": USER, "query": "parcel", "timeout_ms": 250,
        "deadline_at": time.time() - 0.2})
    assert response.status_code == 200
    assert response.json()["trace"]["degraded"] is True


async def test_a_wildly_wrong_client_clock_does_not_degrade_every_search(
        http: httpx.AsyncClient, engine: MemoryEngine) -> None:
    await seed(engine)
    response = await http.post(OPERATIONS["search_memory"].path, headers=AUTH, json={
        **IDENT, "user": USER, "query": "parcel", "timeout_ms": 5000,
        "deadline_at": time.time() - 3600})
    assert response.json()["trace"]["degraded"] is False


async def test_a_plain_rest_caller_gets_degraded_when_its_request_queued_too_long(
        http: httpx.AsyncClient, engine: MemoryEngine) -> None:
    """No client cooperation: the runtime stamps arrival before the request waits."""
    await seed(engine)
    body = (b'{"project_id": "proj", "agent_id": "agent", "user": {"id": '
            b'"caller-deadline"}, "query": "parcel", "timeout_ms": 50}')

    async def slow_body() -> AsyncIterator[bytes]:
        yield body[:20]
        # Stands in for the request sitting behind others: three budgets' worth.
        await asyncio.sleep(0.15)
        yield body[20:]

    response = await http.post(OPERATIONS["search_memory"].path, headers=AUTH,
                               content=slow_body())
    assert response.status_code == 200
    trace = response.json()["trace"]
    # Answered without running a lane: the budget was spent before recall could start.
    assert trace["degraded"] is True and trace["lanesUsed"] == []


async def test_a_late_save_is_still_durable(engine: MemoryEngine) -> None:
    event = await dispatch(engine, "save_response", {
        **IDENT, "user": USER, "user_text": "call me after 5pm", "assistant_text": "ok"},
        received_at=time.time() - 10.0)
    assert event["eventId"]
    assert await engine.flush(timeout=30)
    facts = await dispatch(engine, "export_user", {**IDENT, "user": USER})
    assert any("after 5pm" in (item.get("userText") or "") for item in facts["items"])


async def test_deadline_at_must_be_a_number(http: httpx.AsyncClient) -> None:
    response = await http.post(OPERATIONS["search_memory"].path, headers=AUTH, json={
        **IDENT, "user": USER, "query": "x", "deadline_at": "soon"})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "deadline_at"
