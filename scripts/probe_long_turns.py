"""Probes of issue 11's long-turn misses with the ``static`` table (docs/recall.md,
"Sentence vectors for long turns" and "What MiniLM sees that the table does not").

Three experiments on the shared dev data, none of which changes the product:

``pipeline``: ``benchmarks/retrieval_quality.py`` with the vector lane scoring a long
turn (at least ``--min-words`` words, two sentences or more) by its best sentence as
well: each sentence embedded by the table, the turn's cosine replaced by
``max(turn, best sentence)`` (``max``), their mean (``mean``), or the turn's plus
``a`` times the best sentence's gain (``blend:a``). The index's exact scan is
re-scored here per search (a probe, not the cost the engine would pay)::

    python scripts/probe_long_turns.py pipeline --dataset longmemeval --sentences max

``feature``: the learned fusion's grouped folds (``scripts/fit_fusion.py``) on its cached
candidates with the best sentence's cosine added as a column (``best``), or its gain
over the turn's cosine (``gain``); ``none`` is the shipped 25 columns::

    python scripts/fit_fusion.py --dry-run --cache F.pkl       # gathers the candidates
    python scripts/probe_long_turns.py feature --cache F.pkl --variant best

``table``: for LongMemEval's preference questions, where the table and the full MiniLM
(``onnx``, needs onnxruntime) rank the answer turn by vector alone; MiniLM's rank with
the turn's words shuffled and with one sentence left out; then word pairs through
both models::

    python scripts/probe_long_turns.py table
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import random
import re
import runpy
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "src"))

import retrieval_quality as rq  # noqa: E402
from voxmem.embeddings.static import StaticEmbedder  # noqa: E402

# A sentence ends at . ! or ? followed by space, or at a line break; a piece under
# MIN_SENTENCE_WORDS words ("Thanks!") joins the sentence before it.
SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
MIN_SENTENCE_WORDS = 4
WORD_PAIRS = (
    ("evening", "later part of the day"), ("evening", "later"), ("evening", "day"),
    ("evening", "winding down by 9:30 pm"), ("bake", "cake"), ("what to bake", "making a cake"),
    ("homegrown", "garden"), ("homegrown", "harvested"),
    ("dinner with my homegrown ingredients", "basil and mint from my garden"),
    ("not a fan of spicy food", "I love spicy food"),
)


def sentences(text: str) -> list[str]:
    out: list[str] = []
    for piece in (p.strip() for p in SPLIT.split(text)):
        if not piece:
            continue
        if out and len(piece.split()) < MIN_SENTENCE_WORDS:
            out[-1] += " " + piece
        else:
            out.append(piece)
    return out


class SentenceVectors:
    """The table's sentence vectors of a long turn (an empty matrix for a short one)."""

    def __init__(self, embedder: StaticEmbedder, min_words: int) -> None:
        self.embedder = embedder
        self.min_words = min_words
        self.cache: dict[Any, np.ndarray[Any, Any]] = {}
        self.turns = self.split = self.rows = 0

    def of(self, key: Any, text: str) -> np.ndarray[Any, Any]:
        got = self.cache.get(key)
        if got is None:
            parts = sentences(text) if len(text.split()) >= self.min_words else []
            got = (self.embedder.embed(parts) if len(parts) >= 2
                   else np.zeros((0, self.embedder.dimensions), dtype=np.float32))
            self.cache[key] = got
            self.turns += 1
            self.split += bool(got.shape[0])
            self.rows += got.shape[0]
        return got


def combine(mode: str, turn: float, best: float) -> float:
    if mode == "max":
        return max(turn, best)
    if mode == "mean":
        return (turn + max(turn, best)) / 2
    if mode.startswith("blend:"):
        return max(turn, turn + float(mode.split(":", 1)[1]) * (best - turn))
    raise SystemExit(f"unknown --sentences {mode!r}")


