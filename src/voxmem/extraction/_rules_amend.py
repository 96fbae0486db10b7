"""Readings the caller or the agent took back or that end with the call.

- A correction in the caller's words ("i'd rather the green ones, actually no, the brown
  ones") takes back a wish said before it in the same turn.
- A notice on arrival ("the driver will text when outside") is over once the visit is;
  the visit itself is the promise to remember.
"""

from __future__ import annotations

import re

from ._rules_common import TurnView
from ._select import Candidate

__all__ = ["WISH_KINDS", "is_arrival_notice", "taken_back"]

#: The kinds of fact that state what the caller wants.
WISH_KINDS = frozenset({"preference", "constraint", "availability", "need"})

# "The driver will text when outside": a notice on arrival is over once the visit is; the
# visit itself is the promise to remember.
_ARRIVAL_NOTICE = re.compile(
    r"\bwhen\s+(?:(?:he|she|they|it)(?:'s|'re|\s+is|\s+are)\s+)?(?:outside|here|there|"
    r"on\s+(?:his|her|their)\s+way)\b|\bwhen\s+(?:he|she|they)(?:'s|'re)?\s*(?:arrives?)?$",
    re.IGNORECASE)

# "i'd rather the green ones, actually no, the brown ones": a correction in the caller's
# words takes back a wish said before it, when another wish follows it.
_CORRECTION = re.compile(r"\b(?:actually\s+no|no\s+wait|wait\s+no|sorry\s+i\s+mean|"
                         r"scratch\s+that|no\s+sorry)\b", re.IGNORECASE)


_WORDS = re.compile(r"[a-z]{3,}")


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
    return c.kind == "commitment" and bool(_ARRIVAL_NOTICE.search(c.text))
