"""From candidate facts to the final few: filter, resolve corrections, rank, limit.

Both extractors produce loose candidates and hand them here, so the rules that protect
the store are written once:

1. a candidate that is empty, too long, of an unknown kind, or that the sensitive-data
   detector flags is dropped (the detector is the last line of defence: the rule
   extractor already reads redacted text, the LLM extractor's output is untrusted);
2. for each slot key the latest statement wins ("Tuesday... actually Thursday" keeps
   Thursday), except that a positive statement beats a negative one in the same call
   ("email me, I'd rather not get calls" keeps email);
3. facts without a slot are de-duplicated by their normalised text; when one text
   contains another, the longer (more specific) one is kept;
4. the rest are ranked by confidence; each kind keeps its best ``KIND_LIMITS[kind]``
   and the call its best ``max_facts``. A per-kind limit rather than one flat cap: a
   caller's name, e-mail and three preferences are all worth keeping, ten promises from
   one call are not.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from ._base import FACT_KINDS, KIND_LIMITS, MAX_FACT_CHARS, MAX_FACTS, ExtractedFact
from ._text import word_set
from .sensitive import DEFAULT_POLICY, SensitivePolicy, is_sensitive

__all__ = ["ALLERGY_FACT", "Candidate", "select_facts"]

logger = logging.getLogger("voxmem.extraction")

_KIND_RANK = {kind: i for i, kind in enumerate(FACT_KINDS)}
_NON_WORD = re.compile(r"[^0-9a-z@+]+")
_NUMBER = re.compile(r"\d{3,}")


@dataclasses.dataclass(slots=True)
class Candidate:
    """A fact before selection.

    ``position`` orders statements in the call, ``(turn index, offset in the turn)``; the
    later one wins a slot. ``negative`` marks "not X" statements ("Do not call before
    noon"), which lose a slot to any positive statement of the same call.
    """

    text: str
    kind: str
    slot_key: str | None
    confidence: float
    turn_ids: tuple[str, ...]
    position: tuple[int, int] = (0, 0)
    negative: bool = False
    #: Which rule family or layer read it (``"identity.names"``, ``"learned"``, ...): what
    #: the fact verifier (``_verify.py``) weighs first. Empty where nothing set it.
    source: str = ""


def _norm(text: str) -> str:
    return _NON_WORD.sub(" ", text.lower()).strip()


# "Allergic to penicillin": a declared allergy, the one health detail a policy may keep
# as a constraint (SensitivePolicy.allergy_constraints). Letters only, a few words.
ALLERGY_FACT = re.compile(r"Allergic to (?!my |his |her |their )(?:[a-z][a-z'-]*)"
                          r"(?:,? (?:and |or )?[a-z][a-z'-]*){0,4}"
                          r"|Has an? [a-z][a-z'-]* allergy")


def _acceptable(c: Candidate, policy: SensitivePolicy) -> bool:
    text = c.text
    if not text or len(text) > MAX_FACT_CHARS or c.kind not in _KIND_RANK:
        return False
    if (c.kind == "constraint" and policy.health and policy.allergy_constraints
            and ALLERGY_FACT.fullmatch(text)):
        # Still checked for every other category (a card number cannot hide here).
        policy = dataclasses.replace(policy, health=False)
    # A fact is about the caller by construction: "Has diabetes" needs no "I" to count.
    if "[redacted" in text or is_sensitive(text, policy, about_caller=True):
        logger.debug("dropped a %s candidate flagged as sensitive", c.kind)
        return False
    return True


_FILLER_WORDS = word_set(
    """a an the is are to of for with and or in on at by has have named caller caller's
    their prefers regularly usually always agent promised will wants only""")
#: Share of the shorter statement's content words the longer must hold to be a repeat.
_SAME_CONTENT = 0.8


# "Dislikes olives" and "Does not want olives" say one thing: both read as "not olives".
_NEGATION_WORDS = {"dislikes": "not", "does": "", "want": "", "doesn't": "not", "no": "not"}


# What a diet's fact adds around the diet itself ("Needs gluten-free food").
_DIET_WORDS = frozenset({"food", "foods", "needs", "only", "eats", "meals", "diet", "options"})


def _content_words(norm: str) -> frozenset[str]:
    words = (_NEGATION_WORDS.get(w, w) for w in norm.split() if w not in _FILLER_WORDS)
    return frozenset(w for w in words if w)


def _same_content(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= _SAME_CONTENT and min(len(a), len(b)) >= 2


def _name_words(text: str) -> list[str]:
    # Fact texts read "Name is Dana Whitfield"; compare the name part only.
    return text.lower().removeprefix("name is ").split()


def _pick_slot_winner(group: list[Candidate]) -> Candidate:
    positives = [c for c in group if not c.negative]
    pool = positives or group
    winner = max(pool, key=lambda c: c.position)
    if winner.slot_key == "name":
        # "Katherine Moore ... it's Katherine with a K": a bare first name confirms the
        # full name said earlier rather than replacing it.
        first = _name_words(winner.text)
        if len(first) == 1:
            for other in sorted(pool, key=lambda c: c.position, reverse=True):
                words = _name_words(other.text)
                if len(words) > 1 and words[0] == first[0]:
                    return other
    return winner


def _join_surname(by_slot: dict[str, list[Candidate]]) -> None:
    """A family name given on its own completes a one-word name, or stands for the name."""
    surnames = by_slot.pop("surname", None)
    if not surnames:
        return
    last = max(surnames, key=lambda c: c.position)
    family = last.text.removeprefix("Surname is ")
    names = by_slot.get("name")
    if not names:
        by_slot["name"] = [dataclasses.replace(last, text=f"Name is {family}", slot_key="name")]
        return
    winner = _pick_slot_winner(names)
    words = _name_words(winner.text)
    if len(words) == 1 and words[0] != family.lower():
        by_slot["name"] = [dataclasses.replace(winner, text=f"{winner.text} {family}")]


def select_facts(
    candidates: list[Candidate],
    *,
    policy: SensitivePolicy = DEFAULT_POLICY,
    max_facts: int = MAX_FACTS,
    min_confidence: float = 0.0,
    kind_limits: dict[str, int] | None = None,
    chosen_out: list[Candidate] | None = None,
) -> list[ExtractedFact]:
    """Filter, resolve and rank ``candidates`` into the call's facts, best first.

    Each kind keeps at most ``KIND_LIMITS[kind]`` facts (``kind_limits`` overrides), and
    the call at most ``max_facts``. ``chosen_out``, when given, receives the candidate of
    each returned fact, in the same order (the fact verifier reads where each came from).
    """
    limits = KIND_LIMITS if kind_limits is None else kind_limits
    kept = [
        c for c in candidates if c.confidence >= min_confidence and _acceptable(c, policy)
    ]
    by_slot: dict[str, list[Candidate]] = {}
    loose: list[Candidate] = []
    for c in kept:
        if c.slot_key:
            by_slot.setdefault(c.slot_key, []).append(c)
        else:
            loose.append(c)

    _join_surname(by_slot)
    chosen = [_pick_slot_winner(group) for group in by_slot.values()]
    # "Diet is halal" already says "Prefers halal": a loose fact whose content words a
    # slot's fact holds is a repeat of it.
    # "Diet is gluten free" also says "Needs gluten-free food", whatever kind a rule gave it.
    slotted = [(c.kind, c.slot_key, _content_words(_norm(c.text))) for c in chosen]
    loose = [c for c in loose if not any(
        (kind == c.kind and words and words <= held)
        or (slot == "diet" and words - _DIET_WORDS and words - _DIET_WORDS <= held)
        for words in [_content_words(_norm(c.text))] for kind, slot, held in slotted)]

    # Longest first, so a shorter text contained in a kept one is recognised as a repeat.
    unique: list[tuple[str, Candidate]] = []
    numbers: list[tuple[str, frozenset[str]]] = []
    for c in sorted(loose, key=lambda c: (-len(_norm(c.text)), -c.confidence, c.position)):
        key = _norm(c.text)
        if any(key in seen_key for seen_key, _ in unique):
            continue
        # Two rules reading the same number ("Has order 113572", "Order number is
        # 113572") state one fact.
        nums = frozenset(_NUMBER.findall(c.text))
        if nums and any(kind == c.kind and nums <= seen for kind, seen in numbers):
            continue
        # Two rules wording one statement differently ("Usually comes in every 6 weeks",
        # "Regularly comes in every 6 weeks"): nearly the same content words, one fact.
        words = _content_words(key)
        if words and any(_same_content(words, _content_words(k)) for k, _ in unique):
            continue
        # One content word each, the same word, the same kind: "Only wants decaf" and
        # "Prefers decaf" are one preference.
        # Also "Prefers Jess" next to "Prefers Jess (always asks for them)".
        if len(words) == 1 and any(o.kind == c.kind and words <= _content_words(k)
                                   for k, o in unique):
            continue
        unique.append((key, c))
        if nums:
            numbers.append((c.kind, nums))
    chosen.extend(c for _, c in unique)

    chosen.sort(key=lambda c: (-c.confidence, _KIND_RANK[c.kind], c.position))
    per_kind: dict[str, int] = {}
    limited: list[Candidate] = []
    for c in chosen:
        seen = per_kind.get(c.kind, 0)
        if seen < limits.get(c.kind, max_facts):
            per_kind[c.kind] = seen + 1
            limited.append(c)
    if chosen_out is not None:
        chosen_out.extend(limited[:max_facts])
    return [
        ExtractedFact(
            text=c.text,
            kind=c.kind,
            slot_key=c.slot_key,
            confidence=round(min(1.0, max(0.0, c.confidence)), 3),
            source_turn_ids=c.turn_ids,
        )
        for c in limited[:max_facts]
    ]
