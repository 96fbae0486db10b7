"""Document id <-> position tables of an in-memory index.

:class:`ListIds` is a list and a dict (a caller's memory: thousands of ids, read one
by one on every search). :class:`CompactIds` keeps a project's org chunk ids in numpy
arrays: at a million chunks a list of strings plus a dict cost ~150 bytes a chunk and
a Python object per chunk to build at every start (~0.3 s), where the table here is
~56 bytes a chunk and is filled from a saved file with one copy.

Both answer the same questions (:class:`IdTable`); ids are never reused for another
document, but a removed id may be added again, and then its newest position wins.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["BytesArray", "CompactIds", "IdTable", "ListIds", "id_array"]

BytesArray = npt.NDArray[np.bytes_]
IntArray = npt.NDArray[np.int64]

#: Ids added since the last merge before they are hashed into the sorted arrays, at
#: the least (then an eighth of the bulk: each id is re-sorted O(log n) times in all).
MERGE_MIN = 4_096
#: Below this many ids a batch is looked up one id at a time (cheaper than hashing).
_ONE_BY_ONE = 8
#: Rows hashed per numpy pass (bounds the temporaries at a million ids).
_HASH_SLICE = 1 << 16
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1


def _width(longest: int) -> int:
    """Bytes per stored id: the longest id rounded up to whole 64-bit words (hashed
    a word at a time, without copying)."""
    return max(8, (longest + 7) // 8 * 8)


def id_array(ids: Sequence[str]) -> BytesArray:
    """``ids`` as a fixed-width byte-string array (UTF-8), as the tables and the saved
    files hold them. Ids may not contain NUL (numpy strips trailing NULs)."""
    encoded = [i.encode() for i in ids]
    if any(b"\0" in e for e in encoded):
        raise ValueError("an id holds a NUL byte")
    width = _width(max(map(len, encoded), default=0))
    return np.array(encoded, dtype=f"S{width}")


def _hash_rows(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """FNV-1a over 64-bit words, one hash per row (array arithmetic wraps mod 2**64)."""
    h = np.full(words.shape[0], _FNV_OFFSET, dtype=np.uint64)
    prime = np.uint64(_FNV_PRIME)
    for j in range(words.shape[1]):
        h ^= words[:, j]
        h *= prime
    return h


def _hash_array(ids: BytesArray) -> npt.NDArray[np.uint64]:
    """Hashes of a fixed-width id array whose width is a multiple of 8."""
    width = ids.dtype.itemsize
    out = np.empty(ids.shape[0], dtype=np.uint64)
    for lo in range(0, ids.shape[0], _HASH_SLICE):
        part = np.ascontiguousarray(ids[lo:lo + _HASH_SLICE])
        words = part.view("<u8").reshape(part.shape[0], width // 8)
        out[lo:lo + part.shape[0]] = _hash_rows(words)
    return out


def _hash_one(raw: bytes, width: int) -> int:
    h = _FNV_OFFSET
    for (word,) in struct.iter_unpack("<Q", raw.ljust(width, b"\0")):
        h = ((h ^ word) * _FNV_PRIME) & _MASK64
    return h


class IdTable(Protocol):
    """What :class:`~._index.HybridIndex` asks of its id table."""

    def __len__(self) -> int: ...
    def append(self, doc_id: str) -> None: ...
    def extend(self, doc_ids: Sequence[str]) -> None: ...
    def install(self, ids: BytesArray) -> None: ...
    def get(self, doc_id: str) -> int | None: ...
    def contains_any(self, doc_ids: Sequence[str]) -> bool: ...
    def at(self, pos: int) -> str: ...
    def at_many(self, positions: Iterable[int]) -> list[str]: ...
    def array_at(self, positions: IntArray) -> BytesArray: ...
    def positions_of(self, ids: BytesArray | Sequence[str]) -> IntArray: ...
    def prepare(self) -> None: ...


class ListIds:
    """A list of ids by position and a dict back (fast single lookups, ~150 bytes an id)."""

    __slots__ = ("_ids", "_pos")

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def append(self, doc_id: str) -> None:
        self._pos[doc_id] = len(self._ids)
        self._ids.append(doc_id)

    def extend(self, doc_ids: Sequence[str]) -> None:
        start = len(self._ids)
        self._ids.extend(doc_ids)
        self._pos.update(zip(doc_ids, range(start, start + len(doc_ids)), strict=True))

    def install(self, ids: BytesArray) -> None:
        self.extend([b.decode() for b in ids.tolist()])

    def get(self, doc_id: str) -> int | None:
        return self._pos.get(doc_id)

    def contains_any(self, doc_ids: Sequence[str]) -> bool:
        return any(map(self._pos.__contains__, doc_ids))

    def at(self, pos: int) -> str:
        return self._ids[pos]

    def at_many(self, positions: Iterable[int]) -> list[str]:
        return list(map(self._ids.__getitem__, positions))

    def array_at(self, positions: IntArray) -> BytesArray:
        return id_array(self.at_many(positions.tolist()))

    def positions_of(self, ids: BytesArray | Sequence[str]) -> IntArray:
        names = ([b.decode() for b in ids.tolist()] if isinstance(ids, np.ndarray)
                 else ids)
        return np.fromiter((self._pos.get(i, -1) for i in names), dtype=np.int64,
                           count=len(names))

    def prepare(self) -> None:
        """Nothing to prepare (the dict is always complete)."""


class CompactIds:
    """Ids in one fixed-width byte-string array, found through sorted 64-bit hashes.

    ``_hashes``/``_order`` cover positions ``[0, _covered)`` (sorted by hash, equal
    hashes by position, so the last match is the newest); ids added since are in
    ``_recent`` (a small dict), unless rows were installed since (``_unhashed``): then
    positions ``[_covered, n)`` are hashed on the first lookup (a start-up does not
    wait for it: ~0.15 s a million).
    Thread-safe for reads beside the owning index's writes (which hold its lock):
    hashing and merging hold this table's own lock.
    """

    def __init__(self) -> None:
        self._ids: BytesArray = np.zeros(64, dtype="S8")
        self._n = 0
        self._hashes: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)
        self._order: IntArray = np.zeros(0, dtype=np.int64)
        self._covered = 0
        self._recent: dict[str, int] = {}
        self._unhashed = False
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (the recent ids' dict not counted)."""
        return int(self._ids.nbytes + self._hashes.nbytes + self._order.nbytes)

    def __len__(self) -> int:
        return self._n

    # -- writing -------------------------------------------------------------------------
    def _room(self, more: int, longest: int) -> None:
        need = self._n + more
        width = max(self._ids.dtype.itemsize, _width(longest))
        if width != self._ids.dtype.itemsize:
            # Wider ids hash differently (more words): every row is hashed again.
            wider = self._ids.astype(f"S{width}")
            with self._lock:
                self._ids = wider
                self._hashes = np.zeros(0, dtype=np.uint64)
                self._order = np.zeros(0, dtype=np.int64)
                self._covered = 0
                self._recent = {}
                self._unhashed = True
        if need > self._ids.shape[0]:
            grown = np.zeros(max(need, 2 * self._ids.shape[0]), dtype=self._ids.dtype)
            grown[: self._n] = self._ids[: self._n]
            self._ids = grown

    def append(self, doc_id: str) -> None:
        self.extend([doc_id])

    def extend(self, doc_ids: Sequence[str]) -> None:
        encoded = [i.encode() for i in doc_ids]
        if any(b"\0" in e for e in encoded):
            raise ValueError("an id holds a NUL byte")
        self._room(len(encoded), max(map(len, encoded), default=0))
        start = self._n
        self._ids[start:start + len(encoded)] = encoded
        with self._lock:
            self._n = start + len(encoded)
            if not self._unhashed:  # else these are hashed with the installed rows
                self._recent.update(zip(doc_ids, range(start, self._n), strict=True))
                if len(self._recent) >= max(MERGE_MIN, self._covered // 8):
                    self._merge()

    def install(self, ids: BytesArray) -> None:
        """Append persisted ids (a fixed-width array) with one copy; they are hashed on
        the first lookup."""
        self._room(ids.shape[0], ids.dtype.itemsize)
        start = self._n
        self._ids[start:start + ids.shape[0]] = ids
        with self._lock:
            self._n = start + ids.shape[0]
            self._unhashed = True

    def _merge(self) -> None:
        """Hash positions ``[_covered, n)`` into the sorted arrays (lock held)."""
        n = self._n
        if self._covered == n:
            return
        fresh = _hash_array(self._ids[self._covered:n])
        hashes = np.concatenate([self._hashes, fresh])
        positions = np.concatenate([self._order,
                                    np.arange(self._covered, n, dtype=np.int64)])
        order = np.argsort(hashes, kind="stable")
        self._hashes, self._order = hashes[order], positions[order]
        self._covered = n
        self._recent = {}
        self._unhashed = False

    def prepare(self) -> None:
        """Hash the installed rows now (off the event loop), not on the first lookup."""
        with self._lock:
            if self._unhashed:
                self._merge()

    # -- reading -------------------------------------------------------------------------
    def _lookup_ready(self) -> None:
        with self._lock:
            if self._unhashed:
                self._merge()

    def get(self, doc_id: str) -> int | None:
        pos = self._recent.get(doc_id)
        if pos is not None:
            return pos
        self._lookup_ready()
        raw = doc_id.encode()
        with self._lock:  # one consistent moment (a wider id re-hashes everything)
            hashes, order, covered = self._hashes, self._order, self._covered
            ids = self._ids
            pos = self._recent.get(doc_id)
        if pos is not None:
            return pos
        width = ids.dtype.itemsize
        if len(raw) > width:
            return None
        h = np.uint64(_hash_one(raw, width))
        i = int(np.searchsorted(hashes, h, side="right")) - 1
        while i >= 0 and hashes[i] == h:
            p = int(order[i])
            if p < covered and ids[p] == raw:
                return p
            i -= 1
        return None

    def contains_any(self, doc_ids: Sequence[str]) -> bool:
        if not self._n:
            return False
        if len(doc_ids) < _ONE_BY_ONE:
            return any(self.get(i) is not None for i in doc_ids)
        # A batch (a create_index call, a load's page): hashed at once; one by one it
        # cost ~8 us an id, 8 s for a load of a million chunks from the store.
        if any(map(self._recent.__contains__, doc_ids)):
            return True
        self._lookup_ready()
        return bool((self._hashed_positions(id_array(doc_ids)) >= 0).any())

    def at(self, pos: int) -> str:
        if not 0 <= pos < self._n:
            raise IndexError(pos)
        return bytes(self._ids[pos]).decode()

    def at_many(self, positions: Iterable[int]) -> list[str]:
        idx = np.fromiter(positions, dtype=np.int64)
        if idx.shape[0] and (int(idx.min()) < 0 or int(idx.max()) >= self._n):
            raise IndexError("position out of range")
        return [b.decode() for b in self._ids[idx].tolist()]

    def array_at(self, positions: IntArray) -> BytesArray:
        return self._ids[positions]

    def positions_of(self, ids: BytesArray | Sequence[str]) -> IntArray:
        """The newest position of each of ``ids`` (-1: unknown), vectorised."""
        query = ids if isinstance(ids, np.ndarray) else id_array(ids)
        n = self._n
        if (query.shape[0] == n and query.dtype == self._ids.dtype
                and np.array_equal(np.ascontiguousarray(query).view("<u8"),
                                   self._ids[:n].view("<u8"))):
            # The saved vector file lists the rows file's ids in the same order (both
            # written from one index): no hashing at all. Compared as words, not
            # strings: ~10x faster.
            return np.arange(n, dtype=np.int64)
        with self._lock:
            self._merge()
        return self._hashed_positions(query)

    def _hashed_positions(self, query: BytesArray) -> IntArray:
        """Positions of ``query``'s ids among the hashed rows (-1: not among them)."""
        m = query.shape[0]
        width = self._ids.dtype.itemsize
        out = np.full(m, -1, dtype=np.int64)
        if not m or not self._n:
            return out
        fits = np.char.str_len(query) <= width
        narrow = query.astype(f"S{width}")
        with self._lock:
            hashes, order = self._hashes, self._order
        if not hashes.shape[0]:
            return out
        qh = _hash_array(narrow)
        at = np.searchsorted(hashes, qh, side="right") - 1
        safe = np.maximum(at, 0)
        cand = order[safe]
        same_hash = (at >= 0) & (hashes[safe] == qh)
        match = same_hash & fits & (self._ids[cand] == query)
        out[match] = cand[match]
        # A hash shared by two ids (~never at 64 bits): look the rest up one by one.
        for i in np.flatnonzero(same_hash & fits & ~match).tolist():
            pos = self.get(bytes(query[i]).decode())
            out[i] = -1 if pos is None else pos
        return out
