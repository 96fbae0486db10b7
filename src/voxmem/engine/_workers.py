"""Worker processes for CPU-bound background work, off the hot path's GIL.

Learning from an ended call (rule extraction, the entity graph) is pure Python: a
1,000-turn call costs hundreds of milliseconds of CPU. Run on a thread, that work holds
the GIL in 5 ms slices and every save and search on the event loop queues behind it
(measured: sequential save acknowledgement p50 went from ~1 ms to ~22 ms). Run in a
worker process it costs the hot path only the pickling of its input and output.

:class:`BackgroundWorkers` keeps ``background_processes`` worker processes (0: a thread
in this process instead), started on first use and stopped with the engine. Each runs
``python -m voxmem.engine._worker_process`` at a lower scheduling priority and answers
one pickled ``(function, args)`` request at a time; inputs and outputs are plain
picklable data (transcripts, turns, extracted facts, graph rows).

Why not ``multiprocessing`` / ``ProcessPoolExecutor``: its spawn and forkserver workers
re-run the parent's ``__main__`` script, so an application script without an
``if __name__ == "__main__"`` guard would start itself again inside the worker (a second
agent, a second engine). A worker that imports only voxmem cannot do that, and the
protocol it needs is a few lines (length-prefixed pickle frames over its pipes).

A worker that dies (killed by the OOM killer, a crash in a C extension) fails the work
it had with :class:`WorkerCrashed` (``extraction.failed``, retryable): the call's
learning is recorded as failed and retried by the maintenance sweep, and the next piece
of work starts a fresh worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .._exceptions import VoxmemError
from ._worker_process import HEADER

__all__ = ["BackgroundWorkers", "WorkerCrashed", "descendant_pids", "process_footprint_mb"]

log = logging.getLogger("voxmem.engine.workers")

T = TypeVar("T")

#: Longest wait for a stopping worker to exit on its own before it is killed.
STOP_TIMEOUT_S = 5.0


class WorkerCrashed(VoxmemError):
    """A background worker process died while doing this piece of work."""

    default_code = "extraction.failed"
    default_retryable = True


class _Worker:
    """One worker process and its two pipes; one request at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls) -> _Worker:
        env = dict(os.environ)
        # The worker must import the same voxmem as this process, wherever that came
        # from (an installed package, a source tree put on sys.path by a script).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voxmem.engine._worker_process",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env)
        return cls(proc)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def call(self, payload: bytes) -> tuple[bool, Any]:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(HEADER.pack(len(payload)) + payload)
        await stdin.drain()
        (size,) = HEADER.unpack(await stdout.readexactly(HEADER.size))
        reply: tuple[bool, Any] = pickle.loads(await stdout.readexactly(size))
        return reply

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()

    async def reap(self) -> None:
        """Wait for a killed worker's exit, so its pipes close while the loop runs."""
        await self.proc.wait()

    async def stop(self) -> None:
        """Close its input (it exits after the request it is on) and reap it."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            self.kill()
            await self.proc.wait()


class BackgroundWorkers:
    """Runs CPU-bound functions in worker processes (or a thread when ``processes=0``).

    Example::

        workers = BackgroundWorkers(processes=1)
        facts = await workers.run(extractor.extract_sync, transcript)
        await workers.aclose()
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.crashes = 0
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        #: killed workers not reaped yet: their pipes must close before the loop does
        self._dying: list[_Worker] = []
        self._slots: asyncio.Semaphore | None = None

    @property
    def in_process(self) -> bool:
        """True when work runs on a thread of this process (``processes=0``)."""
        return self.processes == 0

    def pids(self) -> list[int]:
        """Process ids of the live workers (none before the first piece of work)."""
        return sorted(w.proc.pid for w in self._workers if w.alive)

    async def _take(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
            self._discard(worker)
        worker = await _Worker.start()
        self._workers.append(worker)
        log.debug("started background worker process %d", worker.proc.pid)
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        if worker in self._workers:
            self._workers.remove(worker)
        self._dying = [w for w in self._dying if w.alive]
        self._dying.append(worker)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker; raises :class:`WorkerCrashed` if the worker died.

        ``fn`` and ``args`` must pickle (a module-level function, plain data); what
        ``fn`` raises is raised here.
        """
        if self.in_process:
            return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
        payload = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.processes)
        async with self._slots:  # at most one request per worker, at most N workers
            worker = await self._take()
            try:
                ok, value = await worker.call(payload)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self.crashes += 1
                self._discard(worker)
                log.warning("background worker process %d died; its work is reported "
                            "failed and a new worker takes the next", worker.proc.pid)
                raise WorkerCrashed("the background worker process died while learning "
                                    "from this call; it will be retried") from exc
            except BaseException:
                # Cancelled mid-request: its reply would answer the next request.
                self._discard(worker)
                raise
            self._idle.append(worker)
        if not ok:
            raise value
        result: T = value
        return result

    async def aclose(self) -> None:
        """Stop the workers: each finishes the request it is on, then exits."""
        workers, self._workers, self._idle = self._workers, [], []
        dying, self._dying = self._dying, []
        await asyncio.gather(*(w.stop() for w in workers), *(w.reap() for w in dying))


def process_footprint_mb(root: int | None = None) -> float:
    """Memory of a process (default: this one) and every process it started, in MB.

    Counts the worker processes too, so a footprint figure cannot look smaller by
    moving work out of the process. Proportional set size (PSS) splits a page mapped by
    several processes (shared libraries) between them, so the sum counts each page
    once where summed RSS would count it in every process. Falls back to RSS where
    ``smaps_rollup`` is missing.
    """
    pid = os.getpid() if root is None else root
    return sum(_pss_kb(p) for p in [pid, *descendant_pids(pid)]) / 1024


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
