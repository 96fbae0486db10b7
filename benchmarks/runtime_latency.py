"""Recall latency through the runtime: loopback HTTP, end to end, at production size.

Starts a runtime for a fresh data directory (through the client's auto-launch), loads
one caller with 10,000 past turns (``import_history``) and one project with 100,000 org
chunks (``create_index``, 100 documents per call) through the client, then measures
``search_memory`` as a voice worker sees it: client call to parsed result, over HTTP,
all four lanes. The runtime's own ``trace.totalMs`` is reported beside it, so the
difference is what the transport costs.

    python benchmarks/runtime_latency.py            # full size (a few minutes)
    python benchmarks/runtime_latency.py --quick    # 1,000 turns, 10,000 chunks

Prints a table and writes ``benchmarks/results/runtime_latency.json``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recall_latency import corpus, pct  # shared corpus and percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PORTS = ("18300", "18399")


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_quiet(pid: int, limit_s: float = 900.0) -> float:
    """Wait until the runtime's background work (indexing, end-of-call learning of the
    imported calls) is done: its CPU use stays under 5% for two seconds."""
    started = time.monotonic()
    quiet = 0
    last = process_cpu_s(pid)
    while quiet < 4 and time.monotonic() - started < limit_s:
        time.sleep(0.5)
        now = process_cpu_s(pid)
        quiet = quiet + 1 if now - last < 0.025 else 0
        last = now
    return round(time.monotonic() - started, 1)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(pct(values, 50), 3), "p95": round(pct(values, 95), 3),
            "p99": round(pct(values, 99), 3), "mean": round(statistics.fmean(values), 3),
            "n": len(values)}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from voxmem import VoiceClient
    from voxmem.cli import stop_runtime
    from voxmem.engine._workers import process_footprint_mb
    from voxmem.runtime import read_discovery

    n_turns = 1_000 if args.quick else 10_000
    n_chunks = 10_000 if args.quick else 100_000
    lines, questions = corpus()
    tmp = tempfile.TemporaryDirectory(prefix="voxmem-rt-bench-")
    data_dir = Path(tmp.name)
    # The imported history spans 200 days: with the default 90-day retention the import
    # is refused (it would be hidden from recall). Retention is a policy, not latency.
    os.environ.update(VOXMEM_EMBEDDER=args.embedder, VOXMEM_RUNTIME_PORT_MIN=PORTS[0],
                      VOXMEM_RUNTIME_PORT_MAX=PORTS[1], VOXMEM_MEMORY_RETENTION_DAYS="0")
    # --embedded runs the same steps on the same data in-process: the A/B that shows
    # what the runtime and its transport add.
    client = VoiceClient(project_id="bench", agent_id="agent", data_dir=data_dir,
                         max_concurrent_users=50, embedded=args.embedded)
    user = {"id": "caller-1", "name": "Bench Caller"}
    out: dict[str, Any] = {"turns": n_turns, "chunks": n_chunks, "embedder": args.embedder,
                           "transport": "in-process" if args.embedded else "loopback HTTP"}
    try:
        t = time.perf_counter()
        await client.list_indexes()  # launches the runtime
        out["runtime_start_s"] = round(time.perf_counter() - t, 2)
        found = read_discovery(data_dir)
        pid = os.getpid() if args.embedded else found.pid if found else -1
        out["rss_mb_empty"] = round(process_rss_mb(pid), 1)

        t = time.perf_counter()
        for base in range(0, n_chunks, 100):
            docs = [{"id": f"doc-{base + i}", "text": lines[(base + i) % len(lines)] +
                     f" (ref {base + i})"} for i in range(100)]
            await client.create_index(f"kb{base // 20_000}", docs)
            if args.progress and base % 10_000 == 0:
                print(f"  org {base}/{n_chunks}", file=sys.stderr)
        out["org_build_s"] = round(time.perf_counter() - t, 1)

        t = time.perf_counter()
        now = time.time()
        per_session = 50
        sessions = [{
            "started_at": now - 86_400 * (n_turns // per_session - s),
            "turns": [{"user_text": lines[(s * per_session + j) % len(lines)],
                       "assistant_text": "Okay, noted."} for j in range(per_session)],
        } for s in range(n_turns // per_session)]
        for base in range(0, len(sessions), 100):  # 5,000 turns per call
            await client.import_history(user=user, sessions=sessions[base:base + 100])
        await client.flush(timeout_s=1800)
        out["caller_import_s"] = round(time.perf_counter() - t, 1)

        # First recall of the caller loads their memory (and sets off the end-of-call
        # learning of the imported calls); measure in the steady state after it.
        t = time.perf_counter()
        await client.preload(user=user)
        out["caller_load_and_preload_ms"] = round((time.perf_counter() - t) * 1000, 1)
        await client.search_memory(questions[0], user=user, lanes=["org"], timeout_ms=1000)
        await asyncio.sleep(1.0)
        out["background_settle_s"] = await asyncio.to_thread(wait_quiet, pid)
        for q in questions[:50]:
            await client.search_memory(q, user=user, timeout_ms=1000)

        walls: list[float] = []
        server: list[float] = []
        lanes: dict[str, list[float]] = {}
        degraded = 0
        for q in questions[: args.queries]:
            t0 = time.perf_counter()
            result = await client.search_memory(q, user=user, timeout_ms=250)
            walls.append((time.perf_counter() - t0) * 1000)
            degraded += result.degraded
            if result.trace.get("totalMs") is not None:
                server.append(float(result.trace["totalMs"]))
            for lane, ms in (result.trace.get("lanes") or {}).items():
                lanes.setdefault(lane, []).append(float(ms))
        out["recall_ms"] = {**summary(walls), "degraded": degraded}
        out["runtime_recall_ms"] = summary(server)
        out["lane_ms"] = {lane: summary(v) for lane, v in lanes.items()}

        acks: list[float] = []
        for i in range(300):
            t0 = time.perf_counter()
            await client.save_response(user_text=lines[i], assistant_text="ok", user=user)
            acks.append((time.perf_counter() - t0) * 1000)
        out["save_ack_ms"] = summary(acks)
        out["rss_mb_loaded"] = round(process_rss_mb(pid), 1)
        # The runtime's learning workers are its memory too (PSS, shared pages once).
        out["footprint_mb_with_workers"] = round(process_footprint_mb(pid), 1)
    finally:
        await client.aclose()
        stop_runtime(data_dir)
        tmp.cleanup()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--embedded", action="store_true",
                        help="same steps in-process, for comparison")
    parser.add_argument("--json", default=str(RESULTS / "runtime_latency.json"))
    args = parser.parse_args()
    out = asyncio.run(bench(args))
    r, s, a = out["recall_ms"], out["runtime_recall_ms"], out["save_ack_ms"]
    rows = [
        ("recall over HTTP p50 / p95 / p99 (ms)",
         f"{r['p50']:.2f} / {r['p95']:.2f} / {r['p99']:.2f}", "p95 <= 15"),
        ("  of which runtime p50 / p95 (ms)", f"{s['p50']:.2f} / {s['p95']:.2f}", ""),
        ("recall degraded", f"{r['degraded']} of {r['n']}", "0"),
        ("save ack over HTTP p50 / p95 (ms)", f"{a['p50']:.2f} / {a['p95']:.2f}", ""),
        ("runtime start (s)", f"{out['runtime_start_s']}", ""),
        ("caller load + preload (ms)", f"{out['caller_load_and_preload_ms']}", ""),
        ("org build / caller import (s)", f"{out['org_build_s']} / {out['caller_import_s']}",
         f"{out['chunks']} chunks, {out['turns']} turns"),
        ("runtime + worker processes, PSS (MB)", f"{out['footprint_mb_with_workers']}", ""),
        ("runtime RSS empty / loaded (MB)", f"{out['rss_mb_empty']} / {out['rss_mb_loaded']}",
         ""),
    ]
    print(f"\nvoxmem runtime, {out['transport']}, embedder={out['embedder']}, "
          f"{out['turns']} caller turns, {out['chunks']} org chunks")
    print(f"{'measure':<42}{'value':>28}  target")
    for name, value, target in rows:
        print(f"{name:<42}{value:>28}  {target}")
    print("runtime lanes p50/p95 ms: " + ", ".join(
        f"{k} {v['p50']:.2f}/{v['p95']:.2f}" for k, v in out["lane_ms"].items()))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
