"""CPU per request of the runtime's app at 1,000 warm callers, in-process, and its GC pauses.

Over loopback a shared 2-core machine hands the runtime anything from a fifth to a whole
core, so achieved rates say more about the neighbours than about the code. This calls
the runtime's own ASGI app in-process (no sockets, no load generator) with the traffic
``load.py`` sends — every caller warmed by a preload, then turns of a search and a save
of the same shared-corpus texts, ``--concurrency`` turns in flight — and reports the
process's CPU time per request (every thread: the loop, the journal writer, the store
writer), measured until the store has applied every save, and of those the event loop's
thread alone, and the CPU of the saves' text worker process. It also reports the cyclic
garbage collector's work: how often each generation ran, for how long, and the pause
of every full collection (what every request in flight waits out).

    python benchmarks/request_cpu.py                     # as the runtime runs (GC policy on)
    python benchmarks/request_cpu.py --no-gc-policy      # CPython's default collector
    python benchmarks/request_cpu.py --saves-only        # the save path alone (no search)
    python benchmarks/request_cpu.py --text-worker       # a save's text work in a worker

Prints one JSON line and writes ``benchmarks/results/request_cpu.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hotpath_overhead import TOKEN, call
from recall_latency import corpus

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CollectorWatch:
    """Counts and times the collector's runs per generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.reset()
        self._started = 0.0
        self._started_cpu = 0.0
        gc.callbacks.append(self._on_collection)

    def reset(self) -> None:
        self.runs = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.full_pauses_ms: list[float] = []
        #: CPU time of the collecting thread per pause, by generation: on a shared
        #: machine a pause's wall time is mostly waiting for a core.
        self.cpu_pauses_ms: list[list[float]] = [[], [], []]

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            self._started_cpu = time.thread_time()
            return
        generation = int(info["generation"])
        took = time.perf_counter() - self._started
        self.cpu_pauses_ms[generation].append((time.thread_time() - self._started_cpu) * 1000)
        self.runs[generation] += 1
        self.seconds[generation] += took
        if generation == 2:
            self.full_pauses_ms.append(round(took * 1000, 1))

    def cpu_pause_summary(self) -> list[dict[str, float]]:
        """Per generation: pauses, their CPU p50 / p99 / max and sum (ms)."""
        out = []
        for pauses in self.cpu_pauses_ms:
            ranked = sorted(pauses)
            out.append({} if not ranked else {
                "n": len(ranked), "p50": round(ranked[len(ranked) // 2], 2),
                "p99": round(ranked[int(len(ranked) * 0.99)], 2),
                "max": round(ranked[-1], 2), "sum": round(sum(ranked), 1)})
        return out


def pid_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) a live process has used so far; 0.0 without one."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(turns: int, callers: int, concurrency: int,
                  saves_only: bool = False, text_worker: bool = False) -> dict[str, Any]:
    from voxmem._api import OPERATION_SPECS
    from voxmem._config import Settings
    from voxmem.client._core import ClientCore
    from voxmem.engine import MemoryEngine
    from voxmem.runtime import create_app

    lines, questions = corpus()
    core = ClientCore(project_id="load", agent_id="agent")
    rng = random.Random(1)
    plan: list[tuple[bytes, bytes]] = []
    for k in range(turns):
        n = k % callers
        user = {"id": f"caller-{n}"}
        search = core.call("search_memory", query=rng.choice(questions), user=user,
                           user_id=None, lanes=None, intent="answer_current_user",
                           top_k=None, timeout_ms=None, mode="fast")
        save = core.call("save_response", user_text=lines[(n * 7919 + k) % len(lines)],
                         assistant_text="Okay, noted.", user=user, user_id=None,
                         turn_id=None, tool_calls=None, metadata=None, interrupted=False)
        plan.append((json.dumps(search.payload).encode(), json.dumps(save.payload).encode()))
    search_path, save_path, preload_path = (OPERATION_SPECS[op].path for op in (
        "search_memory", "save_response", "preload"))
    watch = CollectorWatch()
    with tempfile.TemporaryDirectory(prefix="voxmem-request-cpu-") as tmp:
        # Every simulated call is live: the cache holds them all, as load.py sizes it.
        # (Only named when on: the setting is new in the sixth round.)
        on: dict[str, Any] = {"text_worker": True} if text_worker else {}
        engine = MemoryEngine(Settings(data_dir=tmp, embedder="static",
                                       caller_cache_size=callers + 100, **on))
        await engine.start()
        try:
            app = create_app(engine, token=TOKEN)
            for n in range(callers):
                body = core.call("preload", user={"id": f"caller-{n}"}, user_id=None).payload
                await call(app, preload_path, json.dumps(body).encode())
            await engine.flush()
            slots = asyncio.Semaphore(concurrency)

            async def turn(search: bytes, save: bytes) -> None:
                async with slots:
                    statuses = (200 if saves_only else await call(app, search_path, search),
                                await call(app, save_path, save))
                    assert statuses == (200, 200), statuses

            warm = min(2000, turns // 5)
            await asyncio.gather(*(turn(*bodies) for bodies in plan[:warm]))
            await engine.flush()
            # (Voxmem >= the sixth round: the saves' text worker, warm before the clock.)
            text = getattr(engine.calls, "text", None) if text_worker else None
            if text is not None:
                await text.start()
            worker = text.pid() if text is not None else None
            watch.reset()
            cpu0, wall0 = process_cpu_s(), time.perf_counter()
            loop0, worker0 = time.thread_time(), pid_cpu_s(worker)
            await asyncio.gather(*(turn(*bodies) for bodies in plan[warm:]))
            await engine.flush()  # the store writer's share counts too
            cpu, wall = process_cpu_s() - cpu0, time.perf_counter() - wall0
            loop_cpu, worker_cpu = time.thread_time() - loop0, pid_cpu_s(worker) - worker0
            offloaded = text.offloaded if text is not None else 0
            batches = text.batches if text is not None else 0
        finally:
            await engine.close()
    requests = (1 if saves_only else 2) * (turns - warm)
    return {"requests": requests, "saves_only": saves_only, "callers": callers,
            "concurrency": concurrency,
            "cpu_ms_per_request": round(cpu / requests * 1000, 3),
            # The event loop's thread alone (this one), and the text worker's process.
            "loop_cpu_ms_per_request": round(loop_cpu / requests * 1000, 3),
            "text_worker_cpu_ms_per_request": round(worker_cpu / requests * 1000, 3),
            "text_worker": worker is not None, "turns_offloaded": offloaded,
            "turns_per_batch": round(offloaded / batches, 2) if batches else None,
            "wall_s": round(wall, 2),
            "gc_runs_per_generation": watch.runs,
            "gc_seconds_per_generation": [round(s, 3) for s in watch.seconds],
            "gc_ms_per_request": round(sum(watch.seconds) / requests * 1000, 3),
            "full_collection_pauses_ms": watch.full_pauses_ms,
            "collector_cpu_ms_by_generation": watch.cpu_pause_summary(),
            "load_average": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=5000)
    parser.add_argument("--callers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--saves-only", action="store_true",
                        help="send only the saves: the CPU of the save path alone, with "
                             "the journal and the store writer")
    parser.add_argument("--no-gc-policy", action="store_true",
                        help="CPython's default collector instead of the runtime's policy")
    parser.add_argument("--text-worker", action="store_true",
                        help="a save's text work in the text worker process "
                             "(text_worker=True; off by default)")
    parser.add_argument("--json", default=str(RESULTS / "request_cpu.json"))
    args = parser.parse_args()
    if not args.no_gc_policy:
        from voxmem.runtime._gc import FullCollectionPolicy

        FullCollectionPolicy().install()  # as `voxmem serve` does at start
    out = asyncio.run(measure(args.turns, args.callers, args.concurrency, args.saves_only,
                              args.text_worker))
    out["gc_policy"] = not args.no_gc_policy
    print(json.dumps(out))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
