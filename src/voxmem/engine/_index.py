"""In-memory hybrid search index: BM25 postings plus dense vectors.

Recall has a budget of a few milliseconds, so each caller's memory and each project's
org knowledge are searched in memory, loaded from the store and kept current by the
write path. The store stays the source of truth; this is a cache that can be rebuilt.

Vectors are searched exactly while the index is small. Past ``IVF_MIN_VECTORS`` an
inverted-file layout (k-means lists, contiguous per list) bounds the work per query;
vectors added after the last build sit in a tail that is scanned exactly until the next
rebuild.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from array import array
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["HybridIndex", "Ranked"]

BM25_K1 = 1.2
BM25_B = 0.75
IVF_MIN_VECTORS = 20_000
IVF_MIN_CANDIDATES = 4_000
IVF_CANDIDATE_SHARE = 0.05
IVF_REBUILD_TAIL_SHARE = 0.25
IVF_TRAIN_SAMPLE = 25_000
IVF_ITERATIONS = 8

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclasses.dataclass(frozen=True, slots=True)
class Ranked:
    """Positions into the index, best first, with their scores."""

    positions: IntArray
    scores: FloatArray

    @classmethod
    def empty(cls) -> Ranked:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))

    def __len__(self) -> int:
        return int(self.positions.shape[0])


class _IVF:
    """k-means inverted lists over a snapshot of the vectors, stored list-contiguously."""

    def __init__(self, vectors: FloatArray, positions: IntArray, rng_seed: int = 7) -> None:
        n = vectors.shape[0]
        nlist = max(8, int(math.sqrt(n)))
        rng = np.random.default_rng(rng_seed)
        sample = vectors[rng.choice(n, size=min(n, IVF_TRAIN_SAMPLE), replace=False)]
        centroids = sample[rng.choice(sample.shape[0], size=nlist, replace=False)].copy()
        for _ in range(IVF_ITERATIONS):
            assign = np.argmax(sample @ centroids.T, axis=1)
            sums = np.zeros_like(centroids)
            np.add.at(sums, assign, sample)
            counts = np.bincount(assign, minlength=nlist).astype(np.float32)
            empty = counts == 0
            sums[empty] = centroids[empty]
            counts[empty] = 1.0
            centroids = sums / counts[:, None]
            centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
        assign = np.concatenate([
            np.argmax(vectors[i:i + 8192] @ centroids.T, axis=1) for i in range(0, n, 8192)
        ])
        order = np.argsort(assign, kind="stable")
        self.centroids: FloatArray = centroids.astype(np.float32)
        self.vectors: FloatArray = np.ascontiguousarray(vectors[order])
        self.positions: IntArray = positions[order]
        counts_all = np.bincount(assign, minlength=nlist)
        self.offsets = np.concatenate([[0], np.cumsum(counts_all)]).astype(np.int64)
        self.size = n

    def candidates(self, query: FloatArray) -> tuple[IntArray, FloatArray]:
        want = max(IVF_MIN_CANDIDATES, int(self.size * IVF_CANDIDATE_SHARE))
        avg = max(1.0, self.size / self.centroids.shape[0])
        nprobe = min(self.centroids.shape[0], max(1, math.ceil(want / avg)))
        order = np.argpartition(-(self.centroids @ query), nprobe - 1)[:nprobe]
        pos_parts: list[IntArray] = []
        score_parts: list[FloatArray] = []
        for lst in order:
            lo, hi = int(self.offsets[lst]), int(self.offsets[lst + 1])
            if hi > lo:
                pos_parts.append(self.positions[lo:hi])
                score_parts.append(self.vectors[lo:hi] @ query)
        if not pos_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(pos_parts), np.concatenate(score_parts).astype(np.float32)


class HybridIndex:
    """Documents addressed by string id, searchable by BM25 and by cosine similarity.

    Thread-safe: the write path adds on the event loop while lanes search on worker
    threads. Searches return positions; :meth:`id_at` and :meth:`payload_at` resolve them.
    """

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self._lock = threading.RLock()
        self._ids: list[str] = []
        self._payloads: list[Any] = []
        self._pos: dict[str, int] = {}
        self._created = array("d")
        self._group = array("q")
        self._doc_len = array("f")
        self._alive = array("b")
        self._postings: dict[str, tuple[array[int], array[float]]] = {}
        self._len_sum = 0.0
        self._alive_count = 0
        self._vectors: FloatArray = np.zeros((64, dimensions), dtype=np.float32)
        self._has_vec = array("b")
        self._ivf: _IVF | None = None
        self._tail: list[int] = []

    # -- writing -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._alive_count

    def __contains__(self, doc_id: str) -> bool:
        pos = self._pos.get(doc_id)
        return pos is not None and bool(self._alive[pos])

    def add(
        self,
        doc_id: str,
        terms: Sequence[str],
        *,
        created_at: float,
        payload: Any = None,
        group: int = 0,
        vector: FloatArray | None = None,
    ) -> None:
        """Add a document; re-adding a live id is ignored (writes are replayed)."""
        with self._lock:
            if doc_id in self._pos:
                old = self._pos[doc_id]
                if self._alive[old]:
                    if vector is not None and not self._has_vec[old]:
                        self._set_vector(old, vector)
                    return
            pos = len(self._ids)
            self._ids.append(doc_id)
            self._payloads.append(payload)
            self._pos[doc_id] = pos
            self._created.append(created_at)
            self._group.append(group)
            self._doc_len.append(float(len(terms)))
            self._alive.append(1)
            self._has_vec.append(0)
            self._len_sum += len(terms)
            self._alive_count += 1
            for term, tf in Counter(terms).items():
                entry = self._postings.get(term)
                if entry is None:
                    entry = (array("q"), array("f"))
                    self._postings[term] = entry
                entry[0].append(pos)
                entry[1].append(float(tf))
            if pos >= self._vectors.shape[0]:
                grown = np.zeros((self._vectors.shape[0] * 2, self.dimensions), dtype=np.float32)
                grown[: self._vectors.shape[0]] = self._vectors
                self._vectors = grown
            if vector is not None:
                self._set_vector(pos, vector)

    def set_vector(self, doc_id: str, vector: FloatArray) -> None:
        with self._lock:
            pos = self._pos.get(doc_id)
            if pos is not None and self._alive[pos]:
                self._set_vector(pos, vector)

    def _set_vector(self, pos: int, vector: FloatArray) -> None:
        self._vectors[pos] = vector
        if not self._has_vec[pos]:
            self._has_vec[pos] = 1
            self._tail.append(pos)

    def remove(self, doc_id: str) -> bool:
        """Hide a document from every search (its postings are skipped, not rewritten)."""
        with self._lock:
            pos = self._pos.get(doc_id)
            if pos is None or not self._alive[pos]:
                return False
            self._alive[pos] = 0
            self._alive_count -= 1
            self._len_sum -= self._doc_len[pos]
            return True

    def maybe_build_ivf(self) -> bool:
        """Build or rebuild the IVF layout when the exact tail has grown too long.

        Slow for large indexes (a second or so at 100k vectors): call it off the event
        loop. Returns True when a build happened.
        """
        with self._lock:
            tail = len(self._tail)
            built = self._ivf.size if self._ivf is not None else 0
            if built + tail < IVF_MIN_VECTORS or tail < IVF_REBUILD_TAIL_SHARE * max(built, 1):
                return False
            positions = np.array(
                [p for p in range(len(self._ids)) if self._has_vec[p] and self._alive[p]],
                dtype=np.int64,
            )
            snapshot = self._vectors[positions].copy()
            tail_at_start = len(self._tail)
        ivf = _IVF(snapshot, positions)
        with self._lock:
            self._ivf = ivf
            self._tail = self._tail[tail_at_start:]
        return True

    # -- reading -------------------------------------------------------------------------
    def id_at(self, pos: int) -> str:
        return self._ids[pos]

    def payload_at(self, pos: int) -> Any:
        return self._payloads[pos]

    def vector_at(self, pos: int) -> FloatArray | None:
        with self._lock:
            if not self._has_vec[pos]:
                return None
            vec: FloatArray = self._vectors[pos].copy()
        return vec

    def created_at(self, positions: IntArray) -> npt.NDArray[np.float64]:
        with self._lock:
            created = np.frombuffer(self._created, dtype=np.float64)[positions].copy()
        return created

    def created_mask(self, min_created: float) -> npt.NDArray[np.bool_]:
        """Documents created at or after ``min_created`` (retention)."""
        with self._lock:
            created = np.frombuffer(self._created, dtype=np.float64).copy()
        mask: npt.NDArray[np.bool_] = created >= min_created
        return mask

    def group_mask(self, groups: Sequence[int], *, include: bool = True) -> npt.NDArray[np.bool_]:
        """Documents whose group is (or, with ``include=False``, is not) in ``groups``."""
        with self._lock:
            codes = np.frombuffer(self._group, dtype=np.int64).copy()
        mask = np.isin(codes, np.asarray(list(groups), dtype=np.int64))
        return mask if include else ~mask

    def bm25(
        self, terms: Sequence[str], k: int, mask: npt.NDArray[np.bool_] | None = None
    ) -> Ranked:
        """Top ``k`` documents by Okapi BM25 for the query ``terms``."""
        with self._lock:
            n_docs = len(self._ids)
            if not n_docs or not terms or not self._alive_count:
                return Ranked.empty()
            alive = np.frombuffer(self._alive, dtype=np.int8).astype(bool)
            doc_len = np.frombuffer(self._doc_len, dtype=np.float32).copy()
            avgdl = max(self._len_sum / self._alive_count, 1.0)
            scores = np.zeros(n_docs, dtype=np.float32)
            total = self._alive_count
            for term in set(terms):
                entry = self._postings.get(term)
                if entry is None:
                    continue
                docs = np.frombuffer(entry[0], dtype=np.int64).copy()
                tfs = np.frombuffer(entry[1], dtype=np.float32).copy()
                # Removed documents keep their postings; count only live ones.
                df = int(alive[docs].sum())
                if df == 0:
                    continue
                idf = math.log(1.0 + (total - df + 0.5) / (df + 0.5))
                norm = BM25_K1 * (1.0 - BM25_B + BM25_B * doc_len[docs] / avgdl)
                contrib = idf * tfs * (BM25_K1 + 1.0) / (tfs + norm)
                scores += np.bincount(docs, weights=contrib, minlength=n_docs).astype(np.float32)
        valid = alive & (scores > 0)
        if mask is not None:
            valid &= mask[:n_docs]
        return _top(scores, valid, k)

    def dense(
        self, query: FloatArray, k: int, mask: npt.NDArray[np.bool_] | None = None
    ) -> Ranked:
        """Top ``k`` documents by cosine similarity to the unit vector ``query``."""
        with self._lock:
            n_docs = len(self._ids)
            if not n_docs:
                return Ranked.empty()
            ok = (np.frombuffer(self._alive, dtype=np.int8) & np.frombuffer(
                self._has_vec, dtype=np.int8)).astype(bool)
            if mask is not None:
                ok &= mask[:n_docs]
            if self._ivf is None:
                scores = self._vectors[:n_docs] @ query
                return _top(scores, ok, k)
            ivf_pos, ivf_scores = self._ivf.candidates(query)
            tail = np.asarray(self._tail, dtype=np.int64)
            tail_scores = self._vectors[tail] @ query if len(tail) else np.zeros(0, np.float32)
        positions = np.concatenate([ivf_pos, tail])
        scores = np.concatenate([ivf_scores, tail_scores]).astype(np.float32)
        keep = ok[positions]
        positions, scores = positions[keep], scores[keep]
        if not len(positions):
            return Ranked.empty()
        top = _top(scores, np.ones(len(scores), dtype=bool), k)
        return Ranked(positions[top.positions], top.scores)


def _top(scores: npt.NDArray[np.floating], valid: npt.NDArray[np.bool_], k: int) -> Ranked:
    candidates = np.flatnonzero(valid)
    if not len(candidates) or k <= 0:
        return Ranked.empty()
    sub = scores[candidates]
    if len(candidates) > k:
        part = np.argpartition(-sub, k - 1)[:k]
        candidates, sub = candidates[part], sub[part]
    order = np.argsort(-sub, kind="stable")
    return Ranked(candidates[order].astype(np.int64), sub[order].astype(np.float32))
