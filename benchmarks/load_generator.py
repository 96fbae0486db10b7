"""A cheap open-loop load generator for ``benchmarks/load.py``: raw HTTP/1.1 on asyncio.

The generator shares the machine's cores with the runtime it measures, so every
microsecond it spends is one the runtime does not get. ``VoiceClient`` (httpx, a task
per call, JSON codec, retries) costs more per request than the runtime's own fast path;
here each request is a pre-encoded body written on a kept-alive connection and each
answer is read by its ``content-length``, on uvloop. The bodies are exactly what
:class:`~voxmem.client._core.ClientCore` builds for the client, so the runtime sees the
requests a real client sends (a search also carries ``deadlineAt``, the turn's scheduled
start plus its budget, as the client does).

Run by ``load.py`` as ``python benchmarks/load_generator.py URL TOKEN FIRST CALLERS RATE
SECONDS RUNTIME_PID [synthetic]``; prints one JSON object: latencies, degraded recalls, errors,
the turn ids of acknowledged saves, and the CPU seconds the generator and the runtime used
while the turns ran (the warm-up preloads before the clock starts are not counted).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recall_latency import corpus
from runtime_latency import process_cpu_s

#: Warm-up preloads in flight at once (a host starting calls, not a stampede).
WARM_CONCURRENCY = 16
#: Client-side budget of a search: the runtime's default recall timeout.
SEARCH_TIMEOUT_MS = 250.0
#: An answer later than this counts as an error (a stuck runtime, not a slow one).
READ_TIMEOUT_S = 60.0
DEADLINE_MARK = b"__DEADLINE__"
DEGRADED = b'"degraded":true'


#: ``--corpus synthetic``: a few lines written here, for a smoke run where the shared
#: evaluation data is not at hand (the test suite); figures come from the real corpus.
SYNTHETIC_CORPUS: tuple[list[str], list[str]] = (
    [f"Caller: {line}" for line in (
        "I'd like to move my delivery to Thursday afternoon if that works.",
        "My account number is 4 4 2 1 9 8 7, the one under my wife's name.",
        "We adopted a dog last month, a beagle called Pepper.",
        "Can you remind me what the cancellation fee was last time?",
        "I'm allergic to penicillin, please note that for the pharmacy.",
        "The invoice from March still shows the old address on Elm Street.",
        "This is Maria, I called yesterday about the broken heater.",
        "I usually work nights so mornings are best for a call back.",
    )],
    ["What did I say about my delivery?", "What is my dog's name?",
     "Which address is on the invoice?", "When should you call me back?"],
)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Connections:
    """At most ``limit`` kept-alive connections to one runtime; one request at a time on
    each, a request waits for a free one.

    The limit is what a host has: a connection or two per live call (the pool of a voice
    worker). Without it an overloaded runtime made the generator open a connection per
    request in flight, thousands per second, until the runtime's listen queue
    overflowed and the kernel reset connections: errors no real host would send.
    """

    def __init__(self, url: str, token: str, limit: int) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.head = (f"Host: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
                     "Content-Type: application/json\r\n").encode()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.open_now = 0
        self.most_open = 0
        self._free = asyncio.Semaphore(limit)

    async def request(self, path: bytes, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` to ``path``; (status, response body)."""
        async with self._free:
            return await self._request(path, body)

    async def _request(self, path: bytes, body: bytes) -> tuple[int, bytes]:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.opened += 1
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
        try:
            writer.write(b"POST " + path + b" HTTP/1.1\r\n" + self.head
                         + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"content-length:")
            length = int(lower[at + 15:lower.find(b"\r\n", at)]) if at >= 0 else 0
            content = await reader.readexactly(length) if length else b""
        except BaseException:
            writer.close()
            self.open_now -= 1
            raise
        if b"connection: close" in lower:
            writer.close()
            self.open_now -= 1
        else:
            self.idle.append((reader, writer))
        return status, content

    def close(self) -> None:
        for _reader, writer in self.idle:
            writer.close()
        self.idle.clear()


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


