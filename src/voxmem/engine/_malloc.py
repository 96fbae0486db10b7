"""The C allocator's settings that decide a long-running engine's resident memory.

glibc only (Linux); elsewhere these do nothing.

glibc gives each thread that allocates under contention an arena of its own (up to
8 per core), and memory freed in one arena is reused only by that arena. The engine
allocates from the event loop, lane threads and executor threads, so a process that
loaded org knowledge and learned from calls held ~150 MB more than it used:
``benchmarks/recall_latency.py`` at full size ended at 640 MB RSS with the default
arenas and 493 MB with two (one run each, same code and load). Python holds the GIL
around nearly all of its allocations, so more arenas buy little concurrency here.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
from pathlib import Path

__all__ = ["MALLOC_ARENAS", "TRIM_GROWTH_MB", "GrowthTrimmer", "limit_arenas",
           "release_free_memory", "resident_bytes"]

log = logging.getLogger("voxmem.engine")

#: Arenas the engine's process may use (glibc's ``M_ARENA_MAX``).
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8
#: The maintenance sweep trims once the resident set has grown by this much since the
#: last trim (see :class:`GrowthTrimmer`).
TRIM_GROWTH_MB = 32
_STATM = Path("/proc/self/statm")


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def limit_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Cap glibc's malloc arenas, before the engine starts its threads.

    An operator's own ``MALLOC_ARENA_MAX`` in the environment wins (glibc read it at
    process start). Arenas that exist already stay; new threads share the capped ones.
    """
    libc = _libc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return
    with contextlib.suppress(AttributeError):
        if not libc.mallopt(_M_ARENA_MAX, arenas):
            log.debug("mallopt(M_ARENA_MAX, %d) was refused", arenas)


def release_free_memory() -> None:
    """Hand the allocator's free pages back to the OS after a large load.

    An org load frees ~100 MB of temporaries (the store's rows, merge buffers) that
    glibc keeps in its heap: measured RSS after loading 100k chunks 744 MB, 615 MB after
    this call.
    """
    libc = _libc()
    if libc is None:
        return
    with contextlib.suppress(AttributeError):
        libc.malloc_trim(0)


def resident_bytes() -> int | None:
    """The process's resident set in bytes (Linux; None elsewhere)."""
    try:
        return int(_STATM.read_bytes().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class GrowthTrimmer:
    """Hands free pages back when the resident set has grown since the last time.

    Building org knowledge or importing history through a running engine churns
    through transient rows that glibc keeps resident afterwards: measured through the
    runtime after 100,000 chunks and a 10,000-turn import, ~470 MB resident. Loads that
    know their size trim themselves; this catches the rest from the maintenance sweep.
    Reading the resident set costs microseconds, so the sweep checks it every time and
    pays for a trim (a walk of the heap) only after real growth.
    """

    def __init__(self, growth_mb: float = TRIM_GROWTH_MB) -> None:
        self._growth = growth_mb * 1024 * 1024
        self._after = resident_bytes()

    def maybe_release(self) -> bool:
        """Trim if the resident set grew by the threshold; returns whether it trimmed."""
        rss = resident_bytes()
        if rss is None or self._after is None or rss - self._after < self._growth:
            return False
        release_free_memory()
        self._after = resident_bytes()
        log.debug("trimmed the heap: resident %.0f -> %.0f MB", rss / 2**20,
                  (self._after or rss) / 2**20)
        return True
