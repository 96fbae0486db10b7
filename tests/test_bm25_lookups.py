"""The pruned BM25 top k's looked-up words (``engine/_bm25.py``): added to the candidates
by a binary search each, or whole through the scratch array, with the threshold raised
from the candidates after each word. Whichever way, the answer is exactly what scoring
every posting gives (same positions, bit-identical scores) and what BM25 written out
plainly gives: with segments, head postings, removals, filters, a growing average
length, and a persisted index reloaded."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

import voxmem.engine._bm25 as bm25_module
import voxmem.engine._postings as postings_module
from tests._bm25_counting import (
    CountedContributions,
    counting,
    plain_bm25,
    segmented_postings,
)
from voxmem.engine._index import Ranked
from voxmem.engine._postings import Postings, Segment

#: SCATTER_SHARE per mode: "search" looks every word up by binary search, "whole" adds
#: every looked-up word through the scratch array, "default" chooses by size.
_SHARES = {"search": 0.0, "default": bm25_module.SCATTER_SHARE, "whole": 1e12}


@contextmanager
def _mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> Iterator[CountedContributions]:
    """``every``: score every posting; otherwise pruned, looked-up words as ``_SHARES``."""
    with counting(monkeypatch, prune=mode != "every",
                  scatter_share=None if mode == "every" else _SHARES[mode]) as counted:
        yield counted


def _same(a: Ranked, b: Ranked) -> None:
    assert a.positions.tolist() == b.positions.tolist()
    assert a.scores.tobytes() == b.scores.tobytes()


def _corpus(rng: np.random.Generator, n: int, vocabulary: int) -> list[list[str]]:
    """Zipf-like words, short and long chunks, a few high term frequencies and exact
    duplicates (equal scores, decided by position)."""
    weights = 1.0 / np.arange(1, vocabulary + 1) ** 1.05
    weights /= weights.sum()
    docs = []
    for _ in range(n):
        size = int(rng.integers(40, 90)) if rng.random() < 0.6 else int(rng.integers(2, 12))
        words = [f"w{j}" for j in rng.choice(vocabulary, size, p=weights)]
        if rng.random() < 0.02:
            words += words[:3] * 3
        docs.append(words)
    for i in range(0, n, 11):
        docs[i] = list(docs[(i * 37) % n])
    return docs


_MODES = ("every", "search", "default", "whole")


def _search_all(monkeypatch: pytest.MonkeyPatch, p: Postings, query: list[str], k: int,
                rows: int, ok: np.ndarray, live: int, alive: np.ndarray | None,
                work: dict[str, int]) -> Ranked:
    got: dict[str, Ranked] = {}
    for mode in _MODES:
        with _mode(monkeypatch, mode) as counted:
            got[mode] = p.search(query, k, rows, None, ok, live, alive)
        work[mode] += counted.rows
    for mode in _MODES[1:]:
        _same(got[mode], got["every"])
    return got["default"]


def test_every_way_of_looking_up_equals_scoring_every_posting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postings_module, "HEAD_POSTINGS", 1_000_000)
    rng = np.random.default_rng(7)
    n = 14_000
    docs = _corpus(rng, n, 600)
    p, alive = segmented_postings(docs, rng, segment=4_000, segmented=12_000, room=1_500,
                                  removed=400, bulk=True)
    work = dict.fromkeys(_MODES, 0)
    for round_ in range(2):
        rows = n + 1_500 * round_
        ok = alive[:rows]
        live = int(ok.sum())
        for _ in range(40):
            query = [f"w{j}" for j in rng.integers(0, 150, int(rng.integers(2, 9)))]
            for k in (1, 10, 80):
                got = _search_all(monkeypatch, p, query, k, rows, ok, live, ok, work)
                assert len(got) > 0 and alive[got.positions].all()
        # Longer chunks move the average length past the one the kept bounds were
        # computed at (they are scaled, not recomputed).
        for i in range(n, n + 1_500):
            p.add(i, docs[i - n] * 6)
    # Both ways of looking up were taken: adding words whole computes more postings
    # than binary searches, and the size rule sits between the two.
    assert work["search"] < work["default"] < work["whole"] <= work["every"], work


def test_looked_up_words_under_a_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    n = 8_000
    docs = _corpus(rng, n, 400)
    p = Postings(threading.RLock())
    p.reserve(n, 0)
    p.add_many(docs, 0, bulk=True)
    allowed = rng.random(n) < 0.4
    work = dict.fromkeys(_MODES, 0)
    for _ in range(40):
        query = [f"w{j}" for j in rng.integers(0, 100, int(rng.integers(2, 8)))]
        got = _search_all(monkeypatch, p, query, 20, n, allowed, n, None, work)
        assert allowed[got.positions].all()


@pytest.mark.parametrize("mode", ["search", "whole"])
def test_pruned_search_ranks_as_bm25_written_out_plainly(monkeypatch: pytest.MonkeyPatch,
                                                         mode: str) -> None:
    rng = np.random.default_rng(21)
    n = 4_000
    docs = _corpus(rng, n, 300)
    p = Postings(threading.RLock())
    p.reserve(n, 0)
    p.add_many(docs, 0, bulk=True)
    ok = np.ones(n, dtype=np.bool_)
    for _ in range(25):
        query = list(dict.fromkeys(f"w{j}" for j in rng.integers(0, 60, 5)))
        scores = plain_bm25(docs, query)
        expected = sorted(scores, key=lambda i: (-round(scores[i], 6), i))[:40]
        with _mode(monkeypatch, mode):
            got = p.search(query, 40, n, None, ok, n, None)
        assert got.positions.tolist() == expected
        assert got.scores.tolist() == pytest.approx([scores[i] for i in expected], rel=1e-6)


def test_the_threshold_raised_from_candidates_is_reached_exactly() -> None:
    values = np.array([5.0, 1.0, 9.0, 7.0, 7.0, 3.0])
    assert bm25_module._raised(0.0, values, 3) == 7.0
    assert bm25_module._raised(6.0, values, 3) == 7.0  # three values above 6: 9, 7, 7
    assert bm25_module._raised(7.0, values, 3) == 7.0  # only one above: kept
    assert bm25_module._raised(8.0, values, 2) == 8.0
    assert bm25_module._raised(2.0, values[:2], 3) == 2.0  # fewer than k values


def test_a_reloaded_index_answers_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments read back from their arrays (as from the rows file) compute their bounds
    again on their first search and answer as the index that wrote them."""
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
    work = dict.fromkeys(_MODES, 0)
    for _ in range(30):
        query = [f"w{j}" for j in rng.integers(0, 80, int(rng.integers(2, 8)))]
        a = _search_all(monkeypatch, first, query, 30, n, ok, n, None, work)
        b = _search_all(monkeypatch, reloaded, query, 30, n, ok, n, None, work)
        _same(a, b)