async def generate(url: str, token: str, first: int, callers: int, rate: float,
                   duration_s: float, runtime_pid: int, synthetic: bool = False
                   ) -> dict[str, Any]:
    """Warm ``callers`` callers, then start turns (a search, then a save) at ``rate``."""
    from voxmem._api import OPERATION_SPECS
    from voxmem.client._core import ClientCore

    core = ClientCore(project_id="load", agent_id="agent")
    lines, questions = SYNTHETIC_CORPUS if synthetic else corpus()
    rng = random.Random(first)
    turns = max(1, round(rate * duration_s))
    paths = {op: OPERATION_SPECS[op].path.encode() for op in
             ("search_memory", "save_response", "preload")}
    # Every body is encoded before the clock starts; a search's deadline is spliced in
    # when it is sent (its scheduled start + budget).
    plan: list[tuple[str, bytes, bytes]] = []  # (turn number, search, save)
    turn_ids: list[str] = []
    for k in range(turns):
        n = first + k % callers
        user = {"id": f"caller-{n}"}
        search = core.call("search_memory", query=rng.choice(questions), user=user, user_id=None,
                                    lanes=None, intent="answer_current_user", top_k=None,
                                    timeout_ms=None, mode="fast", deadline_at=0.5)
        search_body = _encode(search.payload).replace(b'"deadlineAt":0.5',
                                                      b'"deadlineAt":' + DEADLINE_MARK)
        save = core.call("save_response", user_text=lines[(n * 7919 + k) % len(lines)],
                                  assistant_text="Okay, noted.", user=user, user_id=None,
                                  turn_id=None, tool_calls=None, metadata=None,
                                  interrupted=False)
        plan.append((str(k), search_body, _encode(save.payload)))
        turn_ids.append(str(save.payload["turnId"]))
    # One connection per call for its searches and one for its saves: a host does not
    # hold its next turn's recall behind the previous turn's save.
    conns = Connections(url, token, limit=callers)
    save_conns = Connections(url, token, limit=callers)
    recalls: list[float] = []
    saves: list[float] = []
    errors: dict[str, int] = {}
    examples: dict[str, str] = {}
    acked: list[str] = []
    degraded = 0

    def failed(code: str, detail: str) -> None:
        errors[code] = errors.get(code, 0) + 1
        examples.setdefault(code, detail[:300])

    gate = asyncio.Semaphore(WARM_CONCURRENCY)

    async def warm(n: int) -> None:
        async with gate:
            body = _encode(core.call("preload", user={"id": f"caller-{n}"}, user_id=None).payload)
            try:
                status, content = await conns.request(paths["preload"], body)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                failed("preload:" + type(exc).__name__, str(exc))
                return
            if status != 200:
                failed(f"preload:{status}", content.decode(errors="replace"))

    await asyncio.gather(*(warm(n) for n in range(first, first + callers)))

    async def turn(k: int, search: bytes, save: bytes, scheduled: float,
                   wall: float) -> None:
        nonlocal degraded
        deadline = f"{wall + SEARCH_TIMEOUT_MS / 1000.0:.6f}".encode()
        try:
            status, content = await conns.request(
                paths["search_memory"], search.replace(DEADLINE_MARK, deadline))
            if status != 200:
                failed(f"search:{status}", content.decode(errors="replace"))
                return
            recalls.append((time.perf_counter() - scheduled) * 1000)
            degraded += DEGRADED in content
            started = time.perf_counter()
            status, content = await save_conns.request(paths["save_response"], save)
            if status != 200:
                failed(f"save:{status}", content.decode(errors="replace"))
                return
            saves.append((time.perf_counter() - started) * 1000)
            acked.append(turn_ids[k])
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            failed(type(exc).__name__, str(exc))

    cpu_before = _cpu_s()
    runtime_before = process_cpu_s(runtime_pid)
    loop_before, children_before = loop_cpu_s(runtime_pid), children_cpu_s(runtime_pid)
    # The wall clock and the monotonic one are read once: a turn's wall time (for its
    # deadline) is its scheduled monotonic time shifted by this offset.
    start = time.perf_counter() + rng.uniform(0, 1 / max(rate, 1e-9))
    offset = time.time() - time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    # How late the generator itself started each turn: on a machine too busy to give it
    # its share, its own delay is part of the latencies it reports.
    started_late: list[float] = []
    k = 0
    while k < turns:
        now = time.perf_counter()
        # Start every turn whose time has come, then sleep until the next one: one
        # wake-up per batch instead of one timer per turn.
        while k < turns and start + k / rate <= now:
            scheduled = start + k / rate
            started_late.append((now - scheduled) * 1000)
            _label, search_body, save_body = plan[k]
            tasks.append(asyncio.ensure_future(
                turn(k, search_body, save_body, scheduled, scheduled + offset)))
            k += 1
        if k < turns:
            await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    span = time.perf_counter() - start
    cpu = _cpu_s() - cpu_before
    runtime_cpu = process_cpu_s(runtime_pid) - runtime_before
    loop_cpu = loop_cpu_s(runtime_pid) - loop_before
    children_after = children_cpu_s(runtime_pid)
    children_cpu = sum(v - children_before.get(p, 0.0) for p, v in children_after.items())
    conns.close()
    save_conns.close()
    return {"recalls": recalls, "saves": saves, "errors": errors, "degraded": degraded,
            "acked": acked, "turns": turns, "span_s": span, "error_examples": examples,
            "generator_cpu_s": cpu, "runtime_cpu_s": runtime_cpu,
            "runtime_loop_cpu_s": loop_cpu, "runtime_children_cpu_s": children_cpu,
            "started_late_ms": started_late,
            "connections": conns.opened + save_conns.opened,
            "most_connections_open": conns.most_open + save_conns.most_open}


def _stat_cpu_s(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_cpu_s(pid: int) -> float:
    """CPU seconds of the runtime's main thread: its event loop's (0.0 if unreadable)."""
    try:
        return _stat_cpu_s(Path(f"/proc/{pid}/task/{pid}/stat"))
    except (OSError, IndexError, ValueError):
        return 0.0


def children_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of each live child process of ``pid`` (its worker processes)."""
    out: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out[int(entry.name)] = _stat_cpu_s(entry / "stat")
        except (OSError, IndexError, ValueError):
            continue
    return out


def main() -> None:
    url, token, first, callers, rate, seconds, pid = sys.argv[1:8]
    synthetic = sys.argv[8:9] == ["synthetic"]
    try:
        import uvloop
    except ImportError:  # e.g. Windows: the stdlib loop works, a little slower
        runner = asyncio.run
    else:
        runner = uvloop.run
    out = runner(generate(url, token, int(first), int(callers), float(rate),
                          float(seconds), int(pid), synthetic))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
