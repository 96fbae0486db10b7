"""Both embeddings (``embedder="static+onnx"``): the work a search does around the full
model's query vector.

The full model embeds the query on a lane thread; the same thread then scores the
caller's second matrix for it (``LaneRunner.start_second``), and the caller lanes rank
the first model's vector while the full model computes (``KeywordPhase.dense``). Each
must rank exactly what the search ranked when it did that work itself afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

import voxmem.engine._lanes as lanes_module
import voxmem.engine._vectors as vectors_module
from tests.test_search_scan import WHERES, _pairs
from tests.test_side_by_side import Gated, dual, dual_settings, gated, minilm, save, settled
from voxmem.embeddings import Vectors, normalize_rows
from voxmem.engine import MemoryEngine
from voxmem.engine._analysis import analyze
from voxmem.engine._caller_memory import build_memory
from voxmem.engine._index import HybridIndex
from voxmem.engine._lanes import LaneRunner
from voxmem.engine._rank import RankParams
from voxmem.engine._recall import Query, _searched, caller_keyword_phase
from voxmem.engine._vectors import SCAN_BLOCK_ROWS, cosines
from voxmem.models import Scope

__all__ = ["dual", "dual_settings", "gated", "minilm"]  # the fixtures, used by name

DIMS, SECOND_DIMS = 8, 12


def _dual_index(n: int = 300, seed: int = 1) -> tuple[HybridIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    first = normalize_rows(rng.normal(size=(n, DIMS))).astype(np.float32)
    second = normalize_rows(rng.normal(size=(n, SECOND_DIMS))).astype(np.float32)
    index = HybridIndex(DIMS)
    index.keep_second(SECOND_DIMS)
    words = ["lamp", "order", "parcel", "invoice", "dog", "friday"]
    for i in range(n):
        index.add(f"d{i}", analyze(f"{words[i % 6]} {i}"), created_at=float(i),
                  group=1 + i % 5, vector=first[i])
        if i % 7:  # some rows wait for their second vector
            index.set_second(f"d{i}", second[i])
    return index, second


class Fixed:
    """A second model that answers one vector for any text (the test's query)."""

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector
        self.name, self.dimensions, self.cheap = "fixed", vector.shape[0], False
        self.gate = threading.Event()
        self.gate.set()

    def embed(self, texts: Sequence[str]) -> Vectors:
        assert self.gate.wait(30)
        return np.stack([self.vector for _ in texts])


def test_a_second_scan_ranks_what_the_second_matrix_ranks_at_search_time() -> None:
    index, second = _dual_index()
    query = normalize_rows(second[8:9] + second[40:41])[0].astype(np.float32)
    for where in WHERES:
        scan = index.start_second_scan(query)
        assert scan is not None
        scan.run()
        with_scan = index.search_second(query, 20, where, scan)
        assert _pairs(with_scan) == _pairs(index.search_second(query, 20, where))
        assert len(with_scan)
    # A scan of the first matrix is not the second's: searched, not used.
    row = index.vector_at(3)
    assert row is not None
    first = index.start_scan(row)
    assert first is not None
    first.run()
    assert _pairs(index.search_second(query, 5, None, first)) == _pairs(
        index.search_second(query, 5))
    # A second vector written after the scan began ranks by its new value.
    scan = index.start_second_scan(query)
    assert scan is not None
    scan.run()
    assert index.set_second("d7", query) == 7  # had none: now the closest row
    ranked = index.search_second(query, 5, None, scan)
    assert ranked.positions[0] == 7
    assert _pairs(ranked) == _pairs(index.search_second(query, 5))
    assert HybridIndex(4).start_second_scan(query) is None  # keeps no second matrix


def test_a_cancelled_scan_stops_its_thread_at_the_next_block() -> None:
    index, second = _dual_index(3 * SCAN_BLOCK_ROWS + 5)
    scan = index.start_second_scan(second[2])
    assert scan is not None
    scan.cancel()  # the search is over before the thread began
    scan.run()
    assert not scan._done and scan.finished() is None  # no block scored for nobody


async def test_the_full_models_thread_scans_the_second_matrix_after_the_vector(
        monkeypatch: pytest.MonkeyPatch) -> None:
    index, second = _dual_index(3 * SCAN_BLOCK_ROWS + 5)
    query = second[11].copy()
    model = Fixed(query)
    lanes = LaneRunner(model, model)
    try:
        small = lanes.start_second("a question", HybridIndex(DIMS))
        assert small is not None and (await small)[1] is None  # too few rows to hand off
        got = lanes.start_second("a question", index)
        assert got is not None
        vector, scan = await got
        assert vector is query or np.array_equal(vector, query)
        assert scan is not None and scan.query is vector
        full = cosines(index.second._matrix[:index.rows], vector)  # type: ignore[union-attr]
        np.testing.assert_array_equal(scan.scores(), full)
        assert _pairs(index.search_second(vector, 10, None, scan)) == _pairs(
            index.search_second(vector, 10))
        # A search over before the vector came: the scan is dropped, not run for nobody.
        model.gate.clear()
        late = lanes.start_second("a question", index)
        assert late is not None
        late.cancel()
        model.gate.set()
        assert lanes.start_second("  ", index) is None
    finally:
        model.gate.set()
        lanes.shutdown()


def test_the_words_phase_ranks_the_first_vector_as_the_dense_phase_would() -> None:
    index, _ = _dual_index(120)
    mem = build_memory(Scope("t", "p", "*", "u"), DIMS, None, [], [], SECOND_DIMS)
    mem.index = index
    params = RankParams()
    vector = index.vector_at(5)
    assert vector is not None
    q = Query(text="lamp order", terms=analyze("lamp order"), vector=vector, now=500.0)
    words = caller_keyword_phase(mem, "permanent", q, 5, params)
    assert words.dense is not None and len(words.dense[0])
    without = caller_keyword_phase(mem, "permanent", Query(
        text=q.text, terms=q.terms, vector=None, now=q.now), 5, params)
    assert without.dense is None and [_pairs(r) for r in without.keyword] == [
        _pairs(r) for r in words.keyword]
    searched = [[(_pairs(kw), _pairs(dense)) for kw, dense in got] for got in (
        _searched(index, q, 5, words.wheres, words),
        _searched(index, q, 5, without.wheres, without),
        _searched(index, q, 5, words.wheres, None))]
    assert searched[0] == searched[1] == searched[2] and searched[0][0][1]


async def test_a_search_with_the_second_scan_on_the_thread_answers_the_same(
        dual: MemoryEngine, gated: Gated, monkeypatch: pytest.MonkeyPatch) -> None:
    s = dual.scope(project_id="p", agent_id="a", user_id="dee")
    for text in ("I moved to Lisbon last spring", "My sister Ana lives in Porto",
                 "I ordered a blue lamp on Friday", "The lamp arrived broken",
                 "I work night shifts at the hospital", "My dog Rex hates thunder"):
        await save(dual, s, text)
    await settled(dual)
    await dual.end_session(s)
    questions = ("which city do I live in?", "what happened to the lamp?",
                 "where does my sister live?", "what is my job?")

    async def answers() -> list[tuple[list[str], list[tuple[str, float]]]]:
        out = []
        for question in questions:
            result = await dual.search_memory(s, question, timeout_ms=20_000)
            assert result.trace["fullModel"] == {"working": "ranked", "permanent": "ranked"}
            out.append(([h["id"] for h in result.working],
                        [(h["id"], h["score"]) for h in result.permanent]))
        return out

    monkeypatch.setattr(lanes_module, "THREADED_SCAN_MIN", 10**9)
    inline = await answers()
    monkeypatch.setattr(lanes_module, "THREADED_SCAN_MIN", 1)
    monkeypatch.setattr(vectors_module, "SCAN_BLOCK_ROWS", 2)  # several blocks to share
    mem = dual.callers.peek(s)
    assert mem is not None
    scans = []
    real = mem.index.start_second_scan

    def counted(vector: np.ndarray) -> object:
        scan = real(vector)
        scans.append(scan)
        return scan

    monkeypatch.setattr(mem.index, "start_second_scan", counted)
    threaded = await answers()
    assert threaded == inline and any(p for _, p in threaded)
    assert len(scans) == len(questions) and all(scan is not None for scan in scans)
