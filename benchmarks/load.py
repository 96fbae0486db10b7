"""Load: many simulated callers against one runtime, as a host of voice workers would.

Open loop (the default): turns arrive at a fixed rate whatever the runtime's answers
do, as calls do, so queueing shows instead of slowing the load down. Each turn is a
recall followed by a save of one of ``--callers`` callers, sent by a cheap raw-HTTP
generator (``load_generator.py``: kept-alive connections, pre-encoded bodies) so the
load does not eat the cores the runtime is measured on; ``--generators`` processes
share the rate, and each step reports the CPU both sides used. The rate is stepped
(``--rates``, turns per second; two requests each) against one runtime for a fresh
data directory, and each step reports the achieved request rate, recall and save latency percentiles
(measured from the turn's scheduled start, so a late client does not hide queueing),
degraded recalls, errors and the runtime's own saturation gauge from ``/metrics``.
The saturation point is the last step that keeps up: achieved >= 95 % of offered,
recall p95 <= 20 ms, no errors. Acknowledged vs stored turns are counted after a
graceful stop.

    python benchmarks/load.py                       # steps 50..800 turns/s, 20 s each
    python benchmarks/load.py --rates 100,200 --step-duration 10
    python benchmarks/load.py --closed              # the old closed loop: 200 callers,
                                                    # a recall and a save every 2 s

Prints a table and writes ``benchmarks/results/load.json`` (``load_closed.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
GENERATOR = Path(__file__).resolve().parent / "load_generator.py"


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


def scrape_metrics(data_dir: Path) -> dict[str, Any]:
    """The runtime's own view: saturation, loop lag, degraded searches by reason, and the
    cumulative buckets of its search latency histogram (from /metrics)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from voxmem.runtime import read_discovery

    found = read_discovery(data_dir)
    assert found is not None
    token = Path(found.token_path).read_text().strip()
    try:
        text = httpx.get(f"{found.url}/metrics",
                         headers={"authorization": f"Bearer {token}"}, timeout=60).text
    except httpx.HTTPError as exc:  # an overloaded runtime may not answer in time
        return {"scrape_error": type(exc).__name__}
    out: dict[str, Any] = {"search_buckets": {}}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("voxmem_saturated", "voxmem_queued_avg_seconds",
                               "voxmem_loop_lag_seconds",
                               "process_resident_memory_bytes"):
                out[sample.name] = sample.value
            elif sample.name == "voxmem_search_degraded_total":
                out["degraded_" + sample.labels["reason"]] = sample.value
            elif (sample.name == "voxmem_request_seconds_bucket"
                  and sample.labels.get("operation") == "search_memory"):
                out["search_buckets"][sample.labels["le"]] = sample.value
    return out


