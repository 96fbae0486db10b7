"""A test process killed by a signal leaves no PostgreSQL server behind.

The suite's throwaway server (``tests/_postgres.py``) runs in a session of its own
(``pg_ctl`` puts it there), so a test run ended by SIGTERM or SIGKILL never reached its
teardown and left a ``postgres -D`` server and its temp directory running for good; the
watchdog (``tests/_pg_watchdog.py``) now stops it. Each case starts a server of its own
in a child process and kills that process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Starts a cluster, says where its data is, then waits to be killed.
CHILD = """
import sys, time
from tests import _postgres
with _postgres.cluster() as node:
    print(node.data_dir, flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        return "postgres" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_test_process_leaves_no_server(sig: signal.Signals) -> None:
    from tests import _postgres

    if os.environ.get(_postgres.ENV_DSN):
        pytest.skip("the server is the user's own (VOXMEM_TEST_PG_DSN): nothing is started")
    try:
        _postgres.find_installation()
    except _postgres.ProvisionError as exc:
        pytest.skip(str(exc))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        data_dir = Path(child.stdout.readline().strip())
        assert data_dir.name == "data", "the child did not start a server"
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        assert _alive(pid)
    finally:
        child.send_signal(sig)
        child.wait(timeout=60)
    deadline = time.monotonic() + 60
    while (_alive(pid) or data_dir.parent.exists()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), f"postgres {pid} still runs after its test process got {sig.name}"
    assert not data_dir.parent.exists(), "the cluster's directory was left behind"
