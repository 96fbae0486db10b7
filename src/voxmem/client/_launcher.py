"""Find the data directory's runtime, or start one, without blocking the event loop.

The protocol (see :mod:`voxmem.runtime._discovery` for the files):

1. If ``runtime.lock`` is held and ``runtime.json`` names a runtime whose health check
   answers, use it (the token comes from the 0600 file it names).
2. Otherwise take ``runtime.start.lock`` so that of many processes starting at once
   exactly one launches; the others wait for its runtime to publish itself.
3. Holding it, look again. A held runtime lock with no discovery file is a runtime still
   starting (or stopping): wait. A published runtime that holds the lock but fails its
   health check for :data:`WEDGED_AFTER_S` is stopped (SIGTERM, then SIGKILL) and
   replaced. A free runtime lock means no runtime: any discovery file is stale; remove
   it and spawn ``python -m voxmem serve`` detached (new session, output appended to
   ``runtime.log``), then poll until it publishes itself or exits.

Every wait is an ``asyncio.sleep``; the only blocking call, ``Popen``, runs in a worker
thread. ``asyncio.create_subprocess_exec`` is deliberately not used: its transport kills
the child when the loop that started it closes, and the runtime must outlive the
process that happened to launch it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from .._config import ENV_PREFIX, Settings
from .._exceptions import PoolError, RuntimeStartFailed
from ..runtime._discovery import (
    EXIT_ALREADY_RUNNING,
    EXIT_NO_FREE_PORT,
    LOG_FILE,
    START_LOCK_FILE,
    FileLock,
    ensure_data_dir,
    read_discovery,
    read_token,
    remove_discovery,
    runtime_lock_held,
)

__all__ = ["Endpoint", "LocalRuntime"]

log = logging.getLogger("voxmem.client")

POLL_S = 0.02
WEDGED_AFTER_S = 5.0
TERMINATE_GRACE_S = 5.0
LOG_ROTATE_BYTES = 10 * 1024 * 1024
LOG_TAIL_BYTES = 2000
#: Settings that configure the client side only; never handed to a spawned runtime.
CLIENT_ONLY_SETTINGS = frozenset({"runtime_url", "runtime_token"})

HealthCheck = Callable[[str], Awaitable[bool]]


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a runtime answers and the token it wants."""

    url: str
    token: str
    pid: int | None = None
    instance: str | None = None


