"""Load: many simulated callers against one runtime, as a host of voice workers would.

200 callers (split over worker processes, like LiveKit's one-process-per-job) each do a
recall and a save every 2 s for 60 s against one runtime for a fresh data directory.
Reports recall latency, errors, lost turns (acknowledged by the runtime vs present in
the store after a graceful stop), the runtime's cold start to its first answered
recall, and its resident memory.

    python benchmarks/load.py            # 200 callers, 60 s
    python benchmarks/load.py --quick    # 50 callers, 15 s

Prints a table and writes ``benchmarks/results/load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recall_latency import corpus, pct  # shared corpus and percentile
from runtime_latency import PORTS, process_rss_mb

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


async def worker(first: int, count: int, duration_s: float, period_s: float) -> dict[str, Any]:
    """One worker process: ``count`` callers, each a recall and a save per period."""
    from voxmem import VoiceClient, VoxmemError

    lines, questions = corpus()
    client = VoiceClient(project_id="load", agent_id="agent", max_concurrent_users=count)
    recalls: list[float] = []
    saves: list[float] = []
    errors: dict[str, int] = {}
    degraded = 0
    acked: dict[str, int] = {}
    end = time.monotonic() + duration_s

    async def caller(n: int) -> None:
        nonlocal degraded
        user = {"id": f"caller-{n}"}
        rng = random.Random(n)
        await asyncio.sleep(rng.uniform(0, period_s))  # spread the callers out
        turn = 0
        while time.monotonic() < end:
            tick = time.monotonic()
            try:
                t = time.perf_counter()
                result = await client.search_memory(rng.choice(questions), user=user)
                recalls.append((time.perf_counter() - t) * 1000)
                degraded += result.degraded
                t = time.perf_counter()
                await client.save_response(user_text=lines[(n * 7919 + turn) % len(lines)],
                                           assistant_text="Okay, noted.", user=user)
                saves.append((time.perf_counter() - t) * 1000)
                acked[user["id"]] = acked.get(user["id"], 0) + 1
                turn += 1
            except VoxmemError as exc:
                errors[exc.code] = errors.get(exc.code, 0) + 1
            await asyncio.sleep(max(0.0, period_s - (time.monotonic() - tick)))

    try:
        await asyncio.gather(*(caller(n) for n in range(first, first + count)))
    finally:
        await client.aclose()
    return {"recalls": recalls, "saves": saves, "errors": errors, "degraded": degraded,
            "acked": acked}


COUNT_TURNS = "SELECT user_id, count(*) FROM items WHERE kind = 'turn' GROUP BY user_id"


def count_turns(data_dir: Path, admin_url: str | None = None) -> dict[str, int]:
    """Turns per caller as the store holds them (SQLite file, or Postgres as superuser)."""
    if admin_url:
        import psycopg

        with psycopg.connect(admin_url) as conn:
            rows = conn.execute(COUNT_TURNS).fetchall()
    else:
        with sqlite3.connect(f"file:{data_dir / 'voxmem.db'}?mode=ro", uri=True) as db:
            rows = db.execute(COUNT_TURNS).fetchall()
    return {str(user): int(n) for user, n in rows}


async def cold_start(data_dir: Path) -> tuple[float, int]:
    """Seconds from nothing running to the first answered recall; the runtime's pid."""
    from voxmem import VoiceClient
    from voxmem.runtime import read_discovery

    client = VoiceClient(project_id="load", agent_id="agent")
    try:
        t = time.perf_counter()
        result = await client.search_memory("hello", user={"id": "warmup"},
                                            timeout_ms=60_000)
        elapsed = time.perf_counter() - t
        assert not result.degraded, result.trace
    finally:
        await client.aclose()
    found = read_discovery(data_dir)
    assert found is not None
    return elapsed, found.pid


