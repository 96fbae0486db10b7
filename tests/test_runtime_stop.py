"""``voxmem stop`` against a real runtime process: it waits for a stopping runtime that is
still storing its journaled backlog, however long that takes, and kills only one that
shows no sign of life.

The store is held back deterministically: the test takes SQLite's write lock itself, so
the runtime's writer waits (as it would for a slow or busy store) while saves are
journaled and acknowledged, and the backlog can only drain once the test lets go.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxmem import VoiceClientSync
from voxmem.cli import stop_runtime
from voxmem.runtime import read_discovery, runtime_lock_held
from voxmem.runtime._discovery import STOP_PROGRESS_FILE, StopProgress, read_stop_progress

from ._runtime import runtime_data_dir

pytestmark = pytest.mark.slow

PORTS = (18600, 18649)  # away from the default range and the other process tests'
USER = {"id": "caller-1"}
#: Generous on purpose: a loaded machine must not make the runtime look hung.
SIGN_OF_LIFE_S = 2.0
#: Heartbeats seen before the store is let go: the drain then has outlived the stop
#: timeout more than twice over (the runtime beats every 0.25 s).
BEATS_BEFORE_RELEASE = 20
SAVES = 40


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from runtime_data_dir(tmp_path, monkeypatch, PORTS)


def count_turns(data_dir: Path) -> int:
    with sqlite3.connect(f"file:{data_dir / 'voxmem.db'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM items WHERE kind = 'turn'").fetchone()[0])


class Beats:
    """Heartbeats ``stop_runtime`` reports, and a way to wait for the n-th one."""

    def __init__(self) -> None:
        self.seen: list[StopProgress] = []
        self.changed = threading.Condition()
        self.outcome: str | None = None

    def add(self, progress: StopProgress) -> None:
        with self.changed:
            self.seen.append(progress)
            self.changed.notify_all()

    def finish(self, outcome: str) -> None:
        with self.changed:
            self.outcome = outcome
            self.changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(
                lambda: len(self.seen) >= count or self.outcome is not None, timeout=120)


def test_stop_waits_for_a_backlog_that_outlasts_its_timeout(data_dir: Path) -> None:
    client = VoiceClientSync(project_id="proj", agent_id="agent")
    blocker: sqlite3.Connection | None = None
    try:
        client.save_response(user_text="first", assistant_text="ok", user=USER)
        client.flush()
        blocker = sqlite3.connect(data_dir / "voxmem.db", isolation_level=None, timeout=30)
        blocker.execute("BEGIN IMMEDIATE")  # the runtime's writer now waits for us
        for i in range(SAVES):
            assert client.save_response(user_text=f"line {i}", assistant_text="ok", user=USER)
    finally:
        client.close()
    found = read_discovery(data_dir)
    assert found is not None

    beats = Beats()
    stopper = threading.Thread(target=lambda: beats.finish(stop_runtime(
        data_dir, timeout_s=SIGN_OF_LIFE_S, on_progress=beats.add)))
    stopper.start()
    try:
        beats.wait_for(BEATS_BEFORE_RELEASE)
        # Still draining, long past the timeout, and not killed: it said it was alive.
        assert beats.outcome is None, beats.outcome
        assert runtime_lock_held(data_dir)
        last = beats.seen[-1]
        assert last.pid == found.pid and last.left >= SAVES
    finally:
        assert blocker is not None
        blocker.rollback()
        blocker.close()
        stopper.join(timeout=120)
    assert beats.outcome == "stopped"
    assert count_turns(data_dir) == SAVES + 1  # the store is complete, no replay needed
    assert not (data_dir / STOP_PROGRESS_FILE).exists()
    assert read_stop_progress(data_dir) is None


def test_stop_kills_a_runtime_that_shows_no_sign_of_life(data_dir: Path) -> None:
    client = VoiceClientSync(project_id="proj", agent_id="agent")
    try:
        client.save_response(user_text="before the hang", assistant_text="ok", user=USER)
    finally:
        client.close()
    found = read_discovery(data_dir)
    assert found is not None
    os.kill(found.pid, signal.SIGSTOP)  # hung: it can neither exit nor beat
    assert stop_runtime(data_dir, timeout_s=0.5) == "killed"
    assert not runtime_lock_held(data_dir)
    # Nothing acknowledged is lost: the next runtime replays the journal.
    client = VoiceClientSync(project_id="proj", agent_id="agent")
    try:
        client.flush()
    finally:
        client.close()
    assert stop_runtime(data_dir) == "stopped"
    assert count_turns(data_dir) == 1
