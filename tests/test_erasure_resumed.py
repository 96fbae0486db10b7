"""An erasure cut off by a crash is finished when the runtime starts again, before it
serves: a caller told "erased" (or whose request was accepted) never finds their data
back after a kill -9 in the middle of ``forget_user``.

A real ``voxmem serve`` process (on SQLite and on Postgres) is paused at one step of the
erasure — a store erase, or the journal rewrite — by a wrapper that says so on stderr;
the test waits for that line, kills the process with SIGKILL, starts a plain ``voxmem
serve`` on the same data directory and store, and looks for the caller's words in
recall and in every file of the data directory.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxmem import Settings, VoiceClientSync
from voxmem.cli import stop_runtime
from voxmem.runtime import read_discovery
from voxmem.runtime._discovery import Discovery
from voxmem.store import open_store

from ._runtime import runtime_data_dir

pytestmark = pytest.mark.slow

PORTS = (18600, 18649)
WORD = "quetzalcoatlus"  # in what the guest said, then in what ann said
QUERY = "which parrot or model did I mention"
PAUSED = "PAUSED-MID-ERASURE"
START_TIMEOUT_S = 60

# `voxmem serve`, with one step of the erasure (the n-th call of it) made to say so and
# wait forever: the test kills the process there.
PAUSING_SERVE = textwrap.dedent("""
    import asyncio, sys, threading
    from voxmem import cli
    from voxmem.journal import Journal
    from voxmem.store.postgres import PostgresStore
    from voxmem.store.sqlite import SQLiteStore

    step, nth, data_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    calls = [0]

    def due():
        calls[0] += 1
        if calls[0] != nth:
            return False
        sys.stderr.write("PAUSED-MID-ERASURE\\n")  # PAUSED below
        sys.stderr.flush()
        return True

    def pause_store(cls):
        real = cls.forget_caller
        async def forget_caller(self, scope):
            if due():
                await asyncio.Event().wait()
            return await real(self, scope)
        cls.forget_caller = forget_caller

    if step == "store":
        pause_store(SQLiteStore)
        pause_store(PostgresStore)
    else:
        real_rewrite = Journal.rewrite
        def rewrite(self, keep):
            if due():
                threading.Event().wait()
            return real_rewrite(self, keep)
        Journal.rewrite = rewrite
    sys.exit(cli.main(["serve", "--data-dir", data_dir]))
""")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             store_url: str) -> Iterator[Path]:
    monkeypatch.setenv("VOXMEM_STORE_URL", store_url)
    yield from runtime_data_dir(tmp_path, monkeypatch, PORTS)


def _discovered(data_dir: Path, serve: subprocess.Popen[str]) -> Discovery:
    deadline = time.monotonic() + START_TIMEOUT_S
    while (found := read_discovery(data_dir)) is None or found.pid != serve.pid:
        assert serve.poll() is None, serve.communicate()
        assert time.monotonic() < deadline, "the runtime did not start"
        time.sleep(0.05)  # polling a file another process writes; not a timed assertion
    return found


def _client(found: Discovery) -> VoiceClientSync:
    return VoiceClientSync(project_id="proj", agent_id="agent", runtime_url=found.url,
                           api_key=Path(found.token_path).read_text())


def _files_holding(data_dir: Path, needle: str) -> list[str]:
    return [str(p.relative_to(data_dir)) for p in data_dir.rglob("*")
            if p.is_file() and needle.encode() in p.read_bytes()]


async def _pending(data_dir: Path, store_url: str) -> int:
    store = open_store(Settings(data_dir=str(data_dir), store_url=store_url))
    await store.open()
    try:
        return len(await store.pending_erasures())
    finally:
        await store.close()


@pytest.mark.parametrize(("step", "nth"), [
    ("store", 1),    # before anything of ann is erased
    ("journal", 1),  # ann's rows are gone, her journal records are not
    ("store", 2),    # ann is erased (her merge records with her), the guest is not
])
def test_an_erasure_cut_off_by_kill_9_is_finished_before_the_restarted_runtime_serves(
        data_dir: Path, store_url: str, step: str, nth: int) -> None:
    serve = subprocess.Popen([sys.executable, "-c", PAUSING_SERVE, step, str(nth),
                              str(data_dir)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        found = _discovered(data_dir, serve)
        with _client(found) as c:
            c.save_response(user_text=f"my parrot is called {WORD}", assistant_text="noted",
                            user={"id": "guest-7"})
            c.save_response(user_text=f"I also keep a {WORD} model", assistant_text="ok",
                            user={"id": "ann"})
            c.flush(30)
            c.merge_users("guest-7", "ann")
            assert WORD in c.search_memory(QUERY, user={"id": "ann"},
                                           timeout_ms=5000).contextText
            # The erasure is accepted, then the process dies half-way through it.
            erase = subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(f"""
                    from voxmem import VoiceClientSync
                    with VoiceClientSync(project_id="proj", agent_id="agent",
                                         runtime_url={found.url!r},
                                         api_key={Path(found.token_path).read_text()!r}) as c:
                        c.forget_user(user={{"id": "ann"}})
                """)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert serve.stderr is not None
            for line in serve.stderr:
                if line.strip() == PAUSED:
                    break
            else:
                pytest.fail("the runtime ended before the erasure reached the step")
            serve.send_signal(signal.SIGKILL)
            serve.wait(timeout=30)
            erase.wait(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait(timeout=30)
    restarted = subprocess.Popen([sys.executable, "-m", "voxmem", "serve", "--data-dir",
                                  str(data_dir)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, text=True)
    try:
        found = _discovered(data_dir, restarted)
        with _client(found) as c:
            for user in ("ann", "guest-7"):
                # Not the word itself: the recall trace would keep the query.
                result = c.search_memory(QUERY, user={"id": user}, timeout_ms=5000)
                assert WORD not in result.contextText, user
                assert not result.trace.get("degraded"), result.trace
            assert c.list_memories(user={"id": "ann"}) == []
    finally:
        stop_runtime(data_dir, timeout_s=30)
        restarted.wait(timeout=30)
    assert _files_holding(data_dir, WORD) == []
    assert asyncio.run(_pending(data_dir, store_url)) == 0