def runtime_search_ms(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Search latency inside the runtime (arrival at the handler to answer) during a step,
    as the upper bound of the histogram bucket holding p50 / p95 / p99.

    The generator's own figures include its queueing on a loaded machine; these do not
    (nor the time a request waited in the kernel before the loop read it).
    """
    a, b = after.get("search_buckets") or {}, before.get("search_buckets") or {}
    bounds = sorted(a, key=lambda le: float(le))
    counts = [a[le] - b.get(le, 0.0) for le in bounds]
    total = counts[-1] if counts else 0.0
    out: dict[str, Any] = {}
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        at = next((le for le, n in zip(bounds, counts, strict=True) if n >= q * total),
                  None) if total else None
        out[name] = None if at is None else ("> 10000" if at == "+Inf"
                                             else f"<= {float(at) * 1000:g}")
    return out


def run_open(args: argparse.Namespace, store_url: str = "",
             admin_url: str | None = None) -> dict[str, Any]:
    """Step the arrival rate against one runtime; one row per step."""
    from voxmem.runtime import read_discovery

    tmp = tempfile.TemporaryDirectory(prefix="voxmem-load-")
    data_dir = Path(tmp.name)
    port_min, port_max = args.ports.split("-") if args.ports else PORTS
    os.environ.update({"VOXMEM_DATA_DIR": str(data_dir), "VOXMEM_EMBEDDER": args.embedder,
                       "VOXMEM_RUNTIME_PORT_MIN": port_min,
                       "VOXMEM_RUNTIME_PORT_MAX": port_max, "VOXMEM_STORE_URL": store_url,
                       # Every simulated call is live, so every caller stays warm, as a
                       # host sizes the cache to its concurrent calls (the default, 512,
                       # would reload a caller from the store on every turn).
                       "VOXMEM_CALLER_CACHE_SIZE": str(max(512, args.callers))})
    out: dict[str, Any] = {"mode": "open", "callers": args.callers, "generators": args.generators,
                           "step_duration_s": args.step_duration, "embedder": args.embedder,
                           "store": "postgres" if store_url else "sqlite", "steps": []}
    acked: set[str] = set()
    try:
        out["cold_start_to_first_recall_s"], pid = asyncio.run(cold_start(data_dir))
        out["rss_mb_idle"] = round(process_rss_mb(pid), 1)
        found = read_discovery(data_dir)
        assert found is not None
        token = Path(found.token_path).read_text().strip()
        for rate in args.rate_steps:
            per_callers = max(1, args.callers // args.generators)
            # Answers go to files, not pipes: a pipe not drained while the step runs
            # fills up and blocks the generator that writes its result.
            before = scrape_metrics(data_dir)
            with contextlib.ExitStack() as files:
                sinks = [files.enter_context(tempfile.TemporaryFile("w+"))
                         for _ in range(args.generators)]
                procs = [subprocess.Popen(
                    [sys.executable, str(GENERATOR), found.url, token, str(w * per_callers),
                     str(per_callers), str(rate / args.generators), str(args.step_duration),
                     str(pid), args.corpus],
                    stdout=sinks[w], text=True) for w in range(args.generators)]
                peak_rss = 0.0
                # The runtime's own view while the step runs, once a second (a scrape
                # costs the runtime about a millisecond): how late its loop ran.
                lags: list[float] = []
                saturated_seen = False
                next_scrape = time.monotonic() + 1.0
                while any(p.poll() is None for p in procs):
                    peak_rss = max(peak_rss, process_rss_mb(pid))
                    if time.monotonic() >= next_scrape:
                        seen = scrape_metrics(data_dir)
                        lags.append(1000 * seen.get("voxmem_loop_lag_seconds", 0.0))
                        saturated_seen |= bool(seen.get("voxmem_saturated"))
                        next_scrape = time.monotonic() + 1.0
                    time.sleep(0.25)
                parts = []
                for sink in sinks:
                    sink.seek(0)
                    parts.append(json.loads(sink.read()))
            # The generators read the runtime's CPU around their timed turns; with more
            # than one, their windows overlap, so the widest is the step's.
            cpu_s = max(p["runtime_cpu_s"] for p in parts)
            connections = sum(p["most_connections_open"] for p in parts)
            recalls = [v for p in parts for v in p["recalls"]]
            saves = [v for p in parts for v in p["saves"]]
            late = [v for p in parts for v in p["started_late_ms"]]
            errors: dict[str, int] = {}
            examples: dict[str, str] = {}
            for p in parts:
                for code, n in p["errors"].items():
                    errors[code] = errors.get(code, 0) + n
                examples.update(p["error_examples"])
                acked.update(p["acked"])
            step = {
                "offered_req_s": 2 * rate,
                # Requests answered over the time the turns really took, first arrival
                # to last answer (a runtime that cannot keep up stretches the step).
                "achieved_req_s": round((len(recalls) + len(saves)) / max(
                    max(p["span_s"] for p in parts), args.step_duration), 1),
                "recall_ms": {q: round(pct(recalls, n), 2) if recalls else None
                              for q, n in (("p50", 50), ("p95", 95), ("p99", 99))},
                "save_ms": {q: round(pct(saves, n), 2) if saves else None
                            for q, n in (("p50", 50), ("p95", 95))},
                "degraded": sum(p["degraded"] for p in parts), "errors": errors,
                "error_examples": examples,
                # The runtime's CPU per answered request: on a shared machine this is the
                # figure that compares server options, not requests per second.
                "runtime_cpu_ms_per_request": round(
                    cpu_s * 1000 / max(1, len(recalls) + len(saves)), 3),
                # Of it, the event loop's thread; and the runtime's worker processes
                # (the saves' text worker, learning), not in the figure above.
                "runtime_loop_cpu_ms_per_request": round(max(
                    p.get("runtime_loop_cpu_s", 0.0) for p in parts) * 1000 / max(
                    1, len(recalls) + len(saves)), 3),
                "runtime_children_cpu_ms_per_request": round(max(
                    p.get("runtime_children_cpu_s", 0.0) for p in parts) * 1000 / max(
                    1, len(recalls) + len(saves)), 3),
                "rss_mb_peak": round(peak_rss, 1), "runtime": (after := scrape_metrics(data_dir)),
                "runtime_search_ms": runtime_search_ms(before, after),
                "generator_started_late_ms": {"p50": round(pct(late, 50), 2),
                                              "p95": round(pct(late, 95), 2)},
                "most_connections_open": connections,
                "loop_lag_ms_during": {"median": round(pct(lags, 50), 2) if lags else None,
                                       "max": round(max(lags), 2) if lags else None},
                "saturated_during": saturated_seen,
                # What the load itself cost on the same cores: CPU seconds of all
                # generator processes per second of the step, and per request.
                "generator_cpu_cores": round(sum(p["generator_cpu_s"] for p in parts) / max(
                    max(p["span_s"] for p in parts), args.step_duration), 3),
                "generator_cpu_ms_per_request": round(sum(
                    p["generator_cpu_s"] for p in parts) * 1000 / max(
                    1, len(recalls) + len(saves)), 3),
                "runtime_cpu_cores": round(cpu_s / max(
                    max(p["span_s"] for p in parts), args.step_duration), 3),
            }
            p95 = step["recall_ms"]["p95"]
            step["keeps_up"] = bool(step["achieved_req_s"] >= 0.95 * step["offered_req_s"]
                                    and p95 is not None and p95 <= args.p95_target_ms
                                    and not errors)
            out["steps"].append(step)
            print(f"offered {step['offered_req_s']:>6} req/s: achieved "
                  f"{step['achieved_req_s']:>7}, recall p95 {p95} ms (in the runtime "
                  f"{step['runtime_search_ms']['p95']}), degraded {step['degraded']}, "
                  f"errors {sum(errors.values())}, loop lag median/max "
                  f"{step['loop_lag_ms_during']['median']}/{step['loop_lag_ms_during']['max']}"
                  f" ms, shed {after.get('degraded_overload', 0):.0f}, "
                  f"generator late p95 {step['generator_started_late_ms']['p95']} ms",
                  file=sys.stderr)
            if not step["keeps_up"] and args.stop_at_saturation:
                break
    finally:
        out["runtime_stop"] = stop_and_drain(data_dir)
    # By turn id, not per caller: callers who give the same identifier (a phone number
    # in the corpus lines) may be linked and merged meanwhile, moving turns between them.
    stored_ids = stored_turn_ids(data_dir, admin_url)
    out["turns_acknowledged"] = len(acked)
    out["turns_stored"] = len(acked & stored_ids)
    out["turns_lost"] = len(acked - stored_ids)
    kept = [s["offered_req_s"] for s in out["steps"] if s["keeps_up"]]
    out["saturation_req_s"] = max(kept) if kept else None
    tmp.cleanup()
    return out


def print_open(out: dict[str, Any]) -> None:
    print(f"\nvoxmem runtime, open loop: {out['callers']} callers from "
          f"{out['generators']} generator process(es), {out['step_duration_s']} s per step, "
          f"embedder={out['embedder']}, store={out['store']}")
    print(f"{'offered':>8} {'achieved':>9} {'recall p50/p95/p99 ms':>24} {'save p95':>9} "
          f"{'degraded':>9} {'errors':>7} {'saturated':>9} {'RSS MB':>7} {'CPU ms/req':>10} "
          f"{'rt cores':>8} {'gen cores':>9}")
    for s in out["steps"]:
        r = s["recall_ms"]
        print(f"{s['offered_req_s']:>8} {s['achieved_req_s']:>9} "
              f"{r['p50']!s:>7}/{r['p95']!s:>7}/{r['p99']!s:>7} {s['save_ms']['p95']!s:>9} "
              f"{s['degraded']:>9} {sum(s['errors'].values()):>7} "
              f"{s['runtime'].get('voxmem_saturated', float('nan')):>9.0f} "
              f"{s['rss_mb_peak']:>7} {s['runtime_cpu_ms_per_request']:>10} "
              f"{s['runtime_cpu_cores']:>8} {s['generator_cpu_cores']:>9}")
    print(f"saturation point (keeps up, recall p95 <= target, no errors): "
          f"{out['saturation_req_s']} req/s")
    print(f"turns acknowledged / stored / lost: {out['turns_acknowledged']} / "
          f"{out['turns_stored']} / {out['turns_lost']}")
    print(f"cold start to first recall: {out['cold_start_to_first_recall_s']:.2f} s")


COUNT_TURNS = "SELECT user_id, count(*) FROM items WHERE kind = 'turn' GROUP BY user_id"


def stored_turn_ids(data_dir: Path, admin_url: str | None = None) -> set[str]:
    """Every turn id the store holds (SQLite file, or Postgres as superuser)."""
    query = "SELECT DISTINCT turn_id FROM items WHERE kind = 'turn'"
    if admin_url:
        import psycopg

        with psycopg.connect(admin_url) as conn:
            rows = conn.execute(query).fetchall()
    else:
        with sqlite3.connect(f"file:{data_dir / 'voxmem.db'}?mode=ro", uri=True) as db:
            rows = db.execute(query).fetchall()
    return {str(turn_id) for (turn_id,) in rows}


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


#: A graceful stop applies every journaled save to the store first, and ``stop_runtime``
#: waits for it as long as the runtime's heartbeat says it is alive; this is only how
#: long a silent runtime gets before it is killed.
DRAIN_WAIT_S = 60.0


def stop_and_drain(data_dir: Path) -> str:
    """Stop the runtime once every acknowledged save is in the store.

    Acknowledged saves are in the fsynced journal; a runtime killed before applying
    them all replays them on its next start, so a kill is followed by a restart and a
    second graceful stop before the store is counted (as an operator's restart would).
    """
    from voxmem.cli import stop_runtime

    outcome = stop_runtime(data_dir, DRAIN_WAIT_S)
    if outcome != "killed":
        return outcome
    asyncio.run(cold_start(data_dir))
    return f"killed; restarted and {stop_runtime(data_dir, DRAIN_WAIT_S)}"


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
        outcome = stop_and_drain(data_dir)
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
    parser.add_argument("--closed", action="store_true",
                        help="closed loop: each caller waits for its answers (old mode)")
    parser.add_argument("--rates", default="50,100,200,300,400,600,800",
                        help="open loop: turns per second to step through")
    parser.add_argument("--step-duration", type=float, default=20.0)
    parser.add_argument("--p95-target-ms", type=float, default=20.0)
    parser.add_argument("--stop-at-saturation", action="store_true",
                        help="open loop: stop stepping at the first step that falls behind")
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--period", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=4,
                        help="closed loop: client processes")
    parser.add_argument("--generators", type=int, default=1,
                        help="open loop: load generator processes sharing the rate")
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--postgres", action="store_true",
                        help="store on a throwaway Postgres + pgvector (as the tests start)")
    parser.add_argument("--corpus", choices=("shared", "synthetic"), default="shared",
                        help="open loop: the shared dev data's utterances, or a few built-in "
                             "lines (a smoke run without the data)")
    parser.add_argument("--ports", default="",
                        help="port range for the runtime, e.g. 18300-18399 (the default)")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    args.rate_steps = [float(r) for r in args.rates.split(",") if r.strip()]
    name = ("load_closed" if args.closed else "load") + ("_postgres" if args.postgres else "")
    args.json = args.json or str(RESULTS / f"{name}.json")
    runner = run if args.closed else run_open
    if args.quick:
        args.callers, args.duration = min(args.callers, 50), min(args.duration, 15.0)
        args.step_duration = min(args.step_duration, 8.0)
        args.rate_steps = args.rate_steps[:3]
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from postgres_recall import database

        with database(None) as (url, admin, _timings):
            out = runner(args, url, admin)
    else:
        out = runner(args)
    if not args.closed:
        print_open(out)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
        return
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
