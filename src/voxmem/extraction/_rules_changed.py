"""Standing changes the agent made to the caller's account, in the agent's own words.

When a caller asks for something to be different from now on, the agent often answers
with the change itself rather than an echo of the wish: "I've switched your monthly case
to all reds.", "I've added an assisted collection to your address.", "I've set Pip's
reminders to text.", "I've moved you to Fixed 24 from the 1st of next month.", "You're on
paperless billing now." The caller's words around it are often a story ("we don't really
drink the white"), which no wish frame reads; the agent's sentence says plainly what
changed.

The shape is generic: the agent (I/we) in the perfect tense with a verb of setting
(added, switched, set, changed, updated, moved, put, registered, enrolled) and an object
that belongs to the caller ("your", "you", a name's "'s"), or "you're on ... now". The
sentence becomes one note in the third person ("Agent recorded: switched the caller's
monthly case to all reds"). Money (a credit, a refund), this call's own business (a
transfer, a cancellation, "this order"), a meta note ("a note on your file", which the
note rules read) and contact details (the slot rules read those) are left out. It runs
last, only in a turn where neither a rule nor the learned layer read a lasting fact of
the caller's (there the change restates it), and the learned classifier picks its kind
among preference, constraint and recurring need, as for the agreed wishes.
"""

from __future__ import annotations

import re

from ._rules_common import TurnView, sentences
from ._select import Candidate

__all__ = ["LABEL", "standing_changes"]

#: How these facts begin.
LABEL = "Agent recorded: "

_CHANGE = re.compile(
    r"^(?:(?:done|great|perfect|lovely|okay|ok|right|sure|no\s+problem|of\s+course|thanks|"
    r"thank\s+you|got\s+it)(?:,?\s+(?-i:[A-Z][\w'-]+))?[,!.:]?\s+)*"
    r"(?:(?:i've|i\s+have|we've|we\s+have)\s+(?:now\s+|also\s+|just\s+)?"
    r"(?P<verb>added|switched|set|changed|updated|moved|put|registered|enrolled|signed|"
    r"turned|flagged|marked)\s+(?P<what>.{3,80})"
    r"|you're\s+(?:now\s+)?(?P<state>on\s+.{3,60}?)\s+now)\s*$",
    re.IGNORECASE)
# Whose the change is: the caller's account, not the business's stock.
_THEIRS = re.compile(r"\b(?:your|you|yours)\b|\b[A-Z][a-z]+'s\b")
_NOT_STANDING = re.compile(
    r"\b(?:credit|refund|refunded|pounds?|dollars?|euros?|discount|charge|fee|voucher|"
    r"transfer|transferred|through|cancel|cancelled|canceled|hold|"
    r"today|tonight|this\s+(?:order|booking|visit|time|call)|just\s+this|once|"
    r"note|notes?\s+on|address|number|phone|email|e-mail|name|details|"
    r"request|ticket|complaint|case|claim|reference|"
    # one booking's extras are for that booking, not from now on
    r"booking|reservation|flight|stay|trip|ticket)\b|[$£€]",
    re.IGNORECASE)
_VAGUE = re.compile(r"(?:that|it|this|those|them)\b", re.IGNORECASE)
_WHEN = re.compile(r"\b\d{1,2}(?::\d\d)?\s*(?:am|pm)\b|\b\d{1,2}:\d\d\b|"
                   r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b(?!s)", re.IGNORECASE)
#: Longest sentence read.
_MAX_WORDS = 18


def _caller(phrase: str) -> str:
    # The fact is read back to the agent of a later call: "you" is the caller.
    phrase = re.sub(r"\byour\b", "the caller's", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\byou\b", "the caller", phrase, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", phrase).strip(" ,.")


def standing_changes(t: TurnView, taken: set[int]) -> list[Candidate]:
    """The agent's standing changes in ``t``, in sentences starting at none of the
    offsets in ``taken`` (where a promise or booking was read: "I've moved you to Fixed
    24 from the 1st" is one fact, not two). Called only where nothing lasting of the
    caller's was read from the turn, as the agent's change would restate it."""
    low = t.agent.lower()
    if not t.agent or not ("'ve" in low or " have " in low or "you're" in low):
        return []
    base = len(t.user)  # the agent spoke after the caller
    out: list[Candidate] = []
    for offset, sentence in sentences(t.agent):
        start = base + offset
        if any(start <= pos < start + len(sentence) for pos in taken):
            continue
        text = sentence.strip().rstrip(" .!")
        if (text.endswith("?") or "[redacted" in text or len(text.split()) > _MAX_WORDS
                or _NOT_STANDING.search(text)):
            continue
        m = _CHANGE.match(text)
        if not m:
            continue
        if m.group("state"):
            said = f"the caller is {m.group('state')}"
        else:
            what = m.group("what")
            if not _THEIRS.search(what) or _VAGUE.match(what) or _WHEN.search(what):
                # "added that to your notes" says nothing by itself; "moved you to the 4pm
                # flight" is a booking, the booking rules' business.
                continue
            said = f"{m.group('verb').lower()} {what}"
        out.append(t.candidate(LABEL + _caller(said), "preference", None, 0.55, base + offset))
    return out
