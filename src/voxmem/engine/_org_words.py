"""The org lane's keyword search (BM25) in a worker process, answered in-process when it
cannot be.

At 100,000 org chunks the org lane's BM25 is ~17 % of the event loop's CPU per search,
and a lane thread cannot take it: each numpy call that releases the GIL waits for the
loop's switch interval to get it back (docs/performance.md, eighth round). So
:class:`OrgWords` sends "the top k for these terms" to one worker process
(``_org_words_worker``) when the search starts; the loop runs the caller lanes
meanwhile and takes the answer when the org lane needs it.

The answer is the one the loop would compute, bit for bit: the worker searches a
snapshot of the index's postings, lengths and live rows with the same
``Postings.search``, and an answer is used only when the index's postings are still at
the snapshot's generation (``Postings.version``, bumped by every add, removal and
install) when it is read. Otherwise the loop answers from its own copy:

- until the worker holds a snapshot of the index's present generation. A snapshot is
  taken on a thread (``_org_words_worker.write_snapshot``: the postings' arrays
  written to a private directory under the data directory), mapped by the worker
  read-only, and its files unlinked once mapped; at most one per index at a time and one per
  ``SNAPSHOT_INTERVAL_S``, so a stream of writes is answered in-process meanwhile;
- when the answer has not arrived ``REPLY_WAIT_S`` after the lane asks for it (a busy
  or hung worker: the search keeps its deadline), or a write came in meanwhile;
- while the worker starts, after it died (its queries are answered in-process; a new
  one is started after a pause that doubles per death, at most a minute), and when a
  query stays unanswered ``HUNG_S`` (it is killed);
- for an index under ``min_rows`` rows (its BM25 costs less than the round trip), and
  when ``org_words_worker`` is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import time
import weakref
from pathlib import Path

import numpy as np

from ._index import HybridIndex
from ._org_words_worker import ANSWER, FORGET, LOAD, LOADED, QUERY, STALE, write_snapshot
from ._ranked import Ranked
from ._worker_process import FramePipe

__all__ = ["Asked", "OrgWords"]

log = logging.getLogger("voxmem.engine.org")

#: An org index with fewer rows is searched in-process: its keyword search costs about
#: what the round trip costs the loop.
MIN_ROWS = 20_000
#: Longest wait for the worker's answer once the org lane needs it; then in-process.
REPLY_WAIT_S = 0.02
#: A query unanswered this long means a hung worker: it is killed.
HUNG_S = 2.0
#: A snapshot not taken in by the worker within this long: the worker is killed.
LOAD_TIMEOUT_S = 60.0
#: Fewest seconds between two snapshots of one index (writes meanwhile: in-process).
SNAPSHOT_INTERVAL_S = 5.0
#: Queries in flight beyond which a search is answered in-process.
MAX_IN_FLIGHT = 64
RESTART_DELAY_S = 1.0
RESTART_DELAY_MAX_S = 60.0
STOP_TIMEOUT_S = 5.0


def _forget_later(owner: weakref.ref[OrgWords], loop: asyncio.AbstractEventLoop,
                  number: int) -> None:
    # (run wherever the index's last reference went: the pipe is the loop's)
    words = owner()
    if words is not None and not loop.is_closed():
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(words._forget, number)


def _expire(future: asyncio.Future[Ranked | None]) -> None:
    if not future.done():
        future.set_result(None)


class Asked:
    """A keyword search sent to the worker: :meth:`OrgWords.answer` reads it."""

    __slots__ = ("future", "generation", "index")

    def __init__(self, future: asyncio.Future[Ranked | None], index: HybridIndex,
                 generation: int) -> None:
        self.future = future
        self.index = index
        self.generation = generation


class _Slot:
    """What the worker holds of one org index."""

    __slots__ = ("generation", "last", "loading", "number", "path", "sent_at")

    def __init__(self, number: int) -> None:
        self.number = number
        self.generation: int | None = None  # the snapshot the worker answers from
        self.loading = False
        self.path: Path | None = None  # a snapshot sent, not yet mapped
        self.sent_at = 0.0
        self.last = -SNAPSHOT_INTERVAL_S


class OrgWords:
    """The org lane's keyword searches in a worker process (see the module doc).

    Args:
        process: whether to use a worker at all (the ``org_words_worker`` setting).
        base: where snapshots are written (a private directory each, unlinked once the
            worker mapped them); the system's temporary directory when None.
        min_rows: smallest org index sent to the worker.
    """

    def __init__(self, *, process: bool, base: Path | None = None,
                 min_rows: int = MIN_ROWS) -> None:
        self.process = process
        self.base = base
        self.min_rows = min_rows
        #: searches answered by the worker; answered in-process after asking it (late,
        #: stale, lost); worker deaths and hangs; snapshots taken in
        self.answered = self.fallbacks = self.crashes = self.loads = 0
        self._slots: weakref.WeakKeyDictionary[HybridIndex, _Slot] = (
            weakref.WeakKeyDictionary())
        self._numbers = 0
        self._pipe: FramePipe | None = None
        self._starting: asyncio.Task[None] | None = None
        self._restart: asyncio.TimerHandle | None = None
        self._failures = 0
        self._rid = 0
        self._waiting: dict[int, tuple[asyncio.Future[Ranked | None], float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    def pid(self) -> int | None:
        """The worker's process id (None before it is started or after it died)."""
        if self._pipe is None or self._pipe.transport is None:
            return None
        return self._pipe.transport.get_pid()

    def current(self, index: HybridIndex) -> bool:
        """Whether the worker answers for ``index`` as it is now."""
        slot = self._slots.get(index)
        return (self._pipe is not None and slot is not None
                and slot.generation == index.postings.version)

    def _slot(self, index: HybridIndex) -> _Slot:
        slot = self._slots.get(index)
        if slot is None:
            self._numbers += 1
            slot = self._slots[index] = _Slot(self._numbers)
            # A reloaded or dropped org index: the worker lets its snapshot go.
            weakref.finalize(index, _forget_later, weakref.ref(self),
                             asyncio.get_running_loop(), slot.number)
        return slot

    def _forget(self, number: int) -> None:
        pipe = self._pipe
        if pipe is not None:
            with contextlib.suppress(OSError, RuntimeError):
                pipe.send(b"F" + FORGET.pack(number))

    async def warm(self, index: HybridIndex) -> bool:
        """Start the worker and bring it up to ``index`` as it is now (through the
        pause after a worker died); False when it cannot (off, closed, the index too
        small)."""
        if not self.process or index.rows < self.min_rows:
            return False
        slot = self._slot(index)
        while not self.current(index):
            if self._closed:
                return False
            if self._pipe is None:
                self._start_soon()  # (after the pause, when one is running)
            else:
                self._catch_up(index, slot, time.monotonic(), force=True)
            changed = asyncio.get_running_loop().create_future()
            self._waiters.append(changed)
            await changed
        return True

    def _notify(self) -> None:
        """Wake :meth:`warm`: the worker started, took a snapshot in, or was lost."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def ask(self, index: HybridIndex, terms: list[str], k: int) -> Asked | None:
        """Send the keyword top ``k`` of ``index`` for ``terms`` to the worker; None when
        the loop must search itself (the worker does not hold this generation yet, and
        is brought up to it; see the module doc)."""
        if not self.process or self._closed or not terms or index.rows < self.min_rows:
            return None
        slot = self._slot(index)
        pipe = self._pipe
        if pipe is None:
            self._start_soon()
            return None
        now = time.monotonic()
        if (self._waiting and now - next(iter(self._waiting.values()))[1] > HUNG_S) or (
                slot.path is not None and now - slot.sent_at > LOAD_TIMEOUT_S):
            log.warning("org words worker process %s did not answer in time; killed",
                        self.pid())
            self._lost(pipe)
            return None
        generation = index.postings.version
        if slot.generation != generation:
            self._catch_up(index, slot, now)
            return None
        if len(self._waiting) >= MAX_IN_FLIGHT:
            return None
        self._rid = rid = (self._rid + 1) & 0xFFFFFFFF
        try:
            pipe.send(b"Q" + QUERY.pack(rid, slot.number, generation, k)
                      + "\0".join(terms).encode("utf-8"))
        except (OSError, RuntimeError) as exc:  # the pipe broke: it exited meanwhile
            log.warning("org words worker's pipe failed (%s)", exc)
            self._lost(pipe)
            return None
        future: asyncio.Future[Ranked | None] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = (future, now)
        return Asked(future, index, generation)

    async def answer(self, asked: Asked) -> Ranked | None:
        """The worker's answer to ``asked``, or None: search in-process (it came too
        late, from another generation, or the index changed since it was asked)."""
        future = asked.future
        if not future.done():
            # A timer that answers "in-process" at the wait's end (the reply, later, is
            # dropped): cheaper on the loop than wait_for's task and shield.
            timer = asyncio.get_running_loop().call_later(REPLY_WAIT_S, _expire, future)
            try:
                await future
            finally:
                timer.cancel()
        ranked = future.result()
        if ranked is None or asked.index.postings.version != asked.generation:
            self.fallbacks += 1
            return None
        self.answered += 1
        return ranked

    # -- snapshots --------------------------------------------------------------------
    def _catch_up(self, index: HybridIndex, slot: _Slot, now: float, *,
                  force: bool = False) -> None:
        if slot.loading or (now - slot.last < SNAPSHOT_INTERVAL_S and not force):
            return
        slot.loading, slot.last = True, now
        task = asyncio.get_running_loop().create_task(self._snapshot(index, slot))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _snapshot(self, index: HybridIndex, slot: _Slot) -> None:
        try:
            taken = await asyncio.to_thread(write_snapshot, index, self.base)
        except Exception as exc:
            log.warning("org words snapshot failed (%r); searched in-process", exc)
            taken = None
        pipe = self._pipe
        if taken is None or pipe is None or self._closed:
            slot.loading = False
            if taken is not None:
                shutil.rmtree(taken[0], ignore_errors=True)
            self._notify()
            return
        path, generation = taken
        slot.path, slot.sent_at = path, time.monotonic()
        try:
            pipe.send(b"L" + LOAD.pack(slot.number, generation) + str(path).encode("utf-8"))
        except (OSError, RuntimeError):
            self._lost(pipe)

    def _loaded(self, number: int, generation: int, ok: bool, why: bytes) -> None:
        for slot in self._slots.values():
            if slot.number == number:
                if slot.path is not None:
                    shutil.rmtree(slot.path, ignore_errors=True)
                slot.path, slot.loading = None, False
                slot.generation = generation if ok else None
                if ok:
                    self.loads += 1
                    self._failures = 0
                else:
                    log.warning("org words worker could not load a snapshot: %s",
                                why.decode("utf-8", "replace"))
                break
        self._notify()

    # -- the worker's pipe ------------------------------------------------------------
    def _reply(self, pipe: FramePipe, frame: bytes) -> None:
        if pipe is not self._pipe:
            return  # a worker given up on
        kind = frame[:1]
        if kind == b"R":
            rid, count, dtype = ANSWER.unpack_from(frame, 1)
            entry = self._waiting.pop(rid, None)
            if entry is None or entry[0].done():
                return
            if count == STALE:
                entry[0].set_result(None)
                return
            start = 1 + ANSWER.size
            positions = np.frombuffer(frame, dtype="<i8", count=count, offset=start)
            scores = np.frombuffer(frame, dtype=np.dtype(dtype.decode()), count=count,
                                   offset=start + 8 * count)
            entry[0].set_result(Ranked(positions.astype(np.int64), scores.copy()))
        elif kind in (b"A", b"E"):
            number, generation = LOADED.unpack_from(frame, 1)
            self._loaded(number, generation, kind == b"A", frame[1 + LOADED.size:])

    def _lost(self, pipe: FramePipe) -> None:
        """The worker died, hung or broke its pipe: searches go in-process meanwhile."""
        if pipe is not self._pipe:
            return
        self._pipe = None
        if pipe.transport is not None:
            with contextlib.suppress(ProcessLookupError):
                pipe.transport.kill()
            pipe.transport.close()
        self._drop()
        if self._closed:
            self._notify()
            return
        self.crashes += 1
        self._failures += 1
        delay = min(RESTART_DELAY_MAX_S, RESTART_DELAY_S * 2 ** (self._failures - 1))
        log.warning("org words worker process lost; org keyword searches in-process, a "
                    "new worker in %.0f s", delay)
        self._restart = asyncio.get_running_loop().call_later(delay, self._restarted)
        self._notify()

    def _restarted(self) -> None:
        self._restart = None
        self._notify()

    def _start_soon(self) -> None:
        if self._starting is None and self._restart is None and not self._closed:
            self._starting = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        env = dict(os.environ)
        # The same voxmem as this process, wherever it came from (as the other workers).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            _transport, pipe = await asyncio.get_running_loop().subprocess_exec(
                lambda: FramePipe(self), sys.executable, "-m", "voxmem.engine._org_words_worker",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None,
                env=env)
        except Exception as exc:
            log.warning("org words worker not started (%r); searched in-process", exc)
            self._failures += 1
            self._restart = asyncio.get_running_loop().call_later(
                min(RESTART_DELAY_MAX_S, RESTART_DELAY_S * 2 ** (self._failures - 1)),
                self._restarted)
            self._notify()
            return
        finally:
            self._starting = None
        self._pipe = pipe
        if self._closed or pipe.exited.done():
            self._lost(pipe)
            return
        log.debug("started org words worker process %s", self.pid())
        self._notify()

    async def aclose(self) -> None:
        """Stop the worker (it exits at the end of its input) and drop its snapshots."""
        self._closed = True
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None
        if self._starting is not None:
            self._starting.cancel()
            await asyncio.gather(self._starting, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        pipe, self._pipe = self._pipe, None
        self._drop()
        self._notify()
        if pipe is not None:
            await pipe.stop(STOP_TIMEOUT_S)

    def _drop(self) -> None:
        """Searches waiting for the worker go in-process; it holds no snapshot now."""
        waiting, self._waiting = self._waiting, {}
        for future, _ in waiting.values():
            if not future.done():
                future.set_result(None)
        for slot in self._slots.values():
            if slot.path is not None:  # sent, not taken in (one being written goes on)
                shutil.rmtree(slot.path, ignore_errors=True)
                slot.path, slot.loading = None, False
            slot.generation = None
            slot.last = -SNAPSHOT_INTERVAL_S
