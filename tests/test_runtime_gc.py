"""The runtime's full-collection policy: survivors of a full collection are frozen (the
next one does not rescan them), and the whole heap is scanned again every window, so a
reference cycle that dies among frozen objects is still freed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from voxmem.runtime._gc import FullCollectionPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Node:
    """A cycle-capable object the test can watch die (weakref)."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def policy() -> Iterator[tuple[FullCollectionPolicy, Clock]]:
    clock = Clock()
    installed = FullCollectionPolicy(rescan_every_s=60.0, clock=clock)
    installed.install()
    try:
        yield installed, clock
    finally:
        installed.uninstall()
        gc.collect()


def cycle() -> tuple[Node, weakref.ref[Node]]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


def test_survivors_of_a_full_collection_are_frozen(
        policy: tuple[FullCollectionPolicy, Clock]) -> None:
    installed, _clock = policy
    kept = [Node() for _ in range(1000)]
    gc.collect()
    assert installed.full_collections >= 1
    assert gc.get_freeze_count() >= len(kept)
    # A young cycle still dies at the next collection, frozen heap or not.
    node, ref = cycle()
    del node
    gc.collect()
    assert ref() is None


def test_a_cycle_that_dies_frozen_is_freed_after_the_rescan_window(
        policy: tuple[FullCollectionPolicy, Clock]) -> None:
    installed, clock = policy
    node, ref = cycle()
    gc.collect()  # node survives: frozen
    del node
    gc.collect()
    assert ref() is not None  # garbage, but frozen: this collection did not see it
    clock.now += 61.0
    gc.collect()  # the window has passed: this collection hands the frozen heap back
    assert installed.rescans == 1 and gc.get_freeze_count() == 0
    gc.collect()  # and the next one scans it all
    assert ref() is None


def test_survivors_of_a_middle_collection_are_frozen(
        policy: tuple[FullCollectionPolicy, Clock]) -> None:
    # Every saved turn leaves long-lived containers; frozen here, they never reach the
    # old generation, so no full collection has to scan them.
    gc.collect()
    frozen = gc.get_freeze_count()
    kept = [Node() for _ in range(1000)]
    gc.collect(1)
    assert gc.get_freeze_count() >= frozen + len(kept)
    assert not gc.get_objects(generation=2)  # nothing left for a full collection to scan
    node, ref = cycle()
    del node
    gc.collect(0)  # a young cycle still dies in the youngest generation
    assert ref() is None


def test_the_rescan_is_not_undone_by_middle_collections(
        policy: tuple[FullCollectionPolicy, Clock]) -> None:
    installed, clock = policy
    node, ref = cycle()
    gc.collect(1)  # survives a middle collection: frozen
    del node
    gc.collect(1)
    assert ref() is not None  # garbage, but frozen
    clock.now += 61.0
    gc.collect(1)  # the window has passed: the frozen heap is handed back
    assert installed.rescans == 1 and gc.get_freeze_count() == 0
    gc.collect(1)  # a middle collection before the full one must not freeze it again
    assert gc.get_freeze_count() == 0
    gc.collect()  # the full collection scans it all
    assert ref() is None
    kept = [Node() for _ in range(100)]
    gc.collect(1)  # and freezing resumes after it
    assert gc.get_freeze_count() >= len(kept)