def pipeline(args: argparse.Namespace, rest: list[str]) -> None:
    from voxmem.engine import _index
    from voxmem.engine._ranked import Ranked, top_of

    vectors = SentenceVectors(StaticEmbedder(), args.min_words)
    original = _index.HybridIndex.search

    def search(self: Any, terms: Any, vector: Any, k: int, where: Any = None,
               scan: Any = None) -> tuple[Any, Any]:
        keyword, dense = original(self, terms, vector, k, where, scan)
        if vector is None or self.vectors.ann is not None:
            return keyword, dense
        # Every allowed row's cosine, then the long turns re-scored by their sentences.
        _, every = original(self, terms, vector, 1 << 40, where, None)
        scores = every.scores.astype(np.float64)
        for i, pos in enumerate(every.positions.tolist()):
            text = getattr(self.payload_at(pos), "text", "") or ""
            rows = vectors.of((id(self), self.id_at(pos)), text)
            if rows.shape[0]:
                scores[i] = combine(args.sentences, float(scores[i]),
                                    float((rows @ vector).max()))
        order = np.argsort(every.positions, kind="stable")
        got = top_of(every.positions[order], scores[order], k)
        return keyword, Ranked(got.positions, got.scores.astype(np.float32))

    _index.HybridIndex.search = search  # type: ignore[method-assign]
    if "--json" not in rest:
        # Not over the benchmark's own results file: this is not the product's ranking.
        rest = [*rest, "--json", str(Path(tempfile.gettempdir()) / "probe_long_turns.json")]
    sys.argv = ["retrieval_quality.py", "--no-baselines", *rest]
    try:
        runpy.run_path(str(ROOT / "benchmarks" / "retrieval_quality.py"), run_name="__main__")
    finally:
        print(f"sentence vectors: {vectors.turns} memories, {vectors.split} split into "
              f"{vectors.rows} sentences")


def turn_texts() -> dict[str, str]:
    """Every dev turn's text as the benchmark stores it, by the harness's turn id."""
    texts: dict[str, str] = {}
    harness = rq._harness()
    for sample in json.loads((rq.EVAL / "data" / "locomo_dev.json").read_text()):
        uid = sample["sample_id"]
        for session in harness.locomo_sessions(sample, captions=True):
            for t in session["turns"]:
                texts[f"{uid}:{t['dia_id']}"] = f"{t['speaker']}: {t['text']}"
    for d in json.loads((rq.EVAL / "data" / "longmemeval_s_dev40.json").read_text()):
        uid = f"lme:{d['question_id']}"
        for sid, turns in zip(d["haystack_session_ids"], d["haystack_sessions"], strict=True):
            for j, t in enumerate(turns):
                if t["role"] == "user":
                    texts[f"{uid}:{sid}:{j}"] = f"user: {t['content']}"
    return texts


def feature(args: argparse.Namespace) -> None:
    import fit_fusion as ff

    # The cache pickles fit_fusion's Question as the main module's.
    sys.modules["__main__"].Question = ff.Question  # type: ignore[attr-defined]
    questions = pickle.loads(Path(args.cache).read_bytes())
    embedder = StaticEmbedder()
    vectors = SentenceVectors(embedder, args.min_words)
    texts = turn_texts()
    cosine = ff.FEATURES.index("cosine")
    for q in questions:
        query = embedder.embed([q.text])[0]
        x = q.cands.features
        best = x[:, cosine].copy()
        for i, tid in enumerate(q.ids):
            rows = vectors.of(tid, texts.get(tid, "")) if tid else None
            if rows is not None and rows.shape[0]:
                best[i] = max(best[i], float((rows @ query).max()))
        extra = {"best": [best], "gain": [best - x[:, cosine]], "none": []}[args.variant]
        if extra:
            q.cands = dataclasses.replace(q.cands, features=np.column_stack([x, *extra]))
    if args.variant != "none":
        ff.FEATURES = (*ff.FEATURES, f"sentence_{args.variant}")
    rows: dict[str, list[dict[str, float]]] = {"hand-set": [ff.metrics(q, q.hand)
                                                            for q in questions]}
    for c in (1.0, 10.0):
        rows.update(ff.held_out_rows(questions, c, f"learned, held out (C={c})"))
    if args.nested:
        per_q, chosen = ff.nested(questions, ff.C_VALUES)
        rows[f"learned, nested (C per fold {chosen})"] = per_q
    table = ff.table(rows)
    cols = list(table["hand-set"])
    print(f"{args.variant}, turns of {args.min_words}+ words")
    print(f"{'':44}" + "".join(f"{c:>16}" for c in cols))
    for name, m in table.items():
        print(f"{name:44}" + "".join(f"{m.get(c, float('nan')):>16.3f}" for c in cols))


