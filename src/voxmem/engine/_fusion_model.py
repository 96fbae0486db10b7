"""The learned fusion model's type, apart from ``_fusion``: ``RankParams`` (``_rank``)
holds one, and ``_fusion`` builds on ``_rank``, so the type lives where both can import
it without an import cycle."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

__all__ = ["FusionModel"]

F64 = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True, slots=True)
class FusionModel:
    """A logistic model over :data:`FEATURES`: ``score = sigmoid(weights · x + bias)``."""

    embedder: str
    weights: F64
    bias: float

    def score(self, features: F64) -> F64:
        """Probability-like scores within (0, 1) for rows of ``features``."""
        z = features @ self.weights + self.bias
        out: F64 = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
        return out
