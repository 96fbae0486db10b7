"""Fit the rule extractor's learned layer (the turn classifier) and calibrate its thresholds.

    python scripts/fit_extraction_model.py              # fit, cross-validate, write weights
    python scripts/fit_extraction_model.py --embedding --dry-run   # add sentence vectors

Trains only on the project's own labelled calls that the brief allows: the first set, the
tuning set, A, B, C, E and G. Sets D (the independent set) and F (the fourth round's
leave-out) are never read here.

Turn labels come from the call labels: an expected fact without a slot key (a
preference, a constraint, a recurring need, an agent's promise, or any other durable
fact, "note") marks the first turn whose words hold all of its keywords. Slot facts
(names, e-mails, phones, times) are the rules' work and are not learned.

Each kind gets one logistic regression (scikit-learn; only numpy runs at extraction
time) over the words and word pairs of the caller's and the agent's text, and with
``--embedding`` the bundled static embedding's vectors of both. The committed weights use
words only: out of fold, the sentence vectors let the layer add more facts to the calls
the rules read, but fewer of them right (27 added, 12 right, against 9 and 9), so they
are not shipped. Thresholds are calibrated by grouped cross-validation
(calls never split across folds): per kind, the lowest probability at which the facts the
layer would write, span and all, match a labelled fact at least ``--precision`` of the
time out of fold. The weights land in ``src/voxmem/extraction/data/learned_v1.json``.
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
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from voxmem.extraction import RuleExtractor  # noqa: E402
from voxmem.extraction._evaluate import (  # noqa: E402
    TRAINING_SETS,
    load_labelled_set,
    score_case,
    summarize,
    to_transcript,
)
from voxmem.extraction._learned import (  # noqa: E402
    DEFAULT_MODEL_PATH,
    FACT_KIND,
    LEARNED_KINDS,
    TurnClassifier,
    TurnEmbedder,
    _fact_text,
    covered_kinds,
    left_to_rules,
    turn_features,
)
from voxmem.extraction._rules_common import TurnView  # noqa: E402

DATA = ROOT / "tests" / "data"
TRAIN_SETS = list(TRAINING_SETS[:7])
#: Written later, to tune the rules on; ``--more-sets`` adds them. Fitted with them, the
#: layer adds fewer facts, not more (docs/extraction.md), so the shipped weights leave them out.
MORE_SETS = list(TRAINING_SETS[7:])
FOLDS = 5
#: Features seen in fewer training turns than this are dropped (noise, and file size).
MIN_COUNT = 2
#: The dense vectors are unit length (entries near 0.06); scaled so L2 treats them like
#: the 0/1 word features.
DENSE_SCALE = 4.0
#: Fewest out-of-fold facts a threshold must rest on; with fewer, the kind stays off.
MIN_SUPPORT = 10


def _label(case: dict[str, Any], views: list[TurnView]) -> list[set[str]]:
    labels: list[set[str]] = [set() for _ in views]
    for fact in case.get("expected_facts", []):
        if fact.get("slot_key"):
            continue
        kind = fact.get("kind") or "note"
        if kind not in LEARNED_KINDS:
            continue
        keys = [str(k).lower() for k in fact.get("must_contain", [])]
        for i, v in enumerate(views):
            text = f"{v.user} {v.agent} {v.user_raw}".lower()
            if keys and all(k in text for k in keys):
                said = f"{v.user} {v.user_raw}".lower()
                if kind == "note" and not all(k in said for k in keys):
                    kind = "agent_note"  # only the agent's words hold it
                labels[i].add(kind)
                break
    return labels


def _matches(case: dict[str, Any], kind: str, text: str) -> bool:
    kind = FACT_KIND.get(kind, kind)
    low = text.lower()
    if any(str(b).lower() in low for b in case.get("must_not_contain", [])):
        return False
    for fact in case.get("expected_facts", []):
        if fact.get("slot_key") or (fact.get("kind") and fact["kind"] != kind):
            continue
        if all(str(k).lower() in low for k in fact.get("must_contain", [])):
            return True
    return False


class Data:
    """Every training turn: features, labels, and what is needed to score its span."""

    def __init__(self, embedder: TurnEmbedder | None, sets: list[str]) -> None:
        rules = RuleExtractor(learned=False, verify=False)
        self.cases: list[dict[str, Any]] = []
        self.rows: list[tuple[int, TurnView]] = []  # (case index, turn)
        # Per row, the kinds the rules read in that turn: the layer never writes those.
        self.done: list[set[str]] = []
        feats: list[list[str]] = []
        dense: list[np.ndarray[Any, Any]] = []
        labels: list[set[str]] = []
        for name in sets:
            for case in load_labelled_set(DATA / f"{name}.jsonl"):
                candidates, views = rules.rule_pass(to_transcript(case))
                covered = covered_kinds(candidates)
                ci = len(self.cases)
                self.cases.append(case)
                labels.extend(_label(case, views))
                for v in views:
                    self.rows.append((ci, v))
                    self.done.append(covered.get(v.turn_id, set()))
                    feats.append(turn_features(v.user, v.agent))
                    if embedder is not None:
                        dense.append(embedder.turn_vector(v.user, v.agent) * DENSE_SCALE)
        counts = Counter(f for fs in feats for f in set(fs))
        self.vocabulary = {f: i for i, f in enumerate(sorted(
            f for f, n in counts.items() if n >= MIN_COUNT))}
        indptr, indices = [0], []
        for fs in feats:
            indices.extend(sorted({i for f in fs if (i := self.vocabulary.get(f)) is not None}))
            indptr.append(len(indices))
        words = sparse.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr),
                                  shape=(len(feats), len(self.vocabulary)))
        self.x = sparse.hstack([words, sparse.csr_matrix(np.asarray(dense))]).tocsr() if dense \
            else words
        self.y = np.asarray([[k in ls for k in LEARNED_KINDS] for ls in labels], dtype=int)
        self.groups = np.asarray([ci for ci, _ in self.rows])
        self.dense_dims = len(dense[0]) if dense else 0


def _fit(x: Any, y: np.ndarray[Any, Any], c: float) -> list[LogisticRegression]:
    return [LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(x, y[:, k])
            for k in range(len(LEARNED_KINDS))]


def _classifier(models: list[LogisticRegression], data: Data, thresholds: dict[str, float],
                embedder: TurnEmbedder | None) -> TurnClassifier:
    coef = np.stack([m.coef_[0] for m in models], axis=1).astype(np.float32)
    n = len(data.vocabulary)
    return TurnClassifier(
        vocabulary=dict(data.vocabulary),
        sparse=coef[:n],
        dense=coef[n:] * DENSE_SCALE,
        intercept=np.asarray([m.intercept_[0] for m in models], dtype=np.float32),
        thresholds=thresholds,
        embedder=embedder if data.dense_dims else None,
    )


def calibrate(data: Data, oof: np.ndarray[Any, Any], target: float, *, left_only: bool
              ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per kind, the lowest threshold whose out-of-fold facts reach ``target`` precision.

    With ``left_only``, only the turns the layer would write in are counted (no rule read
    that kind there): the facts it adds at run time, not the ones the rules already have.
    """
    thresholds: dict[str, float] = {}
    report: dict[str, dict[str, float]] = {}
    for k, kind in enumerate(LEARNED_KINDS):
        scored: list[tuple[float, bool]] = []
        for row, (ci, view) in enumerate(data.rows):
            p = float(oof[row, k])
            if p < 0.3 or (left_only and left_to_rules(kind, data.done[row])):
                continue
            text = _fact_text(kind, view)
            if text:
                scored.append((p, _matches(data.cases[ci], kind, text)))
        scored.sort(reverse=True)
        best: tuple[float, int, float] | None = None
        hits = 0
        for n, (p, ok) in enumerate(scored, 1):
            hits += ok
            if n >= MIN_SUPPORT and hits / n >= target:
                best = (p, n, hits / n)
        if best is None:
            thresholds[kind] = 1.01  # never reaches the target: off
            report[kind] = {"threshold": 1.01, "facts": 0, "precision": 0.0}
        else:
            thresholds[kind] = best[0]
            report[kind] = {"threshold": round(best[0], 4), "facts": best[1],
                            "precision": round(best[2], 3),
                            "labelled_turns": int(data.y[:, k].sum())}
    return thresholds, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedding", action="store_true",
                    help="add the static embedding's sentence vectors to the features")
    ap.add_argument("--precision", type=float, default=0.92,
                    help="out-of-fold precision each kind's threshold must reach")
    ap.add_argument("--c", type=float, default=0.5, help="inverse L2 strength")
    ap.add_argument("--dry-run", action="store_true", help="do not write the weights")
    ap.add_argument("--left-only", action="store_true",
                    help="calibrate only on the turns left to the layer (no rule read the kind)")
    ap.add_argument("--more-sets", action="store_true",
                    help=f"also train on {', '.join(MORE_SETS)}")
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    args = ap.parse_args()

    started = time.perf_counter()
    embedder = TurnEmbedder() if args.embedding else None
    sets = TRAIN_SETS + (MORE_SETS if args.more_sets else [])
    data = Data(embedder, sets)
    print(f"{len(data.cases)} calls, {len(data.rows)} turns, {len(data.vocabulary)} word "
          f"features, {data.dense_dims} dense; labelled turns per kind: "
          f"{dict(zip(LEARNED_KINDS, data.y.sum(axis=0).tolist(), strict=True))}")

    oof = np.zeros(data.y.shape, dtype=float)
    folds = list(GroupKFold(n_splits=FOLDS).split(data.x, groups=data.groups))
    fold_models = []
    for train, test in folds:
        models = _fit(data.x[train], data.y[train], args.c)
        fold_models.append(models)
        for k, m in enumerate(models):
            oof[test, k] = m.predict_proba(data.x[test])[:, 1]
    thresholds, report = calibrate(data, oof, args.precision, left_only=args.left_only)
    print("thresholds (out-of-fold):", json.dumps(report, indent=1))

    # The whole extractor, rules plus the layer, out of fold: each call is read by a
    # classifier that never saw it.
    both, alone = [], []
    rules = RuleExtractor(learned=False, verify=False)
    for (_, test), models in zip(folds, fold_models, strict=True):
        layered = RuleExtractor(learned=_classifier(models, data, thresholds, embedder),
                                tagger=False, verify=False)  # the layer alone, as it was calibrated
        for ci in sorted(set(data.groups[test].tolist())):
            case = data.cases[ci]
            transcript = to_transcript(case)
            both.append(score_case(case, layered.extract_sync(transcript)))
            alone.append(score_case(case, rules.extract_sync(transcript)))
    s_rules, s_both = summarize(alone), summarize(both)
    cv = {"rules": [round(s_rules.precision, 4), round(s_rules.recall, 4)],
          "rules_plus_learned": [round(s_both.precision, 4), round(s_both.recall, 4)],
          "added_predictions": s_both.predicted - s_rules.predicted,
          "added_matches": s_both.matched - s_rules.matched}
    print("out-of-fold, precision/recall over the training calls:", cv)

    final = _classifier(_fit(data.x, data.y, args.c), data, thresholds, embedder)
    meta = {"script": "scripts/fit_extraction_model.py", "train_sets": sets,
            "calls": len(data.cases), "turns": len(data.rows), "c": args.c,
            "target_precision": args.precision, "folds": FOLDS, "calibration": report,
            "calibrated_on": "turns left to the layer" if args.left_only else "all turns",
            "cross_validated": cv}
    print(f"done in {time.perf_counter() - started:.0f}s")
    if not args.dry_run:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        digest = embedder.digest if embedder is not None else ""
        args.out.write_text(json.dumps(final.to_json(digest, meta), separators=(",", ":")) + "\n",
                            encoding="utf-8")
        print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
