"""Fusion of keyword and vector rankings, then recency and confidence weighting."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from ._index import HybridIndex, Ranked

__all__ = ["RankParams", "blend", "fuse", "rrf"]

K = TypeVar("K", bound=Hashable)

SECONDS_PER_DAY = 86_400.0


@dataclasses.dataclass(frozen=True, slots=True)
class RankParams:
    rrf_k: int = 5
    recency_weight: float = 0.05
    half_life_days: float = 30.0
    #: Vector hits below this cosine are ignored unless keyword search found them too,
    #: so an unrelated query yields nothing rather than the least-unrelated memories.
    dense_floor: float = 0.3
    keyword_weight: float = 1.0
    dense_weight: float = 0.5


def rrf(keyword: Sequence[K], dense: Sequence[tuple[K, float]],
        params: RankParams) -> dict[K, float]:
    """Reciprocal-rank fusion, normalised so a document first in both lists scores 1.

    ``dense`` pairs carry the cosine: vector-only hits under ``dense_floor`` are dropped.
    """
    fused: dict[K, float] = {}
    for rank, key in enumerate(keyword):
        fused[key] = fused.get(key, 0.0) + params.keyword_weight / (params.rrf_k + rank + 1)
    for rank, (key, cos) in enumerate(dense):
        if cos < params.dense_floor and key not in fused:
            continue
        fused[key] = fused.get(key, 0.0) + params.dense_weight / (params.rrf_k + rank + 1)
    best = (params.keyword_weight + params.dense_weight) / (params.rrf_k + 1)
    return {key: value / best for key, value in fused.items()}


def blend(relevance: npt.NDArray[np.float64], created: npt.NDArray[np.float64], now: float,
          params: RankParams) -> npt.NDArray[np.float64]:
    """Mix relevance with an exponential recency prior (half-life in days)."""
    if params.recency_weight <= 0:
        return relevance
    age_days = np.maximum(now - created, 0.0) / SECONDS_PER_DAY
    recency = np.power(0.5, age_days / params.half_life_days)
    return (1.0 - params.recency_weight) * relevance + params.recency_weight * recency


def fuse(
    index: HybridIndex,
    keyword: Ranked,
    dense: Ranked,
    k: int,
    now: float,
    params: RankParams,
    confidence: dict[int, float] | None = None,
) -> list[tuple[int, float]]:
    """Fuse two rankings of ``index`` positions, reweighted by age and confidence.

    Returns ``(position, score)`` best first, at most ``k``; scores are within ``(0, 1]``.
    """
    fused = rrf(keyword.positions.tolist(),
                list(zip(dense.positions.tolist(), dense.scores.tolist(), strict=True)), params)
    if not fused:
        return []
    positions = np.fromiter(fused.keys(), dtype=np.int64, count=len(fused))
    relevance = np.fromiter(fused.values(), dtype=np.float64, count=len(fused))
    score = blend(relevance, index.created_at(positions), now, params)
    if confidence:
        score = score * np.array([confidence.get(int(p), 1.0) for p in positions])
    order = np.argsort(-score, kind="stable")[:k]
    return [(int(positions[i]), float(score[i])) for i in order]
