"""Measure both embeddings side by side: the static table and the full MiniLM (``onnx``).

Every memory keeps the table's vector and gets the full model's as well; the query is
embedded by both. The full model's cosine ranking joins the keyword and table rankings
as a third list of the reciprocal-rank fusion (``weight / (rrf_k + rank)``, its own
floor for a hit that only it finds), so it adds candidates and enters the ``fused``
feature of the learned model. ``--rescore`` is the cheaper variant: the full model's
cosine only re-ranks the candidates the other two lanes found (no vector search of its
own). ``--features`` adds the full model's cosine columns to the learned model.

This is the measurement that came before the product: it runs the default engine
(``embedder="static"``), keeps the full model's vectors beside it (by text, in
``--vector-cache`` if given) and wraps two private ranking functions of the engine
(``_recall._searched`` and ``_rank.rrf``) for the run. The shipped option,
``embedder="static+onnx"`` (``engine/_second.py``), is measured by
``benchmarks/retrieval_quality.py --embedder static+onnx``; this script stays for the
variants the option does not offer (``--rescore``, ``--features``, other weights).
Candidates are gathered by ``scripts/fit_fusion.py``'s collector; LoCoMo figures are
its held-out folds, the asker's questions (37 of LongMemEval's 38) keep the hand-set
ranking as in the engine. docs/recall.md ("A fifth round") has the results.

    python scripts/measure_side_by_side.py --pairs 0.5:0,0.25:0.75 --fit 0.25:0.75
    python scripts/measure_side_by_side.py --rescore --pairs 0.25:0.75 --fit 0.25:0.75
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "src"))

import fit_fusion as ff  # noqa: E402

from voxmem.embeddings.onnx import OnnxEmbedder  # noqa: E402
from voxmem.engine import _rank, _recall  # noqa: E402
from voxmem.engine._analysis import analyze  # noqa: E402
from voxmem.engine._time import parse_when  # noqa: E402

#: Depth of a reciprocal rank feature: ranks past it count as absent, as in the engine.
RANK_DEPTH = 40


class FullModel:
    """The full model's vectors by text (sha1), computed once and optionally cached."""

    def __init__(self, cache: Path | None) -> None:
        self.cache = cache
        self.store: dict[str, np.ndarray[Any, Any]] = {}
        if cache is not None and cache.exists():
            z = np.load(cache)
            self.store = dict(zip(z["keys"].tolist(), z["vecs"], strict=True))
        self.known = len(self.store)
        self.model: OnnxEmbedder | None = None

    def embed(self, texts: list[str]) -> np.ndarray[Any, Any]:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        for key, text in zip(keys, texts, strict=True):
            if key not in self.store:
                self.model = self.model or OnnxEmbedder()
                # One text at a time, as the engine embeds (batching changes int8 vectors).
                self.store[key] = self.model.embed([text])[0]
        return np.stack([self.store[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if self.cache is not None and len(self.store) > self.known:
            keys = list(self.store)
            np.savez(self.cache, keys=np.array(keys), vecs=np.stack([self.store[k] for k in keys]))


@dataclasses.dataclass
class Side:
    """The third ranking's state during one search."""

    rescore: bool
    floor: float
    weight: float = 0.0
    query: np.ndarray[Any, Any] | None = None
    matrix: np.ndarray[Any, Any] = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    owner: Any = None
    pending: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = dataclasses.field(
        default_factory=list)


def install(side: Side) -> None:
    """Wrap the engine's lane search and fusion so the full model ranks as a third list."""
    searched, rrf = _recall._searched, _rank.rrf

    def searched_both(index: Any, query: Any, k: int, wheres: Any, words: Any) -> Any:
        out = searched(index, query, k, wheres, words)
        side.pending = []
        if side.query is not None and not side.rescore:
            for where in wheres:
                with index._lock:
                    members, ok = index.columns.resolve(where, index.columns.n)
                pos = members[ok] if members is not None else np.flatnonzero(ok)
                cos = side.matrix[pos] @ side.query
                order = np.argsort(-cos, kind="stable")[:_recall._depth(k)]
                side.pending.append((pos[order], cos[order]))
        return out

    def rrf_both(keyword: Any, dense: Any, params: Any, second: Any = None) -> dict[Any, float]:
        base = rrf(keyword, dense, params, second)
        if side.query is None or side.weight <= 0:
            return base
        scale = (params.keyword_weight + params.dense_weight) / (params.rrf_k + 1)
        raw = {key: value * scale for key, value in base.items()}
        if side.pending:  # one per filter, in the order the lane fuses them
            pos, cos = side.pending.pop(0)
            ranked = list(zip(pos.tolist(), cos.tolist(), strict=True))
        else:
            keys = list(raw)
            cos = side.matrix[np.array(keys, dtype=np.int64)] @ side.query
            ranked = [(keys[i], float(cos[i])) for i in np.argsort(-cos, kind="stable")]
        for rank, (key, c) in enumerate(ranked):
            if c < side.floor and key not in raw:
                continue
            raw[key] = raw.get(key, 0.0) + side.weight / (params.rrf_k + rank + 1)
        best = (params.keyword_weight + params.dense_weight + side.weight) / (params.rrf_k + 1)
        return {key: value / best for key, value in raw.items()}

    _recall._searched = searched_both  # type: ignore[assignment]
    _rank.rrf = rrf_both  # type: ignore[assignment]


def collector(full: FullModel, side: Side, gather_weight: float,
              pairs: list[tuple[float, float]]) -> type[ff.Collector]:
    class Both(ff.Collector):
        def search(self, user_id: str, query: str, k: int, now_iso: str) -> list[str]:
            engine = self._engine
            mem = engine.callers.get(self._scope(user_id))
            index = mem.index
            if side.owner is not index or side.matrix.shape[0] != len(index):
                side.matrix = full.embed([index.payload_at(p).text for p in range(len(index))])
                side.owner = index
            side.query = full.embed([query])[0] if query.strip() else None
            side.weight = gather_weight
            super().search(user_id, query, k, now_iso)
            got = self.questions[-1]
            cos = (side.matrix @ side.query if side.query is not None
                   else np.zeros(side.matrix.shape[0]))
            rank = np.empty(cos.shape[0], dtype=np.int64)
            rank[np.argsort(-cos, kind="stable")] = np.arange(cos.shape[0])
            pos = got.cands.positions
            in_cands = np.argsort(np.argsort(-cos[pos], kind="stable"), kind="stable")
            got.side = {"cos": cos[pos], "rank": in_cands if side.rescore else rank[pos]}
            now = ff.rq._ts(now_iso)
            vector = engine.embedder.embed([query])[0] if query.strip() else None
            q = _recall.Query(text=query, terms=analyze(query), vector=vector, now=now,
                              when=parse_when(query, now))
            got.hands = {}
            for table_weight, model_weight in pairs:
                side.weight = model_weight
                params = dataclasses.replace(engine.params, fusion=None,
                                             dense_weight=table_weight)
                got.hands[(table_weight, model_weight)] = [
                    h["turnId"] for h in _recall.search_caller_lane(mem, "permanent", q, k, params)
                    if h.get("turnId")]
            side.weight = gather_weight
            return []

    return Both


def call_mean(q: Any, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The mean of the best three values of each candidate's call (a fact: its own)."""
    calls = [ff.session_of(q, i) if i else f"fact {n}" for n, i in enumerate(q.ids)]
    by_call: dict[str, list[float]] = {}
    for call, value in zip(calls, values.tolist(), strict=True):
        by_call.setdefault(call, []).append(value)
    mean = {c: float(np.mean(sorted(v, reverse=True)[:3])) for c, v in by_call.items()}
    return np.array([mean[c] for c in calls])


def side_columns(q: Any, names: list[str]) -> np.ndarray[Any, Any]:
    cos = np.asarray(q.side["cos"], dtype=np.float64)
    best = cos.max() if cos.size else 0.0
    cols = {"model_cosine": cos,
            "model_cosine_rel": cos / best if best > 0 else np.zeros_like(cos),
            "model_rr": np.where(q.side["rank"] < RANK_DEPTH, 1.0 / (1.0 + q.side["rank"]), 0.0)}
    if "model_call_cosine" in names:
        cols["model_call_cosine"] = call_mean(q, cos)
    return (np.column_stack([cols[n] for n in names]) if names
            else np.zeros((cos.shape[0], 0)))


def pair(text: str) -> tuple[float, float]:
    table, model = text.split(":")
    return float(table), float(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default="0.5:0,0.5:0.5,0.25:0.75",
                        help="table weight:full-model weight pairs of the hand-set ranking")
    parser.add_argument("--fit", default="0.25:0.75", help="the pair the candidates are "
                        "gathered with and the learned model fitted on")
    parser.add_argument("--floor", type=float, default=0.15,
                        help="the full model's floor for a hit only it finds")
    parser.add_argument("--rescore", action="store_true", help="the full model re-ranks "
                        "the other lanes' candidates only (no search of its own)")
    parser.add_argument("--features", default="", help="full-model columns added to the "
                        "learned model: model_cosine,model_cosine_rel,model_rr,model_call_cosine")
    parser.add_argument("--vector-cache", type=Path, help="npz of the full model's vectors "
                        "by text: read if it exists, written with what was added")
    parser.add_argument("--cache", type=Path, help="pickle of the collected candidates")
    args = parser.parse_args()
    pairs = [pair(p) for p in args.pairs.split(",")]
    fit_pair = pair(args.fit)
    if fit_pair not in pairs:
        pairs.append(fit_pair)
    if args.cache and args.cache.exists():
        questions = pickle.loads(args.cache.read_bytes())
    else:
        full = FullModel(args.vector_cache)
        side = Side(rescore=args.rescore, floor=args.floor)
        install(side)
        ff.Collector = collector(full, side, fit_pair[1], pairs)  # type: ignore[misc]
        questions = ff.collect("static", {"dense_weight": fit_pair[0]})
        full.save()
        if args.cache:
            args.cache.write_bytes(pickle.dumps(questions))
    rows: dict[str, list[dict[str, float]]] = {}
    for key in questions[0].hands:
        rows[f"hand-set {key[0]}:{key[1]}"] = [ff.metrics(q, q.hands[key]) for q in questions]
    names = [n for n in args.features.split(",") if n]
    for q in questions:
        q.hand = q.hands[fit_pair]
        q.cands = dataclasses.replace(q.cands, features=np.hstack(
            [q.cands.features, side_columns(q, names)]))
    for c in ff.C_VALUES:
        rows.update(ff.held_out_rows(
            questions, c, f"learned {fit_pair[0]}:{fit_pair[1]}, held-out folds (C={c})"))
    cv = ff.table(rows)
    cols = sorted({c for m in cv.values() for c in m})
    print(f"{'':60}" + "".join(f"{c:>16}" for c in cols))
    for name, m in cv.items():
        print(f"{name:60}" + "".join(f"{m.get(c, float('nan')):>16.3f}" for c in cols))


if __name__ == "__main__":
    main()
