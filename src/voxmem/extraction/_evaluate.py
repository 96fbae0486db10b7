"""Scoring an extractor against a labelled set of calls (``tests/data/extraction_set.jsonl``).

Used by ``benchmarks/extraction.py`` and the quality test, and usable on your own set:
one JSON object per line with ``id``, ``turns`` (``turn_id``, ``user_text``,
``assistant_text``), optional ``caller_name``, ``expected_facts`` (``slot_key``, ``kind``,
``must_contain``) and ``must_not_contain``.

Matching: a predicted fact matches an expected one when the expected kind and slot key
(where given, i.e. not null) agree and its text contains every ``must_contain`` keyword,
case-insensitively. Each predicted fact matches at most one expected fact and vice versa
(maximum bipartite matching), so a duplicate is a false positive. A predicted fact that
contains any ``must_not_contain`` string is a violation and counts as a false positive
even if it also matched.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._base import ExtractedFact, Transcript, TranscriptTurn

__all__ = ["NEVER_TUNED_SPLITS", "TRAINING_SETS", "CaseResult", "Score", "load_labelled_set",
           "score_case", "summarize", "to_transcript"]

#: Every labelled set (``tests/data/<name>.jsonl``) the extraction models may be fitted
#: on; the check sets, F and the independent set D are never among them
#: (docs/extraction.md says which set is which).
TRAINING_SETS = ("extraction_set", "extraction_tune", "extraction_heldout",
                 "extraction_heldout_b", "extraction_heldout_c", "extraction_tune_e",
                 "extraction_tune_g", "extraction_tune_i", "extraction_tune_j",
                 "extraction_tune_m", "extraction_tune_o", "extraction_tune_q",
                 "extraction_tune_s", "extraction_tune_u", "extraction_tune_w",
                 "extraction_tune_x", "extraction_tune_y")
#: The first set's split that was never tuned on.
NEVER_TUNED_SPLITS = ("holdout2",)


def load_labelled_set(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL labelled set; blank lines are skipped."""
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def to_transcript(case: dict[str, Any]) -> Transcript:
    """Build the :class:`Transcript` of one labelled case."""
    turns = [
        TranscriptTurn(
            turn_id=str(t["turn_id"]),
            user_text=str(t.get("user_text", "")),
            assistant_text=str(t.get("assistant_text", "")),
            created_at=float(i),
            interrupted=bool(t.get("interrupted", False)),
        )
        for i, t in enumerate(case["turns"])
    ]
    return Transcript(
        session_id=str(case["id"]),
        user_id=f"user-{case['id']}",
        turns=turns,
        caller_name=case.get("caller_name"),
    )


@dataclasses.dataclass(slots=True)
class CaseResult:
    """How one call scored."""

    case_id: str
    predicted: int
    expected: int
    matched: int
    violations: list[str]
    unmatched_predicted: list[str]
    missed_expected: list[dict[str, Any]]
    #: The kind of every predicted fact, and of those that matched a label (precision by
    #: kind, which says where wrong predictions come from without reading their texts).
    predicted_kinds: list[str] = dataclasses.field(default_factory=list)
    matched_kinds: list[str] = dataclasses.field(default_factory=list)


def _fits(fact: ExtractedFact, expected: dict[str, Any]) -> bool:
    kind = expected.get("kind")
    slot = expected.get("slot_key")
    if kind and fact.kind != kind:
        return False
    if slot and fact.slot_key != slot:
        return False
    text = fact.text.lower()
    return all(str(k).lower() in text for k in expected.get("must_contain", []))


def _max_matching(edges: list[list[int]], n_right: int) -> list[int]:
    """Kuhn's augmenting paths; returns, for each right node, its left partner or -1."""
    partner = [-1] * n_right

    def augment(left: int, seen: list[bool]) -> bool:
        for right in edges[left]:
            if seen[right]:
                continue
            seen[right] = True
            if partner[right] == -1 or augment(partner[right], seen):
                partner[right] = left
                return True
        return False

    for left in range(len(edges)):
        augment(left, [False] * n_right)
    return partner


def score_case(case: dict[str, Any], facts: Sequence[ExtractedFact]) -> CaseResult:
    """Match ``facts`` predicted for ``case`` against its labels."""
    expected: list[dict[str, Any]] = list(case.get("expected_facts", []))
    forbidden = [str(s).lower() for s in case.get("must_not_contain", [])]
    violations = [
        f.text for f in facts if any(bad in f.text.lower() for bad in forbidden)
    ]
    clean = [f for f in facts if f.text not in violations]
    edges = [[j for j, e in enumerate(expected) if _fits(f, e)] for f in clean]
    partner = _max_matching(edges, len(expected))
    matched_left = {p for p in partner if p != -1}
    return CaseResult(
        case_id=str(case["id"]),
        predicted=len(facts),
        expected=len(expected),
        matched=len(matched_left),
        violations=violations,
        unmatched_predicted=[f.text for i, f in enumerate(clean) if i not in matched_left],
        missed_expected=[e for j, e in enumerate(expected) if partner[j] == -1],
        predicted_kinds=[f.kind for f in facts],
        matched_kinds=[f.kind for i, f in enumerate(clean) if i in matched_left],
    )


@dataclasses.dataclass(slots=True)
class Score:
    """Precision and recall over a labelled set."""

    cases: int
    predicted: int
    expected: int
    matched: int
    violations: int

    @property
    def precision(self) -> float:
        """Matched predictions / all predictions (1.0 when nothing was predicted)."""
        return self.matched / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        """Matched expected facts / all expected facts."""
        return self.matched / self.expected if self.expected else 1.0


def summarize(results: Sequence[CaseResult]) -> Score:
    """Add up per-case results."""
    return Score(
        cases=len(results),
        predicted=sum(r.predicted for r in results),
        expected=sum(r.expected for r in results),
        matched=sum(r.matched for r in results),
        violations=sum(len(r.violations) for r in results),
    )
