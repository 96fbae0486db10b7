"""Learned fusion's per-call columns, several columns per numpy call.

``_fusion.base_rows`` computes 25 feature columns for a query's ~340 candidates. Most
of their cost was per numpy call, not per row (docs/performance.md, the eighth round):
the three call means each sorted the candidates by call and value on their own (~15
calls each). Here they are computed for all their columns at once, over a ``(columns,
rows)`` array: one sort of every column by (call, value), one gather of every column's
best three per call. The values are the same bits as the one-column definition
(``_fusion_few``): the same operations on the same operands, in the same order. (The
neighbour columns are computed the same way by ``_rank.best_neighbours``.)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._fusion_model import CALL_TOP
from ._index import IntArray

__all__ = ["call_means"]

F64 = npt.NDArray[np.float64]

# The sums below add a call's best three values by hand.
assert CALL_TOP == 3


def call_means(slot: IntArray, values: F64) -> tuple[F64, F64]:
    """(per column and candidate: the sum of its call's best ``CALL_TOP`` values /
    ``CALL_TOP``; per candidate: its call's best value of the first column, at least 0).

    ``slot`` numbers the candidates' calls from 0 with none skipped (``_fusion``'s
    slots); ``values`` is ``(columns, candidates)``. The best three are added largest
    first, as ``np.bincount`` added them over the rows sorted by call and value
    (``0 + a + b + c``, where the leading 0 and any missing value add nothing).
    """
    k, n = values.shape
    m = int(slot.max(initial=-1)) + 1
    # Every column sorted by (call, value descending) in one call: lexsort sorts each
    # row of its keys along the last axis, stable, so equal values keep their row order
    # as the one-column lexsort did.
    # (np.broadcast_to is a Python function of ~10 us; repeat is one C call.)
    order = np.lexsort((-values, slot[None].repeat(k, axis=0)))
    ranked = values.ravel()[order + (np.arange(k) * n)[:, None]]
    counts = np.bincount(slot, minlength=m)
    starts = np.cumsum(counts) - counts
    # Where a call has fewer than three candidates the index points into the next call
    # (or is clipped at the end); those values are replaced by 0.
    second = np.minimum(starts + 1, n - 1)
    third = np.minimum(starts + 2, n - 1)
    best = ranked[:, starts]
    sums = (best + np.where(counts > 1, ranked[:, second], 0.0)
            + np.where(counts > 2, ranked[:, third], 0.0))
    means: F64 = sums[:, slot] / CALL_TOP
    top: F64 = np.maximum(best[0], 0.0)[slot]
    return means, top

