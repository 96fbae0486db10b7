"""Exact float32 vectors of org chunks, on disk and memory-mapped, for rescoring.

The approximate graph (``_org_vectors.py``) stores float16 vectors and finds *nearly*
the right neighbours: at 100,000 real chunks its own top 10 had strict recall@10 0.966
against exact cosine, most misses being near-ties it cannot order at float16 precision.
So the graph proposes a few times more candidates than wanted and each candidate is
rescored with its exact float32 vector from here.

Held in anonymous memory, those vectors would cost 1 GB at a million chunks of 256
dimensions. They live in a file instead: written with ``pwrite`` (the data goes to the
page cache, not into this process's pages) and read through a read-only memory map, so
a search faults in only the rows it rescored (tens of kilobytes), and the kernel may
drop untouched pages under memory pressure and read them back on demand. The file is a
per-process scratch copy of vectors the store holds, addressed by index position; it
is created unlinked (nothing to clean up after a crash) and refilled by every load.
"""

from __future__ import annotations

import mmap
import os
import threading
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from ._payloads import scratch_file

__all__ = ["ExactRows"]

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

#: Rows the file is first sized for; it doubles (sparse, so unwritten rows cost no disk).
FIRST_CAPACITY = 1_024
#: Reads between two releases of the mapped pages (see :meth:`ExactRows.get`).
RELEASE_EVERY = 2_048


class ExactRows:
    """float32 rows by position; unwritten rows read as zeros.

    Writes and the remap that growth needs happen under ``lock`` (the owning index's);
    reads run under the same lock, so a read never sees a map being swapped.
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
        self._map: mmap.mmap | None = None
        self._rows: FloatArray = np.zeros((0, dimensions), dtype=np.float32)
        self._reads = 0
        #: rows ``0 .. _base_rows - 1`` adopted from a persisted file (:meth:`adopt`)
        self._base: FloatArray = self._rows
        self._base_map: mmap.mmap | None = None
        self._base_file: BinaryIO | None = None
        self._base_offset = 0
        self._base_rows = 0

    def _ensure(self, rows: int) -> None:
        if rows <= self._capacity:
            return
        capacity = max(rows, 2 * self._capacity, FIRST_CAPACITY)
        os.ftruncate(self._fd, capacity * self._row_bytes)
        # Views of the old map may still be alive in a caller's hands; it is closed when
        # the last one goes (never explicitly: that would fail while views exist).
        self._map = mmap.mmap(self._fd, capacity * self._row_bytes, access=mmap.ACCESS_READ)
        if hasattr(mmap, "MADV_RANDOM"):
            # A search touches scattered rows: without this, each fault reads ahead
            # ~128 KB of neighbours into the map, resident for nothing.
            self._map.madvise(mmap.MADV_RANDOM)
        self._rows = np.frombuffer(self._map, dtype=np.float32).reshape(capacity,
                                                                         self.dimensions)
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

    def adopt(self, file: BinaryIO, offset: int, rows: int) -> None:
        """Read rows ``0 .. rows - 1`` from ``file`` (a persisted index's float32 rows at
        ``offset``, page-aligned) instead of the scratch file: nothing is copied at
        start-up. The file is kept open (and closed with this object); rows written
        later go to the scratch file as before."""
        with self._lock:
            self._ensure(rows)
            base_map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            if hasattr(mmap, "MADV_RANDOM"):
                base_map.madvise(mmap.MADV_RANDOM)  # as for the scratch map
            self._base = np.frombuffer(base_map, dtype=np.float32,
                                       count=rows * self.dimensions,
                                       offset=offset).reshape(rows, self.dimensions)
            self._base_map, self._base_file = base_map, file
            self._base_offset, self._base_rows = offset, rows

    def get(self, positions: IntArray) -> FloatArray:
        """A copy of the rows at ``positions`` through the map (call with the lock
        held)."""
        if positions.shape[0] == 0:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if int(positions.max()) >= self._capacity:
            raise IndexError(int(positions.max()))
        base = self._base_rows
        got: FloatArray
        if base and int(positions.min()) < base:
            in_base = positions < base
            if in_base.all():
                got = self._base[positions]
            else:
                got = self._rows[np.where(in_base, 0, positions)]
                got[in_base] = self._base[positions[in_base]]
        else:
            got = self._rows[positions]
        self._reads += 1
        if self._reads % RELEASE_EVERY == 0 and self._map is not None and hasattr(
                mmap, "MADV_DONTNEED"):
            # Every page a read faulted in stays mapped, and counts in the process's RSS
            # (RssFile), until unmapped: over many searches, the whole file (1 GB at a
            # million chunks). Dropping the mappings leaves the data in the page cache;
            # the next read of a row is a minor fault (~1 µs), so RSS stays at what
            # recent searches touched. Measured: a read of 160 scattered rows through
            # the map 0.03 ms p50, with pread 0.4 ms.
            self._map.madvise(mmap.MADV_DONTNEED)
            if self._base_map is not None:
                self._base_map.madvise(mmap.MADV_DONTNEED)
        return got

    def read(self, positions: IntArray) -> FloatArray:
        """The rows at ``positions`` read with ``pread`` (one call per run of consecutive
        positions), not through the map: for bulk reads (moving a load's vectors into
        the graph), which would otherwise leave every page mapped and resident."""
        out = np.zeros((positions.shape[0], self.dimensions), dtype=np.float32)
        if positions.shape[0] == 0:
            return out
        with self._lock:
            base = self._base_rows
            # A run never spans the adopted rows and the scratch file's.
            breaks = np.flatnonzero((np.diff(positions) != 1)
                                    | ((positions[1:] >= base) != (positions[:-1] >= base))) + 1
            for lo, hi in zip([0, *breaks.tolist()], [*breaks.tolist(), positions.shape[0]],
                              strict=True):
                first = int(positions[lo])
                fd, at = ((self._base_file.fileno(), self._base_offset) if first < base
                          and self._base_file is not None else (self._fd, 0))
                raw = os.pread(fd, (hi - lo) * self._row_bytes, at + first * self._row_bytes)
                out[lo:lo + len(raw) // self._row_bytes] = np.frombuffer(
                    raw, dtype=np.float32).reshape(-1, self.dimensions)
        return out

    def close(self) -> None:
        """Release the file (its pages go with it)."""
        with self._lock:
            self._rows = np.zeros((0, self.dimensions), dtype=np.float32)
            self._map = None
            self._capacity = 0
            self._file.close()
            self._base = self._rows
            self._base_map, self._base_rows = None, 0
            if self._base_file is not None:
                self._base_file.close()
                self._base_file = None
