"""Fit the span tagger (a linear-chain CRF over a turn's words) and measure it out of fold.

    python scripts/fit_span_tagger.py --dry-run     # align, cross-validate, report
    python scripts/fit_span_tagger.py               # ... and write the weights

Needs ``python-crfsuite`` (the ``fit`` extra) to fit; extraction reads the exported
weights with numpy (``src/voxmem/extraction/_tagger.py``).

Trains only on the sets docs/extraction.md lists as tuned on: the first set without its
``holdout2`` split, the tuning set, A, B, C, E, G, I, J, M, O, Q, S, U and W. The check
sets (D, F, H, K, L, N, P, R, T, V) are never read here.

Labels: a call's labels say which words a fact must contain, not where they were said.
The alignment step finds, for each slot-less label, the first turn and side (the caller's
words or the agent's) that hold all of its keywords, exactly or, word by word, within an
edit ratio of 0.8, and tags the tokens from the first keyword to the last with BIO labels
of its kind. Slot facts (names, contact details, times) are the rules' work.

Measurement: grouped five-fold cross-validation (calls never split). Each call is read by
the whole extractor (rules + learned layer) with and without a tagger fitted without it.
Per kind, the threshold is the lowest mean span probability at which the facts the
tagger adds match a label the extractor had missed at least ``--precision`` of the time
out of fold; kinds that never reach it stay off.
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from voxmem.extraction import ExtractedFact, RuleExtractor  # noqa: E402
from voxmem.extraction import rules as rules_module  # noqa: E402
from voxmem.extraction._evaluate import (  # noqa: E402
    NEVER_TUNED_SPLITS,
    TRAINING_SETS,
    load_labelled_set,
    score_case,
    summarize,
    to_transcript,
)
from voxmem.extraction._rules_common import TurnView  # noqa: E402
from voxmem.extraction._tagger import (  # noqa: E402
    DEFAULT_TAGGER_PATH,
    LABELS,
    TAG_KINDS,
    SpanReading,
    SpanTagger,
    Token,
    rule_words_of,
    span_readings,
    turn_sequence,
)

DATA = ROOT / "tests" / "data"
# The sets the shipped weights were fitted on (the fourteenth round's training sets). X and
# Y, added to TRAINING_SETS in the seventeenth round for the fact verifier, are left out
# so that the shipped tagger, off by default, still reproduces from this script.
TRAIN_SETS = [name for name in TRAINING_SETS if name not in ("extraction_tune_x",
                                                             "extraction_tune_y")]
NEVER = NEVER_TUNED_SPLITS
FOLDS = 5
MIN_SUPPORT = 10
FUZZY = 0.8


def _tag_kind(fact: dict[str, Any]) -> str | None:
    if fact.get("slot_key"):
        return None
    kind = fact.get("kind") or "note"
    return kind if kind in TAG_KINDS else None


def _find(keyword: str, text: str, tokens: list[Token]) -> tuple[list[int], bool] | None:
    """Token indices holding ``keyword`` in ``text``, and whether the match was fuzzy."""
    low = text.lower()
    at = low.find(keyword)
    if at >= 0:
        idx = [i for i, t in enumerate(tokens) if t.start < at + len(keyword) and t.end > at]
        return (idx, False) if idx else None
    idx = []
    for part in keyword.split():
        best, score = -1, FUZZY
        for i, t in enumerate(tokens):
            r = difflib.SequenceMatcher(None, part, t.text.lower()).ratio()
            if r >= score:
                best, score = i, r
        if best < 0:
            return None
        idx.append(best)
    return idx, True


def align(case: dict[str, Any], views: list[TurnView], seqs: list[list[Token]],
          stats: Counter[str]) -> list[list[str]]:
    """BIO labels per turn from the call's labels (see the module docstring)."""
    labels = [["O"] * len(s) for s in seqs]
    for fact in case.get("expected_facts", []):
        kind = _tag_kind(fact)
        if kind is None:
            continue
        stats["labels"] += 1
        keys = [str(k).lower() for k in fact.get("must_contain", []) if str(k).strip()]
        if not keys:
            stats["no keywords"] += 1
            continue
        sides = ("a", "u") if kind == "commitment" else ("u", "a")
        found = None
        for ti, view in enumerate(views):
            for side in sides:
                toks = [t for t in seqs[ti] if t.side == side]
                if not toks:
                    continue
                base = seqs[ti].index(toks[0])
                text = view.user if side == "u" else view.agent
                hits = [_find(k, text, toks) for k in keys]
                if all(h is not None for h in hits):
                    idx = [base + i for h in hits if h for i in h[0]]
                    found = (ti, min(idx), max(idx), any(h[1] for h in hits if h))
                    break
            if found:
                break
        if found is None:
            stats["not aligned"] += 1
            continue
        ti, first, last, fuzzy = found
        stats["aligned (fuzzy)" if fuzzy else "aligned (exact)"] += 1
        if last - first > 25:
            stats["too long"] += 1
            continue
        if any(lab != "O" for lab in labels[ti][first:last + 1]):
            stats["overlaps another"] += 1
            continue
        labels[ti][first] = f"B-{kind}"
        for i in range(first + 1, last + 1):
            labels[ti][i] = f"I-{kind}"
    return labels


