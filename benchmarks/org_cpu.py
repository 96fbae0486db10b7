"""CPU per org search, by half, on a kept ``org_scale.py`` store: the keyword top 80 and
the vector top 80 at one or more graph search breadths (ef).

Starts an engine on the store (``python benchmarks/org_scale.py --keep DIR`` made it; the
start-up upkeep may write to it, so give it a copy), warms the org index, then asks the
org benchmark's questions after a warm-up: per question the keyword search
(``HybridIndex.search`` without a vector: BM25, pruned) and the vector search
(``HybridIndex.dense``: the graph walk and the exact rescoring) at each ``--ef``,
interleaved so every variant sees the same machine; thread CPU, min of ``--min-of``
runs. With ``--recall``, also strict recall@10 of the vector side against exact cosine
over the store's vectors at each ef (loads every vector: ~1.5 GB at a million).

    python benchmarks/org_cpu.py DIR [--queries 500] [--ef 1260,1024] [--recall 300]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import voxmem.engine._org_vectors as org_vectors
from org_scale import question_texts
from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._analysis import analyze

DEPTH = 80  # the org lane's keyword and vector depth at k = 10
K = 10


def cpu_ms(call: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.thread_time()
        call()
        best = min(best, time.thread_time() - t)
    return best * 1000


def pcts(values: list[float]) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 95, 99)}


def use_ef(ef: int) -> None:
    """Every graph walk from now on searches at ``ef`` (the size rule set aside)."""
    setattr(org_vectors, "search_ef",  # noqa: B010 (the module's own import of it)
            lambda size, connectivity=0: ef)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    engine = MemoryEngine(Settings(data_dir=str(args.dir), embedder="static"))
    await engine.start()
    try:
        await engine.warm_org(engine.scope(project_id="bench", agent_id="a", user_id="u"))
        index = engine.org.memory("default", "bench").index
        questions = question_texts(args.queries + args.warmup)
        vectors = np.asarray(engine.embedder.embed(questions), dtype=np.float32)
        terms = [analyze(q) for q in questions]
        efs = [int(e) for e in args.ef.split(",")]
        for i in range(args.warmup):
            index.search(terms[i], None, DEPTH)
            for ef in efs:
                use_ef(ef)
                index.dense(vectors[i], DEPTH)
        keyword: list[float] = []
        vector: dict[int, list[float]] = {ef: [] for ef in efs}
        for i in range(args.warmup, len(questions)):
            keyword.append(cpu_ms(functools.partial(index.search, terms[i], None, DEPTH),
                                  args.min_of))
            for ef in efs:
                use_ef(ef)
                vector[ef].append(cpu_ms(functools.partial(index.dense, vectors[i], DEPTH),
                                         args.min_of))
        out: dict[str, Any] = {"chunks": len(index), "questions": args.queries,
                               "keyword_top80_cpu_ms": pcts(keyword),
                               "vector_top80_cpu_ms": {ef: pcts(v) for ef, v in vector.items()}}
        if args.recall:
            out["recall@10_vs_exact"] = await recall(engine, index, vectors[:args.recall],
                                                     efs)
        return out
    finally:
        await engine.close()


async def recall(engine: MemoryEngine, index: Any, queries: np.ndarray,
                 efs: list[int]) -> dict[int, float]:
    chunks = await engine.store.load_chunks("default", "bench")
    exact = np.stack([np.frombuffer(c.embedding or b"", dtype=np.float32) for c in chunks])
    row_of = {c.id: i for i, c in enumerate(chunks)}
    del chunks
    tenth = [float(-np.partition(-(exact @ q), K - 1)[K - 1]) for q in queries]
    out = {}
    for ef in efs:
        use_ef(ef)
        hits = 0
        for q, threshold in zip(queries, tenth, strict=True):
            got = index.dense(q, K)
            rows = [row_of[index.id_at(int(p))] for p in got.positions]
            hits += int(np.sum(exact[rows] @ q >= threshold - 1e-5))
        out[ef] = round(hits / (K * len(queries)), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--ef", default="1260,1024")
    parser.add_argument("--min-of", type=int, default=3)
    parser.add_argument("--recall", type=int, default=0, metavar="QUESTIONS")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args)), indent=1))


if __name__ == "__main__":
    main()
