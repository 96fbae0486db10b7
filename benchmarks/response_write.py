"""The server's CPU per answer with uvicorn's two writes against the runtime's one.

uvicorn writes an answer's head and body to the socket separately; the runtime's
protocol (``runtime/_protocol.py``) sends a hot answer in one write. A stand-in app
answers every ``POST`` at once with a search-sized body, so the server's CPU is the
HTTP layer alone; clients on 32 kept-alive connections send the load test's raw
requests. Runs alternate between the two protocols (``--pairs``), and report the server
process's CPU per request (its own ``getrusage``, all its threads) and the clients' p50.

Run: ``python benchmarks/response_write.py [--requests 20000] [--pairs 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import socket
import statistics
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from front_hop import _drive as send_all

PATH = "/v1/memory/search"
BODY = b'{"contextText":"' + b"x" * 5000 + b'","results":[]}'
CONNECTIONS = 32


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-length", str(len(BODY)).encode()), (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


def serve(one_write: bool, sock: socket.socket, conn: Connection) -> None:
    import uvicorn

    from voxmem.runtime._protocol import hot_answer_protocol

    http: Any = hot_answer_protocol([PATH]) if one_write else "httptools"
    config = uvicorn.Config(app, http=http, loop="uvloop", lifespan="off", log_config=None,
                            proxy_headers=False, access_log=False)
    server = uvicorn.Server(config)

    async def run() -> None:
        async def report() -> None:
            # uvicorn says it has started only with a flag, no event to await.
            while not server.started:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            conn.send("ready")
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "start"
            usage = resource.getrusage(resource.RUSAGE_SELF)
            conn.send(usage.ru_utime + usage.ru_stime)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"
            usage = resource.getrusage(resource.RUSAGE_SELF)
            conn.send(usage.ru_utime + usage.ru_stime)
            server.should_exit = True

        task = asyncio.ensure_future(report())
        await server.serve(sockets=[sock])
        await task

    factory = config.get_loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(run())


async def drive(port: int, requests: int) -> list[float]:
    body = b'{"projectId":"load","agentId":"agent","user":{"id":"c"},"query":"what did I order"}'
    raw = (b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Authorization: Bearer t\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    # The same keep-alive client as front_hop.py: one request at a time per connection.
    return await send_all(port, [(PATH.encode(), raw)] * requests, CONNECTIONS)


def one_run(one_write: bool, requests: int) -> dict[str, float]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    here, there = mp.Pipe()
    proc = mp.get_context("fork").Process(target=serve, args=(one_write, sock, there))
    proc.start()
    assert here.recv() == "ready"
    asyncio.run(drive(port, CONNECTIONS * 20))  # warm
    here.send("start")
    cpu0 = here.recv()
    latencies = asyncio.run(drive(port, requests))
    here.send("stop")
    cpu1 = here.recv()
    proc.join()
    sock.close()
    return {"server_cpu_us_per_request": round((cpu1 - cpu0) / len(latencies) * 1e6, 2),
            "client_p50_ms": round(statistics.median(latencies) * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"two_writes": [], "one_write": []}
    for _ in range(args.pairs):
        runs["two_writes"].append(one_run(False, args.requests))
        runs["one_write"].append(one_run(True, args.requests))
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
