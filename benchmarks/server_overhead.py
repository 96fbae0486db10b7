"""Server overhead: the runtime's CPU per request, one request at a time.

With nothing queued, the runtime's CPU time per request is what a request costs it
(HTTP parsing, JSON, routing, the memory work) — a figure that stays comparable on a
machine shared with other work, where requests per second do not. Compare server
options by running this under each and reading ``cpu_ms_per_request``:

    python benchmarks/server_overhead.py                  # uvicorn as installed
    python benchmarks/server_overhead.py --requests 4000

Starts a runtime for a fresh data directory, warms 50 callers with a few turns each,
then sends ``--requests`` alternating searches and saves from one client.
Prints one JSON line and writes ``benchmarks/results/server_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recall_latency import corpus, pct
from runtime_latency import PORTS, process_cpu_s

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CALLERS = 50


async def measure(requests: int) -> dict[str, Any]:
    from voxmem import VoiceClient
    from voxmem.runtime import read_discovery

    lines, questions = corpus()
    client = VoiceClient(project_id="overhead", agent_id="agent")
    try:
        for n in range(CALLERS * 4):
            await client.save_response(user_text=lines[n % len(lines)], assistant_text="ok",
                                       user={"id": f"caller-{n % CALLERS}"})
        found = read_discovery(Path(os.environ["VOXMEM_DATA_DIR"]))
        assert found is not None
        # What uvicorn's "auto" picks in the runtime (it shares this environment).
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        http = "httptools" if importlib.util.find_spec("httptools") else "h11"
        latencies: list[float] = []
        cpu_before = process_cpu_s(found.pid)
        started = time.perf_counter()
        for k in range(requests):
            user = {"id": f"caller-{k % CALLERS}"}
            t = time.perf_counter()
            if k % 2:
                await client.save_response(user_text=lines[k % len(lines)],
                                           assistant_text="ok", user=user)
            else:
                await client.search_memory(questions[k % len(questions)], user=user)
            latencies.append((time.perf_counter() - t) * 1000)
        wall = time.perf_counter() - started
        cpu = process_cpu_s(found.pid) - cpu_before
    finally:
        await client.aclose()
    return {"loop": loop, "http": http, "requests": requests,
            "cpu_ms_per_request": round(cpu * 1000 / requests, 3),
            "client_ms_p50": round(pct(latencies, 50), 3),
            "client_ms_p95": round(pct(latencies, 95), 3), "wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json", default=str(RESULTS / "server_overhead.json"))
    args = parser.parse_args()
    from voxmem.cli import stop_runtime

    with tempfile.TemporaryDirectory(prefix="voxmem-overhead-") as tmp:
        os.environ.update({"VOXMEM_DATA_DIR": tmp, "VOXMEM_EMBEDDER": "static",
                           "VOXMEM_RUNTIME_PORT_MIN": PORTS[0],
                           "VOXMEM_RUNTIME_PORT_MAX": PORTS[1]})
        try:
            out = asyncio.run(measure(args.requests))
        finally:
            stop_runtime(Path(tmp))
    print(json.dumps(out))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
