"""Recall on the Postgres backend at production size, end to end through the engine.

Starts a throwaway PostgreSQL + pgvector (the test suite's provisioning, or ``--dsn`` for
a superuser DSN of your own server), creates a database whose tables are owned by a
schema-owner role, and runs the engine as the application role under row-level
security, as a deployment would. Loads one caller with 10,000 stored turns and one
project with 100,000 org chunks (the shared dev data, as benchmarks/recall_latency.py),
then measures:

- ingest through the engine: org chunks/s (create_index, HNSW maintained on insert) and
  caller turns/s from acknowledgement to stored;
- a runtime restart: engine start, the project's org index loaded from Postgres, the
  caller's warm index loaded from Postgres;
- recall (``search_memory``, all lanes, query embedding included) warm, and on the first
  turn after the caller's cached state is dropped (the cold path asks the store);
- the store's own search paths: full-text (GIN, ``ts_rank_cd``) and HNSW vector search
  over the 100,000 chunks with recall@10 against an exact scan.

``--runtime`` instead runs benchmarks/runtime_latency.py (recall over the runtime's
loopback HTTP API, end to end) with the runtime's store on the same throwaway Postgres,
writing ``benchmarks/results/runtime_latency_postgres.json``.

    python benchmarks/postgres_recall.py            # full size (several minutes)
    python benchmarks/postgres_recall.py --quick    # 1,000 turns, 10,000 chunks
    python benchmarks/postgres_recall.py --runtime  # the runtime-level figure

Prints a table and writes ``benchmarks/results/postgres_recall.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from recall_latency import corpus, pct  # noqa: E402  (benchmarks/ sibling)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(pct(values, 50), 3), "p95": round(pct(values, 95), 3),
            "p99": round(pct(values, 99), 3), "mean": round(statistics.fmean(values), 3),
            "n": len(values)}


@contextlib.contextmanager
def database(dsn: str | None) -> Iterator[tuple[str, str, dict[str, float]]]:
    """(application-role URL, superuser URL) of a fresh migrated database, and the
    provisioning timings."""
    from tests import _postgres

    if dsn:
        url = _postgres.fresh_database(dsn)
        yield url, _postgres.superuser_dsn(dsn, _postgres.database_of(url)), {}
        return
    with _postgres.cluster() as node:
        url = _postgres.fresh_database(node.dsn())
        admin = _postgres.superuser_dsn(node.dsn(), _postgres.database_of(url))
        yield url, admin, dict(_postgres.timings)


def analyze(admin_url: str) -> float:
    """ANALYZE after the bulk load, as an operator would (autovacuum does it within a
    minute or so); without statistics the planner cannot tell HNSW pays off."""
    import psycopg

    t = time.perf_counter()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return time.perf_counter() - t


async def timed_recalls(engine: Any, scope: Any, queries: list[str]) -> tuple[
        list[float], int, dict[str, list[float]]]:
    walls: list[float] = []
    lanes: dict[str, list[float]] = {}
    degraded = 0
    for q in queries:
        t0 = time.perf_counter()
        result = await engine.search_memory(scope, q, timeout_ms=250)
        walls.append((time.perf_counter() - t0) * 1000)
        degraded += bool(result.trace["degraded"])
        for lane, ms in result.trace["lanes"].items():
            lanes.setdefault(lane, []).append(ms)
    return walls, degraded, lanes


async def bench(args: argparse.Namespace, url: str, admin_url: str) -> dict[str, Any]:
    from voxmem import Settings
    from voxmem.engine import MemoryEngine
    from voxmem.models import Caller
    from voxmem.store.postgres import PostgresStore

    n_turns = 1_000 if args.quick else 10_000
    n_chunks = 10_000 if args.quick else 100_000
    lines, questions = corpus()
    tmp = tempfile.TemporaryDirectory(prefix="voxmem-pgbench-")
    settings = Settings(data_dir=tmp.name, embedder=args.embedder, store_url=url)

    def runtime() -> MemoryEngine:
        return MemoryEngine(settings, store=PostgresStore.from_settings(settings))

    engine = runtime()
    await engine.start()
    scope = engine.scope(project_id="bench", agent_id="agent", user_id="caller-1")
    caller = Caller("caller-1", "Bench Caller")
    out: dict[str, Any] = {"turns": n_turns, "chunks": n_chunks, "embedder": args.embedder,
                           "dimensions": engine.embedder.dimensions}

    t = time.perf_counter()
    for base in range(0, n_chunks, 100):
        docs = [{"id": f"doc-{base + i}", "text": lines[(base + i) % len(lines)] +
                 f" (ref {base + i})", "metadata": {}} for i in range(100)]
        await engine.create_index("default", "bench", f"kb{base // 20_000}", docs)
        if base % 10_000 == 0:
            print(f"  org chunks {base:>7}/{n_chunks}  {time.perf_counter() - t:6.1f} s",
                  file=sys.stderr)
    out["org_ingest_s"] = round(time.perf_counter() - t, 1)
    out["org_ingest_chunks_per_s"] = round(n_chunks / (time.perf_counter() - t), 1)

    async def save(i: int) -> None:
        await engine.save_response(scope, caller, user_text=lines[i % len(lines)],
                                   assistant_text="Okay, noted.")

    t = time.perf_counter()
    for base in range(0, n_turns, 50):
        await asyncio.gather(*(save(i) for i in range(base, min(n_turns, base + 50))))
        if base % 1000 == 0:
            await engine.end_session(scope)
            print(f"  caller turns {base:>6}/{n_turns}", file=sys.stderr)
    assert await engine.flush(900)
    out["turn_ingest_per_s"] = round(n_turns / (time.perf_counter() - t), 1)
    await engine.close()
    out["analyze_s"] = round(analyze(admin_url), 2)

    # A runtime restart: everything below is loaded from Postgres.
    engine = runtime()
    t = time.perf_counter()
    await engine.start()
    out["engine_start_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    await engine.warm_org(scope)
    out["org_load_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    pre = await engine.preload(scope, caller)
    out["preload_cold_ms"] = round((time.perf_counter() - t) * 1000, 1)
    mem = engine.callers.peek(scope)
    assert mem is not None and pre.context_text
    await mem.ready.wait()
    out["caller_load_ms"] = round((time.perf_counter() - t) * 1000, 1)
    out["caller_items"] = len(mem.index)

    await timed_recalls(engine, scope, questions[:50])  # warm-up
    walls, degraded, lanes = await timed_recalls(engine, scope, questions[: args.queries])
    out["recall_warm_ms"] = {**summary(walls), "degraded": degraded}
    out["lane_ms"] = {lane: {"p50": round(pct(v, 50), 3), "p95": round(pct(v, 95), 3)}
                      for lane, v in lanes.items()}

    # The first turn after the cached caller is dropped: the permanent lane asks the
    # store (full text + exact vectors over the caller's 10,000 rows) while it reloads.
    cold: list[float] = []
    cold_degraded = 0
    for q in questions[50:50 + args.cold]:
        engine.callers.drop(scope)
        t0 = time.perf_counter()
        result = await engine.search_memory(scope, q, timeout_ms=250)
        cold.append((time.perf_counter() - t0) * 1000)
        cold_degraded += bool(result.trace["degraded"])
        loading = engine.callers.peek(scope)
        assert loading is not None
        await loading.ready.wait()
    out["recall_first_turn_ms"] = {**summary(cold), "degraded": cold_degraded}

    out["store"] = await store_paths(engine, questions[: args.store_queries])
    await engine.close()
    tmp.cleanup()
    return out


async def store_paths(engine: Any, queries: list[str]) -> dict[str, Any]:
    """Latency of the store's own indexes, and HNSW recall@10 against an exact scan."""
    store = engine.store
    chunks = await store.load_chunks("default", "bench")
    matrix = np.frombuffer(b"".join(c.embedding for c in chunks), dtype=np.float32)
    matrix = matrix.reshape(len(chunks), -1)
    vectors = engine.embedder.embed(queries)
    text_ms: list[float] = []
    hnsw_ms: list[float] = []
    overlap: list[float] = []
    for q, vec in zip(queries, vectors, strict=True):
        blob = np.ascontiguousarray(vec, dtype=np.float32).tobytes()
        t0 = time.perf_counter()
        await store.search_chunks_text("default", "bench", q, 10)
        text_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        hits = await store.search_chunks_vector("default", "bench", blob, 10)
        hnsw_ms.append((time.perf_counter() - t0) * 1000)
        # The corpus repeats lines (with a different "ref N"), so several chunks can tie
        # for a rank: a hit counts when it is as close as the exact 10th neighbour.
        exact = np.sort(matrix @ vec)[-10]
        overlap.append(sum(h.score >= exact - 1e-5 for h in hits[:10]) / 10)
    return {"chunks_text_ms": summary(text_ms), "chunks_hnsw_ms": summary(hnsw_ms),
            "chunks_hnsw_recall_at_10": round(statistics.fmean(overlap), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--cold", type=int, default=30, help="first-turn recalls to time")
    parser.add_argument("--store-queries", type=int, default=200)
    parser.add_argument("--dsn", default="", help="superuser DSN of your own server")
    parser.add_argument("--json", default=str(RESULTS / "postgres_recall.json"))
    parser.add_argument("--runtime", action="store_true",
                        help="run benchmarks/runtime_latency.py against Postgres instead")
    args = parser.parse_args()
    if args.runtime:
        import psycopg

        target = RESULTS / "runtime_latency_postgres.json"
        with database(args.dsn or None) as (url, admin_url, _timings):
            command = [sys.executable, str(ROOT / "benchmarks" / "runtime_latency.py"),
                       "--json", str(target)]
            if args.quick:
                command.append("--quick")
            subprocess.run(command, check=True, env={**os.environ, "VOXMEM_STORE_URL": url})
            # Proof the runtime really stored into Postgres, kept beside its figures.
            with psycopg.connect(admin_url) as conn:
                counts = {table: _count(conn, table) for table in ("items", "chunks", "sessions")}
        result = json.loads(target.read_text())
        result["store"] = {"backend": "postgres", "rows": counts}
        target.write_text(json.dumps(result, indent=1))
        print(f"rows stored in Postgres by the runtime: {counts}")
        return
    with database(args.dsn or None) as (url, admin_url, provisioning):
        out = asyncio.run(bench(args, url, admin_url))
    out["provisioning_s"] = {k: round(v, 3) for k, v in provisioning.items()}
    out["machine"] = {"python": platform.python_version(), "cpus": _cpus(),
                      "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    w, c, s = out["recall_warm_ms"], out["recall_first_turn_ms"], out["store"]
    rows = [
        ("recall warm p50 / p95 / p99 (ms)", f"{w['p50']:.2f} / {w['p95']:.2f} / {w['p99']:.2f}",
         "p95 <= 25 (runtime)"),
        ("recall warm degraded", f"{w['degraded']} of {w['n']}", "0"),
        ("recall first turn, cold caller p50 / p95 (ms)", f"{c['p50']:.1f} / {c['p95']:.1f}",
         f"degraded {c['degraded']} of {c['n']}"),
        ("preload at call start, cold (ms)", f"{out['preload_cold_ms']:.1f}", "< 30"),
        ("caller load from Postgres (ms)", f"{out['caller_load_ms']:.0f}",
         f"{out['caller_items']} items"),
        ("org index load from Postgres (s)", f"{out['org_load_s']}",
         f"{out['chunks']} chunks"),
        ("store full text, chunks p50 / p95 (ms)",
         f"{s['chunks_text_ms']['p50']:.1f} / {s['chunks_text_ms']['p95']:.1f}", "GIN"),
        ("store HNSW, chunks p50 / p95 (ms)",
         f"{s['chunks_hnsw_ms']['p50']:.1f} / {s['chunks_hnsw_ms']['p95']:.1f}",
         f"recall@10 {s['chunks_hnsw_recall_at_10']:.3f}"),
        ("ingest: org chunks/s, caller turns/s",
         f"{out['org_ingest_chunks_per_s']:.0f} / {out['turn_ingest_per_s']:.0f}", ""),
    ]
    print(f"\nvoxmem on PostgreSQL + pgvector, embedder={out['embedder']} "
          f"({out['dimensions']} dims), {out['turns']} caller memories, "
          f"{out['chunks']} org chunks")
    print(f"{'measure':<48}{'value':>24}  note")
    for name, value, note in rows:
        print(f"{name:<48}{value:>24}  {note}")
    print("lanes p50/p95 ms: " + ", ".join(
        f"{k} {v['p50']:.2f}/{v['p95']:.2f}" for k, v in out["lane_ms"].items()))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")


def _count(conn: Any, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row is not None else 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
