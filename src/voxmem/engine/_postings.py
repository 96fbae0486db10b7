"""BM25 postings of an in-memory index: segments, size-tiered merging and scoring.

Postings live in immutable term-major segments (one per batch of adds, merged
size-tiered) plus a small mutable head for one-at-a-time adds. A bulk load builds a
segment with a sort instead of a Python loop per term, and a query reads each term's
postings as slices of a few arrays. Documents are addressed by position (the owning
:class:`~voxmem.engine._index.HybridIndex` row); which positions are live or allowed
is the caller's business, passed in at query time.
"""

from __future__ import annotations

import itertools
import math
import struct
import threading
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from ._bm25 import (
    BM25_B,
    BM25_K1,
    PRUNE_MIN_POSTINGS,
    TermPostings,
    dense_scores,
    factor_bound,
    length_norms,
    term_bound,
    top_k,
)
from ._ranked import BoolArray, FloatArray, IntArray, Ranked, grow, top

__all__ = ["BM25_B", "BM25_K1", "Postings", "Segment"]
#: Adding merges the newest segments while they are of similar size and small enough to
#: merge in well under a millisecond, which keeps a few segments per index;
#: :meth:`Postings.compact` merges the rest off the event loop after loads and builds.
SEGMENT_MERGE_RATIO = 2
SYNC_MERGE_MAX = 32_768
#: Upkeep merges segments up to this size under the index lock (~10-20 ms of sorting).
LOCKED_MERGE_MAX = 262_144
HEAD_POSTINGS = 4_096
# One head posting: (document position, term frequency) as two little-endian int64s.
_pack_posting = struct.Struct("<qq").pack
_POSTING_BYTES = 16
_POSTING_DTYPE = np.dtype("<i8")
MAX_SEGMENTS = 48


class Segment:
    """Postings of a run of consecutive documents, term-major (compressed sparse rows).

    Immutable once built: a search can read it without copying while a writer appends
    new segments or swaps merged ones in.
    """

    __slots__ = ("_bound_avgdl", "_bounds", "docs", "offsets", "tfs", "tids")

    def __init__(self, term_of: IntArray, doc_of: IntArray, tfs: Any) -> None:
        # Postings arrive ordered by (term, document).
        starts = np.flatnonzero(np.concatenate([[True], term_of[1:] != term_of[:-1]]))
        self.tids: IntArray = term_of[starts]
        self.offsets: IntArray = np.append(starts, term_of.shape[0]).astype(np.int64)
        self.docs: npt.NDArray[np.int32] = doc_of.astype(np.int32)
        self.tfs: FloatArray = tfs.astype(np.float32)
        self._bounds: dict[int, float] = {}
        self._bound_avgdl = 0.0

    @classmethod
    def of_parts(cls, tids: IntArray, offsets: IntArray, docs: npt.NDArray[np.int32],
                 tfs: FloatArray) -> Segment:
        """A segment from arrays already in its layout (a persisted index's views)."""
        seg = cls.__new__(cls)
        seg.tids, seg.offsets, seg.docs, seg.tfs = tids, offsets, docs, tfs
        seg._bounds, seg._bound_avgdl = {}, 0.0
        return seg

    @property
    def size(self) -> int:
        return int(self.docs.shape[0])

    def locate(self, tid: int) -> int:
        """The row of term id ``tid`` in this segment, or -1."""
        # The array's method: np.searchsorted's dispatch wrapper cost twice the search
        # (a query locates each term in every segment, twice: its cost, then its search).
        i = int(self.tids.searchsorted(tid))
        return i if i < self.tids.shape[0] and int(self.tids[i]) == tid else -1

    def find(self, tid: int) -> tuple[npt.NDArray[np.int32], FloatArray] | None:
        """The documents and term frequencies of term id ``tid``, or None."""
        i = self.locate(tid)
        if i < 0:
            return None
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.docs[lo:hi], self.tfs[lo:hi]

    def factor_bound(self, i: int, doc_len: FloatArray, avgdl: float) -> float:
        """An upper bound of row ``i``'s BM25 term factor at average length ``avgdl``
        (``_bm25.factor_bound``).

        Computed over the row's postings on first use and kept (the segment, and the
        lengths of its documents, never change), at the average length of that moment;
        later averages scale it.
        """
        if not self._bound_avgdl:
            self._bound_avgdl = avgdl
        bound = self._bounds.get(i)
        if bound is None:
            lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
            bound = self._bounds[i] = factor_bound(self.tfs[lo:hi], doc_len[self.docs[lo:hi]],
                                                   self._bound_avgdl)
        return bound * max(1.0, avgdl / self._bound_avgdl)


