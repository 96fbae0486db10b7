"""What a caller declares that redaction takes out of the transcript but the policy keeps.

A caller's own allergy is health data, so it is redacted from the stored turn; it is also
a safety constraint the policy keeps as a fact (``SensitivePolicy.allergy_constraints``).
The learner reads the call's stored, redacted turns when the call ends, by which time the
caller's words are gone. So the fact is read from the raw words when the turn is saved
and kept with the turn, under :data:`KEPT_KEY` in its metadata, for the extractors to
pick up. Only the fact's own minimal text is kept ("Allergic to penicillin"), never the
sentence it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import Transcript
from ._rules_needs import allergy_statements
from ._select import ALLERGY_FACT, Candidate
from ._spoken import restore_apostrophes
from ._text import clean_fillers
from .sensitive import SensitivePolicy

__all__ = ["KEPT_KEY", "kept_candidates", "kept_constraints", "kept_from_metadata"]

#: The turn metadata key the kept facts travel under.
KEPT_KEY = "keptConstraints"
#: More than a call's worth is not a declaration.
_MAX_KEPT = 5


def kept_constraints(user_text: str, policy: SensitivePolicy) -> list[str]:
    """The constraint facts ``user_text`` declares that redaction removes and ``policy``
    keeps: a caller's own allergies, when health data is redacted and allergies kept."""
    if not (policy.health and policy.allergy_constraints) or "allerg" not in user_text.lower():
        return []
    raw = restore_apostrophes(clean_fillers(user_text))
    found = dict.fromkeys(fact for fact, _ in allergy_statements(raw))
    return [fact for fact in found if ALLERGY_FACT.fullmatch(fact)][:_MAX_KEPT]


def kept_from_metadata(metadata: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The kept facts a stored turn carries. A client writes turn metadata too, so only
    values shaped as a kept fact count (anything else could be passed off as one)."""
    value = (metadata or {}).get(KEPT_KEY)
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value[:_MAX_KEPT] if isinstance(v, str) and ALLERGY_FACT.fullmatch(v))


def kept_candidates(transcript: Transcript) -> list[Candidate]:
    """The turns' kept facts as constraint candidates, for either extractor's selection."""
    return [Candidate(text=fact, kind="constraint", slot_key=None, confidence=0.8,
                      turn_ids=(turn.turn_id,), position=(i, 0))
            for i, turn in enumerate(transcript.turns) for fact in turn.kept]
