"""Which org chunks belong to which document: a compact map kept beside the index."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

__all__ = ["DocumentPositions", "document_key"]

#: Pairs added to a DocumentPositions before they are merged into its sorted arrays,
#: at the least.
MERGE_MIN = 4_096
_INT64_MAX = (1 << 63) - 1


def document_key(index_name: str, document_id: str) -> int:
    """The key of a document's chunk list (collisions are resolved on removal).

    The same in every process: the keys are saved in the org rows file and read by the
    next process, whose ``hash()`` of a string differs (string hashing is seeded per
    process), so a document deleted after a restart kept its chunks.
    """
    digest = hashlib.blake2b(index_name.encode() + b"\0" + document_id.encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class DocumentPositions:
    """Document key -> index positions of its chunks, in 12 bytes a chunk.

    A dict of int keys to ints or tuples cost ~85 bytes a chunk (8 MB at 100,000 chunks,
    ~85 MB at a million): here sorted numpy arrays of (key, position) pairs hold the
    bulk, and a small dict the pairs added since the last merge, which is folded in once
    it holds an eighth of the bulk (so every pair is re-sorted O(log n) times in all).
    A popped pair's position is set to -1 and dropped at the next merge.
    """

    __slots__ = ("_keys", "_positions", "_recent", "_recent_count")

    def __init__(self) -> None:
        self._keys: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._positions: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        #: one int per key in the common case (a one-chunk document): a list per key
        #: made adding three times slower
        self._recent: dict[int, int | tuple[int, ...]] = {}
        self._recent_count = 0

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (the recent pairs' dict not counted)."""
        return int(self._keys.nbytes + self._positions.nbytes)

    def add(self, key: int, position: int) -> None:
        """Record that ``position`` holds a chunk of the document ``key``."""
        recent = self._recent
        held = recent.get(key)
        if held is None:
            recent[key] = position
        elif isinstance(held, int):
            recent[key] = (held, position)
        else:
            recent[key] = (*held, position)
        self._recent_count += 1
        if self._recent_count >= max(MERGE_MIN, self._keys.shape[0] // 8):
            self._merge()

    def pop(self, key: int) -> list[int]:
        """The positions recorded for ``key`` (each once), forgetting them."""
        held = self._recent.pop(key, ())
        found = [held] if isinstance(held, int) else list(held)
        self._recent_count -= len(found)
        lo, hi = np.searchsorted(self._keys, [key, key + 1]) if key < _INT64_MAX else (
            np.searchsorted(self._keys, key), self._keys.shape[0])
        if hi > lo:
            span = self._positions[lo:hi]
            found.extend(int(p) for p in span[span >= 0].tolist())
            span[:] = -1
        return sorted(set(found))

    def add_many(self, keys: npt.NDArray[np.int64], positions: npt.NDArray[np.int64]) -> None:
        """Record ``positions[i]`` under ``keys[i]`` for every ``i``, sorted in at once
        (a million pairs in numpy, no Python loop)."""
        self._merge(keys, positions.astype(np.int32))

    def _merge(self, more_keys: npt.NDArray[np.int64] | None = None,
               more_positions: npt.NDArray[np.int32] | None = None) -> None:
        live = self._positions >= 0
        pairs = [(k, p) for k, entry in self._recent.items()
                 for p in ((entry,) if isinstance(entry, int) else entry)]
        keys = np.fromiter((k for k, _ in pairs), dtype=np.int64, count=len(pairs))
        positions = np.fromiter((p for _, p in pairs), dtype=np.int32, count=len(pairs))
        keys = np.concatenate([self._keys[live], keys,
                               *([more_keys] if more_keys is not None else [])])
        positions = np.concatenate([self._positions[live], positions,
                                    *([more_positions] if more_positions is not None
                                      else [])])
        order = np.argsort(keys, kind="stable")
        self._keys, self._positions = keys[order], positions[order]
        self._recent, self._recent_count = {}, 0
