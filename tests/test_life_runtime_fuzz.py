"""Stateful fuzz through a real runtime: ``voxmem serve`` on loopback, the Python client,
and ``kill -9`` of the runtime between any two steps.

The smaller sibling of ``tests/test_life_fuzz.py`` (same model, ``tests/_life_model.py``):
saves with and without turn ids (retried after a crash too), deletions, erasures and
crashes in random order, on SQLite and Postgres. After each crash a plain ``voxmem
serve`` starts on the same data directory and store, and every acknowledged turn must
be found by its caller's exact-word search (the journal replayed), every deleted or
erased one never.

Bounded for CI (``MAX_EXAMPLES``, runtime starts cost a few seconds each); campaigns set
``FUZZ_LIFE_RUNTIME_EXAMPLES``.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, seed
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from tests._life_model import HOSTILE, TEMPLATES, USERS, Model, Turn, marker, text_of
from voxmem import NotFound, VoiceClientSync
from voxmem._config import MAX_TIMEOUT_MS
from voxmem.runtime import read_discovery

from ._runtime import runtime_data_dir

pytestmark = pytest.mark.slow

PORTS = (19050, 19099)
START_TIMEOUT_S = 120
MAX_EXAMPLES = int(os.environ.get("FUZZ_LIFE_RUNTIME_EXAMPLES", "1"))
STEPS = int(os.environ.get("FUZZ_LIFE_RUNTIME_STEPS", "10"))
SEED = os.environ.get("FUZZ_LIFE_SEED")
PHASES = list(Phase) if os.environ.get("FUZZ_LIFE_SHRINK", "1") == "1" else [
    Phase.explicit, Phase.reuse, Phase.generate]
TOP_K = {"working": 50, "permanent": 50}

users = st.sampled_from(USERS)
picks = st.integers(min_value=0, max_value=10_000)


class Runtime:
    """One ``voxmem serve`` process on the test's data directory; killed, started again."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = self.token = ""
        self.examples = itertools.count()

    def start(self) -> None:
        env = {**os.environ, "VOXMEM_MAINTENANCE_INTERVAL_S": "86400",
               "VOXMEM_RECALL_TIMEOUT_MS": str(MAX_TIMEOUT_MS)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voxmem", "serve", "--data-dir", str(self.data_dir)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while (found := read_discovery(self.data_dir)) is None or (
                found.pid != self.process.pid):
            assert self.process.poll() is None, "the runtime exited at start"
            assert time.monotonic() < deadline, "the runtime did not start"
            time.sleep(0.05)  # polling a file another process writes; not a timed assertion
        self.url, self.token = found.url, Path(found.token_path).read_text()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=60)

    def client(self, project: str) -> VoiceClientSync:
        return VoiceClientSync(project_id=project, agent_id="agent", runtime_url=self.url,
                               api_key=self.token)


class RuntimeLife(RuleBasedStateMachine):
    runtime: Runtime

    def __init__(self) -> None:
        super().__init__()
        self.rt = type(self).runtime
        self.project = f"rt{next(self.rt.examples)}"
        self.c = self.rt.client(self.project)
        self.m = Model()

    def teardown(self) -> None:
        self.c.close()

    def scan(self, answer: object) -> None:
        text = text_of(answer)
        for gone in self.m.erased_markers | self.m.secrets:
            assert gone not in text, f"{gone!r} read back after it was erased or redacted"

    def hits(self, user: str, query: str) -> set[str]:
        found = self.c.search_memory(query, user={"id": user}, top_k=TOP_K,
                                     timeout_ms=MAX_TIMEOUT_MS)
        assert not found.trace.get("degraded"), found.trace
        self.scan([found.working, found.permanent, found.context_text])
        return {h["id"] for h in found.working + found.permanent}

    @rule(user=users, which=st.sampled_from(range(len(TEMPLATES))),
          hostile=st.sampled_from(range(len(HOSTILE))),
          turn_id=st.one_of(st.none(), st.sampled_from(["t1", "t2"])))
    def save(self, user: str, which: int, hostile: int, turn_id: str | None) -> None:
        n = next(self.m.counter)
        mark = marker(n)
        template, secrets = TEMPLATES[which]
        fill = {"m": mark, "n": n, "n2": f"{n % 100:02d}"}
        self.m.secrets |= {s.format(**fill) for s in secrets}
        event_id = self.c.save_response(user_text=template.format(**fill) + HOSTILE[hostile],
                                        assistant_text="Noted.", user={"id": user},
                                        turn_id=turn_id)
        assert event_id is not None
        call = self.m.calls.setdefault((0, user), {})
        if turn_id is not None and turn_id in call:
            assert event_id == call[turn_id], "a retried turn id was stored again"
            return
        if turn_id is not None:
            call[turn_id] = event_id
        self.m.turns[event_id] = Turn(event_id, mark, 0, {user}, turn_id)

    @rule(user=users)
    def end_call(self, user: str) -> None:
        try:
            self.c.end_session(user={"id": user})
        except NotFound as exc:
            assert exc.code == "session_not_found", exc
        self.m.calls.pop((0, user), None)

    @rule(pick=picks)
    def delete_turn(self, pick: int) -> None:
        if not self.m.turns:
            return
        t = self.m.turns.pop(sorted(self.m.turns)[pick % len(self.m.turns)])
        self.c.delete_memory(t.event_id, user={"id": next(iter(t.owners))})
        self.m.deleted[t.event_id] = t.marker

    @rule(user=users)
    def erase(self, user: str) -> None:
        self.c.forget_user(user={"id": user})
        self.m.erase(0, user)

    @rule()
    def kill_9_and_restart(self) -> None:
        self.c.close()
        self.rt.kill()
        self.rt.start()
        self.c = self.rt.client(self.project)

    @rule(pick=picks)
    def check_turn(self, pick: int) -> None:
        pool = sorted(self.m.turns) + sorted(self.m.deleted)
        if not pool:
            return
        event_id = pool[pick % len(pool)]
        self.c.flush()
        t = self.m.turns.get(event_id)
        query = t.marker if t else self.m.deleted[event_id]
        holders = {u for u in USERS if event_id in self.hits(u, query)}
        if t is None:
            assert not holders, f"deleted turn {query} came back for {holders}"
        else:
            assert holders == t.owners, f"{query} ({t.owners}) found for {holders}"

    @rule(user=users)
    def check_export(self, user: str) -> None:
        self.c.flush()
        exported = self.c.export_user(user={"id": user})
        self.scan(exported)
        listed = {i["id"] for i in exported["items"]
                  if i["kind"] == "turn" and i["deletedAt"] is None}
        assert listed == {t.event_id for t in self.m.owned_by(0, user)}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             store_url: str) -> Iterator[Path]:
    monkeypatch.setenv("VOXMEM_STORE_URL", store_url)
    yield from runtime_data_dir(tmp_path, monkeypatch, PORTS)


def test_callers_lives_through_a_runtime_killed_at_random_hold_the_model(
        data_dir: Path) -> None:
    runtime = RuntimeLife.runtime = Runtime(data_dir)
    runtime.start()
    try:
        test = RuntimeLife.TestCase
        test.settings = hsettings(max_examples=MAX_EXAMPLES, stateful_step_count=STEPS,
                                  deadline=None, database=None, phases=PHASES,
                                  report_multiple_bugs=False,
                                  # Fixed sequences in the suite's run; a campaign names
                                  # FUZZ_LIFE_SEED to draw others.
                                  derandomize=SEED is None,
                                  suppress_health_check=list(HealthCheck))
        if SEED is not None:
            seed(int(SEED))(test)
        test().runTest()
    finally:
        runtime.kill()
