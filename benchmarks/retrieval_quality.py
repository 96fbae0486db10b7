"""Retrieval quality on the shared dev data, next to plain BM25 and plain dense baselines.

Runs the shared harness (``../shared/eval/harness.py``) three or more times in one
process: voxmem's engine (through ``import_history`` and ``search_memory``, exactly as an
agent would use it), a plain BM25 baseline and a plain dense MiniLM baseline. Prints one
table per dataset and writes ``benchmarks/results/retrieval_quality.json``.

    python benchmarks/retrieval_quality.py                    # LoCoMo dev + LongMemEval dev40
    python benchmarks/retrieval_quality.py --dataset locomo --embedder onnx
    python benchmarks/retrieval_quality.py --settings '{"fusion": "rrf"}'   # hand-set fusion
    # memories by the full model, the query by a static table (PairedEmbedder)
    python benchmarks/retrieval_quality.py --embedder onnx --query-model static
    # both embeddings side by side (the table and MiniLM; needs the onnx extra)
    python benchmarks/retrieval_quality.py --embedder static+onnx

The dense baseline uses sentence-transformers when it is installed (the reference
implementation in ``baselines.py``); otherwise the same MiniLM weights through voxmem's
bundled ONNX export, which is what the table then says.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VOXMEM_SHARED_DIR", ROOT.parent / "shared"))
EVAL = SHARED / "eval"
RESULTS = ROOT / "benchmarks" / "results"


class VoxmemAdapter:
    """The harness adapter: one engine, one caller per harness user, recall by the engine."""

    name = "voxmem"

    def __init__(self, embedder: str = "static", rank: dict[str, Any] | None = None,
                 query_model: str | None = None, **settings: Any) -> None:
        from voxmem import Settings

        self._rank = rank or {}
        self._embedder = embedder
        # Built once: the harness resets the engine for every conversation or question.
        self._pair = pair_embedder(embedder, query_model) if query_model else None
        self._second = second_embedder(embedder)
        self._overrides = settings
        self._settings_cls = Settings
        self._loop = asyncio.new_event_loop()
        self._engine: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.now = time.time()
        self.name = f"voxmem[{embedder}+q:{query_model}]" if query_model else f"voxmem[{embedder}]"

    def reset(self) -> None:
        from voxmem.engine import MemoryEngine

        self.close()
        self._tmp = tempfile.TemporaryDirectory(prefix="voxmem-eval-")
        # Retention is a policy, not retrieval: the datasets span more than 90 days.
        options = {"memory_retention_days": 0, "extractor": "off", **self._overrides}
        settings = self._settings_cls(data_dir=self._tmp.name, embedder=self._embedder,  # type: ignore[arg-type]
                                      journal_fsync="never", **options)
        self._engine = MemoryEngine(settings, clock=lambda: self.now, embedder=self._pair,
                                    second_embedder=self._second)
        if self._rank:  # ablations: ranking constants that are not settings
            self._engine.params = dataclasses.replace(self._engine.params, **self._rank)
        self._loop.run_until_complete(self._engine.start())

    def close(self) -> None:
        if self._engine is not None:
            self._loop.run_until_complete(self._engine.close())
            self._engine = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _scope(self, user_id: str) -> Any:
        return self._engine.scope(project_id="eval", agent_id="eval", user_id=user_id)

    def ingest(self, user_id: str, session_id: str, timestamp_iso: str,
               turns: list[dict[str, str]]) -> None:
        from voxmem.models import Caller

        at = _ts(timestamp_iso)
        self.now = max(self.now, at)
        session = {"sessionId": f"{user_id}:{session_id}", "startedAt": at, "endedAt": at,
                   "metadata": {}, "turns": [
                       {"userText": f"{t['speaker']}: {t['text']}", "assistantText": "",
                        "createdAt": at, "turnId": t["id"], "metadata": {}} for t in turns]}
        self._loop.run_until_complete(self._engine.import_history(
            self._scope(user_id), Caller(user_id), [session]))
        # Searches measure the steady state: what was written is in the store and the
        # warm index. (The cold path ranks the same way, but right after an import the
        # vectors may still be on their way to the store.)
        self._loop.run_until_complete(self._warm_up(self._scope(user_id)))

    def search(self, user_id: str, query: str, k: int, now_iso: str) -> list[str]:
        self.now = _ts(now_iso)
        result = self._loop.run_until_complete(self._engine.search_memory(
            self._scope(user_id), query, lanes=["permanent"], top_k={"permanent": k},
            timeout_ms=5000))
        return [h["turnId"] for h in result.permanent if h.get("turnId")]


    async def _warm_up(self, scope: Any) -> None:
        await self._engine.flush(600)
        mem = self._engine.callers.get(scope)
        await mem.ready.wait()
        if self._engine.second is not None:
            # Both embeddings: the full model's vectors are written after the batch.
            await self._engine.second.wait_idle(600)


class OnnxDenseAdapter:
    """Plain dense retrieval over MiniLM (voxmem's ONNX export of the same weights)."""

    name = "dense-minilm (onnx)"

    def __init__(self) -> None:
        from voxmem.embeddings.onnx import OnnxEmbedder

        self.model = OnnxEmbedder()
        self.reset()

    def reset(self) -> None:
        self.ids: dict[str, list[str]] = {}
        self.vecs: dict[str, list[np.ndarray[Any, Any]]] = {}

    def ingest(self, user_id: str, session_id: str, timestamp_iso: str,
               turns: list[dict[str, str]]) -> None:
        vectors = self.model.embed([f"{t['speaker']}: {t['text']}" for t in turns])
        self.ids.setdefault(user_id, []).extend(t["id"] for t in turns)
        self.vecs.setdefault(user_id, []).extend(vectors)

    def search(self, user_id: str, query: str, k: int, now_iso: str) -> list[str]:
        if user_id not in self.ids:
            return []
        matrix = np.stack(self.vecs[user_id])
        scores = matrix @ self.model.embed([query])[0]
        return [self.ids[user_id][i] for i in np.argsort(-scores)[:k]]


def second_embedder(embedder: str) -> Any:
    """The second model of ``embedder="static+onnx"``, loaded once for every reset
    (None for any other embedder)."""
    from voxmem import Settings
    from voxmem.embeddings import load_second_embedder

    return load_second_embedder(Settings(embedder=embedder))  # type: ignore[arg-type]


def pair_embedder(memories: str, query_model: str) -> Any:
    """Memories by ``memories``, queries by ``query_model`` (``static``, ``onnx``, or
    the directory of a static table, e.g. one ``scripts/distill_static.py`` wrote)."""
    from voxmem import Settings
    from voxmem.embeddings import PairedEmbedder, load_embedder
    from voxmem.embeddings.static import StaticEmbedder

    def one(model: str) -> Any:
        if model == "onnx":
            return load_embedder(Settings(embedder="onnx"))
        if model == "static":
            return load_embedder(Settings(embedder="static"))
        return StaticEmbedder(model)

    return PairedEmbedder(one(memories), one(query_model))


def _ts(iso_text: str) -> float:
    parsed = dt.datetime.fromisoformat(iso_text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _harness() -> Any:
    sys.path.insert(0, str(EVAL))
    import harness

    return harness


def run(dataset: str, adapter: Any, limit: int | None) -> dict[str, Any]:
    """One harness run, with the harness's own defaults for everything we do not set."""
    harness = _harness()
    args = argparse.Namespace(
        dataset=dataset, split="all", k=10, lme_k=50, limit=limit, lme_keep_abs=False,
        lme_roles="user", skip_categories=[], no_captions=False, budget_ms=250.0,
        per_query=False, progress=False,
        locomo_file=str(EVAL / "data" / "locomo_dev.json"),
        lme_file=str(EVAL / "data" / "longmemeval_s_dev40.json"))
    started = time.perf_counter()
    res = (harness.run_locomo if dataset == "locomo" else harness.run_longmemeval)(
        adapter, args)
    return {"adapter": getattr(adapter, "name", type(adapter).__name__),
            "wall_s": round(time.perf_counter() - started, 1), "results": res}


def headline(dataset: str, out: dict[str, Any]) -> dict[str, float]:
    """The rows of the project's target table (issue 11) for one run."""
    r = out["results"]
    if dataset == "locomo":
        g = r["overall_cat1-4"]
        multi = next(v for key, v in r["by_category"].items() if key.startswith("1 "))
        return {k: g[f"recall@{k.split('@')[1]}"] for k in ("r@1", "r@5", "r@10")} | {
            "multihop_r@10": multi["recall@10"],
            "p50_ms": r["search_ms"]["p50"], "p95_ms": r["search_ms"]["p95"]}
    g = r["session_level"]["overall"]
    t = r["turn_level"]["overall"]
    pref = r["session_level"]["by_type"].get("single-session-preference", {})
    return {"t_r@1": t["t_recall@1"], "t_r@3": t["t_recall@3"], "t_r@5": t["t_recall@5"],
            "t_r@10": t["t_recall@10"],
            "s_r@1": g["s_recall@1"], "s_r@5": g["s_recall@5"], "s_r@10": g["s_recall@10"],
            "pref_s_r@5": pref.get("s_recall@5", float("nan")),
            "p50_ms": r["search_ms"]["p50"], "p95_ms": r["search_ms"]["p95"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["locomo", "longmemeval", "both"], default="both")
    parser.add_argument("--embedder", action="append",
                        help="voxmem embedder(s) to evaluate (default: static)")
    parser.add_argument("--limit", type=int, default=None, help="LongMemEval: first N questions")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--settings", default="{}", help="JSON engine setting overrides")
    parser.add_argument("--rank", default="{}",
                        help="JSON overrides of the engine's RankParams (ablations)")
    parser.add_argument("--query-model", help="embed queries with another model of the "
                        "same vector space (static, onnx, or a static table's directory); "
                        "memories by --embedder")
    parser.add_argument("--json", default=str(RESULTS / "retrieval_quality.json"))
    args = parser.parse_args()
    overrides = json.loads(args.settings)
    datasets = ["locomo", "longmemeval"] if args.dataset == "both" else [args.dataset]
    rank = json.loads(args.rank)
    adapters: list[Any] = [VoxmemAdapter(e, rank, args.query_model, **overrides)
                           for e in (args.embedder or ["static"])]
    if not args.no_baselines:
        sys.path.insert(0, str(EVAL))
        import baselines

        adapters.append(baselines.BM25Adapter())
        try:
            adapters.append(baselines.DenseAdapter())
        except ImportError:
            adapters.append(OnnxDenseAdapter())
    report: dict[str, Any] = {"datasets": {}, "settings": overrides, "rank": rank,
                              "query_model": args.query_model}
    for dataset in datasets:
        rows = []
        for adapter in adapters:
            out = run(dataset, adapter, args.limit)
            rows.append({"adapter": out["adapter"], "wall_s": out["wall_s"],
                         **headline(dataset, out)})
        report["datasets"][dataset] = rows
        cols = [c for c in rows[0] if c not in ("adapter",)]
        print(f"\n== {dataset}")
        width = {c: max(9, len(c) + 2) for c in cols}
        print(f"{'adapter':<28}" + "".join(f"{c:>{width[c]}}" for c in cols))
        for row in rows:
            print(f"{row['adapter']:<28}" + "".join(
                f"{row[c]:>{width[c]}.3f}" if isinstance(row[c], float)
                else f"{row[c]:>{width[c]}}" for c in cols))
    for adapter in adapters:
        if isinstance(adapter, VoxmemAdapter):
            adapter.close()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
