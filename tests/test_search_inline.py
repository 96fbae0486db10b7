"""A warm caller's lanes run inline, and answer exactly what the lane tasks answer.

With the query's vector at hand (the cheap embedder) and the caller loaded, recall runs
the profile, working and permanent lanes one after the other in ``search_memory``
instead of as a task each; the org lane, and any lane that must wait (a loading caller,
a query still embedding, a search too large to run inline), keeps its task.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import voxmem.engine._lanes as lanes_module
from voxmem import Settings
from voxmem.embeddings._base import Vectors
from voxmem.embeddings.hashing import HashingEmbedder
from voxmem.engine import MemoryEngine
from voxmem.engine._analysis import analyze
from voxmem.models import Caller, Scope, SearchResult

QUERIES = ("what did I order", "when is the delivery", "my dog Bruno", "the invoice number")


async def _five_docs(engine: MemoryEngine, scope: Scope) -> asyncio.Future[np.ndarray]:
    """Index five org documents, load them, and give a settled query vector."""
    docs = [{"id": f"doc-{n}", "text": text, "metadata": {}} for n, text in enumerate([
        "Returns are accepted within 30 days with the receipt",
        "Delivery takes two to five working days", "Lamps carry a two year warranty",
        "Invoices are sent by email after payment", "Dogs are welcome in the store"])]
    await engine.create_index(scope.tenant_id, scope.project_id, "kb", docs)
    await engine.warm_org(scope)
    done: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
    done.set_result(engine.embedder.embed(["when is the delivery"])[0])
    return done


class BrokenEmbedder:
    """A cheap query embedder that fails on queries (a model that cannot run)."""

    cheap = True

    def __init__(self) -> None:
        self._inner = HashingEmbedder()
        self.name = self._inner.name
        self.dimensions = self._inner.dimensions

    def embed(self, texts: Sequence[str]) -> Vectors:
        if len(texts) == 1 and texts[0].startswith("why"):
            raise RuntimeError("embedding model unavailable")
        return self._inner.embed(texts)


async def _caller(engine: MemoryEngine) -> Scope:
    scope = engine.scope(project_id="p", agent_id="a", user_id="ines")
    who = Caller("ines", "Ines")
    for n, text in enumerate(["I ordered a blue lamp", "the delivery is on Friday",
                              "my dog Bruno chewed the parcel", "invoice 4471 was paid"]):
        await engine.save_response(scope, who, user_text=f"{text} ({n})",
                                   assistant_text="Noted.")
    await engine.end_session(scope)
    await engine.save_response(scope, who, user_text="I want to change my order",
                               assistant_text="Which one?")
    # The ended call's facts (a dog, an invoice) are learned in the background: wait for
    # them, or they land between two searches that must answer alike.
    assert await engine.flush(60, learning=True)
    await engine.preload(scope)
    mem = engine.callers.peek(scope)
    assert mem is not None
    await mem.ready.wait()
    return scope


def _answer(result: SearchResult) -> dict[str, Any]:
    return {"profile": result.profile, "lanes": result.trace["lanesUsed"],
            "errors": result.trace["errors"], "context": result.context_text,
            **{lane: [(h["id"], h["score"]) for h in getattr(result, lane)]
               for lane in ("working", "permanent", "org")}}


async def test_inline_lanes_answer_what_the_lane_tasks_answer(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    scope = await _caller(engine)
    inline = [_answer(await engine.search_memory(scope, q, timeout_ms=5000)) for q in QUERIES]
    assert all(a["profile"] for a in inline)
    assert any(a["permanent"] for a in inline) and any(a["working"] for a in inline)
    # Every search too large to run inline: each caller lane is a task on a lane thread.
    monkeypatch.setattr(lanes_module, "INLINE_LANE_ROWS", -1)
    tasks = [_answer(await engine.search_memory(scope, q, timeout_ms=5000)) for q in QUERIES]
    assert tasks == inline
    assert all(not a["errors"] for a in inline)


async def test_a_failing_query_embedding_fails_the_vector_lanes_only(
        tmp_path: Path, store_url: str) -> None:
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "data"), embedder="hashing",
                                   store_url=store_url), embedder=BrokenEmbedder())
    await engine.start()
    try:
        scope = await _caller(engine)
        result = await engine.search_memory(scope, "why was my order late", timeout_ms=5000)
        assert result.trace["degraded"] is True
        assert {"working", "permanent"} <= set(result.trace["errors"])
        assert "unavailable" in result.trace["errors"]["permanent"]
        assert result.profile == {"name": "Ines"}
        fine = await engine.search_memory(scope, "what did I order", timeout_ms=5000)
        assert not fine.trace["degraded"] and fine.permanent
    finally:
        await engine.close()


async def test_org_graph_search_on_a_thread_answers_what_one_search_answers(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    scope = await _caller(engine)
    done = await _five_docs(engine, scope)
    # The org index is small: its lane searches inline in one search.
    assert engine.org.start_dense(scope, done, 4) is None
    one = [_answer(await engine.search_memory(scope, q, timeout_ms=5000)) for q in QUERIES]
    assert any(a["org"] for a in one)
    # Too large to run inline: the graph search starts on a thread before the caller
    # lanes run, and the rest of the org lane joins it afterwards.
    monkeypatch.setattr(lanes_module, "INLINE_LANE_ROWS", -1)
    started = engine.org.start_dense(scope, done, 4)
    assert started is not None
    started.result()
    split = [_answer(await engine.search_memory(scope, q, timeout_ms=5000)) for q in QUERIES]
    assert split == one
    assert all(not a["errors"] for a in split)


async def test_a_small_loaded_org_index_answers_inline_what_its_lane_task_answers(
        engine: MemoryEngine) -> None:
    scope = await _caller(engine)
    vector = asyncio.get_running_loop().create_future()
    vector.set_result(engine.embedder.embed(["how long does delivery take"])[0])
    terms = analyze("how long does delivery take")
    # Not loaded yet: the lane must wait (the store's text search), so not inline.
    assert engine.org.lane_now(scope, "how long does delivery take", terms,
                               vector.result(), 4) is None
    await engine.create_index(scope.tenant_id, scope.project_id, "kb", [
        {"id": f"doc-{n}", "text": text, "metadata": {}} for n, text in enumerate([
            "Delivery takes two to five working days", "Lamps carry a two year warranty",
            "Returns are accepted within 30 days with the receipt"])])
    await engine.warm_org(scope)
    now = engine.org.lane_now(scope, "how long does delivery take", terms, vector.result(), 4)
    assert now, "a loaded small org index answers inline"
    task = await engine.org.lane(scope, "how long does delivery take", terms, vector, 4)
    assert [(h["id"], h["score"]) for h in now] == [(h["id"], h["score"]) for h in task]
    found = await engine.search_memory(scope, "how long does delivery take", timeout_ms=5000)
    assert [(h["id"], h["score"]) for h in found.org] == [
        (h["id"], h["score"]) for h in task]
    assert "org" in found.trace["lanes"] and not found.trace["degraded"]


async def test_a_large_graph_is_walked_on_a_thread_even_when_its_search_is_cheap(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    # A graph of THREADED_GRAPH_MIN vectors or more: its walk releases the GIL, so it
    # runs beside the caller lanes although the whole org search would be cheap enough
    # to run inline (at 100,000 chunks it was, and the walk then sat on the event loop).
    scope = await _caller(engine)
    done = await _five_docs(engine, scope)
    inline = [_answer(await engine.search_memory(scope, q, timeout_ms=5000)) for q in QUERIES]
    assert engine.org.start_dense(scope, done, 4) is None
    monkeypatch.setattr(lanes_module, "THREADED_GRAPH_MIN", 5)  # the five documents
    started = engine.org.start_dense(scope, done, 4)
    assert started is not None, "the cheap search of a large graph is walked on a thread"
    started.result()
    walked = [_answer(await engine.search_memory(scope, q, timeout_ms=5000)) for q in QUERIES]
    assert walked == inline
    assert any(a["org"] for a in walked) and all(not a["errors"] for a in walked)


async def test_a_walk_no_lane_thread_has_started_is_walked_by_the_org_lane(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    # A machine without a free core: no lane thread has taken the graph's walk when the
    # org lane needs it. The lane walks the graph itself rather than wait for a thread
    # (it waited: with every lane thread busy, the org lane missed its deadline).
    scope = await _caller(engine)
    await _five_docs(engine, scope)
    inline = _answer(await engine.search_memory(scope, QUERIES[1], timeout_ms=5000))
    monkeypatch.setattr(lanes_module, "THREADED_GRAPH_MIN", 5)  # the five documents
    release = threading.Event()
    busy = [engine.lanes.submit(release.wait) for _ in range(lanes_module.LANE_THREADS)]
    try:
        taken_back = _answer(await engine.search_memory(scope, QUERIES[1], timeout_ms=2000))
    finally:
        release.set()
    for fut in busy:
        fut.result()
    assert taken_back == inline
    assert taken_back["org"] and not taken_back["errors"]
