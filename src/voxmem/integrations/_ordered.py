"""One worker task that saves a call's turns in order, off the audio/frame path.

The LiveKit and Pipecat integrations pair turns differently but queue them the same
way: whoever produces a turn never awaits the store, and turns are written in the
order they were produced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["OrderedSaves"]

T = TypeVar("T")


class OrderedSaves(Generic[T]):
    """Hands items, in order, to ``save`` on one worker task started by the first item."""

    def __init__(self, save: Callable[[T], Awaitable[None]]) -> None:
        self._save = save
        self._queue: asyncio.Queue[T | None] | None = None
        self._worker: asyncio.Task[None] | None = None

    def put(self, item: T) -> None:
        """Queue ``item``; returns at once."""
        self._put(item)

    def _put(self, item: T | None) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.ensure_future(self._drain())
        self._queue.put_nowait(item)

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            try:
                if item is None:  # closed: nothing more will come
                    return
                await self._save(item)
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until every item queued so far is saved."""
        if self._queue is not None and self._worker is not None and not self._worker.done():
            await self._queue.join()

    async def close(self, timeout_s: float) -> bool:
        """Take no more items and wait for the queued ones; ``False`` when ``timeout_s``
        passed first (the saves go on in the background)."""
        if self._worker is None:
            return True
        self._put(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._worker), timeout_s)
        except TimeoutError:
            return False
        return True
