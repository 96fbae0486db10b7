"""Vector index libraries compared on real text embeddings (org knowledge chunks).

Embeds org-style chunks built from the shared dev data's utterances with the bundled
static embedder, then measures for each candidate index: build time, resident memory
it adds, recall@10 against exact search, and query latency percentiles (one thread,
batch of one, as the org lane queries). Candidates: usearch HNSW (f16 and i8 storage)
and faiss-cpu (IVF with 8-bit scalar quantisation at several nprobe, and HNSW).
faiss-cpu is not a voxmem dependency: ``pip install faiss-cpu`` to run its rows.

Recall counts a returned neighbour as correct when its exact similarity is at least
the exact 10th-best similarity (minus 1e-5): near-duplicate chunks tie, and an id
match would punish an index for picking an equally close twin.

    python benchmarks/org_vectors.py                 # 100,000 chunks
    python benchmarks/org_vectors.py --size 20000    # quicker
    python benchmarks/org_vectors.py --only usearch  # one library

Prints a table and writes ``benchmarks/results/org_vectors.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from org_scale import chunk_texts, pct, question_texts, rss_mb

RESULTS = Path(__file__).resolve().parent / "results"
K = 10


def exact_top(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The exact 10th-best similarity of each query (the recall threshold)."""
    out = np.empty(queries.shape[0], dtype=np.float32)
    for i in range(0, queries.shape[0], 64):
        sims = queries[i:i + 64] @ base.T
        out[i:i + 64] = -np.partition(-sims, K - 1, axis=1)[:, K - 1]
    return out


def recall(base: np.ndarray, queries: np.ndarray, kth: np.ndarray,
           found: list[np.ndarray]) -> float:
    hits = 0
    for q, ids, threshold in zip(queries, found, kth, strict=True):
        ids = ids[(ids >= 0) & (ids < base.shape[0])][:K]
        hits += int(np.sum(base[ids] @ q >= threshold - 1e-5))
    return float(hits / (K * queries.shape[0]))


def _const(value: Any) -> Callable[[], Any]:
    """A builder returning an index built already (bound now, not at the loop's end)."""
    return lambda: value


def measure(name: str, build: Callable[[], Any],
            search: Callable[[Any, np.ndarray], np.ndarray], base: np.ndarray,
            queries: np.ndarray, kth: np.ndarray) -> dict[str, Any]:
    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    index = build()
    build_s = time.perf_counter() - t
    rss1 = rss_mb()
    for q in queries[:50]:  # warm caches
        search(index, q)
    found: list[np.ndarray] = []
    times: list[float] = []
    for q in queries:
        t0 = time.perf_counter()
        found.append(search(index, q))
        times.append((time.perf_counter() - t0) * 1000)
    row = {"index": name, "build_s": round(build_s, 1), "added_rss_mb": round(rss1 - rss0),
           "recall@10": round(recall(base, queries, kth, found), 4),
           "p50_ms": round(pct(times, 50), 3), "p95_ms": round(pct(times, 95), 3)}
    print(f"  {row}", file=sys.stderr)
    del index
    return row


def usearch_rows(base: np.ndarray, queries: np.ndarray, kth: np.ndarray,
                 threads: int) -> list[dict[str, Any]]:
    """usearch HNSW as is (cosine), and centred (what voxmem uses: inner product over
    ``x - mean``, which ranks exactly as cosine; see engine/_org_vectors.py)."""
    from usearch.index import Index

    rows = []
    keys = np.arange(base.shape[0], dtype=np.uint64)
    center = base.mean(axis=0)
    variants = [("cos", "f16", False), ("cos", "i8", False), ("ip", "f16", True),
                ("ip", "i8", True)]
    for metric, dtype, centred in variants:
        data = np.ascontiguousarray(base - center if centred else base, dtype=np.float32)

        def build(metric: str = metric, dtype: str = dtype,
                  data: np.ndarray = data) -> Any:
            index = Index(ndim=base.shape[1], metric=metric, dtype=dtype, connectivity=16,
                          expansion_add=128, expansion_search=128)
            index.add(keys, data, threads=threads)
            return index

        gc.collect()
        rss0 = rss_mb()
        t = time.perf_counter()
        built = build()
        build_s = time.perf_counter() - t
        added = rss_mb() - rss0
        for ef in (64, 128, 256):
            built.expansion_search = ef

            def search(index: Any, q: np.ndarray) -> np.ndarray:
                return np.asarray(index.search(q, K, threads=1).keys, dtype=np.int64)

            label = "centred ip" if centred else "cosine"
            row = measure(f"usearch hnsw {label} {dtype} M=16 efC=128 ef={ef}",
                          _const(built), search, base, queries, kth)
            row["build_s"] = round(build_s, 1)
            row["added_rss_mb"] = round(added)
            row["bytes_on_disk_mb"] = round(built.serialized_length / 2**20)
            rows.append(row)
        del built
    return rows


