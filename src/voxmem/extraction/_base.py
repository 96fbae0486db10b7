"""The extractor protocol and the records it reads and writes.

An extractor reads one finished call (:class:`Transcript`) and returns a few short
third-person statements about the caller (:class:`ExtractedFact`), best first: at most
:data:`KIND_LIMITS` of each kind and :data:`MAX_FACTS` in all. Returning nothing is
normal: most calls teach nothing durable.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

__all__ = [
    "FACT_KINDS",
    "KIND_LIMITS",
    "MAX_FACTS",
    "MAX_FACT_CHARS",
    "ExtractedFact",
    "Extractor",
    "Transcript",
    "TranscriptTurn",
]

#: What a fact is about. ``identity``: name, account or order numbers; ``contact``: email,
#: phone, address; ``preference``: likes, dislikes, diet, language, contact method;
#: ``constraint``: what the caller cannot do or must have; ``availability``: when they can
#: be reached or booked; ``commitment``: what the agent promised; ``need``: what the caller
#: needs again and again; ``note``: anything else durable (plan, a move).
FACT_KINDS: tuple[str, ...] = (
    "identity",
    "contact",
    "preference",
    "constraint",
    "availability",
    "commitment",
    "need",
    "note",
)

#: Most facts one call may produce: a ceiling for long, dense calls. Most calls teach
#: zero to three facts; :data:`KIND_LIMITS` is what usually binds.
MAX_FACTS = 12
#: Most facts of each kind one call may produce. A slot holds one value anyway (the latest
#: statement wins it); these bound the facts without a slot, so one chatty call cannot
#: crowd the memory with, say, ten commitments, while a caller who gives a name, an
#: e-mail, two preferences and a time no longer loses one of them to a flat cap of five.
KIND_LIMITS: dict[str, int] = {
    "identity": 4,
    "contact": 4,
    "preference": 4,
    "constraint": 3,
    "availability": 2,
    "commitment": 3,
    "need": 3,
    "note": 4,
}
#: Longest fact text accepted; a fact is a line in a prompt, not a paragraph.
MAX_FACT_CHARS = 200


@dataclasses.dataclass(frozen=True, slots=True)
class TranscriptTurn:
    """One exchange of a call: what the caller said and what the agent answered."""

    turn_id: str
    user_text: str
    assistant_text: str
    created_at: float
    interrupted: bool = False
    #: facts the caller declared that redaction took out of ``user_text`` and the policy
    #: keeps (a declared allergy: "Allergic to peanuts"); read when the turn was saved
    kept: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Transcript:
    """A finished call, turns in the order they happened.

    ``caller_name`` is the name the platform already knows (CRM, SIP display name), if any;
    extractors may use it as a hint but never emit it as a fact on its own.
    """

    session_id: str
    user_id: str
    turns: list[TranscriptTurn]
    caller_name: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ExtractedFact:
    """A durable statement about the caller, ready for the store.

    Attributes:
        text: short third-person sentence, e.g. ``"Prefers appointments before 9am"``.
        kind: one of :data:`FACT_KINDS`.
        slot_key: the single-valued slot this fact fills (``"diet"``, ``"preferred_time"``,
            ``"name"``, ``"email"``, ``"phone"``, ...). A newer fact with the same slot key
            supersedes the older one; ``None`` for facts that can coexist.
        confidence: 0..1, how sure the extractor is.
        source_turn_ids: the turns the fact was read from.
    """

    text: str
    kind: str
    slot_key: str | None
    confidence: float
    source_turn_ids: tuple[str, ...]


@runtime_checkable
class Extractor(Protocol):
    """Turns a finished call into a few facts about the caller (often none), best first.

    Implementations must never return a fact that contains sensitive data (see
    :mod:`voxmem.extraction.sensitive`), and must raise only
    :class:`~voxmem.VoxmemError` (code ``extraction.failed``) when they cannot finish.

    Example::

        extractor: Extractor = RuleExtractor()
        facts = await extractor.extract(transcript)
        for fact in facts:
            print(fact.kind, fact.slot_key, fact.text)
    """

    name: str

    async def extract(self, transcript: Transcript) -> list[ExtractedFact]:
        """Read ``transcript`` and return its facts, best first (within :data:`KIND_LIMITS`)."""
        ...
