"""What a front process costs per request: the hop of a caller-sharded multi-process runtime.

One runtime process holds the GIL for all of its requests, so a 2-core host gets at most
one core of Python out of it. The design that would use both cores (docs/performance.md,
"Several runtime processes") puts a front process on the listening socket that routes
each request to the worker process owning its caller (so one caller's turns, cache and
turn-id claims stay in one process). This measures the part that design adds: the
front's own CPU per request, and the latency of the extra hop.

The front here is the cheapest one Python can be — what the design would build on: uvloop,
httptools parsing (as uvicorn does), the caller read from the body with msgspec, the
request's bytes forwarded unchanged on a kept-alive connection to the worker, the answer's
bytes relayed back. The workers are stand-ins that answer at once with a body of the
runtime's size, so what is measured is the hop, not the memory work. The same requests
(the load test's search and save bodies, the shared corpus) go straight to a worker
first, then through the front.

    python benchmarks/front_hop.py                        # 20,000 requests each way
    python benchmarks/front_hop.py --requests 50000 --connections 64

Prints one JSON line and writes ``benchmarks/results/front_hop.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any, cast

import httptools
import msgspec
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: Sizes of the runtime's answers to a search (a few results with their trace) and a save.
SEARCH_ANSWER_BYTES = 2_500
SAVE_ANSWER_BYTES = 60
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _answer(size: int) -> bytes:
    body = json.dumps({"pad": "x" * max(0, size - 10)}).encode()
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


# -- the stand-in worker ------------------------------------------------------------------
class _Worker(asyncio.Protocol):
    """Answers every request at once: a search's or a save's answer, by path."""

    search, save = _answer(SEARCH_ANSWER_BYTES), _answer(SAVE_ANSWER_BYTES)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_message_complete(self) -> None:
        self.transport.write(self.search if b"search" in self.url else self.save)


# -- the front ----------------------------------------------------------------------------
class _Route(msgspec.Struct):
    user: dict[str, Any] | None = None
    userId: str | None = None  # noqa: N815 (the wire's spelling)


_ROUTE = msgspec.json.Decoder(_Route)


def _caller_of(body: bytes) -> str:
    try:
        route = _ROUTE.decode(body)
    except msgspec.DecodeError:
        return ""  # a bad body: any worker answers the 400
    if route.user is not None:
        return str(route.user.get("id", ""))
    return route.userId or ""


class _Upstream(asyncio.Protocol):
    """One kept-alive connection from a front connection to one worker."""

    def __init__(self, downstream: asyncio.Transport) -> None:
        self.downstream = downstream
        self.parser = httptools.HttpResponseParser(self)
        self.chunks: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.downstream.write(b"".join(self.chunks))
        self.chunks = []


class _Front(asyncio.Protocol):
    """Parses a client's requests, forwards each to its caller's worker, relays answers."""

    def __init__(self, workers: list[int]) -> None:
        self.workers = workers
        self.upstreams: dict[int, asyncio.Future[_Upstream]] = {}
        self.chunks: list[bytes] = []
        self.body: list[bytes] = []
        self.connecting: set[asyncio.Future[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        raw, body = b"".join(self.chunks), b"".join(self.body)
        self.chunks, self.body = [], []
        # crc32: the same caller goes to the same worker in every front process.
        port = self.workers[zlib.crc32(_caller_of(body).encode()) % len(self.workers)]
        upstream = self.upstreams.get(port)
        if upstream is not None and upstream.done():
            upstream.result().transport.write(raw)
            return
        task = asyncio.ensure_future(self._forward_later(port, raw))
        self.connecting.add(task)
        task.add_done_callback(self.connecting.discard)

    async def _forward_later(self, port: int, raw: bytes) -> None:
        upstream = self.upstreams.get(port)
        if upstream is None:
            loop = asyncio.get_running_loop()
            upstream = self.upstreams[port] = loop.create_future()
            _transport, protocol = await loop.create_connection(
                lambda: _Upstream(self.transport), "127.0.0.1", port)
            upstream.set_result(protocol)
        (await upstream).transport.write(raw)


async def _serve(role: str, port: int, workers: list[int]) -> None:
    loop = asyncio.get_running_loop()
    factory: Any = _Worker if role == "worker" else (lambda: _Front(workers))
    server = await loop.create_server(factory, "127.0.0.1", port, backlog=4096)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


# -- the driver ---------------------------------------------------------------------------
def _bodies(n: int, callers: int) -> list[tuple[bytes, bytes]]:
    """(path, request bytes) of the load test: a search and a save per turn."""
    from recall_latency import corpus
    from voxmem._api import OPERATION_SPECS
    from voxmem.client._core import ClientCore

    lines, questions = corpus()
    core = ClientCore(project_id="load", agent_id="agent")
    rng = random.Random(1)
    out = []
    for k in range(n):
        user = {"id": f"caller-{k % callers}"}
        if k % 2 == 0:
            op, payload = "search_memory", core.call(
                "search_memory", query=rng.choice(questions), user=user, user_id=None,
                lanes=None, intent="answer_current_user", top_k=None, timeout_ms=None,
                mode="fast").payload
        else:
            op, payload = "save_response", core.call(
                "save_response", user_text=lines[(k * 7919) % len(lines)],
                assistant_text="Okay, noted.", user=user, user_id=None, turn_id=None,
                tool_calls=None, metadata=None, interrupted=False).payload
        body = json.dumps(payload).encode()
        path = OPERATION_SPECS[op].path.encode()
        out.append((path, b"POST " + path + b" HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                    b"authorization: Bearer t0k3n\r\ncontent-type: application/json\r\n"
                    b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body))
    return out


async def _drive(port: int, requests: list[tuple[bytes, bytes]],
                 connections: int) -> list[float]:
    """Send every request, one at a time per connection; each one's latency (s)."""
    latencies: list[float] = []
    queue = iter(requests)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _path, raw in queue:
            started = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
        writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return latencies