def word_clusters(k: int, seed: int) -> dict[str, int]:
    """Every whole lower-case word of the static embedding's vocabulary, clustered by its
    row (k-means on unit rows): "aisle" and "window" fall together, so the tagger reads a
    word no training call has like the ones it has seen."""
    import re

    from sklearn.cluster import MiniBatchKMeans

    from voxmem.embeddings.static import DEFAULT_STATIC_MODEL_DIR

    vocab = json.loads((DEFAULT_STATIC_MODEL_DIR / "tokenizer.json").read_text("utf-8"))
    vocab = vocab["model"]["vocab"]
    words = sorted(w for w in vocab if re.fullmatch(r"[a-z][a-z']+", w))
    table = np.load(DEFAULT_STATIC_MODEL_DIR / "embeddings.npy", mmap_mode="r")
    rows = np.asarray(table[[vocab[w] for w in words]], dtype=np.float32)
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-6)
    km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
    return {w: int(c) for w, c in zip(words, km.fit_predict(rows), strict=True)}


class Data:
    """Every training call: its turns' tokens, features and aligned labels."""

    def __init__(self, clusters: dict[str, int], rule_features: bool) -> None:
        self.clusters = clusters
        self.rule_features = rule_features
        rules = RuleExtractor(learned=False, verify=False)
        self.cases: list[dict[str, Any]] = []
        self.seqs: list[list[tuple[list[str], list[list[str]]]]] = []  # per call, per turn
        self.stats: Counter[str] = Counter()
        for name in TRAIN_SETS:
            for case in load_labelled_set(DATA / f"{name}.jsonl"):
                if case.get("split") in NEVER:
                    continue
                candidates, views = rules.rule_pass(to_transcript(case))
                built = [turn_sequence(v, rule_words_of(candidates, v.turn_id)
                                       if rule_features else None, clusters) for v in views]
                labels = align(case, views, [b[0] for b in built], self.stats)
                self.cases.append(case)
                self.seqs.append([(lab, feats) for (_, feats), lab in zip(built, labels,
                                                                          strict=True)])


def fit(data: Data, calls: list[int], c1: float, c2: float, iterations: int) -> SpanTagger:
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for ci in calls:
        for labels, feats in data.seqs[ci]:
            if feats:
                trainer.append(feats, labels)
    trainer.set_params({"c1": c1, "c2": c2, "max_iterations": iterations,
                        "feature.possible_transitions": True})
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "crf.model")
        trainer.train(path)
        tagger = pycrfsuite.Tagger()
        tagger.open(path)
        info = tagger.info()
        tagger.close()
    col = {label: i for i, label in enumerate(LABELS)}
    attrs: dict[str, int] = {}
    rows: list[np.ndarray[Any, Any]] = []
    for (attr, label), w in info.state_features.items():
        if attr not in attrs:
            attrs[attr] = len(rows)
            rows.append(np.zeros(len(LABELS)))
        rows[attrs[attr]][col[label]] = w
    trans = np.full((len(LABELS), len(LABELS)), 0.0)
    for (a, b), w in info.transitions.items():
        trans[col[a], col[b]] = w
    weights = np.stack(rows) if rows else np.zeros((0, len(LABELS)))
    return SpanTagger(attributes=attrs, weights=weights, transitions=trans, thresholds={},
                      clusters=data.clusters, rule_features=data.rule_features)


