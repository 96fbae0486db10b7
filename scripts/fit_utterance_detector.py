"""Fit the utterance detector (a logistic regression over sentence vectors of the caller's
clauses) and choose its threshold out of fold.

    python scripts/fit_utterance_detector.py --dry-run   # cross-validate, print the curve
    python scripts/fit_utterance_detector.py             # ... and write the weights
    python scripts/fit_utterance_detector.py --measure extraction_check_h --at 0.7
        # a set's totals without the detector and with it at each --at threshold
    python scripts/fit_utterance_detector.py --dry-run --open-only   # the trial that lost

Needs scikit-learn (in the dev environment) to fit; extraction reads the exported weights
with numpy (``src/voxmem/extraction/_detector.py``).

Trains only on ``_evaluate.TRAINING_SETS`` (the first set without its ``holdout2``
split); the check sets, F and D are never read here except by ``--measure``, which prints
a set's totals and recall by kind with and without the detector, never a text.

Examples: every clause of the caller's words (``_detector.caller_clauses``) in every turn,
read by the rules' own normalisation. Label: the kind of the first slot-less expected
fact that is not the agent's commitment and whose keywords all appear in the fact the
clause would become (preference, constraint, recurring need, or any other: ``note``);
``none`` otherwise. No new labels.

Features: the bundled static embedding's unit vectors of the clause, the caller's whole
turn, the agent's reply and the agent's words before the turn (4 x 384), scaled by 4.
Model: multinomial logistic regression, C chosen by grouped five-fold out-of-fold log
loss. Threshold: each call is read by the whole extractor (rules, learned layer, fact
verifier) with a detector fitted without it; the shipped threshold is the lowest on the
grid at which the facts the detector adds are right at least ``--precision`` (0.80) of
the time, on at least 10 added facts; with none, the detector stays off (threshold 1.01).
Deterministic: the folds are fixed by call order, the solver has no randomness.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from voxmem.extraction import RuleExtractor  # noqa: E402
from voxmem.extraction._detector import (  # noqa: E402
    DEFAULT_DETECTOR_PATH,
    DETECTOR_KINDS,
    UtteranceDetector,
    caller_clauses,
    clause_fact,
)
from voxmem.extraction._evaluate import (  # noqa: E402
    NEVER_TUNED_SPLITS,
    TRAINING_SETS,
    load_labelled_set,
    score_case,
    to_transcript,
)
from voxmem.extraction._learned import TurnEmbedder  # noqa: E402
from voxmem.extraction._text import third_person  # noqa: E402

DATA = ROOT / "tests" / "data"
FOLDS = 5
C_GRID = (0.01, 0.03, 0.1, 0.3)
T_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
MIN_SUPPORT = 10
CALLER_KINDS = frozenset({"preference", "constraint", "availability", "need", "note"})
CLASS = {k: i for i, k in enumerate(DETECTOR_KINDS)}


def _class_of(kind: str | None) -> int:
    return CLASS.get(kind or "note", CLASS["note"])


def training_cases() -> list[dict[str, Any]]:
    """The training sets' calls, in a fixed order."""
    return [case for name in TRAINING_SETS for case in load_labelled_set(DATA / f"{name}.jsonl")
            if case.get("split") not in NEVER_TUNED_SPLITS]


