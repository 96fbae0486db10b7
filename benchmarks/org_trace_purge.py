"""What the cleanup's removal of recall traces quoting deleted org documents costs.

Every cleanup looks through every stored recall trace for an org chunk that is no longer
stored (``Store.purge_org_traces``): on SQLite on a read connection, which does not hold
the store's writer, then deletes the traces found 500 per write transaction. This
builds a busy project's week of traces (``--traces``, each citing ``--org`` chunks and
``--memories`` memories with the text a trace keeps), ``--chunks`` stored chunks of
which ``--deleted`` are deleted (a document's worth), and times the purge on fresh
copies of the file, ``--runs`` times (min and median: the machine is shared): the
whole purge, and the longest write transaction in it.

The figures are also written to ``benchmarks/results/org_trace_purge.json`` (``--out``).

    python benchmarks/org_trace_purge.py --traces 500000 --chunks 20000 --deleted 20
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

from trace_purge import DAY, PROJECT, RESULTS, SOURCE_TEXT, TENANT, write_results
from voxmem import Settings
from voxmem.store import _sql as sql
from voxmem.store import open_store


def build(path: Path, *, traces: int, chunks: int, deleted: int, org: int, memories: int,
          seed: int) -> int:
    """Fill the store at ``path`` (migrated, closed); returns the traces citing a
    deleted chunk."""
    rng = random.Random(seed)
    now = time.time()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    ids = [f"chk_{n:08d}" for n in range(chunks)]
    conn.executemany(
        "INSERT INTO chunks (id, tenant_id, project_id, index_name, doc_id, ordinal, text,"
        " search_key, created_at) VALUES (?, ?, ?, 'kb', ?, 0, ?, 'k', ?)",
        [(i, TENANT, PROJECT, f"doc_{n // 10}", SOURCE_TEXT, now)
         for n, i in enumerate(ids)])
    gone = set(rng.sample(ids, deleted))
    citing = 0
    batch = []
    for t in range(traces):
        cited = rng.sample(ids, org)
        citing += bool(gone.intersection(cited))
        sources: list[dict[str, Any]] = [
            {"lane": "permanent", "id": f"fact_{rng.randrange(10**6):07d}", "score": 0.5,
             "kind": "fact", "text": SOURCE_TEXT} for _ in range(memories)]
        sources += [{"lane": "org", "id": i, "score": 0.5, "kind": "chunk",
                     "text": SOURCE_TEXT} for i in cited]
        batch.append((f"rtr_{t:08d}", TENANT, PROJECT, "", f"u{t % 5000}", "", "call",
                      now - rng.uniform(0, 7 * DAY), "what are your opening hours", 3.0, 0,
                      "{}", SOURCE_TEXT, json.dumps(sources)))
        if len(batch) == 20_000:
            conn.executemany(sql.INSERT_TRACE.sqlite, batch)
            batch.clear()
    conn.executemany(sql.INSERT_TRACE.sqlite, batch)
    conn.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in gone])
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return citing


async def purge_once(data: Path) -> tuple[float, float, int]:
    """(seconds of purge_org_traces, of its longest write transaction, traces removed)."""
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
        started = time.perf_counter()
        removed = await store.purge_org_traces()
        return time.perf_counter() - started, max(holds, default=0.0), removed
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=500_000)
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--deleted", type=int, default=20)
    parser.add_argument("--org", type=int, default=5)
    parser.add_argument("--memories", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(RESULTS / "org_trace_purge.json"),
                        help="where the figures are written as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        store = open_store(Settings(data_dir=str(base), embedder="hashing"))
        await store.open()  # migrated
        await store.close()
        started = time.perf_counter()
        citing = build(base / "voxmem.db", traces=args.traces, chunks=args.chunks,
                       deleted=args.deleted, org=args.org, memories=args.memories,
                       seed=args.seed)
        print(f"built in {time.perf_counter() - started:.1f} s "
              f"({(base / 'voxmem.db').stat().st_size / 1e6:.0f} MB); "
              f"{citing} traces cite a deleted chunk")
        times: list[float] = []
        longest: list[float] = []
        for run in range(args.runs):
            copy = Path(tmp) / f"run{run}"
            shutil.copytree(base, copy)
            took, held, removed = await purge_once(copy)
            # The next cleanup, with nothing deleted since: the look alone.
            again, _, none = await purge_once(copy)
            shutil.rmtree(copy)
            times.append(took)
            longest.append(held)
            print(f"run {run}: purge {took:.2f} s, longest write {held:.3f} s, "
                  f"{removed} traces removed; the next cleanup {again:.2f} s ({none})")
        print(f"purge min {min(times):.2f} / median {statistics.median(times):.2f} s; "
              f"longest write min {min(longest):.3f} / median "
              f"{statistics.median(longest):.3f} s")
    write_results(args.out, {"args": vars(args), "traces_citing_deleted": citing,
                             "purge_s": times, "longest_write_s": longest})


if __name__ == "__main__":
    asyncio.run(main())