POLICIES = {
    # name: which readings a policy keeps (see ``SpanReading``)
    "per-turn": lambda r: not r.turn_read and not r.any_known,
    "new-words": lambda r: not r.any_known,
}
#: Lowest span probability looked at out of fold.
FLOOR = 0.15


def readings(tagger: SpanTagger, case: dict[str, Any]) -> tuple[list[Any], list[SpanReading]]:
    """The extractor's facts for a call (rules + learned layer) and every span the tagger
    reads there, given the candidates the extractor holds at the tagger's point."""
    seen: list[SpanReading] = []

    def record(tg: SpanTagger, views: Any, candidates: Any) -> list[Any]:
        seen.extend(span_readings(tg, views, candidates, FLOOR))
        return []

    real = rules_module.tagger_candidates
    rules_module.tagger_candidates = record  # the script looks in; extraction is unchanged
    try:
        facts = RuleExtractor(tagger=tagger, verify=False).extract_sync(to_transcript(case))
    finally:
        rules_module.tagger_candidates = real
    return facts, seen


def right(case: dict[str, Any], base: list[Any], reading: SpanReading) -> bool:
    """Whether the reading's fact matches a label the extractor's facts left unmatched."""
    c = reading.candidate
    fact = ExtractedFact(c.text, c.kind, None, c.confidence, c.turn_ids)
    return score_case(case, [*base, fact]).matched > score_case(case, base).matched


def calibrate(added: list[tuple[str, float, bool]], target: float
              ) -> tuple[dict[str, float], dict[str, Any]]:
    """Per kind, the lowest score whose readings are right at least ``target`` of the time."""
    thresholds: dict[str, float] = {}
    report: dict[str, Any] = {}
    for kind in TAG_KINDS:
        scored = sorted(((s, ok) for k, s, ok in added if k == kind), reverse=True)
        best = None
        hits = 0
        for n, (s, ok) in enumerate(scored, 1):
            hits += ok
            if n >= MIN_SUPPORT and hits / n >= target:
                best = (s, n, hits)
        thresholds[kind] = best[0] if best else 1.01
        report[kind] = {"candidates": len(scored), "right": sum(ok for _, ok in scored),
                        "at_0.5": [sum(1 for s, _ in scored if s >= 0.5),
                                   sum(1 for s, ok in scored if s >= 0.5 and ok)],
                        "curve": [[round(scored[n - 1][0], 3), n,
                                   sum(ok for _, ok in scored[:n])]
                                  for n in (5, 10, 20, 40, 80) if n <= len(scored)],
                        "threshold": round(best[0], 4) if best else None,
                        "kept": best[1] if best else 0, "kept_right": best[2] if best else 0}
    return thresholds, report


