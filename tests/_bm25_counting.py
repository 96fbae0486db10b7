"""Test helpers for BM25 postings: a segmented index with removals, and a counter of the
postings a search scores (the work pruning saves)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

import voxmem.engine._bm25 as bm25_module
import voxmem.engine._postings as postings_module
from voxmem.engine._postings import Postings


class CountedContributions:
    """Counts the postings whose contributions a search computes, around the real
    function."""

    def __init__(self) -> None:
        self.rows = 0
        self._real = bm25_module.contributions

    def __call__(self, docs: np.ndarray, *args: float | np.ndarray) -> np.ndarray:
        self.rows += int(docs.shape[0])
        return self._real(docs, *args)  # type: ignore[arg-type]


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch, *, prune: bool,
             scatter_share: float | None = None) -> Iterator[CountedContributions]:
    """Score every posting (``prune=False``) or prune; ``scatter_share`` sets how big a
    looked-up word may be to be added whole (None: the shipped rule)."""
    counted = CountedContributions()
    with monkeypatch.context() as m:
        m.setattr(postings_module, "PRUNE_MIN_POSTINGS", 0 if prune else 1 << 62)
        if scatter_share is not None:
            m.setattr(bm25_module, "SCATTER_SHARE", scatter_share)
        m.setattr(bm25_module, "contributions", counted)
        yield counted


def segmented_postings(docs: list[list[str]], rng: np.random.Generator, *, segment: int,
                       segmented: int, room: int, removed: int,
                       bulk: bool) -> tuple[Postings, np.ndarray]:
    """``docs`` indexed as several segments of ``segment`` documents up to ``segmented``,
    then single adds (the head), ``removed`` of them removed at random; ``room`` rows
    reserved past them. Returns the postings and which rows are alive."""
    n = len(docs)
    p = Postings(threading.RLock())
    p.reserve(n + room, 0)
    for lo in range(0, segmented, segment):
        p.add_many(docs[lo:lo + segment], lo, bulk=bulk)
    for i in range(segmented, n):
        p.add(i, docs[i])
    alive = np.ones(n + room, dtype=np.bool_)
    for i in rng.choice(n, removed, replace=False).tolist():
        alive[i] = False
        p.remove(i)
    return p, alive


def plain_bm25(docs: list[list[str]], query: list[str]) -> dict[int, float]:
    """BM25 (k1 1.2, b 0.75) written out plainly: each document's score for ``query``."""
    n = len(docs)
    avg = sum(map(len, docs)) / n
    sets = [set(d) for d in docs]
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
    return scores
