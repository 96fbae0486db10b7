"""Org knowledge at scale: 100k / 1M chunks through the engine (and the runtime).

Builds one project's org index with ``create_index`` calls of 100 documents (as a client
sends them), real conversational text from the shared dev data (each chunk joins two
utterances, so chunks are distinct yet read like real text), then reports:

- build time, and the time of the last create_index calls against the first (a build
  that costs the same per call at every size);
- load time in a fresh engine on the same store (the persisted vector index and rows
  file are loaded, not rebuilt), and start to first answered org search;
- resident memory after the load;
- org search p50/p95 in-process (``search_index``) and through the runtime's HTTP API;
- recall@10 of the org lane's vector side against exact search over the same vectors.

    python benchmarks/org_scale.py --quick             # 10,000 chunks (CI-sized)
    python benchmarks/org_scale.py                     # 100,000 chunks
    python benchmarks/org_scale.py --size 1000000      # a million
    python benchmarks/org_scale.py --backend postgres  # embedded Postgres store

Prints a table and writes ``benchmarks/results/org_scale_<backend>_<size>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VOXMEM_SHARED_DIR", ROOT.parent / "shared"))
RESULTS = ROOT / "benchmarks" / "results"
DOCS_PER_CALL = 100
K = 10


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory from /proc (``RssAnon``: the process's own heap and arrays;
    ``RssFile``: pages of mapped files, such as the exact vectors' scratch file, which
    the kernel can drop and read back)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_parts() -> dict[str, int]:
    return {name: round(rss_mb(name)) for name in ("RssAnon", "RssFile", "RssShmem")}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@functools.cache
def _utterances() -> tuple[list[str], list[str]]:
    locomo = json.loads((SHARED / "eval" / "data" / "locomo_dev.json").read_text())
    lines: list[str] = []
    questions: list[str] = []
    for sample in locomo:
        for key, value in sample["conversation"].items():
            if key.startswith("session_") and isinstance(value, list):
                lines.extend(str(t["text"]) for t in value)
        questions.extend(str(q["question"]) for q in sample["qa"])
    lme = json.loads((SHARED / "eval" / "data" / "longmemeval_s_dev40.json").read_text())
    for item in lme:
        questions.append(str(item["question"]))
        for session in item["haystack_sessions"]:
            lines.extend(t["content"][:300] for t in session if t.get("content"))
    return lines, questions


def chunk_texts(n: int, seed: int = 11) -> list[str]:
    """``n`` distinct chunk texts, each two real utterances joined (short: one chunk)."""
    lines, _ = _utterances()
    rng = np.random.default_rng(seed)
    first = rng.integers(len(lines), size=n)
    second = rng.integers(len(lines), size=n)
    return [f"{lines[a]} {lines[b]}" for a, b in zip(first.tolist(), second.tolist(),
                                                     strict=True)]


def question_texts(n: int) -> list[str]:
    _, questions = _utterances()
    return [questions[i % len(questions)] for i in range(n)]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(pct(values, 50), 3), "p95": round(pct(values, 95), 3),
            "p99": round(pct(values, 99), 3), "n": len(values)}


@contextlib.contextmanager
def store_url(backend: str) -> Iterator[str]:
    """'' (SQLite in the data dir) or the URL of a fresh throwaway Postgres database."""
    if backend == "sqlite":
        yield ""
        return
    sys.path.insert(0, str(ROOT))
    from tests import _postgres

    with _postgres.server() as dsn:
        if dsn is None:
            raise SystemExit("no PostgreSQL server could be started for --backend postgres")
        url = _postgres.fresh_database(dsn)
        try:
            yield url
        finally:
            _postgres.drop_database(dsn, url)


async def build(args: argparse.Namespace, data_dir: str, url: str) -> dict[str, Any]:
    """create_index calls of 100 documents up to ``args.size`` chunks; the engine's
    close saves the vector file."""
    from voxmem import Settings
    from voxmem.engine import MemoryEngine

    engine = MemoryEngine(Settings(data_dir=data_dir, embedder="static", store_url=url))
    await engine.start()
    texts = chunk_texts(args.size)
    calls: list[float] = []
    t = time.perf_counter()
    try:
        per_call = args.docs_per_call
        for base in range(0, args.size, per_call):
            docs = [{"id": f"doc-{base + i}", "text": texts[base + i], "metadata": {}}
                    for i in range(min(per_call, args.size - base))]
            t0 = time.perf_counter()
            await engine.create_index("default", "bench", f"kb{base // 100_000}", docs)
            calls.append((time.perf_counter() - t0) * 1000)
            if args.progress and base % 20_000 < per_call:
                print(f"  build {base:,}/{args.size:,} "
                      f"({time.perf_counter() - t:.0f} s)", file=sys.stderr)
        build_s = time.perf_counter() - t
        org = engine.org.memory("default", "bench")
        await org.ready.wait()
        loop = asyncio.get_running_loop()
        t = time.perf_counter()
        await loop.run_in_executor(None, org.index.maintain)  # the queued vectors
        settle_s = time.perf_counter() - t
    finally:
        t = time.perf_counter()
        await engine.close()
        close_s = time.perf_counter() - t
    tenth = max(1, len(calls) // 10)
    return {"build_s": round(build_s, 1), "docs_per_call": args.docs_per_call,
            "index_settle_s": round(settle_s, 1),
            "close_save_s": round(close_s, 1),
            "create_index_ms_first_tenth": summary(calls[:tenth]),
            "create_index_ms_last_tenth": summary(calls[-tenth:])}


async def load_and_search(args: argparse.Namespace, data_dir: str,
                          url: str) -> dict[str, Any]:
    """A fresh engine (this process did nothing else): start-up, RSS, search, recall."""
    from voxmem import Settings
    from voxmem.engine import MemoryEngine

    out: dict[str, Any] = {"rss_mb_before": round(rss_mb())}
    questions = question_texts(args.queries)
    t = time.perf_counter()
    engine = MemoryEngine(Settings(data_dir=data_dir, embedder="static", store_url=url))
    await engine.start()
    scope = engine.scope(project_id="bench", agent_id="agent", user_id="caller")
    first = await engine.search_memory(scope, questions[0], lanes=["org"])
    out["start_to_first_org_answer_s"] = round(time.perf_counter() - t, 2)
    loading = engine.org.memory("default", "bench")
    out["first_answer_from"] = "memory" if loading.ready.is_set() \
        else "store text search (index loading)"
    out["first_answer_hits"] = len(first.org)
    await engine.warm_org(scope)
    out["start_to_warm_s"] = round(time.perf_counter() - t, 2)
    org = engine.org.memory("default", "bench")
    out["vectors_from"] = org.vectors_from
    out["rows_from"] = org.rows_from
    out["chunks"] = len(org.index)
    ann = org.index.ann
    if ann is not None:
        from voxmem.engine._org_params import search_ef

        # A restart from the files searches the saved graph in place until it changes.
        out["graph"] = "viewed (file pages)" if ann.viewed else "loaded"
        out["ann_ef"] = search_ef(len(org.index), ann.params.connectivity)
        out["ann_connectivity"] = ann.params.connectivity
    out["rss_mb_loaded"] = round(rss_mb())
    out["rss_mb_loaded_parts"] = rss_parts()
    try:
        for q in questions[:50]:
            await engine.search_index("default", "bench", None, q, K)
        times: list[float] = []
        for q in questions:
            t0 = time.perf_counter()
            await engine.search_index("default", "bench", None, q, K)
            times.append((time.perf_counter() - t0) * 1000)
        out["engine_org_search_ms"] = summary(times)
        out["rss_mb_after_search"] = round(rss_mb())
        out["rss_mb_after_search_parts"] = rss_parts()
        # Recall@10 of the vector side against exact search over the stored vectors
        # (a neighbour counts when its exact similarity reaches the exact 10th best).
        chunks = await engine.store.load_chunks("default", "bench")
        exact = np.stack([np.frombuffer(c.embedding or b"", dtype=np.float32)
                          for c in chunks])
        ids = [c.id for c in chunks]
        del chunks
        row_of = {cid: i for i, cid in enumerate(ids)}
        queries = np.asarray(engine.embedder.embed(questions[: args.recall_queries]),
                             dtype=np.float32)
        hits = 0
        hits_f16 = 0
        dense_ms: list[float] = []
        for q in queries:
            threshold = -np.partition(-(exact @ q), K - 1)[K - 1]
            t0 = time.perf_counter()
            got = org.index.dense(q, K)
            dense_ms.append((time.perf_counter() - t0) * 1000)
            rows = [row_of[org.index.id_at(int(p))] for p in got.positions]
            hits += int(np.sum(exact[rows] @ q >= threshold - 1e-5))
            # The graph stores float16: scores within its precision of the 10th best
            # are ties it cannot order.
            hits_f16 = hits_f16 + int(np.sum(exact[rows] @ q >= threshold - 1e-3))
        out["recall@10_vs_exact"] = round(hits / (K * len(queries)), 4)
        out["recall@10_vs_exact_f16_ties"] = round(hits_f16 / (K * len(queries)), 4)
        out["ann_search_ms"] = summary(dense_ms)
    finally:
        await engine.close()
    return out


async def through_runtime(args: argparse.Namespace, data_dir: str, url: str) -> dict[str, Any]:
    """Org-only search_memory over the runtime's loopback HTTP API, end to end."""
    from voxmem import VoiceClient
    from voxmem.cli import stop_runtime

    os.environ.update(VOXMEM_EMBEDDER="static", VOXMEM_STORE_URL=url)
    client = VoiceClient(project_id="bench", agent_id="agent", data_dir=data_dir)
    questions = question_texts(args.queries)
    user = {"id": "caller-1"}
    out: dict[str, Any] = {}
    try:
        t = time.perf_counter()
        first = await client.search_memory(questions[0], user=user, lanes=["org"],
                                           timeout_ms=2000)
        out["runtime_start_to_first_org_answer_s"] = round(time.perf_counter() - t, 2)
        out["runtime_first_answer_hits"] = len(first.org)
        # The operator search waits for the warm index (a turn's search never does).
        await client.search_index(questions[1], top_k=1)
        out["runtime_start_to_warm_s"] = round(time.perf_counter() - t, 1)
        for q in questions[:50]:
            await client.search_memory(q, user=user, lanes=["org"], timeout_ms=1000)
        walls: list[float] = []
        degraded = 0
        for q in questions:
            t0 = time.perf_counter()
            res = await client.search_memory(q, user=user, lanes=["org"], timeout_ms=1000)
            walls.append((time.perf_counter() - t0) * 1000)
            degraded += bool(res.trace.get("degraded"))
        out["runtime_org_search_ms"] = summary(walls)
        out["runtime_degraded"] = degraded
    finally:
        await client.aclose()
        stop_runtime(Path(data_dir))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 chunks")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--recall-queries", type=int, default=300)
    parser.add_argument("--runtime", action="store_true",
                        help="also measure org search through the runtime's HTTP API")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--docs-per-call", type=int, default=DOCS_PER_CALL,
                        help="documents per create_index call (a bulk upload sends more)")
    parser.add_argument("--keep", metavar="DIR",
                        help="build into DIR and keep it; a later run with the same DIR "
                             "skips the build (before/after comparisons on one store)")
    parser.add_argument("--phase", choices=("all", "load"), default="all",
                        help=argparse.SUPPRESS)  # the fresh-process half of a run
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--store-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.size = 10_000
    if args.phase == "load":
        print(json.dumps(asyncio.run(load_and_search(args, args.data_dir, args.store_url))))
        return
    out: dict[str, Any] = {"chunks": args.size, "backend": args.backend,
                           "embedder": "static", "cpus": os.cpu_count()}
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(store_url(args.backend))
        if args.keep:
            if args.backend != "sqlite":
                sys.exit("--keep needs --backend sqlite (the Postgres store is throwaway)")
            tmp = args.keep
            built = Path(tmp) / "org_scale_build.json"
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="voxmem-org-"))
            built = Path(tmp) / "none"
        if built.exists():
            out.update(json.loads(built.read_text()))
            args.size = int(out["chunks"])  # the kept store's size names the results
        else:
            out.update(asyncio.run(build(args, tmp, url)))
            if args.keep:
                built.write_text(json.dumps(out))
        print(f"built: {out}", file=sys.stderr)
        # Load in a fresh process: its start-up and memory are what a restart sees.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
        cmd = [sys.executable, __file__, "--phase", "load", "--data-dir", tmp,
               "--store-url", url, "--size", str(args.size), "--queries",
               str(args.queries), "--recall-queries", str(args.recall_queries)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"load phase failed:\n{done.stderr}")
        out.update(json.loads(done.stdout.strip().splitlines()[-1]))
        if args.runtime:
            out.update(asyncio.run(through_runtime(args, tmp, url)))
    rows = [
        ("chunks", f"{out['chunks']:,}", args.backend),
        ("build (s)", out["build_s"],
         f"create_index x {out.get('docs_per_call', DOCS_PER_CALL)} docs, static embedder"),
        ("create_index ms, first / last tenth (p50)",
         f"{out['create_index_ms_first_tenth']['p50']} / "
         f"{out['create_index_ms_last_tenth']['p50']}", "flat = no superlinearity"),
        ("start to first org answer (s)", out["start_to_first_org_answer_s"],
         out["first_answer_from"]),
        ("start to warm index (s)", out["start_to_warm_s"],
         f"vectors: {out['vectors_from']}, rows: {out.get('rows_from', '?')}"),
        ("RSS loaded (MB)", out["rss_mb_loaded"], "fresh process"),
        ("RSS after searches (MB): anon / file",
         f"{out['rss_mb_after_search_parts']['RssAnon']} / "
         f"{out['rss_mb_after_search_parts']['RssFile']}", "file: mapped, reclaimable"),
        ("org search p50 / p95 (ms)", f"{out['engine_org_search_ms']['p50']} / "
         f"{out['engine_org_search_ms']['p95']}", "in-process, incl. query embedding"),
        ("vector search p50 / p95 (ms)", f"{out['ann_search_ms']['p50']} / "
         f"{out['ann_search_ms']['p95']}", "usearch HNSW top 10"),
        ("recall@10 vs exact (ties 1e-5 / 1e-3)",
         f"{out['recall@10_vs_exact']} / {out['recall@10_vs_exact_f16_ties']}",
         f"{args.recall_queries} questions, ef {out.get('ann_ef', '?')}, graph "
         f"{out.get('graph', '?')}"),
    ]
    if "runtime_org_search_ms" in out:
        rows.append(("runtime org search p50 / p95 (ms)",
                     f"{out['runtime_org_search_ms']['p50']} / "
                     f"{out['runtime_org_search_ms']['p95']}", "loopback HTTP"))
    for name, value, note in rows:
        print(f"{name:44} {value!s:>16}  {note}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"org_scale_{args.backend}_{args.size}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