def measure(path: Path, tagger: SpanTagger) -> None:
    """Totals and by kind only, with and without the tagger: how a check set is read (its
    misses, extras and texts are never printed)."""
    cases = load_labelled_set(path)
    for name, ex in (("rules + learned", RuleExtractor(tagger=False, verify=False)),
                     ("rules + learned + tagger", RuleExtractor(tagger=tagger, verify=False))):
        results = [score_case(c, ex.extract_sync(to_transcript(c))) for c in cases]
        sc = summarize(results)
        expected: Counter[str] = Counter()
        missed: Counter[str] = Counter()
        for case, r in zip(cases, results, strict=True):
            expected.update(f.get("kind") or "any" for f in case["expected_facts"])
            missed.update(f.get("kind") or "any" for f in r.missed_expected)
        predicted = Counter(k for r in results for k in r.predicted_kinds)
        matched = Counter(k for r in results for k in r.matched_kinds)
        print(f"{path.name} {name}: {sc.predicted} predicted, {sc.matched} matched of "
              f"{sc.expected}: precision {sc.precision:.3f}, recall {sc.recall:.3f}, "
              f"violations {sc.violations}")
        print("  recall by kind:", {k: f"{n - missed[k]}/{n}" for k, n in expected.items()})
        print("  precision by predicted kind:",
              {k: f"{matched[k]}/{n}" for k, n in predicted.items()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precision", type=float, default=0.8)
    ap.add_argument("--c1", type=float, default=0.05)
    ap.add_argument("--c2", type=float, default=0.01)
    ap.add_argument("--iterations", type=int, default=150)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--clusters", type=int, default=96,
                    help="clusters of the static embedding's words (0: no cluster feature)")
    ap.add_argument("--policy", choices=sorted(POLICIES), default="per-turn",
                    help="which spans the tagger may add (see POLICIES)")
    ap.add_argument("--rule-features", action="store_true",
                    help="give the tagger the words the rules read as features")
    ap.add_argument("--dry-run", action="store_true", help="do not write the weights")
    ap.add_argument("--out", type=Path, default=DEFAULT_TAGGER_PATH)
    ap.add_argument("--measure", type=Path, action="append",
                    help="only score this labelled set (totals and by kind) with the weights "
                         "in --out, with and without the tagger")
    args = ap.parse_args()
    if args.measure:
        tagger = SpanTagger.from_json(json.loads(args.out.read_text("utf-8")))
        for path in args.measure:
            measure(path, tagger)
        return

    started = time.perf_counter()
    data = Data(word_clusters(args.clusters, args.seed) if args.clusters else {},
                args.rule_features)
    n_turns = sum(len(s) for s in data.seqs)
    print(f"{len(data.cases)} calls, {n_turns} turns; alignment: {dict(data.stats)}")
    order = list(range(len(data.cases)))
    random.Random(args.seed).shuffle(order)
    folds = [sorted(order[i::FOLDS]) for i in range(FOLDS)]

    results_base = []
    taggers = []
    added: dict[str, list[tuple[str, float, bool]]] = {name: [] for name in POLICIES}
    for k, test in enumerate(folds):
        held = set(test)
        tagger = fit(data, [ci for ci in order if ci not in held], args.c1, args.c2,
                     args.iterations)
        taggers.append(tagger)
        for ci in test:
            case = data.cases[ci]
            base, seen = readings(tagger, case)
            results_base.append(score_case(case, base))
            for r in seen:
                ok = right(case, base, r)
                for name, keep in POLICIES.items():
                    if keep(r):
                        added[name].append((r.candidate.kind, r.score, ok))
        print(f"fold {k + 1}/{FOLDS}: {len(tagger.attributes)} attributes, "
              f"{time.perf_counter() - started:.0f}s", flush=True)
    reports = {}
    for name in POLICIES:
        thresholds, report = calibrate(added[name], args.precision)
        reports[name] = report
        print(f"out-of-fold readings, policy {name}:", json.dumps(report))
    thresholds, report = calibrate(added[args.policy], args.precision)

    results_tag = []
    for test, tagger in zip(folds, taggers, strict=True):
        tagger.thresholds = thresholds
        tagger.per_turn = args.policy == "per-turn"
        ex = RuleExtractor(tagger=tagger, verify=False)
        for ci in test:
            case = data.cases[ci]
            results_tag.append(score_case(case, ex.extract_sync(to_transcript(case))))
    s0, s1 = summarize(results_base), summarize(results_tag)
    cv = {"calls": s0.cases, "expected": s0.expected,
          "rules_learned": [s0.predicted, s0.matched, round(s0.precision, 4),
                            round(s0.recall, 4)],
          "with_tagger": [s1.predicted, s1.matched, round(s1.precision, 4),
                          round(s1.recall, 4)]}
    print("out of fold [predicted, matched, precision, recall]:", cv)

    final = fit(data, order, args.c1, args.c2, args.iterations)
    final.thresholds = thresholds
    final.per_turn = args.policy == "per-turn"
    meta = {"script": "scripts/fit_span_tagger.py", "train_sets": TRAIN_SETS,
            "calls": len(data.cases), "turns": n_turns, "c1": args.c1, "c2": args.c2,
            "iterations": args.iterations, "seed": args.seed, "clusters": args.clusters,
            "folds": FOLDS, "target_precision": args.precision, "alignment": dict(data.stats),
            "rule_features": args.rule_features, "policy": args.policy,
            "calibration": report, "policies": reports,
            "cross_validated": cv}
    print(f"done in {time.perf_counter() - started:.0f}s")
    if not args.dry_run:
        args.out.write_text(json.dumps(final.to_json(meta), separators=(",", ":")) + "\n",
                            encoding="utf-8")
        print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
