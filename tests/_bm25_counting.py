"""Test helper: count the postings a BM25 search scores (the work pruning saves)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

import voxmem.engine._bm25 as bm25_module
import voxmem.engine._postings as postings_module


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
