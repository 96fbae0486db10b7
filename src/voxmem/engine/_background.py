"""The engine's background tasks, owned in one place so ``close`` can cancel them all.

Every part that starts work outside a request (warming an org index, learning from an
ended call, the maintenance sweep) is given :meth:`Background.spawn`, not the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["Background"]

T = TypeVar("T")


class Background:
    """A set of running tasks that keeps a reference to each until it finishes."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, work: Awaitable[T]) -> asyncio.Future[T]:
        """Run ``work`` in the background; the future is kept alive until it is done."""
        task: asyncio.Future[T] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
