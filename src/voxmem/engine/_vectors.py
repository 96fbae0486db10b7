"""Dense vectors of an in-memory index: an exact matrix, or an approximate index.

A caller's memory (thousands of rows) is searched exactly over a float16 matrix kept
in position order (see :data:`MATRIX_DTYPE`). A project's org knowledge (up to millions
of chunks) keeps no matrix here and hands its vectors to the approximate index
(``_org_vectors.py``). Either way, a document may have no vector yet (it is embedded
after it is indexed), which :attr:`VectorStore.has` records per position.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numkong
import numpy as np
import numpy.typing as npt

from ._org_vectors import OrgVectors, Proposal
from ._ranked import BoolArray, FloatArray, IntArray, Ranked, grow, top, top_of

__all__ = ["MATRIX_DTYPE", "VectorStore", "cosines"]

#: How an exact matrix stores its vectors. Half the bytes of float32 (a caller with
#: 10,000 memories at 256 dimensions: 5 MB instead of 10), and the scan reads half as
#: much memory: 0.23 ms instead of 0.40 for 10,000 x 256 on this project's 2-core test
#: machines (numkong's SIMD half-precision kernel). A cosine moves by < 1e-4 against
#: float32 (measured on unit vectors); the org lane's graph stores float16 too.
MATRIX_DTYPE = np.float16
F64 = npt.NDArray[np.float64]


def cosines(vectors: npt.NDArray[np.float16], query: FloatArray) -> F64:
    """``vectors @ query`` for a float16 matrix, on the calling thread.

    Not through BLAS: a multi-threaded BLAS splits a 10k x 256 product across cores and
    then waits for its helper thread; on a busy host that wait is the p95 (measured
    8-12 ms against 0.4 ms). numkong's kernel runs on the calling thread; numpy has no
    fast float16 product at all (einsum over float16 measured 20x slower), and numkong
    is slower than einsum on float32.
    """
    if not vectors.shape[0]:
        return np.zeros(0)
    out = numkong.cdist(query.astype(vectors.dtype)[None, :], vectors, metric="dot")
    scores: F64 = np.asarray(out).reshape(-1)
    return scores


class VectorStore:
    """The vector of each position (if it has one), searchable by cosine similarity.

    Called with the owning index's lock held; the approximate index shares that lock.
    """

    def __init__(self, dimensions: int, lock: threading.RLock, *, ann: bool,
                 scratch_dir: Path | None = None) -> None:
        self.dimensions = dimensions
        #: With ``ann``, vectors live in an approximate index (not in ``_matrix``), and
        #: their exact copies in a file in ``scratch_dir`` (or the system's temp dir).
        self.ann: OrgVectors | None = (OrgVectors(dimensions, lock, scratch_dir=scratch_dir)
                                       if ann else None)
        self._matrix: npt.NDArray[np.float16] = np.zeros((0 if ann else 64, dimensions),
                                                         dtype=MATRIX_DTYPE)
        self.has: BoolArray = np.zeros(64, dtype=np.bool_)

    def reserve(self, capacity: int, used: int) -> None:
        if capacity > self.has.shape[0]:
            self.has = grow(self.has, capacity, used)
        if self.ann is None and capacity > self._matrix.shape[0]:
            self._matrix = grow(self._matrix, capacity, used)

    def add_rows(self, start: int, count: int,
                 vectors: Sequence[FloatArray | None] | None) -> None:
        """New rows ``start .. start + count - 1``, with ``vectors`` where given."""
        if vectors is None:
            self.has[start:start + count] = False
            return
        have = np.fromiter((v is not None for v in vectors), dtype=np.bool_, count=count)
        rows = np.flatnonzero(have)
        present = [vec for vec in vectors if vec is not None]
        if present and self.ann is not None:
            self.ann.add(rows + start, np.stack(present))
        elif present:
            self._matrix[rows + start] = np.stack(present)
        self.has[start:start + count] = have

    def set(self, pos: int, vector: FloatArray) -> None:
        """Give ``pos`` its vector (replacing one it had)."""
        if self.ann is not None:
            if self.has[pos]:
                self.ann.remove(pos)
            self.ann.add(np.array([pos], dtype=np.int64), vector[None, :])
        else:
            self._matrix[pos] = vector
        self.has[pos] = True

    def remove(self, pos: int) -> None:
        """Drop a removed document's vector from the approximate index."""
        if self.ann is not None and self.has[pos]:
            self.ann.remove(pos)

    def restore(self, raw: memoryview | bytes, center: FloatArray, keys: IntArray,
                positions: IntArray, *, view: bool = False) -> IntArray:
        """Install a saved approximate index (see ``OrgVectors.restore``); returns the
        positions that got a vector."""
        assert self.ann is not None
        self.ann.restore(raw, center, keys, positions, view=view)
        got = positions[positions >= 0]
        self.has[got] = True
        return got

    def vector_at(self, pos: int) -> FloatArray | None:
        if not self.has[pos]:
            return None
        if self.ann is not None:
            return self.ann.vector_at(pos)
        vec: FloatArray = self._matrix[pos].astype(np.float32)
        return vec

    def vectors_at(self, positions: IntArray) -> FloatArray:
        """The vectors at ``positions`` (zero rows where a document has none yet)."""
        # Gather and widen, then zero the few rows without a vector: a masked copy of
        # every row first cost a third more (~90 us of a caller search's ~340 rows).
        rows: FloatArray = np.empty((positions.shape[0], self.dimensions), dtype=np.float32)
        # Widened by numkong's SIMD kernel: numpy converts float16 element by element
        # (340 x 256: 146 us against 17 us here). Widening is exact, so the values are
        # the same either way.
        numkong.astype(self._matrix[positions], "float32", out=rows)
        rows[~self.has[positions]] = 0.0
        return rows

    def cost(self, n: int) -> int:
        """Rows a search over ``n`` positions would score."""
        return n if self.ann is None else self.ann.cost()

    def search(self, query: FloatArray, k: int, n: int, members: IntArray | None,
               ok: BoolArray, proposal: Proposal | None = None) -> Ranked:
        """Top ``k`` by cosine to the unit vector ``query`` under a resolved filter
        (``proposal``: the approximate index's walk for it, made before the lock)."""
        has = self.has
        if self.ann is not None:
            if members is not None:
                allowed = np.zeros(n, dtype=np.bool_)
                allowed[members[ok]] = True
            else:
                allowed = ok
            # Rows are added before their vectors, so every position the ANN holds is < n.
            positions, scores = self.ann.search(query, k, allowed.__getitem__, proposal)
            return top_of(positions, scores, k)
        if members is not None:
            keep = members[ok & has[members]]
            if not keep.shape[0]:
                return Ranked.empty()
            return top_of(keep, cosines(self._matrix[keep], query), k)
        return top(cosines(self._matrix[:n], query), ok & has[:n], k)
