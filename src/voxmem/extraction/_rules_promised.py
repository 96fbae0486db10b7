"""More shapes of the agent's promise, each a frame that takes any object or person.

"I'll give you a ring as soon as it arrives", "You'll have it back by next Tuesday",
"Expect the renewal documents in the post within 7 days", "Our plumber Gary is coming to
you Monday morning", "A refund of £45 will be paid back to your card within 5 working
days", "So that's you in with Chloe next Thursday". Each needs a when (a day, a date, a
span of days, "as soon as ..."): without one it is a reassurance, not a promise.
"""

from __future__ import annotations

import re

from ._rules_agent import book_appointment
from ._rules_common import TurnView, is_time, sentences
from ._select import Candidate

__all__ = ["PROMISED_RULES"]

_WHEN = re.compile(
    r"\b(?:by|on|within|before|tomorrow|next|this\s+(?:week|afternoon|evening)|in\s+(?:\d+|a|an|"
    r"two|three)\s+\w+|as\s+soon\s+as|once|when|first\s+thing|the\s+\d{1,2}(?:st|nd|rd|th)|"
    r"end\s+of\s+(?:the\s+)?(?:day|week|month)|(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b",
    re.IGNORECASE)
_OFFER = re.compile(r"\b(?:if\s+you|would\s+you|do\s+you\s+want|shall\s+I|can\s+I|could\s+I)\b",
                    re.IGNORECASE)
_GIVE_A_RING = re.compile(
    r"\b(?:I'll|I\s+will|We'll|We\s+will|[A-Z][a-z]+\s+will)\s+(?:also\s+)?give\s+you\s+a\s+"
    r"(?P<how>ring|call|shout|buzz|bell|text|email)\b(?P<rest>[^.!?;]{0,60})", re.IGNORECASE)
_HAVE_IT_BACK = re.compile(
    r"\byou(?:'ll|\s+will|\s+should)\s+have\s+(?P<what>it|them|(?:the|your)\s+[\w-]+(?:\s+[\w-]+)?)"
    r"\s+(?P<how>back|delivered|fixed|repaired|returned)\b(?P<rest>[^.!?;]{0,60})",
    re.IGNORECASE)
_EXPECT_THING = re.compile(
    r"\b(?:Expect|You\s+can\s+expect|You\s+should\s+expect)\s+(?P<what>(?:the|your|a|an)\s+"
    r"[\w\s-]{2,30}?)\s+(?P<rest>(?:in\s+the\s+post|by|within|on|next|tomorrow|this)\b[^.!?;]{0,50})",
    re.IGNORECASE)
_IS_COMING = re.compile(
    r"\b(?P<who>(?i:our|the|an?|your)\s+[a-z]+(?:\s+(?:[A-Z][a-z]+|[a-z]+))?|[A-Z][a-z]+)\s+"
    r"(?:is|are|'s)\s+(?P<how>coming|visiting|calling|popping|dropping\s+by)\s+"
    r"(?P<rest>(?:to\s+you|out|round|over|back|in)?[^.!?;]{0,60})")
_WILL_BE_DONE = re.compile(
    r"\b(?P<what>(?:a|an|the|your)\s+[\w£$€.,\s-]{2,30}?)\s+will\s+be\s+(?P<how>paid(?:\s+back)?|"
    r"credited|refunded|sent|posted|emailed|issued|delivered|processed|returned|collected|"
    r"installed|replaced|repaired|reconnected|fitted)\b(?P<rest>[^.!?;]{0,60})", re.IGNORECASE)
_THATS_YOU_IN = re.compile(
    r"\b(?:so\s+)?that's\s+you\s+(?:booked\s+)?(?:in\s+)?(?P<when>(?:with|for|on|at|next)\b"
    r"[^.!?;]{4,80})", re.IGNORECASE)
_SET_FOR = re.compile(
    r"\b(?:your|the)\s+(?:[a-z-]+\s+)?(?:appointment|visit|installation|delivery|collection|"
    r"session|fitting|survey|inspection|service)\s+is\s+(?:now\s+)?(?:set|booked|scheduled|"
    r"confirmed|arranged)\s+(?:for\s+)?(?P<when>[^.!?;]{4,80})", re.IGNORECASE)


# Every shape above holds one of these; most agent turns hold none.
_TRIGGER = re.compile(r"give\s+you|\shave\s|xpect|coming|visiting|calling|popping|dropping|"
                      r"will\s+be|that's\s+you|\sis\s+(?:now\s+)?(?:set|booked|scheduled|"
                      r"confirmed|arranged)", re.IGNORECASE)


def _you(phrase: str) -> str:
    # "posted to you within 10 days": the caller is who every promise is for
    phrase = re.sub(r"(?:^|\s+)to\s+you\b", "", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\byour\b", "the caller's", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\byou\b", "the caller", phrase, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", phrase).strip(" ,.")


def more_promises(t: TurnView) -> list[Candidate]:
    """Promises in the shapes above; each needs a when."""
    out: list[Candidate] = []
    if not _TRIGGER.search(t.agent):
        return out
    base = len(t.user)
    for offset, sentence in sentences(t.agent):
        low = sentence.lower()
        if sentence.rstrip().endswith("?") or _OFFER.search(sentence):
            continue

        def add(text: str, at: int, start: int = base + offset) -> None:
            out.append(t.candidate(text, "commitment", None, 0.7, start + at))

        for m in _GIVE_A_RING.finditer(sentence) if "give you" in low else ():
            rest = m.group("rest")
            if _WHEN.search(rest):
                how = {"ring": "call", "shout": "call", "buzz": "call", "bell": "call"}.get(
                    m.group("how").lower(), m.group("how").lower())
                add(f"Agent promised to {how} the caller {_you(rest)}", m.start())
        for m in _HAVE_IT_BACK.finditer(sentence) if " have " in low else ():
            rest = m.group("rest")
            if _WHEN.search(rest) or is_time(rest):
                add(f"Agent promised the caller will have {_you(m.group('what'))} "
                    f"{m.group('how').lower()} {_you(rest)}", m.start())
        for m in _EXPECT_THING.finditer(sentence) if "expect" in low else ():
            add(f"Agent promised the caller will receive {_you(m.group('what'))} "
                f"{_you(m.group('rest'))}", m.start())
        for m in _IS_COMING.finditer(sentence) if "ing " in low else ():
            rest = m.group("rest")
            who = m.group("who")
            if who.split()[0].lower() in ("it", "that", "this", "he", "she", "which"):
                continue
            if _WHEN.search(rest) or is_time(rest):
                who = re.sub(r"^(?:our|your)\s+", "the ", who, flags=re.IGNORECASE)
                add(f"Agent promised {who} is {m.group('how').lower()} {_you(rest)}", m.start())
        for m in _WILL_BE_DONE.finditer(sentence) if " be " in sentence else ():
            rest = m.group("rest")
            if _WHEN.search(rest) or is_time(rest):
                what = re.sub(r"^(A|An|The)\b", lambda a: a.group(1).lower(), m.group("what"))
                add(f"Agent promised {_you(what)} will be {m.group('how').lower()} "
                    f"{_you(rest)}", m.start())
        for pattern in (_THATS_YOU_IN, _SET_FOR):
            for m in pattern.finditer(sentence):
                c = book_appointment(t, m.group("when"), base + offset + m.start(), 0.75)
                if c is not None:
                    out.append(c)
    return out


PROMISED_RULES = (more_promises,)
