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
from concurrent.futures import Future
from pathlib import Path

import numkong
import numpy as np
import numpy.typing as npt

from ._org_vectors import OrgVectors, Proposal
from ._ranked import BoolArray, FloatArray, IntArray, Ranked, grow, top, top_of

__all__ = ["MATRIX_DTYPE", "SCAN_BLOCK_ROWS", "Scan", "VectorStore", "cosines"]

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


#: A :class:`Scan` scores its rows in blocks of this many (~50-100 us each at 384
#: dimensions), so the search can take over the blocks a lane thread has not done.
SCAN_BLOCK_ROWS = 1_024


class Scan:
    """The cosines of an exact matrix's rows to one query, computed ahead of the search
    that ranks them (:meth:`VectorStore.start_scan`).

    The scan is numkong's kernel, which releases the GIL: a lane thread computes it
    (:meth:`run`, ``LaneRunner.start_scan``) while the event loop does the search's
    other work, and :meth:`VectorStore.search` takes the result (:meth:`scores`). The
    search never waits for the thread: the thread scores the rows in blocks from the
    first on, and the search scores every row past the thread's last finished block
    itself, in one call, so on a busy machine, where the thread may not get a core in
    time, a search costs what an inline scan costs. A row both score has the same value
    either way (numkong scores each row on its own).

    The rows are read without the index's lock, so the scores are used only when no
    vector was written since the scan began (:attr:`version`); else the search scans
    again, so an answer is always the one an inline scan gives at search time.
    """

    __slots__ = ("_done", "_lock", "_scores", "_taken_from", "future", "n", "query",
                 "rows", "store", "version")

    def __init__(self, store: VectorStore, rows: npt.NDArray[np.float16], query: FloatArray,
                 version: int) -> None:
        self.store = store
        self.rows = rows
        self.n = rows.shape[0]
        self.query = query
        self.version = version
        #: the lane thread's run of :meth:`run` (None: not handed to a thread)
        self.future: Future[None] | None = None
        # The thread's finished blocks, in order, and the first block the search scores
        # itself (None: not taken over yet); both under the lock.
        self._lock = threading.Lock()
        self._done: list[F64] = []
        self._taken_from: int | None = None
        self._scores: F64 | None = None

    def run(self) -> None:
        """Score the rows block by block, until the search takes over (:meth:`scores`)."""
        for start in range(0, self.n, SCAN_BLOCK_ROWS):
            if self._taken_from is not None:
                return
            block = cosines(self.rows[start:start + SCAN_BLOCK_ROWS], self.query)
            with self._lock:
                if self._taken_from is not None:
                    return  # the search took over meanwhile, and scored this block too
                self._done.append(block)

    def scores(self) -> F64:
        """Every row's score: the thread's finished blocks, and the rest scored here."""
        if self._scores is not None:
            return self._scores
        if self.future is not None:
            self.future.cancel()  # not started yet: no thread will start it now
        with self._lock:
            self._taken_from = len(self._done)
            blocks = list(self._done)
        start = len(blocks) * SCAN_BLOCK_ROWS
        if start < self.n:
            # One call for the rest (a block the thread is scoring now is scored again).
            blocks.append(cosines(self.rows[start:], self.query))
        self._scores = (blocks[0] if len(blocks) == 1
                        else np.concatenate(blocks) if blocks else np.zeros(0))
        return self._scores

    def finished(self) -> F64 | None:
        """Every row's score if they are all scored already, else None (no work)."""
        if self._scores is None:
            with self._lock:
                if len(self._done) * SCAN_BLOCK_ROWS < self.n:
                    return None
        return self.scores()

    def cancel(self) -> None:
        """Drop the scan (its search did not use it): a thread that has not started it
        never will, and one scoring it stops at its next block."""
        if self.future is not None:
            self.future.cancel()
        with self._lock:
            if self._taken_from is None:
                self._taken_from = len(self._done)


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
        #: Counts the exact matrix's writes: a :class:`Scan` begun before one is stale.
        self.version = 0

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
            self.version += 1
        self.has[start:start + count] = have

    def set(self, pos: int, vector: FloatArray) -> None:
        """Give ``pos`` its vector (replacing one it had)."""
        if self.ann is not None:
            if self.has[pos]:
                self.ann.remove(pos)
            self.ann.add(np.array([pos], dtype=np.int64), vector[None, :])
        else:
            self._matrix[pos] = vector
            self.version += 1
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

    def start_scan(self, query: FloatArray, n: int) -> Scan | None:
        """A :class:`Scan` of the first ``n`` rows for ``query`` (called with the lock
        held); None for an approximate index, which has no matrix to scan."""
        if self.ann is not None:
            return None
        return Scan(self, self._matrix[:n], query, self.version)

    def search(self, query: FloatArray, k: int, n: int, members: IntArray | None,
               ok: BoolArray, proposal: Proposal | None = None,
               scan: Scan | None = None) -> Ranked:
        """Top ``k`` by cosine to the unit vector ``query`` under a resolved filter
        (``proposal``: the approximate index's walk for it, made before the lock;
        ``scan``: this matrix's rows already scored for ``query``, see :class:`Scan`)."""
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
        # A row's cosine is the same scanned alone or among all rows (numkong scores
        # each row on its own), so the scan's scores rank exactly as a scan here would.
        usable = (scan is not None and scan.store is self and scan.version == self.version
                  and scan.n == n and scan.query is query)
        if members is not None:
            keep = members[ok & has[members]]
            if not keep.shape[0]:
                return Ranked.empty()
            # A few rows (the working lane's) are scored here rather than waiting for
            # the scan; a window's, searched after the lane's full search, find it done.
            scanned = scan.finished() if usable and scan is not None else None
            return top_of(keep, scanned[keep] if scanned is not None
                          else cosines(self._matrix[keep], query), k)
        return top(scan.scores() if usable and scan is not None
                   else cosines(self._matrix[:n], query), ok & has[:n], k)
