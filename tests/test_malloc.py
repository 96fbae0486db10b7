"""The allocator's settings and the growth trimmer: freed memory goes back to the OS."""

from __future__ import annotations

import asyncio
import ctypes.util
import os
import subprocess
import sys

import pytest

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._malloc import MALLOC_ARENAS, GrowthTrimmer, resident_bytes

MB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
    reason="glibc's malloc_trim and /proc are Linux-only")


def _fragmented_garbage(total_mb: int) -> list[bytes]:
    """Allocate ``total_mb`` of 1 KB objects (glibc heap, not pymalloc) and free all but
    every 64th: the survivors pin the heap's top, so free() alone returns nothing."""
    blobs = [bytes(1024) + i.to_bytes(4, "little") for i in range(total_mb * 1024)]
    keep = blobs[::64]
    del blobs
    return keep


def test_trims_after_growth_and_gives_the_pages_back() -> None:
    trimmer = GrowthTrimmer(growth_mb=32)
    assert not trimmer.maybe_release()  # nothing grew yet
    keep = _fragmented_garbage(96)
    grown = resident_bytes()
    assert grown is not None
    assert trimmer.maybe_release()
    after = resident_bytes()
    assert after is not None and grown - after > 32 * MB
    assert not trimmer.maybe_release()  # measured from the trimmed size now
    assert len(keep) == 96 * 1024 // 64


def test_small_growth_does_not_trim() -> None:
    trimmer = GrowthTrimmer(growth_mb=10_000)
    keep = _fragmented_garbage(16)
    assert not trimmer.maybe_release()
    assert keep


# -- the allocator's settings, each in a fresh process (they are process-wide) -------------

_COUNT_ARENAS = """
import ctypes, os, re, sys, tempfile
def arenas():
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    path = os.path.join(tempfile.mkdtemp(), "malloc.xml")
    f = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, f)
    libc.fclose(f)
    return len(re.findall('<heap nr=', open(path).read()))
"""

_THREADS_AFTER_ENGINE = _COUNT_ARENAS + """
import threading
from voxmem import Settings
from voxmem.engine import MemoryEngine
if sys.argv[1] == "engine":
    MemoryEngine(Settings(data_dir=tempfile.mkdtemp(), embedder="hashing"))
barrier = threading.Barrier(6)
def work():
    blob = bytes(8192) + b"x"  # from malloc (pymalloc takes only small objects)
    barrier.wait()  # all five alive at once: none inherits an exited thread's arena
    del blob
threads = [threading.Thread(target=work) for _ in range(5)]
for t in threads:
    t.start()
barrier.wait()
for t in threads:
    t.join()
print(arenas())
"""

_SWING = """
import sys
from voxmem.engine._malloc import configure_allocator, resident_bytes
if sys.argv[1] == "configured":
    print(sorted(configure_allocator()), file=sys.stderr)
big = b"x" * (24 << 20)
del big  # freeing a mapped 24 MB block raises glibc's own thresholds to 24 / 48 MB
base = resident_bytes()
blocks = [bytes([i]) * (2 << 20) for i in range(20)]  # 40 MB of transient 2 MB arrays
del blocks
print(((resident_bytes() or 0) - (base or 0)) / 2**20)
"""


def _run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, check=True, env={**clean, **env}, timeout=120)


def test_engine_caps_arenas_before_any_thread_allocates() -> None:
    # A MemoryEngine built before the threads: five threads share the capped arenas.
    assert int(_run(_THREADS_AFTER_ENGINE, "engine").stdout) <= MALLOC_ARENAS
    # Without it each thread takes an arena of its own (the control: glibc does split).
    assert int(_run(_THREADS_AFTER_ENGINE, "plain").stdout) == 6


def test_freed_large_arrays_leave_no_resident_heap_behind() -> None:
    """The swing's pattern: after one large block is freed, default glibc keeps the next
    transient arrays in its heap (resident after free); with the fixed thresholds they
    are mapped and unmapped on their own."""
    configured = _run(_SWING, "configured")
    assert "MALLOC_MMAP_THRESHOLD_" in configured.stderr
    assert float(configured.stdout) < 8
    assert float(_run(_SWING, "default").stdout) > 30


def test_the_operators_environment_wins() -> None:
    out = _run(_SWING, "configured", MALLOC_ARENA_MAX="4", MALLOC_TRIM_THRESHOLD_="65536",
               NUMPY_MADVISE_HUGEPAGE="1")
    assert out.stderr.strip() == "['MALLOC_MMAP_THRESHOLD_']"
    tuned = _run(_SWING, "configured", GLIBC_TUNABLES="glibc.malloc.mmap_threshold=4194304")
    assert tuned.stderr.strip() == (
        "['MALLOC_ARENA_MAX', 'MALLOC_TRIM_THRESHOLD_', 'NUMPY_MADVISE_HUGEPAGE']")


async def test_a_running_trimmer_gives_growth_back_without_a_sweep() -> None:
    trimmer = GrowthTrimmer(growth_mb=32)
    stop = asyncio.Event()
    task = asyncio.create_task(trimmer.run(stop, interval_s=0.05))
    try:
        keep = _fragmented_garbage(96)
        grown = resident_bytes()
        await asyncio.wait_for(trimmer.released.wait(), 60)
        after = resident_bytes()
        assert grown is not None and after is not None and grown - after > 32 * MB
        assert trimmer.trims == 1 and len(keep) == 96 * 1024 // 64
    finally:
        stop.set()
        await task


async def test_a_started_engine_runs_the_trimmer(sqlite_settings: Settings) -> None:
    engine = MemoryEngine(sqlite_settings)
    await engine.start()
    try:
        keep = _fragmented_garbage(96)
        await asyncio.wait_for(engine.trimmer.released.wait(), 60)
        assert engine.trimmer.trims >= 1 and keep
    finally:
        await engine.close()


_HUGEPAGES = """
import sys, tempfile
import numpy as np
from voxmem import Settings
from voxmem.engine import MemoryEngine
MemoryEngine(Settings(data_dir=tempfile.mkdtemp(), embedder="hashing"))
core = getattr(np, "_core", None) or np.core
print(core.multiarray._get_madvise_hugepage())
"""


def test_engine_stops_numpy_asking_for_huge_pages() -> None:
    assert _run(_HUGEPAGES).stdout.strip() == "False"
    # The operator's choice, read by numpy at import, stays.
    assert _run(_HUGEPAGES, NUMPY_MADVISE_HUGEPAGE="1").stdout.strip() == "True"