def rank(scores: np.ndarray[Any, Any], i: int) -> int:
    """``i``'s place among ``scores`` (0 = first)."""
    return int((scores > scores[i]).sum())


def table_gap(args: argparse.Namespace) -> None:
    from voxmem.embeddings.onnx import OnnxEmbedder

    table, minilm = StaticEmbedder(), OnnxEmbedder()
    rng = random.Random(0)
    data = json.loads((rq.EVAL / "data" / "longmemeval_s_dev40.json").read_text())
    for d in data:
        if d["question_type"] != "single-session-preference":
            continue
        texts, gold = [], []
        for turns in d["haystack_sessions"]:
            for t in turns:
                if t["role"] == "user":
                    texts.append(f"user: {t['content']}")
                    gold.append(bool(t.get("has_answer")))
        q_table, q_minilm = table.embed([d["question"]])[0], minilm.embed([d["question"]])[0]
        by_table = table.embed(texts) @ q_table
        by_minilm = minilm.embed(texts) @ q_minilm
        print(f"\n{d['question']}")
        for i in np.flatnonzero(gold).tolist():
            words = texts[i].split()
            rng.shuffle(words)
            shuffled = by_minilm.copy()
            shuffled[i] = float(minilm.embed([" ".join(words)])[0] @ q_minilm)
            print(f"  answer turn, {len(words)} words: table {rank(by_table, i) + 1}, MiniLM "
                  f"{rank(by_minilm, i) + 1}, MiniLM with its words shuffled "
                  f"{rank(shuffled, i) + 1}")
            parts = [p for p in SPLIT.split(texts[i]) if p.strip()]
            own = minilm.embed(parts) @ q_minilm
            for k in np.argsort(-own)[:args.sentences_shown].tolist():
                left = by_minilm.copy()
                left[i] = float(minilm.embed([" ".join(p for m, p in enumerate(parts)
                                                      if m != k)])[0] @ q_minilm)
                mine = float(table.embed([parts[k]])[0] @ q_table)
                print(f"    cosine MiniLM {own[k]:.3f}, table {mine:.3f}; MiniLM's rank "
                      f"without it {rank(left, i) + 1}: {parts[k][:90]!r}")
    print(f"\n{'':38}{'':34}  table  MiniLM")
    for a, b in WORD_PAIRS:
        t = float(table.embed([a])[0] @ table.embed([b])[0])
        m = float(minilm.embed([a])[0] @ minilm.embed([b])[0])
        print(f"{a:38}{b:34}  {t:.3f}  {m:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="probe", required=True)
    p = sub.add_parser("pipeline", help="the benchmark with sentence-scored long turns "
                       "(other options go to benchmarks/retrieval_quality.py)")
    p.add_argument("--sentences", default="max", help="max, mean or blend:A")
    p.add_argument("--min-words", type=int, default=30)
    f = sub.add_parser("feature", help="the fusion's folds with a sentence column")
    f.add_argument("--cache", required=True, help="fit_fusion.py's --cache pickle")
    f.add_argument("--variant", choices=["best", "gain", "none"], default="best")
    f.add_argument("--min-words", type=int, default=15)
    f.add_argument("--nested", action="store_true")
    t = sub.add_parser("table", help="the table against MiniLM on the preference questions")
    t.add_argument("--sentences-shown", type=int, default=2)
    args, rest = parser.parse_known_args()
    if args.probe == "pipeline":
        pipeline(args, rest)
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    elif args.probe == "feature":
        feature(args)
    else:
        table_gap(args)


if __name__ == "__main__":
    main()
