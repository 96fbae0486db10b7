"""A script that ends without closing its sync client ends quietly and loses nothing:
no error on stderr (the store's thread pool refused the journal applier, a background
worker wrote its reply into a closed pipe), every saved turn in the store."""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

from voxmem import Settings
from voxmem.engine._worker_process import HEADER
from voxmem.models import Scope
from voxmem.store import open_store

CALLERS, TURNS = 3, 5

SCRIPT = textwrap.dedent(f"""
    import sys
    from voxmem import Settings, VoiceClientSync

    client = VoiceClientSync(project_id="p", agent_id="a", embedded=True,
                             settings=Settings(data_dir=sys.argv[1], embedder="hashing"))
    for n in range({CALLERS}):
        # Each call ends (learning starts in a worker process) just before the exit.
        with client.session(user={{"id": f"caller-{{n}}"}}) as call:
            for i in range({TURNS}):
                call.save_response(user_text=f"my name is Ann, I prefer mornings ({{i}})",
                                   assistant_text="noted", turn_id=f"t{{i}}")
    print("saved", flush=True)
    # no client.close()
""")


async def _stored_turns(data: Path) -> dict[str, int]:
    store = open_store(Settings(data_dir=str(data), embedder="hashing"))
    await store.open()
    try:
        found = {}
        for n in range(CALLERS):
            scope = Scope(tenant_id="default", project_id="p", agent_id="a",
                          user_id=f"caller-{n}")
            found[scope.user_id] = len(await store.find_turns(
                scope, [f"t{i}" for i in range(TURNS)]))
        return found
    finally:
        await store.close()


def test_a_sync_client_left_open_exits_quietly_with_its_turns_stored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(data)], capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "saved\n"), done.stderr
    assert done.stderr == ""
    # In the store itself, not only in the journal a later start would replay.
    assert asyncio.run(_stored_turns(data)) == {f"caller-{n}": TURNS for n in range(CALLERS)}


def test_a_worker_whose_parent_is_gone_ends_quietly() -> None:
    worker = subprocess.Popen([sys.executable, "-m", "voxmem.engine._worker_process"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdout.close()  # the parent is gone before the reply: it hits a closed pipe
    request = pickle.dumps((len, ("abc",)))
    worker.stdin.write(HEADER.pack(len(request)) + request)
    worker.stdin.close()
    assert worker.stderr is not None
    err = worker.stderr.read()  # until the worker ends
    assert worker.wait(timeout=60) == 0, err
    assert err == b""
