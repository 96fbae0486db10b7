"""A deleted org knowledge document is gone from disk once the cleanup job has run, as a
deleted memory is (docs/memories.md): no file of the data directory holds its words
then, the org index's saved files and SQLite's full-text index and WAL included, on
SQLite and on Postgres (whose org index files are in the data directory too). The
documents kept are still found, also after a restart."""

from __future__ import annotations

import time
from pathlib import Path

from voxmem import Settings
from voxmem.engine import MemoryEngine

T, P = "default", "p1"
LEAKED = "zanzibarquokka"  # in a document deleted by itself
DROPPED = "velvetnarwhal"  # in a document of an index deleted whole
KEPT = "copperheron"  # in a document that stays


def files_holding(settings: Settings, needle: str) -> list[str]:
    root = Path(settings.data_path)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and needle.encode() in p.read_bytes())


def _doc(doc_id: str, text: str) -> dict[str, object]:
    return {"id": doc_id, "text": text, "metadata": {}}


async def _texts(engine: MemoryEngine, query: str) -> str:
    return " ".join(str(h["text"]) for h in await engine.search_index(T, P, None, query, 5))


async def test_a_deleted_document_leaves_no_byte_in_the_data_directory_after_cleanup(
        settings: Settings) -> None:
    now = [time.time()]
    engine = MemoryEngine(settings, clock=lambda: now[0])
    await engine.start()
    try:
        await engine.warm_org(engine.scope(project_id=P, agent_id="a", user_id="u"))
        await engine.create_index(T, P, "kb", [
            _doc("leak", f"The vault code for the back office is {LEAKED} until May."),
            _doc("keep", f"The branch on Elm Road opens at nine; ask for {KEPT} at the desk.")])
        await engine.create_index(T, P, "old", [
            _doc("x", f"The retired password of the kiosk was {DROPPED} last year.")])
        assert LEAKED in await _texts(engine, "vault code back office")
        assert DROPPED in await _texts(engine, "retired kiosk password")
        # The org index saved as at a close or an upkeep: its files hold the texts.
        org = engine.org.loaded(T, P)
        assert org is not None
        org.save(wait=True)
        assert files_holding(settings, LEAKED) and files_holding(settings, DROPPED)

        await engine.delete_documents(T, P, "kb", ["leak"])
        await engine.delete_index(T, P, "old")
        assert LEAKED not in await _texts(engine, "vault code back office")
        now[0] += 3600
        await engine.maintenance.apply_retention()  # the cleanup job

        assert files_holding(settings, LEAKED) == []
        assert files_holding(settings, DROPPED) == []
        assert KEPT in await _texts(engine, "Elm Road branch desk")
    finally:
        await engine.close()
    assert files_holding(settings, LEAKED) == []
    assert files_holding(settings, DROPPED) == []

    engine = MemoryEngine(settings, clock=lambda: now[0])
    await engine.start()
    try:
        assert KEPT in await _texts(engine, "Elm Road branch desk")
        assert LEAKED not in await _texts(engine, "vault code back office")
    finally:
        await engine.close()


async def test_a_document_deleted_before_its_index_is_loaded_leaves_no_byte_either(
        settings: Settings) -> None:
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        await engine.create_index(T, P, "kb", [
            _doc("leak", f"The vault code for the back office is {LEAKED} until May."),
            _doc("keep", f"The branch on Elm Road opens at nine; ask for {KEPT} at the desk.")])
        assert LEAKED in await _texts(engine, "vault code back office")
    finally:
        await engine.close()  # saves the org index's files
    assert any(name.endswith(".rows") for name in files_holding(settings, LEAKED))

    # A runtime that has not loaded the project's org index (no call asked yet).
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        assert engine.org.loaded(T, P) is None
        await engine.delete_documents(T, P, "kb", ["leak"])
        await engine.maintenance.apply_retention()
        assert files_holding(settings, LEAKED) == []
        assert KEPT in await _texts(engine, "Elm Road branch desk")
        assert LEAKED not in await _texts(engine, "vault code back office")
    finally:
        await engine.close()
    assert files_holding(settings, LEAKED) == []


async def test_a_recall_trace_that_quoted_a_deleted_document_goes_at_the_cleanup(
        settings: Settings) -> None:
    """A caller's recall that injected a knowledge document is traced with its words
    (kept a week for the dashboard's call page): the document deleted, the cleanup
    removes that trace as it removes the document's chunks; a trace that quoted only a
    document still stored stays until that one is deleted too."""
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        scope = engine.scope(project_id=P, agent_id="a", user_id="ann")
        await engine.warm_org(scope)
        # Words a trace keeps unredacted (a code or a password would be masked there).
        await engine.create_index(T, P, "kb", [
            _doc("leak", f"The spring tasting menu pairs the lamb with {LEAKED} sauce."),
            _doc("keep", f"The branch on Elm Road opens at nine; ask for {KEPT} at the desk.")])
        await engine.create_index(T, P, "old", [
            _doc("x", f"Last winter the ferry to the island left from {DROPPED} pier.")])
        for query, word in (("spring tasting menu lamb", LEAKED),
                            ("winter ferry island pier", DROPPED),
                            ("Elm Road branch desk", KEPT)):
            assert word in (await engine.search_memory(scope, query)).context_text
        await engine.traces.flush()
        quoted = " ".join(t.injected for t in await engine.store.recall_traces(T, P))
        assert LEAKED in quoted and DROPPED in quoted and KEPT in quoted

        await engine.delete_documents(T, P, "kb", ["leak"])
        await engine.delete_index(T, P, "old")
        await engine.maintenance.apply_retention()  # the cleanup job

        traces = await engine.store.recall_traces(T, P)
        assert [t.query for t in traces if LEAKED in t.injected + str(t.sources)] == []
        assert [t.query for t in traces if DROPPED in t.injected + str(t.sources)] == []
        assert any(KEPT in t.injected for t in traces)

        # Cleanups with nothing deleted since skip the look; a deletion after them
        # is looked for again.
        await engine.maintenance.apply_retention()
        await engine.maintenance.apply_retention()
        await engine.delete_documents(T, P, "kb", ["keep"])
        await engine.maintenance.apply_retention()
        traces = await engine.store.recall_traces(T, P)
        assert [t.query for t in traces if KEPT in t.injected + str(t.sources)] == []
    finally:
        await engine.close()
    for word in (LEAKED, DROPPED, KEPT):
        assert files_holding(settings, word) == []
