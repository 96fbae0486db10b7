"""A saved turn's text work as one pure function: redaction, the claim scan, the terms.

The same function runs on the event loop (inline) and in the text worker process
(``_text_work``), so both give the same answer by construction: what depends on earlier
turns (the redaction context) is an argument and part of the result, never state of the
process that runs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ..entities._identifiers import SpokenClaims, spoken_claims
from ..extraction.redaction import RedactedTurn, TurnContext, redact_turn
from ..extraction.sensitive import SensitivePolicy
from ._analysis import analyze

__all__ = ["TextJob", "TurnText", "text_work", "text_works"]


@dataclasses.dataclass(frozen=True, slots=True)
class TextJob:
    """One turn's text work to do: its raw parts and what its session's last turn left.

    ``scan``: whether the caller's words are scanned for identifiers; ``region``: the
    default phone region of the scan.
    """

    context: TurnContext
    user_text: str
    assistant_text: str
    tool_calls: list[dict[str, Any]] | None
    metadata: dict[str, Any] | None
    scan: bool
    region: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class TurnText:
    """A turn's text work done: the redacted turn, the context it leaves for the session's
    next turn, the terms of its text for the warm index and the claim scan of the
    redacted caller words (None: not scanned, as for empty words or with linking off)."""

    clean: RedactedTurn
    context: TurnContext
    terms: list[str]
    claims: SpokenClaims | None


def turn_text(user_text: str, assistant_text: str) -> str:
    """The searchable text of a turn, as ``models.Turn.text`` joins it."""
    if user_text and assistant_text:
        return f"{user_text}\n{assistant_text}"
    return user_text or assistant_text


def text_work(job: TextJob, policy: SensitivePolicy) -> TurnText:
    """Redact one turn, then scan the redacted caller words and analyse the turn's text."""
    clean, context = redact_turn(job.context, user_text=job.user_text,
                                 assistant_text=job.assistant_text, tool_calls=job.tool_calls,
                                 metadata=job.metadata, policy=policy)
    claims = (spoken_claims(clean.user_text, job.region)
              if job.scan and clean.user_text.strip() else None)
    return TurnText(clean, context,
                    analyze(turn_text(clean.user_text, clean.assistant_text)), claims)


def text_works(jobs: Sequence[TextJob], policy: SensitivePolicy) -> list[TurnText]:
    """:func:`text_work` for a batch (what one message to the worker carries)."""
    return [text_work(job, policy) for job in jobs]
