"""CPU time of the in-memory hybrid index's hot operations (min of N runs).

A refactor of ``engine/_index.py`` and its parts must not slow these down. The index
is built from synthetic documents (Zipf-distributed words, unit vectors) so the run
needs no model and no data files; every figure is the minimum over ``--repeat`` runs of
the process CPU time of one block of queries, which is the least noisy measure on a
shared machine.

    python benchmarks/index_ops.py                 # 100,000 documents
    python benchmarks/index_ops.py --docs 20000 --repeat 5

Prints one line per operation (microseconds per call) and, with ``--json PATH``,
writes them as JSON (so two runs can be compared: ``--compare OLD.json``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voxmem.engine._index import HybridIndex, Where

DIMS = 256
VOCAB = 20_000
WORDS_PER_DOC = 24
QUERIES = 200
GROUPS = 1_000


def _corpus(n: int, rng: np.random.Generator) -> tuple[list[list[str]], np.ndarray]:
    ranks = np.minimum(rng.zipf(1.3, size=(n, WORDS_PER_DOC)), VOCAB) - 1
    words = [f"w{i}" for i in range(VOCAB)]
    terms = [[words[r] for r in row] for row in ranks.tolist()]
    vectors = rng.normal(size=(n, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return terms, vectors


def _cpu_min(fn: Callable[[], None], repeat: int, calls: int) -> float:
    """Microseconds of CPU time per call, the minimum over ``repeat`` blocks."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best / calls * 1e6


def run(n: int, repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(7)
    terms, vectors = _corpus(n, rng)
    ids = [f"doc-{i}" for i in range(n)]
    created = (rng.random(n) * 1e6).tolist()
    groups = rng.integers(0, GROUPS, n).tolist()
    queries = [terms[i][:6] for i in rng.integers(0, n, QUERIES).tolist()]
    qvecs = vectors[rng.integers(0, n, QUERIES)]
    out: dict[str, float] = {}

    def build() -> HybridIndex:
        index = HybridIndex(DIMS)
        for lo in range(0, n, 500):
            index.add_many(ids[lo:lo + 500], terms[lo:lo + 500],
                           created_at=created[lo:lo + 500], payloads=ids[lo:lo + 500],
                           groups=groups[lo:lo + 500], vectors=list(vectors[lo:lo + 500]),
                           bulk=True)
        index.compact()
        return index

    def build_once() -> None:
        build()

    out["build_us_per_doc"] = _cpu_min(build_once, repeat, n)
    index = build()

    def bm25() -> None:
        for q in queries:
            index.bm25(q, 10)

    def dense() -> None:
        for v in qvecs:
            index.dense(v, 10)

    def search() -> None:
        for q, v in zip(queries, qvecs, strict=True):
            index.search(q, v, 10)

    retention = Where(min_created=2e5, exclude_groups=(1, 2))
    one_group = [Where(groups=(g,)) for g in range(QUERIES)]

    def search_retention() -> None:
        for q, v in zip(queries, qvecs, strict=True):
            index.search(q, v, 10, retention)

    def search_group() -> None:
        for q, v, w in zip(queries, qvecs, one_group, strict=True):
            index.search(q, v, 10, w)

    def lookups() -> None:
        for i in range(0, n, max(1, n // 2_000)):
            pos = index.position_of(ids[i])
            assert pos is not None
            index.payload_at(pos)
            index.id_at(pos)

    for name, fn, calls in (("bm25_us", bm25, QUERIES), ("dense_us", dense, QUERIES),
                            ("search_us", search, QUERIES),
                            ("search_retention_us", search_retention, QUERIES),
                            ("search_group_us", search_group, QUERIES),
                            ("lookup_us", lookups, len(range(0, n, max(1, n // 2_000))))):
        out[name] = _cpu_min(fn, repeat, calls)

    def single_adds() -> None:
        extra = HybridIndex(DIMS)
        for i in range(2_000):
            extra.add(ids[i], terms[i], created_at=created[i], payload=ids[i],
                      group=groups[i], vector=vectors[i])

    out["add_us"] = _cpu_min(single_adds, repeat, 2_000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--compare", type=Path, help="an earlier --json to divide by")
    args = parser.parse_args()
    figures = run(args.docs, args.repeat)
    old = json.loads(args.compare.read_text()) if args.compare else {}
    for name, value in figures.items():
        ratio = f"  x{value / old[name]:.2f} of before" if name in old else ""
        print(f"{name:22s} {value:10.2f}{ratio}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
