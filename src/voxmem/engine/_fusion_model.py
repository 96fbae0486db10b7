"""The learned fusion model's type, apart from ``_fusion``: ``RankParams`` (``_rank``)
holds one, and ``_fusion`` builds on ``_rank``, so the type lives where both can import
it without an import cycle. So do the feature constants and the feature rows before the
topic features, which ``_fusion`` and its few-candidate path (``_fusion_few``) share."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

__all__ = ["CALL_TOP", "LENGTH_CAP", "RANK_OFFSET", "BaseRows", "FusionModel"]

F64 = npt.NDArray[np.float64]

#: Reciprocal-rank offset of the rank features (the same as the hand-set ``rrf_k``).
RANK_OFFSET = 5
#: The call features average a call's best this many values.
CALL_TOP = 3
#: A turn this long (indexed words) or longer counts as fully informative for ``length``:
#: "Thanks, see you!" rarely answers a question, while BM25's length normalisation
#: favours short turns that share a word with the query.
LENGTH_CAP = 30.0


@dataclasses.dataclass(frozen=True, slots=True)
class BaseRows:
    """A query's candidates with every feature column but the topic features (0 there),
    and what those need: the candidates' vectors and the speaker names the query says."""

    positions: npt.NDArray[np.int64]
    features: F64
    created: F64
    is_fact: npt.NDArray[np.bool_]
    vectors: npt.NDArray[np.float32]
    names: frozenset[str]


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
