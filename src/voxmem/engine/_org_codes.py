"""The int8 codes the org vector graph holds (``_org_vectors.py``).

Centring: sentence embeddings share a large common direction (the bundled model's
chunks have cosine ~0.8 to their mean), and HNSW over such vectors misses a third of
the true neighbours (measured recall@10 0.6-0.8). The graph therefore holds each vector
minus a fixed centre ``m`` and is searched by inner product: ``q.x = q.(x - m) + q.m``,
and ``q.m`` is the same for every chunk, so the ranking is exactly cosine's and the
score is restored by adding it back. Any fixed ``m`` keeps that exact; the mean of the
first vectors indexed makes the graph work well, and it is saved with the graph.

Quantisation: the centred vectors go into the graph as int8 codes ``round(s (x - m))``
with one scale ``s`` for every component, set once from the first vectors so that
their largest components (the 99.99th percentile) just fit in [-127, 127]; the query is
coded with a scale of its own (its largest component at 127). One global scale keeps
the graph's geometry (inner products are only multiplied by a constant) and the query's
own scale changes no ranking. The codes are quantised here, not by usearch: its int8
conversion normalises every vector, which would undo the centring (that measured recall
0.44). int8 halves the graph's vectors against float16 (384 MB less at a million chunks)
for the same strict recall after rescoring (docs/performance.md); the scale is saved
with the graph.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["ANN_DTYPE", "CENTER_SAMPLE", "CODE_MAX", "code_scale", "encode", "encode_query"]

FloatArray = npt.NDArray[np.float32]

#: Vectors the centre is averaged over (the first ones indexed).
CENTER_SAMPLE = 10_000
#: Storage type of the vectors inside the graph: int8 codes made here (module doc).
ANN_DTYPE = "i8"
#: The int8 code's full range, and the share of the first vectors' centred components
#: that fit in it without clipping (the rest are clipped: rescoring fixes their scores).
CODE_MAX = 127
CODE_FIT_QUANTILE = 0.9999


def code_scale(centred: FloatArray) -> float:
    """The int8 codes' scale for vectors like ``centred`` (see the module doc)."""
    if not centred.size:
        return 1.0
    fit = float(np.quantile(np.abs(centred), CODE_FIT_QUANTILE))
    return CODE_MAX / fit if fit > 0 else 1.0


def encode(centred: FloatArray, scale: float) -> npt.NDArray[np.int8]:
    """int8 codes of centred vectors (clipped to the code's range)."""
    codes: npt.NDArray[np.int8] = np.clip(np.rint(centred * scale), -CODE_MAX,
                                          CODE_MAX).astype(np.int8)
    return codes


def encode_query(query: FloatArray) -> npt.NDArray[np.int8]:
    """int8 code of a query, its largest component at the code's end (one positive
    factor on every score: the ranking is the vector's)."""
    peak = float(np.abs(query).max()) if query.size else 0.0
    return encode(query, CODE_MAX / peak if peak > 0 else 1.0)
