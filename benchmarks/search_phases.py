"""Where a search's wall time goes beyond its event-loop CPU: per-phase wall and CPU.

Searches a copy of a ``search_profile.py build`` directory (10,000 caller turns, 100,000
org chunks) once per question, as ``recall_latency.py`` does, with each phase of
``search_memory`` timed by wall clock and by the event loop's thread CPU
(``thread_time``), and the lane threads' work (the caller's vector scan, the org
graph's walk) by their own clocks. A phase's wall minus its CPU is time the loop thread
was not running there: waiting for a lane thread's result, for the GIL, or for a core.

    python benchmarks/search_phases.py DIR [--queries 500] [--out phases.json]
                                          [--embedder static+onnx]

Prints a table per phase (means over all searches and over the slowest 5 % by wall)
and writes it as JSON (``benchmarks/results/search_phases.json`` unless ``--out``).

The phases are measured by wrapping the engine's functions in this script (a timer
around each call), which costs a few microseconds a phase.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recall_latency import corpus, pct
from search_start import started

#: The current search's phases: name -> [wall ms, loop CPU ms] (summed over calls).
_phases: dict[str, list[float]] = {}
#: Lane-thread work of the current search: name -> (start, end) offsets in ms, CPU ms.
_threads: dict[str, tuple[float, float, float]] = {}
_started = [0.0]
#: Phases timed inside another phase.
NESTED = frozenset({"caller scan: take result", "full model's matrix"})


def _record(name: str, wall: float, cpu: float) -> None:
    got = _phases.setdefault(name, [0.0, 0.0])
    got[0] += wall * 1000
    got[1] += cpu * 1000


def _timed(name: str | Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t, c = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            label = name(*args) if callable(name) else name
            _record(label, time.perf_counter() - t, time.thread_time() - c)
    return wrapper


def _timed_async(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        t, c = time.perf_counter(), time.thread_time()
        try:
            return await fn(*args, **kwargs)
        finally:
            _record(name, time.perf_counter() - t, time.thread_time() - c)
    return wrapper


def _on_thread(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t, c = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            end = time.perf_counter()
            _threads[name] = ((t - _started[0]) * 1000, (end - _started[0]) * 1000,
                              (time.thread_time() - c) * 1000)
    return wrapper


def _wrap(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]],
          ) -> None:
    # Only what the code searched has: an older version has no scan on a thread.
    if getattr(owner, name, None) is not None:
        setattr(owner, name, make(getattr(owner, name)))


def instrument() -> None:
    """Wrap the phases of ``search_memory`` with timers (where ``_search`` and
    ``_org_knowledge`` look them up)."""
    from voxmem.embeddings.onnx import OnnxEmbedder
    from voxmem.engine import _index, _org_knowledge, _search, _second, _vectors

    _wrap(_search, "search_caller_lane",
          lambda fn: _timed(lambda _m, lane, *a: f"caller lane: {lane}", fn))
    _wrap(_search, "compose_context", lambda fn: _timed("compose context", fn))
    org = _org_knowledge.OrgKnowledge
    _wrap(org, "keyword_now", lambda fn: _timed("org words (inline)", fn))
    _wrap(org, "lane", lambda fn: _timed_async("org lane task", fn))
    _wrap(_org_knowledge, "search_org_lane", lambda fn: _timed("org fusion + hits", fn))
    _wrap(_org_knowledge, "org_dense_phase", lambda fn: _on_thread("org walk (thread)", fn))
    scan = getattr(_vectors, "Scan", None)
    _wrap(scan, "scores", lambda fn: _timed("caller scan: take result", fn))
    _wrap(scan, "run", lambda fn: _on_thread("caller scan (thread)", fn))
    # embedder="static+onnx": the full model's query on its thread, what the caller lanes
    # do before it lands, the wait for it, and the scan of its matrix.
    _wrap(OnnxEmbedder, "embed", lambda fn: _on_thread("full model query (thread)", fn))
    _wrap(_search, "caller_keyword_phase",
          lambda fn: _timed(lambda _m, lane, *a: f"caller words first: {lane}", fn))
    _wrap(_second.SecondQuery, "vector", lambda fn: _timed_async("wait for full model", fn))
    _wrap(_index.HybridIndex, "search_second", lambda fn: _timed("full model's matrix", fn))


async def run(args: argparse.Namespace, data_dir: str) -> dict[str, Any]:
    _, questions = corpus()
    queries = questions[: args.queries]
    async with started(data_dir, args.embedder, json.loads(args.settings),
                       queries) as (engine, scope, _mem):
        return await measure(engine, scope, queries)


async def measure(engine: Any, scope: Any, queries: list[str]) -> dict[str, Any]:
    searches = []
    for q in queries:
        _phases.clear()
        _threads.clear()
        _started[0] = t0 = time.perf_counter()
        c0 = time.thread_time()
        await engine.search_memory(scope, q, timeout_ms=1000)
        c1, t1 = time.thread_time(), time.perf_counter()
        searches.append({"wall": (t1 - t0) * 1000, "cpu": (c1 - c0) * 1000,
                         "phases": {k: list(v) for k, v in _phases.items()},
                         "threads": dict(_threads)})
    return {"searches": searches}


def summarise(searches: list[dict[str, Any]]) -> dict[str, Any]:
    def table(rows: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(rows)
        names = sorted({k for r in rows for k in r["phases"]})
        out: dict[str, Any] = {
            "searches": n,
            "wall_mean": sum(r["wall"] for r in rows) / n,
            "cpu_mean": sum(r["cpu"] for r in rows) / n,
            "phases": {k: {"wall": sum(r["phases"].get(k, [0, 0])[0] for r in rows) / n,
                           "cpu": sum(r["phases"].get(k, [0, 0])[1] for r in rows) / n}
                       for k in names},
            "threads": {k: {key: sum(r["threads"][k][i] for r in rows if k in r["threads"])
                            / max(1, sum(k in r["threads"] for r in rows))
                            for i, key in enumerate(("start", "end", "cpu"))}
                        for k in sorted({k for r in rows for k in r["threads"]})},
        }
        # The org lane task contains its fusion: its own share is the rest.
        ph = out["phases"]
        if "org lane task" in ph and "org fusion + hits" in ph:
            ph["org lane task"] = {key: ph["org lane task"][key] - ph["org fusion + hits"][key]
                                   for key in ("wall", "cpu")}
        # Taking the scan's scores is inside the permanent lane: not counted twice.
        inside = {key: sum(v[key] for name, v in ph.items() if name not in NESTED)
                  for key in ("wall", "cpu")}
        ph["rest of search_memory"] = {"wall": out["wall_mean"] - inside["wall"],
                                       "cpu": out["cpu_mean"] - inside["cpu"]}
        return out

    by_wall = sorted(searches, key=lambda r: r["wall"])
    slow = by_wall[int(len(by_wall) * 0.95):]
    walls = [r["wall"] for r in searches]
    cpus = [r["cpu"] for r in searches]
    return {"wall_ms": {"p50": pct(walls, 50), "p95": pct(walls, 95)},
            "loop_cpu_ms": {"p50": pct(cpus, 50), "p95": pct(cpus, 95)},
            "all": table(searches), "slowest_5pc": table(slow)}


def show(summary: dict[str, Any]) -> None:
    print(f"wall p50/p95 {summary['wall_ms']['p50']:.2f}/{summary['wall_ms']['p95']:.2f} ms, "
          f"loop CPU p50/p95 {summary['loop_cpu_ms']['p50']:.2f}/"
          f"{summary['loop_cpu_ms']['p95']:.2f} ms")
    for key in ("all", "slowest_5pc"):
        t = summary[key]
        print(f"\n{key} ({t['searches']} searches): wall {t['wall_mean']:.2f} ms, "
              f"loop CPU {t['cpu_mean']:.2f} ms (means)")
        print(f"{'phase':<28}{'wall':>8}{'CPU':>8}{'wall-CPU':>10}")
        for name, v in t["phases"].items():
            print(f"{name:<28}{v['wall']:8.3f}{v['cpu']:8.3f}{v['wall'] - v['cpu']:10.3f}")
        for name, v in t["threads"].items():
            print(f"{name:<28} from {v['start']:.3f} to {v['end']:.3f} ms, CPU {v['cpu']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--settings", default="{}", help="JSON of Settings overrides")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"
                                             / "search_phases.json"))
    args = parser.parse_args()
    instrument()
    with tempfile.TemporaryDirectory(prefix="voxmem-phases-") as tmp:
        copy = str(Path(tmp) / "data")
        shutil.copytree(args.dir, copy)
        searches = asyncio.run(run(args, copy))["searches"]
    summary = summarise(searches)
    show(summary)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
