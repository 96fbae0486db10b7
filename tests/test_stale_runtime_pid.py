"""A ``runtime.json`` left by a runtime that died (kill -9, the OOM killer) names a pid
the system may have given to another process since. While the next runtime starts
(``voxmem serve`` holds the runtime lock from its first moment, then imports for
seconds on a loaded host) the lock is held and that file is still the old one: neither
``voxmem stop`` nor a client waiting for the start may signal the pid it names."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxmem import RuntimeStartFailed, Settings
from voxmem.client._launcher import LocalRuntime
from voxmem.runtime._discovery import (
    RUNTIME_LOCK_FILE,
    Discovery,
    FileLock,
    ensure_data_dir,
    write_discovery,
)
from voxmem.runtime._stop import stop_runtime


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """Another process of this user, holding the pid a dead runtime once had."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def starting(tmp_path: Path, bystander: subprocess.Popen[bytes]) -> Iterator[Path]:
    """A data directory whose runtime died, leaving ``runtime.json`` naming the
    bystander's pid, and whose next runtime holds the lock and has not published yet."""
    data_dir = ensure_data_dir(tmp_path / "data")
    write_discovery(data_dir, Discovery(
        pid=bystander.pid, host="127.0.0.1", port=9, token_path=str(data_dir / "x"),
        started_at=time.time() - 60, instance="0123456789abcdef", version="0.1.0"))
    lock = FileLock(data_dir / RUNTIME_LOCK_FILE)  # what `voxmem serve` takes first
    assert lock.try_acquire()
    try:
        yield data_dir
    finally:
        lock.release()


def test_stop_during_a_restart_never_signals_the_pid_of_a_dead_runtime(
        starting: Path, bystander: subprocess.Popen[bytes]) -> None:
    said = stop_runtime(starting, timeout_s=1.0)
    time.sleep(0.2)  # a signal sent would have ended it by now
    assert bystander.poll() is None, "voxmem stop killed a process that was no runtime"
    assert "starting" in said


async def test_a_client_waiting_for_a_start_never_signals_the_pid_of_a_dead_runtime(
        starting: Path, bystander: subprocess.Popen[bytes]) -> None:
    # Past the launcher's wedge check (5 s unhealthy: terminate the pid), within the start
    # timeout: before, the bystander got SIGTERM as a "runtime that no longer answers".
    settings = Settings(data_dir=str(starting), runtime_start_timeout_s=7.0)

    async def never_healthy(url: str) -> bool:
        return False

    with pytest.raises(RuntimeStartFailed):
        await LocalRuntime(settings, health=never_healthy).find_or_start()
    assert bystander.poll() is None, "a client killed a process that was no runtime"
