"""The first searches after a restart answer by their deadline ("never late").

After a restart a search met waits that its deadline did not bound: the policy's first
read from the store (up to its own 1 s), a caller loaded but not yet primed, whose lanes
ran inline on the event loop and read the ranking features beside the priming thread
(and its lock), and the org graph library's import (0.3-1 s, on the loop, inside the
first search of a project). Each is held here on an event, not slept through: the
search must come back degraded at its deadline, naming what it waited for, while the
held work goes on; once it is done the next search is complete.

The held work is what tells the fixed code from the old: the old search could not
return before it was released (the tests release it from a timer seconds later, so an
old search is late by seconds, not hung). ``ALLOWANCE_S`` only absorbs a loaded host's
scheduling of the loop after the deadline.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.test_topic_priming import _lines
from voxmem import Settings
from voxmem.engine import MemoryEngine, _policy
from voxmem.engine._index import HybridIndex
from voxmem.engine._topic import _tokens_of
from voxmem.models import Caller, PolicyRecord, Scope

DEADLINE_MS = 250
#: Far below the seconds an old search waited on the held work.
ALLOWANCE_S = 1.5
#: When the test releases held work from a timer if nothing else did: an old search
#: is late by this much, and fails the allowance.
RELEASE_S = 6.0
QUERY = "What instruments does Melanie play?"


async def _engine(tmp_path: Path, store_url: str) -> tuple[MemoryEngine, Scope]:
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "data"), embedder="static",
                                   store_url=store_url, background_processes=0,
                                   extractor="off"))
    await engine.start()
    scope = engine.scope(project_id="p", agent_id="a", user_id="mel")
    who = Caller("mel", "Melanie")
    for text in _lines(40):
        await engine.save_response(scope, who, user_text=text, assistant_text="Noted.")
    await engine.end_session(scope)
    assert await engine.flush(60)
    return engine, scope


async def _timed(engine: MemoryEngine, scope: Scope) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = await asyncio.wait_for(
        engine.search_memory(scope, QUERY, timeout_ms=DEADLINE_MS), 60)
    return time.perf_counter() - started, result.trace


async def test_a_policy_the_store_has_not_read_yet_waits_only_until_the_deadline(
        tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, scope = await _engine(tmp_path, store_url)
    try:
        # A restart: the policy cache is empty, and the store is slow to answer.
        engine.policies._policies.clear()
        held = asyncio.Event()
        read = engine.store.get_policies

        async def slow(tenant_id: str, project_id: str) -> dict[str, PolicyRecord]:
            await held.wait()
            return await read(tenant_id, project_id)

        monkeypatch.setattr(engine.store, "get_policies", slow)
        # The policy's own bound (1 s) is not the search's: seconds here.
        monkeypatch.setattr(_policy, "POLICY_FIRST_READ_S", RELEASE_S)
        elapsed, trace = await _timed(engine, scope)
        assert elapsed < DEADLINE_MS / 1000 + ALLOWANCE_S, trace
        assert trace["degraded"] and not held.is_set()
        assert set(trace["waited"].values()) == {"policy"}
        held.set()
        await asyncio.gather(*engine.recall._reads)  # the read went on
        assert engine.policies.known(scope)
        _, trace = await _timed(engine, scope)
        assert not trace["degraded"], trace
    finally:
        await engine.close()


async def test_a_caller_loaded_but_not_primed_answers_by_the_deadline(
        tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, scope = await _engine(tmp_path, store_url)
    try:
        primer = engine.callers._primer
        assert primer is not None
        prime = primer.prime
        holding, release = threading.Event(), threading.Event()
        timer = threading.Timer(RELEASE_S, release.set)

        def slow_prime(index: HybridIndex, positions: Sequence[int]) -> None:
            # A large caller's priming: its thread holds the token cache a while.
            with _tokens_of(index).lock:
                holding.set()
                release.wait()
            prime(index, positions)

        monkeypatch.setattr(primer, "prime", slow_prime)
        engine.callers.drop(scope)  # reloaded, as after a restart
        mem = engine.callers.get(scope)
        await mem.ready.wait()
        try:
            assert await asyncio.to_thread(holding.wait, 60)
            # Started once priming holds the cache, not before: on a loaded host the
            # priming thread's start alone could use up RELEASE_S, and the search then
            # found nothing held.
            timer.start()
            elapsed, trace = await _timed(engine, scope)
            was_held = not release.is_set()
        finally:
            release.set()
            timer.cancel()
        assert elapsed < DEADLINE_MS / 1000 + ALLOWANCE_S and was_held, trace
        assert trace["degraded"], trace
        assert set(trace["waited"]) >= {"permanent"}
        assert set(trace["waited"].values()) <= {"lane thread", "search"}
        await mem.primed.wait()
        _, trace = await _timed(engine, scope)
        assert not trace["degraded"], trace
    finally:
        await engine.close()
