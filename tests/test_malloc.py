"""The growth trimmer hands freed heap pages back once the resident set has grown."""

from __future__ import annotations

import ctypes.util
import sys

import pytest

from voxmem.engine._malloc import GrowthTrimmer, resident_bytes

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