class LocalRuntime:
    """The runtime of one data directory: discovered, or started on demand.

    Example::

        local = LocalRuntime(settings, health=check)
        endpoint = await local.find_or_start()
    """

    def __init__(self, settings: Settings, *, health: HealthCheck) -> None:
        self.settings = settings
        self.data_dir: Path = settings.data_path
        self._health = health
        self._child: subprocess.Popen[bytes] | None = None
        self.launched = 0
        #: Set while a look found no runtime serving the directory and this process
        #: waits for one to start (its own or another's): seconds, not milliseconds.
        self.starting = asyncio.Event()

    async def find(self) -> Endpoint | None:
        """The live, healthy runtime of the data directory, or ``None``."""
        self._reap_child()
        found = read_discovery(self.data_dir)
        if found is None or not runtime_lock_held(self.data_dir):
            return None
        token = read_token(found.token_path)
        if token is None or not await self._health(found.url):
            return None
        return Endpoint(found.url, token, found.pid, found.instance)

    async def find_or_start(self) -> Endpoint:
        """Use the running runtime or start one; raises ``runtime.start_failed``."""
        try:
            return await self._find_or_start()
        except OSError as exc:  # an unusable data directory, never a raw OS error
            raise RuntimeStartFailed(
                f"cannot use the data directory {self.data_dir} for the runtime: {exc}",
                details=self._details()) from exc

    async def _find_or_start(self) -> Endpoint:
        endpoint = await self.find()
        if endpoint is not None:
            return endpoint
        self.starting.set()
        try:
            return await self._wait_for_start()
        finally:
            self.starting.clear()

    async def _wait_for_start(self) -> Endpoint:
        loop = asyncio.get_running_loop()
        timeout = self.settings.runtime_start_timeout_s
        deadline = loop.time() + timeout
        ensure_data_dir(self.data_dir)
        start_lock = FileLock(self.data_dir / START_LOCK_FILE)
        polls = 0
        while not start_lock.try_acquire():
            # Another process is launching: its runtime may be up before the lock frees.
            polls += 1
            if polls % 5 == 0 and (endpoint := await self.find()) is not None:
                return endpoint
            if loop.time() > deadline:
                raise RuntimeStartFailed(
                    f"another process has been starting the runtime for {timeout:.0f} s; "
                    f"see {self.data_dir / LOG_FILE}", details=self._details())
            await asyncio.sleep(POLL_S)
        try:
            return await self._start_locked(deadline)
        finally:
            start_lock.release()

    async def _start_locked(self, deadline: float) -> Endpoint:
        loop = asyncio.get_running_loop()
        child: subprocess.Popen[bytes] | None = None
        unhealthy_since: float | None = None
        while True:
            endpoint = await self.find()
            if endpoint is not None:
                if child is not None:
                    log.info("started runtime pid %s at %s", endpoint.pid, endpoint.url)
                return endpoint
            now = loop.time()
            if child is not None and (code := child.poll()) is not None:
                child = None
                if code == EXIT_NO_FREE_PORT:
                    raise PoolError(
                        f"no free port in {self.settings.runtime_port_min}.."
                        f"{self.settings.runtime_port_max} for the runtime; widen "
                        "runtime_port_range", code="pool.port_exhausted",
                        details=self._details())
                if code != EXIT_ALREADY_RUNNING:
                    raise RuntimeStartFailed(
                        f"the runtime exited with code {code} while starting: "
                        f"{await self._log_tail()}", details=self._details())
                # EXIT_ALREADY_RUNNING: a runtime started by hand won the lock; wait for it.
            if runtime_lock_held(self.data_dir):
                published = read_discovery(self.data_dir)
                if published is None:
                    unhealthy_since = None  # still starting, or stopping
                elif unhealthy_since is None:
                    unhealthy_since = now
                elif now - unhealthy_since > WEDGED_AFTER_S:
                    await self._terminate(published.pid)
                    unhealthy_since = None
                    continue
            elif child is None:
                # Nobody holds the runtime lock, so nobody serves this directory: a
                # discovery file left behind belongs to a dead runtime.
                remove_discovery(self.data_dir)
                child = await self._spawn()
            if now > deadline:
                raise RuntimeStartFailed(
                    f"the runtime did not answer within "
                    f"{self.settings.runtime_start_timeout_s:.0f} s (raise "
                    f"runtime_start_timeout_s); log tail: {await self._log_tail()}",
                    details=self._details())
            await asyncio.sleep(POLL_S)

    async def _spawn(self) -> subprocess.Popen[bytes]:
        loop = asyncio.get_running_loop()
        try:
            child = await loop.run_in_executor(None, self._popen)
        except OSError as exc:
            raise RuntimeStartFailed(f"cannot launch the runtime: {exc}",
                                     details=self._details()) from exc
        self._child = child
        self.launched += 1
        log.info("launching runtime for %s (pid %d)", self.data_dir, child.pid)
        return child

    def _popen(self) -> subprocess.Popen[bytes]:
        log_path = self.data_dir / LOG_FILE
        with contextlib.suppress(OSError):
            if log_path.stat().st_size > LOG_ROTATE_BYTES:
                log_path.replace(log_path.with_name(LOG_FILE + ".1"))
        with log_path.open("ab") as sink:
            return subprocess.Popen(
                [sys.executable, "-m", "voxmem", "serve", "--data-dir", str(self.data_dir)],
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                # A session of its own: the runtime survives its launcher and never gets
                # the launcher's terminal signals (Ctrl-C in a worker's console).
                start_new_session=True, close_fds=True, cwd=self.data_dir,
                env=self._child_env())

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in self.settings.to_dict():
            key = ENV_PREFIX + name.upper()
            if name in CLIENT_ONLY_SETTINGS:
                env.pop(key, None)
            else:
                env[key] = str(getattr(self.settings, name))
        env[ENV_PREFIX + "DATA_DIR"] = str(self.data_dir)
        # The child must import this very voxmem, wherever it was imported from.
        package_root = str(Path(__file__).resolve().parents[2])
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([package_root, *paths])
        return env

    async def _terminate(self, pid: int) -> None:
        """Stop a runtime that holds the lock but no longer answers."""
        if pid == os.getpid():
            return
        log.warning("runtime pid %d holds %s but fails its health check; replacing it",
                    pid, self.data_dir)
        loop = asyncio.get_running_loop()
        for sig, grace in ((signal.SIGTERM, TERMINATE_GRACE_S), (signal.SIGKILL, 2.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            except PermissionError as exc:
                raise RuntimeStartFailed(
                    f"runtime pid {pid} does not answer and cannot be stopped: {exc}",
                    details=self._details()) from exc
            until = loop.time() + grace
            while loop.time() < until:
                self._reap_child()
                if not runtime_lock_held(self.data_dir):
                    return
                await asyncio.sleep(POLL_S)

    def _reap_child(self) -> None:
        # The runtime we launched stays our child; collect its exit status once it has
        # one so it never lingers as a zombie.
        if self._child is not None and self._child.poll() is not None:
            self._child = None

    async def _log_tail(self) -> str:
        def tail() -> str:
            try:
                with (self.data_dir / LOG_FILE).open("rb") as f:
                    f.seek(0, os.SEEK_END)
                    f.seek(max(0, f.tell() - LOG_TAIL_BYTES))
                    return f.read().decode("utf-8", "replace").strip()
            except OSError as exc:
                return f"(no log: {exc})"

        return await asyncio.get_running_loop().run_in_executor(None, tail)

    def _details(self) -> dict[str, str]:
        return {"dataDir": str(self.data_dir), "log": str(self.data_dir / LOG_FILE)}
