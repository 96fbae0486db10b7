"""The runtime's garbage-collector policy: collections that do not stall the loop.

A warm runtime holds hundreds of thousands of long-lived Python objects (the callers'
warm indexes, org payloads, caches). CPython's cyclic collector scans *all* of them on
every full (generation 2) collection, which it runs each time the objects promoted into
the old generation since the last one reach a quarter of it: under load that was a
100-210 ms pause every ~1,600 requests at 1,000 callers (docs/performance.md), on the
event loop's thread, so every request in flight waited it out — at 1,000 requests/s,
more than one in twenty. Those full collections found nothing to free: the cycles this
runtime makes (tasks, exceptions) die young, in generation 0.

:class:`FullCollectionPolicy` therefore moves the survivors of each middle (generation
1) and full collection into the collector's permanent generation (``gc.freeze``), so the
old generation stays nearly empty and a full collection scans only what was promoted
since, like a middle one. Freezing at the middle collections too matters because every
saved turn leaves ~90 tracked containers in the caller's warm index: freezing only at
full collections let them pile up in the old generation between two full collections,
each then a ~28 ms stop of CPU every ~1,600 requests (measured, docs/performance.md);
frozen at the middle collections, no full collection ran in 8,000 requests.
Objects that die by reference counting are freed as before; only a reference *cycle*
among frozen objects would wait, so every ``rescan_every_s`` the frozen objects are
handed back (``gc.unfreeze``), nothing is frozen again until the next full collection
has scanned the whole heap once, and what could be held back is bounded by that window.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["RESCAN_EVERY_S", "FullCollectionPolicy"]

log = logging.getLogger("voxmem.runtime")

#: How often the whole heap is scanned again (one long pause per window).
RESCAN_EVERY_S = 600.0


class FullCollectionPolicy:
    """Freeze what survives each middle and full collection; unfreeze every
    ``rescan_every_s`` and let one full collection scan the whole heap.

    Example::

        policy = FullCollectionPolicy()
        policy.install()      # for the life of the runtime process
        ...
        policy.uninstall()
    """

    def __init__(self, rescan_every_s: float = RESCAN_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rescan_every_s = rescan_every_s
        self._clock = clock
        self._last_rescan = clock()
        # True from a rescan's unfreeze until a full collection has seen the whole heap:
        # a middle collection freezing again in between would undo the rescan.
        self._rescanning = False
        self.full_collections = 0
        self.rescans = 0

    def install(self) -> None:
        if self._on_collection not in gc.callbacks:
            gc.callbacks.append(self._on_collection)

    def uninstall(self) -> None:
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)
        gc.unfreeze()

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector, on whichever thread triggered it: list moves only.
        generation = info.get("generation")
        if phase != "stop" or generation == 0:
            return
        if generation == 2:
            self.full_collections += 1
            self._rescanning = False  # this one scanned everything that was unfrozen
        elif self._rescanning:
            return
        now = self._clock()
        if now - self._last_rescan >= self._rescan_every_s:
            # The frozen objects go back to the old generation; the next full collection
            # scans them all (and freezes the survivors again).
            self._last_rescan = now
            self.rescans += 1
            self._rescanning = True
            gc.unfreeze()
            return
        gc.freeze()
