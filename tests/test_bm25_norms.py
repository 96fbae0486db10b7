"""BM25 length norms kept per index between writes (``Postings._norms``): a search with
the kept norms answers exactly what one computing each posting's norm answers (same
positions, bit-identical scores) on every path (pruned, exhaustive, filtered to
members), and a write, even one that leaves the average length as it was, is never
answered from norms computed before it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import voxmem.engine._postings as postings_module
from tests._bm25_counting import segmented_postings
from voxmem.engine._index import Ranked
from voxmem.engine._postings import Postings


def _same(a: Ranked, b: Ranked) -> None:
    assert a.positions.tolist() == b.positions.tolist()
    assert a.scores.tobytes() == b.scores.tobytes()


def _search(p: Postings, terms: list[str], n: int, alive: np.ndarray,
            members: np.ndarray | None = None) -> Ranked:
    live = int(alive[:n].sum())
    ok = alive[:n] if members is None else alive[members]
    removed = None if bool(alive[:n].all()) else alive
    return p.search(terms, 10, n, members, ok, live, removed)


def _fresh(p: Postings, terms: list[str], n: int, alive: np.ndarray,
           members: np.ndarray | None = None) -> Ranked:
    """The same search with no norms kept (computed per posting)."""
    p._norm_cache, p._norm_seen = None, -1
    got = _search(p, terms, n, alive, members)
    p._norm_cache, p._norm_seen = None, -1
    return got


def test_kept_norms_rank_as_computed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(60)]
    docs = [list(rng.choice(words, int(rng.integers(2, 40)))) for _ in range(3_000)]
    p, alive = segmented_postings(docs, rng, segment=500, segmented=2_500, room=100,
                                  removed=40, bulk=True)
    n = len(docs)
    members = np.flatnonzero(rng.random(n) < 0.3)
    queries = [list(rng.choice(words, int(rng.integers(1, 6)))) for _ in range(60)]
    for prune in (True, False):
        monkeypatch.setattr(postings_module, "PRUNE_MIN_POSTINGS", 0 if prune else 1 << 62)
        for terms in queries:
            expected = _fresh(p, terms, n, alive)
            for _ in range(3):  # the second search keeps the norms, the third uses them
                _same(_search(p, terms, n, alive), expected)
            assert p._norm_cache is not None
            _same(_search(p, terms, n, alive, members), _fresh(p, terms, n, alive, members))


def test_a_write_that_keeps_the_average_length_is_not_answered_from_old_norms() -> None:
    # Every document 4 words long: adding a fifth of 4 words leaves the average at 4, so
    # only the write itself says the kept norms lack the new position.
    p = Postings(threading.RLock())
    p.reserve(16, 0)
    docs = [["a", "b", "c", "d"], ["a", "e", "f", "g"], ["b", "c", "h", "i"], ["a", "a", "j", "k"]]
    p.add_many(docs, 0, bulk=True)
    alive = np.ones(16, dtype=np.bool_)
    for _ in range(3):
        _search(p, ["a"], 4, alive)
    assert p._norm_cache is not None
    p.add(4, ["a", "l", "m", "n"])
    for _ in range(3):
        _same(_search(p, ["a"], 5, alive), _fresh(p, ["a"], 5, alive))
    # And a removal (the average moves, the lengths array does not).
    p.remove(1)
    alive[1] = False
    for _ in range(3):
        _same(_search(p, ["a", "b"], 5, alive), _fresh(p, ["a", "b"], 5, alive))
