"""Fit the fact verifier (a logistic regression over each proposed fact) and choose its
threshold out of fold.

    python scripts/fit_fact_verifier.py --dry-run   # cross-validate, print the curve
    python scripts/fit_fact_verifier.py             # ... and write the weights

Needs scikit-learn (in the dev environment) to fit; extraction reads the exported weights
with the standard library (``src/voxmem/extraction/_verify.py``).

Trains only on the sets docs/extraction.md lists as tuned on: the first set without its
``holdout2`` split, the tuning set, A, B, C, E, G, I, J, M, O, Q, S, U and W. The check
sets (D, F, H, K, L, N, P, R, T, V) are never read here.

Examples: every fact the default extractor (rules and learned layer) proposes on those
calls. Label: whether the benchmark's matcher (``_evaluate.score_case``) matched it to an
expected fact; a fact holding a must-not-contain string is wrong. No new labels.

Measurement: grouped five-fold cross-validation (a call's facts are always judged by a
verifier fitted without that call). The curve gives, for each threshold t, the training
calls' precision and recall when every fact with P(right) < t out of fold is dropped,
rescored with the matcher. The shipped threshold is the highest t whose out-of-fold
recall stays within ``--recall-slack`` (0.005) of the extractor's own.
Deterministic: the folds are fixed by call order, the solver has no randomness.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import GroupKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from voxmem.extraction import ExtractedFact, RuleExtractor  # noqa: E402
from voxmem.extraction._evaluate import (  # noqa: E402
    NEVER_TUNED_SPLITS,
    TRAINING_SETS,
    _fits,
    _max_matching,
    load_labelled_set,
    score_case,
    summarize,
    to_transcript,
)
from voxmem.extraction._tagger import default_tagger  # noqa: E402
from voxmem.extraction._verify import (  # noqa: E402
    DEFAULT_VERIFIER_PATH,
    FactVerifier,
    _content,
    fact_features,
)

DATA = ROOT / "tests" / "data"
TRAIN_SETS = list(TRAINING_SETS)
NEVER = NEVER_TUNED_SPLITS
FOLDS = 5
#: Features seen on fewer training facts than this are dropped (noise, and file size).
MIN_COUNT = 3
C_GRID = (0.03, 0.1, 0.3, 1.0)


def fact_labels(case: dict[str, Any], facts: list[ExtractedFact]) -> list[int]:
    """1 for each fact the benchmark's matcher pairs with a label, as ``score_case`` does."""
    expected = list(case.get("expected_facts", []))
    forbidden = [str(s).lower() for s in case.get("must_not_contain", [])]
    violations = {f.text for f in facts if any(b in f.text.lower() for b in forbidden)}
    clean = [i for i, f in enumerate(facts) if f.text not in violations]
    edges = [[j for j, e in enumerate(expected) if _fits(facts[i], e)] for i in clean]
    partner = _max_matching(edges, len(expected))
    matched = {clean[p] for p in partner if p != -1}
    return [int(i in matched) for i in range(len(facts))]


def collect(extractor: RuleExtractor, clusters: dict[str, int]) -> dict[str, Any]:
    """Every training call's proposed facts, their features and labels."""
    cases, facts, feats, labels, groups, sources = [], [], [], [], [], []
    for name in TRAIN_SETS:
        for case in load_labelled_set(DATA / f"{name}.jsonl"):
            if case.get("split") in NEVER:
                continue
            found, chosen, views = extractor.read(to_transcript(case))
            call = len(cases)
            cases.append(case)
            facts.append(found)
            for fact, cand, label in zip(found, chosen, fact_labels(case, found), strict=True):
                feats.append(fact_features(fact, cand, views, found, clusters, chosen))
                labels.append(label)
                groups.append(call)
                sources.append(cand.source)
    return {"cases": cases, "facts": facts, "feats": feats, "y": np.array(labels),
            "groups": np.array(groups), "sources": sources}


def _vectorizer(feats: list[dict[str, float]]) -> DictVectorizer:
    counts = Counter(k for f in feats for k in f)
    keep = [{k: v for k, v in f.items() if counts[k] >= MIN_COUNT} for f in feats]
    return DictVectorizer().fit(keep)


def _fit(feats: list[dict[str, float]], y: np.ndarray, c: float
         ) -> tuple[DictVectorizer, LogisticRegression]:
    vec = _vectorizer(feats)
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit(vec.transform(feats), y)
    return vec, model


