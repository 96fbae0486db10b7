"""A caller's vectors scored on a lane thread ahead of its search (``_vectors.Scan``).

The permanent lane's cosine scan releases the GIL, so recall starts it on a lane thread
and the loop searches the org lane's words meanwhile. The scan's scores must rank
exactly what a scan at search time ranks: used only when no vector was written since it
began, and computed by the search itself when no thread has taken it yet.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import voxmem.engine._lanes as lanes_module
from tests.test_search_inline import QUERIES, _answer, _caller, _five_docs
from voxmem.embeddings import normalize_rows
from voxmem.engine import MemoryEngine
from voxmem.engine._analysis import analyze
from voxmem.engine._index import HybridIndex, Ranked, Where
from voxmem.engine._recall import Query
from voxmem.engine._vectors import SCAN_BLOCK_ROWS, cosines

DIMS = 16


def _index(n: int = 300, seed: int = 0) -> tuple[HybridIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = normalize_rows(rng.normal(size=(n, DIMS))).astype(np.float32)
    index = HybridIndex(DIMS)
    words = ["lamp", "order", "parcel", "invoice", "dog", "friday"]
    for i in range(n):
        index.add(f"d{i}", analyze(f"{words[i % 6]} {words[(i * 7) % 6]} {i}"),
                  created_at=float(i), group=1 + i % 5, vector=vectors[i])
    return index, vectors


def _pairs(ranked: Ranked) -> list[tuple[int, float]]:
    return list(zip(ranked.positions.tolist(), ranked.scores.tolist(), strict=True))


WHERES = (None, Where(exclude_groups=(2,)), Where(groups=(3,)),
          Where(min_created=50.0, max_created=120.0,
                positions=np.arange(50, 121, dtype=np.int64)))


def test_a_scan_ranks_exactly_what_a_scan_at_search_time_ranks() -> None:
    index, vectors = _index()
    query = normalize_rows(vectors[7:8] + vectors[42:43])[0].astype(np.float32)
    terms = analyze("lamp order")
    for where in WHERES:
        scan = index.start_scan(query)
        assert scan is not None
        scan.run()  # as a lane thread would, before the search
        with_scan = index.search(terms, query, 20, where, scan)
        plain = index.search(terms, query, 20, where)
        assert _pairs(with_scan[1]) == _pairs(plain[1]) and len(plain[1])
        assert _pairs(with_scan[0]) == _pairs(plain[0])


def test_a_vector_written_after_the_scan_began_is_ranked_by_its_new_vector() -> None:
    # The scan reads the rows without the index's lock: a row given a new vector since
    # (a re-embedded turn) must not be ranked by the scan's stale score.
    index, vectors = _index()
    query = vectors[10].copy()
    scan = index.start_scan(query)
    assert scan is not None
    scan.run()
    assert index.set_vector("d200", query) == 200  # now as close as d10
    ranked = index.search([], query, 5, None, scan)[1]
    assert set(ranked.positions[:2].tolist()) == {10, 200}
    assert _pairs(ranked) == _pairs(index.search([], query, 5)[1])
    # A row added with its vector after the scan began is found as well.
    scan = index.start_scan(query)
    assert scan is not None
    scan.run()
    index.add("late", ["late"], created_at=400.0, group=1, vector=query)
    late = index.position_of("late")
    assert late in index.search([], query, 5, None, scan)[1].positions.tolist()


def test_a_scan_no_thread_has_taken_is_computed_by_the_search() -> None:
    # A busy pool (or a thread still waiting for a core): the search does the work
    # rather than wait for a thread to start it.
    index, vectors = _index()
    query = vectors[3].copy()
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(release.wait)
        scan = index.start_scan(query)
        assert scan is not None
        scan.future = pool.submit(scan.run)
        got = index.search([], query, 10, None, scan)[1]
        assert scan.future.cancelled()
        release.set()
        busy.result()
    assert got.positions[0] == 3
    assert _pairs(got) == _pairs(index.search([], query, 10)[1])
    assert scan.finished() is not None
    np.testing.assert_array_equal(scan.finished(), cosines(index.vectors._matrix[:300], query))


def test_a_scan_shared_by_a_thread_and_the_search_scores_every_row_once() -> None:
    # Several blocks: the thread scores from the first, the search from the last, each
    # taking what the other has done, however the two interleave.
    index, vectors = _index(3 * SCAN_BLOCK_ROWS + 10)
    full = cosines(index.vectors._matrix[:index.rows], vectors[9])
    with ThreadPoolExecutor(1) as pool:
        for _ in range(20):
            scan = index.start_scan(vectors[9].copy())
            assert scan is not None
            scan.future = pool.submit(scan.run)
            np.testing.assert_array_equal(scan.scores(), full)
            if not scan.future.cancelled():
                scan.future.result()
            finished = scan.finished()
            assert finished is not None
            np.testing.assert_array_equal(finished, full)
        scan = index.start_scan(vectors[9].copy())
        assert scan is not None and scan.finished() is None  # nothing scored yet
        scan.future = pool.submit(scan.run)
        scan.future.result()
        # Done by the thread: the search ranks from those scores.
        assert _pairs(index.search([], scan.query, 10, None, scan)[1]) == _pairs(
            index.search([], scan.query, 10)[1])


async def test_a_callers_search_with_its_scan_on_a_thread_answers_the_same(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    scope = await _caller(engine)
    await _five_docs(engine, scope)
    mem = engine.callers.peek(scope)
    assert mem is not None
    vector = engine.embedder.embed(["what did I order"])[0]
    q = Query(text="what did I order", terms=analyze("what did I order"), vector=vector,
              now=0.0)
    # A handful of rows: scanned inline, as before.
    assert engine.lanes.start_scan(mem.index, q) is None
    inline = [_answer(await engine.search_memory(scope, text, timeout_ms=5000))
              for text in QUERIES]
    monkeypatch.setattr(lanes_module, "THREADED_SCAN_MIN", 1)
    # The org graph walked on a thread too, so the org lane's words are searched while
    # the threads work (``OrgKnowledge.keyword_now``).
    monkeypatch.setattr(lanes_module, "THREADED_GRAPH_MIN", 5)
    scan = engine.lanes.start_scan(mem.index, q)
    assert scan is not None and scan.future is not None
    scan.future.result()
    np.testing.assert_array_equal(scan.scores(), cosines(
        mem.index.vectors._matrix[:mem.index.rows], vector))
    threaded = [_answer(await engine.search_memory(scope, text, timeout_ms=5000))
                for text in QUERIES]
    assert threaded == inline
    assert any(a["permanent"] for a in threaded) and any(a["org"] for a in threaded)
    assert all(not a["errors"] for a in threaded)
