"""Search-path CPU time and answers at production size, on a data directory built once.

``recall_latency.py`` builds its engine from scratch on every run (minutes) with the
wall clock, so two runs never rank the same memories at the same "now". This script
builds the same content (one caller with 10,000 turns, 100,000 org chunks of real
conversational text from the shared dev data) into a directory once, then searches a
copy of it with a fixed clock, so two versions of the code can be compared on the same
inputs: CPU time per search (min of N runs per query, robust to a busy machine) and
every lane's answers, written as JSON for ``compare``.

    python benchmarks/search_profile.py build DIR [--embedder onnx] [--turns N] [--chunks N]
    python benchmarks/search_profile.py run DIR --out answers.json [--min-of 3]
    python benchmarks/search_profile.py compare before.json after.json

A directory built before the last call was ended here learns that call during each
``run``: search it with ``--settings '{"extractor": "off"}'``. So does a pair of runs on
a ``--keep`` copy: the start-up relearns a fact there with a fresh id on every run, and
two runs of the same code then differ in a few permanent answers (the same fact and
score under another id).

``run`` works on a copy of ``DIR`` (the engine's start-up upkeep writes to it). The org
lane's vector graph (HNSW) is rebuilt in parallel for vectors its saved file lacks, so
compare org answers between runs started from a directory whose graph file is complete:
run once, and use the copy ``run --keep`` leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from footprint import engine_breakdown, print_breakdown, proc_status
from recall_latency import corpus, pct
from search_start import started


async def build(args: argparse.Namespace) -> None:
    from voxmem import Settings
    from voxmem.engine import MemoryEngine
    from voxmem.models import Caller

    lines, _ = corpus()
    engine = MemoryEngine(Settings(data_dir=args.dir, embedder=args.embedder))
    await engine.start()
    scope = engine.scope(project_id="bench", agent_id="agent", user_id="caller-1")
    caller = Caller("caller-1", "Bench Caller")
    t = time.perf_counter()
    for base in range(0, args.chunks, 100):
        docs = [{"id": f"doc-{base + i}", "text": lines[(base + i) % len(lines)]
                 + f" (ref {base + i})", "metadata": {}} for i in range(100)]
        await engine.create_index("default", "bench", f"kb{base // 20_000}", docs)
    print(f"org: {args.chunks} chunks in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    for base in range(0, args.turns, 50):
        await asyncio.gather(*(engine.save_response(
            scope, caller, user_text=lines[i % len(lines)], assistant_text="Okay, noted.")
            for i in range(base, min(args.turns, base + 50))))
        if base % 1000 == 0:
            await engine.end_session(scope)
    # The last call ended too: left open, it was ended as idle at ``run``'s fixed clock
    # and learned during the searches, so two runs ranked different facts.
    await engine.end_session(scope)
    assert await engine.flush(3600)
    if engine.second is not None:  # every row with the full model's vector too
        assert await engine.second.wait_idle(3600)
    print(f"caller: {args.turns} turns indexed at "
          f"{args.turns / (time.perf_counter() - t):.0f} turns/s", flush=True)
    await engine.flush(3600, learning=True)
    await engine.close()


async def run(args: argparse.Namespace, data_dir: str) -> dict[str, Any]:
    _, questions = corpus()
    queries = questions[: args.queries]
    async with started(data_dir, args.embedder, json.loads(args.settings),
                       queries) as (engine, scope, mem):
        return await measure(args, engine, scope, mem, queries)


async def measure(args: argparse.Namespace, engine: Any, scope: Any, mem: Any,
                  queries: list[str]) -> dict[str, Any]:
    answers, walls, cpus = [], [], []
    lanes: dict[str, list[float]] = {}
    words = engine.org.words
    worker_cpu0 = process_cpu_s(words.pid())
    answered0, fallbacks0 = words.answered, words.fallbacks
    for q in queries:
        best_wall = best_cpu = float("inf")
        for i in range(args.min_of):
            t0, c0 = time.perf_counter(), time.thread_time()
            result = await engine.search_memory(scope, q, timeout_ms=1000)
            c1, t1 = time.thread_time(), time.perf_counter()
            best_wall = min(best_wall, (t1 - t0) * 1000)
            best_cpu = min(best_cpu, (c1 - c0) * 1000)
            if i == 0:
                answers.append({"q": q, "degraded": result.trace["degraded"],
                                "full_model": result.trace.get("fullModel"), **{
                    lane: [(h["id"], h["score"]) for h in getattr(result, lane)]
                    for lane in ("working", "permanent", "org")},
                    "context": result.context_text})
                for lane, ms in result.trace["lanes"].items():
                    lanes.setdefault(lane, []).append(ms)
        walls.append(best_wall)
        cpus.append(best_cpu)
        answers[-1]["cpu_ms"] = round(best_cpu, 3)
    org_words = {"answered": words.answered - answered0,
                 "fallbacks": words.fallbacks - fallbacks0, "crashes": words.crashes,
                 # the worker's CPU per search (all min_of runs of every question)
                 "worker_cpu_ms": (process_cpu_s(words.pid()) - worker_cpu0) * 1000
                 / (len(queries) * args.min_of), "worker_pid": words.pid(),
                 "worker_pss_mb": pss_mb(words.pid())} if words.process else None
    rss = proc_status()  # before the breakdown, whose bookkeeping takes memory itself
    footprint = engine_breakdown(engine) if args.footprint else None
    return {"items": len(mem.index), "answers": answers, "rss_mb": rss,
            "footprint": footprint, "org_words": org_words,
            "pss_mb": pss_mb(os.getpid()),
            "wall_ms": {"p50": pct(walls, 50), "p95": pct(walls, 95), "p99": pct(walls, 99)},
            "loop_cpu_ms": {"p50": pct(cpus, 50), "p95": pct(cpus, 95),
                            "mean": sum(cpus) / len(cpus)},
            "lane_ms": {k: {"p50": pct(v, 50), "p95": pct(v, 95)} for k, v in lanes.items()},
            "degraded": sum(a["degraded"] for a in answers),
            # Searches whose caller lanes ranked without the full model's list
            # (embedder "static+onnx": its query vector missed its share of the deadline).
            "without_full_model": sum(a["full_model"] is not None and any(
                v != "ranked" for v in a["full_model"].values()) for a in answers)}


def process_cpu_s(pid: int | None) -> float:
    """A process's user + system CPU seconds (0 without one)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pss_mb(pid: int | None) -> float | None:
    """A process's proportional set size (shared pages split among their users)."""
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return None


