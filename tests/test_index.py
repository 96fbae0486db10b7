"""The in-memory hybrid index: BM25 against a direct computation, IVF against exact."""

from __future__ import annotations

import math

import numpy as np

from voxmem.embeddings import normalize_rows
from voxmem.engine._index import IVF_MIN_VECTORS, HybridIndex
from voxmem.engine._text import analyze


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


def test_ivf_recall_on_clustered_vectors() -> None:
    rng = np.random.default_rng(0)
    dims, n = 64, IVF_MIN_VECTORS + 5_000
    centers = rng.normal(size=(200, dims))
    data = normalize_rows(centers[rng.integers(0, 200, n)] + 0.35 * rng.normal(size=(n, dims)))
    index = HybridIndex(dims)
    for i in range(n):
        index.add(str(i), [], created_at=0.0, vector=data[i])
    exact_queries = normalize_rows(centers[:50] + 0.35 * rng.normal(size=(50, dims)))
    exact = [set(np.argsort(-(data @ q))[:10].tolist()) for q in exact_queries]
    assert index.maybe_build_ivf()
    hits = 0
    for q, truth in zip(exact_queries, exact, strict=True):
        got = {int(p) for p in index.dense(q, 10).positions}
        hits += len(got & truth)
    assert hits / 500 >= 0.9
    # Vectors added after the build are found through the exact tail.
    index.add("new", [], created_at=0.0, vector=exact_queries[0])
    top = index.dense(exact_queries[0], 1)
    assert index.id_at(int(top.positions[0])) == "new"
