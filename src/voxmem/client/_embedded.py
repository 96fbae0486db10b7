"""The in-process transport: the engine runs inside the calling process.

For tests, notebooks and single-process apps (``VoiceClient(embedded=True)``). It runs
the engine on the caller's event loop and dispatches through the same operation table
as the runtime's REST API, so both modes validate and answer identically.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from .._config import Settings
from .._exceptions import InternalError, StoreUnavailable, VoxmemError
from .._operations import dispatch
from ..engine import MemoryEngine
from ..journal import JournalLocked
from ..runtime._discovery import runtime_lock_held
from ._core import OperationCall

__all__ = ["AsyncEmbeddedTransport"]


class AsyncEmbeddedTransport:
    """Runs calls against an engine on the current event loop, started on first use."""

    def __init__(self, settings: Settings, engine: MemoryEngine | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._owns_engine = engine is None
        self._lock: asyncio.Lock | None = None
        self._starting: asyncio.Future[None] | None = None

    async def engine(self) -> MemoryEngine:
        if self._engine is not None and self._engine._started:
            return self._engine
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._engine is None:
                self._engine = MemoryEngine(self._settings)
            starting = self._starting
            if starting is None or (starting.done() and (
                    starting.cancelled() or starting.exception() is not None)):
                starting = self._starting = asyncio.ensure_future(self._start(self._engine))
            # Shielded: the first call's own deadline (a preload's, say) cancelling it in
            # the middle of the start left a half-started engine, its executors shut,
            # and every later call of the client failed.
            await asyncio.shield(starting)
        return self._engine

    async def _start(self, engine: MemoryEngine) -> None:
        try:
            await engine.start()
        except JournalLocked as exc:
            raise _in_use(self._settings.data_path, exc) from exc
        except VoxmemError:
            raise
        except OSError as exc:
            raise StoreUnavailable(f"cannot open the data directory "
                                   f"{self._settings.data_path}: {exc}") from exc

    async def call(self, call: OperationCall, *, timeout_s: float | None = None) -> Any:
        """Run ``call``; the engine enforces recall deadlines itself, so ``timeout_s``
        (the transport allowance of the HTTP path) does not apply in-process."""
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


def _in_use(data_dir: Path, exc: JournalLocked) -> JournalLocked:
    """The refusal, worded with the fix for whoever holds the data directory."""
    if runtime_lock_held(data_dir):
        return JournalLocked(exc.directory, (
            f"a voxmem runtime is serving {data_dir}, so an embedded engine may not write "
            "there. Use the runtime instead (VoiceClient without embedded=True, or drop "
            f"--embedded), stop it first (voxmem stop --data-dir {data_dir}), or give the "
            "embedded engine a data directory of its own (data_dir=...)"))
    return JournalLocked(exc.directory, (
        f"another process has {data_dir} open with an embedded voxmem engine; close it, "
        "or give this engine a data directory of its own (data_dir=...)"))
