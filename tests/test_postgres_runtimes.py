"""Two runtimes (two data directories, as on two hosts) sharing one Postgres database.

A caller's call lives on one host; the next call may land on another, which must load
the caller fresh from the shared store. Singleton jobs take a database-wide lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import _postgres
from voxmem import Settings
from voxmem._config import MAX_TIMEOUT_MS
from voxmem.engine import MemoryEngine
from voxmem.models import Caller, Scope
from voxmem.store.postgres import PostgresStore


@pytest.fixture
def pg_url(postgres_server: str | None) -> str:
    return _postgres.fresh_database(_postgres.require(postgres_server))


async def start_runtime(tmp_path: Path, name: str, url: str) -> MemoryEngine:
    # Unhurried searches: these tests are about what a runtime serves, not how fast; a
    # short deadline on a loaded machine answers degraded (empty) instead.
    settings = Settings(data_dir=str(tmp_path / name), embedder="hashing", store_url=url,
                        recall_timeout_ms=MAX_TIMEOUT_MS)
    engine = MemoryEngine(settings, store=PostgresStore.from_settings(settings))
    await engine.start()
    return engine


@pytest.fixture
async def runtimes(tmp_path: Path, pg_url: str) -> AsyncIterator[tuple[MemoryEngine,
                                                                          MemoryEngine]]:
    a = await start_runtime(tmp_path, "host-a", pg_url)
    b = await start_runtime(tmp_path, "host-b", pg_url)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


def scope_on(engine: MemoryEngine, user: str = "caller-42") -> Scope:
    return engine.scope(project_id="clinic", agent_id="receptionist", user_id=user)


async def test_second_call_on_another_runtime_recalls_the_first(
        runtimes: tuple[MemoryEngine, MemoryEngine]) -> None:
    a, b = runtimes
    assert a.store.journal_id != b.store.journal_id  # type: ignore[attr-defined]
    # Runtime B has seen this caller before (an earlier, empty lookup), so it holds a
    # cached view that predates the first call.
    await b.search_memory(scope_on(b), "anything")

    first = scope_on(a)
    await a.start_session(first, Caller("caller-42", "Rosa"))
    await a.save_response(first, Caller("caller-42", "Rosa"),
                          user_text="My physiotherapy appointment is on Thursday at 9",
                          assistant_text="Booked: Thursday 9am physiotherapy.")
    await a.update_profile(first, "preferred_time", "mornings")
    await a.end_session(first)
    assert await a.flush(10)

    second = scope_on(b)
    # What a runtime does at session start when the store is shared: drop its cached
    # view so the caller is loaded fresh (see docs/postgres.md, "Many runtimes").
    b.callers.drop(second)
    await b.start_session(second, Caller("caller-42"))
    result = await b.search_memory(second, "when is my physiotherapy appointment")
    assert any("Thursday" in h["text"] for h in result.permanent), result
    assert result.profile == {"name": "Rosa", "preferred_time": "mornings"}
    assert not result.trace["degraded"]
    preload = await b.preload(second)
    assert preload.last_session is not None and "Thursday" in preload.context_text

    # B's own turns go to the same store under B's journal position, and A sees them.
    await b.save_response(second, Caller("caller-42"), user_text="Please move it to Friday",
                          assistant_text="Moved to Friday 9am.")
    await b.end_session(second)
    assert await b.flush(10)
    a.callers.drop(first)
    again = await a.search_memory(first, "move appointment Friday")
    assert any("Friday" in h["text"] for h in again.permanent)


async def test_org_index_built_on_one_runtime_serves_the_other(
        runtimes: tuple[MemoryEngine, MemoryEngine]) -> None:
    a, b = runtimes
    result = await a.create_index("default", "clinic", "faq", [
        {"id": "hours", "text": "The clinic opens at 7:30 on weekdays and 9 on Saturdays.",
         "metadata": {}}])
    assert result.version == 1
    await b.warm_org(scope_on(b))
    hits = await b.search_memory(scope_on(b, "someone"), "when does the clinic open",
                                 lanes=["org"])
    assert hits.org and "7:30" in hits.org[0]["text"]
    again = await b.create_index("default", "clinic", "faq", [
        {"id": "parking", "text": "Free parking behind the building.", "metadata": {}}])
    assert again.version == 2, "the version is shared, not per runtime"


async def test_singleton_job_runs_on_exactly_one_runtime(
        runtimes: tuple[MemoryEngine, MemoryEngine]) -> None:
    a, b = runtimes
    started = asyncio.Event()
    finish = asyncio.Event()

    async def job(engine: MemoryEngine) -> bool:
        async with engine.store.singleton("retention") as mine:
            if mine:
                started.set()
                await finish.wait()
            return mine

    first = asyncio.create_task(job(a))
    await started.wait()
    assert await job(b) is False, "B must not run while A holds the job"
    finish.set()
    assert await first is True
    assert await job(b) is True, "after A finishes, the next round may run anywhere"


async def _call(engine: MemoryEngine, text: str) -> Scope:
    scope = scope_on(engine, "caller-7")
    await engine.start_session(scope, Caller("caller-7"))
    await engine.save_response(scope, Caller("caller-7"), user_text=text,
                               assistant_text="Noted.")
    return scope


async def _learned(engine: MemoryEngine, scope: Scope) -> list[dict[str, object]]:
    ended = await engine.end_session(scope, wait=True)
    assert ended is not None and ended.learning is not None, ended
    assert ended.learning["status"] == "learned", ended.learning
    facts: list[dict[str, object]] = ended.learning["facts"]
    return facts


async def _current_facts(engine: MemoryEngine) -> list[str]:
    assert await engine.flush(30)
    return sorted(f.text for f in await engine.store.list_facts(scope_on(engine, "caller-7")))


@pytest.mark.parametrize("at_once", [False, True])
async def test_two_runtimes_learning_for_one_caller_write_one_fact(
        runtimes: tuple[MemoryEngine, MemoryEngine], at_once: bool) -> None:
    a, b = runtimes
    said = "I'm vegetarian, so please no meat in the order."
    # Both runtimes have the caller cached from before either call.
    for engine in runtimes:
        await engine.search_memory(scope_on(engine, "caller-7"), "diet")
    if at_once:  # two calls of the caller, on two hosts, end at the same moment
        calls = [await _call(a, said), await _call(b, said)]
        learned = list(await asyncio.gather(_learned(a, calls[0]), _learned(b, calls[1])))
    else:  # one after the other
        learned = [await _learned(a, await _call(a, said)),
                   await _learned(b, await _call(b, said))]
    assert sorted(len(facts) for facts in learned) == [0, 1], learned
    facts = await _current_facts(a)
    assert len(facts) == 1 and facts == await _current_facts(b), facts


async def test_a_caller_erased_on_one_runtime_is_not_served_from_the_others_cache(
        runtimes: tuple[MemoryEngine, MemoryEngine]) -> None:
    a, b = runtimes
    on_a, on_b = scope_on(a, "caller-9"), scope_on(b, "caller-9")
    await a.save_response(on_a, Caller("caller-9"), user_text="My parrot is called Quetzal",
                          assistant_text="Noted.")
    await a.end_session(on_a, learn=False)
    assert await a.flush(30)
    since = time.time() - 60
    # Runtime B serves the caller too (another call of theirs), so it has them warm.
    found = await b.search_memory(on_b, "what is my parrot called")
    assert "Quetzal" in found.context_text

    await a.forget_user(on_a)
    # What B's watcher does every few seconds (Lifecycle.watch_erasures).
    await b.lifecycle.drop_erased_elsewhere(since)
    after = await b.search_memory(on_b, "what is my parrot called")
    assert "Quetzal" not in after.context_text and not after.trace["degraded"]
    # A notice is acted on once: the caller calling again is cached and kept.
    await b.save_response(on_b, Caller("caller-9"), user_text="I have a new cat, Miso",
                          assistant_text="Noted.")
    await b.lifecycle.drop_erased_elsewhere(since)
    assert b.callers.peek(on_b) is not None
