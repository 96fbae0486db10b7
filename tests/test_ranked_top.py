"""``_ranked.top_of`` past ``SORT_ALL_MAX`` (partitioned, not sorted whole) answers what
one stable sort of every pair answers: the best ``k``, ties in input order, also at the
cut, for float32 and float64 scores."""

from __future__ import annotations

import numpy as np
import pytest

from voxmem.engine._ranked import SORT_ALL_MAX, top_of


def _plain(positions: np.ndarray, scores: np.ndarray, k: int) -> tuple[list[int], bytes]:
    order = np.argsort(-scores, kind="stable")[:k]
    return positions[order].tolist(), scores[order].astype(np.float32).tobytes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_partitioned_top_equals_a_stable_sort(dtype: type) -> None:
    rng = np.random.default_rng(3)
    for trial in range(400):
        m = int(rng.integers(SORT_ALL_MAX + 1, 6 * SORT_ALL_MAX))
        k = int(rng.integers(1, 150))
        scores = rng.random(m)
        if trial % 2:
            scores = np.round(scores, 2)  # many ties, at the cut too
        scores = scores.astype(dtype)
        positions = np.sort(rng.choice(10 * m, m, replace=False)).astype(np.int64)
        got = top_of(positions, scores, k)
        assert (got.positions.tolist(), got.scores.tobytes()) == _plain(positions, scores, k)
