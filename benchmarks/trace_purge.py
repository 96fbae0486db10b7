"""What the cleanup's retention purge costs SQLite's store writer with a week of traces.

The cleanup (every 10th maintenance sweep) runs ``purge_items`` per project in the
store's one writer: while it runs, no save is applied. It removes the recall traces that
cited a deleted or expired memory (their text would outlive the memory) by joining the
memories it removes to the traces of their callers. This builds a store with a busy
host's week of traces (``--traces``, each citing ``--cited`` memories of its caller
with the text a trace keeps), ``--deleted`` soft-deleted memories and ``--expired``
memories past the retention, then times ``purge_items`` on fresh copies of the file,
``--runs`` times (min and median: the machine is shared), and prints the query plan of
the traces' statements.

The figures are also written to ``benchmarks/results/trace_purge.json`` (``--out``).

    python benchmarks/trace_purge.py --traces 500000 --deleted 2000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from voxmem import Settings
from voxmem.store import _sql as sql
from voxmem.store import open_store

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(path: str, figures: dict[str, Any]) -> None:
    """The run's figures as JSON (the table above is the same figures, printed)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(figures, indent=1) + "\n")
    print(f"wrote {path}")

TENANT, PROJECT = "default", "p1"
DAY = 86_400.0
SOURCE_TEXT = "x" * 200  # a cited memory's text as a trace keeps it (up to 240)


