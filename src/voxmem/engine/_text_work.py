"""A save's text work in a worker process, batched per loop pass, inline when it cannot be.

Redaction, the entity-claim scan and the turn's analysis are ~180 µs of CPU per saved
turn, all on the event loop's thread, which is what limits a runtime's throughput
(docs/performance.md, "A sixth round"). :class:`TextWork` sends that work to one worker
process instead: the turns that arrive in one pass of the loop go down its pipe as one
pickled batch (:func:`~voxmem.engine._text_batch.text_works`), and each save awaits its
own result before it journals the turn, so durability and read-your-writes are as
before. The loop keeps ~10 µs per turn of pickling and bookkeeping.

The work is the same pure function inline and in the worker. What makes it depend on
earlier turns is the redaction context (what the agent asked last decides whether the
caller's next words are an answer to hide), so a session's turns are done one after
another: a turn whose session has a turn still being worked on waits for it, then reads
the context that turn left. The context stays in this process's :class:`Redactor`.

Inline, with the same answers, while the worker is starting (its imports take a second
or two), after it died (the turns it had are done inline, in order, and a new worker is
started after a pause), when it does not answer a batch within ``BATCH_TIMEOUT_S`` (it
is killed), when it reports an error (the batch is done inline: a turn that fails there
fails its own save only), while shutting down, and when ``text_worker`` is off.

The worker is the background worker's program (``_worker_process``, its pipes and
frames) at normal priority: this work is on the request path. It is started once the
engine has saved ``START_AFTER_SAVES`` turns, so a process that saves a few turns never
pays for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import pickle
import sys
from collections.abc import Hashable
from typing import Any

from ..extraction.redaction import Redactor
from ._text_batch import TextJob, TurnText, text_work, text_works
from ._worker_process import REQUEST_PATH_FLAG, FramePipe

__all__ = ["TextWork"]

log = logging.getLogger("voxmem.engine.text")

#: Most turns in one message to the worker; the rest wait for the next.
MAX_BATCH = 64
#: A batch the worker has not answered in this long is done inline and the worker killed.
BATCH_TIMEOUT_S = 2.0
#: How long a starting worker may take to answer its first (warm-up) batch.
START_TIMEOUT_S = 60.0
#: Saved turns before the worker is started.
START_AFTER_SAVES = 64
#: Pause before a worker that died is replaced; doubled per death without an answered
#: batch in between, up to the maximum.
RESTART_DELAY_S = 1.0
RESTART_DELAY_MAX_S = 60.0
#: Longest wait for a stopping worker to exit on its own before it is killed.
STOP_TIMEOUT_S = 5.0
#: Warms the worker's patterns and stemmer before it takes real turns.
_WARM_UP = TextJob((None, ""), "it's four one one five five five zero one zero zero",
                   "Thanks, and what's your account number?", None, None, True, None)


@dataclasses.dataclass(slots=True)
class _Pending:
    """One turn waiting for its text work; ``done`` is set once its context is kept."""

    job: TextJob
    key: Hashable | None
    done: asyncio.Future[TurnText]


class TextWork:
    """A save's redaction, claim scan and terms, in a worker process or inline.

    Args:
        redactor: the engine's redactor (its policy, and each session's context).
        process: whether to use a worker process at all (the ``text_worker`` setting).
    """

    def __init__(self, redactor: Redactor, *, process: bool) -> None:
        self._redactor = redactor
        self.process = process
        #: turns done in the worker / inline; batches sent; worker deaths and hangs
        self.offloaded = self.inline = self.batches = self.crashes = 0
        self._saves = 0
        self._failures = 0  # deaths since a worker last answered a batch
        self._pipe: FramePipe | None = None  # the worker, starting or ready
        self._ready = False
        self._starting: asyncio.Task[None] | None = None
        self._restart: asyncio.TimerHandle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Handle | None = None
        self._queue: list[_Pending] = []
        self._sent: list[_Pending] | None = None
        self._last: dict[Hashable, asyncio.Future[TurnText]] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    @property
    def ready(self) -> bool:
        """Whether turns go to the worker now (False: they are done inline)."""
        return self._ready

    def pid(self) -> int | None:
        """The worker's process id (None before it is started or after it died)."""
        if self._pipe is None or self._pipe.transport is None:
            return None
        return self._pipe.transport.get_pid()

    async def turn(self, key: Hashable | None, *, user_text: str, assistant_text: str,
                   tool_calls: list[dict[str, Any]] | None, metadata: dict[str, Any] | None,
                   scan: bool, region: str | None) -> TurnText:
        """Do one turn's text work; ``key`` is its session's redaction key (None: none).

        Turns of one session must be passed in the order they happened: each waits for
        the one before it.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[TurnText] = loop.create_future()
        before = None
        if key is not None:
            before = self._last.get(key)
            self._last[key] = done
            done.add_done_callback(functools.partial(self._release, key))
        if before is not None and not before.done():
            try:
                await asyncio.wait((before,))
            except BaseException:
                done.cancel()  # the session's next turn goes ahead
                raise
        context = self._redactor.context(key) if key is not None else (None, "")
        pending = _Pending(TextJob(context, user_text, assistant_text, tool_calls, metadata,
                                   scan, region), key, done)
        self._saves += 1
        if self._ready:
            self._queue.append(pending)
            if self._flushing is None and self._sent is None:
                self._flushing = loop.call_soon(self._flush)
        else:
            self._do_inline(pending)
            if (self.process and self._pipe is None and self._starting is None
                    and self._restart is None and not self._closed
                    and self._saves >= START_AFTER_SAVES):
                self._starting = loop.create_task(self._start())
        return await asyncio.shield(done)

    def _release(self, key: Hashable, done: asyncio.Future[TurnText]) -> None:
        if self._last.get(key) is done:
            del self._last[key]

    # -- results ----------------------------------------------------------------------
    def _keep(self, pending: _Pending, result: TurnText) -> None:
        if pending.key is not None:
            self._redactor.remember(pending.key, result.context)
        if not pending.done.done():
            pending.done.set_result(result)

    def _do_inline(self, pending: _Pending) -> None:
        self.inline += 1
        try:
            result = text_work(pending.job, self._redactor.policy)
        except Exception as exc:  # fails this save, as it would have without a worker
            if not pending.done.done():
                pending.done.set_exception(exc)
            return
        self._keep(pending, result)

    def _all_inline(self) -> None:
        """Do inline, in order, every turn the worker had or was about to get."""
        sent, self._sent = self._sent or [], None
        queued, self._queue = self._queue, []
        for pending in (*sent, *queued):
            self._do_inline(pending)

    # -- the worker's pipe ----------------------------------------------------------------
    def _flush(self) -> None:
        self._flushing = None
        pipe = self._pipe
        if self._sent is not None or not self._queue:
            return
        if pipe is None or not self._ready:
            self._all_inline()
            return
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            payload = pickle.dumps((text_works, ([p.job for p in batch],
                                                 self._redactor.policy)),
                                   protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # e.g. metadata an embedding application made up
            log.debug("a batch of turns does not pickle (%r); done inline", exc)
            for pending in batch:
                self._do_inline(pending)
            self._flush()
            return
        self._sent = batch
        self.batches += 1
        try:
            pipe.send(payload)
        except (OSError, RuntimeError) as exc:  # the pipe broke: it exited meanwhile
            log.warning("text worker's pipe failed (%s)", exc)
            self._lost(pipe)
            return
        self._timer = asyncio.get_running_loop().call_later(
            BATCH_TIMEOUT_S, self._hung, pipe)

    def _reply(self, pipe: FramePipe, frame: bytes) -> None:
        if pipe is not self._pipe:
            return  # a worker given up on
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            ok, value = pickle.loads(frame)
        except Exception as exc:
            ok, value = False, exc
        if not self._ready:  # the warm-up's answer
            if not ok:
                log.warning("text worker process %s failed to warm up (%r)", self.pid(), value)
                self._lost(pipe)
                return
            self._ready = True
            log.info("text worker process %s is ready", self.pid())
            self._notify()
            self._flush()
            return
        batch, self._sent = self._sent or [], None
        if ok and isinstance(value, list) and len(value) == len(batch):
            self.offloaded += len(batch)
            self._failures = 0  # it answers: a next death waits the shortest pause
            for pending, result in zip(batch, value, strict=True):
                self._keep(pending, result)
        else:
            log.warning("text worker failed a batch of %d turns (%r); done inline",
                        len(batch), value)
            for pending in batch:
                self._do_inline(pending)
        self._flush()

    def _hung(self, pipe: FramePipe) -> None:
        if pipe is self._pipe:
            log.warning("text worker process %s did not answer in time; killed", self.pid())
            self._lost(pipe)

    def _lost(self, pipe: FramePipe) -> None:
        """The worker died, hung or broke its pipe: its turns are done here, in order."""
        if pipe is not self._pipe:
            return
        self._pipe, self._ready = None, False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if pipe.transport is not None:
            with contextlib.suppress(ProcessLookupError):
                pipe.transport.kill()  # if it still runs (hung, or its pipe broke)
            pipe.transport.close()
        self._all_inline()
        log.warning("text worker process lost; saves run inline")
        self._failed()

    def _failed(self) -> None:
        """A worker died or did not start: try again after a pause (inline meanwhile)."""
        self._notify()
        if self._closed:
            return
        self.crashes += 1
        self._failures += 1
        delay = min(RESTART_DELAY_MAX_S, RESTART_DELAY_S * 2 ** (self._failures - 1))
        log.info("a new text worker in %.0f s", delay)
        self._restart = asyncio.get_running_loop().call_later(delay, self._start_again)

    def _start_again(self) -> None:
        self._restart = None
        if not self._closed and self._pipe is None and self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        env = dict(os.environ)
        # The same voxmem as this process, wherever it came from (as the learning worker).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            _transport, pipe = await loop.subprocess_exec(
                lambda: FramePipe(self), sys.executable, "-m", "voxmem.engine._worker_process",
                REQUEST_PATH_FLAG, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=None, env=env)
        except Exception as exc:
            self._starting = None
            log.warning("text worker not started (%r); saves run inline", exc)
            self._failed()
            return
        self._starting = None
        self._pipe = pipe
        if self._closed or pipe.exited.done():
            self._lost(pipe)
            return
        pipe.send(pickle.dumps((text_works, ([_WARM_UP], self._redactor.policy)),
                               protocol=pickle.HIGHEST_PROTOCOL))
        self._timer = loop.call_later(START_TIMEOUT_S, self._hung, pipe)
        log.debug("started text worker process %s", self.pid())

    async def start(self) -> None:
        """Start the worker now; return once it takes turns, or failed to start."""
        if not self.process or self._closed:
            return
        self._saves = max(self._saves, START_AFTER_SAVES)
        if self._pipe is None and self._starting is None:
            if self._restart is not None:
                self._restart.cancel()
                self._restart = None
            self._starting = asyncio.get_running_loop().create_task(self._start())
        while not self._ready and (self._starting is not None or self._pipe is not None):
            changed = asyncio.get_running_loop().create_future()
            self._waiters.append(changed)
            await changed

    def _notify(self) -> None:
        """Wake :meth:`start`'s waiters: the worker became ready, or did not start."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def aclose(self) -> None:
        """Stop the worker: turns it still has are done inline; it exits on end of input."""
        self._closed = True
        for handle in (self._restart, self._flushing):
            if handle is not None:
                handle.cancel()
        self._restart = self._flushing = None
        if self._starting is not None:
            self._starting.cancel()
            await asyncio.gather(self._starting, return_exceptions=True)
        pipe, self._pipe, self._ready = self._pipe, None, False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._all_inline()
        if pipe is not None:
            await pipe.stop(STOP_TIMEOUT_S)
