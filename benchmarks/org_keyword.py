"""The org lane's keyword (BM25) search alone, on a kept ``org_scale.py`` store.

Reads the org rows file of a store built by ``python benchmarks/org_scale.py --keep DIR``
(read-only: the file is mapped, nothing is written), installs its postings and runs the
org benchmark's questions through ``Postings.search`` for the top 80 (the org lane's
keyword depth at k = 10), twice per question: scoring every posting (the exhaustive
path) and pruned (MaxScore, ``engine/_bm25.py``), interleaved so both see the same
machine. Reports thread CPU per search (min of ``--min-of`` runs; a busy machine
inflates it far less than wall time), the postings the questions list and the share the
pruned search scores, and checks that both return the same chunks and scores.

    python benchmarks/org_keyword.py DIR [--queries 300] [--min-of 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import voxmem.engine._bm25 as bm25
import voxmem.engine._postings as postings_module
from org_scale import question_texts
from voxmem.engine._analysis import analyze
from voxmem.engine._index import Ranked
from voxmem.engine._org_snapshot import _HEADER_LEN, MAGIC, read_rows
from voxmem.engine._postings import Postings

DEPTH = 80


def load(data_dir: Path) -> tuple[Postings, int]:
    """The postings of the store's (one) org rows file."""
    # The newest: a copied store writes its own next to the one it was copied with.
    found = sorted((data_dir / "org-vectors").glob("*.rows"), key=lambda p: p.stat().st_mtime)
    if not found:
        sys.exit(f"no org rows file under {data_dir}: build it with org_scale.py --keep")
    path = found[-1]
    with path.open("rb") as f:
        f.seek(-4096, 2)
        tail = f.read()
    end = len(tail) - len(MAGIC) - _HEADER_LEN.size
    (length,) = _HEADER_LEN.unpack_from(tail, end)
    header = json.loads(tail[end - length:end])
    rows = read_rows(path, model=header["model"], dimensions=header["dimensions"],
                     versions=header["versions"])
    if rows is None:
        sys.exit(f"{path.name}: not a readable org rows file")
    postings = Postings(threading.RLock())
    postings.install(rows.terms, rows.segments, rows.doc_len, rows.len_sum)
    return postings, int(rows.doc_len.shape[0])


def same(a: Ranked, b: Ranked) -> bool:
    return (a.positions.tolist() == b.positions.tolist()
            and a.scores.tobytes() == b.scores.tobytes())


def pct(values: Sequence[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--min-of", type=int, default=3)
    args = parser.parse_args()
    postings, n = load(args.dir)
    ok = np.ones(n, dtype=np.bool_)
    questions = [analyze(q) for q in question_texts(args.queries)]
    real = bm25.contributions
    scored = [0]

    def counted(docs: Any, *rest: Any) -> Any:
        scored[0] += int(docs.shape[0])
        return real(docs, *rest)

    bm25.contributions = counted  # type: ignore[assignment]

    def timed(terms: list[str], prune: bool) -> tuple[float, int, Ranked]:
        setattr(postings_module, "PRUNE_MIN_POSTINGS",  # noqa: B010 (not re-exported)
                bm25.PRUNE_MIN_POSTINGS if prune else 1 << 62)
        best, got = float("inf"), Ranked.empty()
        for _ in range(args.min_of):
            scored[0] = 0
            t = time.thread_time()
            got = postings.search(terms, DEPTH, n, None, ok, n, None)
            best = min(best, time.thread_time() - t)
        return best * 1000, scored[0], got

    cpu: dict[bool, list[float]] = {True: [], False: []}
    work: dict[bool, int] = {True: 0, False: 0}
    differ = 0
    for terms in questions:
        results: dict[bool, Ranked] = {}
        for prune in (False, True):
            ms, rows, results[prune] = timed(terms, prune)
            cpu[prune].append(ms)
            work[prune] += rows
        differ += not same(results[False], results[True])
    listed = [postings.cost(terms) for terms in questions]
    print(f"{n:,} chunks, {len(questions)} questions, top {DEPTH}, CPU per search "
          f"(min of {args.min_of}); postings listed p50 {pct(listed, 50):,.0f} "
          f"p95 {pct(listed, 95):,.0f}")
    for prune, name in ((False, "every posting"), (True, "pruned (MaxScore)")):
        values = cpu[prune]
        print(f"  {name:18} p50 {pct(values, 50):6.2f}  p95 {pct(values, 95):6.2f}  "
              f"p99 {pct(values, 99):6.2f}  mean {np.mean(values):6.2f} ms   postings "
              f"scored {work[prune] / max(sum(listed), 1):.2f} of listed")
    slower = sum(b > 1.1 * a for a, b in zip(cpu[False], cpu[True], strict=True))
    print(f"  answers differing: {differ} of {len(questions)}; pruned over 10 % slower "
          f"than every posting on {slower}")


if __name__ == "__main__":
    main()
