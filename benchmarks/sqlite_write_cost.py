"""CPU cost of one SQLite write batch of 50 turns, with and without the caller-items
full-text index that migration 0006 dropped (schema 5 against schema 6), and with the
read indexes migration 0007 added (schema 7).

Each schema gets a fresh database file opened with the store's pragmas; batches go
through the store's own batch writer (``_sqlite_write.apply_batch``) in a ``BEGIN
IMMEDIATE`` transaction, rotating between the files so both see the same machine
load. The figure is thread CPU time per batch: the minimum (the cost with no neighbour
interference) and the median. The figures are in docs/performance.md.

    python benchmarks/sqlite_write_cost.py [--batches 300]

Prints a table and writes ``benchmarks/results/sqlite_write_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from voxmem.embeddings.hashing import HashingEmbedder
from voxmem.models import Scope, Turn
from voxmem.store import SessionStart, TurnWrite, WriteBatch
from voxmem.store import _sqlite_admin as admin
from voxmem.store import _sqlite_write as writes

RESULTS = Path(__file__).resolve().parent / "results" / "sqlite_write_cost.json"
TURNS_PER_BATCH = 50
LINES = ["I need to change the delivery address for my order to the office on Main Street",
         "can you remind me what time the appointment with doctor Patel is on Thursday",
         "my daughter Emma is allergic to peanuts so please note that for the party booking",
         "the router keeps dropping the connection every evening around eight o'clock",
         "I'd like the vegetarian option and a window seat if there is one available"]


def connect(path: Path, schema: int) -> sqlite3.Connection:
    admin.create_private(path)
    conn = sqlite3.connect(path, isolation_level=None)
    # The store's pragmas (SQLiteStore._connect), so a commit costs what it costs there.
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                   "secure_delete=ON"):
        conn.execute(f"PRAGMA {pragma}")
    admin.migrate(conn, upto=schema)
    return conn


def batch(n: int, embedder: HashingEmbedder) -> WriteBatch:
    """Turns ``n*50 .. n*50+49`` of one caller's call, with vectors, as the applier writes."""
    scope = Scope(tenant_id="t", project_id="p", agent_id="a", user_id=f"caller-{n % 20}")
    texts = [f"{LINES[i % len(LINES)]} (turn {n * TURNS_PER_BATCH + i})"
             for i in range(TURNS_PER_BATCH)]
    vectors = embedder.embed(texts)
    now = time.time()
    return WriteBatch(
        sessions_started=[SessionStart(scope=scope, session_id=f"s{n}", started_at=now)],
        turns=[TurnWrite(scope=scope, embedding=vectors[i].tobytes(), turn=Turn(
            event_id=f"e{n}-{i}", session_id=f"s{n}", turn_id=f"t{n}-{i}", user_text=text,
            assistant_text="Sure, I have noted that.", created_at=now + i))
            for i, text in enumerate(texts)],
        embedding_model=embedder.name, applied_seq=n)


#: Each batch's order of the files, rotated so no schema always goes first.
ORDERS = ((5, 6, 7), (6, 7, 5), (7, 5, 6))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args()
    embedder = HashingEmbedder()
    cpu_ms: dict[int, list[float]] = {5: [], 6: [], 7: []}
    with tempfile.TemporaryDirectory() as tmp:
        conns = {schema: connect(Path(tmp) / f"v{schema}.db", schema) for schema in cpu_ms}
        for n in range(args.batches):
            work = batch(n, embedder)
            for schema in ORDERS[n % len(ORDERS)]:
                conn = conns[schema]
                t0 = time.thread_time()
                conn.execute("BEGIN IMMEDIATE")
                writes.apply_batch(work, conn)
                conn.execute("COMMIT")
                cpu_ms[schema].append((time.thread_time() - t0) * 1000)
        for conn in conns.values():
            conn.close()
    out = {"turns_per_batch": TURNS_PER_BATCH, "batches": args.batches, **{
        f"schema_{schema}": {"cpu_ms_min": round(min(v), 3),
                             "cpu_ms_p50": round(statistics.median(v), 3)}
        for schema, v in cpu_ms.items()}}
    out["ratio_min"] = round(out["schema_5"]["cpu_ms_min"] / out["schema_6"]["cpu_ms_min"], 2)
    out["ratio_p50"] = round(out["schema_5"]["cpu_ms_p50"] / out["schema_6"]["cpu_ms_p50"], 2)
    out["ratio_7_6_min"] = round(out["schema_7"]["cpu_ms_min"] / out["schema_6"]["cpu_ms_min"], 2)
    out["ratio_7_6_p50"] = round(out["schema_7"]["cpu_ms_p50"] / out["schema_6"]["cpu_ms_p50"], 2)
    print(f"CPU per batch of {TURNS_PER_BATCH} turns, {args.batches} batches each")
    print(f"{'schema':<36}{'min ms':>10}{'p50 ms':>10}")
    for schema, label in ((5, "5 (items_fts + 3 triggers)"), (6, "6 (no caller-items FTS)"),
                          (7, "7 (fact and call-time indexes)")):
        s = out[f"schema_{schema}"]
        print(f"{label:<36}{s['cpu_ms_min']:>10.2f}{s['cpu_ms_p50']:>10.2f}")
    print(f"ratio 5/6: min {out['ratio_min']}, p50 {out['ratio_p50']}")
    print(f"ratio 7/6: min {out['ratio_7_6_min']}, p50 {out['ratio_7_6_p50']}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
