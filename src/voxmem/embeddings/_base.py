"""The embedder protocol every embedding model implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "Vectors", "normalize_rows"]

#: A float32 matrix, one L2-normalised row per input text.
Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    Attributes:
        name: identifies the model and its version; stored next to every vector so a
            model change is detected and old vectors are re-embedded.
        dimensions: length of each vector.
        cheap: True when embedding one short query costs well under a millisecond, so the
            engine may run it on the event loop instead of a worker thread.
    """

    name: str
    dimensions: int
    cheap: bool

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; returns shape ``(len(texts), dimensions)``, rows unit length."""
        ...


def normalize_rows(matrix: npt.NDArray[np.floating]) -> Vectors:
    """Scale each row to unit length; all-zero rows stay zero."""
    m = np.asarray(matrix, dtype=np.float32)
    # What ``np.linalg.norm(m, axis=1, keepdims=True)`` computes for a real matrix (its
    # own fast path: the square root of the row sums of ``m * m``), without its Python
    # checks: the same ufunc calls, so the same bits. Every search's query vector comes
    # through here on the event loop.
    norms = np.sqrt(np.add.reduce(m * m, axis=1, keepdims=True))
    norms[norms == 0] = 1.0
    out: Vectors = (m / norms).astype(np.float32, copy=False)
    return out