def faiss_rows(base: np.ndarray, queries: np.ndarray, kth: np.ndarray,
               threads: int) -> list[dict[str, Any]]:
    import faiss

    faiss.omp_set_num_threads(threads)
    rows = []
    d = base.shape[1]
    nlist = int(4 * np.sqrt(base.shape[0]))

    def build_ivf() -> Any:  # faiss IVF trains on the data: no centring needed
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist,
                                              faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(3)
        index.train(base[rng.choice(base.shape[0], min(base.shape[0], 50 * nlist),
                                    replace=False)])
        index.add(base)
        return index

    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    ivf = build_ivf()
    build_s = time.perf_counter() - t
    added = rss_mb() - rss0
    faiss.omp_set_num_threads(1)  # a query runs on the caller's thread, as the lane does
    for nprobe in (16, 32, 64, 128):
        ivf.nprobe = nprobe

        def search(index: Any, q: np.ndarray) -> np.ndarray:
            return np.asarray(index.search(q[None, :], K)[1][0], dtype=np.int64)

        row = measure(f"faiss ivf{nlist} sq8 nprobe={nprobe}", _const(ivf), search,
                      base, queries, kth)
        row["build_s"] = round(build_s, 1)
        row["added_rss_mb"] = round(added)
        rows.append(row)
    del ivf
    faiss.omp_set_num_threads(threads)

    def build_hnsw() -> Any:
        index = faiss.IndexHNSWFlat(d, 16, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 64
        index.add(base)
        return index

    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    hnsw = build_hnsw()
    build_s = time.perf_counter() - t
    added = rss_mb() - rss0
    faiss.omp_set_num_threads(1)
    for ef in (32, 64, 128):
        hnsw.hnsw.efSearch = ef

        def search_h(index: Any, q: np.ndarray) -> np.ndarray:
            return np.asarray(index.search(q[None, :], K)[1][0], dtype=np.int64)

        row = measure(f"faiss hnsw flat M=16 efC=64 ef={ef}", _const(hnsw), search_h,
                      base, queries, kth)
        row["build_s"] = round(build_s, 1)
        row["added_rss_mb"] = round(added)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=("usearch", "faiss"))
    args = parser.parse_args()
    from voxmem.embeddings.static import StaticEmbedder

    embedder = StaticEmbedder()
    t = time.perf_counter()
    base = np.ascontiguousarray(embedder.embed(chunk_texts(args.size)), dtype=np.float32)
    queries = np.ascontiguousarray(embedder.embed(question_texts(args.queries)),
                                   dtype=np.float32)
    print(f"embedded {base.shape} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    kth = exact_top(base, queries)
    rows: list[dict[str, Any]] = []
    if args.only in (None, "usearch"):
        rows += usearch_rows(base, queries, kth, args.threads)
    if args.only in (None, "faiss"):
        rows += faiss_rows(base, queries, kth, args.threads)
    print(f"\n{args.size:,} chunks x {base.shape[1]} dims, {args.queries} real questions")
    print(f"{'index':44} {'build s':>8} {'+RSS MB':>8} {'recall@10':>10} {'p50 ms':>8} "
          f"{'p95 ms':>8}")
    for r in rows:
        print(f"{r['index']:44} {r['build_s']:>8} {r['added_rss_mb']:>8} "
              f"{r['recall@10']:>10} {r['p50_ms']:>8} {r['p95_ms']:>8}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "org_vectors.json").write_text(json.dumps(
        {"size": args.size, "dims": int(base.shape[1]), "queries": args.queries,
         "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
