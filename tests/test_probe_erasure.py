"""Erasure probed from outside: ``forget_user`` of a caller others were merged into, and
of a caller whose last recall is still waiting to be stored, leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxmem.engine import MemoryEngine, _traces
from voxmem.models import Caller, Scope
from voxmem.store import _entities as ops

MARKER = "quokkazanzibar"


def who(engine: MemoryEngine, user: str) -> Scope:
    return engine.scope(project_id="p1", agent_id="a1", user_id=user)


def journal_holds(engine: MemoryEngine, needle: str) -> list[str]:
    """Journal files (on every backend the journal is on disk) holding ``needle``."""
    root = Path(engine.settings.data_path)
    return [p.name for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


async def stored_traces(engine: MemoryEngine) -> list[str]:
    traces = await engine.store.recall_traces("default", "p1")
    return [f"{t.query} / {t.injected}" for t in traces]


async def test_forget_user_erases_the_callers_merged_into_them(
        engine: MemoryEngine) -> None:
    guest, ann, bob = who(engine, "guest-7"), who(engine, "ann"), who(engine, "bob")
    for scope, text in ((guest, f"my dog is called {MARKER}"), (ann, "I prefer mornings")):
        await engine.start_session(scope, Caller(scope.user_id))
        await engine.save_response(scope, Caller(scope.user_id), user_text=text,
                                   assistant_text="noted")
        await engine.search_memory(scope, f"{MARKER} dog")
        await engine.end_session(scope, learn=False)
    await engine.flush(30)
    await engine.lifecycle.merge_users(guest, ann)
    await engine.lifecycle.merge_users(ann, bob)  # a chain: guest → ann → bob
    assert MARKER in (await engine.search_memory(bob, "dog")).context_text

    await engine.lifecycle.forget_user(bob)
    await engine.flush(30)

    assert await stored_traces(engine) == []
    merges = await engine.store.run_entities("default", ops.list_merges(bob, None),
                                             write=False)
    assert merges == []  # an undo record holds the merged-away caller's rows
    assert journal_holds(engine, MARKER) == []
    assert MARKER not in (await engine.search_memory(guest, "dog")
                          ).context_text


async def test_forget_user_erases_a_recall_not_yet_stored(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    # The trace writer batches; keep the batch open so the recall is still queued.
    monkeypatch.setattr(_traces, "TRACE_BATCH_S", 3600.0)
    dana = who(engine, "dana")
    await engine.start_session(dana, Caller("dana"))
    await engine.save_response(dana, Caller("dana"), user_text=f"my cat is {MARKER}",
                               assistant_text="lovely")
    await engine.flush(30)
    result = await engine.search_memory(dana, f"what is my cat called, {MARKER}?")
    assert MARKER in result.context_text

    await engine.lifecycle.forget_user(dana)
    await engine.flush(30)  # stores whatever is still queued

    assert await stored_traces(engine) == []
    assert journal_holds(engine, MARKER) == []
