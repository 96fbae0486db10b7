"""Block-max pruning (``engine/_bm25.py``): a scored word skips the blocks of its postings
whose bound cannot lift a chunk into the top k, and the answer is still exactly what
scoring every posting gives (same positions, bit-identical scores) and what BM25 written
out plainly gives, with segments, head postings, removals, filters, a growing average
length and a persisted index reloaded."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

import voxmem.engine._bm25 as bm25_module
import voxmem.engine._postings as postings_module
from voxmem.engine._index import Ranked
from voxmem.engine._postings import Postings, Segment


class _Counted:
    """Counts the postings whose contributions a search computes, around the real
    function."""

    def __init__(self) -> None:
        self.rows = 0
        self._real = bm25_module.contributions

    def __call__(self, docs: np.ndarray, *args: float | np.ndarray) -> np.ndarray:
        self.rows += int(docs.shape[0])
        return self._real(docs, *args)  # type: ignore[arg-type]


@contextmanager
def _mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> Iterator[_Counted]:
    """``every``: score every posting; ``words``: MaxScore over whole words only;
    ``blocks``: MaxScore and block-max (the default)."""
    counted = _Counted()
    with monkeypatch.context() as m:
        m.setattr(postings_module, "PRUNE_MIN_POSTINGS", 1 << 62 if mode == "every" else 0)
        if mode == "words":
            m.setattr(bm25_module, "SKIP_MIN_SHARE", math.inf)
        m.setattr(bm25_module, "contributions", counted)
        yield counted


def _same(a: Ranked, b: Ranked) -> None:
    assert a.positions.tolist() == b.positions.tolist()
    assert a.scores.tobytes() == b.scores.tobytes()


def _corpus(rng: np.random.Generator, n: int, vocabulary: int) -> list[list[str]]:
    """Zipf-like words; lengths in runs (a run of short chunks, then long ones), so that
    some blocks hold only long chunks and have low bounds, as a document split into
    chunks of one size and a table of short rows would."""
    weights = 1.0 / np.arange(1, vocabulary + 1) ** 1.05
    weights /= weights.sum()
    docs = []
    for i in range(n):
        long_run = (i // 700) % 3 != 0
        size = int(rng.integers(40, 90)) if long_run else int(rng.integers(2, 12))
        words = [f"w{j}" for j in rng.choice(vocabulary, size, p=weights)]
        if rng.random() < 0.02:
            words += words[:3] * 3  # a few high term frequencies
        docs.append(words)
    for i in range(0, n, 11):  # exact duplicates: equal scores, decided by position
        docs[i] = list(docs[(i * 37) % n])
    return docs


def _search_all(monkeypatch: pytest.MonkeyPatch, p: Postings, query: list[str], k: int,
                rows: int, ok: np.ndarray, live: int, alive: np.ndarray | None,
                work: dict[str, int]) -> Ranked:
    got: dict[str, Ranked] = {}
    for mode in ("every", "words", "blocks"):
        with _mode(monkeypatch, mode) as counted:
            got[mode] = p.search(query, k, rows, None, ok, live, alive)
        work[mode] += counted.rows
    _same(got["blocks"], got["every"])
    _same(got["words"], got["every"])
    return got["blocks"]


@pytest.mark.parametrize(("block", "scatter"), [(16, 0.0), (16, 4.0), (128, 4.0),
                                               (128, 1e9)])
def test_block_max_equals_scoring_every_posting(monkeypatch: pytest.MonkeyPatch,
                                                block: int, scatter: float) -> None:
    """``scatter``: looked-up words by binary search only (0), by the size rule, or
    always added whole to the scratch array."""
    monkeypatch.setattr(bm25_module, "BLOCK", block)
    monkeypatch.setattr(bm25_module, "SCATTER_SHARE", scatter)
    monkeypatch.setattr(postings_module, "HEAD_POSTINGS", 1_000_000)
    rng = np.random.default_rng(block)
    n = 14_000
    docs = _corpus(rng, n, 600)
    p = Postings(threading.RLock())
    p.reserve(n + 1_500, 0)
    for lo in range(0, 12_000, 4_000):  # several segments, then single adds (the head)
        p.add_many(docs[lo:lo + 4_000], lo, bulk=True)
    for i in range(12_000, n):
        p.add(i, docs[i])
    alive = np.ones(n + 1_500, dtype=np.bool_)
    for i in rng.choice(n, 400, replace=False).tolist():
        alive[i] = False
        p.remove(i)
    work = dict.fromkeys(("every", "words", "blocks"), 0)
    for round_ in range(2):
        rows = n + 1_500 * round_
        ok = alive[:rows]
        live = int(ok.sum())
        for _ in range(40):
            query = [f"w{j}" for j in rng.integers(0, 150, int(rng.integers(2, 9)))]
            for k in (1, 10, 80):
                got = _search_all(monkeypatch, p, query, k, rows, ok, live, ok, work)
                assert len(got) > 0 and alive[got.positions].all()
        # Longer chunks move the average length past the one the kept block bounds were
        # computed at (they are scaled, not recomputed).
        for i in range(n, n + 1_500):
            p.add(i, docs[i - n] * 6)
    if scatter == 0.0:
        # The blocks skipped work that whole-word MaxScore did not.
        assert work["blocks"] < work["words"], work


def test_block_max_under_a_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25_module, "BLOCK", 16)
    rng = np.random.default_rng(8)
    n = 8_000
    docs = _corpus(rng, n, 400)
    p = Postings(threading.RLock())
    p.reserve(n, 0)
    p.add_many(docs, 0, bulk=True)
    allowed = rng.random(n) < 0.4
    work = dict.fromkeys(("every", "words", "blocks"), 0)
    for _ in range(40):
        query = [f"w{j}" for j in rng.integers(0, 100, int(rng.integers(2, 8)))]
        got = _search_all(monkeypatch, p, query, 20, n, allowed, n, None, work)
        assert allowed[got.positions].all()


def test_block_max_ranks_as_bm25_written_out_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25_module, "BLOCK", 8)
    rng = np.random.default_rng(21)
    n = 4_000
    docs = _corpus(rng, n, 300)
    p = Postings(threading.RLock())
    p.reserve(n, 0)
    p.add_many(docs, 0, bulk=True)
    ok = np.ones(n, dtype=np.bool_)
    avg = sum(map(len, docs)) / n
    sets = [set(d) for d in docs]
    for _ in range(25):
        query = list(dict.fromkeys(f"w{j}" for j in rng.integers(0, 60, 5)))
        scores: dict[int, float] = {}
        for term in query:
            having = [i for i in range(n) if term in sets[i]]
            if not having:
                continue
            idf = math.log(1 + (n - len(having) + 0.5) / (len(having) + 0.5))
            for i in having:
                tf = docs[i].count(term)
                norm = 1.2 * (0.25 + 0.75 * len(docs[i]) / avg)
                scores[i] = scores.get(i, 0.0) + idf * tf * 2.2 / (tf + norm)
        expected = sorted(scores, key=lambda i: (-round(scores[i], 6), i))[:40]
        with _mode(monkeypatch, "blocks"):
            got = p.search(query, 40, n, None, ok, n, None)
        assert got.positions.tolist() == expected
        assert got.scores.tolist() == pytest.approx([scores[i] for i in expected], rel=1e-6)


def test_block_bounds_hold_and_their_maximum_is_the_words_bound() -> None:
    rng = np.random.default_rng(2)
    tfs = rng.integers(1, 9, 1_000).astype(np.float32)
    lengths = rng.integers(1, 200, 1_000).astype(np.float32)
    docs = np.arange(1_000, dtype=np.int32)
    factors = bm25_module.block_factor_bounds(tfs, lengths, 40.0)
    assert factors.shape[0] == math.ceil(1_000 / bm25_module.BLOCK)
    assert float(factors.max()) == bm25_module.factor_bound(tfs, lengths, 40.0)
    units = bm25_module.block_bounds(2.5, factors)
    got = bm25_module.contributions(docs, tfs, 2.5, lengths, 40.0)
    for b in range(factors.shape[0]):
        block = slice(b * bm25_module.BLOCK, (b + 1) * bm25_module.BLOCK)
        assert got[block].max() <= units[b]
    assert units.max() == bm25_module.term_bound(2.5, float(factors.max()))


def test_a_reloaded_index_has_the_same_block_bounds_and_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The bounds are not persisted: segments read back from their arrays (as from the
    rows file) compute the same ones on their first search and answer the same."""
    monkeypatch.setattr(bm25_module, "BLOCK", 16)
    rng = np.random.default_rng(13)
    n = 6_000
    docs = _corpus(rng, n, 300)
    first = Postings(threading.RLock())
    first.reserve(n, 0)
    first.add_many(docs[:4_000], 0, bulk=True)
    first.add_many(docs[4_000:], 4_000, bulk=True)
    terms, segments, len_sum = first.export()
    reloaded = Postings(threading.RLock())
    copies = [Segment.of_parts(s.tids.copy(), s.offsets.copy(), s.docs.copy(), s.tfs.copy())
              for s in segments]
    reloaded.install(terms, copies, first.doc_len[:n].copy(), len_sum)
    ok = np.ones(n, dtype=np.bool_)
    work = dict.fromkeys(("every", "words", "blocks"), 0)
    for _ in range(30):
        query = [f"w{j}" for j in rng.integers(0, 80, int(rng.integers(2, 8)))]
        a = _search_all(monkeypatch, first, query, 30, n, ok, n, None, work)
        b = _search_all(monkeypatch, reloaded, query, 30, n, ok, n, None, work)
        _same(a, b)
    avgdl = len_sum / n
    for old, new in zip(segments, copies, strict=True):
        for row in range(0, old.tids.shape[0], 7):
            assert np.array_equal(old.block_factors(row, first.doc_len, avgdl),
                                  new.block_factors(row, reloaded.doc_len, avgdl))