def run(args: argparse.Namespace, store_url: str = "",
        admin_url: str | None = None) -> dict[str, Any]:
    from voxmem.cli import stop_runtime

    tmp = tempfile.TemporaryDirectory(prefix="voxmem-load-")
    data_dir = Path(tmp.name)
    env = {"VOXMEM_DATA_DIR": str(data_dir), "VOXMEM_EMBEDDER": args.embedder,
           "VOXMEM_RUNTIME_PORT_MIN": PORTS[0], "VOXMEM_RUNTIME_PORT_MAX": PORTS[1],
           "VOXMEM_STORE_URL": store_url}
    os.environ.update(env)
    out: dict[str, Any] = {"callers": args.callers, "duration_s": args.duration,
                           "period_s": args.period, "workers": args.workers,
                           "embedder": args.embedder,
                           "store": "postgres" if store_url else "sqlite"}
    try:
        out["cold_start_to_first_recall_s"], pid = asyncio.run(cold_start(data_dir))
        out["rss_mb_idle"] = round(process_rss_mb(pid), 1)
        per = args.callers // args.workers
        procs = [subprocess.Popen(
            [sys.executable, __file__, "--worker", str(w * per),
             str(per if w < args.workers - 1 else args.callers - w * per),
             str(args.duration), str(args.period)], stdout=subprocess.PIPE, text=True)
            for w in range(args.workers)]
        peak_rss = 0.0
        while any(p.poll() is None for p in procs):
            peak_rss = max(peak_rss, process_rss_mb(pid))
            time.sleep(1)
        parts = [json.loads(p.communicate()[0]) for p in procs]
        out["rss_mb_peak"] = round(peak_rss, 1)
        recalls = [v for p in parts for v in p["recalls"]]
        saves = [v for p in parts for v in p["saves"]]
        errors: dict[str, int] = {}
        acked: dict[str, int] = {}
        for p in parts:
            for code, n in p["errors"].items():
                errors[code] = errors.get(code, 0) + n
            acked.update(p["acked"])
        out["recall_ms"] = {"p50": pct(recalls, 50), "p95": pct(recalls, 95),
                            "p99": pct(recalls, 99), "n": len(recalls),
                            "degraded": sum(p["degraded"] for p in parts)}
        out["save_ms"] = {"p50": pct(saves, 50), "p95": pct(saves, 95), "n": len(saves)}
        out["errors"] = errors
        out["requests_per_s"] = round((len(recalls) + len(saves)) / args.duration, 1)
    finally:
        outcome = stop_runtime(data_dir)
    stored = count_turns(data_dir, admin_url)
    out["turns_acknowledged"] = sum(acked.values())
    out["turns_stored"] = sum(stored.get(user, 0) for user in acked)
    out["turns_lost"] = sum(max(0, n - stored.get(user, 0)) for user, n in acked.items())
    out["runtime_stop"] = outcome
    tmp.cleanup()
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        first, count, duration, period = sys.argv[2:6]
        print(json.dumps(asyncio.run(worker(int(first), int(count), float(duration),
                                            float(period)))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--period", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--postgres", action="store_true",
                        help="store on a throwaway Postgres + pgvector (as the tests start)")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    args.json = args.json or str(RESULTS / ("load_postgres.json" if args.postgres
                                            else "load.json"))
    if args.quick:
        args.callers, args.duration = min(args.callers, 50), min(args.duration, 15.0)
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from postgres_recall import database

        with database(None) as (url, admin, _timings):
            out = run(args, url, admin)
    else:
        out = run(args)
    r, s = out["recall_ms"], out["save_ms"]
    rows = [
        ("recall p50 / p95 / p99 (ms)", f"{r['p50']:.1f} / {r['p95']:.1f} / {r['p99']:.1f}",
         "p95 <= 50"),
        ("recalls / degraded", f"{r['n']} / {r['degraded']}", ""),
        ("save ack p50 / p95 (ms)", f"{s['p50']:.1f} / {s['p95']:.1f}", ""),
        ("errors", json.dumps(out["errors"]) if out["errors"] else "0", "0"),
        ("turns acknowledged / stored / lost",
         f"{out['turns_acknowledged']} / {out['turns_stored']} / {out['turns_lost']}",
         "lost = 0"),
        ("requests per second", f"{out['requests_per_s']}", ""),
        ("cold start to first recall (s)", f"{out['cold_start_to_first_recall_s']:.2f}", ""),
        ("runtime RSS idle / peak (MB)", f"{out['rss_mb_idle']} / {out['rss_mb_peak']}", ""),
    ]
    print(f"\nvoxmem runtime under load: {out['callers']} callers in {out['workers']} worker "
          f"processes, a recall and a save every {out['period_s']} s for "
          f"{out['duration_s']} s, embedder={out['embedder']}, store={out['store']}")
    print(f"{'measure':<38}{'value':>30}  target")
    for name, value, target in rows:
        print(f"{name:<38}{value:>30}  {target}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
