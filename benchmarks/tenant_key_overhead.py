"""What a tenant's API key costs per request against the runtime token, in-process.

A request made with a key reads the store once (the key's row, by id) before it is
answered, so that a revocation holds from the next request; the runtime token is
compared in memory. The same ASGI app the runtime serves is called in-process (no
sockets), alternating a request with the token and one with a key, for searches and
saves on warm callers. Two CPU figures per request: the event loop thread's
(``time.thread_time``) and the whole process's (``time.process_time``, which counts the
store's reader thread that does the key's read, and background work that happens to
run meanwhile, for both alike).

    python benchmarks/tenant_key_overhead.py                 # 2,000 requests each
    python benchmarks/tenant_key_overhead.py --store-url postgresql://...

Prints one JSON line and writes ``benchmarks/results/tenant_key_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hotpath_overhead import TOKEN, call
from recall_latency import corpus, pct

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CALLERS = 50


async def measure(requests: int, store_url: str) -> dict[str, Any]:
    from voxmem._api import OPERATION_SPECS
    from voxmem._config import Settings
    from voxmem.client._core import ClientCore
    from voxmem.engine import MemoryEngine
    from voxmem.runtime import create_app
    from voxmem.store._api_keys import create_key

    lines, questions = corpus()
    core = ClientCore(project_id="overhead", agent_id="agent")
    with tempfile.TemporaryDirectory(prefix="voxmem-keys-") as tmp:
        engine = MemoryEngine(Settings(data_dir=tmp, embedder="static",
                                       store_url=store_url))
        await engine.start()
        try:
            _made, key = await create_key(engine.store, "default")
            app = create_app(engine, token=TOKEN)
            credentials = {"runtime token": TOKEN, "tenant key": key}
            bodies: dict[str, list[tuple[str, bytes]]] = {name: [] for name in credentials}
            for shift, name in enumerate(credentials):
                for k in range(requests):
                    user = {"id": f"caller-{k % CALLERS}"}
                    n = 2 * k + shift
                    if k % 2:
                        op, payload = "save_response", core.call(
                            "save_response", user_text=lines[n % len(lines)],
                            assistant_text="ok", user=user).payload
                    else:
                        op, payload = "search_memory", core.call(
                            "search_memory", query=questions[n % len(questions)],
                            user=user, intent="answer_current_user", mode="fast").payload
                    bodies[name].append((OPERATION_SPECS[op].path,
                                         json.dumps(payload).encode()))
            for n in range(CALLERS):
                preload = core.call("preload", user={"id": f"caller-{n}"})
                await call(app, OPERATION_SPECS["preload"].path,
                           json.dumps(preload.payload).encode(), TOKEN)
            await engine.flush()
            loop_cpu: dict[str, list[float]] = {name: [] for name in credentials}
            cpu: dict[str, list[float]] = {name: [] for name in credentials}
            wall: dict[str, list[float]] = {name: [] for name in credentials}
            for k in range(requests):
                order = (("runtime token", "tenant key") if (k // 2) % 2
                         else ("tenant key", "runtime token"))
                for name in order:
                    path, body = bodies[name][k]
                    t_loop, t_cpu, t_wall = (time.thread_time(), time.process_time(),
                                             time.perf_counter())
                    status = await call(app, path, body, credentials[name])
                    loop_cpu[name].append((time.thread_time() - t_loop) * 1e6)
                    cpu[name].append((time.process_time() - t_cpu) * 1e6)
                    wall[name].append((time.perf_counter() - t_wall) * 1e6)
                    assert status == 200, (name, path, status)
        finally:
            await engine.close()
    out: dict[str, Any] = {"requests_each": requests,
                           "store": "postgres" if store_url else "sqlite"}
    for name in credentials:
        out[name] = {"loop_cpu_us_mean": round(sum(loop_cpu[name]) / requests, 1),
                     "process_cpu_us_mean": round(sum(cpu[name]) / requests, 1),
                     "wall_us_p50": round(pct(wall[name], 50), 1),
                     "search_wall_us_p50": round(pct(wall[name][0::2], 50), 1)}
    out["key_extra_process_cpu_us"] = round(out["tenant key"]["process_cpu_us_mean"]
                                            - out["runtime token"]["process_cpu_us_mean"], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--store-url", default="")
    parser.add_argument("--json", default=str(RESULTS / "tenant_key_overhead.json"))
    args = parser.parse_args()
    out = asyncio.run(measure(args.requests, args.store_url))
    print(json.dumps(out))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
