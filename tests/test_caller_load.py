"""A caller's warm load hands its freed rows back to the OS, and the index it built
answers as before (the rows are freed before the trim, so nothing may still need them)."""

from __future__ import annotations

import asyncio

import pytest

import voxmem.engine._caller_memory as caller_memory
from voxmem.engine import MemoryEngine
from voxmem.models import Caller, MemoryItem, Scope


async def _saved(engine: MemoryEngine, user: str, turns: int) -> None:
    scope = engine.scope(project_id="p", agent_id="a", user_id=user)
    who = Caller(user, user.title())
    for i in range(turns):
        await engine.save_response(scope, who, user_text=f"{user} ordered parcel {i}",
                                   assistant_text="Noted.")
    await engine.end_session(scope)
    assert await engine.flush(60)
    # The load the saves started may still be reading: let it finish before the drop, or
    # it reads every turn just flushed and trims outside the test's view.
    mem = engine.callers.peek(scope)
    assert mem is not None
    await mem.ready.wait()
    engine.callers.drop(scope)  # the next touch loads it from the store


async def test_large_load_trims_once_per_interval_and_still_answers(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    await _saved(engine, "ada", 12)
    await _saved(engine, "bo", 12)
    await _saved(engine, "cy", 3)
    # Only now: the loads the saves started may have read up to 12 rows (when the store
    # read ran after the turns landed), and must not trim.
    monkeypatch.setattr(caller_memory, "TRIM_AFTER_ITEMS", 8)
    cache = engine.callers
    before = cache._trimmed_at

    ada = engine.scope(project_id="p", agent_id="a", user_id="ada")
    mem = cache.get(ada)
    await mem.ready.wait()
    assert mem.load_error is None and len(mem.index) == 12
    first_trim = cache._trimmed_at
    assert first_trim > before

    # Within the interval a second large load does not walk the heap again at once...
    monkeypatch.setattr(caller_memory, "TRIM_INTERVAL_S", 3600.0)
    bo = engine.scope(project_id="p", agent_id="a", user_id="bo")
    await cache.get(bo).ready.wait()
    assert cache._trimmed_at == first_trim
    # ...but at the interval's end, once (its freed rows are not left resident).
    later = cache.trim_later
    assert later is not None and not later.done()
    monkeypatch.setattr(caller_memory, "TRIM_INTERVAL_S", 0.0)  # the interval ends
    await asyncio.wait_for(later, 30)
    assert cache._trimmed_at > first_trim and cache.trim_later is None
    first_trim = cache._trimmed_at
    monkeypatch.setattr(caller_memory, "TRIM_INTERVAL_S", 30.0)

    # A small load never trims, even once the interval has passed.
    cache._trimmed_at = first_trim - caller_memory.TRIM_INTERVAL_S
    cy = engine.scope(project_id="p", agent_id="a", user_id="cy")
    await cache.get(cy).ready.wait()
    assert cache._trimmed_at == first_trim - caller_memory.TRIM_INTERVAL_S

    result = await engine.search_memory(ada, "parcel 7", timeout_ms=5000)
    assert not result.trace["degraded"]
    texts = [hit["text"] for hit in result.permanent]
    assert any("ada ordered parcel 7" in text for text in texts)
    assert all(text.startswith("ada ") for text in texts)


async def test_a_save_that_opens_a_call_reads_the_caller_from_the_store_once(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    # On a shared store, opening a call drops the cached caller and loads it afresh; the
    # save that opens the call must not first start a load of its own, which would read
    # (and index) all of a large caller's rows a second time for nothing.
    await _saved(engine, "ada", 3)
    reads: list[str] = []
    load_items = engine.store.load_items

    async def counted(scope: Scope, now: float) -> list[MemoryItem]:
        reads.append(scope.user_id)  # the real read still runs: this only counts
        return await load_items(scope, now)

    monkeypatch.setattr(engine.store, "load_items", counted)
    ada = engine.scope(project_id="p", agent_id="a", user_id="ada")
    await engine.save_response(ada, Caller("ada", "Ada"), user_text="ada calls again",
                               assistant_text="Hello again.")
    mem = engine.callers.peek(ada)
    assert mem is not None
    await mem.ready.wait()
    # Any load started before this one has issued its read by now (tasks start in order).
    assert reads == ["ada"]
    assert mem.load_error is None and len(mem.index) == 4
