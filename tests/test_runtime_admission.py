"""Admission control past capacity: the loop-lag probe, the share of searches shed, and
the runtime answering shed searches at once, degraded, while every save is stored."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from voxmem.engine import MemoryEngine
from voxmem.runtime import create_app
from voxmem.runtime._admission import (
    LAG_EWMA_ALPHA,
    SHED_LAG_ALL_MS,
    SHED_LAG_START_MS,
    SUSTAINED_PROBES,
    Admission,
    LoopLag,
)

TOKEN = "admission-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
IDENT = {"project_id": "proj", "agent_id": "agent"}


def lagging(admission: Admission, lag_s: float) -> None:
    """Feed the probe until its moving average sits at ``lag_s`` (as a swamped loop's
    probes would)."""
    for _ in range(200):
        admission.lag.observe(lag_s)


async def test_a_loop_that_keeps_running_late_shows_as_lag() -> None:
    lag = LoopLag()
    lag.start()
    try:
        await lag.next_probe()
        for _ in range(SUSTAINED_PROBES):
            # Block the loop the way a backlog does; the probe due meanwhile runs late.
            time.sleep(0.1)  # noqa: ASYNC251 - the point: a loop that cannot run its timers
            await lag.next_probe()
        assert lag.lag_ms >= LAG_EWMA_ALPHA * 90
    finally:
        lag.stop()


def test_one_stall_is_not_lag() -> None:
    # A runtime stopped for two seconds (SIGSTOP, a pause) and idle again: the probe
    # that ran late is one, not a backlog; the next searches must not be shed.
    lag = LoopLag()
    for late_s in (0.001, 0.0, 2.0):
        lag.observe(late_s)
    assert lag.lag_ms < 1.0
    assert Admission(lag).shed_search() is None
    for _ in range(SUSTAINED_PROBES):
        lag.observe(2.0)
    assert lag.lag_ms >= LAG_EWMA_ALPHA * 2000


def test_the_shed_share_follows_the_lag() -> None:
    admission = Admission(LoopLag())
    assert [admission.shed_search() for _ in range(10)] == [None] * 10
    lagging(admission, (SHED_LAG_START_MS + SHED_LAG_ALL_MS) / 2 / 1000)
    decisions = [admission.shed_search() for _ in range(100)]
    # Half, spread evenly (no dice): the shed ones alternate with the others.
    assert 49 <= sum(d is not None for d in decisions) <= 50
    assert all(a is None or b is None for a, b in itertools.pairwise(decisions))
    lagging(admission, SHED_LAG_ALL_MS * 2 / 1000)
    reasons = [admission.shed_search() for _ in range(20)]
    assert all(r is not None and "overloaded" in r for r in reasons)
    assert admission.shed_share > 0.5
    # Caught up: nothing left over from the busy spell sheds a search.
    lagging(admission, 0.0)
    assert [admission.shed_search() for _ in range(20)] == [None] * 20


async def test_saves_waiting_at_the_gate_shed_searches() -> None:
    admission = Admission(LoopLag(), saves_in_progress=2)
    await admission.enter_save()
    await admission.enter_save()  # the gate is full
    waiting = [asyncio.ensure_future(admission.enter_save()) for _ in range(2)]
    for _ in range(2):  # one loop pass each to reach the gate; no clock involved
        await asyncio.sleep(0)
    assert admission.saves_waiting == 2
    # Two waiting at a gate of two: half the searches give way, the loop never lagged.
    assert admission.lag.lag_ms == 0
    assert admission.shed_share_now() == 0.5
    decisions = [admission.shed_search() for _ in range(10)]
    assert sum(d is not None for d in decisions) == 5
    assert "2 saves wait" in next(d for d in decisions if d is not None)
    admission.leave_save()
    admission.leave_save()
    await asyncio.gather(*waiting)  # both passed the gate in turn
    assert admission.saves_waiting == 0
    assert [admission.shed_search() for _ in range(10)] == [None] * 10
    admission.leave_save()
    admission.leave_save()


def test_admission_refuses_a_backwards_range() -> None:
    with pytest.raises(ValueError):
        Admission(LoopLag(), start_ms=50, all_ms=10)


@pytest.fixture
async def runtime(engine: MemoryEngine) -> AsyncIterator[tuple[httpx.AsyncClient, Admission]]:
    admission = Admission(LoopLag(), saves_in_progress=2)
    app = create_app(engine, token=TOKEN, admission=admission)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://runtime") as client:
        yield client, admission


async def test_overloaded_runtime_sheds_searches_and_keeps_every_save(
        runtime: tuple[httpx.AsyncClient, Admission]) -> None:
    http, admission = runtime
    user = {"id": "caller-overload"}
    lagging(admission, 1.0)  # the loop runs a second late: every search gives way

    saves = await asyncio.gather(*(http.post("/v1/memory/turns", headers=AUTH, json={
        **IDENT, "user": user, "user_text": f"my locker number is {100 + n}",
        "assistant_text": "noted"}) for n in range(12)))
    assert [s.status_code for s in saves] == [200] * 12, [s.text for s in saves]

    shed = await http.post("/v1/memory/search", headers=AUTH, json={
        **IDENT, "user": user, "query": "what is my locker number", "timeout_ms": 5000})
    assert shed.status_code == 200, shed.text
    trace = shed.json()["trace"]
    assert trace["degraded"] is True
    assert "overloaded" in trace["errors"]["overload"]
    assert trace["lanesUsed"] == []
    assert shed.json()["contextText"] == ""
    # A bad search is still refused: shedding never skips validation.
    bad = await http.post("/v1/memory/search", headers=AUTH, json={**IDENT, "user": user})
    assert bad.status_code == 400

    info = (await http.get("/v1/runtime", headers=AUTH)).json()["saturation"]
    assert info["saturated"] is True
    assert info["loopLagMs"] >= SHED_LAG_ALL_MS
    metrics = (await http.get("/metrics", headers=AUTH)).text
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(metrics) for s in f.samples}
    assert got[("voxmem_search_degraded_total", (("reason", "overload"),))] == 1
    assert got[("voxmem_loop_lag_seconds", ())] >= SHED_LAG_ALL_MS / 1000
    assert got[("voxmem_saturated", ())] == 1

    # The loop catches up: searches run again and find every acknowledged save.
    lagging(admission, 0.0)
    found = await http.post("/v1/memory/search", headers=AUTH, json={
        **IDENT, "user": user, "query": "what is my locker number", "timeout_ms": 5000})
    assert found.status_code == 200, found.text
    assert found.json()["trace"]["degraded"] is False
    assert "locker number" in found.json()["contextText"]
    flushed = await http.post("/v1/admin/flush", headers=AUTH, json=IDENT)
    assert flushed.status_code == 200, flushed.text
    exported = await http.post("/v1/callers/export", headers=AUTH, json={**IDENT, "user": user})
    assert exported.status_code == 200, exported.text
    stored = sorted(i["userText"] for i in exported.json()["items"] if i["kind"] == "turn")
    assert stored == sorted(f"my locker number is {100 + n}" for n in range(12))
