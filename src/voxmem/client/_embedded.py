"""In-process transports: the engine runs inside the calling process.

The async transport runs the engine on the caller's event loop. The sync transport owns a
private event loop on a daemon thread and blocks on it, so sync code (scripts, notebooks,
non-async frameworks) drives the very same engine code.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .._config import Settings
from .._exceptions import InternalError, VoxmemError
from .._operations import dispatch
from ..engine import MemoryEngine
from ._core import Call

__all__ = ["AsyncEmbeddedTransport", "SyncEmbeddedTransport"]

T = TypeVar("T")


class AsyncEmbeddedTransport:
    """Runs calls against an engine on the current event loop, started on first use."""

    def __init__(self, settings: Settings, engine: MemoryEngine | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._owns_engine = engine is None
        self._lock: asyncio.Lock | None = None

    async def engine(self) -> MemoryEngine:
        if self._engine is not None and self._engine._started:
            return self._engine
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._engine is None:
                self._engine = MemoryEngine(self._settings)
            await self._engine.start()
        return self._engine

    async def call(self, call: Call) -> Any:
        engine = await self.engine()
        try:
            return await dispatch(engine, call.op, call.payload)
        except VoxmemError:
            raise
        except Exception as exc:  # never leak a raw exception to the caller
            raise InternalError(f"{call.op} failed: {exc!r}") from exc

    async def aclose(self) -> None:
        if self._engine is not None and self._owns_engine:
            await self._engine.close()


class SyncEmbeddedTransport:
    """Runs calls on a private event loop thread and waits for them."""

    def __init__(self, settings: Settings) -> None:
        self._inner = AsyncEmbeddedTransport(settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="voxmem-embedded-loop", daemon=True)
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def call(self, call: Call) -> Any:
        return self._run(self._inner.call(call))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self._inner.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
