"""Byte records addressed by position, packed into fixed-size blocks.

An index keeps one payload per document (what recall shows for a hit). Held as Python
objects, 100,000 org chunks cost ~850 bytes each in tuples, strings and floats, spread
over the heap between transient objects. Here every record is bytes in a numpy block of
``BLOCK_BYTES``, located by one offsets array: a few bytes of overhead per record, one
allocation per megabyte, and nothing for the garbage collector to track.

Blocks rather than one growing buffer: growing by reallocation copies everything held
so far, so a million chunks (~500 MB of text) would briefly need 1.5-2x that, and
leave freed buffers as holes in the heap. A block is filled and never moved. The
payload's codec (e.g. msgspec) is the owner's.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np
import numpy.typing as npt

from .._files import PRIVATE_DIR_MODE
from ._ranked import grow

__all__ = ["BLOCK_BYTES", "FIRST_BLOCK_BYTES", "FileRecords", "PackedRecords", "scratch_file"]

log = logging.getLogger("voxmem.engine")

#: Bytes per block, once an index holds a few blocks' worth: blocks start at
#: ``FIRST_BLOCK_BYTES`` and double, so a caller with a handful of turns holds kilobytes.
#: A record never spans two blocks; a larger one gets a block sized to fit.
BLOCK_BYTES = 1 << 20
FIRST_BLOCK_BYTES = 4_096


class PackedRecords:
    """Append-only ``bytes`` records; record ``i`` is ``records[i]``.

    Record ``i`` is bytes ``[start, start + length)`` of block ``block[i]``. Appends are
    made under the owner's lock. A read needs no lock: blocks and locations of records
    that exist never change, and arrays that grow are copied before they are swapped in.
    """

    __slots__ = ("_block", "_blocks", "_fill", "_length", "_n", "_start")

    def __init__(self) -> None:
        self._blocks: list[npt.NDArray[np.uint8]] = []
        self._block: npt.NDArray[np.int32] = np.zeros(64, dtype=np.int32)
        self._start: npt.NDArray[np.int32] = np.zeros(64, dtype=np.int32)
        self._length: npt.NDArray[np.int32] = np.zeros(64, dtype=np.int32)
        self._n = 0
        #: bytes used in the last block
        self._fill = 0

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Memory held (blocks and locations)."""
        return int(sum(b.nbytes for b in self._blocks) + self._block.nbytes
                   + self._start.nbytes + self._length.nbytes)

    def append(self, record: bytes) -> None:
        self.extend((record,))

    def extend(self, records: Iterable[bytes]) -> None:
        batch = list(records)
        n, m = self._n, len(batch)
        if n + m > self._block.shape[0]:
            capacity = max(n + m, self._block.shape[0] * 2)
            self._block = grow(self._block, capacity, n)
            self._start = grow(self._start, capacity, n)
            self._length = grow(self._length, capacity, n)
        where, starts, lengths = self._block, self._start, self._length
        for i, record in enumerate(batch, n):
            size = len(record)
            blocks = self._blocks
            if not blocks or size > blocks[-1].shape[0] - self._fill:
                last = blocks[-1].shape[0] if blocks else FIRST_BLOCK_BYTES // 2
                blocks.append(np.empty(max(size, min(BLOCK_BYTES, 2 * last)),
                                       dtype=np.uint8))
                self._fill = 0
            at = self._fill
            blocks[-1][at:at + size] = np.frombuffer(record, dtype=np.uint8)
            where[i], starts[i], lengths[i] = len(blocks) - 1, at, size
            self._fill = at + size
        self._n = n + m

    def __getitem__(self, i: int) -> bytes:
        if not 0 <= i < self._n:
            raise IndexError(i)
        at = int(self._start[i])
        block = self._blocks[int(self._block[i])]
        return block[at:at + int(self._length[i])].tobytes()


def scratch_file(directory: Path | None, prefix: str) -> IO[bytes]:
    """An unlinked temporary file in ``directory`` (the system's temp dir when None or
    not writable), open for the owner's life; closed by the owner or with it."""
    if directory is not None:
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            return tempfile.TemporaryFile(dir=directory, prefix=prefix)
        except OSError as exc:
            log.warning("scratch file not created in %s (%s): using the temp dir",
                        directory, exc)
    return tempfile.TemporaryFile(prefix=prefix)


class FileRecords:
    """Append-only ``bytes`` records in an unlinked file; record ``i`` is ``records[i]``.

    For a project's org knowledge, whose payloads (mostly chunk text) would be ~500 MB of
    anonymous memory at a million chunks: here they cost 12 bytes each in memory (an
    offset and a length) and are read back with one ``pread`` per hit a search returns
    (from the page cache, ~2 µs). Written with ``pwrite``, so the pages belong to the
    page cache, never to this process, and the kernel may evict them under pressure. The
    file is scratch: created unlinked, refilled by every load from the store.

    Appends are made under the owner's lock; reads need none (a record's bytes and
    location never change once written, and grown arrays are swapped in whole).
    """

    __slots__ = ("_base_file", "_base_n", "_end", "_file", "_length", "_n", "_offset")

    def __init__(self, directory: Path | None = None) -> None:
        self._file = scratch_file(directory, "org-records-")
        self._offset: npt.NDArray[np.int64] = np.zeros(64, dtype=np.int64)
        self._length: npt.NDArray[np.int32] = np.zeros(64, dtype=np.int32)
        self._n = 0
        self._end = 0
        #: records ``0 .. _base_n - 1`` are read from this file (:meth:`adopt`)
        self._base_file: BinaryIO | None = None
        self._base_n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Memory held (locations only; the records are in the file)."""
        return int(self._offset.nbytes + self._length.nbytes)

    def append(self, record: bytes) -> None:
        self.extend((record,))

    def extend(self, records: Iterable[bytes]) -> None:
        batch = list(records)
        n, m = self._n, len(batch)
        if n + m > self._offset.shape[0]:
            capacity = max(n + m, self._offset.shape[0] * 2)
            self._offset = grow(self._offset, capacity, n)
            self._length = grow(self._length, capacity, n)
        lengths = np.fromiter(map(len, batch), dtype=np.int64, count=m)
        ends = np.cumsum(lengths) + self._end
        os.pwrite(self._file.fileno(), b"".join(batch), self._end)
        self._offset[n:n + m] = ends - lengths
        self._length[n:n + m] = lengths
        self._end = int(ends[-1]) if m else self._end
        self._n = n + m

    def adopt(self, file: BinaryIO, offset: int, lengths: npt.NDArray[np.int64]) -> None:
        """Take records ``0 .. len(lengths) - 1`` from ``file``, stored end to end from
        ``offset`` (a persisted index's payloads), read there instead of copied. The
        file is kept open and closed with this object; later records go to the scratch
        file."""
        if self._n:
            raise ValueError("adopt needs empty records")
        m = lengths.shape[0]
        if m > self._offset.shape[0]:
            self._offset = grow(self._offset, m, 0)
            self._length = grow(self._length, m, 0)
        ends = np.cumsum(lengths) + offset
        self._offset[:m] = ends - lengths
        self._length[:m] = lengths
        self._base_file, self._base_n, self._n = file, m, m

    def __getitem__(self, i: int) -> bytes:
        if not 0 <= i < self._n:
            raise IndexError(i)
        file = self._base_file if i < self._base_n and self._base_file else self._file
        return os.pread(file.fileno(), int(self._length[i]), int(self._offset[i]))

    def close(self) -> None:
        """Release the file (and an adopted one)."""
        self._file.close()
        if self._base_file is not None:
            self._base_file.close()