def _pct(values: list[float], q: float) -> float:
    ranked = sorted(values)
    return round(ranked[min(len(ranked) - 1, int(len(ranked) * q))] * 1000, 3)


def _start(role: str, port: int, workers: list[int]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--role", role, "--port", str(port),
         "--workers-ports", ",".join(map(str, workers))], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def measure(requests: int, connections: int, callers: int, base_port: int) -> dict[str, Any]:
    plan = _bodies(requests, callers)
    worker_ports = [base_port + 1, base_port + 2]
    procs = [_start("worker", p, []) for p in worker_ports]
    procs.append(_start("front", base_port, worker_ports))
    try:
        out: dict[str, Any] = {"requests": requests, "connections": connections,
                               "callers": callers, "workers": len(worker_ports)}
        for label, port in (("direct", worker_ports[0]), ("through_front", base_port)):
            asyncio.run(_drive(port, plan[:2000], connections))  # warm the connections
            before = [process_cpu_s(p.pid) for p in procs]
            started = time.perf_counter()
            latencies = asyncio.run(_drive(port, plan, connections))
            wall = time.perf_counter() - started
            used = [process_cpu_s(p.pid) - b for p, b in zip(procs, before, strict=True)]
            out[label] = {
                "wall_s": round(wall, 2), "requests_per_s": round(requests / wall),
                "latency_ms_p50": _pct(latencies, 0.5), "latency_ms_p95": _pct(latencies, 0.95),
                "workers_cpu_ms_per_request": round(sum(used[:-1]) / requests * 1000, 4),
                "front_cpu_ms_per_request": round(used[-1] / requests * 1000, 4)}
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    out["load_average"] = os.getloadavg()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--callers", type=int, default=1000)
    parser.add_argument("--port", type=int, default=18_450)
    parser.add_argument("--role", choices=("driver", "worker", "front"), default="driver")
    parser.add_argument("--workers-ports", default="")
    parser.add_argument("--json", default=str(RESULTS / "front_hop.json"))
    args = parser.parse_args()
    if args.role != "driver":
        workers = [int(p) for p in args.workers_ports.split(",") if p]
        uvloop.run(_serve(args.role, args.port, workers))
        return
    out = measure(args.requests, args.connections, args.callers, args.port)
    print(json.dumps(out))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
