"""``benchmarks/load.py --quick`` end to end: a real runtime process on loopback, the
open-loop generator, the step table and acked-vs-stored, in a few seconds.

The load benchmark once stayed broken for a whole refactor because nothing ran it; this
keeps it running. Figures are not checked (a shared test machine cannot promise any),
only that every turn is answered and stored and that the generator stays within the
connections a host would hold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
LOAD = ROOT / "benchmarks" / "load.py"
PORTS = "18500-18599"  # away from the default range and the other process tests'
CALLERS = 10
RATE = 20  # turns per second
SECONDS = 2


def test_load_benchmark_quick_run(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXMEM_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["TMPDIR"] = str(tmp_path)  # the run's data directory goes away with the test
    done = subprocess.run(
        [sys.executable, str(LOAD), "--quick", "--rates", str(RATE), "--step-duration",
         str(SECONDS), "--callers", str(CALLERS), "--corpus", "synthetic", "--ports", PORTS,
         "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    [step] = result["steps"]
    turns = RATE * SECONDS
    assert step["offered_req_s"] == 2 * RATE
    assert step["errors"] == {}, step["error_examples"]
    assert step["achieved_req_s"] > 0
    assert step["recall_ms"]["p50"] is not None and step["save_ms"]["p50"] is not None
    assert step["runtime_cpu_ms_per_request"] > 0
    # A connection per call for searches and one for saves, never one per request.
    assert 0 < step["most_connections_open"] <= 2 * CALLERS
    assert result["turns_acknowledged"] == turns
    assert result["turns_stored"] == turns and result["turns_lost"] == 0
    assert result["runtime_stop"] == "stopped"
    assert "saturation point" in done.stdout
