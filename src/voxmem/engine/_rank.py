"""Fusion of keyword and vector rankings, then recency and confidence weighting."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._index import HybridIndex, Ranked

__all__ = ["RankParams", "fuse"]

SECONDS_PER_DAY = 86_400.0


@dataclasses.dataclass(frozen=True, slots=True)
class RankParams:
    rrf_k: int = 10
    recency_weight: float = 0.05
    half_life_days: float = 30.0
    #: Vector hits below this cosine are ignored unless keyword search found them too,
    #: so an unrelated query yields nothing rather than the least-unrelated memories.
    dense_floor: float = 0.3
    keyword_weight: float = 1.0
    dense_weight: float = 0.5


def fuse(
    index: HybridIndex,
    keyword: Ranked,
    dense: Ranked,
    k: int,
    now: float,
    params: RankParams,
    confidence: dict[int, float] | None = None,
) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of two rankings, reweighted by age and confidence.

    Returns ``(position, score)`` best first, at most ``k``. The score is in ``(0, 1]``:
    fused relevance normalised by the best possible fused score, blended with recency.
    """
    fused: dict[int, float] = {}
    for rank, pos in enumerate(keyword.positions.tolist()):
        fused[pos] = fused.get(pos, 0.0) + params.keyword_weight / (params.rrf_k + rank + 1)
    for rank, (pos, cos) in enumerate(zip(dense.positions.tolist(), dense.scores.tolist(),
                                          strict=True)):
        if cos < params.dense_floor and pos not in fused:
            continue
        fused[pos] = fused.get(pos, 0.0) + params.dense_weight / (params.rrf_k + rank + 1)
    if not fused:
        return []
    positions = np.fromiter(fused.keys(), dtype=np.int64, count=len(fused))
    relevance = np.fromiter(fused.values(), dtype=np.float64, count=len(fused))
    relevance /= (params.keyword_weight + params.dense_weight) / (params.rrf_k + 1)
    if params.recency_weight > 0:
        age_days = np.maximum(now - index.created_at(positions), 0.0) / SECONDS_PER_DAY
        recency = np.power(0.5, age_days / params.half_life_days)
        score = (1.0 - params.recency_weight) * relevance + params.recency_weight * recency
    else:
        score = relevance
    if confidence:
        score *= np.array([confidence.get(int(p), 1.0) for p in positions])
    order = np.argsort(-score, kind="stable")[:k]
    return [(int(positions[i]), float(score[i])) for i in order]