def compare(before: str, after: str) -> bool:
    a = json.loads(Path(before).read_text())["answers"]
    b = json.loads(Path(after).read_text())["answers"]
    if [x["q"] for x in a] != [y["q"] for y in b]:
        print("the two runs searched different queries")
        return False
    same = True
    for key in ("working", "permanent", "org", "context"):
        equal = sum(x[key] == y[key] for x, y in zip(a, b, strict=True))
        print(f"{key:<10} {equal}/{len(a)} identical")
        same &= equal == len(a)
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("dir")
    b.add_argument("--embedder", default="static")
    b.add_argument("--turns", type=int, default=10_000)
    b.add_argument("--chunks", type=int, default=100_000)
    r = sub.add_parser("run")
    r.add_argument("dir")
    r.add_argument("--embedder", default="static")
    r.add_argument("--settings", default="{}", help="JSON of Settings overrides")
    r.add_argument("--queries", type=int, default=500)
    r.add_argument("--min-of", type=int, default=3)
    r.add_argument("--out", required=True)
    r.add_argument("--keep", help="keep the searched copy of DIR here")
    r.add_argument("--footprint", action="store_true",
                   help="also size the engine's structures (slow: walks every object)")
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    args = parser.parse_args()
    if args.command == "build":
        asyncio.run(build(args))
    elif args.command == "compare":
        sys.exit(0 if compare(args.before, args.after) else 1)
    else:
        with tempfile.TemporaryDirectory(prefix="voxmem-profile-") as tmp:
            copy = str(Path(tmp) / "data")
            shutil.copytree(args.dir, copy)
            out = asyncio.run(run(args, copy))
            if args.keep:
                shutil.copytree(copy, args.keep)
        Path(args.out).write_text(json.dumps(out, indent=0))
        print(f"{out['items']} caller items; per query, min of {args.min_of}: "
              f"event-loop CPU p50/p95 {out['loop_cpu_ms']['p50']:.2f}/"
              f"{out['loop_cpu_ms']['p95']:.2f} ms, wall p50/p95 {out['wall_ms']['p50']:.2f}/"
              f"{out['wall_ms']['p95']:.2f} ms; degraded {out['degraded']}, without the full "
              f"model's list {out['without_full_model']}")
        print("RSS MB: " + ", ".join(f"{k} {v:.0f}" for k, v in out["rss_mb"].items())
              + f"; PSS MB {out['pss_mb']:.0f}")
        if out["org_words"]:
            w = out["org_words"]
            print(f"org words worker: {w['answered']} answered, {w['fallbacks']} in-process "
                  f"after asking, {w['crashes']} lost; its CPU {w['worker_cpu_ms']:.3f} ms a "
                  f"search, PSS {w['worker_pss_mb']:.0f} MB")
        if out["footprint"]:
            print_breakdown(out["footprint"])
        print("lanes p50/p95 ms: " + ", ".join(
            f"{k} {v['p50']:.2f}/{v['p95']:.2f}" for k, v in out["lane_ms"].items()))


if __name__ == "__main__":
    main()
