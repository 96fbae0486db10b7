"""Side tables kept beside each search index and dropped with it."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from ._index import HybridIndex

__all__ = ["PerIndex"]


T = TypeVar("T")


class PerIndex(Generic[T]):
    """A side table kept beside each index and dropped with it: what a ranking feature
    reads from an index's rows once (speaker labels, topic tokens) and fills lazily."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._values: weakref.WeakKeyDictionary[HybridIndex, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, index: HybridIndex) -> T:
        with self._lock:
            value = self._values.get(index)
            if value is None:
                value = self._values[index] = self._make()
            return value
