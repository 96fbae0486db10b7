"""The saves' text worker in a real runtime process on loopback: started after the first
saves, replaced after it is killed (saves answered meanwhile, redacted as ever), and
stopped with the runtime, leaving no process behind."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from voxmem import VoiceClientSync
from voxmem.cli import stop_runtime
from voxmem.engine._text_work import START_AFTER_SAVES
from voxmem.engine._worker_process import REQUEST_PATH_FLAG
from voxmem.engine._workers import descendant_pids
from voxmem.runtime import read_discovery

from ._runtime import runtime_data_dir

pytestmark = pytest.mark.slow

PORTS = (18700, 18749)  # away from the default range and the other process tests'
#: Generous: a loaded machine takes seconds to start a Python process.
APPEAR_S = 120.0


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("VOXMEM_TEXT_WORKER", "true")  # (off by default)
    yield from runtime_data_dir(tmp_path, monkeypatch, PORTS)


def text_workers(runtime_pid: int) -> list[int]:
    """The runtime's text worker processes (by their command line)."""
    found = []
    for pid in descendant_pids(runtime_pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if REQUEST_PATH_FLAG.encode() in argv:
            found.append(pid)
    return found


def eventually(check: Callable[[], bool]) -> None:
    """Poll the process table (it has no event to wait on) until ``check`` holds."""
    deadline = time.monotonic() + APPEAR_S
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_killed_text_worker_is_replaced_and_saves_go_on(data_dir: Path) -> None:
    client = VoiceClientSync(project_id="proj", agent_id="agent")
    try:
        for i in range(START_AFTER_SAVES + 1):
            client.save_response(user_text=f"turn {i}", assistant_text="ok",
                                 user={"id": f"warm-{i % 8}"})
        found = read_discovery(data_dir)
        assert found is not None
        eventually(lambda: bool(text_workers(found.pid)))
        (first,) = text_workers(found.pid)
        os.kill(first, signal.SIGKILL)
        user = {"id": "ana"}
        client.save_response(user_text="I'd like a new card",
                             assistant_text="Sure. What PIN would you like on it?", user=user)
        client.save_response(user_text="let's do uh nine three one seven",
                             assistant_text="Done, 9 3 1 7. Anything else?", user=user)
        hits = json.dumps(client.search_memory(query="PIN anything else", user=user).working)
        assert "let's do uh [redacted:password_pin]" in hits
        assert "nine three one seven" not in hits and "9 3 1 7" not in hits
        eventually(lambda: any(p != first for p in text_workers(found.pid)))
        (second,) = text_workers(found.pid)
    finally:
        client.close()
    assert stop_runtime(data_dir, timeout_s=30) == "stopped"
    eventually(lambda: gone(first) and gone(second))
