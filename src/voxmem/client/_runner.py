"""A private event loop on a daemon thread: how the sync client reuses the async one.

``VoiceClientSync`` runs a :class:`~voxmem.client.VoiceClient` on this loop and blocks on
each call, so the pool, the launcher, the retries and the HTTP transport exist once, in
async form, instead of as a hand-copied blocking twin.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .._exceptions import BadRequest, PoolError
from ._tools import MemoryTool

__all__ = ["LoopThread"]

T = TypeVar("T")
log = logging.getLogger("voxmem.client")


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class LoopThread:
    """Runs coroutines on its own loop thread, for callers that are not async."""

    def __init__(self, name: str = "voxmem-client-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name,
                                        daemon=True)
        self._thread.start()
        self._warned_blocking = False

    @property
    def closed(self) -> bool:
        return self._loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop thread and wait for its result (at most ``timeout``
        seconds: ``concurrent.futures.TimeoutError`` after, ``coro`` left running)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise BadRequest("a sync voxmem client was called from its own loop thread; "
                             "use VoiceClient (async) inside async code")
        if self._loop.is_closed():
            coro.close()
            raise PoolError("the client is closed; create a new one", code="pool.closed")
        if not self._warned_blocking and _in_running_loop():
            # It works, so it would go unnoticed: but the caller's loop (an agent's audio,
            # every other call it serves) stands still until the answer is back.
            self._warned_blocking = True
            log.warning("a sync voxmem client (VoiceClientSync) was called inside a running "
                        "event loop: each call blocks that loop until it returns; use "
                        "VoiceClient and await it")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def hop(self, fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        """An async function that any event loop can await, running ``fn`` on this one."""
        async def on_loop(*args: Any, **kwargs: Any) -> T:
            return await fn(*args, **kwargs)

        def hopped(*args: Any, **kwargs: Any) -> Awaitable[T]:
            future = asyncio.run_coroutine_threadsafe(on_loop(*args, **kwargs), self._loop)
            return asyncio.wrap_future(future)

        return hopped

    def hop_tool(self, tool: MemoryTool) -> MemoryTool:
        """``tool`` with its searches running on this loop (awaitable from any loop)."""
        return MemoryTool(self.hop(tool.search_fn), description=tool.description)

    def stop(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
