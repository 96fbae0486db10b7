"""The caller lanes' CPU by stage, on a ``search_profile.py`` directory, replayed.

``search_profile.py run`` measures a whole search (the event loop's CPU); a cut of a
tenth of a millisecond in one stage is lost in its noise on a busy machine. This script
searches each question once (as ``run`` does after its warm-up) and keeps the caller
lanes' calls, then replays them ``--repeats`` times with a timer around each stage, the
same inputs every time, so two versions of the code compare stage by stage:

    python benchmarks/caller_stages.py KEPT [--queries 500] [--repeats 5] [--out stages.json]

The replay scores the caller's rows for the query vector inline (the search does that
on a lane thread), so "index search" holds that scan too. ``--answers`` writes every
replayed lane's hits (id, score), to check two versions answer the same.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recall_latency import corpus, pct
from search_start import started

#: (module, attribute, label): the stages timed, in the order a lane runs them.
STAGES = (
    ("_recall", "_searched", "index search"),
    ("_recall", "fuse", "fusion (RRF)"),
    ("_recall", "_gather", "gather (both above, fact confidence)"),
    ("_fusion", "base_rows", "feature rows"),
    ("_fusion", "topic_rows", "topic rows picked"),
    ("_topic.TopicModel", "features", "topic features"),
    ("_recall", "candidate_features", "features (the three above)"),
    ("_recall", "learned_rank", "model's score and order"),
    ("_recall", "prefer_current", "prefer_current"),
    ("_recall", "doc_hit", "hits"),
)


def _target(path: str) -> Any:
    from voxmem import engine

    mod, _, cls = path.partition(".")
    obj = getattr(engine, mod)
    return getattr(obj, cls) if cls else obj


async def replay(args: argparse.Namespace, data_dir: str) -> dict[str, Any]:
    from voxmem.engine import _recall, _search

    calls: list[tuple[Any, ...]] = []
    search_lane = _recall.search_caller_lane

    def keep(mem: Any, lane: str, query: Any, k: int, params: Any, words: Any = None,
             ) -> list[dict[str, Any]]:
        # The scans are the search's own (one use each): the replay scans inline.
        calls.append((mem, lane, dataclasses.replace(query, scan=None, second_scan=None),
                      k, params, words))
        return search_lane(mem, lane, query, k, params, words)

    _, questions = corpus()
    queries = questions[: args.queries]
    async with started(data_dir, args.embedder, json.loads(args.settings),
                       queries) as (engine, scope, _mem):
        # The engine's search calls the lane through its module's name for it.
        _search.search_caller_lane = keep  # type: ignore[attr-defined]
        try:
            for q in queries:
                await engine.search_memory(scope, q, timeout_ms=1000)
        finally:
            _search.search_caller_lane = search_lane  # type: ignore[attr-defined]
    answers = [[(h["id"], h["score"]) for h in search_lane(*c)] for c in calls]
    spent: dict[str, float] = {}

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:
            t = time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                spent[label] = spent.get(label, 0.0) + time.thread_time() - t
        return wrapper

    saved = [(_target(path), name, getattr(_target(path), name)) for path, name, _ in STAGES]
    for (obj, name, fn), (_, _, label) in zip(saved, STAGES, strict=True):
        setattr(obj, name, timed(label, fn))
    per_call = [float("inf")] * len(calls)
    try:
        for _ in range(args.repeats):
            for i, c in enumerate(calls):
                t = time.thread_time()
                search_lane(*c)
                per_call[i] = min(per_call[i], time.thread_time() - t)
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)
    runs = args.repeats * len(queries)
    lanes: dict[str, list[float]] = {}
    for c, cpu in zip(calls, per_call, strict=True):
        lanes.setdefault(c[1], []).append(cpu * 1000)
    return {"queries": len(queries), "repeats": args.repeats, "answers": answers,
            # mean CPU per search (both caller lanes), microseconds
            "stages_us": {label: spent.get(label, 0.0) / runs * 1e6
                          for _, _, label in STAGES},
            "lane_ms": {lane: {"p50": pct(v, 50), "p95": pct(v, 95),
                               "mean": sum(v) / len(v)} for lane, v in lanes.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--settings", default='{"extractor": "off"}')
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="caller_stages.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="voxmem-stages-") as tmp:
        copy = str(Path(tmp) / "data")
        shutil.copytree(args.dir, copy)
        out = asyncio.run(replay(args, copy))
    Path(args.out).write_text(json.dumps(out, indent=0))
    print(f"{out['queries']} questions, each lane call replayed {out['repeats']} times")
    print("lane CPU per call, min of the repeats, p50/p95/mean ms: " + ", ".join(
        f"{k} {v['p50']:.3f}/{v['p95']:.3f}/{v['mean']:.3f}" for k, v in out["lane_ms"].items()))
    print("stage CPU per search (both caller lanes), mean of every repeat, us:")
    for label, us in out["stages_us"].items():
        print(f"  {label:<40} {us:8.0f}")


if __name__ == "__main__":
    main()
