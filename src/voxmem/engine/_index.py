"""In-memory hybrid search index: BM25 postings plus dense vectors.

Recall has a budget of a few milliseconds, so each caller's memory and each project's
org knowledge are searched in memory, loaded from the store and kept current by the
write path. The store stays the source of truth; this is a cache that can be rebuilt.

Per-document columns, per-group position lists and the vector matrix are numpy arrays
that are only appended to (growth reallocates with headroom), so a query works on views
of the first ``n`` rows and does no Python work proportional to the index size. BM25
postings live in immutable term-major segments (one per batch of adds, merged
size-tiered) plus a small mutable head for one-at-a-time adds: a bulk load builds them
with a sort instead of a Python loop per term, and a query reads each term's postings
as slices. Filters (groups, retention) are resolved under the index lock at query time,
so they always match the index's current size.

Vectors are searched exactly (a caller's memory: thousands of rows). An index built
with ``ann`` (a project's org knowledge: up to millions of chunks) keeps no vector matrix
of its own and hands dense search to that approximate index (``_org_vectors.py``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from ._org_vectors import OrgVectors

__all__ = ["HybridIndex", "Ranked", "Where"]

BM25_K1 = 1.2
BM25_B = 0.75
#: Below this many explicit positions a filter is applied by gathering rows rather than
#: scanning every row with a boolean mask (the working lane: one call's few turns).
GATHER_MAX = 2_048
#: Postings live in segments (one per batch of adds). Adding merges the newest segments
#: while they are of similar size and small enough to merge in well under a millisecond,
#: which keeps a few segments per index; :meth:`HybridIndex.compact` merges the rest off
#: the event loop after loads and org index builds.
SEGMENT_MERGE_RATIO = 2
SYNC_MERGE_MAX = 32_768
#: Upkeep merges segments up to this size under the index lock (~10-20 ms of sorting).
LOCKED_MERGE_MAX = 262_144
HEAD_POSTINGS = 4_096
MAX_SEGMENTS = 48

#: What :meth:`HybridIndex.groups_at` answers for a position outside the index.
NO_GROUP = -(1 << 62)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


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


@dataclasses.dataclass(frozen=True, slots=True)
class Where:
    """A filter resolved inside the index, under its lock, at query time.

    Resolving it there (rather than passing a precomputed mask) means a document added
    between building the filter and running the search can never misalign the two.
    """

    #: Only documents of these groups (None: every group).
    groups: tuple[int, ...] | None = None
    #: Never documents of these groups.
    exclude_groups: tuple[int, ...] = ()
    #: Only documents created at or after this time (retention).
    min_created: float | None = None
    #: Only documents created at or before this time (a query about a past time).
    max_created: float | None = None
    #: Only these positions (ascending), when the caller has already narrowed them down.
    positions: IntArray | None = None


class _Segment:
    """Postings of a run of consecutive documents, term-major (compressed sparse rows).

    Immutable once built: a search can read it without copying while a writer appends
    new segments or swaps merged ones in.
    """

    __slots__ = ("docs", "offsets", "tfs", "tids")

    def __init__(self, term_of: IntArray, doc_of: IntArray, tfs: Any) -> None:
        # Postings arrive ordered by (term, document).
        starts = np.flatnonzero(np.concatenate([[True], term_of[1:] != term_of[:-1]]))
        self.tids: IntArray = term_of[starts]
        self.offsets: IntArray = np.append(starts, term_of.shape[0]).astype(np.int64)
        self.docs: npt.NDArray[np.int32] = doc_of.astype(np.int32)
        self.tfs: FloatArray = tfs.astype(np.float32)

    @property
    def size(self) -> int:
        return int(self.docs.shape[0])

    def find(self, tid: int) -> tuple[npt.NDArray[np.int32], FloatArray] | None:
        i = int(np.searchsorted(self.tids, tid))
        if i == self.tids.shape[0] or int(self.tids[i]) != tid:
            return None
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.docs[lo:hi], self.tfs[lo:hi]


def _tier(segments: Sequence[_Segment], limit: float) -> list[_Segment]:
    """``segments`` with neighbours of similar size merged (newest first) within ``limit``.

    Neighbours only, so documents stay in order across segments.
    """
    out = list(segments)
    i = len(out) - 2
    while i >= 0:
        a, b = out[i], out[i + 1]
        if a.size <= SEGMENT_MERGE_RATIO * b.size and a.size + b.size <= limit:
            out[i:i + 2] = [_merge([a, b])]
            i = min(i, len(out) - 2)  # the merged one may now pair with its neighbours
        else:
            i -= 1
    return out


def _merge(segments: Sequence[_Segment]) -> _Segment:
    """One segment holding the postings of consecutive ``segments`` (in order)."""
    terms = np.concatenate([np.repeat(s.tids, np.diff(s.offsets)) for s in segments])
    # Stable: each term's documents stay ascending, as the segments come in order.
    order = np.argsort(terms, kind="stable")
    return _Segment(terms[order], np.concatenate([s.docs for s in segments])[order],
                    np.concatenate([s.tfs for s in segments])[order])


class _IntList:
    """A growable int64 vector (group members)."""

    __slots__ = ("data", "size")

    def __init__(self) -> None:
        self.data: IntArray = np.empty(8, dtype=np.int64)
        self.size = 0

    def append(self, value: int) -> None:
        if self.size == self.data.shape[0]:
            self.data = _grow(self.data, self.size * 2, self.size)
        self.data[self.size] = value
        self.size += 1

    def extend(self, values: IntArray) -> None:
        n = self.size + values.shape[0]
        if n > self.data.shape[0]:
            self.data = _grow(self.data, max(n, self.data.shape[0] * 2), self.size)
        self.data[self.size:n] = values
        self.size = n

    def view(self) -> IntArray:
        return self.data[: self.size]


def _cosines(vectors: FloatArray, query: FloatArray) -> FloatArray:
    """``vectors @ query`` without BLAS.

    A multi-threaded BLAS splits a 10k x 256 product across cores and then waits for
    its helper thread; on a busy host that wait is the p95 (measured 8-12 ms against
    0.4 ms). einsum runs on the calling thread and is as fast as one BLAS thread for a
    product this memory-bound.
    """
    out: FloatArray = np.einsum("ij,j->i", vectors, query)
    return out


def _grow(arr: Any, capacity: int, used: int) -> Any:
    grown = np.empty((capacity, *arr.shape[1:]), dtype=arr.dtype)
    grown[:used] = arr[:used]
    return grown


class HybridIndex:
    """Documents addressed by string id, searchable by BM25 and by cosine similarity.

    Thread-safe: the write path adds on the event loop while lanes search on worker
    threads. Searches return positions; :meth:`id_at` and :meth:`payload_at` resolve them.
    """

    def __init__(self, dimensions: int, *, pack: Callable[[Any], Any] | None = None,
                 unpack: Callable[[Any], Any] | None = None, ann: bool = False) -> None:
        self.dimensions = dimensions
        self._lock = threading.RLock()
        #: With ``ann``, vectors live in an approximate index (not in ``_vectors``).
        self.ann: OrgVectors | None = OrgVectors(dimensions, self._lock) if ann else None
        self._ids: list[str] = []
        #: Payloads are stored as ``pack(payload)`` and read as ``unpack(stored)``: a
        #: compact form the garbage collector need not track (see ``_caller_memory.pack_doc``).
        self._pack = pack
        self._unpack = unpack
        self._payloads: list[Any] = []
        self._pos: dict[str, int] = {}
        self._n = 0
        cap = 64
        self._created = np.zeros(cap, dtype=np.float64)
        self._group = np.zeros(cap, dtype=np.int64)
        self._doc_len = np.zeros(cap, dtype=np.float32)
        self._alive = np.zeros(cap, dtype=np.bool_)
        self._has_vec = np.zeros(cap, dtype=np.bool_)
        self._vectors: FloatArray = np.zeros((0 if ann else cap, dimensions),
                                             dtype=np.float32)
        #: term -> term id; postings refer to ids
        self._vocab: dict[str, int] = {}
        self._segments: list[_Segment] = []
        #: postings of single adds since the last segment: term id -> (docs, tfs)
        self._head: dict[int, tuple[list[int], list[int]]] = {}
        self._head_size = 0
        self._groups: dict[int, _IntList] = {}
        self._len_sum = 0.0
        self._alive_count = 0
        #: Documents ever removed; while zero a term's document frequency is its length.
        self._removed = 0

    # -- writing -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._alive_count

    def __contains__(self, doc_id: str) -> bool:
        pos = self._pos.get(doc_id)
        return pos is not None and bool(self._alive[pos])

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more documents at once (a load knows its size)."""
        with self._lock:
            self._reserve(self._n + extra, exact=True)

    def _reserve(self, n: int, *, exact: bool = False) -> None:
        cap = self._alive.shape[0]
        if n <= cap:
            return
        cap = n if exact else max(n, cap * 2)
        used = self._n
        self._created = _grow(self._created, cap, used)
        self._group = _grow(self._group, cap, used)
        self._doc_len = _grow(self._doc_len, cap, used)
        self._alive = _grow(self._alive, cap, used)
        self._has_vec = _grow(self._has_vec, cap, used)
        if self.ann is None:
            self._vectors = _grow(self._vectors, cap, used)

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
        """Add a document; re-adding a live id is ignored (writes are replayed).

        The write path's one-at-a-time add: its postings go to a small mutable head
        (a few microseconds, no numpy calls) that becomes a segment every
        ``HEAD_POSTINGS`` postings.
        """
        with self._lock:
            if self._replayed(doc_id, vector):
                return
            pos = self._n
            self._reserve(pos + 1)
            self._ids.append(doc_id)
            self._payloads.append(payload if self._pack is None else self._pack(payload))
            self._pos[doc_id] = pos
            self._created[pos] = created_at
            self._group[pos] = group
            self._doc_len[pos] = len(terms)
            self._alive[pos] = True
            self._has_vec[pos] = False
            self._len_sum += len(terms)
            self._alive_count += 1
            counts: dict[str, int] = {}
            for term in terms:
                counts[term] = counts.get(term, 0) + 1
            vocab, head = self._vocab, self._head
            for term, tf in counts.items():
                tid = vocab.get(term)
                if tid is None:
                    tid = vocab[term] = len(vocab)
                entry = head.get(tid)
                if entry is None:
                    head[tid] = ([pos], [tf])
                else:
                    entry[0].append(pos)
                    entry[1].append(tf)
            self._head_size += len(counts)
            self._group_list(group).append(pos)
            self._n = pos + 1
            if vector is not None:
                self._set_vector(pos, vector)
            if self._head_size >= HEAD_POSTINGS:
                self._flush_head(bulk=False)

    def _flush_head(self, bulk: bool) -> None:
        """Turn the head's postings into a segment (they follow every segment's)."""
        if not self._head:
            return
        rows = sorted(self._head.items())
        size = self._head_size
        term_of = np.repeat(np.fromiter((tid for tid, _ in rows), np.int64, count=len(rows)),
                            np.fromiter((len(e[0]) for _, e in rows), np.int64, count=len(rows)))
        docs = np.fromiter(chain.from_iterable(e[0] for _, e in rows), np.int64, count=size)
        tfs = np.fromiter(chain.from_iterable(e[1] for _, e in rows), np.int64, count=size)
        self._head = {}
        self._head_size = 0
        self._push_segment(_Segment(term_of, docs, tfs), bulk)

    def add_many(
        self,
        doc_ids: Sequence[str],
        terms: Sequence[Sequence[str]],
        *,
        created_at: Sequence[float],
        payloads: Sequence[Any],
        groups: Sequence[int] | None = None,
        vectors: Sequence[FloatArray | None] | None = None,
        bulk: bool = False,
    ) -> int:
        """Add a batch of documents, as :meth:`add` would one by one; returns how many.

        Postings are built with a few numpy operations per batch (one new segment)
        instead of a Python loop per term, which makes warm loads several times faster.
        Call it with slices of a few hundred documents when other threads search: the
        lock (and mostly the GIL) is held for one slice at a time. ``bulk`` says the
        caller is a load on a worker thread, where merging postings segments of any size
        is fine; on the event loop merges stay small and :meth:`compact` does the rest.
        """
        count = len(doc_ids)
        with self._lock:
            known = self._pos
            if len(set(doc_ids)) == count and not any(map(known.__contains__, doc_ids)):
                keep = list(range(count))  # the common case: all new
            else:
                keep = []
                seen: set[str] = set()
                for i, doc_id in enumerate(doc_ids):
                    vec = vectors[i] if vectors is not None else None
                    if doc_id in seen or self._replayed(doc_id, vec):
                        continue
                    seen.add(doc_id)
                    keep.append(i)
            if not keep:
                return 0
            if len(keep) != count:
                doc_ids = [doc_ids[i] for i in keep]
                terms = [terms[i] for i in keep]
                created_at = [created_at[i] for i in keep]
                payloads = [payloads[i] for i in keep]
                groups = None if groups is None else [groups[i] for i in keep]
                vectors = None if vectors is None else [vectors[i] for i in keep]
            m = len(keep)
            start = self._n
            self._reserve(start + m)
            end = start + m
            lengths = np.fromiter(map(len, terms), dtype=np.int64, count=m)
            self._ids.extend(doc_ids)
            self._payloads.extend(payloads if self._pack is None
                                  else map(self._pack, payloads))
            self._pos.update(zip(doc_ids, range(start, end), strict=True))
            self._created[start:end] = np.asarray(created_at, dtype=np.float64)
            group_codes = (np.zeros(m, dtype=np.int64) if groups is None
                           else np.asarray(groups, dtype=np.int64))
            self._group[start:end] = group_codes
            self._doc_len[start:end] = lengths
            self._alive[start:end] = True
            self._has_vec[start:end] = False
            self._len_sum += float(lengths.sum())
            self._alive_count += m
            self._flush_head(bulk)  # segments must stay in document order
            self._index_terms(terms, lengths, start, bulk)
            for code in np.unique(group_codes).tolist():
                members = np.flatnonzero(group_codes == code) + start
                self._group_list(code).extend(members)
            self._n = end
            if vectors is not None:
                have = np.fromiter((v is not None for v in vectors), dtype=np.bool_, count=m)
                rows = np.flatnonzero(have)
                present = [vec for vec in vectors if vec is not None]
                if present and self.ann is not None:
                    self.ann.add(rows + start, np.stack(present))
                elif present:
                    self._vectors[rows + start] = np.stack(present)
                self._has_vec[start:end] = have
        return m

    def _index_terms(self, terms: Sequence[Sequence[str]], lengths: IntArray,
                     start: int, bulk: bool) -> None:
        """Add a batch's postings as one new segment: numpy work, no loop per term."""
        flat = list(chain.from_iterable(terms))
        if not flat:
            return
        vocab = self._vocab
        # set.difference(dict) walks the batch's terms, not the whole vocabulary.
        new = set(flat).difference(vocab)
        if new:
            vocab.update(zip(new, range(len(vocab), len(vocab) + len(new)), strict=True))
        ids = itemgetter(*flat)(vocab) if len(flat) > 1 else (vocab[flat[0]],)
        tids = np.fromiter(ids, dtype=np.int64, count=len(flat))
        m = lengths.shape[0]
        docs = np.repeat(np.arange(m, dtype=np.int64), lengths)
        # One key per (term, document) pair, ordered by term then document; its count
        # is the term frequency.
        keys, tfs = np.unique(tids * m + docs, return_counts=True)
        self._push_segment(_Segment(keys // m, keys % m + start, tfs), bulk)

    def _push_segment(self, segment: _Segment, bulk: bool) -> None:
        # Size-tiered: merge the newest two while they are of similar size, which keeps
        # O(log n) segments for O(n log n) total work.
        limit = math.inf if bulk else SYNC_MERGE_MAX
        segments = [*self._segments, segment]
        while len(segments) > 1 and (
                len(segments) > MAX_SEGMENTS
                or (segments[-2].size <= SEGMENT_MERGE_RATIO * segments[-1].size
                    and segments[-2].size + segments[-1].size <= limit)):
            segments[-2:] = [_merge(segments[-2:])]
        self._segments = segments

    def compact(self, *, tiered: bool = False) -> bool:
        """Merge postings segments (CPU work: call it off the event loop).

        All into one, or with ``tiered`` size-tiered: the newest ones while they are of
        similar size, with no size limit (unlike merges on the event loop). An index
        that grows by small batches then keeps O(log n) segments and each posting is
        merged O(log n) times, where merging everything after every batch made a build
        quadratic. Merges run without the lock (segments are immutable; numpy's sort
        releases the GIL, so searches keep running) and are dropped if the segments
        changed meanwhile. Returns True when a merge was installed.
        """
        if tiered:
            return self._compact_tiered()
        with self._lock:
            self._flush_head(bulk=False)
            snapshot = list(self._segments)
        if len(snapshot) < 2:
            return False
        return self._install(snapshot, [_merge(snapshot)])

    def _compact_tiered(self) -> bool:
        # The event loop's adds merge the newest segments while they stay under
        # SYNC_MERGE_MAX, so a lock-free merge that includes them is usually undone by
        # the next add (measured: segments piled up to the forced-merge limit, and a
        # forced merge on the event loop is O(n)). Small tiers are therefore merged under
        # the lock (bounded, a few ms), and only segments too big for the event loop's
        # merges are merged without it.
        with self._lock:
            self._flush_head(bulk=False)
            segments = list(self._segments)
            merged_small = _tier(segments, LOCKED_MERGE_MAX)
            if len(merged_small) != len(segments):
                self._segments = merged_small
            snapshot = [seg for seg in itertools.takewhile(
                lambda seg: seg.size > SYNC_MERGE_MAX, merged_small)]
        planned = _tier(snapshot, math.inf)
        if len(planned) == len(snapshot):
            return len(merged_small) != len(segments)
        return self._install(snapshot, planned)

    def _install(self, snapshot: list[_Segment], merged: list[_Segment]) -> bool:
        with self._lock:
            current = self._segments
            if len(current) < len(snapshot) or any(
                    a is not b for a, b in zip(current, snapshot, strict=False)):
                return False
            self._segments = [*merged, *current[len(snapshot):]]
        return True

    def _replayed(self, doc_id: str, vector: FloatArray | None) -> bool:
        """True when ``doc_id`` is live already (filling in its vector if it had none)."""
        old = self._pos.get(doc_id)
        if old is None or not self._alive[old]:
            return False
        if vector is not None and not self._has_vec[old]:
            self._set_vector(old, vector)
        return True

    def _group_list(self, group: int) -> _IntList:
        members = self._groups.get(group)
        if members is None:
            members = self._groups[group] = _IntList()
        return members

    def set_vector(self, doc_id: str, vector: FloatArray) -> None:
        with self._lock:
            pos = self._pos.get(doc_id)
            if pos is not None and self._alive[pos]:
                self._set_vector(pos, vector)

    def _set_vector(self, pos: int, vector: FloatArray) -> None:
        if self.ann is not None:
            if self._has_vec[pos]:
                self.ann.remove(pos)
            self.ann.add(np.array([pos], dtype=np.int64), vector[None, :])
        else:
            self._vectors[pos] = vector
        self._has_vec[pos] = True

    def remove(self, doc_id: str) -> bool:
        """Hide a document from every search (its postings are skipped, not rewritten)."""
        with self._lock:
            pos = self._pos.get(doc_id)
            if pos is None or not self._alive[pos]:
                return False
            self._alive[pos] = False
            if self.ann is not None and self._has_vec[pos]:
                self.ann.remove(pos)
            self._alive_count -= 1
            self._removed += 1
            self._len_sum -= float(self._doc_len[pos])
            return True

    def maintain(self, threads: int = 0) -> None:
        """Background upkeep after a batch of writes (CPU work: off the event loop).

        Merges postings segments size-tiered (each merge joins segments of similar size,
        so a run of small appends costs O(log n) per posting in total, not a full merge
        per batch) and moves queued vectors into the approximate index.
        """
        self.compact(tiered=True)
        if self.ann is not None:
            self.ann.flush(threads)

    def restore_vectors(self, raw: bytes, center: FloatArray, keys: IntArray,
                        ids: Sequence[str]) -> IntArray:
        """Install a saved approximate index whose ``keys`` hold the vectors of ``ids``.

        Keys of ids that are no longer live are dropped. Returns the positions that got
        a vector, so the caller can add the rest from the store.
        """
        assert self.ann is not None
        with self._lock:
            pos_of = self._pos
            alive = self._alive
            positions = np.fromiter(
                ((p if (p := pos_of.get(i)) is not None and alive[p] else -1) for i in ids),
                dtype=np.int64, count=len(ids))
            self.ann.restore(raw, center, keys, positions)
            got = positions[positions >= 0]
            self._has_vec[got] = True
        return got

    # -- reading -------------------------------------------------------------------------
    def position_of(self, doc_id: str) -> int | None:
        """The position of a live document, or None."""
        pos = self._pos.get(doc_id)
        return pos if pos is not None and bool(self._alive[pos]) else None

    def id_at(self, pos: int) -> str:
        return self._ids[pos]

    def payload_of(self, doc_id: str) -> Any | None:
        """The payload of live document ``doc_id``, or None."""
        pos = self._pos.get(doc_id)
        if pos is None or not self._alive[pos]:
            return None
        return self.payload_at(pos)

    def payload_at(self, pos: int) -> Any:
        raw = self._payloads[pos]
        return raw if self._unpack is None else self._unpack(raw)

    def vector_at(self, pos: int) -> FloatArray | None:
        with self._lock:
            if not self._has_vec[pos]:
                return None
            if self.ann is not None:
                return self.ann.vector_at(pos)
            vec: FloatArray = self._vectors[pos].copy()
        return vec

    def vectors_at(self, positions: IntArray) -> FloatArray:
        """The vectors at ``positions`` (zero rows where a document has none yet)."""
        with self._lock:
            rows: FloatArray = np.where(self._has_vec[positions][:, None],
                                        self._vectors[positions], 0.0).astype(np.float32)
        return rows

    def created_at(self, positions: IntArray) -> npt.NDArray[np.float64]:
        with self._lock:
            created: npt.NDArray[np.float64] = self._created[positions]
        return created

    def term_counts_at(self, positions: IntArray) -> npt.NDArray[np.float32]:
        """How many indexed terms each of ``positions`` has (its BM25 length)."""
        with self._lock:
            counts: npt.NDArray[np.float32] = self._doc_len[positions]
        return counts

    def groups_at(self, positions: IntArray) -> IntArray:
        """The group of each of ``positions`` (positions past the end get ``-1 << 62``)."""
        with self._lock:
            n = self._n
            out: IntArray = np.full(positions.shape[0], NO_GROUP, dtype=np.int64)
            inside = (positions >= 0) & (positions < n)
            out[inside] = self._group[positions[inside]]
        return out

    def alive_at(self, positions: IntArray) -> BoolArray:
        """Whether each of ``positions`` holds a live (not removed) document."""
        with self._lock:
            n = self._n
            out: BoolArray = np.zeros(positions.shape[0], dtype=np.bool_)
            inside = (positions >= 0) & (positions < n)
            out[inside] = self._alive[positions[inside]]
        return out

    def created_between(self, start: float, end: float) -> IntArray:
        """Positions (ascending) of the documents created within ``[start, end]``."""
        with self._lock:
            created = self._created[: self._n]
            found: IntArray = np.flatnonzero((created >= start) & (created <= end))
        return found

    def created_mask(self, min_created: float) -> BoolArray:
        """Documents created at or after ``min_created`` (retention)."""
        with self._lock:
            mask: BoolArray = self._created[: self._n] >= min_created
        return mask

    def group_positions(self, groups: Sequence[int]) -> IntArray:
        """Positions (ascending, removed ones included) of the documents in ``groups``."""
        with self._lock:
            parts = [self._groups[g].view() for g in dict.fromkeys(groups) if g in self._groups]
            if not parts:
                return np.zeros(0, dtype=np.int64)
            out: IntArray = parts[0].copy() if len(parts) == 1 else np.sort(
                np.concatenate(parts))
        return out

    def group_mask(self, groups: Sequence[int], *, include: bool = True) -> BoolArray:
        """Documents whose group is (or, with ``include=False``, is not) in ``groups``."""
        with self._lock:
            mask = np.zeros(self._n, dtype=np.bool_)
            mask[self.group_positions(groups)] = True
        return mask if include else ~mask

    def _resolve(self, where: Where | None, n: int) -> tuple[IntArray | None, BoolArray]:
        """``where`` as (explicit positions or None, live-and-allowed mask over ``n``).

        With positions, only those documents qualify and the mask is aligned to them;
        without, the mask covers every position. Called with the lock held.
        """
        alive = self._alive[:n]
        if where is None:
            return None, alive
        if where.groups is not None or where.positions is not None:
            if where.positions is None:
                assert where.groups is not None
                members = self.group_positions(where.groups)
            else:
                members = where.positions[where.positions < n]
                if where.groups is not None:
                    members = members[np.isin(self._group[members], where.groups)]
            if where.exclude_groups:
                members = members[~np.isin(self._group[members], where.exclude_groups)]
            if members.shape[0] <= GATHER_MAX:
                ok = alive[members]
                if where.min_created is not None:
                    ok &= self._created[members] >= where.min_created
                if where.max_created is not None:
                    ok &= self._created[members] <= where.max_created
                return members, ok
            mask = np.zeros(n, dtype=np.bool_)
            mask[members] = True
            mask &= alive
        else:
            mask = alive.copy()
            if where.exclude_groups:
                mask[self.group_positions(where.exclude_groups)] = False
        if where.min_created is not None:
            mask &= self._created[:n] >= where.min_created
        if where.max_created is not None:
            mask &= self._created[:n] <= where.max_created
        return None, mask

    def search(self, terms: Sequence[str], vector: FloatArray | None, k: int,
               where: Where | None = None) -> tuple[Ranked, Ranked]:
        """BM25 and cosine top ``k`` under one filter, resolved once under the lock."""
        with self._lock:
            n = self._n
            if not n or not self._alive_count:
                return Ranked.empty(), Ranked.empty()
            members, ok = self._resolve(where, n)
            keyword = self._bm25(terms, k, n, members, ok)
            dense = (self._dense(vector, k, n, members, ok) if vector is not None
                     else Ranked.empty())
        return keyword, dense

    def search_cost(self, terms: Sequence[str], dense: bool) -> int:
        """Rows a :meth:`search` would touch: vectors scored plus postings read.

        Cheap to compute (no scoring); the engine uses it to run small searches inline
        instead of paying a thread hand-off.
        """
        with self._lock:
            rows = 0
            if dense:
                rows = self._n if self.ann is None else self.ann.cost()
            for term in dict.fromkeys(terms):
                tid = self._vocab.get(term)
                if tid is not None:
                    for seg in self._segments:
                        found = seg.find(tid)
                        if found is not None:
                            rows += found[0].shape[0]
                    entry = self._head.get(tid)
                    rows += len(entry[0]) if entry is not None else 0
        return rows

    def bm25(self, terms: Sequence[str], k: int, mask: BoolArray | None = None) -> Ranked:
        """Top ``k`` documents by Okapi BM25 for the query ``terms``.

        ``mask`` may predate documents added since: it is aligned to the index, and
        documents it does not cover are left out.
        """
        with self._lock:
            n = self._n
            if not n or not self._alive_count:
                return Ranked.empty()
            return self._bm25(terms, k, n, None, self._with_mask(mask, n))

    def dense(self, query: FloatArray, k: int, mask: BoolArray | None = None) -> Ranked:
        """Top ``k`` documents by cosine similarity to the unit vector ``query``."""
        with self._lock:
            n = self._n
            if not n:
                return Ranked.empty()
            return self._dense(query, k, n, None, self._with_mask(mask, n))

    def _with_mask(self, mask: BoolArray | None, n: int) -> BoolArray:
        alive = self._alive[:n]
        if mask is None:
            return alive
        if mask.shape[0] < n:  # computed before later adds: those are not selected
            mask = np.concatenate([mask, np.zeros(n - mask.shape[0], dtype=np.bool_)])
        out: BoolArray = alive & mask[:n]
        return out

    def _bm25(self, terms: Sequence[str], k: int, n: int, members: IntArray | None,
              ok: BoolArray) -> Ranked:
        if not terms:
            return Ranked.empty()
        doc_len = self._doc_len
        avgdl = max(self._len_sum / self._alive_count, 1.0)
        total = self._alive_count
        scores: FloatArray | None = None
        touched: list[npt.NDArray[np.int32]] = []
        segments = self._segments
        for term in dict.fromkeys(terms):
            tid = self._vocab.get(term)
            if tid is None:
                continue
            parts = [found for seg in segments if (found := seg.find(tid)) is not None]
            entry = self._head.get(tid)
            if entry is not None:
                parts.append((np.array(entry[0], dtype=np.int32),
                              np.array(entry[1], dtype=np.float32)))
            if not parts:
                continue
            docs, tfs = parts[0] if len(parts) == 1 else (
                np.concatenate([d for d, _ in parts]), np.concatenate([t for _, t in parts]))
            # Removed documents keep their postings; count only live ones.
            df = int(docs.shape[0]) if not self._removed else int(self._alive[docs].sum())
            if df == 0:
                continue
            idf = math.log(1.0 + (total - df + 0.5) / (df + 0.5))
            norm = BM25_K1 * (1.0 - BM25_B + BM25_B * doc_len[docs] / avgdl)
            contrib = idf * tfs * (BM25_K1 + 1.0) / (tfs + norm)
            if scores is None:
                scores = np.zeros(n, dtype=np.float32)
            # A term lists each document once, so fancy-index accumulation is exact.
            scores[docs] += contrib
            touched.append(docs)
        if scores is None:
            return Ranked.empty()
        if members is not None:
            sub = scores[members]
            hit = ok & (sub > 0)
            top = _top(sub, hit, k)
            return Ranked(members[top.positions], top.scores)
        # The matched documents, ascending: from the postings when they are few (an org
        # index of 100k chunks), by scanning the scores otherwise.
        if sum(d.shape[0] for d in touched) * 8 < n:
            candidates = np.unique(np.concatenate(touched)).astype(np.int64)
        else:
            candidates = np.flatnonzero(scores)
        candidates = candidates[ok[candidates]]
        return _top_of(candidates, scores[candidates], k)

    def _dense(self, query: FloatArray, k: int, n: int, members: IntArray | None,
               ok: BoolArray) -> Ranked:
        has_vec = self._has_vec
        if self.ann is not None:
            if members is not None:
                allowed = np.zeros(n, dtype=np.bool_)
                allowed[members[ok]] = True
            else:
                allowed = ok
            # Rows are added before their vectors, so every position the ANN holds is < n.
            positions, scores = self.ann.search(query, k, allowed.__getitem__)
            return _top_of(positions, scores, k)
        if members is not None:
            keep = members[ok & has_vec[members]]
            if not keep.shape[0]:
                return Ranked.empty()
            return _top_of(keep, _cosines(self._vectors[keep], query), k)
        scores = _cosines(self._vectors[:n], query)
        return _top(scores, ok & has_vec[:n], k)


def _top_of(positions: IntArray, scores: npt.NDArray[np.floating], k: int) -> Ranked:
    """Top ``k`` of (positions, scores) pairs, best first."""
    if not positions.shape[0] or k <= 0:
        return Ranked.empty()
    if positions.shape[0] > k:
        part = np.argpartition(-scores, k - 1)[:k]
        positions, scores = positions[part], scores[part]
    order = np.argsort(-scores, kind="stable")
    return Ranked(positions[order].astype(np.int64), scores[order].astype(np.float32))


def _top(scores: npt.NDArray[np.floating], valid: BoolArray, k: int) -> Ranked:
    candidates = np.flatnonzero(valid)
    if not len(candidates) or k <= 0:
        return Ranked.empty()
    return _top_of(candidates, scores[candidates], k)
