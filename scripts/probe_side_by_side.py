"""Where ``embedder="static+onnx"`` misses on LongMemEval's dev questions, lane by lane,
and ranking variants measured on one ingest (docs/recall.md, "A sixth round for both
embeddings").

Each question's haystack is imported once through the product
(``benchmarks/retrieval_quality.py``'s adapter, ``import_history``), then searched with
``search_memory`` (k = 50) under each variant in turn: ``RankParams`` overrides, as the
benchmark's ``--rank`` takes them. ``--lanes`` adds each lane alone (keyword, the
table's cosine, MiniLM's cosine: the other lists' weights, the call, neighbour and time
terms, the list caps and recency at 0, hand-set fusion, no floors). A variant's
``"combmax"`` entry ranks the two vector lists as one vote, the better of their ranks
(``w * max(wt / (k + r_table), wm / (k + r_MiniLM))``), by a patched ``_rank.rrf``: a
probe, not a product setting. Prints each question's answer session and turn ranks per
variant, then the benchmark's rows per variant::

    python scripts/probe_side_by_side.py --lanes
    python scripts/probe_side_by_side.py --variants '{"nb0.1": {"neighbour_weight": 0.1}}'
    python scripts/probe_side_by_side.py --variants \\
        '{"max": {"combmax": {"w": 1.0, "wt": 1.0, "wm": 1.0}}}'

The base row reproduces ``python benchmarks/retrieval_quality.py --dataset longmemeval
--embedder static+onnx --no-baselines`` exactly. Needs the ``onnx`` extra.

``--loop-cpu`` instead measures the event loop's thread CPU of a permanent-lane search
over one LoCoMo caller (conversation 0 unless ``--conversation``): a ``static``
engine, a ``static+onnx`` one, and the latter with its third list unused
(``second_weight`` 0), the three interleaved question by question, three rounds::

    python scripts/probe_side_by_side.py --loop-cpu
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "src"))

import retrieval_quality as rq  # noqa: E402
from voxmem.engine import _rank  # noqa: E402

K = 50
_LANE = {"call_weight": 0.0, "neighbour_weight": 0.0, "time_weight": 0.0,
         "list_call_cap": 0, "list_top_cap": 0, "recency_weight": 0.0,
         "list_call_weight": 0.0, "fusion": None}
LANES = {
    "keyword": {"dense_weight": 0.0, "second_weight": 0.0, **_LANE},
    "table": {"keyword_weight": 0.0, "second_weight": 0.0, "dense_floor": -1.0, **_LANE},
    "MiniLM": {"keyword_weight": 0.0, "dense_weight": 0.0, "second_floor": -1.0, **_LANE},
}
#: The CombMAX weights of the variant being searched (empty: the product's fusion).
_combmax: dict[str, float] = {}
_product_rrf = _rank.rrf


def _rrf(keyword: Sequence[Any], dense: Sequence[tuple[Any, float]], params: _rank.RankParams,
         second: Sequence[tuple[Any, float]] | None = None) -> dict[Any, float]:
    if not _combmax or second is None or params.second_weight <= 0:
        return _product_rrf(keyword, dense, params, second)
    fused: dict[Any, float] = {}
    for rank, key in enumerate(keyword):
        fused[key] = fused.get(key, 0.0) + params.keyword_weight / (params.rrf_k + rank + 1)
    vote: dict[Any, float] = {}
    for lists, floor, weight in ((dense, params.dense_floor, _combmax["wt"]),
                                 (second, params.second_floor, _combmax["wm"])):
        for rank, (key, cos) in enumerate(lists):
            if cos < floor and key not in fused:
                continue
            vote[key] = max(vote.get(key, 0.0), weight / (params.rrf_k + rank + 1))
    for key, value in vote.items():
        fused[key] = fused.get(key, 0.0) + _combmax["w"] * value
    best = (params.keyword_weight
            + _combmax["w"] * max(_combmax["wt"], _combmax["wm"])) / (params.rrf_k + 1)
    return {key: value / best for key, value in fused.items()}


def _ranks(ranked: list[str], gold: set[str], turn_session: dict[str, str],
           gold_sessions: set[str]) -> tuple[list[int], list[int]]:
    sessions: list[str] = []
    for tid in ranked:
        if turn_session[tid] not in sessions:
            sessions.append(turn_session[tid])
    miss = 999
    return (sorted(sessions.index(s) + 1 if s in sessions else miss for s in gold_sessions),
            sorted(ranked.index(t) + 1 if t in ranked else miss for t in gold))


def loop_cpu(conversation: int, questions: int = 150, rounds: int = 3) -> None:
    """Loop-thread CPU per search: ``static``, ``static+onnx``, and without its list."""
    harness = rq._harness()
    sample = json.loads((rq.EVAL / "data" / "locomo_dev.json").read_text("utf-8"))[
        conversation]
    uid = sample["sample_id"]
    adapters = {}
    for name in ("static", "static+onnx"):
        adapter = rq.VoxmemAdapter(name)
        adapter.reset()
        for sess in harness.locomo_sessions(sample):
            adapter.ingest(uid, sess["session_id"], sess["dt"].isoformat(), [
                {"id": f"{uid}:{t['dia_id']}", "speaker": t["speaker"], "text": t["text"]}
                for t in sess["turns"]])
        adapters[name] = adapter
    asked = [qa["question"] for qa in sample["qa"]
             if int(qa["category"]) in (1, 2, 3, 4)][:questions]
    both = adapters["static+onnx"]
    settings = {"static": (adapters["static"], adapters["static"]._engine.params),
                "static+onnx": (both, both._engine.params),
                "static+onnx, third list unused": (
                    both, dataclasses.replace(both._engine.params, second_weight=0.0))}

    def search(adapter: Any, params: _rank.RankParams, query: str) -> float:
        adapter._engine.params = params
        started = time.thread_time()
        adapter._loop.run_until_complete(adapter._engine.search_memory(
            adapter._scope(uid), query, lanes=["permanent"], top_k={"permanent": 6},
            timeout_ms=5000))
        return (time.thread_time() - started) * 1000

    for query in asked[:20]:  # warm-up
        for adapter, params in settings.values():
            search(adapter, params, query)
    cpu: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(rounds):
        for query in asked:
            for name, (adapter, params) in settings.items():
                cpu[name].append(search(adapter, params, query))
    turns = len(adapters["static"]._engine.callers.get(adapters["static"]._scope(uid)).index)
    print(f"LoCoMo conversation {conversation}: {turns} memories, {len(asked)} questions "
          f"x {rounds}")
    for name, values in cpu.items():
        print(f"{name:<34} loop CPU p50 {np.percentile(values, 50):.2f} p95 "
              f"{np.percentile(values, 95):.2f} mean {np.mean(values):.2f} ms")
    for adapter in adapters.values():
        adapter.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="{}", help="JSON: name -> RankParams overrides")
    parser.add_argument("--lanes", action="store_true", help="also each lane alone")
    parser.add_argument("--json", help="write every question's ranks here")
    parser.add_argument("--limit", type=int, help="the first N questions only")
    parser.add_argument("--loop-cpu", action="store_true",
                        help="instead, the loop CPU of the third list (see above)")
    parser.add_argument("--conversation", type=int, default=0)
    args = parser.parse_args()
    if args.loop_cpu:
        loop_cpu(args.conversation)
        return
    variants: dict[str, dict[str, Any]] = {"base": {}, **json.loads(args.variants)}
    if args.lanes:
        variants.update(LANES)
    _rank.rrf = _rrf  # fuse() looks rrf up at call time
    harness = rq._harness()
    data = json.loads((rq.EVAL / "data" / "longmemeval_s_dev40.json").read_text("utf-8"))
    data = data[:args.limit] if args.limit else data
    adapter = rq.VoxmemAdapter("static+onnx")
    out: dict[str, Any] = {}
    for d in data:
        qid = d["question_id"]
        if qid.endswith("_abs"):
            continue
        uid = f"lme:{qid}"
        adapter.reset()
        turn_session: dict[str, str] = {}
        gold: set[str] = set()
        for sid, date, turns in sorted(
                zip(d["haystack_session_ids"], d["haystack_dates"], d["haystack_sessions"],
                    strict=True), key=lambda x: harness.lme_parse_dt(x[1])):
            rows = []
            for j, t in enumerate(turns):
                if t.get("role") != "user":
                    continue
                tid = f"{uid}:{sid}:{j}"
                turn_session[tid] = sid
                if t.get("has_answer"):
                    gold.add(tid)
                rows.append({"id": tid, "speaker": t["role"], "text": t["content"]})
            if rows:
                adapter.ingest(uid, sid, harness.lme_parse_dt(date).isoformat(), rows)
        gold_sessions = set(d.get("answer_session_ids") or []) & set(turn_session.values())
        engine = adapter._engine
        base = engine.params
        got = {}
        for name, over in variants.items():
            over = dict(over)
            _combmax.clear()
            _combmax.update(over.pop("combmax", {}))
            engine.params = dataclasses.replace(base, **over)
            ranked = adapter.search(uid, d["question"], K,
                                    harness.lme_parse_dt(d["question_date"]).isoformat())
            got[name] = _ranks(ranked, gold, turn_session, gold_sessions)
        engine.params = base
        out[qid] = {"question": d["question"], "type": d["question_type"], "ranks": got}
        print(qid, d["question_type"], d["question"][:70], got, flush=True)
    adapter.close()
    for name in variants:
        turns = [np.asarray(v["ranks"][name][1]) for v in out.values() if v["ranks"][name][1]]
        sessions = [(v["type"], np.asarray(v["ranks"][name][0])) for v in out.values()
                    if v["ranks"][name][0]]
        pref = [float(np.mean(s <= 5)) for t, s in sessions if t == "single-session-preference"]
        print(f"{name}: turn r@5 {np.mean([np.mean(t <= 5) for t in turns]):.3f}"
              f" r@10 {np.mean([np.mean(t <= 10) for t in turns]):.3f}"
              f" session r@5 {np.mean([np.mean(s <= 5) for _, s in sessions]):.3f}"
              f" preference {np.mean(pref):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
