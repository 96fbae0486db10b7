"""Engine latency and throughput at production size, in-process (embedded mode).

Loads one caller with 10,000 stored turns and one project with 100,000 org chunks (real
conversational text from the shared dev data), then measures:

- recall: ``search_memory`` end to end, all four lanes, including query embedding;
- save acknowledgement: ``save_response`` until the turn is durable in the journal;
- background indexing: turns/s from acknowledgement to stored-with-vector;
- the hot path while learning runs: sequential save and search latency on one caller
  while ``--learning-calls`` other callers' long calls are being learned from (rule
  extraction and entity graph, in worker processes unless ``--background-processes 0``);
- memory: the process's resident set, and the footprint of the process plus its worker
  processes (PSS summed, so pages shared with the fork server count once);
- a restart on the same store: the engine's start (its models loaded) and the first
  searches right after it, before the caller's warm index has loaded.

    python benchmarks/recall_latency.py            # full size (a few minutes)
    python benchmarks/recall_latency.py --quick    # 1,000 turns, 10,000 chunks
    python benchmarks/recall_latency.py --quick --background-processes 0   # learning on
                                                   # a thread, as before
    python benchmarks/recall_latency.py --embedder onnx \
        --settings '{"dense_floor": 0.15, "dense_weight": 0.75}'   # MiniLM, its settings
    python benchmarks/recall_latency.py --embedder static+onnx   # both side by side

Prints a table and writes ``benchmarks/results/recall_latency.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VOXMEM_SHARED_DIR", ROOT.parent / "shared"))
RESULTS = ROOT / "benchmarks" / "results"
#: Cold preloads measured (each on a caller dropped from the cache and loaded again).
COLD_SAMPLES = 5


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory from /proc: ``VmRSS`` in all, ``RssAnon`` the process's own heap and
    arrays, ``RssFile`` pages of mapped files (reclaimable page cache, e.g. the org index's
    memory-mapped exact vectors)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def corpus() -> tuple[list[str], list[str]]:
    """(utterances, questions) from the shared dev data: real conversational text."""
    locomo = json.loads((SHARED / "eval" / "data" / "locomo_dev.json").read_text())
    lines: list[str] = []
    questions: list[str] = []
    for sample in locomo:
        conv = sample["conversation"]
        for key, value in conv.items():
            if key.startswith("session_") and isinstance(value, list):
                lines.extend(f"{t['speaker']}: {t['text']}" for t in value)
        questions.extend(str(q["question"]) for q in sample["qa"])
    lme = json.loads((SHARED / "eval" / "data" / "longmemeval_s_dev40.json").read_text())
    for item in lme:
        for session in item["haystack_sessions"]:
            lines.extend(t["content"][:700] for t in session if t.get("content"))
    return lines, questions


async def hot_path_while_learning(engine: Any, scope: Any, caller: Any, lines: list[str],
                                  questions: list[str], calls: int,
                                  turns_per_call: int, max_ops: int = 300) -> dict[str, Any]:
    """Save and search latency on ``scope`` while ``calls`` long calls are learned from.

    Each other caller gets one call of ``turns_per_call`` turns; all of them end at once
    and the bench caller saves and searches (one after the other, as one voice turn
    does) until learning has finished or ``max_ops`` turns are done. Only operations
    that ran while learning was still under way are counted.
    """
    from voxmem.models import Caller

    others = [engine.scope(project_id="bench", agent_id="agent", user_id=f"learner-{k}")
              for k in range(calls)]
    for k, other in enumerate(others):
        who = Caller(other.user_id, f"Learner {k}")
        for base in range(0, turns_per_call, 50):
            await asyncio.gather(*(engine.save_response(
                other, who, user_text=lines[(k * 7919 + i) % len(lines)],
                assistant_text="Okay, noted.") for i in range(base, base + 50)))
    assert await engine.flush(600)
    saves: list[float] = []
    searches: list[float] = []
    t = time.perf_counter()
    for other in others:
        await engine.end_session(other)
    learning = asyncio.ensure_future(engine.learner.wait_idle(1800))
    i = 0
    while not learning.done() and i < max_ops:
        t0 = time.perf_counter()
        await engine.save_response(scope, caller, user_text=lines[i % len(lines)],
                                   assistant_text="ok")
        t1 = time.perf_counter()
        await engine.search_memory(scope, questions[i % len(questions)], timeout_ms=250)
        t2 = time.perf_counter()
        if not learning.done():
            saves.append((t1 - t0) * 1000)
            searches.append((t2 - t1) * 1000)
        i += 1
    await learning
    learn_s = time.perf_counter() - t
    await engine.flush(60)
    out: dict[str, Any] = {"calls": calls, "turns_per_call": turns_per_call,
                           "learning_s": round(learn_s, 2), "n": len(saves)}
    if saves:
        out["save_ms"] = {"p50": pct(saves, 50), "p95": pct(saves, 95)}
        out["search_ms"] = {"p50": pct(searches, 50), "p95": pct(searches, 95)}
    return out


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from voxmem import Settings
    from voxmem.engine import MemoryEngine
    from voxmem.engine._workers import descendant_pids, process_footprint_mb
    from voxmem.models import Caller

    n_turns = args.turns if args.turns is not None else 1_000 if args.quick else 10_000
    n_chunks = args.chunks if args.chunks is not None else 10_000 if args.quick else 100_000
    lines, questions = corpus()
    rss_start = rss_mb()
    tmp = tempfile.TemporaryDirectory(prefix="voxmem-bench-")
    settings = Settings(data_dir=tmp.name, embedder=args.embedder,
                        background_processes=args.background_processes,
                        **json.loads(args.settings))
    engine = MemoryEngine(settings)
    t = time.perf_counter()
    await engine.start()
    start_s = time.perf_counter() - t
    rss_model = rss_mb()
    scope = engine.scope(project_id="bench", agent_id="agent", user_id="caller-1")
    caller = Caller("caller-1", "Bench Caller")
    out: dict[str, Any] = {"turns": n_turns, "chunks": n_chunks, "embedder": args.embedder,
                           "settings": json.loads(args.settings),
                           "background_processes": args.background_processes,
                           "engine_start_s": round(start_s, 3)}

    # Org knowledge: 100 documents per create_index call, as a client would send them.
    t = time.perf_counter()
    for base in range(0, n_chunks, 100):
        docs = [{"id": f"doc-{base + i}", "text": lines[(base + i) % len(lines)] +
                 f" (ref {base + i})", "metadata": {}} for i in range(100)]
        await engine.create_index("default", "bench", f"kb{base // 20_000}", docs)
        if args.progress and base % 10_000 == 0:
            print(f"  org {base}/{n_chunks}", file=sys.stderr)
    out["org_build_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    await engine.warm_org(scope)
    out["org_load_s"] = round(time.perf_counter() - t, 1)

    # Caller memory, saved live (concurrently, as many calls would) to measure the
    # acknowledgement and the background indexing rate together.
    acks: list[float] = []

    async def save(i: int) -> None:
        t0 = time.perf_counter()
        await engine.save_response(scope, caller, user_text=lines[i % len(lines)],
                                   assistant_text="Okay, noted.")
        acks.append((time.perf_counter() - t0) * 1000)

    t = time.perf_counter()
    for base in range(0, n_turns, 50):
        await asyncio.gather(*(save(i) for i in range(base, min(n_turns, base + 50))))
        if base % 1000 == 0:
            await engine.end_session(scope)
    acked_s = time.perf_counter() - t
    assert await engine.flush(600)
    index_s = time.perf_counter() - t
    out["save_ack_ms"] = {"p50": pct(acks, 50), "p95": pct(acks, 95), "p99": pct(acks, 99)}
    out["indexing_turns_per_s"] = round(n_turns / index_s, 1)
    out["ack_turns_per_s"] = round(n_turns / acked_s, 1)
    if engine.second is not None:
        # Both embeddings: the full model's vectors follow in the background; recall
        # is measured once every memory has both.
        assert await engine.second.wait_idle(7200)
        out["second_vectors_turns_per_s"] = round(n_turns / (time.perf_counter() - t), 1)

    # Sequential single-caller saves: the latency one voice turn sees.
    solo: list[float] = []
    for i in range(300):
        t0 = time.perf_counter()
        await engine.save_response(scope, caller, user_text=lines[i], assistant_text="ok")
        solo.append((time.perf_counter() - t0) * 1000)
    # The cold preload and the recall figures are for a steady engine: the calls ended
    # above are learned first (the row "while N calls are learned" covers the overlap).
    await engine.flush(600, learning=True)
    out["save_ack_sequential_ms"] = {"p50": pct(solo, 50), "p95": pct(solo, 95),
                                     "p99": pct(solo, 99)}

    # Recall from a cold cache, as at a new call: load the caller fresh. Five samples,
    # each after the previous load and its index-time work are done (one sample was
    # as much the machine's neighbours as the code).
    colds: list[float] = []
    warm_loads: list[float] = []
    primed: list[float] = []
    for _ in range(COLD_SAMPLES):
        engine.callers.drop(scope)
        t = time.perf_counter()
        pre = await engine.preload(scope, caller)
        colds.append((time.perf_counter() - t) * 1000)
        mem = engine.callers.peek(scope)
        assert mem is not None
        await mem.ready.wait()
        warm_loads.append((time.perf_counter() - t) * 1000)
        await mem.primed.wait()
        primed.append((time.perf_counter() - t) * 1000)
    out["preload_cold_ms"] = pct(colds, 50)
    out["preload_cold_max_ms"] = round(max(colds), 1)
    out["caller_warm_load_ms"] = pct(warm_loads, 50)
    out["caller_primed_ms"] = pct(primed, 50)
    mem = engine.callers.peek(scope)
    assert mem is not None
    out["caller_items"] = len(mem.index)
    t = time.perf_counter()
    pre = await engine.preload(scope, caller)
    out["preload_warm_ms"] = round((time.perf_counter() - t) * 1000, 1)
    assert pre.context_text
    for q in questions[:50]:  # warm-up
        await engine.search_memory(scope, q)
    walls: list[float] = []
    cpus: list[float] = []
    process_cpus: list[float] = []
    lanes: dict[str, list[float]] = {}
    degraded = without_second = 0
    for q in questions[: args.queries]:
        t0, c0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
        result = await engine.search_memory(scope, q, timeout_ms=250)
        # CPU of the event loop's thread: what a search costs the runtime's loop, which
        # a busy machine inflates far less than wall time (a query embedded on a lane
        # thread is not in it; the process's CPU is, and whatever else ran meanwhile).
        cpus.append((time.thread_time() - c0) * 1000)
        process_cpus.append((time.process_time() - p0) * 1000)
        walls.append((time.perf_counter() - t0) * 1000)
        degraded += bool(result.trace["degraded"])
        # Both embeddings: a search that ranked without the full model's query vector.
        without_second += any(v != "ranked" for v in result.trace.get("fullModel", {}).values())
        for lane, ms in result.trace["lanes"].items():
            lanes.setdefault(lane, []).append(ms)
    out["recall_ms"] = {"p50": pct(walls, 50), "p95": pct(walls, 95), "p99": pct(walls, 99),
                        "mean": statistics.fmean(walls), "n": len(walls),
                        "degraded": degraded, "without_second": without_second}
    out["recall_loop_cpu_ms"] = {"p50": pct(cpus, 50), "p95": pct(cpus, 95),
                                 "mean": statistics.fmean(cpus)}
    out["recall_process_cpu_ms"] = {"p50": pct(process_cpus, 50),
                                    "p95": pct(process_cpus, 95),
                                    "mean": statistics.fmean(process_cpus)}
    out["lane_ms"] = {lane: {"p50": pct(v, 50), "p95": pct(v, 95)} for lane, v in lanes.items()}
    out["during_learning"] = await hot_path_while_learning(
        engine, scope, caller, lines, questions, args.learning_calls,
        100 if args.quick else 1_000)
    out["rss_mb"] = {"start": round(rss_start, 1), "after_model": round(rss_model, 1),
                     "end": round(rss_mb(), 1),
                     "end_anon": round(rss_mb("RssAnon"), 1),
                     "end_file": round(rss_mb("RssFile"), 1),
                     "footprint_with_workers": round(process_footprint_mb(), 1),
                     "worker_processes": len(descendant_pids())}
    await engine.close()
    out["restart"] = await first_search_after_start(settings, questions)
    tmp.cleanup()
    return out


async def first_search_after_start(settings: Any, questions: list[str]) -> dict[str, Any]:
    """A restart on the store just built, as a runtime's: the engine's start (models
    loaded), then the first search at once (the caller's warm index still loading) and
    the next few, wall and process CPU."""
    from voxmem.engine import MemoryEngine

    t, c = time.perf_counter(), time.process_time()
    engine = MemoryEngine(settings)
    await engine.start()
    out: dict[str, Any] = {"start_s": round(time.perf_counter() - t, 3),
                           "start_cpu_s": round(time.process_time() - c, 3)}
    scope = engine.scope(project_id="bench", agent_id="agent", user_id="caller-1")
    searches = []
    for q in questions[:5]:
        t, c = time.perf_counter(), time.process_time()
        result = await engine.search_memory(scope, q, timeout_ms=250)
        searches.append({"ms": round((time.perf_counter() - t) * 1000, 2),
                         "cpu_ms": round((time.process_time() - c) * 1000, 2),
                         "degraded": bool(result.trace["degraded"]),
                         "full_model": result.trace.get("fullModel")})
    out["searches"] = searches
    await engine.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--settings", default="{}",
                        help='JSON of Settings overrides, e.g. \'{"dense_floor": 0.15}\'')
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--turns", type=int, default=None,
                        help="caller turns (default 10,000; 1,000 with --quick)")
    parser.add_argument("--chunks", type=int, default=None,
                        help="org chunks (default 100,000; 10,000 with --quick); 0 "
                        "separates the caller side's cost from the org lane's")
    parser.add_argument("--learning-calls", type=int, default=4,
                        help="long calls learned from while the hot path is measured")
    parser.add_argument("--background-processes", type=int, default=1,
                        help="worker processes for learning (0: a thread, as before)")
    parser.add_argument("--json", default=str(RESULTS / "recall_latency.json"))
    args = parser.parse_args()
    out = asyncio.run(bench(args))
    r, s, q = out["recall_ms"], out["save_ack_ms"], out["save_ack_sequential_ms"]
    rows = [
        ("recall p50 / p95 / p99 (ms)", f"{r['p50']:.2f} / {r['p95']:.2f} / {r['p99']:.2f}",
         "p50 <= 5, p95 <= 15"),
        ("recall degraded", f"{r['degraded']} of {r['n']}", "0"),
        *([("recall without the full model's query vector", f"{r['without_second']} of "
            f"{r['n']}", "static+onnx: its deadline")] if "second_vectors_turns_per_s" in out
          else []),
        ("recall event-loop CPU p50 / p95 (ms)",
         f"{out['recall_loop_cpu_ms']['p50']:.2f} / {out['recall_loop_cpu_ms']['p95']:.2f}",
         "load-independent share"),
        ("recall process CPU p50 / p95 (ms)",
         f"{out['recall_process_cpu_ms']['p50']:.2f} / {out['recall_process_cpu_ms']['p95']:.2f}",
         "every thread (lane threads too)"),
        ("save ack, sequential p50 / p95 (ms)", f"{q['p50']:.2f} / {q['p95']:.2f}", "p95 <= 3"),
        ("save ack, 50 concurrent p50 / p95 (ms)", f"{s['p50']:.2f} / {s['p95']:.2f}", ""),
        ("background indexing (turns/s)", f"{out['indexing_turns_per_s']:.0f}", ">= 200"),
        *([("the full model's vectors too (turns/s)",
            f"{out['second_vectors_turns_per_s']:.0f}", "static+onnx, in the background")]
          if "second_vectors_turns_per_s" in out else []),
        (f"preload at call start, cold p50 (max of {COLD_SAMPLES}) / warm (ms)",
         f"{out['preload_cold_ms']:.1f} ({out['preload_cold_max_ms']:.1f})"
         f" / {out['preload_warm_ms']:.1f}", "< 30"),
        ("caller warm-index load / primed (ms)",
         f"{out['caller_warm_load_ms']:.0f} / {out['caller_primed_ms']:.0f}",
         f"{out['caller_items']} items, in the background"),
        ("restart: engine start (s) / first search (ms)",
         f"{out['restart']['start_s']:.2f} / {out['restart']['searches'][0]['ms']:.1f}",
         "then " + ", ".join(f"{x['ms']:.1f}" for x in out["restart"]["searches"][1:])
         + " ms"),
        ("org build / load (s)", f"{out['org_build_s']} / {out['org_load_s']}",
         f"{out['chunks']} chunks"),
        ("RSS start / model / end (MB)",
         f"{out['rss_mb']['start']} / {out['rss_mb']['after_model']} / {out['rss_mb']['end']}",
         f"end: {out['rss_mb']['end_anon']} anon + {out['rss_mb']['end_file']} file"),
        ("footprint with workers, PSS (MB)", f"{out['rss_mb']['footprint_with_workers']}",
         f"{out['rss_mb']['worker_processes']} worker processes; <= 400"),
    ]
    dl = out["during_learning"]
    if dl["n"]:
        at = next(i for i, row in enumerate(rows) if row[0].startswith("save ack, 50"))
        rows[at:at] = [
            (f"while {dl['calls']} calls are learned: save p50 / p95 (ms)",
             f"{dl['save_ms']['p50']:.2f} / {dl['save_ms']['p95']:.2f}",
             f"{dl['n']} turns, {dl['turns_per_call']} turns per learned call"),
            (f"while {dl['calls']} calls are learned: search p50 / p95 (ms)",
             f"{dl['search_ms']['p50']:.2f} / {dl['search_ms']['p95']:.2f}",
             f"learning took {dl['learning_s']} s"),
        ]
    print(f"\nvoxmem engine, embedder={out['embedder']}, {out['turns']} caller turns, "
          f"{out['chunks']} org chunks, background_processes={out['background_processes']}")
    print(f"{'measure':<52}{'value':>26}  target")
    for name, value, target in rows:
        print(f"{name:<52}{value:>26}  {target}")
    print("lanes p50/p95 ms: " + ", ".join(
        f"{k} {v['p50']:.2f}/{v['p95']:.2f}" for k, v in out["lane_ms"].items()))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
