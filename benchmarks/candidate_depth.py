"""Another benchmark or script run at a smaller candidate depth: the ablation of fewer
candidates (docs/recall.md and docs/performance.md, "A ninth round").

Every caller and org ranking takes ``max(MIN_CANDIDATES, k * CANDIDATES_PER_HIT)``
candidates (``engine/_recall.py``), and learned fusion computes its feature rows for
all of them and their call neighbours. This runs ``SCRIPT`` in this process with

- ``--per-hit N --min M``: those two constants set to N and M (every lane's depth), or
- ``--feature-per-hit N``: the rankings at their depth, but learned fusion's feature rows
  only for the best ``k * N`` candidates by the fused score (and their neighbours): a
  cheap first pass (BM25 and vector ranks, RRF) over the deep lists, the full features
  for its best few.

then prints and writes what ``SCRIPT`` prints and writes (give it its own ``--out`` or
``--json`` so the default run's results are not overwritten):

    python benchmarks/candidate_depth.py --per-hit 4 --min 24 -- \\
        benchmarks/retrieval_quality.py --no-baselines --json depth4.json
    python benchmarks/candidate_depth.py --feature-per-hit 4 -- \\
        benchmarks/search_profile.py run KEPT --out f4.json
    python benchmarks/candidate_depth.py --per-hit 4 --min 24 -- \\
        scripts/fit_fusion.py --dry-run
"""

from __future__ import annotations

import argparse
import runpy
import sys
from itertools import islice
from operator import itemgetter
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-hit", type=int, help="CANDIDATES_PER_HIT (default 8)")
    parser.add_argument("--min", type=int, help="MIN_CANDIDATES (default 40)")
    parser.add_argument("--feature-per-hit", type=int,
                        help="feature rows for the best k * N fused candidates only")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args()

    import voxmem.engine._recall as recall

    if args.per_hit is not None:
        recall.CANDIDATES_PER_HIT = args.per_hit
    if args.min is not None:
        recall.MIN_CANDIDATES = args.min
    if args.feature_per_hit is not None:
        _first_pass(recall, args.feature_per_hit)
    sys.argv = [args.script, *args.args]
    runpy.run_path(args.script, run_name="__main__")


def _first_pass(recall: Any, per_hit: int) -> None:
    """Learned fusion's feature rows for the best ``k * per_hit`` fused candidates only.

    ``candidate_features`` is not told ``k``: the two functions that call it with a
    lane's fused candidates set it for the call (one search at a time per process)."""
    import voxmem.engine._search as search

    features, lane_search, candidates = (recall.candidate_features,
                                         recall.search_caller_lane, recall.caller_candidates)
    keep = [0]

    def cut(index: Any, fused: list[tuple[int, float]], *rest: Any, **kw: Any) -> Any:
        n = keep[0]
        if 0 < n < len(fused):
            fused = list(islice(sorted(fused, key=itemgetter(1), reverse=True), n))
        return features(index, fused, *rest, **kw)

    def search_caller_lane(mem: Any, lane: str, query: Any, k: int, params: Any,
                           words: Any = None) -> Any:
        keep[0] = k * per_hit
        return lane_search(mem, lane, query, k, params, words)

    def caller_candidates(mem: Any, lane: str, query: Any, k: int, params: Any) -> Any:
        keep[0] = k * per_hit
        return candidates(mem, lane, query, k, params)

    recall.candidate_features = cut
    recall.search_caller_lane = search_caller_lane
    recall.caller_candidates = caller_candidates
    # The engine's search imported the lane function by name (scripts/fit_fusion.py
    # imports it after this, from the module).
    search.search_caller_lane = search_caller_lane  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
