"""A deleted memory is gone from disk once the cleanup job has run (docs/memories.md):
no file of the data directory holds its words then, the journal and SQLite's WAL
included, on SQLite and on Postgres (whose journal is in the data directory too). The
memories kept are still recalled, also after a restart, and nothing acknowledged after
the cleanup is lost."""

from __future__ import annotations

import time
from pathlib import Path

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._idempotency import TURN_RETRY_WINDOW_S
from voxmem.models import Caller, RecallTrace, Scope

SAID = "quillmarmoset"  # in a turn the caller deletes
NOTED = "octolantern"  # in a remembered value the caller deletes
KEPT = "wombatsunrise"  # in a turn that stays


def files_holding(settings: Settings, needle: str) -> list[str]:
    root = Path(settings.data_path)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and needle.encode() in p.read_bytes())


async def stored_traces(engine: MemoryEngine) -> list[RecallTrace]:
    return list(await engine.store.recall_traces("default", "p1"))


def ann(engine: MemoryEngine) -> Scope:
    return engine.scope(project_id="p1", agent_id="a1", user_id="ann")


async def test_a_deleted_memory_leaves_no_byte_in_the_data_directory_after_cleanup(
        settings: Settings) -> None:
    now = [time.time()]
    engine = MemoryEngine(settings, clock=lambda: now[0])
    await engine.start()
    try:
        scope = ann(engine)
        await engine.start_session(scope, Caller("ann"))
        gone = await engine.save_response(scope, Caller("ann"), assistant_text="Noted.",
                                          user_text=f"My locker word is {SAID}.")
        await engine.save_response(scope, Caller("ann"), assistant_text="Noted.",
                                   user_text=f"I walk my dog at {KEPT} every day.")
        await engine.remember(scope, "gate_word", NOTED)
        # Recalled before it is deleted: the recall's trace (the dashboard's call page)
        # holds the words it injected.
        assert SAID in (await engine.search_memory(scope, "locker word")).context_text
        assert NOTED in (await engine.search_memory(scope, "gate word")).context_text
        await engine.end_session(scope, learn=False)
        assert await engine.flush(30)
        await engine.traces.flush()
        assert any(SAID in t.injected for t in await stored_traces(engine))
        fact = next(m for m in await engine.list_facts(scope) if NOTED in m.text)
        assert gone is not None
        await engine.delete_memory(scope, gone)
        await engine.delete_memory(scope, fact.id)
        assert await engine.flush(30)
        assert files_holding(settings, SAID) and files_holding(settings, NOTED)

        # Past the turn-id retry window, during which a deleted turn's row is kept.
        now[0] += TURN_RETRY_WINDOW_S + 60
        assert await engine.maintenance.apply_retention() == 2  # the cleanup job

        assert files_holding(settings, SAID) == []
        assert files_holding(settings, NOTED) == []
        for trace in await stored_traces(engine):  # on Postgres, the store's own files
            assert SAID not in trace.injected + trace.query
            assert NOTED not in trace.injected + trace.query
        assert KEPT in (await engine.search_memory(scope, "dog walk")).context_text
        # A save after the cleanup is journaled and stored as ever.
        await engine.save_response(scope, Caller("ann"), assistant_text="Noted.",
                                   user_text="I moved to Lisbon in spring.")
    finally:
        await engine.close()

    engine = MemoryEngine(settings, clock=lambda: now[0])
    await engine.start()
    try:
        scope = ann(engine)
        assert KEPT in (await engine.search_memory(scope, "dog walk")).context_text
        assert "Lisbon" in (await engine.search_memory(scope, "moved Lisbon")).context_text
        assert SAID not in (await engine.search_memory(scope, "locker word")).context_text
        # The numbering goes on above what the store has applied, with the journal
        # emptied by the cleanup: a save now is stored, not skipped as replayed.
        await engine.save_response(scope, Caller("ann"), assistant_text="Noted.",
                                   user_text="My sister lives in Porto.")
        assert await engine.flush(30)
        assert "Porto" in (await engine.search_memory(scope, "sister Porto")).context_text
    finally:
        await engine.close()
    assert files_holding(settings, SAID) == []
    assert files_holding(settings, NOTED) == []


async def test_a_memory_expired_by_retention_takes_the_traces_that_cited_it(
        settings: Settings) -> None:
    """Retention hard-deletes a memory at the cleanup (docs/memories.md): a recall trace
    that cited it (kept a week) goes with it, or its words outlive the retention; a
    trace citing only memories still kept stays."""
    day = 86_400.0
    now = [time.time()]
    engine = MemoryEngine(settings, clock=lambda: now[0])
    await engine.start()
    try:
        scope = ann(engine)
        await engine.start_session(scope, Caller("ann"))
        await engine.remember(scope, "gate_word", NOTED)
        now[0] += 85 * day  # inside the 90 days' retention still
        await engine.remember(scope, "dog_walk", KEPT)
        assert NOTED in (await engine.search_memory(scope, "gate word")).context_text
        kept = await engine.search_memory(scope, "dog walk")
        assert KEPT in kept.context_text and NOTED not in kept.context_text
        assert await engine.flush(30)
        await engine.traces.flush()
        assert any(NOTED in t.injected for t in await stored_traces(engine))

        now[0] += 6 * day  # the first memory is 91 days old, both traces 6 days
        assert await engine.maintenance.apply_retention() == 1

        traces = await stored_traces(engine)
        assert [t for t in traces if NOTED in t.injected + t.query] == []
        assert any(KEPT in t.injected for t in traces)
    finally:
        await engine.close()