def out_of_fold(data: dict[str, Any], c: float) -> np.ndarray:
    """P(right) of each fact from a model fitted without its call."""
    p = np.zeros(len(data["y"]))
    for train, test in GroupKFold(n_splits=FOLDS).split(data["feats"], data["y"],
                                                        data["groups"]):
        vec, model = _fit([data["feats"][i] for i in train], data["y"][train], c)
        p[test] = model.predict_proba(vec.transform([data["feats"][i] for i in test]))[:, 1]
    return p


def curve(data: dict[str, Any], p: np.ndarray, thresholds: list[float]
          ) -> list[dict[str, float]]:
    """Precision and recall on the training calls when facts below each t are dropped."""
    rows = []
    starts = np.searchsorted(data["groups"], np.arange(len(data["cases"])))
    for t in thresholds:
        results = []
        for call, (case, found) in enumerate(zip(data["cases"], data["facts"], strict=True)):
            start = int(starts[call])
            kept = [f for i, f in enumerate(found) if p[start + i] >= t]
            results.append(score_case(case, kept))
        s = summarize(results)
        rows.append({"t": round(t, 3), "predicted": s.predicted, "matched": s.matched,
                     "expected": s.expected, "precision": round(s.precision, 4),
                     "recall": round(s.recall, 4)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="measure; write nothing")
    parser.add_argument("--recall-slack", type=float, default=0.005)
    parser.add_argument("--out", type=Path, default=DEFAULT_VERIFIER_PATH)
    args = parser.parse_args(argv)

    tagger = default_tagger()
    clusters = tagger.clusters if tagger is not None else {}
    started = time.process_time()
    data = collect(RuleExtractor(verify=False), clusters)
    y = data["y"]
    print(f"{len(data['cases'])} training calls, {len(y)} proposed facts, {int(y.sum())} right "
          f"({time.process_time() - started:.0f} s CPU to read)")

    best_c, best_loss, best_p = C_GRID[0], float("inf"), np.zeros(len(y))
    for c in C_GRID:
        p = out_of_fold(data, c)
        loss = log_loss(y, p)
        print(f"C={c}: out-of-fold log loss {loss:.4f}, AUC {roc_auc_score(y, p):.4f}")
        if loss < best_loss:
            best_c, best_loss, best_p = c, loss, p
    thresholds = [round(0.01 * i, 2) for i in range(0, 91)]
    rows = curve(data, best_p, thresholds)
    base = rows[0]
    floor = base["recall"] - args.recall_slack
    chosen = max((r for r in rows if r["recall"] >= floor), key=lambda r: r["t"])
    print(f"\nC={best_c}; the extractor alone: precision {base['precision']:.3f}, "
          f"recall {base['recall']:.3f} ({base['matched']} of {base['predicted']})\n")
    print("| t | predicted | right | precision | recall |")
    print("|---|---|---|---|---|")
    for r in rows:
        if r["t"] * 100 % 5 == 0 or r is chosen:
            mark = " **chosen**" if r is chosen else ""
            print(f"| {r['t']:.2f}{mark} | {r['predicted']} | {r['matched']} | "
                  f"{r['precision']:.3f} | {r['recall']:.3f} |")
    dropped = Counter(s for s, q in zip(data["sources"], best_p, strict=True)
                      if q < chosen["t"])
    print(f"\ndropped at t={chosen['t']}, by source: {dict(dropped.most_common(12))}")

    if args.dry_run:
        return 0
    vec, model = _fit(data["feats"], y, best_c)
    names = vec.get_feature_names_out()
    weights = {str(n): round(float(w), 4) for n, w in zip(names, model.coef_[0], strict=True)
               if abs(w) >= 1e-4}
    used = {w for fs in data["facts"] for f in fs for w in _content(f.text)}
    verifier = FactVerifier(weights=weights, bias=round(float(model.intercept_[0]), 4),
                            threshold=chosen["t"],
                            clusters={w: c for w, c in clusters.items() if w in used})
    meta = {"fitted_on": TRAIN_SETS, "calls": len(data["cases"]), "facts": len(y),
            "right": int(y.sum()), "C": best_c, "folds": FOLDS, "min_count": MIN_COUNT,
            "out_of_fold": {"log_loss": round(best_loss, 4),
                            "auc": round(float(roc_auc_score(y, best_p)), 4),
                            "extractor": base, "chosen": chosen,
                            "curve": [r for r in rows if r["t"] * 100 % 5 == 0]}}
    args.out.write_text(json.dumps(verifier.to_json(meta), indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    shown = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
    print(f"wrote {shown}: {len(weights)} weights, "
          f"{len(verifier.clusters)} clustered words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
