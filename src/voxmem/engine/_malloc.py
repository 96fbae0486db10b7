"""The C allocator's settings that decide a long-running engine's resident memory.

glibc only (Linux); elsewhere these do nothing.

glibc gives each thread that allocates under contention an arena of its own (up to
8 per core), and memory freed in one arena is reused only by that arena. The engine
allocates from the event loop, lane threads and executor threads, so a process that
loaded org knowledge and learned from calls held ~150 MB more than it used:
``benchmarks/recall_latency.py`` at full size ended at 640 MB RSS with the default
arenas and 493 MB with two (one run each, same code and load). Python holds the GIL
around nearly all of its allocations, so more arenas buy little concurrency here.

The cap has to come before the first thread that allocates: glibc decides its arena
limit once, and the tokenizer's native thread pool, started while the embedder loads,
took two arenas of its own before ``MemoryEngine.start`` used to set it.

The thresholds are fixed for the same reason as the cap (docs/performance.md, "Why the
end-of-run figure swung"): glibc raises its mmap threshold each time a large block is
freed (up to 32 MB), after which large temporaries land inside the heap, and with its
trim threshold at twice that, freed heap tops stayed resident until the next
``malloc_trim``. Fixed, blocks from ``MMAP_THRESHOLD`` up are mapped and unmapped on their
own, and a heap's free top beyond ``TRIM_THRESHOLD`` goes back to the OS at ``free``.

numpy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) for each
array of 4 MB or more, wherever glibc placed it, inside its heap too. The flag stays on
that address range after the array is freed: later small allocations there fault in
whole 2 MB pages, and the kernel's ``khugepaged`` refills partly used 2 MB ranges. The
engine turns that request off (``NUMPY_MADVISE_HUGEPAGE`` in the environment wins): two
runs of the same load, 86 MB and 0 MB of huge pages, 361 and 349 MB resident at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import sys
from pathlib import Path

__all__ = ["MALLOC_ARENAS", "MMAP_THRESHOLD", "TRIM_GROWTH_MB", "TRIM_THRESHOLD",
           "GrowthTrimmer", "configure_allocator", "release_free_memory", "resident_bytes"]

log = logging.getLogger("voxmem.engine")

#: Arenas the engine's process may use (glibc's ``M_ARENA_MAX``).
MALLOC_ARENAS = 2
#: Blocks of at least this many bytes get a mapping of their own (``M_MMAP_THRESHOLD``).
MMAP_THRESHOLD = 1024 * 1024
#: A heap's free top beyond this many bytes is returned at ``free`` (``M_TRIM_THRESHOLD``).
TRIM_THRESHOLD = 8 * 1024 * 1024
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: (mallopt parameter, value, the environment variable and tunable that override it).
_SETTINGS = (
    (_M_ARENA_MAX, MALLOC_ARENAS, "MALLOC_ARENA_MAX", "glibc.malloc.arena_max"),
    (_M_MMAP_THRESHOLD, MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_",
     "glibc.malloc.mmap_threshold"),
    (_M_TRIM_THRESHOLD, TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_",
     "glibc.malloc.trim_threshold"),
)
#: The engine trims once the resident set has grown by this much since the last trim
#: (see :class:`GrowthTrimmer`).
TRIM_GROWTH_MB = 32
#: How often the engine reads its resident set to decide (seconds).
TRIM_CHECK_S = 2.0
_STATM = Path("/proc/self/statm")
_configured = False


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def _overridden(variable: str, tunable: str) -> bool:
    return variable in os.environ or tunable in os.environ.get("GLIBC_TUNABLES", "")


def _numpy_hugepages_off() -> bool:
    """Stop numpy asking for transparent huge pages for its large arrays (see below)."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return False
    import numpy as np

    core = getattr(np, "_core", None) or getattr(np, "core", None)
    setter = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if setter is None:
        return False
    setter(False)
    return True


def configure_allocator() -> dict[str, int]:
    """Cap glibc's arenas, fix its thresholds and turn numpy's huge-page requests off,
    once per process; returns what it set (setting -> value).

    Called by ``MemoryEngine`` before it loads the embedder (whose tokenizer starts
    threads). Each setting the operator gives (``MALLOC_ARENA_MAX``,
    ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, the matching
    ``GLIBC_TUNABLES`` entry, ``NUMPY_MADVISE_HUGEPAGE``) wins over ours. Arenas that
    exist already stay.
    """
    global _configured
    applied: dict[str, int] = {}
    libc = _libc()
    if libc is None or _configured:
        return applied
    _configured = True
    if _numpy_hugepages_off():
        applied["NUMPY_MADVISE_HUGEPAGE"] = 0
    for param, value, variable, tunable in _SETTINGS:
        if _overridden(variable, tunable):
            continue
        try:
            if libc.mallopt(param, value):
                applied[variable] = value
            else:
                log.debug("mallopt(%d, %d) was refused", param, value)
        except AttributeError:  # not glibc (musl has no mallopt)
            return applied
    return applied


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
    know their size trim themselves; this catches the rest. Reading the resident set
    costs microseconds, so :meth:`run` checks it every ``TRIM_CHECK_S`` and pays for a
    trim (a walk of the heap, on a worker thread) only after real growth. It used to
    check from the 30 s maintenance sweep, and what a process read at a given moment
    then depended on where that moment fell in the sweep's cycle: the same run ended
    ~100 MB apart (docs/performance.md, "Why the end-of-run figure swung").
    """

    def __init__(self, growth_mb: float = TRIM_GROWTH_MB) -> None:
        self._growth = growth_mb * 1024 * 1024
        self._after = resident_bytes()
        self.trims = 0
        #: Set after each trim :meth:`run` made (cleared by whoever waits for the next).
        self.released = asyncio.Event()

    def due(self) -> bool:
        """Whether the resident set grew by the threshold since the last trim."""
        rss = resident_bytes()
        return rss is not None and self._after is not None and rss - self._after >= self._growth

    def maybe_release(self) -> bool:
        """Trim if the resident set grew by the threshold; returns whether it trimmed."""
        if not self.due():
            return False
        rss = resident_bytes() or 0
        release_free_memory()
        self._after = resident_bytes()
        self.trims += 1
        log.debug("trimmed the heap: resident %.0f -> %.0f MB", rss / 2**20,
                  (self._after or rss) / 2**20)
        return True

    async def run(self, stop: asyncio.Event, interval_s: float = TRIM_CHECK_S) -> None:
        """Check every ``interval_s`` until ``stop`` is set; trims on a worker thread."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            # Read on the loop (microseconds); only a trim is worth a thread hop.
            if not stop.is_set() and self.due() and await loop.run_in_executor(
                    None, self.maybe_release):
                self.released.set()