def build(path: Path, *, callers: int, items: int, traces: int, cited: int,
          deleted: int, expired: int, retention_days: int, seed: int) -> float:
    """Fill the store at ``path`` (migrated, closed); returns the purge's "now"."""
    rng = random.Random(seed)
    now = time.time()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    per_caller = max(1, items // callers)
    item_rows: list[tuple[object, ...]] = []
    ids: list[list[str]] = []
    for c in range(callers):
        mine = []
        for j in range(per_caller):
            item_id = f"fact_{c:06d}_{j:04d}"
            # Memories of the last ``retention_days`` days, but ``expired`` older ones.
            age = rng.uniform(0.0, retention_days * DAY * 0.95)
            item_rows.append((item_id, TENANT, PROJECT, "", f"u{c}", "", None, "fact",
                              SOURCE_TEXT, "k", now - age))
            mine.append(item_id)
        ids.append(mine)
    for n, i in enumerate(rng.sample(range(len(item_rows)), expired)):
        row = list(item_rows[i])
        row[10] = now - (retention_days + 1 + n % 5) * DAY
        item_rows[i] = tuple(row)
    conn.executemany(
        "INSERT INTO items (id, tenant_id, project_id, space, user_id, agent_id, session_id,"
        " kind, text, search_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        item_rows)
    gone = rng.sample([r[0] for r in item_rows], deleted)
    conn.executemany("UPDATE items SET deleted_at = ? WHERE id = ? AND tenant_id = ?",
                     [(now - 60.0, g, TENANT) for g in gone])
    batch = []
    for t in range(traces):
        c = rng.randrange(callers)
        sources = [{"lane": "permanent", "id": i, "score": 0.5, "kind": "fact",
                    "text": SOURCE_TEXT} for i in rng.sample(ids[c], min(cited, per_caller))]
        batch.append((f"rtr_{t:08d}", TENANT, PROJECT, "", f"u{c}", "", f"call_{c}",
                      now - rng.uniform(0, 7 * DAY), "what did I say about it", 3.0, 0, "{}",
                      SOURCE_TEXT, json.dumps(sources)))
        if len(batch) == 20_000:
            conn.executemany(sql.INSERT_TRACE.sqlite, batch)
            batch.clear()
    conn.executemany(sql.INSERT_TRACE.sqlite, batch)
    conn.commit()
    # No ANALYZE: the store never runs it, so its planner works without statistics.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return now


async def purge_once(data: Path, now: float,
                     retention_days: int) -> tuple[float, float, int, int]:
    """(seconds of purge_items, of its longest write transaction, memories removed,
    traces removed) on the store in ``data``."""
    store = open_store(Settings(data_dir=str(data), embedder="hashing"))
    await store.open()
    holds: list[float] = []
    write = store._write  # type: ignore[attr-defined]

    async def timed(fn: Any) -> Any:
        started = time.perf_counter()
        try:
            return await write(fn)
        finally:
            holds.append(time.perf_counter() - started)

    store._write = timed  # type: ignore[attr-defined]
    try:
        before = sqlite3.connect(data / "voxmem.db").execute(
            "SELECT COUNT(*) FROM recall_traces").fetchone()[0]
        started = time.perf_counter()
        removed = await store.purge_items(TENANT, PROJECT, now - retention_days * DAY, None,
                                          (), deleted_turns_before=now - 3600.0)
        took = time.perf_counter() - started
        after = sqlite3.connect(data / "voxmem.db").execute(
            "SELECT COUNT(*) FROM recall_traces").fetchone()[0]
        return took, max(holds, default=0.0), removed, int(before - after)
    finally:
        await store.close()


def plans(db: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(db)
    out = {}
    for name in ("PURGE_DELETED_TRACES", "PURGE_EXPIRED_TRACES"):
        statement = getattr(sql, name, None)
        if statement is None:
            continue
        text = statement.sqlite if isinstance(statement, sql.Statement) else str(statement)
        text = text.format(agents="") if "{agents}" in text else text
        args = (TENANT, PROJECT) + ((0.0,) if text.count("?") > 2 else ())
        out[name] = [str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {text}", args)]
    return out


def breakdown(db: Path, now: float, retention_days: int) -> dict[str, float]:
    """Seconds of each of the purge's statements, in one transaction as the store runs
    them (with its settings: WAL, secure_delete)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA secure_delete=ON")
    cutoff = now - retention_days * DAY
    steps = [
        ("select deleted-memory traces",
         f"SELECT COUNT(*) FROM ({_select(sql.PURGE_DELETED_TRACES.sqlite)})",
         (TENANT, PROJECT)),
        ("delete deleted-memory traces", sql.PURGE_DELETED_TRACES.sqlite, (TENANT, PROJECT)),
        ("delete deleted memories", sql.PURGE_DELETED.sqlite, (TENANT, PROJECT, now - 3600.0)),
        ("delete expired-memory traces", sql.PURGE_EXPIRED_TRACES.sqlite.format(agents=""),
         (TENANT, PROJECT, cutoff)),
        ("delete expired memories", "DELETE FROM items WHERE tenant_id = ? AND"
         " project_id = ? AND created_at < ?", (TENANT, PROJECT, cutoff)),
    ]
    out = {}
    conn.execute("BEGIN IMMEDIATE")
    for name, statement, params in steps:
        started = time.perf_counter()
        conn.execute(statement, params).fetchall()
        out[name] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    conn.execute("COMMIT")
    out["commit"] = round(time.perf_counter() - started, 3)
    conn.close()
    return out


def _select(delete: str) -> str:
    """The rows a ``DELETE FROM recall_traces WHERE id IN (...)`` removes, as a query."""
    return delete[delete.index("(") + 1:-1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=500_000)
    parser.add_argument("--callers", type=int, default=5_000)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--cited", type=int, default=8)
    parser.add_argument("--deleted", type=int, default=2_000)
    parser.add_argument("--expired", type=int, default=2_000)
    parser.add_argument("--retention-days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(RESULTS / "trace_purge.json"),
                        help="where the figures are written as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        store = open_store(Settings(data_dir=str(base), embedder="hashing"))
        await store.open()  # migrated
        await store.close()
        started = time.perf_counter()
        now = build(base / "voxmem.db", callers=args.callers, items=args.items,
                    traces=args.traces, cited=args.cited, deleted=args.deleted,
                    expired=args.expired, retention_days=args.retention_days,
                    seed=args.seed)
        print(f"built in {time.perf_counter() - started:.1f} s "
              f"({(base / 'voxmem.db').stat().st_size / 1e6:.0f} MB)")
        print(json.dumps(plans(base / "voxmem.db"), indent=1))
        times: list[float] = []
        longest: list[float] = []
        for run in range(args.runs):
            copy = Path(tmp) / f"run{run}"
            shutil.copytree(base, copy)
            took, held, removed, traces = await purge_once(copy, now, args.retention_days)
            times.append(took)
            longest.append(held)
            print(f"run {run}: purge_items {took:.3f} s, longest write transaction "
                  f"{held:.3f} s, {removed} memories and {traces} traces removed")
            shutil.rmtree(copy)
        print(f"purge_items min {min(times):.3f} s, median {statistics.median(times):.3f} s;"
              f" longest write transaction min {min(longest):.3f} s, median "
              f"{statistics.median(longest):.3f} s")
        copy = Path(tmp) / "steps"
        shutil.copytree(base, copy)
        steps = breakdown(copy / "voxmem.db", now, args.retention_days)
        print("statements (s):", json.dumps(steps))
    write_results(args.out, {"args": vars(args), "purge_s": times,
                             "longest_write_s": longest, "statements_s": steps})


if __name__ == "__main__":
    asyncio.run(main())
