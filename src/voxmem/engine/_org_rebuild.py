"""Rebuilding the org vector graph with the parameters its size calls for.

A mixin of :class:`~voxmem.engine._org_vectors.OrgVectors` (its graph, maps, locks and
exact vectors; the module doc there), kept apart to keep that module readable.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from ._org_codes import CENTER_SAMPLE, code_scale, encode
from ._org_exact import ExactRows
from ._org_params import ANN_EXPANSION_SEARCH, GraphParams, IntArray, graph_params, new_index

if TYPE_CHECKING:
    from usearch.index import Index

    from ._org_params import FloatArray

__all__ = ["REBUILD_SLICE", "REBUILD_THREADS", "GraphRebuild"]

log = logging.getLogger("voxmem.engine")

#: Vectors per add call of a rebuild: a cancel (the engine closing) waits at most this.
REBUILD_SLICE = 1_024
#: A rebuild in a serving runtime adds on one thread, leaving the other cores to
#: requests (a million vectors: ~22 min of one core, docs/performance.md).
REBUILD_THREADS = 1


class GraphRebuild:
    """:meth:`rebuild` and its controls, for :class:`OrgVectors`."""

    # OrgVectors sets these; declared here for their types.
    dimensions: int
    params: GraphParams
    scale: float
    dirty: bool
    _ann: Index
    _lock: threading.RLock
    _flush_lock: threading.Lock
    _graph_lock: threading.Lock
    _generation: int
    _cancel: threading.Event
    _exact: ExactRows
    _pos_of_key: IntArray
    _next_key: int
    _center: FloatArray | None
    _ef: int
    _viewed: object | None

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def needs_rebuild(self) -> bool:
        """Whether the graph was built with weaker parameters than its size calls for
        (:func:`graph_params`): :meth:`rebuild` would replace it."""
        return (len(self._ann) > 0 and self._center is not None
                and not self.params.covers(graph_params(len(self))))

    def rebuild(self, threads: int = 1) -> bool:
        """Build the graph again with the parameters its size calls for, from the exact
        vectors, and swap it in; returns whether it did.

        Minutes of CPU at a million vectors (docs/performance.md): run it off the event
        loop. usearch releases the GIL while it adds, and the old graph answers
        searches meanwhile (only the exact rows' reads take the lock, briefly). Vectors
        queued meanwhile stay pending (scanned exactly) until the next flush; keys
        removed meanwhile are removed from the new graph before the swap, as in
        :meth:`settle`. :meth:`close` stops it between slices.
        """
        with self._flush_lock:
            target = graph_params(len(self))
            if not self.needs_rebuild or self._cancel.is_set():
                return False
            with self._lock:
                keys = np.flatnonzero(self._pos_of_key[: self._next_key] >= 0).astype(
                    np.int64)
                positions = self._pos_of_key[keys].copy()
            if not keys.shape[0]:
                return False
            started = time.perf_counter()
            # A new centre and scale from a sample spread over every vector: the first
            # flush's were from the few vectors it had (the first upload).
            sample = positions[np.linspace(0, positions.shape[0] - 1,
                                           min(CENTER_SAMPLE, positions.shape[0])
                                           ).astype(np.int64)]
            vectors = self._exact.get(sample)
            center = np.mean(vectors, axis=0).astype(np.float32)
            scale = code_scale(vectors - center)
            ann = new_index(self.dimensions, target)
            # Same keys: the key <-> position maps stay valid across the swap.
            for lo in range(0, keys.shape[0], REBUILD_SLICE):
                if self._cancel.is_set():
                    return False
                rows = self._exact.get(positions[lo:lo + REBUILD_SLICE])
                ann.add(keys[lo:lo + REBUILD_SLICE].astype(np.uint64),
                        encode(rows - center, scale), threads=threads)
            with self._lock, self._graph_lock:
                old, viewed = self._swap_graph(ann, keys)
                self._center, self.scale, self.params = center, scale, target
                self.dirty = True
            # A view reads the file's bytes: it goes before they are released.
            del old, viewed
        log.info("org vector graph rebuilt for %d vectors with M %d, efConstruction %d "
                 "in %.0f s", keys.shape[0], target.connectivity, target.expansion_add,
                 time.perf_counter() - started)
        return True

    def _swap_graph(self, ann: Index, keys: IntArray) -> tuple[Index, object | None]:
        """Serve ``ann``, a new graph of ``keys``, from now on (both locks held): keys
        unmapped while it was built (removed chunks) are removed from it first. Returns
        the old graph and view, for the caller to drop once the locks are released."""
        dead = keys[self._pos_of_key[keys] < 0]
        if dead.shape[0]:
            ann.remove(dead.astype(np.uint64))
        old, self._ann = self._ann, ann
        viewed, self._viewed = self._viewed, None
        self._generation += 1
        self._ef = ANN_EXPANSION_SEARCH
        return old, viewed

    def cancel_rebuild(self, cancel: bool = True) -> None:
        """Stop a running :meth:`rebuild` at its next slice (``cancel=False``: allow
        rebuilds again)."""
        if cancel:
            self._cancel.set()
        else:
            self._cancel.clear()
