"""Exact float32 vectors of org chunks, in a file, read row by row for rescoring.

The approximate graph (``_org_vectors.py``) stores compact vectors and finds *nearly*
the right neighbours; its scores cannot order near-ties. So the graph proposes a few
more candidates than wanted and each is rescored with its exact float32 vector from
here.

Held in anonymous memory, those vectors would cost 1.5 GB at a million chunks of 384
dimensions. They live in a file instead, written with ``pwrite`` and read with
``preadv`` straight into the result array: the data sits in the page cache, which the
kernel may drop under memory pressure and read back on demand, and none of it is
mapped into this process. A memory map was tried first: every page a rescoring read
touched stayed mapped and counted in the process's resident set (``RssFile``), so over
1,000 searches at 100,000 chunks most of the file (~150 MB) became resident; dropping
the mappings every few thousand reads bounded it only to what those reads touched.
Reading rows explicitly costs ~1.6 µs a row (0.26 ms for 160 scattered rows against
0.06 ms through a warm map, measured on this project's 2-core machines) and keeps the
resident set flat.

The file is a per-process scratch copy of vectors the store holds, addressed by index
position; it is created unlinked (nothing to clean up after a crash) and refilled by
every load.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ._payloads import scratch_file

__all__ = ["ExactRows", "read_rows"]

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

#: Rows the file is first sized for; it doubles (sparse, so unwritten rows cost no disk).
FIRST_CAPACITY = 1_024


def read_rows(fd: int, positions: IntArray, dimensions: int, *, first: int = 0) -> FloatArray:
    """The float32 rows at ``positions`` of the file ``fd`` (rows start at byte
    ``first``), one ``preadv`` per run of consecutive positions, read straight into the
    result; rows past the end of the file read as zeros."""
    out = np.zeros((positions.shape[0], dimensions), dtype=np.float32)
    if positions.shape[0] == 0:
        return out
    row_bytes = dimensions * 4
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    for lo, hi in zip([0, *breaks.tolist()], [*breaks.tolist(), positions.shape[0]],
                      strict=True):
        os.preadv(fd, [out[lo:hi].data.cast("B")],
                  first + int(positions[lo]) * row_bytes)
    return out


class ExactRows:
    """float32 rows by position; unwritten rows read as zeros.

    Writes and reads run under ``lock`` (the owning index's).
    """

    def __init__(self, dimensions: int, directory: Path | None,
                 lock: threading.RLock) -> None:
        self.dimensions = dimensions
        self._row_bytes = dimensions * 4
        self._lock = lock
        # Not on a tmpfs when the engine has a data directory: there the pages would be
        # shared memory, as resident as an array.
        self._file = scratch_file(directory, "org-exact-")
        self._fd = self._file.fileno()
        self._capacity = 0

    def _ensure(self, rows: int) -> None:
        if rows <= self._capacity:
            return
        capacity = max(rows, 2 * self._capacity, FIRST_CAPACITY)
        os.ftruncate(self._fd, capacity * self._row_bytes)
        self._capacity = capacity

    def put(self, positions: IntArray, vectors: FloatArray) -> None:
        """Write ``vectors[i]`` at ``positions[i]`` (one ``pwrite`` per run of
        consecutive positions: a load writes a slice of hundreds in one call)."""
        if positions.shape[0] == 0:
            return
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            self._ensure(int(positions.max()) + 1)
            breaks = np.flatnonzero(np.diff(positions) != 1) + 1
            for lo, hi in zip([0, *breaks.tolist()], [*breaks.tolist(), positions.shape[0]],
                              strict=True):
                os.pwrite(self._fd, data[lo:hi].tobytes(),
                          int(positions[lo]) * self._row_bytes)

    def get(self, positions: IntArray) -> FloatArray:
        """The rows at ``positions`` (a new array)."""
        if positions.shape[0] and int(positions.max()) >= self._capacity:
            raise IndexError(int(positions.max()))
        with self._lock:
            return read_rows(self._fd, positions, self.dimensions)

    def close(self) -> None:
        """Release the file (its pages go with it)."""
        with self._lock:
            self._capacity = 0
            self._file.close()
