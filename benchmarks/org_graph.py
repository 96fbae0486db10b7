"""The org vector graph alone: build time and strict recall@10 vs ef, from saved vectors.

Reads the exact float32 vectors an org index saved next to its graph (the
``<vector file>.exact`` file a store built by ``org_scale.py --keep`` holds), takes the
first ``--size`` of them, codes them as the org lane does (centred on the first 10,000,
int8 with one scale: ``engine/_org_codes.py``) and builds a usearch graph with the
given connectivity (M) and efConstruction on ``--threads`` threads, timing it (wall and
process CPU). Then asks 300 real questions at each ``--ef``: candidates rescored with
their exact vectors as the org lane does, strict recall@10 against exact cosine over the
same vectors (a hit counts when its exact similarity reaches the exact 10th best, 1e-5),
and thread CPU per search.

    python benchmarks/org_graph.py EXACT_FILE --size 100000 --m 16 --efc 256 --threads 2
    python benchmarks/org_graph.py EXACT_FILE --graph saved.usearch --ef 512,1024  # reuse

``--save`` keeps the built graph (usearch's own file) for a later ``--graph`` run.
Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from org_scale import question_texts

K = 10
EXACT_FIRST = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("exact", help="an org index's saved exact vectors (.exact file)")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--m", type=int, default=16, help="connectivity")
    parser.add_argument("--efc", type=int, default=256, help="efConstruction")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8_192, help="vectors per add call")
    parser.add_argument("--ef", default="512,1024,1536,2048")
    parser.add_argument("--spare", type=int, default=30, help="rescored beyond k")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--graph", help="search this saved graph instead of building")
    parser.add_argument("--save", help="save the built graph here")
    parser.add_argument("--dims", type=int, default=384)
    args = parser.parse_args()

    from usearch.index import Index

    from voxmem import Settings
    from voxmem.embeddings import load_embedder
    from voxmem.engine._org_codes import CENTER_SAMPLE, code_scale, encode, encode_query

    total = (Path(args.exact).stat().st_size - EXACT_FIRST) // (4 * args.dims)
    n = min(args.size, total)
    exact = np.memmap(args.exact, dtype=np.float32, mode="r", offset=EXACT_FIRST,
                      shape=(total, args.dims))[:n]
    center = np.mean(np.asarray(exact[:CENTER_SAMPLE]), axis=0).astype(np.float32)
    scale = code_scale(np.asarray(exact[:CENTER_SAMPLE]) - center)
    index = Index(ndim=args.dims, metric="ip", dtype="i8", connectivity=args.m,
                  expansion_add=args.efc)
    info: dict[str, object] = {"n": n, "m": args.m, "efc": args.efc}
    if args.graph:
        index.view(args.graph)
        info["graph"] = "loaded"
    else:
        wall = time.perf_counter()
        cpu = time.process_time()
        for lo in range(0, n, args.batch):
            hi = min(n, lo + args.batch)
            codes = encode(np.asarray(exact[lo:hi]) - center, scale)
            index.add(np.arange(lo, hi, dtype=np.uint64), codes, threads=args.threads)
        info.update(threads=args.threads, build_wall_s=round(time.perf_counter() - wall, 1),
                    build_cpu_s=round(time.process_time() - cpu, 1),
                    load1=os.getloadavg()[0])
        if args.save:
            index.save(args.save)
            info["bytes"] = Path(args.save).stat().st_size
    print(json.dumps(info), flush=True)
    if not args.ef:
        return
    embedder = load_embedder(Settings(embedder="static"))
    queries = np.asarray(embedder.embed(question_texts(args.queries)), dtype=np.float32)
    sims_top = np.full((queries.shape[0], K), -np.inf, dtype=np.float32)
    for lo in range(0, n, 65_536):
        sims = queries @ np.asarray(exact[lo:lo + 65_536]).T
        both = np.concatenate([sims_top, sims], axis=1)
        sims_top = -np.partition(-both, K - 1, axis=1)[:, :K]
    kth = (-np.partition(-sims_top, K - 1, axis=1)[:, K - 1]).tolist()
    want = max(2 * K, K + args.spare)
    for ef in [int(x) for x in args.ef.split(",")]:
        index.expansion_search = ef  # type: ignore[misc]
        hits = 0
        cpu_ms: list[float] = []
        for q, threshold in zip(queries, kth, strict=True):
            t = time.thread_time()
            found = index.search(encode_query(q), want, threads=1)
            rows = np.asarray(found.keys, dtype=np.int64)[:K + args.spare]
            rows = rows[rows < n]
            vecs = np.asarray(exact[np.sort(rows)])
            order = np.sort(rows)
            top = order[np.argsort(-(vecs @ q))[:K]]
            cpu_ms.append((time.thread_time() - t) * 1000)
            hits += int(np.sum(np.asarray(exact[np.sort(top)]) @ q >= threshold - 1e-5))
        print(json.dumps({"ef": ef, "recall@10": round(hits / (K * len(kth)), 4),
                          "cpu_ms_p50": round(float(np.percentile(cpu_ms, 50)), 2),
                          "cpu_ms_p95": round(float(np.percentile(cpu_ms, 95)), 2)}),
              flush=True)


if __name__ == "__main__":
    main()