def test_a_word_added_whole_after_one_searched_for_keeps_the_searched_sums(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A large looked-up word binary-searched for the candidates, then a small one added
    whole through the scratch array: the sums the first added (held outside the array)
    must survive the second."""
    rng = np.random.default_rng(3)
    n = 20_000
    doc_len = np.full(n, 30.0, dtype=np.float32)
    ok = np.ones(n, dtype=np.bool_)

    def term(docs: np.ndarray, tfs: np.ndarray) -> bm25_module.TermPostings:
        docs, tfs = docs.astype(np.int32), tfs.astype(np.float32)
        idf = math.log(1.0 + (n - docs.shape[0] + 0.5) / (docs.shape[0] + 0.5))
        out = bm25_module.TermPostings([(docs, tfs)], idf, int(docs.shape[0]))
        out.bound = bm25_module.term_bound(
            idf, bm25_module.factor_bound(tfs, doc_len[docs], 30.0))
        return out

    top = np.arange(2_000)
    a = term(top, rng.integers(4, 7, 2_000))
    b = term(top, rng.integers(3, 6, 2_000))
    big = term(np.sort(rng.choice(n, 9_000, replace=False)), rng.integers(1, 20, 9_000))
    small = term(np.sort(rng.choice(n, 1_000, replace=False)), np.ones(1_000))
    # Bounds only need to be upper bounds: this one is raised so the large word is
    # looked up first (binary search: more than SCATTER_SHARE postings per candidate)
    # and the small one second (added whole).
    big.bound = max(big.bound, small.bound + 1.0)
    assert a.bound > big.bound and b.bound > big.bound
    searched = []
    real_add_at = bm25_module._add_at

    def add_at(scores: np.ndarray, candidates: np.ndarray, *args: object) -> None:
        searched.append(candidates.shape[0])
        real_add_at(scores, candidates, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(bm25_module, "_add_at", add_at)
    terms = [a, b, big, small]
    scratch = np.zeros(n, dtype=np.float64)
    for k in (10, 200, 1_500):
        pruned = bm25_module.top_k(terms, k, ok, doc_len, 30.0, scratch, True)
        full = bm25_module.exhaustive(terms, k, ok, doc_len, 30.0, scratch)
        _same(pruned, full)
        assert not scratch.any()
    assert searched  # the large word was searched for, the small one (below) not
    assert all(big.size > bm25_module.SCATTER_SHARE * c for c in searched)
    assert small.size <= bm25_module.SCATTER_SHARE * min(searched)