def tier(segments: Sequence[Segment], limit: float) -> list[Segment]:
    """``segments`` with neighbours of similar size merged (newest first) within ``limit``.

    Neighbours only, so documents stay in order across segments.
    """
    out = list(segments)
    i = len(out) - 2
    while i >= 0:
        a, b = out[i], out[i + 1]
        if a.size <= SEGMENT_MERGE_RATIO * b.size and a.size + b.size <= limit:
            out[i:i + 2] = [merge([a, b])]
            i = min(i, len(out) - 2)  # the merged one may now pair with its neighbours
        else:
            i -= 1
    return out


def merge(segments: Sequence[Segment]) -> Segment:
    """One segment holding the postings of consecutive ``segments`` (in order)."""
    terms = np.concatenate([np.repeat(s.tids, np.diff(s.offsets)) for s in segments])
    # Stable: each term's documents stay ascending, as the segments come in order.
    order = np.argsort(terms, kind="stable")
    return Segment(terms[order], np.concatenate([s.docs for s in segments])[order],
                   np.concatenate([s.tfs for s in segments])[order])


class Postings:
    """Term postings and document lengths of positions ``0..n-1``, scored by BM25.

    Shares the owning index's lock: writes and searches are called with it held, and
    :meth:`compact` takes it itself (it merges without it, then swaps under it).
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        #: term -> term id; postings refer to ids
        self.vocab: dict[str, int] = {}
        self.segments: list[Segment] = []
        #: postings of single adds since the last segment: term id -> packed (doc, tf)
        #: pairs. A ``bytearray`` is not tracked by the cyclic collector (a list, a tuple
        #: and ``array.array`` are): two lists and a tuple per term were ~90 tracked
        #: containers per saved turn, each surviving into the old generations for the
        #: collector to scan again and again (docs/performance.md).
        self._head: dict[int, bytearray] = {}
        self._head_size = 0
        self.doc_len = np.zeros(64, dtype=np.float32)
        #: Zeros over every position: a search adds its scores here and clears what it
        #: touched (allocating and zeroing n scores per search was ~0.5 ms at 1M rows).
        #: Made on the first search that needs it: a caller's searches are filtered to
        #: its members and never do.
        self._scratch: npt.NDArray[np.float64] | None = None
        #: Total length of the live documents (BM25's average document length).
        self.len_sum = 0.0
        #: Counts writes to the lengths: :meth:`_norms` keeps its array for one count.
        self._version = 0
        #: (version, average length, every position's length norm) once computed, and
        #: the version a search last saw without it (see :meth:`_norms`).
        self._norm_cache: tuple[int, float, npt.NDArray[np.float64]] | None = None
        self._norm_seen = -1

    @property
    def version(self) -> int:
        """Counts writes: adds, removals, installs (a search's answer depends on no more)."""
        return self._version

    def reserve(self, capacity: int, used: int) -> None:
        if capacity > self.doc_len.shape[0]:
            self.doc_len = grow(self.doc_len, capacity, used)
            # The kept norms (``_norms``) cover the whole array: what np.empty left past
            # ``used`` could read as a signalling NaN (a warning per process).
            self.doc_len[used:] = 0.0
            self._scratch = None
            self._version += 1

    # -- writing -------------------------------------------------------------------------
    def add(self, pos: int, terms: Sequence[str]) -> None:
        """Index one document (the write path): a few microseconds, no numpy calls.

        Its postings go to the head, which becomes a segment every ``HEAD_POSTINGS``.
        """
        self.doc_len[pos] = len(terms)
        self.len_sum += len(terms)
        self._version += 1
        counts: dict[str, int] = {}
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
        vocab, head = self.vocab, self._head
        for term, tf in counts.items():
            tid = vocab.get(term)
            if tid is None:
                tid = vocab[term] = len(vocab)
            entry = head.get(tid)
            if entry is None:
                head[tid] = bytearray(_pack_posting(pos, tf))
            else:
                entry += _pack_posting(pos, tf)
        self._head_size += len(counts)
        if self._head_size >= HEAD_POSTINGS:
            self.flush_head(bulk=False)

    def add_many(self, terms: Sequence[Sequence[str]], start: int, bulk: bool) -> None:
        """Index documents ``start, start + 1, ...`` as one new segment.

        Numpy work, no loop per term. ``bulk``: the caller is a load on a worker thread,
        where merging segments of any size is fine.
        """
        m = len(terms)
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=m)
        self.doc_len[start:start + m] = lengths
        self.len_sum += float(lengths.sum())
        self._version += 1
        self.flush_head(bulk)  # segments must stay in document order
        flat = list(chain.from_iterable(terms))
        if not flat:
            return
        vocab = self.vocab
        # set.difference(dict) walks the batch's terms, not the whole vocabulary.
        new = set(flat).difference(vocab)
        if new:
            vocab.update(zip(new, range(len(vocab), len(vocab) + len(new)), strict=True))
        ids = itemgetter(*flat)(vocab) if len(flat) > 1 else (vocab[flat[0]],)
        tids = np.fromiter(ids, dtype=np.int64, count=len(flat))
        docs = np.repeat(np.arange(m, dtype=np.int64), lengths)
        # One key per (term, document) pair, ordered by term then document; its count
        # is the term frequency.
        keys, tfs = np.unique(tids * m + docs, return_counts=True)
        self._push(Segment(keys // m, keys % m + start, tfs), bulk)

    def remove(self, pos: int) -> None:
        """Take a removed document out of the length statistics (postings stay)."""
        self.len_sum -= float(self.doc_len[pos])
        self._version += 1

    def flush_head(self, bulk: bool) -> None:
        """Turn the head's postings into a segment (they follow every segment's)."""
        if not self._head:
            return
        rows = sorted(self._head.items())
        term_of = np.repeat(np.fromiter((tid for tid, _ in rows), np.int64, count=len(rows)),
                            np.fromiter((len(e) // _POSTING_BYTES for _, e in rows), np.int64,
                                        count=len(rows)))
        pairs = np.frombuffer(b"".join(e for _, e in rows), dtype=_POSTING_DTYPE)
        docs, tfs = pairs[0::2], pairs[1::2]
        self._head = {}
        self._head_size = 0
        self._push(Segment(term_of, docs, tfs), bulk)

    def _push(self, segment: Segment, bulk: bool) -> None:
        # Size-tiered: merge the newest two while they are of similar size, which keeps
        # O(log n) segments for O(n log n) total work.
        limit = math.inf if bulk else SYNC_MERGE_MAX
        segments = [*self.segments, segment]
        while len(segments) > 1 and (
                len(segments) > MAX_SEGMENTS
                or (segments[-2].size <= SEGMENT_MERGE_RATIO * segments[-1].size
                    and segments[-2].size + segments[-1].size <= limit)):
            segments[-2:] = [merge(segments[-2:])]
        self.segments = segments

    def compact(self, *, tiered: bool = False) -> bool:
        """Merge segments (CPU work: call it off the event loop).

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
            self.flush_head(bulk=False)
            snapshot = list(self.segments)
        if len(snapshot) < 2:
            return False
        return self._install(snapshot, [merge(snapshot)])

    def _compact_tiered(self) -> bool:
        # The event loop's adds merge the newest segments while they stay under
        # SYNC_MERGE_MAX, so a lock-free merge that includes them is usually undone by
        # the next add (measured: segments piled up to the forced-merge limit, and a
        # forced merge on the event loop is O(n)). Small tiers are therefore merged under
        # the lock (bounded, a few ms), and only segments too big for the event loop's
        # merges are merged without it.
        with self._lock:
            self.flush_head(bulk=False)
            segments = list(self.segments)
            merged_small = tier(segments, LOCKED_MERGE_MAX)
            if len(merged_small) != len(segments):
                self.segments = merged_small
            snapshot = list(itertools.takewhile(
                lambda seg: seg.size > SYNC_MERGE_MAX, merged_small))
        planned = tier(snapshot, math.inf)
        if len(planned) == len(snapshot):
            return len(merged_small) != len(segments)
        return self._install(snapshot, planned)

    def _install(self, snapshot: list[Segment], merged: list[Segment]) -> bool:
        with self._lock:
            current = self.segments
            if len(current) < len(snapshot) or any(
                    a is not b for a, b in zip(current, snapshot, strict=False)):
                return False
            self.segments = [*merged, *current[len(snapshot):]]
        return True

    # -- persistence ---------------------------------------------------------------------
    def export(self) -> tuple[list[str], list[Segment], float]:
        """The vocabulary (terms in term-id order), the segments and the length total, as
        of now (call with the lock held; segments are immutable, so they may be read
        after it is released)."""
        self.flush_head(bulk=True)
        # Term ids are handed out in insertion order and never reused, so the dict's
        # order is term-id order.
        return list(self.vocab), list(self.segments), self.len_sum

    def install(self, terms: list[str], segments: list[Segment], doc_len: FloatArray,
                len_sum: float) -> None:
        """Take over a persisted state for positions ``0 .. len(doc_len) - 1`` (an index
        that holds no documents yet; call with the lock held)."""
        self.vocab = dict(zip(terms, range(len(terms)), strict=True))
        self.segments = segments
        self._head, self._head_size = {}, 0
        n = doc_len.shape[0]
        self.reserve(n, 0)
        self.doc_len[:n] = doc_len
        self.len_sum = len_sum
        self._version += 1

    # -- reading -------------------------------------------------------------------------
    def cost(self, terms: Sequence[str]) -> int:
        """Postings a search for ``terms`` would read (no scoring)."""
        rows = 0
        for term in dict.fromkeys(terms):
            tid = self.vocab.get(term)
            if tid is not None:
                for seg in self.segments:
                    found = seg.find(tid)
                    if found is not None:
                        rows += found[0].shape[0]
                entry = self._head.get(tid)
                rows += len(entry) // _POSTING_BYTES if entry is not None else 0
        return rows

    def doc_freq(self, term: str, alive: BoolArray | None) -> int:
        """Live documents listing ``term`` (``alive`` as for :meth:`search`)."""
        found = self._term(term)
        if found is None:
            return 0
        return int(found[0].shape[0]) if alive is None else int(alive[found[0]].sum())

    def _term(self, term: str) -> tuple[npt.NDArray[np.int32], FloatArray] | None:
        """All of ``term``'s postings as one pair of arrays (documents ascending)."""
        tid = self.vocab.get(term)
        if tid is None:
            return None
        parts = self._parts(tid)[0]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([d for d, _ in parts]), np.concatenate([t for _, t in parts])

    def search(self, terms: Sequence[str], k: int, n: int, members: IntArray | None,
               ok: BoolArray, live: int, alive: BoolArray | None) -> Ranked:
        """Top ``k`` by Okapi BM25 among the allowed documents (``_bm25.py``).

        ``members``/``ok`` are a resolved filter (see ``_filters.Columns.resolve``);
        ``live`` counts the live documents; ``alive`` marks them, or is None while no
        document was ever removed (then a term's document frequency is its length).
        Without ``members``, a query over many postings is pruned (MaxScore) to the same
        top ``k``; ties go to the lower position.
        """
        if not terms:
            return Ranked.empty()
        doc_len = self.doc_len
        avgdl = max(self.len_sum / live, 1.0)
        query: list[TermPostings] = []
        located: list[list[tuple[Segment | None, int]]] = []
        for term in dict.fromkeys(terms):
            tid = self.vocab.get(term)
            if tid is None:
                continue
            parts, where = self._parts(tid)
            if not parts:
                continue
            size = sum(int(d.shape[0]) for d, _ in parts)
            # Removed documents keep their postings; count only live ones.
            df = size if alive is None else sum(int(alive[d].sum()) for d, _ in parts)
            if df == 0:
                continue
            query.append(TermPostings(parts, math.log(1.0 + (live - df + 0.5) / (df + 0.5)),
                                      size))
            located.append(where)
        if not query:
            return Ranked.empty()
        norms = self._norms(avgdl)
        if members is not None:
            scores = dense_scores(query, n, doc_len, avgdl, norms)
            sub = scores[members]
            best = top(sub, ok & (sub > 0), k)
            return Ranked(members[best.positions], best.scores)
        prune = len(query) > 1 and sum(t.size for t in query) >= PRUNE_MIN_POSTINGS
        if prune:
            for scored, where in zip(query, located, strict=True):
                factor = max(
                    seg.factor_bound(i, doc_len, avgdl) if seg is not None
                    else factor_bound(tfs, doc_len[docs], avgdl)
                    for (seg, i), (docs, tfs) in zip(where, scored.parts, strict=True))
                scored.bound = term_bound(scored.idf, factor)
        if self._scratch is None:
            self._scratch = np.zeros(doc_len.shape[0], dtype=np.float64)
        return top_k(query, k, ok, doc_len, avgdl, self._scratch, prune, norms)

    def _norms(self, avgdl: float) -> npt.NDArray[np.float64] | None:
        """Every position's BM25 length norm at ``avgdl`` (``_bm25.length_norms``), or
        None where a search computes its postings' own.

        A query's postings each took five array passes for their norm (a third of
        ``contributions``); one gather from this array gives the same values. It is
        computed on the second search that sees the lengths unchanged (each write
        changes them, and an index being filled would compute it for one search only)
        and kept until the next write: 8 bytes a position.
        """
        cached = self._norm_cache
        if cached is not None and cached[0] == self._version and cached[1] == avgdl:
            return cached[2]
        if self._norm_seen != self._version:
            self._norm_seen = self._version
            return None
        norms = length_norms(self.doc_len, avgdl)
        self._norm_cache = (self._version, avgdl, norms)
        return norms

    def _parts(self, tid: int) -> tuple[list[tuple[npt.NDArray[np.int32], FloatArray]],
                                         list[tuple[Segment | None, int]]]:
        """Term ``tid``'s postings per segment (in document order) and in the head, and
        where each came from (segment and row, or None for the head)."""
        parts: list[tuple[npt.NDArray[np.int32], FloatArray]] = []
        where: list[tuple[Segment | None, int]] = []
        for seg in self.segments:
            i = seg.locate(tid)
            if i >= 0:
                lo, hi = int(seg.offsets[i]), int(seg.offsets[i + 1])
                parts.append((seg.docs[lo:hi], seg.tfs[lo:hi]))
                where.append((seg, i))
        entry = self._head.get(tid)
        if entry is not None:
            pairs = np.frombuffer(bytes(entry), dtype=_POSTING_DTYPE)  # the head grows
            parts.append((pairs[0::2].astype(np.int32), pairs[1::2].astype(np.float32)))
            where.append((None, -1))
        return parts, where
