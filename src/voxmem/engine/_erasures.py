"""Erasing a caller against the background work that writes about them.

Learning from an ended call (facts) and its entity graph run in the background: they
read the call's turns, work for a while in a worker process, then write. A caller
erased (``forget_user``) in between would get those writes back, learned from a call
that no longer exists. So each background writer notes the caller's erasure count before
it reads, and writes only while holding the caller's lock with the count unchanged; an
erasure holds the same lock throughout and counts once on entry and once on exit, so a
reader that started during the erasure (an odd count) never writes either.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

from ..models import Scope

__all__ = ["Erasures"]


class Erasures:
    """Per caller: a lock that background writes about the caller take, and a count of
    erasures begun and finished."""

    def __init__(self) -> None:
        # Weak: a lock lives while someone holds or waits for it, then goes, so a host
        # that learns from millions of callers keeps no lock per caller it ever saw.
        self._locks: weakref.WeakValueDictionary[tuple[str, ...], asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self._counts: dict[tuple[str, ...], int] = {}

    def lock(self, scope: Scope) -> asyncio.Lock:
        """The caller's lock (background writes about the caller and erasures take it)."""
        lock = self._locks.get(scope.caller_key)
        if lock is None:
            lock = self._locks[scope.caller_key] = asyncio.Lock()
        return lock

    def count(self, scope: Scope) -> int:
        """Note this before reading what a background write is learned from."""
        return self._counts.get(scope.caller_key, 0)

    def unchanged(self, scope: Scope, seen: int | None) -> bool:
        """Whether a write read at count ``seen`` may go ahead (call with the lock held);
        ``None`` is a write made now, read from nothing earlier."""
        return seen is None or (seen % 2 == 0 and self.count(scope) == seen)

    @contextlib.asynccontextmanager
    async def erasing(self, scope: Scope) -> AsyncIterator[None]:
        """Hold around erasing the caller."""
        async with self.lock(scope):
            key = scope.caller_key
            self._counts[key] = self._counts.get(key, 0) + 1
            try:
                yield
            finally:
                self._counts[key] += 1
