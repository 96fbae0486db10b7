"""Stops the test suite's throwaway PostgreSQL when the test process dies without
tearing it down (SIGTERM, SIGKILL, the OOM killer, a CI step's timeout).

``pg_ctl`` starts the server in a session of its own, so a signal to the test process
or its process group never reaches it, and a killed run left a ``postgres -D`` server
(and its temp directory) behind for every run. The fixture's own teardown stops it on
any ending Python sees; this covers the endings it does not.

The watchdog is a small process in a session of its own (a Ctrl-C to the terminal's
group reaches the test process, whose teardown then runs, not the watchdog) that
reads a pipe only the test process holds. The kernel closes that pipe however the
process ends: ``done`` on it means the teardown ran; end of file without it means the
process died, and the watchdog stops the server (immediate shutdown: nothing in it is
worth a checkpoint) and removes the cluster's directory. It runs as the test process's
user, which owns (or as root, can signal) the server.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO

#: Run by the watchdog's interpreter: argv is the data directory, then the cluster root.
_SCRIPT = r"""
import os, shutil, signal, sys, time
data, root = sys.argv[1], sys.argv[2]
if sys.stdin.buffer.read() == b"done":
    sys.exit(0)
try:
    with open(os.path.join(data, "postmaster.pid")) as f:
        pid = int(f.readline())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        ours = data.encode() in f.read()  # not another process that got the pid since
except (OSError, ValueError):
    ours = False
if ours:
    os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.1)
    if os.path.exists(f"/proc/{pid}"):
        os.kill(pid, signal.SIGKILL)  # its backends exit when they see it gone
shutil.rmtree(root, ignore_errors=True)
"""


class Watchdog:
    """The watchdog of one cluster; :meth:`release` once the teardown stopped it."""

    def __init__(self, data_dir: Path, root: Path) -> None:
        # No output pipes: a watchdog holding the test run's stdout would keep a CI
        # step that reads it waiting.
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(data_dir), str(root)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self._pipe: IO[bytes] | None = self._proc.stdin

    @property
    def pid(self) -> int:
        return self._proc.pid

    def release(self) -> None:
        """The teardown ran: the watchdog leaves without touching anything."""
        if self._pipe is None:
            return
        try:
            self._pipe.write(b"done")
            self._pipe.close()
        except OSError:
            pass  # it is gone already
        self._pipe = None
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
