"""``voxmem serve``: one runtime process per data directory.

Start-up order matters and is chosen so that a client never sees a half-ready runtime:

1. take ``runtime.lock`` (exclusive flock) or exit with :data:`EXIT_ALREADY_RUNNING`;
2. bind a free port from the configured range ourselves (so the port is known and held
   before the app starts) or exit with :data:`EXIT_NO_FREE_PORT`;
3. write a fresh token file (0600);
4. start the engine (journal replay included) on the loop uvicorn will serve from; a
   store that cannot be opened (read-only or unwritable data directory, Postgres
   refusing) is one log line and :data:`EXIT_START_FAILED`, not a traceback;
5. the app's lifespan then writes ``runtime.json``; the socket already listens, so
   early connections simply queue.

On SIGTERM/SIGINT uvicorn drains requests in flight, then the lifespan removes
``runtime.json`` and closes the engine, applying every journaled write; meanwhile a
heartbeat in ``runtime.stopping`` says how far that got, so ``voxmem stop`` waits for a
long backlog instead of killing a runtime that is still storing it. The lock goes with
the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import socket
import sys
import time
from typing import Any

from .._config import SecretMaskingFilter, Settings, mask_secrets
from ..engine import MemoryEngine
from ._app import RuntimeHooks, create_app
from ._discovery import (
    EXIT_ALREADY_RUNNING,
    EXIT_NO_FREE_PORT,
    EXIT_START_FAILED,
    RUNTIME_LOCK_FILE,
    Discovery,
    FileLock,
    StopProgress,
    ensure_data_dir,
    read_discovery,
    remove_discovery,
    remove_stop_progress,
    write_discovery,
    write_stop_progress,
    write_token,
)
from ._gc import FullCollectionPolicy

__all__ = ["CannotBind", "NoFreePort", "bind_free_port", "serve"]

log = logging.getLogger("voxmem.runtime")

# The kernel caps it at net.core.somaxconn (4096 on current Linux); a host opening
# connections faster than a swamped loop accepts them gets resets once it overflows.
LISTEN_BACKLOG = 4096
KEEP_ALIVE_S = 75
# A client probing the lock holds a shared flock for microseconds; wait that out rather
# than mistake it for a running runtime.
LOCK_WAIT_S = 1.0
# How long a thread may hold the GIL while another waits for it (CPython default 5 ms).
# Recall runs on the event loop while warm loads (a caller's memories, an org index)
# run on worker threads; every time recall's numpy releases the GIL, getting it back
# can take a whole interval. Measured on a 2-core host, search_memory while a 100k-chunk
# org index loaded: 5 ms gave p99 30-36 ms, max ~94 ms; 1 ms gave p99 24 ms, max 54-97 ms
# for +1 ms at p50; 0.5 ms was worse on every figure (switching overhead).
SWITCH_INTERVAL_S = 0.001
#: How often a stopping runtime refreshes its heartbeat (``runtime.stopping``).
STOP_BEAT_S = 0.25


class NoFreePort(OSError):
    """Every port of the configured range is taken."""


class CannotBind(OSError):
    """The host cannot be listened on at all: a name that does not resolve, an address
    this machine does not have, a port it may not open. Another port would not help."""


def bind_free_port(host: str, port_min: int, port_max: int) -> socket.socket:
    """A listening socket on the first free port of ``port_min..port_max``.

    Only a port in use moves on to the next one; any other failure is :class:`CannotBind`
    (reported as "no free port", an address not on this host sent operators widening a
    port range that was never the problem).
    """
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CannotBind(f"cannot listen on {host!r}: the name does not resolve "
                         f"({exc.strerror}); set runtime_host (VOXMEM_RUNTIME_HOST) or "
                         "--host to an address of this machine") from None
    family = infos[0][0] if infos else socket.AF_INET
    address = infos[0][4][0] if infos else host
    for port in range(port_min, port_max + 1):
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on connections whose
        # socket says TCP, and without it Nagle plus delayed ACKs add ~40 ms to every
        # small response. TCP_NODELAY on the listener is inherited by accepted sockets.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # SO_REUSEADDR lets a restarted runtime take a port still in TIME_WAIT from its
        # killed predecessor; it does not allow two listeners on one port on Linux.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
            sock.listen(LISTEN_BACKLOG)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                continue
            raise CannotBind(f"cannot listen on {host} port {port}: {exc.strerror}; set "
                             "runtime_host (VOXMEM_RUNTIME_HOST) or --host to an address "
                             "of this machine, and ports it may open") from None
        return sock
    raise NoFreePort(f"no free port in {port_min}..{port_max} on {host}; widen "
                     "runtime_port_min/runtime_port_max (VOXMEM_RUNTIME_PORT_MIN/MAX)")


def serve(settings: Settings, *, host: str | None = None, port: int | None = None,
          announce: Any = None, lock: FileLock | None = None) -> int:
    """Run the runtime in the foreground until SIGTERM/SIGINT; returns an exit code.

    ``announce`` (optional) is called with the :class:`Discovery` once the runtime
    answers, e.g. to print its URL. ``lock``: the data directory's runtime lock when the
    caller already holds it (``voxmem serve`` takes it before importing the runtime).
    """
    import uvicorn

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # Full collections scan only what is new, not the whole warm heap (runtime/_gc.py).
    FullCollectionPolicy().install()
    data_dir = ensure_data_dir(settings.data_path)
    host = host or settings.runtime_host
    if lock is None:
        lock = FileLock(data_dir / RUNTIME_LOCK_FILE)
        if not lock.acquire(LOCK_WAIT_S):
            other = read_discovery(data_dir)
            where = f" (pid {other.pid}, {other.url})" if other else ""
            log.error("a runtime already serves %s%s", data_dir, where)
            return EXIT_ALREADY_RUNNING
    try:
        # We hold the lock, so any discovery or heartbeat file is a dead runtime's leftover.
        remove_discovery(data_dir)
        remove_stop_progress(data_dir)
        lo, hi = (port, port) if port else (settings.runtime_port_min,
                                            settings.runtime_port_max)
        try:
            sock = bind_free_port(host, lo, hi)
        except NoFreePort as exc:
            log.error("%s", exc)
            return EXIT_NO_FREE_PORT
        except CannotBind as exc:
            log.error("%s", exc)
            return EXIT_START_FAILED
        bound_port = int(sock.getsockname()[1])
        token_path, token = write_token(data_dir)
        discovery = Discovery(pid=os.getpid(), host=host, port=bound_port,
                              token_path=str(token_path), started_at=time.time(),
                              instance=secrets.token_hex(8), version=_version())
        try:
            engine = MemoryEngine(settings)
        except Exception as exc:
            log.error("cannot start the engine: %s", mask_secrets(str(exc)))
            sock.close()
            return EXIT_START_FAILED

        server: Any = None
        reporting: list[asyncio.Task[None]] = []

        def on_ready() -> None:
            write_discovery(data_dir, discovery)
            log.info("voxmem runtime %s serving %s at %s (pid %d)", discovery.version,
                     data_dir, discovery.url, discovery.pid)
            if announce is not None:
                announce(discovery)

        def on_stopping() -> None:
            log.info("shutting down: flushing the engine")
            remove_discovery(data_dir, discovery.instance)
            reporting.append(asyncio.get_running_loop().create_task(
                _report_stopping(engine, data_dir, discovery), name="voxmem-stop-progress"))

        def on_stopped() -> None:
            for task in reporting:
                task.cancel()
            remove_stop_progress(data_dir)

        def request_shutdown() -> None:
            if server is not None:
                server.should_exit = True

        def info() -> dict[str, Any]:
            return {"pid": discovery.pid, "url": discovery.url, "dataDir": str(data_dir),
                    "startedAt": discovery.started_at, "instance": discovery.instance}

        app = create_app(engine, token=token, settings=settings, hooks=RuntimeHooks(
            on_ready=on_ready, on_stopping=on_stopping, on_stopped=on_stopped,
            request_shutdown=request_shutdown,
            info=info))
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="on",
            # Clients reach the runtime directly (loopback or its own network), never
            # through a proxy it should believe: uvicorn's default trusts 127.0.0.1's
            # X-Forwarded-For, so any local process could name another address in the
            # log, and parsing it was 2 % of the runtime's CPU per request under load.
            proxy_headers=False,
            # Workers keep one connection per concurrent call; uvicorn's 5 s default
            # would close it between the turns of a quiet caller.
            timeout_keep_alive=KEEP_ALIVE_S,
            log_level=settings.runtime_log_level,
            timeout_graceful_shutdown=max(1, round(settings.runtime_shutdown_timeout_s)),
            http=_http_protocol(),
        )
        server = uvicorn.Server(config)

        async def run() -> int:
            # Started here rather than in the lifespan (where it is then a no-op): a
            # failure inside the lifespan would reach the log as a framework traceback.
            try:
                await engine.start()
            except Exception as exc:
                log.error("cannot start the engine for %s: %s (%s)", data_dir,
                          mask_secrets(str(exc)), type(exc).__name__)
                with contextlib.suppress(Exception):
                    await engine.close()
                return EXIT_START_FAILED
            await server.serve(sockets=[sock])
            return 0

        # The loop uvicorn itself would pick (uvloop when installed and configured).
        factory = getattr(config, "get_loop_factory", lambda: None)()
        try:
            with asyncio.Runner(loop_factory=factory) as runner:
                return runner.run(run())
        except SystemExit as exc:
            # uvicorn exits this way when the lifespan fails after the engine started.
            log.error("runtime failed to start (uvicorn exit %s)", exc.code)
            return EXIT_START_FAILED
        finally:
            remove_discovery(data_dir, discovery.instance)
            remove_stop_progress(data_dir)
    finally:
        lock.release()


async def _report_stopping(engine: MemoryEngine, data_dir: Any, discovery: Discovery) -> None:
    """Refresh ``runtime.stopping`` until cancelled: this runtime is alive and draining.

    Written from the event loop on purpose: a loop that stopped turning (a hang) stops
    the heartbeat, and that is what ``voxmem stop`` may kill for.
    """
    beat = 0
    while True:
        stats = engine.stats()
        try:
            write_stop_progress(data_dir, StopProgress(
                pid=discovery.pid, instance=discovery.instance, beat=beat,
                journal_seq=int(stats.get("journalSeq", 0)),
                applied_seq=int(stats.get("appliedSeq", 0))))
        except OSError as exc:  # a full disk: stop then falls back to its timeout
            log.debug("cannot write the stop heartbeat: %s", exc)
        beat += 1
        await asyncio.sleep(STOP_BEAT_S)


def _http_protocol() -> Any:
    """The HTTP protocol: httptools with the hot answers in one write, or uvicorn's pick."""
    try:
        from ._protocol import hot_answer_protocol
    except ImportError:  # httptools missing: uvicorn falls back to h11 by itself
        return "auto"
    from .._operations import OPERATIONS
    from ._hotpath import HOT_OPERATIONS

    return hot_answer_protocol(op.path for op in OPERATIONS.values()
                               if op.name in HOT_OPERATIONS and op.method == "POST")


def configure_logging(settings: Settings) -> None:
    """Runtime log lines to stderr (the detached runtime's stderr is runtime.log)."""
    logging.basicConfig(
        level=settings.runtime_log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    # On the handlers, not a logger: records of every library (uvicorn, psycopg) pass
    # through them, and a store URL's password must never reach runtime.log.
    masking = SecretMaskingFilter(settings)
    for handler in logging.getLogger().handlers:
        handler.addFilter(masking)


def _version() -> str:
    from .. import __version__

    return __version__
