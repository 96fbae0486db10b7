"""Approximate nearest neighbours over a project's org chunks, on usearch (HNSW).

The org lane searches up to a million chunks inside a voice turn's budget, so exact
cosine over every vector (1M x 384 float32 = 1.5 GB, ~150 ms) is out. usearch keeps
the vectors as int8 in an HNSW graph, adds and removes without retraining, and saves
and loads its graph as one buffer (comparison with faiss: docs/performance.md).

The vectors are centred and coded as int8 before they enter the graph (why, and how
the ranking stays exactly cosine's: ``_org_codes.py``).

Keys: a chunk's vector is stored under a key of its own, and the index keeps
key <-> position maps to the :class:`HybridIndex` rows. Keys (not positions) go into
the persisted file, with each key's chunk id, so a fresh process whose positions differ
maps them back by chunk id.

Rescoring: the graph proposes candidates (``k`` plus spare), and each is scored by
its exact float32 vector read from a file (``_org_exact.py``). The graph's
quantised scores cannot order near-ties; rescored, the ranking among the candidates is
exactly cosine's.

Start-up: a restart *views* the saved graph in place (usearch reads the mapped file,
~0.05 s at a million chunks) instead of copying it into memory (~0.45 s there, holding
the GIL), and answers from the view at once. The graph's pages are then the file's
(page cache, counted as RssFile while touched, and smaller than the loaded copy's
allocations). A viewed graph is never written to: removals only unmap a key, and the
first flush of added vectors or save of a changed graph loads a copy first
(:meth:`OrgVectors.settle`), with the unmapped keys removed from it.

New vectors first land in an exactly-scanned *pending* buffer (an add on the event loop
costs a copy); :meth:`OrgVectors.flush` moves them into the graph in slices off the event
loop. usearch is not safe for concurrent calls from several Python threads (a search
during an add can read a half-linked node), so every call into it holds a lock; a
slice is small enough that a search waits at most a few milliseconds. That lock is the
graph's own, not the owning index's: a search walks the graph (:meth:`OrgVectors.propose`,
~7 ms of CPU at a million chunks) without the index lock, so the org lane's keyword
search of the same index runs beside it; only mapping, filtering and rescoring the
walk's candidates take the index lock (:meth:`OrgVectors.search`). Both under the index
lock, the two had run one after the other (docs/performance.md).

Graph parameters by size: ``_org_params.py``. A graph that grows past them is rebuilt
once from the exact vectors (:meth:`OrgVectors.rebuild`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ._org_codes import CENTER_SAMPLE, code_scale, encode, encode_query
from ._org_exact import ExactRows
from ._org_params import (
    ANN_EXPANSION_SEARCH,
    Exported,
    Proposal,
    graph_params,
    new_index,
    search_ef,
)
from ._org_rebuild import REBUILD_THREADS, GraphRebuild

if TYPE_CHECKING:
    from usearch.index import Index

__all__ = ["REBUILD_THREADS", "Exported", "OrgVectors", "Proposal"]

log = logging.getLogger("voxmem.engine")

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Vectors moved from the pending buffer into the graph per lock hold. An insert costs
#: ~0.5-1 ms on a busy core, and searches wait for the lock meanwhile: a few inserts per
#: hold keep that wait inside the org lane's budget.
FLUSH_SLICE = 8
#: A backlog this large is a (re)build before the index is searched: large slices on
#: all cores.
BULK_SLICE = 8_192
#: Below this many pending vectors a flush adds on one thread: cheaper than spinning up
#: usearch's pool, and the graph it builds is deterministic.
PARALLEL_ADD_MIN = 4_096
#: Candidates asked of the graph per wanted hit: removed and filtered rows are dropped
#: after the search (usearch filters nothing in Python), so ask for some spare.
OVERFETCH = 2
#: Candidates beyond ``k`` that are rescored exactly: a true neighbour the graph ranks
#: just below ``k`` (a quantised near-tie) still makes the cut. For a top 10 that is 40
#: candidates, the brief's 4x; recall@10 and its cost in docs/performance.md.
RESCORE_SPARE = 30


class OrgVectors(GraphRebuild):
    """Vectors of one project's org chunks, searchable by cosine similarity.

    Addressed by :class:`HybridIndex` position. Thread-safe through the lock the owning
    index passes in (its own), so a search sees rows and vectors of one moment.
    """

    def __init__(self, dimensions: int, lock: threading.RLock | None = None, *,
                 scratch_dir: Path | None = None) -> None:
        self.dimensions = dimensions
        self._lock = lock or threading.RLock()
        #: how the graph is built (a restored graph: what its file records)
        self.params = graph_params(0)
        self._ann: Index = new_index(dimensions, self.params)
        #: set to stop a running :meth:`rebuild` (the engine is closing)
        self._cancel = threading.Event()
        #: every position's exact vector (graph and pending alike), for rescoring
        self._exact = ExactRows(dimensions, scratch_dir, self._lock)
        #: key -> position (-1: removed), position -> key (-1: none)
        self._pos_of_key: IntArray = np.full(64, -1, dtype=np.int64)
        self._key_of_pos: IntArray = np.full(64, -1, dtype=np.int64)
        self._next_key = 0
        #: positions whose vectors wait to go into the graph, scanned exactly meanwhile
        #: (the vectors themselves are in ``_exact``: a load from the store queues
        #: every chunk, 1 GB of float32 at a million)
        self._pending_pos: list[int] = []
        self._flush_lock = threading.Lock()
        #: held for every call into usearch (taken after the index lock, never before
        #: it), and bumped with every change of the graph's content: a walk made before
        #: a change is made again (:meth:`search`)
        self._graph_lock = threading.Lock()
        self._generation = 0
        #: the centre subtracted from every vector in the graph, and the scale of its
        #: int8 codes (see the module doc)
        self._center: FloatArray | None = None
        self.scale = 0.0
        #: set when the graph or maps changed since the last save
        self.dirty = False
        #: the saved exact vectors the next :meth:`restore` reads its keys' rows from
        #: (file, first row's byte)
        self._saved_exact: tuple[IO[bytes], int] | None = None
        #: while the graph is a view of a saved file: that file's bytes and its keys
        #: (:meth:`settle` replaces the view with a loaded copy)
        self._viewed: tuple[memoryview | bytes, IntArray] | None = None
        #: the graph's search breadth now (:func:`search_ef`)
        self._ef = ANN_EXPANSION_SEARCH

    # -- writing -------------------------------------------------------------------------
    def add(self, positions: IntArray, vectors: FloatArray) -> None:
        """Queue vectors for ``positions`` (a cheap copy; :meth:`flush` indexes them)."""
        with self._lock:
            self._exact.put(positions, vectors)
            self._pending_pos.extend(positions.tolist())
            self.dirty = True

    def use_saved_exact(self, file: IO[bytes], first: int) -> None:
        """The next :meth:`restore` reads the exact vectors of its keys from ``file``
        (rows from byte ``first``, in the keys' order) instead of :meth:`put_exact`."""
        self._saved_exact = (file, first)

    def exact_rows(self, positions: IntArray) -> FloatArray:
        """The exact vectors at ``positions`` (for saving them)."""
        return self._exact.get(positions)

    def put_exact(self, positions: IntArray, vectors: FloatArray) -> None:
        """Record the exact vectors of ``positions`` whose graph entries come from a
        saved file (:meth:`restore`), for rescoring."""
        self._exact.put(positions, vectors)

    def remove(self, position: int) -> None:
        """Forget the vector at ``position`` (graph or pending)."""
        with self._lock:
            key = self._key_at(position)
            if key >= 0:
                with self._graph_lock:
                    if self._viewed is None:  # a view is read-only: settle() removes it
                        self._ann.remove(key)
                    self._generation += 1
                self._pos_of_key[key] = -1
                self._key_of_pos[position] = -1
                self.dirty = True
                return
            if position in self._pending_pos:
                self._pending_pos.remove(position)

    def flush(self, threads: int = 0) -> int:
        """Move the vectors pending now into the graph, a slice per lock hold; returns how
        many.

        CPU work (~0.1-1 ms a vector): run it off the event loop. ``threads`` is
        usearch's add parallelism for large backlogs (0: all cores).
        """
        done = 0
        if self._pending_pos:
            self.settle()  # vectors go into a loaded graph, never into a view
        with self._flush_lock:
            # Only what is queued now: under a stream of uploads, draining everything
            # would keep the caller (the upkeep) here for good, and its other work
            # (postings merges) would never run again.
            target = len(self._pending_pos)
            while True:
                with self._lock:
                    if not self._pending_pos or done >= target:
                        return done
                    backlog = len(self._pending_pos)
                    take = min(BULK_SLICE if backlog >= PARALLEL_ADD_MIN else FLUSH_SLICE,
                               backlog)
                    positions = np.asarray(self._pending_pos[:take], dtype=np.int64)
                    vectors = self._exact.get(positions)
                    if not len(self._ann) and self._viewed is None:
                        # An empty graph is built for the backlog's size at once (a load
                        # from the store queues every vector), not rebuilt right after.
                        params = graph_params(backlog)
                        if params != self.params:
                            with self._graph_lock:
                                self.params = params
                                self._ann = new_index(self.dimensions, params)
                                self._ef = ANN_EXPANSION_SEARCH
                    if self._center is None:
                        # From as many of the first vectors as there are (up to a
                        # sample), not just this slice: measured at 20k real chunks,
                        # recall@10 0.968 with the mean of 8 vectors, 0.987 with 100.
                        sample = self._exact.get(np.asarray(
                            self._pending_pos[:CENTER_SAMPLE], dtype=np.int64))
                        self._center = np.mean(sample, axis=0).astype(np.float32)
                        self.scale = code_scale(sample - self._center)
                    codes = encode(vectors - self._center, self.scale)
                    keys = np.arange(self._next_key, self._next_key + take, dtype=np.int64)
                    with self._graph_lock:
                        self._ann.add(keys.astype(np.uint64), codes,
                                      threads=threads if backlog >= PARALLEL_ADD_MIN else 1)
                        self._generation += 1
                    self._map(keys, positions)
                    self._next_key += take
                    del self._pending_pos[:take]
                    done += take

    def _map(self, keys: IntArray, positions: IntArray) -> None:
        if keys.shape[0] == 0:
            return
        need_keys = int(keys.max()) + 1
        if need_keys > self._pos_of_key.shape[0]:
            self._pos_of_key = _grow(self._pos_of_key, max(need_keys,
                                                           2 * self._pos_of_key.shape[0]))
        need_pos = int(positions.max()) + 1
        if need_pos > self._key_of_pos.shape[0]:
            self._key_of_pos = _grow(self._key_of_pos, max(need_pos,
                                                           2 * self._key_of_pos.shape[0]))
        self._pos_of_key[keys] = positions
        self._key_of_pos[positions] = keys

    def _key_at(self, position: int) -> int:
        if position >= self._key_of_pos.shape[0]:
            return -1
        return int(self._key_of_pos[position])

    # -- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock:
            return len(self._ann) + len(self._pending_pos)

    @property
    def pending(self) -> int:
        return len(self._pending_pos)

    def cost(self) -> int:
        """Rows a search touches, roughly (for the inline-or-thread decision)."""
        return (search_ef(len(self._ann), self.params.connectivity)
                * self.params.connectivity + len(self._pending_pos))

    def vector_at(self, position: int) -> FloatArray | None:
        with self._lock:
            if self._key_at(position) >= 0 or position in self._pending_pos:
                row: FloatArray = self._exact.get(np.array([position], dtype=np.int64))[0]
                return row.copy()
        return None

    def propose(self, query: FloatArray, k: int) -> Proposal:
        """Walk the graph for ``query`` under the graph's lock only (module doc);
        :meth:`search` takes the result."""
        with self._graph_lock:
            return self._walk(query, k)

    def _walk(self, query: FloatArray, k: int) -> Proposal:
        # The graph lock is held.
        if not len(self._ann) or self._center is None:
            return Proposal(self._generation, np.zeros(0, dtype=np.int64))
        ef = search_ef(len(self._ann), self.params.connectivity)
        if ef != self._ef:
            # usearch has a setter; mypy reads the property from its stub alone
            self._ann.expansion_search = ef  # type: ignore[misc]
            self._ef = ef
        want = min(len(self._ann), max(k * OVERFETCH, k + RESCORE_SPARE))
        found = self._ann.search(encode_query(query), want, threads=1)
        return Proposal(self._generation, np.asarray(found.keys, dtype=np.int64))

    def search(self, query: FloatArray, k: int, allowed: Callable[[IntArray], BoolArray],
               proposal: Proposal | None = None) -> tuple[IntArray, FloatArray]:
        """Up to ``k`` (positions, cosine scores) among positions ``allowed`` accepts.

        Call with the lock held (the owning index's search does), so ``allowed`` and the
        maps describe the same moment. ``proposal``: :meth:`propose`'s walk for this
        query, made before that lock was taken; walked again here if the graph changed
        since, so the answer is the one a walk under the lock gives.
        """
        parts_pos: list[IntArray] = []
        parts_score: list[FloatArray] = []
        if proposal is None or proposal.generation != self._generation:
            with self._graph_lock:
                proposal = self._walk(query, k)
        if proposal.keys.shape[0]:
            positions = self._pos_of_key[proposal.keys]
            positions = positions[positions >= 0]
            # In the graph's order: the spare beyond ``k + RESCORE_SPARE`` covers rows
            # the filter drops, and a kept row that far down is no near-tie of the top
            # ``k``; not rescoring it saves a file read (~1.6 µs) per row.
            positions = positions[allowed(positions)][:k + RESCORE_SPARE]
            parts_pos.append(positions)
            parts_score.append(np.einsum("ij,j->i", self._exact.get(positions), query))
        if self._pending_pos:
            positions = np.asarray(self._pending_pos, dtype=np.int64)
            keep = allowed(positions)
            if keep.any():
                parts_pos.append(positions[keep])
                parts_score.append(np.einsum("ij,j->i", self._exact.get(positions[keep]),
                                             query))
        if not parts_pos:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(parts_pos), np.concatenate(parts_score)

    # -- persistence ---------------------------------------------------------------------
    def export(self, graph_file: Path) -> Exported:
        """Save the flushed graph at ``graph_file``; returns its centre, keys, their
        positions, scale and parameters, for the file that wraps it (one moment's: a
        :meth:`rebuild` may change them right after).

        Straight to a file: ``Index.save()`` to memory would be one more copy of the
        graph (~650 MB at a million chunks) at the process's peak.
        """
        self.settle()  # removals are applied to the loaded graph, so it saves without them
        with self._lock:
            self._ann.save(os.fspath(graph_file))
            keys = np.flatnonzero(self._pos_of_key[: self._next_key] >= 0).astype(np.int64)
            center = (self._center if self._center is not None
                      else np.zeros(self.dimensions, dtype=np.float32))
            return Exported(center.copy(), keys, self._pos_of_key[keys].copy(), self.scale,
                            self.params)

    def restore(self, raw: memoryview | bytes, center: FloatArray, keys: IntArray,
                positions: IntArray, *, view: bool = False) -> None:
        """Install a saved graph: ``keys`` map to ``positions`` (-1: drop the key).

        Its codes' scale is set first (:attr:`scale`, saved with the graph), and the
        parameters it was built with (:attr:`params`, also saved with it). ``view``:
        search ``raw`` in place until :meth:`settle` (``raw`` must stay unchanged).
        """
        ann = new_index(self.dimensions, self.params)
        gone = keys[positions < 0]
        if view:
            ann.view(raw)
        else:
            ann.load(raw)
            if gone.shape[0]:
                ann.remove(gone.astype(np.uint64))
        with self._lock, self._graph_lock:
            self._generation += 1
            self._ann = ann
            # The graph's M is the file's (usearch reads it from the graph); later adds
            # use the efConstruction it was built with.
            self.params = dataclasses.replace(self.params,
                                              connectivity=int(ann.connectivity))
            self._ef = ANN_EXPANSION_SEARCH  # a new index starts at its default
            self._viewed = (raw, keys) if view else None
            # A graph saved before any vector was coded has no centre or scale yet: the
            # next flush sets both from its vectors.
            self._center = np.asarray(center, dtype=np.float32) if self.scale > 0 else None
            self._pos_of_key = np.full(64, -1, dtype=np.int64)
            self._key_of_pos = np.full(64, -1, dtype=np.int64)
            live = positions >= 0
            self._map(keys[live], positions[live])
            if self._saved_exact is not None:
                self._exact.use_saved(*self._saved_exact, positions)
                self._saved_exact = None
            self._next_key = int(keys.max()) + 1 if keys.shape[0] else 0
            if self._next_key > self._pos_of_key.shape[0]:
                # Every key the graph may return has a slot (a dropped one holds -1).
                self._pos_of_key = _grow(self._pos_of_key, self._next_key)
            self.dirty = bool(gone.shape[0])

    @property
    def viewed(self) -> bool:
        """Whether the graph is still a view of the saved file (see :meth:`settle`)."""
        return self._viewed is not None

    def settle(self) -> None:
        """Replace a viewed graph by a loaded copy (CPU work: off the event loop).

        Searches go on against the view while the copy loads; keys unmapped meanwhile
        (removed chunks) are removed from the copy before it is swapped in.
        """
        with self._flush_lock:
            viewed = self._viewed
            if viewed is None:
                return
            raw, keys = viewed
            ann = new_index(self.dimensions, self.params)
            ann.load(raw)
            with self._lock, self._graph_lock:
                old, _ = self._swap_graph(ann, keys)
            # The view reads the file's bytes: it goes before they are released.
            del old
            del raw, viewed

    def close(self) -> None:
        """Release the exact vectors' file (and a viewed graph's)."""
        self._cancel.set()
        self._exact.close()
        with self._lock, self._graph_lock:
            if self._viewed is not None:
                self._generation += 1
                self._ann = new_index(self.dimensions, self.params)
                self._ef = ANN_EXPANSION_SEARCH
                self._viewed = None

    def has_vector(self, positions: IntArray) -> BoolArray:
        """Whether each of ``positions`` has a vector (graph or pending)."""
        with self._lock:
            out = np.zeros(positions.shape[0], dtype=np.bool_)
            inside = positions < self._key_of_pos.shape[0]
            out[inside] = self._key_of_pos[positions[inside]] >= 0
            if self._pending_pos:
                out |= np.isin(positions, np.asarray(self._pending_pos, dtype=np.int64))
        return out


def _grow(arr: IntArray, capacity: int) -> IntArray:
    grown = np.full(capacity, -1, dtype=np.int64)
    grown[: arr.shape[0]] = arr
    return grown
