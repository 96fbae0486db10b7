"""Byte records addressed by position, packed into one buffer.

An index keeps one payload per document (what recall shows for a hit). Held as Python
objects, 100,000 org chunks cost ~500 bytes each in tuples, strings and floats, spread
over the heap between transient objects, so a load's garbage could not be handed back
to the OS. Here every record is bytes in one growing numpy buffer, located by an
offsets array: a few bytes of overhead per record, two allocations in all, and nothing
for the garbage collector to track. The payload's codec (e.g. msgspec) is the owner's.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ._ranked import IntArray, grow

__all__ = ["PackedRecords"]

#: Relative headroom when the buffer grows (a load of many small batches would otherwise
#: reallocate per batch).
GROWTH = 1.5


class PackedRecords:
    """Append-only ``bytes`` records; record ``i`` is ``records[i]``.

    Appends are made under the owner's lock. A read needs no lock: it sees either the
    old or the new buffer, and both hold every record that existed before the append.
    """

    __slots__ = ("_buf", "_ends", "_n")

    def __init__(self) -> None:
        self._buf = np.empty(4_096, dtype=np.uint8)
        #: ``_ends[i]``: where record ``i`` ends (it starts where ``i - 1`` ends)
        self._ends: IntArray = np.zeros(64, dtype=np.int64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Memory held (both arrays, headroom included)."""
        return int(self._buf.nbytes + self._ends.nbytes)

    def append(self, record: bytes) -> None:
        self.extend((record,))

    def extend(self, records: Iterable[bytes]) -> None:
        batch = list(records)
        if not batch:
            return
        lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
        n, m = self._n, len(batch)
        used = int(self._ends[n - 1]) if n else 0
        size = used + int(lengths.sum())
        if size > self._buf.shape[0]:
            self._buf = grow(self._buf, max(size, int(self._buf.shape[0] * GROWTH)), used)
        if n + m > self._ends.shape[0]:
            self._ends = grow(self._ends, max(n + m, int(self._ends.shape[0] * GROWTH)), n)
        self._buf[used:size] = np.frombuffer(b"".join(batch), dtype=np.uint8)
        self._ends[n:n + m] = used + np.cumsum(lengths)
        self._n = n + m

    def __getitem__(self, i: int) -> bytes:
        if not 0 <= i < self._n:
            raise IndexError(i)
        ends = self._ends
        start = int(ends[i - 1]) if i else 0
        return self._buf[start:int(ends[i])].tobytes()
