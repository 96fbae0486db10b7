"""Pieces every rule of the rule extractor uses: the turn view, phrase capture, time words.

A rule is a function ``(TurnView) -> list[Candidate]``. It reads the *prepared* text of
one turn (already redacted, fillers removed, spoken digits and e-mails rewritten) and
the agent's previous answer, which tells it what the caller was asked.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable

from ._select import Candidate
from ._text import third_person, word_set

__all__ = [
    "ONE_OFF",
    "VAGUE",
    "Rule",
    "TurnView",
    "capture_phrase",
    "clean_object",
    "is_recurring_time",
    "is_time",
    "lasting_object",
    "sentence_case",
    "sentences",
    "tidy_days",
]


@dataclasses.dataclass(slots=True)
class TurnView:
    """One turn as the rules see it."""

    index: int
    turn_id: str
    user: str
    agent: str
    prev_agent: str
    default_country_code: str
    keep_health: bool
    #: the caller's words redacted but not rewritten (spoken e-mails and numbers as said)
    user_raw: str = ""
    #: the caller's prepared words of the turn before (what "his name?" refers back to)
    prev_user: str = ""

    def candidate(
        self,
        text: str,
        kind: str,
        slot_key: str | None,
        confidence: float,
        offset: int,
        *,
        negative: bool = False,
    ) -> Candidate:
        """A candidate read from this turn at character ``offset``."""
        return Candidate(
            text=text,
            kind=kind,
            slot_key=slot_key,
            confidence=confidence,
            turn_ids=(self.turn_id,),
            position=(self.index, offset),
            negative=negative,
        )


Rule = Callable[[TurnView], list[Candidate]]

# "Dr. Chen" and "St. Mary's" do not end a sentence.
_SENTENCE_END = re.compile(
    r"(?<!\bDr)(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bSt)(?<!\bNo)(?<!\bvs)[.!?;]+(?=\s|$)|\n")


def sentences(text: str) -> tuple[tuple[int, str], ...]:
    """Split ``text`` into ``(offset, sentence)`` pairs; "a.b@c.com" stays whole."""
    return _sentences(text)


@functools.lru_cache(maxsize=1024)
def _sentences(text: str) -> tuple[tuple[int, str], ...]:
    # Every rule splits the same turn; the split is done once per text.
    out: list[tuple[int, str]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        chunk = text[start : m.end()]
        if chunk.strip():
            out.append((start, chunk))
        start = m.end()
    if text[start:].strip():
        out.append((start, text[start:]))
    return tuple(out)


# Where a captured phrase ends: punctuation, or a conjunction that starts a new clause.
_PHRASE_END = re.compile(
    # "5,000 miles" and "8.30" are one number, not two clauses.
    r"\s*(?<!\bDr)(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bSt)(?:[;!?]|,(?!\d{3}\b)|\.(?!\d))|"
    r"\s*\.{3}|"
    r"\s+(?:but|so|because|cause|since|though|although|unless|which|"
    r"whereas|while|as\s+i|when\s+i|cuz|coz|i'd|i'm|i'll|i've|and\s+(?:i|i'm|i'd|i've|we|we're|my|also|then|"
    r"you|can|please|it|that|so|if)|if\s+(?:you|that|it|i|possible)|whenever\s+possible|"
    r"thanks|thank\s+you|please)\b",
    re.IGNORECASE,
)
#: Longest object a rule keeps, in words; longer ones are usually run-on speech.
MAX_PHRASE_WORDS = 12


def capture_phrase(text: str, start: int) -> str:
    """The words from ``start`` up to the end of the clause (at most a dozen words)."""
    end_match = _PHRASE_END.search(text, start)
    end = end_match.start() if end_match else len(text)
    words = text[start:end].split()
    return " ".join(words[:MAX_PHRASE_WORDS])


_TRAILING_NOISE = re.compile(
    r"(?:\s+(?:anyway|anyways|though|too|as\s+well|really|honestly|lol|haha|for\s+sure|"
    r"i\s+guess|i\s+think|if\s+possible|whenever\s+possible|if\s+you\s+can|please|now|"
    r"thanks|actually|and|or|then|like|when|whenever))+$",
    re.IGNORECASE,
)
_LEADING_NOISE = re.compile(r"^(?:(?:just|really|like|kind\s+of|sort\s+of|um|uh)\s+)+", re.I)


def clean_object(phrase: str) -> str:
    """Trim filler words off both ends of a captured phrase and make it third person."""
    phrase = _TRAILING_NOISE.sub("", _LEADING_NOISE.sub("", phrase.strip()))
    return third_person(phrase).strip(" ,")


_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_NUM = r"(?:\d{1,2}(?::\d\d)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_CLOCK = rf"{_NUM}\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)"
_TIME = re.compile(
    rf"\b(?:mornings?|afternoons?|evenings?|nights?|weekdays?|weekends?|{_DAYS}s?|noon|midday|"
    rf"lunch(?:time)?|dinner(?:time)?|breakfast|business\s+hours|office\s+hours|school\s+hours|"
    rf"(?:before|after|between|by|until|till|from|around)\s+(?:{_CLOCK}|{_NUM}|noon|lunch|"
    rf"midday|dinner|work|(?:the\s+)?school(?:\s+run)?)|{_CLOCK})(?![\w'])",
    re.IGNORECASE,
)
_RECURRING = re.compile(
    rf"\b(?:mornings|afternoons|evenings|nights|weekdays?|weekends?|{_DAYS}s|every|usually|"
    rf"always|generally|normally|typically|most\s+days|(?:before|after|between|until|till)\s+"
    rf"(?:{_CLOCK}|{_NUM}|noon|lunch|midday|dinner|work|(?:the\s+)?school(?:\s+run)?)|"
    rf"business\s+hours|office\s+hours|school\s+hours)\b",
    re.IGNORECASE,
)
#: Words that make a statement about this call, not about the caller's life.
ONE_OFF = re.compile(
    r"\b(?:today|tonight|tomorrow|yesterday|right\s+now|at\s+the\s+moment|just\s+now|"
    r"this\s+(?:morning|afternoon|evening|week|weekend|time|once)|next\s+(?:week|month|"
    rf"{_DAYS})|later\s+today|for\s+now)\b",
    re.IGNORECASE,
)
#: Words that cannot be what a caller likes or refuses on their own ("i always want it").
VAGUE = word_set("""it that this them those these one ones anything something any much
    more less stuff things nothing""")


def lasting_object(obj: str, max_words: int) -> str:
    """``obj`` if it can be a lasting taste: at most ``max_words`` words, not vague, not
    about this call only, not redacted; otherwise ""."""
    words = obj.split()
    if not words or len(words) > max_words or words[0].lower() in VAGUE:
        return ""
    if ONE_OFF.search(obj) or "[redacted" in obj:
        return ""
    return obj


def is_time(phrase: str) -> bool:
    """Whether ``phrase`` talks about a time: days, parts of the day, clock times."""
    return bool(_TIME.search(phrase))


def is_recurring_time(phrase: str) -> bool:
    """Whether a time phrase describes a habit ("Tuesdays", "before 9") not one date."""
    return bool(_RECURRING.search(phrase)) and not ONE_OFF.search(phrase)


_DAY_WORD = re.compile(rf"\b({_DAYS}s?)\b", re.IGNORECASE)


def tidy_days(text: str) -> str:
    """Capitalise day names ("tuesdays" → "Tuesdays")."""
    return _DAY_WORD.sub(lambda m: m.group(1).capitalize(), text)


def sentence_case(text: str) -> str:
    """Upper-case the first letter, keep the rest."""
    return text[:1].upper() + text[1:] if text else text
