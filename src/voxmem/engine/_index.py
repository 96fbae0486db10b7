"""In-memory hybrid search index: BM25 postings plus dense vectors.

Recall has a budget of a few milliseconds, so each caller's memory and each project's
org knowledge are searched in memory, loaded from the store and kept current by the
write path. The store stays the source of truth; this is a cache that can be rebuilt.

:class:`HybridIndex` addresses documents by string id and gives each a position (rows
are only appended; removal hides a row). It composes three parts that work on
positions, each owning its arrays (numpy, grown with headroom, so a query works on
views of the first ``n`` rows and does no Python work proportional to the index size):

- :class:`~._postings.Postings`: BM25 postings in size-tiered segments, and scoring;
- :class:`~._vectors.VectorStore`: an exact vector matrix, or an approximate index
  (``ann``: a project's org knowledge, up to millions of chunks);
- :class:`~._filters.Columns`: creation time, group and liveness per row, which
  resolve a :class:`Where` filter under the index lock at query time.

This class keeps the id <-> position bookkeeping and the payloads, holds the one lock
the parts share, and runs a search as: resolve the filter once, then score both sides.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._filters import Columns, Where
from ._id_tables import BytesArray, IdTable, ListIds
from ._org_vectors import OrgVectors
from ._payloads import FileRecords, PackedRecords
from ._postings import Postings, Segment
from ._ranked import BoolArray, FloatArray, IntArray, Ranked
from ._vectors import Scan, VectorStore

__all__ = ["BoolArray", "FloatArray", "HybridIndex", "IntArray", "Ranked", "RowsState", "Where"]


@dataclasses.dataclass(frozen=True, slots=True)
class RowsState:
    """What :meth:`HybridIndex.export_rows` returns: live rows (at ``positions``, of
    ``rows`` in use) and the postings of every position."""

    positions: IntArray
    rows: int
    ids: BytesArray
    created: npt.NDArray[np.float64]
    groups: IntArray
    has_vector: BoolArray
    doc_len: FloatArray
    terms: list[str]
    segments: list[Segment]
    len_sum: float


class HybridIndex:
    """Documents addressed by string id, searchable by BM25 and by cosine similarity.

    Thread-safe: the write path adds on the event loop while lanes search on worker
    threads. Searches return positions; :meth:`id_at` and :meth:`payload_at` resolve them.
    """

    def __init__(self, dimensions: int, *, encode: Callable[[Any], bytes] | None = None,
                 decode: Callable[[bytes], Any] | None = None, ann: bool = False,
                 records: FileRecords | None = None, scratch_dir: Path | None = None,
                 ids: IdTable | None = None) -> None:
        self.dimensions = dimensions
        self._lock = threading.RLock()
        self.postings = Postings(self._lock)
        self.vectors = VectorStore(dimensions, self._lock, ann=ann, scratch_dir=scratch_dir)
        self.columns = Columns(self._lock)
        #: A second model's vectors (embedder "static+onnx"): see :meth:`keep_second`.
        self.second: VectorStore | None = None
        #: id <-> position (``ids``: a compact table for a large org index)
        self._ids: IdTable = ids if ids is not None else ListIds()
        #: With a codec, payloads are stored as ``encode(payload)`` in one packed buffer
        #: (no Python object per document) and read back as ``decode(stored)``.
        self._encode = encode
        self._decode = decode
        #: ``records`` (with a codec) keeps them in a file instead (org knowledge). Tested
        #: against None: an empty FileRecords is falsy, and ``records or ...`` kept every
        #: org chunk's payload in memory (53 MB at 100,000 chunks).
        self._payloads: list[Any] | PackedRecords | FileRecords = (
            [] if encode is None or decode is None
            else records if records is not None else PackedRecords())

    @property
    def ann(self) -> OrgVectors | None:
        """The approximate vector index (an index built with ``ann``), else None."""
        return self.vectors.ann

    @property
    def rows(self) -> int:
        """Positions in use, removed documents included."""
        return self.columns.n

    # -- writing -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.columns.live

    def __contains__(self, doc_id: str) -> bool:
        return self.position_of(doc_id) is not None

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more documents at once (a load knows its size)."""
        with self._lock:
            self._reserve(self.columns.n + extra, exact=True)

    def _reserve(self, n: int, *, exact: bool = False) -> None:
        cap = self.columns.alive.shape[0]
        if n <= cap:
            return
        cap = n if exact else max(n, cap * 2)
        used = self.columns.n
        self.columns.reserve(cap)
        self.postings.reserve(cap, used)
        self.vectors.reserve(cap, used)
        if self.second is not None:
            self.second.reserve(cap, used)

    def keep_second(self, dimensions: int) -> VectorStore:
        """Keep a second exact matrix of another model's vectors beside the first (a
        caller's memory with embedder "static+onnx"); a row has none until it is given
        one (:meth:`set_second`), and :meth:`search_second` ranks only rows that have."""
        with self._lock:
            if self.second is None:
                self.second = VectorStore(dimensions, self._lock, ann=False)
                self.second.reserve(self.columns.alive.shape[0], 0)
                self.second.has[:] = False
            return self.second

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

        The write path's one-at-a-time add: a few microseconds, no numpy calls.
        """
        with self._lock:
            if self._replayed(doc_id, vector):
                return
            pos = self.columns.n
            self._reserve(pos + 1)
            self._ids.append(doc_id)
            self._payloads.append(payload if self._encode is None else self._encode(payload))
            self.vectors.has[pos] = False
            if self.second is not None:
                self.second.has[pos] = False
            self.postings.add(pos, terms)
            self.columns.append(created_at, group)
            # Rows exist before their vectors, so every position the ANN holds is < n.
            if vector is not None:
                self.vectors.set(pos, vector)

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
            if len(set(doc_ids)) == count and not self._ids.contains_any(doc_ids):
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
            start = self.columns.n
            self._reserve(start + m)
            self._ids.extend(doc_ids)
            if self._encode is None:
                self._payloads.extend(payloads)
            else:
                self._payloads.extend(map(self._encode, payloads))
            self.postings.add_many(terms, start, bulk)
            self.columns.extend(created_at, groups)
            self.vectors.add_rows(start, m, vectors)
            if self.second is not None:
                self.second.add_rows(start, m, None)
        return m

    def set_vector(self, doc_id: str, vector: FloatArray) -> int | None:
        """Give a live document its vector (it was indexed before it was embedded);
        its position, or None when it is not (or no longer) in the index."""
        with self._lock:
            pos = self.position_of(doc_id)
            if pos is not None:
                self.vectors.set(pos, vector)
            return pos

    def set_second(self, doc_id: str, vector: FloatArray) -> int | None:
        """:meth:`set_vector` for the second model's vector (see :meth:`keep_second`)."""
        with self._lock:
            pos = self.position_of(doc_id)
            if pos is not None and self.second is not None:
                self.second.set(pos, vector)
            return pos

    def remove(self, doc_id: str) -> bool:
        """Hide a document from every search (its postings are skipped, not rewritten)."""
        with self._lock:
            pos = self._ids.get(doc_id)
            if pos is None or not self.columns.remove(pos):
                return False
            self.vectors.remove(pos)
            self.postings.remove(pos)
            return True

    def compact(self, *, tiered: bool = False) -> bool:
        """Merge postings segments off the event loop (see :meth:`Postings.compact`)."""
        return self.postings.compact(tiered=tiered)

    def maintain(self, threads: int = 0) -> None:
        """Background upkeep after a batch of writes (CPU work: off the event loop).

        Merges postings segments size-tiered (each merge joins segments of similar size,
        so a run of small appends costs O(log n) per posting in total, not a full merge
        per batch) and moves queued vectors into the approximate index.
        """
        self.compact(tiered=True)
        if self.ann is not None:
            self.ann.flush(threads)

    def restore_vectors(self, raw: memoryview | bytes, center: FloatArray, keys: IntArray,
                        ids: BytesArray | Sequence[str], *, view: bool = False) -> IntArray:
        """Install a saved approximate index whose ``keys`` hold the vectors of ``ids``.

        Keys of ids that are no longer live are dropped. Returns the positions that got
        a vector, so the caller can add the rest from the store. ``view``: see
        ``OrgVectors.restore``.
        """
        with self._lock:
            positions = self._ids.positions_of(ids)
            found = positions >= 0
            positions[found & ~self.columns.alive[np.where(found, positions, 0)]] = -1
            return self.vectors.restore(raw, center, keys, positions, view=view)

    def export_rows(self) -> RowsState:
        """The live rows' ids, columns and postings as of one moment, for persisting
        (``_org_snapshot.py``). Postings are returned for every position; the caller
        drops removed ones with ``positions``."""
        with self._lock:
            n = self.columns.n
            positions = np.flatnonzero(self.columns.alive[:n])
            terms, segments, len_sum = self.postings.export()
            return RowsState(
                positions=positions, rows=n, ids=self._ids.array_at(positions),
                created=self.columns.created[positions], groups=self.columns.group[positions],
                has_vector=self.vectors.has[positions], doc_len=self.postings.doc_len[:n].copy(),
                terms=terms, segments=segments, len_sum=len_sum)

    def install_rows(self, ids: BytesArray, created: npt.NDArray[np.float64], groups: IntArray,
                     payloads: Callable[[], None], postings: tuple[list[str], list[Segment],
                                                                   FloatArray, float]) -> None:
        """Fill an empty index with persisted rows at positions ``0 .. len(ids) - 1``
        (all live, no vectors yet); ``payloads`` appends their payload records."""
        m = ids.shape[0]
        with self._lock:
            if self.columns.n:
                raise ValueError("install_rows needs an empty index")
            self._reserve(m, exact=True)
            self._ids.install(ids)
            payloads()
            if len(self._payloads) != m:
                raise ValueError("payload records do not match the rows")
            self.postings.install(*postings)
            self.columns.extend(created, groups)
            self.vectors.add_rows(0, m, None)

    @property
    def payload_records(self) -> FileRecords | PackedRecords | list[Any]:
        """Where payloads are kept (a persisted load appends to it directly)."""
        return self._payloads

    def _replayed(self, doc_id: str, vector: FloatArray | None) -> bool:
        """True when ``doc_id`` is live already (filling in its vector if it had none)."""
        old = self.position_of(doc_id)
        if old is None:
            return False
        if vector is not None and not self.vectors.has[old]:
            self.vectors.set(old, vector)
        return True

    # -- reading -------------------------------------------------------------------------
    def position_of(self, doc_id: str) -> int | None:
        """The position of a live document, or None."""
        pos = self._ids.get(doc_id)
        return pos if pos is not None and bool(self.columns.alive[pos]) else None

    def id_at(self, pos: int) -> str:
        return self._ids.at(pos)

    def ids_at(self, positions: Iterable[int]) -> list[str]:
        """The ids at ``positions`` (a loop in C, not a method call per position)."""
        return self._ids.at_many(positions)

    @property
    def id_table(self) -> IdTable:
        """The id <-> position table (for sizing it, and preparing its lookup)."""
        return self._ids

    def payload_of(self, doc_id: str) -> Any | None:
        """The payload of live document ``doc_id``, or None."""
        pos = self.position_of(doc_id)
        return None if pos is None else self.payload_at(pos)

    def payload_at(self, pos: int) -> Any:
        raw = self._payloads[pos]
        return raw if self._decode is None else self._decode(raw)

    def vector_at(self, pos: int) -> FloatArray | None:
        with self._lock:
            return self.vectors.vector_at(pos)

    def vectors_at(self, positions: IntArray) -> FloatArray:
        """The vectors at ``positions`` (zero rows where a document has none yet)."""
        with self._lock:
            return self.vectors.vectors_at(positions)

    def created_at(self, positions: IntArray) -> npt.NDArray[np.float64]:
        return self.columns.created_at(positions)

    def term_counts_at(self, positions: IntArray) -> npt.NDArray[np.float32]:
        """How many indexed terms each of ``positions`` has (its BM25 length)."""
        with self._lock:
            counts: npt.NDArray[np.float32] = self.postings.doc_len[positions]
        return counts

    def groups_at(self, positions: IntArray) -> IntArray:
        """The group of each of ``positions`` (positions past the end get ``_filters.NO_GROUP``)."""
        return self.columns.groups_at(positions)

    def alive_at(self, positions: IntArray) -> BoolArray:
        """Whether each of ``positions`` holds a live (not removed) document."""
        return self.columns.alive_at(positions)

    def created_between(self, start: float, end: float) -> IntArray:
        """Positions (ascending) of the documents created within ``[start, end]``."""
        return self.columns.created_between(start, end)

    def created_mask(self, min_created: float) -> BoolArray:
        """Documents created at or after ``min_created`` (retention)."""
        return self.columns.created_mask(min_created)

    def group_positions(self, groups: Sequence[int]) -> IntArray:
        """Positions (ascending, removed ones included) of the documents in ``groups``."""
        return self.columns.group_positions(groups)

    def group_mask(self, groups: Sequence[int], *, include: bool = True) -> BoolArray:
        """Documents whose group is (or, with ``include=False``, is not) in ``groups``."""
        return self.columns.group_mask(groups, include=include)

    def start_scan(self, vector: FloatArray) -> Scan | None:
        """Begin scoring every row's vector for ``vector``, to hand to :meth:`search`
        (see ``_vectors.Scan``; None for an approximate index)."""
        with self._lock:
            return self.vectors.start_scan(vector, self.columns.n)

    def search(self, terms: Sequence[str], vector: FloatArray | None, k: int,
               where: Where | None = None, scan: Scan | None = None) -> tuple[Ranked, Ranked]:
        """BM25 and cosine top ``k`` under one filter, resolved once under the lock.

        An approximate index's graph is walked before the lock is taken
        (``OrgVectors.propose``): a keyword search of this index meanwhile (the org lane
        runs its two halves side by side) need not wait for the walk. An exact matrix's
        rows may have been scored ahead on a lane thread (``scan``, from
        :meth:`start_scan`), used when no vector was written since.
        """
        ann = self.vectors.ann
        proposal = ann.propose(vector, k) if ann is not None and vector is not None else None
        with self._lock:
            n = self.columns.n
            if not n or not self.columns.live:
                return Ranked.empty(), Ranked.empty()
            members, ok = self.columns.resolve(where, n)
            if members is not None and not ok.any():
                # Nothing the filter allows: both rankings are empty, without the
                # BM25 and cosine passes (a small caller's permanent lane). Only for a
                # filter resolved to positions: a mask over a million rows costs more
                # to check than it could save.
                return Ranked.empty(), Ranked.empty()
            keyword = self._bm25(terms, k, n, members, ok)
            dense = (self.vectors.search(vector, k, n, members, ok, proposal, scan)
                     if vector is not None else Ranked.empty())
        return keyword, dense

    def start_second_scan(self, vector: FloatArray) -> Scan | None:
        """:meth:`start_scan` of the second model's matrix (None when it keeps none)."""
        with self._lock:
            return None if self.second is None else self.second.start_scan(
                vector, self.columns.n)

    def search_second(self, vector: FloatArray, k: int, where: Where | None = None,
                      scan: Scan | None = None) -> Ranked:
        """Cosine top ``k`` of the second model's vectors under ``where`` (rows without
        one are not ranked); empty when the index keeps none. ``scan``: from
        :meth:`start_second_scan`, as :meth:`search` takes one."""
        with self._lock:
            n = self.columns.n
            if self.second is None or not n or not self.columns.live:
                return Ranked.empty()
            members, ok = self.columns.resolve(where, n)
            return self.second.search(vector, k, n, members, ok, None, scan)

    def idf(self, terms: Sequence[str]) -> list[float]:
        """BM25's inverse document frequency of each of ``terms`` among live documents
        (so a cold-built index and the warm one it mirrors agree)."""
        with self._lock:
            columns = self.columns
            live = columns.live
            alive = columns.alive if columns.removed else None
            dfs = [self.postings.doc_freq(term, alive) for term in terms]
        return [math.log(1.0 + max(live - df + 0.5, 0.5) / (df + 0.5)) for df in dfs]

    def search_cost(self, terms: Sequence[str], dense: bool) -> int:
        """Rows a :meth:`search` would touch: vectors scored plus postings read.

        Cheap to compute (no scoring); the engine uses it to run small searches inline
        instead of paying a thread hand-off.
        """
        with self._lock:
            rows = self.vectors.cost(self.columns.n) if dense else 0
            return rows + self.postings.cost(terms)

    def bm25(self, terms: Sequence[str], k: int, mask: BoolArray | None = None) -> Ranked:
        """Top ``k`` documents by Okapi BM25 for the query ``terms``.

        ``mask`` may predate documents added since: it is aligned to the index, and
        documents it does not cover are left out.
        """
        with self._lock:
            n = self.columns.n
            if not n or not self.columns.live:
                return Ranked.empty()
            return self._bm25(terms, k, n, None, self.columns.with_mask(mask, n))

    def dense(self, query: FloatArray, k: int, mask: BoolArray | None = None) -> Ranked:
        """Top ``k`` documents by cosine similarity to the unit vector ``query``."""
        with self._lock:
            n = self.columns.n
            if not n:
                return Ranked.empty()
            return self.vectors.search(query, k, n, None, self.columns.with_mask(mask, n))

    def _bm25(self, terms: Sequence[str], k: int, n: int, members: IntArray | None,
              ok: BoolArray) -> Ranked:
        columns = self.columns
        return self.postings.search(terms, k, n, members, ok, columns.live,
                                    columns.alive if columns.removed else None)

