"""What the web framework costs per request: the hot path against Starlette, in-process.

The runtime's CPU per request over loopback swings with a shared machine's load by
more than the framework costs, so this measures the framework alone: the same ASGI
app the runtime serves is called in-process (no sockets), once through the hot path
and once through the Starlette app behind it, alternating, for the three hot
operations on warm callers. The event loop thread's CPU time (``time.thread_time``) is
what is compared: other work on the machine, and the runtime's own background threads
(journal, store writer), do not count.

    python benchmarks/hotpath_overhead.py                 # 3,000 requests per path
    python benchmarks/hotpath_overhead.py --requests 10000

Prints one JSON line and writes ``benchmarks/results/hotpath_overhead.json``.
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
from recall_latency import corpus, pct

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CALLERS = 50
TOKEN = "overhead-token"


async def call(app: Any, path: str, body: bytes, credential: str = TOKEN) -> int:
    """One POST through ``app`` as uvicorn would make it; the answer's status."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 7878),
             "headers": [(b"host", b"127.0.0.1:7878"),
                         (b"authorization", f"Bearer {credential}".encode()),
                         (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # a client that stays connected
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status


async def measure(requests: int) -> dict[str, Any]:
    from voxmem._api import OPERATION_SPECS
    from voxmem._config import Settings
    from voxmem.client._core import ClientCore
    from voxmem.engine import MemoryEngine
    from voxmem.runtime import create_app

    lines, questions = corpus()
    core = ClientCore(project_id="overhead", agent_id="agent")
    with tempfile.TemporaryDirectory(prefix="voxmem-hotpath-") as tmp:
        engine = MemoryEngine(Settings(data_dir=tmp, embedder="static"))
        await engine.start()
        try:
            app = create_app(engine, token=TOKEN)
            paths = {"hot path": app, "starlette": app.app}
            # Each path gets its own texts (caches keyed by text must not favour the
            # path that goes second) over the same callers and operations.
            bodies: dict[str, list[tuple[str, bytes]]] = {name: [] for name in paths}
            for shift, name in enumerate(paths):
                for k in range(requests):
                    user = {"id": f"caller-{k % CALLERS}"}
                    n = 2 * k + shift
                    if k % 2:
                        op = "save_response"
                        payload = core.call(
                            "save_response",
                            user_text=lines[n % len(lines)], assistant_text="ok", user=user,
                            user_id=None, turn_id=None, tool_calls=None, metadata=None,
                            interrupted=False).payload
                    else:
                        op = "search_memory"
                        payload = core.call(
                            "search_memory", query=questions[n % len(questions)], user=user,
                            user_id=None,
                            lanes=None, intent="answer_current_user", top_k=None,
                            timeout_ms=None, mode="fast").payload
                    bodies[name].append((OPERATION_SPECS[op].path,
                                         json.dumps(payload).encode()))
            for n in range(CALLERS):  # warm every caller on both paths' shared engine
                preload = core.call("preload", user={"id": f"caller-{n}"}, user_id=None)
                await call(app, OPERATION_SPECS["preload"].path,
                           json.dumps(preload.payload).encode())
            await engine.flush()
            cpu: dict[str, list[float]] = {name: [] for name in paths}
            for k in range(requests):
                # Alternate which path goes first, per search/save pair: drift and
                # whatever the first of two requests leaves behind hit both alike.
                order = ("hot path", "starlette") if (k // 2) % 2 else ("starlette",
                                                                        "hot path")
                for name in order:
                    path, body = bodies[name][k]
                    started = time.thread_time()
                    status = await call(paths[name], path, body)
                    cpu[name].append((time.thread_time() - started) * 1e6)
                    assert status == 200, (name, path, status)
        finally:
            await engine.close()
    out: dict[str, Any] = {"requests_per_path": requests}
    for name, values in cpu.items():
        out[name] = {"cpu_us_mean": round(sum(values) / len(values), 1),
                     "cpu_us_p50": round(pct(values, 50), 1),
                     "search_us_p50": round(pct(values[0::2], 50), 1),
                     "save_us_p50": round(pct(values[1::2], 50), 1)}
    out["saved_us_per_request"] = round(out["starlette"]["cpu_us_mean"]
                                        - out["hot path"]["cpu_us_mean"], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--json", default=str(RESULTS / "hotpath_overhead.json"))
    args = parser.parse_args()
    out = asyncio.run(measure(args.requests))
    print(json.dumps(out))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