def collect(cases: list[dict[str, Any]], detector: UtteranceDetector, *, open_only: bool = False
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Every caller clause's features, its label and its call's index; with ``open_only``
    only the clauses of turns where the extractor kept no wish or note of the caller's
    (where the detector would read), labels still aligned over every clause."""
    rules = RuleExtractor(learned=False, verify=False)
    full = RuleExtractor(verify=False)
    rows, labels, groups = [], [], []
    stats = {"labels": 0, "aligned": 0}
    for call, case in enumerate(cases):
        _, views = rules.rule_pass(to_transcript(case))
        read = ({t for c in full.read(to_transcript(case))[1] if c.kind in CALLER_KINDS
                 for t in c.turn_ids} if open_only else set())
        units = [(view, clause) for view in views for clause in caller_clauses(view.user)]
        texts = [(clause_fact("note", c.text, v.agent) or third_person(c.text)).lower()
                 for v, c in units]
        forbidden = [str(s).lower() for s in case.get("must_not_contain", [])]
        y = [0] * len(units)
        for fact in case.get("expected_facts", []):
            if fact.get("slot_key") or fact.get("kind") == "commitment":
                continue
            stats["labels"] += 1
            keys = [str(k).lower() for k in fact.get("must_contain", [])]
            for i, text in enumerate(texts):
                if y[i] == 0 and all(k in text for k in keys) and not any(
                        b in text for b in forbidden):
                    y[i] = _class_of(fact.get("kind"))
                    stats["aligned"] += 1
                    break
        for (view, clause), label in zip(units, y, strict=True):
            if view.turn_id in read:
                continue
            rows.append(detector.features(clause.text, view))
            labels.append(label)
            groups.append(call)
    return (np.asarray(rows, dtype=np.float32), np.asarray(labels), np.asarray(groups), stats)


def _fit(x: np.ndarray, y: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=3000)  # lbfgs: no randomness
    model.fit(x, y)
    return model


def _as_detector(model: LogisticRegression, embedder: TurnEmbedder, threshold: float
                 ) -> UtteranceDetector:
    # A class no training clause has (the open turns hold no recurring need) gets a row
    # that never wins: zero weights and a very low intercept.
    coef = np.zeros((len(DETECTOR_KINDS), model.coef_.shape[1]), dtype=np.float32)
    intercept = np.full(len(DETECTOR_KINDS), -30.0, dtype=np.float32)
    for row, cls in enumerate(model.classes_):
        coef[int(cls)] = model.coef_[row]
        intercept[int(cls)] = model.intercept_[row]
    return UtteranceDetector(coef=coef, intercept=intercept, threshold=threshold,
                             embedder=embedder)


def folds(groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped folds: a call's clauses are never split."""
    return list(GroupKFold(n_splits=FOLDS).split(np.zeros(len(groups)), groups=groups))


def choose_c(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[float, dict[float, float]]:
    """The L2 strength with the lowest out-of-fold log loss."""
    losses: dict[float, float] = {}
    for c in C_GRID:
        proba = np.zeros((len(y), len(DETECTOR_KINDS)))
        for train, test in folds(groups):
            proba[test] = _fit(x[train], y[train], c).predict_proba(x[test])
        with warnings.catch_warnings():  # float32 features: rows sum to 1 within 1e-7
            warnings.simplefilter("ignore", UserWarning)
            losses[c] = float(log_loss(y, proba,
                                       labels=list(range(len(DETECTOR_KINDS)))))
        print(f"  C={c}: out-of-fold log loss {losses[c]:.4f}", flush=True)
    return min(losses, key=lambda k: losses[k]), losses


def _run(extractor: RuleExtractor, case: dict[str, Any], missed: list[Any] | None = None
         ) -> tuple[int, int, int, int, int]:
    """(predicted, matched, expected, detector facts kept, of them preferences); the
    missed labels are added to ``missed``."""
    facts, chosen, views = extractor.read(to_transcript(case))
    source = {id(f): c.source for f, c in zip(facts, chosen, strict=True)}
    if extractor.verifier is not None:
        facts = extractor.verifier.keep(facts, chosen, views)
    result = score_case(case, facts)
    if missed is not None:
        missed.extend(result.missed_expected)
    added = [f for f in facts if source.get(id(f)) == "detector"]
    return (result.predicted, result.matched, result.expected, len(added),
            sum(1 for f in added if f.kind == "preference"))


def out_of_fold_curve(cases: list[dict[str, Any]], groups: np.ndarray, x: np.ndarray,
                      y: np.ndarray, c: float, embedder: TurnEmbedder) -> list[dict[str, Any]]:
    """The whole extractor's totals on the training calls, each call read with a detector
    fitted without it, at each threshold of the grid (and without the detector)."""
    call_fold: dict[int, int] = {}
    detectors: list[UtteranceDetector] = []
    for f, (train, test) in enumerate(folds(groups)):
        detectors.append(_as_detector(_fit(x[train], y[train], c), embedder, 1.01))
        call_fold.update({int(g): f for g in set(groups[test].tolist())})
    extractors = [RuleExtractor(detector=d) for d in detectors]
    base = RuleExtractor()
    base_rows = [_run(base, case) for case in cases]
    b_pred = sum(r[0] for r in base_rows)
    b_match = sum(r[1] for r in base_rows)
    expected = sum(r[2] for r in base_rows)
    curve = [{"t": None, "predicted": b_pred, "matched": b_match,
              "precision": round(b_match / b_pred, 4), "recall": round(b_match / expected, 4)}]
    print(f"| t | predicted | matched | precision | recall | added predictions | added right "
          f"| detector facts (preferences) |\n|---|---|---|---|---|---|---|---|\n"
          f"| none | {b_pred} | {b_match} | {b_match / b_pred:.3f} | {b_match / expected:.3f} "
          f"| | | |", flush=True)
    for t in T_GRID:
        for d in detectors:
            d.threshold = t
        # A call without a clause of two words is in no fold; the detector reads nothing there.
        rows = [_run(extractors[call_fold.get(i, 0)], case) for i, case in enumerate(cases)]
        pred, match = sum(r[0] for r in rows), sum(r[1] for r in rows)
        kept, prefs = sum(r[3] for r in rows), sum(r[4] for r in rows)
        curve.append({"t": t, "predicted": pred, "matched": match,
                      "precision": round(match / pred, 4), "recall": round(match / expected, 4),
                      "added_predictions": pred - b_pred, "added_matches": match - b_match,
                      "detector_facts": kept, "detector_preferences": prefs})
        print(f"| {t} | {pred} | {match} | {match / pred:.3f} | {match / expected:.3f} | "
              f"{pred - b_pred} | {match - b_match} | {kept} ({prefs}) |", flush=True)
    return curve


def choose_threshold(curve: list[dict[str, Any]], precision: float) -> float:
    """The lowest threshold whose added facts are right at least ``precision`` of the time."""
    for row in curve[1:]:
        added = row["added_predictions"]
        if added >= MIN_SUPPORT and row["added_matches"] / added >= precision:
            return float(row["t"])
    return 1.01


def measure(names: list[str], detector: UtteranceDetector, thresholds: list[float]) -> None:
    """The sets' totals (each, then together) without the detector and with it at each
    threshold: predicted, matched, preferences matched, the detector's facts; no texts."""
    cases = {name: load_labelled_set(DATA / f"{name}.jsonl") for name in names}
    print("| set | t | predicted | matched | expected | precision | recall | preferences "
          "| detector facts |\n|---|---|---|---|---|---|---|---|---|")
    extractor = RuleExtractor(detector=detector)
    for t in (1.01, *thresholds):  # 1.01: the detector reads nothing, the default extractor
        detector.threshold = t
        total = np.zeros(6, dtype=int)
        for name in names:
            row = np.zeros(6, dtype=int)
            for case in cases[name]:
                pred, match, expected, kept, _ = _run(extractor, case, missed := [])
                prefs = [f for f in case["expected_facts"] if f.get("kind") == "preference"]
                missed = [f for f in missed if f.get("kind") == "preference"]
                row += (pred, match, expected, len(prefs) - len(missed), len(prefs), kept)
            total += row
            for label, r in ((name, row),) + ((("together", total),) if name == names[-1]
                                              and len(names) > 1 else ()):
                print(f"| {label} | {'off' if t > 1 else t} | {r[0]} | {r[1]} | {r[2]} | "
                      f"{r[1] / max(r[0], 1):.3f} | {r[1] / max(r[2], 1):.3f} | "
                      f"{r[3]} of {r[4]} | {r[5]} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="measure only")
    parser.add_argument("--precision", type=float, default=0.80)
    parser.add_argument("--measure", action="append", default=[],
                        help="a labelled set's name: its totals with and without the detector")
    parser.add_argument("--at", type=float, action="append", default=[],
                        help="with --measure: a threshold to measure at (default: the file's)")
    parser.add_argument("--open-only", action="store_true",
                        help="fit only on the clauses of turns the extractor leaves open")
    parser.add_argument("--c", type=float, default=None,
                        help="this L2 strength instead of choosing one on the grid")
    parser.add_argument("--out", type=Path, default=DEFAULT_DETECTOR_PATH)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    embedder = TurnEmbedder()
    embedder.embed = functools.lru_cache(maxsize=None)(embedder.embed)  # type: ignore[method-assign]
    if args.measure:
        data = json.loads(args.out.read_text("utf-8"))
        detector = UtteranceDetector.from_json(data, embedder)
        measure(args.measure, detector, args.at or [detector.threshold])
        return 0
    probe = UtteranceDetector(coef=np.zeros((len(DETECTOR_KINDS), 4 * embedder.dimensions),
                                            dtype=np.float32),
                              intercept=np.zeros(len(DETECTOR_KINDS), dtype=np.float32),
                              threshold=1.01, embedder=embedder)
    cases = training_cases()
    x, y, groups, stats = collect(cases, probe, open_only=args.open_only)
    counts = {k: int((y == i).sum()) for i, k in enumerate(DETECTOR_KINDS)}
    print(f"{len(cases)} calls, {len(y)} clauses {counts}; {stats['aligned']} of "
          f"{stats['labels']} slot-less caller labels aligned to a clause", flush=True)
    c, losses = (args.c, {}) if args.c else choose_c(x, y, groups)
    print(f"C = {c}", flush=True)
    curve = out_of_fold_curve(cases, groups, x, y, c, embedder)
    threshold = choose_threshold(curve, args.precision)
    print(f"threshold {threshold} ({time.perf_counter() - started:.0f} s)")
    if args.dry_run:
        return 0
    model = _fit(x, y, c)
    meta = {"script": "scripts/fit_utterance_detector.py", "training_sets": list(TRAINING_SETS),
            "open_only": args.open_only, "calls": len(cases), "clauses": len(y),
            "class_counts": counts,
            "labels_aligned": stats, "c": c, "log_loss_by_c": {str(k): round(v, 4)
                                                                 for k, v in losses.items()},
            "precision_rule": args.precision, "min_support": MIN_SUPPORT,
            "out_of_fold_curve": curve}
    detector = _as_detector(model, embedder, threshold)
    args.out.write_text(json.dumps(detector.to_json(meta), separators=(",", ":")) + "\n",
                        encoding="utf-8")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
