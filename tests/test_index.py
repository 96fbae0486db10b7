"""The in-memory hybrid index: BM25 against a direct computation, ANN against exact."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import voxmem.engine._postings as postings_module
from voxmem.embeddings import normalize_rows
from voxmem.engine._analysis import analyze
from voxmem.engine._index import HybridIndex, Where


def test_bm25_matches_formula() -> None:
    docs = ["red apple pie", "green apple", "blue sky", "apple apple apple tart"]
    index = HybridIndex(4)
    for i, d in enumerate(docs):
        index.add(f"d{i}", analyze(d), created_at=0.0)
    ranked = index.bm25(analyze("apple"), 10)
    lens = [len(analyze(d)) for d in docs]
    avg = sum(lens) / len(lens)
    df = 3
    idf = math.log(1 + (4 - df + 0.5) / (df + 0.5))
    expected = {}
    for i, d in enumerate(docs):
        tf = analyze(d).count("appl")
        if tf:
            expected[i] = idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * lens[i] / avg))
    assert [int(p) for p in ranked.positions] == sorted(expected, key=lambda i: -expected[i])
    for p, sc in zip(ranked.positions, ranked.scores, strict=True):
        assert abs(float(sc) - expected[int(p)]) < 1e-5


def test_remove_and_masks() -> None:
    index = HybridIndex(2)
    index.add("a", ["x"], created_at=0.0, group=1, vector=np.array([1, 0], np.float32))
    index.add("b", ["x"], created_at=0.0, group=2, vector=np.array([0, 1], np.float32))
    index.add("a", ["x"], created_at=0.0, group=1)  # replayed write: ignored
    assert len(index) == 2
    only_b = index.group_mask([2])
    assert [index.id_at(int(p)) for p in index.bm25(["x"], 5, only_b).positions] == ["b"]
    assert index.remove("b")
    assert [index.id_at(int(p)) for p in index.bm25(["x"], 5).positions] == ["a"]
    assert [index.id_at(int(p)) for p in index.dense(np.array([0, 1], np.float32), 5)
            .positions] == ["a"]


def test_ann_recall_against_exact_with_adds_and_removes() -> None:
    """The org index's approximate side agrees with exact search, before and after
    its queued vectors are moved into the graph, and never returns a removed row."""
    rng = np.random.default_rng(0)
    dims, n = 64, 6_000
    # Clustered around a shared direction, as sentence embeddings are.
    common = rng.normal(size=dims) * 2.0
    centers = rng.normal(size=(150, dims)) + common
    data = normalize_rows(centers[rng.integers(0, 150, n)] + 0.4 * rng.normal(size=(n, dims)))
    data = data.astype(np.float32)
    index = HybridIndex(dims, ann=True)
    index.add_many([str(i) for i in range(n)], [[] for _ in range(n)],
                   created_at=[0.0] * n, payloads=[None] * n, vectors=list(data))
    queries = normalize_rows(centers[:40] + 0.4 * rng.normal(size=(40, dims))).astype(
        np.float32)

    def recall() -> float:
        hits = 0
        for q in queries:
            exact = np.sort(data @ q)[-10]
            got = index.dense(q, 10).positions
            hits += int(np.sum(data[got] @ q >= exact - 1e-4))
        return hits / (10 * len(queries))

    assert recall() == 1.0  # queued vectors are scanned exactly
    index.maintain(threads=1)
    assert index.ann is not None and index.ann.pending == 0
    assert recall() >= 0.98
    top = index.id_at(int(index.dense(queries[0], 1).positions[0]))
    assert index.remove(top)
    assert top not in {index.id_at(int(p)) for p in index.dense(queries[0], 50).positions}
    index.add("new", [], created_at=0.0, vector=queries[0])
    assert index.id_at(int(index.dense(queries[0], 1).positions[0])) == "new"
    vec = index.vector_at(index.position_of("0") or 0)
    assert vec is not None and float(vec @ data[0]) > 0.999


def _corpus(n: int, dims: int = 8) -> tuple[list[list[str]], np.ndarray]:
    rng = np.random.default_rng(3)
    words = ["apple", "pear", "plum", "kiwi", "lime", "fig", "date", "yuzu", "sloe", "nut"]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 9)))) for _ in range(n)]
    vectors = normalize_rows(rng.normal(size=(n, dims))).astype(np.float32)
    return [analyze(t) for t in texts], vectors


def _results(index: HybridIndex, query: list[str],
             vec: np.ndarray) -> tuple[list[Any], list[Any]]:
    kw, dn = index.search(query, vec, 10)
    return ([(index.id_at(int(p)), round(float(s), 5)) for p, s in zip(kw.positions, kw.scores,
                                                                       strict=True)],
            [(index.id_at(int(p)), round(float(s), 5)) for p, s in zip(dn.positions, dn.scores,
                                                                       strict=True)])


def test_add_many_matches_one_by_one_adds(monkeypatch: pytest.MonkeyPatch) -> None:
    # A small head makes the one-by-one index flush and merge segments many times.
    monkeypatch.setattr(postings_module, "HEAD_POSTINGS", 50)
    terms, vectors = _corpus(700)
    one = HybridIndex(8)
    for i, t in enumerate(terms):
        one.add(f"d{i}", t, created_at=float(i), group=i % 3, vector=vectors[i])
    bulk = HybridIndex(8)
    for lo in range(0, 700, 64):  # slices, as a warm load does
        hi = min(700, lo + 64)
        bulk.add_many([f"d{i}" for i in range(lo, hi)], terms[lo:hi],
                      created_at=[float(i) for i in range(lo, hi)], payloads=[None] * (hi - lo),
                      groups=[i % 3 for i in range(lo, hi)], vectors=list(vectors[lo:hi]),
                      bulk=lo % 128 == 0)
    # Replays (and a duplicate inside one batch) are ignored, as with add().
    assert bulk.add_many(["d1", "d2", "d2"], [["x"]] * 3, created_at=[0.0] * 3,
                         payloads=[None] * 3) == 0
    assert len(bulk) == len(one) == 700
    query, vec = analyze("apple plum yuzu"), vectors[5]
    assert _results(bulk, query, vec) == _results(one, query, vec)
    assert bulk.compact() or len(bulk.postings.segments) == 1
    assert _results(bulk, query, vec) == _results(one, query, vec)
    assert bulk.group_positions([1]).tolist() == np.flatnonzero(one.group_mask([1])).tolist()
    # Single adds after a bulk load land after it, in both.
    for index in (one, bulk):
        index.add("late", analyze("apple apple kiwi"), created_at=1.0, vector=vectors[5])
    assert _results(bulk, query, vec) == _results(one, query, vec)
    assert len(one.postings.segments) > 1


def test_filters_resolve_in_the_index() -> None:
    terms, vectors = _corpus(300)
    index = HybridIndex(8)
    for i, t in enumerate(terms):
        index.add(f"d{i}", t, created_at=float(i), group=i % 4, vector=vectors[i])
    index.remove("d8")
    query = analyze("apple fig")
    only = Where(groups=(0,), min_created=100.0)
    but = Where(exclude_groups=(0,))
    for where, mask in ((only, index.group_mask([0]) & index.created_mask(100.0)),
                        (but, index.group_mask([0], include=False))):
        kw, dn = index.search(query, vectors[0], 20, where)
        assert kw.positions.tolist() == index.bm25(query, 20, mask).positions.tolist()
        assert dn.positions.tolist() == index.dense(vectors[0], 20, mask).positions.tolist()
        assert 8 not in kw.positions.tolist() + dn.positions.tolist()


def test_stale_mask_is_aligned_to_a_grown_index() -> None:
    # A lane's mask can be built before a concurrent add lands (seen under load as
    # "operands could not be broadcast (10210,) (10211,)"): searching must still work,
    # and documents the mask does not cover are left out.
    index = HybridIndex(2)
    index.add("a", ["x"], created_at=0.0, group=1, vector=np.array([1, 0], np.float32))
    mask = index.group_mask([1])
    index.add("b", ["x"], created_at=0.0, group=1, vector=np.array([1, 0], np.float32))
    assert [index.id_at(int(p)) for p in index.bm25(["x"], 5, mask).positions] == ["a"]
    assert [index.id_at(int(p)) for p in index.dense(np.array([1, 0], np.float32), 5, mask)
            .positions] == ["a"]


def test_analyze_is_stable_across_its_cache() -> None:
    text = "Dana's dogs' running RUNS 2024 the ok running"
    first = analyze(text)
    assert analyze(text) == first == ["dana", "dog", "run", "run", "2024", "run"]


def test_upkeep_after_each_small_batch_stays_n_log_n(monkeypatch: pytest.MonkeyPatch) -> None:
    """An org index grown by many create_index calls, with upkeep after each, merges
    each posting O(log n) times (merging everything each time made builds quadratic)."""
    merged = [0]
    real_merge = postings_module.merge

    def counting_merge(segments: Any) -> Any:
        out = real_merge(segments)
        merged[0] += out.size
        return out

    monkeypatch.setattr(postings_module, "merge", counting_merge)
    # Merges on the write path stop at this size; scaled down so that a small test has
    # as many such segments as a 100k-chunk index does at the real limit.
    monkeypatch.setattr(postings_module, "SYNC_MERGE_MAX", 512)
    terms, _ = _corpus(20_000)
    index = HybridIndex(8, ann=True)
    batch = 50
    for lo in range(0, len(terms), batch):
        index.add_many([str(i) for i in range(lo, lo + batch)], terms[lo:lo + batch],
                       created_at=[0.0] * batch, payloads=[None] * batch)
        index.maintain()
    total = sum(len(set(t)) for t in terms)
    assert merged[0] <= 12 * total, (merged[0], total)
    assert len(index.postings.segments) <= 20
    # Still the same answers as one index built in one go.
    whole = HybridIndex(8)
    whole.add_many([str(i) for i in range(len(terms))], terms,
                   created_at=[0.0] * len(terms), payloads=[None] * len(terms))
    for query in (["appl", "pear"], ["kiwi"], ["yuzu", "nut", "fig"]):
        a, b = index.bm25(query, 20), whole.bm25(query, 20)
        assert np.allclose(a.scores, b.scores)
