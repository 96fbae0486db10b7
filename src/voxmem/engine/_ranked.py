"""What an index search returns: positions best first with their scores, and top-k.

Shared by the index's parts (postings, vectors) and by the lanes that fuse their
results, so none of them has to import another to rank.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["BoolArray", "FloatArray", "IntArray", "Ranked", "distinct", "grow", "top",
           "top_of"]

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
S = TypeVar("S", bound=np.generic)


@dataclasses.dataclass(frozen=True, slots=True)
class Ranked:
    """Positions into the index, best first, with their scores."""

    positions: IntArray
    scores: FloatArray

    @classmethod
    def empty(cls) -> Ranked:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))

    def __len__(self) -> int:
        return int(self.positions.shape[0])


#: Up to this many pairs :func:`top_of` sorts them all.
SORT_ALL_MAX = 1_024


def top_of(positions: IntArray, scores: npt.NDArray[np.floating], k: int) -> Ranked:
    """Top ``k`` of (positions, scores) pairs, best first; equal scores keep their
    order in the input (ascending positions, for a caller that passes them so).

    Deterministic on ties, also at the cut: ``argpartition`` picked among equal scores
    at the k-th place arbitrarily, so two exact searches (the pruned and the exhaustive
    BM25, ``_bm25.py``) could answer different documents of the same score.
    """
    m = positions.shape[0]
    if not m or k <= 0:
        return Ranked.empty()
    if m <= SORT_ALL_MAX:
        # Few: one stable sort is cheaper than partitioning and checking the cut.
        order = np.argsort(-scores, kind="stable")[:k]
        return Ranked(positions[order].astype(np.int64), scores[order].astype(np.float32))
    if m > k:
        # The k-th best score by partitioning the values, then the positions at or above
        # it in input order: ``argpartition`` and a sort of its k picks cost twice as
        # much (10,000 vector scores: ~90 against ~40 us) for the same set.
        kth = np.partition(scores, m - k)[m - k]
        at_least = scores >= kth
        if np.count_nonzero(at_least) > k:
            # Ties at the cut (rare but for duplicates): the first in input order fill
            # the k.
            above = scores > kth
            tied = scores == kth
            part = np.flatnonzero(
                above | (tied & (np.cumsum(tied) <= k - int(np.count_nonzero(above)))))
        else:
            part = np.flatnonzero(at_least)  # input order, for the stable sort below
        positions, scores = positions[part], scores[part]
    order = np.argsort(-scores, kind="stable")
    return Ranked(positions[order].astype(np.int64), scores[order].astype(np.float32))


def top(scores: npt.NDArray[np.floating], valid: BoolArray, k: int) -> Ranked:
    """Top ``k`` positions of ``scores`` among those ``valid`` marks, best first."""
    candidates = np.flatnonzero(valid)
    if not len(candidates) or k <= 0:
        return Ranked.empty()
    return top_of(candidates, scores[candidates], k)


def distinct(values: npt.NDArray[S]) -> npt.NDArray[S]:
    """The distinct ``values``, ascending: ``np.unique(values)`` by sorting.

    numpy 2's ``unique`` hashes, which measured 5-25x slower than sorting for the few
    hundred to few thousand positions a query handles.
    """
    out = np.sort(values)
    if out.shape[0] < 2:
        return out
    keep = np.empty(out.shape[0], dtype=np.bool_)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    kept: npt.NDArray[S] = out[keep]
    return kept


def grow(arr: Any, capacity: int, used: int) -> Any:
    """``arr`` reallocated to ``capacity`` rows, keeping its first ``used`` rows."""
    grown = np.empty((capacity, *arr.shape[1:]), dtype=arr.dtype)
    grown[:used] = arr[:used]
    return grown
