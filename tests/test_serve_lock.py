"""``voxmem serve`` holds the data directory's runtime lock before its slow imports.

Found by probing a cold host: a client arriving while ``voxmem serve`` was still importing
the runtime saw no runtime, launched a detached one of its own, and that one won the lock;
the operator's ``serve`` then exited without serving, and the host ran on the client's
settings. With the lock taken first, the client sees a runtime starting and waits for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voxmem.runtime import read_discovery, runtime_lock_held

pytestmark = pytest.mark.slow

# The child holds the import of the runtime's server module until the test lets it go,
# so the window a loaded host opens by chance is open for as long as the test needs.
_CHILD = """
import importlib.abc, pathlib, sys, time
gate, reached, data_dir = (pathlib.Path(a) for a in sys.argv[1:4])

class HoldServerImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "voxmem.runtime._server":
            reached.write_text("importing")
            while not gate.exists():
                time.sleep(0.01)
        return None

sys.meta_path.insert(0, HoldServerImport())
from voxmem.cli import main
raise SystemExit(main(["serve", "--data-dir", str(data_dir), "--port-range", "18950-18959"]))
"""

WAIT_S = 120.0  # a bound on waiting for a condition, generous for a loaded machine


def _wait_for(condition: object, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_serve_holds_the_runtime_lock_while_it_imports_the_runtime(tmp_path: Path) -> None:
    data_dir, gate, reached = tmp_path / "data", tmp_path / "gate", tmp_path / "reached"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXMEM_")}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(gate), str(reached),
                              str(data_dir)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: reached.exists() or child.poll() is not None,
                  "the child to import the runtime")
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        # A client probing now must see a runtime starting, not a free directory.
        assert runtime_lock_held(data_dir)
        assert read_discovery(data_dir) is None
        gate.write_text("go")
        _wait_for(lambda: read_discovery(data_dir) is not None or child.poll() is not None,
                  "the runtime to publish itself")
        assert read_discovery(data_dir) is not None
        assert runtime_lock_held(data_dir)
    finally:
        gate.write_text("go")
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=WAIT_S)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
