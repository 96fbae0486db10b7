"""Stopping the runtime of a data directory from another process (``voxmem stop``).

SIGTERM asks the runtime to finish: it answers what is in flight, then applies its
journaled backlog to the store while it refreshes a heartbeat (``runtime.stopping``,
see :mod:`voxmem.runtime._server`). A backlog can take longer than any fixed wait, so
the wait here restarts with every new beat; only a runtime that shows no sign of life
for the timeout (a hung process) gets SIGKILL, which loses nothing acknowledged: the
journal is replayed at the next start.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from ._discovery import (
    StopProgress,
    read_discovery,
    read_stop_progress,
    remove_discovery,
    runtime_lock_held,
)

__all__ = ["KILL_WAIT_S", "STOP_TIMEOUT_S", "stop_runtime"]

log = logging.getLogger("voxmem.runtime")

#: How long ``voxmem stop`` waits for a sign of life from a stopping runtime (a new
#: heartbeat) before it kills it; a runtime still storing its backlog keeps beating.
STOP_TIMEOUT_S = 15.0
#: How long a killed runtime gets to go before ``voxmem stop`` reports it did not exit.
KILL_WAIT_S = 5.0


def stop_runtime(data_dir: Path, timeout_s: float = STOP_TIMEOUT_S,
                 on_progress: Callable[[StopProgress], None] | None = None) -> str:
    """Stop the runtime serving ``data_dir``: SIGTERM, and SIGKILL only if it hangs.

    On SIGTERM the runtime answers what is in flight and applies its journaled backlog
    to the store, refreshing a heartbeat (``runtime.stopping``) meanwhile. Every new
    beat restarts the ``timeout_s`` wait, so a long backlog is stored in full however
    long it takes; only a runtime that shows no sign of life for ``timeout_s`` is
    killed (which loses nothing: its journal is replayed at the next start).
    ``on_progress`` is called with each new beat.
    """
    found = read_discovery(data_dir)
    if not runtime_lock_held(data_dir):
        if found is not None:
            remove_discovery(data_dir)
        return "not running"
    if found is None:
        return "starting (no pid published yet); try again in a moment"
    try:
        os.kill(found.pid, signal.SIGTERM)
    except ProcessLookupError:
        return "stopped"
    deadline = time.monotonic() + timeout_s
    last_beat: int | None = None
    while time.monotonic() < deadline:
        if not runtime_lock_held(data_dir):
            return "stopped"
        progress = read_stop_progress(data_dir)
        if progress is not None and progress.pid == found.pid and progress.beat != last_beat:
            last_beat = progress.beat
            deadline = time.monotonic() + timeout_s
            if on_progress is not None:
                on_progress(progress)
        time.sleep(0.05)
    log.warning("runtime pid %d showed no sign of life for %.0f s after SIGTERM; killing it "
                "(its journal is replayed at the next start)", found.pid, timeout_s)
    try:
        os.kill(found.pid, signal.SIGKILL)
    except ProcessLookupError:
        return "stopped"
    deadline = time.monotonic() + KILL_WAIT_S
    while time.monotonic() < deadline:
        if not runtime_lock_held(data_dir):
            return "killed"
        time.sleep(0.05)
    return f"pid {found.pid} did not exit"
