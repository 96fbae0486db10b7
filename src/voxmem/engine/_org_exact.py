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

Two files: a per-process scratch file of vectors the store holds, addressed by index
position, created unlinked (nothing to clean up after a crash); and, after a restart,
the rows saved next to the graph (``_org_file.py``), one per saved key in the saved
order, which a load attaches read-only (:meth:`ExactRows.use_saved`) instead of copying
every vector from the store into the scratch file again (~15 % of a warm load). A
position whose vector changes later is written to the scratch file and read from there.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO

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
        #: the saved rows (see the module doc), their first byte, and per position the
        #: saved row holding its vector (-1: the scratch file)
        self._saved: IO[bytes] | None = None
        self._saved_first = 0
        self._saved_row: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)

    @property
    def scratch_rows(self) -> int:
        """Rows the scratch file is sized for (0: nothing was written to it)."""
        return self._capacity

    def use_saved(self, file: IO[bytes], first: int, positions: IntArray) -> None:
        """Read the vectors of ``positions[i]`` from row ``i`` of ``file`` (rows start
        at byte ``first``; -1: a row no position uses). Takes the file over."""
        live = np.flatnonzero(positions >= 0)
        with self._lock:
            rows = np.full(int(positions.max()) + 1 if live.shape[0] else 0, -1,
                           dtype=np.int32)
            rows[positions[live]] = live
            if self._saved is not None:
                self._saved.close()
            self._saved, self._saved_first, self._saved_row = file, first, rows

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
            saved = positions[positions < self._saved_row.shape[0]]
            self._saved_row[saved] = -1  # the new vector is in the scratch file
            breaks = np.flatnonzero(np.diff(positions) != 1) + 1
            for lo, hi in zip([0, *breaks.tolist()], [*breaks.tolist(), positions.shape[0]],
                              strict=True):
                os.pwrite(self._fd, data[lo:hi].tobytes(),
                          int(positions[lo]) * self._row_bytes)

    def get(self, positions: IntArray) -> FloatArray:
        """The rows at ``positions`` (a new array)."""
        with self._lock:
            if self._saved is None:
                scratch = positions
            else:
                rows = np.full(positions.shape[0], -1, dtype=np.int64)
                inside = positions < self._saved_row.shape[0]
                rows[inside] = self._saved_row[positions[inside]]
                scratch = positions[rows < 0]
            if scratch.shape[0] and int(scratch.max()) >= self._capacity:
                raise IndexError(int(scratch.max()))
            if self._saved is None:
                return read_rows(self._fd, positions, self.dimensions)
            out = np.empty((positions.shape[0], self.dimensions), dtype=np.float32)
            from_saved = rows >= 0
            out[~from_saved] = read_rows(self._fd, scratch, self.dimensions)
            out[from_saved] = read_rows(self._saved.fileno(), rows[from_saved],
                                        self.dimensions, first=self._saved_first)
            return out

    def close(self) -> None:
        """Release the file (its pages go with it)."""
        with self._lock:
            self._capacity = 0
            self._file.close()
            if self._saved is not None:
                self._saved.close()
                self._saved = None
            self._saved_row = np.zeros(0, dtype=np.int32)
