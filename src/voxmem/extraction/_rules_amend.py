"""Readings the caller or the agent took back or that end with the call.

- A correction in the caller's words ("i'd rather the green ones, actually no, the brown
  ones") takes back a wish said before it in the same turn.
- A wish said with indifference ("i don't mind either way, whatever's quicker") is no
  wish, and neither is a reading whose object is only a filler ("Prefers out there",
  "Asks to same as always", "Usually has and").
- A notice on arrival ("the driver will text when outside") is over once the visit is;
  the visit itself is the promise to remember. So is an arrival within minutes ("someone
  will be with you within the hour", "the truck will be there in 30 minutes"): the
  emergency it answers is over by the next call.
"""

from __future__ import annotations

import re

from ._rules_common import TurnView
from ._select import Candidate

__all__ = ["WISH_KINDS", "is_arrival_notice", "is_no_wish", "taken_back"]

#: The kinds of fact that state what the caller wants.
WISH_KINDS = frozenset({"preference", "constraint", "availability", "need"})

# "The driver will text when outside": a notice on arrival is over once the visit is; the
# visit itself is the promise to remember.
_ARRIVAL_NOTICE = re.compile(
    r"\bwhen\s+(?:(?:he|she|they|it)(?:'s|'re|\s+is|\s+are)\s+)?(?:outside|here|there|"
    r"on\s+(?:his|her|their)\s+way)\b|\bwhen\s+(?:he|she|they)(?:'s|'re)?\s*(?:arrives?)?$",
    re.IGNORECASE)
# "Someone will be with you within the hour": an arrival that is over before the call is
# forgotten. A call back or a document within the hour is still a promise to check.
_ARRIVING = re.compile(r"\b(?:be\s+(?:with\s+you|there|here|round|over|out)|arrive|attend|"
                       r"get\s+to\s+you|reach\s+you)\b", re.IGNORECASE)
_WITHIN_MINUTES = re.compile(
    r"\b(?:within|in)\s+(?:the\s+(?:next\s+)?hour|(?:an|half\s+an|the\s+next)\s+hour|"
    r"\d+\s*(?:minutes|mins|hours?))\b", re.IGNORECASE)

# "i'd rather the green ones, actually no, the brown ones": a correction in the caller's
# words takes back a wish said before it, when another wish follows it.
_CORRECTION = re.compile(r"\b(?:actually\s+no|no\s+wait|wait\s+no|sorry\s+i\s+mean|"
                         r"scratch\s+that|no\s+sorry)\b", re.IGNORECASE)


_WORDS = re.compile(r"[a-z]{3,}")


# "i don't mind either way", "not fussed": the caller leaves it to the agent.
_INDIFFERENT = re.compile(
    r"\b(?:(?:don't|do\s+not|wouldn't)\s+mind|not\s+(?:really\s+)?(?:fussed|bothered)|"
    r"either\s+(?:way|one|is\s+fine)|whatever'?s?\s+(?:quicker|easier|easiest|best|cheaper|"
    r"free|available)|doesn't\s+matter|any\s+(?:day|time)\s+is\s+fine)\b", re.IGNORECASE)
# A wish whose object is a filler or a pointer, not a thing.
_EMPTY_OBJECT = re.compile(
    r"^(?:Prefers|Dislikes|Usually\s+has|Always\s+has|Asks\s+to|Does\s+not\s+want)\s+"
    r"(?:yes|yeah|and|with|out|same|anything|something|there|either|whatever)\b"
    # "Regularly gets yes, every other Thursday" still says when.
    r"|^Regularly\s+\w+\s+(?:and|out|same|anything|something|there|either|whatever)\b",
    re.IGNORECASE)
# Where a clause ends: "i'm not fussed about the view but a desk is a must".
_CLAUSE_END = re.compile(r"[.?!;,]|\s(?:but|so|and|though)\s", re.IGNORECASE)


def is_no_wish(c: Candidate, user: str) -> bool:
    """Whether ``c``, read from a turn whose caller said ``user``, is a wish with an empty
    object or one read from a sentence said with indifference."""
    if c.kind not in WISH_KINDS or c.slot_key is not None:
        return False
    if _EMPTY_OBJECT.match(c.text):
        return True
    if c.position[1] >= len(user):
        return False
    at = c.position[1]
    start = max((m.end() for m in _CLAUSE_END.finditer(user, 0, at)), default=0)
    end = _CLAUSE_END.search(user, at + 1)
    return bool(_INDIFFERENT.search(user[start:end.start() if end else len(user)]))


def taken_back(view: TurnView, found: list[Candidate]) -> list[Candidate]:
    """``found`` (one turn's candidates) without the caller's wishes a correction later
    in the turn replaced."""
    marks = [m.start() for m in _CORRECTION.finditer(view.user)]
    if not marks:
        return found
    last = marks[-1]

    def wish(c: Candidate) -> bool:
        return c.kind in WISH_KINDS and c.slot_key is None and c.position[1] < len(view.user)

    if any(wish(c) and c.position[1] > last for c in found):
        return [c for c in found if not (wish(c) and c.position[1] < last)]
    # No rule read the new wish; the agent's reply says which one it heard: a wish that
    # shares none of its own words with the reply, where the words after the correction do.
    reply = set(_WORDS.findall(view.agent.lower()))
    after = set(_WORDS.findall(view.user[last:].lower()))
    if not reply & after:
        return found
    return [c for c in found if not (
        wish(c) and c.position[1] < last
        and not reply & (set(_WORDS.findall(c.text.lower())) - after))]


def is_arrival_notice(c: Candidate) -> bool:
    """Whether ``c`` is a promise to notify the caller on arrival, not to do something."""
    return c.kind == "commitment" and bool(
        _ARRIVAL_NOTICE.search(c.text)
        or (_ARRIVING.search(c.text) and _WITHIN_MINUTES.search(c.text)))
