"""A ``voxmem serve`` that is slow to start, held by the test: it has taken the data
directory's runtime lock (a client sees a runtime starting and waits for it) and holds
its import of the runtime's server module until the test releases it, as a cold, loaded
host holds it for seconds. Shared by the cold-start tests of the integrations."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WAIT_S = 120.0  # bounds on waiting for an event, generous for a loaded machine

# ``voxmem serve`` holding the import of the runtime's server module until the gate file
# exists: it has taken the runtime lock (a client sees a runtime starting) and does not
# answer yet.
_HELD_SERVE = """
import importlib.abc, pathlib, sys, time
gate, reached, data_dir = (pathlib.Path(a) for a in sys.argv[1:4])
ports = sys.argv[4]

class HoldServerImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "voxmem.runtime._server":
            reached.write_text("importing")
            while not gate.exists():
                time.sleep(0.01)
        return None

sys.meta_path.insert(0, HoldServerImport())
from voxmem.cli import main
raise SystemExit(main(["serve", "--data-dir", str(data_dir), "--port-range", ports]))
"""


class HeldServe:
    """The held ``voxmem serve`` process on ``data_dir``; :meth:`stop` it in a finally."""

    def __init__(self, tmp_path: Path, data_dir: Path, ports: str) -> None:
        self.gate, self.reached = tmp_path / "gate", tmp_path / "reached"
        self.data_dir = data_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOXMEM_")}
        env["VOXMEM_EMBEDDER"] = "hashing"
        self.proc = subprocess.Popen([sys.executable, "-c", _HELD_SERVE, str(self.gate),
                                      str(self.reached), str(data_dir), ports], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_held(self) -> None:
        """Block until the runtime holds its lock and waits at the gate."""
        wait_for(lambda: self.reached.exists() or self.proc.poll() is not None,
                 "the runtime to start importing")
        assert self.proc.poll() is None, "voxmem serve exited while starting"

    def release(self) -> None:
        self.gate.write_text("go")

    def stop(self) -> None:
        self.release()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=WAIT_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def wait_for(condition: Any, what: str) -> None:
    """Wait for a condition another process brings about (a file it writes)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


