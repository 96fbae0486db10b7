"""Worker processes for CPU-bound background work, off the hot path's GIL.

Learning from an ended call (rule extraction, the entity graph) is pure Python: a
1,000-turn call costs hundreds of milliseconds of CPU. Run on a thread, that work holds
the GIL in 5 ms slices and every save and search on the event loop queues behind it
(measured: sequential save acknowledgement p50 went from ~1 ms to ~22 ms). Run in a
worker process it costs the hot path nothing but the pickling of its input.

:class:`BackgroundWorkers` is a lazily started ``ProcessPoolExecutor`` sized by the
``background_processes`` setting (0: run on a thread in this process instead). Workers
are forked from a ``forkserver`` that has imported the extraction code once, so a new
pool (one per engine) starts in milliseconds; where ``forkserver`` is unavailable,
``spawn`` is used. Inputs and outputs are plain picklable data (transcripts, turns,
extracted facts, graph rows).

A worker that dies (killed by the OOM killer, a crash in a C extension) breaks the
pool: the work it had fails with :class:`WorkerCrashed` (``extraction.failed``,
retryable), so the call's learning is recorded as failed and retried by the
maintenance sweep, and the next piece of work starts a fresh pool.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, TypeVar

from .._exceptions import VoxmemError

__all__ = ["BackgroundWorkers", "WorkerCrashed", "descendant_pids", "process_footprint_mb"]

log = logging.getLogger("voxmem.engine.workers")

T = TypeVar("T")

#: Modules the fork server imports once, so each forked worker starts with them loaded.
WORKER_PRELOAD = ["voxmem.extraction.rules", "voxmem.entities._graph"]


class WorkerCrashed(VoxmemError):
    """A background worker process died while doing this piece of work."""

    default_code = "extraction.failed"
    default_retryable = True


def _context() -> BaseContext:
    # fork is unsafe here (the parent runs threads: the event loop's executors, the
    # journal), so workers come from a fork server or a fresh interpreter.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # Only honoured before the fork server first starts; an application that
        # already runs one keeps its own preload and workers import lazily.
        ctx.set_forkserver_preload(WORKER_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


class BackgroundWorkers:
    """Runs CPU-bound functions in worker processes (or a thread when ``processes=0``).

    Example::

        workers = BackgroundWorkers(processes=1)
        facts = await workers.run(extractor.extract_sync, transcript)
        await workers.aclose()
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self.crashes = 0

    @property
    def in_process(self) -> bool:
        """True when work runs on a thread of this process (``processes=0``)."""
        return self.processes == 0

    def pids(self) -> list[int]:
        """Process ids of the live workers (none before the first piece of work)."""
        pool = self._pool
        if pool is None:
            return []
        # ProcessPoolExecutor exposes no public list of its processes.
        processes: dict[int, Any] = getattr(pool, "_processes", None) or {}
        return sorted(pid for pid, proc in processes.items() if proc.is_alive())

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.processes,
                                             mp_context=_context())
            log.debug("started a pool of %d background worker processes", self.processes)
        return self._pool

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker; raises :class:`WorkerCrashed` if the worker died."""
        loop = asyncio.get_running_loop()
        if self.in_process:
            return await loop.run_in_executor(None, fn, *args)
        pool = self._ensure_pool()
        try:
            # submit() itself raises once the pool is known to be broken.
            return await asyncio.wrap_future(pool.submit(fn, *args))
        except BrokenProcessPool as exc:
            self.crashes += 1
            if self._pool is pool:
                # Every future of a broken pool fails; the next piece of work gets a new one.
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            log.warning("a background worker process died; its work is reported failed "
                        "and the pool is restarted")
            raise WorkerCrashed("the background worker process died while learning from "
                                "this call; it will be retried") from exc

    async def aclose(self) -> None:
        """Stop the workers (work still queued is cancelled, running work finishes)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: pool.shutdown(wait=True, cancel_futures=True))


def process_footprint_mb() -> float:
    """Memory of this process and every process it started, in MB (PSS summed).

    Counts the worker processes and their fork server too, so a footprint figure cannot
    look smaller by moving work out of the process. PSS splits a page mapped by several
    processes (a worker forked from the fork server) between them, so the sum counts
    each page once where summed RSS would count it in every process. Falls back to RSS
    where ``smaps_rollup`` is missing.
    """
    return sum(_pss_kb(pid) for pid in [os.getpid(), *descendant_pids()]) / 1024


def descendant_pids(root: int | None = None) -> list[int]:
    """Process ids of all descendants of ``root`` (default: this process), from /proc."""
    parent_of: dict[int, int] = {}
    try:
        entries = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    except OSError:
        return []
    for entry in entries:
        try:
            # The command name (field 2) may contain spaces: parse after its ")".
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parent_of[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [os.getpid() if root is None else root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parent_of.items() if parent == pid]
        found.extend(children)
        frontier.extend(children)
    return sorted(found)


def _pss_kb(pid: int) -> float:
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            text = (Path("/proc") / str(pid) / name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(key):
                return float(line.split()[1])
    return 0.0
