"""A wish the agent writes into the booking it makes.

A caller often says a wish inside a request, and the agent books it: "table for two friday
eight oclock, and if you have the booth at the back we love that one" + "I've reserved the
back booth for Friday at 8."; "the full valet for me every time" + "Full valet, Saturday at
10."; "im rather partial to a room with a bath" + "I've found you a room with a bath for the
3rd and 4th." The booking rules read the booking, with the wish inside it, and no wish rule
reads the caller's clause, so the wish is kept only as part of one visit. Read here: where
the caller's sentence holds a word that marks a wish ("always", "every time", "we love",
"partial to", "if possible", "rather", "the only one") and the agent's booking or promise
in the same turn repeats content words of that sentence, those words, in the caller's
order, are the caller's preference (`Prefers back booth`). Only where no rule read a wish
from the turn; never in a question, about this call only ("just this once", "today"), or
for words that only say when (days, times, numbers) or what was booked in general.
"""

from __future__ import annotations

import re

from ._rules_amend import WISH_KINDS
from ._rules_common import ONE_OFF, TurnView, sentences
from ._select import Candidate
from ._text import word_set

__all__ = ["absorbed_wishes"]

_MARK = re.compile(
    r"\b(?:always|every\s+time|each\s+time|prefer|we\s+love|i\s+love|love\s+(?:that|the|it)|"
    r"partial\s+to|rather|if\s+possible|if\s+you\s+(?:have|can|could)|the\s+only\s+one|"
    r"only\s+one\s+who|has\s+to\s+be|have\s+to\s+be|must\s+be|for\s+me\s+every|"
    r"same\s+as\s+(?:always|usual|last\s+time)|as\s+usual|gets\s+my|my\s+usual)\b",
    re.IGNORECASE)
# Someone else's wish, or one visit only.
_NOT_MINE = re.compile(r"\b(?:he|she|they|his|her|their|my\s+(?:wife|husband|partner|son|"
                       r"daughter|mum|dad|friend))\s+(?:always|prefers?|loves?|likes?|wants?)\b"
                       r"|\bjust\s+this\s+once\b|\bfor\s+a\s+change\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z][a-z'-]+")
# Words any request and its booking share: when, how many, what a booking is.
_NOT_A_WISH = word_set("""
the a an and or of to for in on at with by from your you my me our we us i it is are be was
will ll can could would if have has had that this there then so as just also please thanks
book booked booking booke reserve reserved reservation appointment appointments slot slots
table tables time times day days week weeks morning mornings afternoon afternoons evening
evenings night nights am pm today tomorrow tonight next last same usual again always every
each one two three four five six seven eight nine ten eleven twelve half quarter o'clock
oclock monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays
thursdays fridays saturdays sundays january february march april may june july august
september october november december caller caller's agent promised confirmed arranged
come coming visit see seeing get got go going put set done sure okay lovely great
""")


def _content(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _NOT_A_WISH and len(w) > 2]


def absorbed_wishes(t: TurnView, found: list[Candidate]) -> list[Candidate]:
    """The caller's wish that the agent's booking or promise in turn ``t`` repeats, given
    ``found``, the turn's candidates (see the module docstring); the last of the
    fallbacks, so any other reading of the caller's words comes first."""
    if not t.user or not _MARK.search(t.user):
        return []  # most turns hold no word of wishing
    if any(c.kind in WISH_KINDS for c in found):
        return []  # a rule read the wish already, in its own words
    base = len(t.user)  # the agent spoke after the caller
    agent = set()
    for c in found:
        if c.kind == "commitment" and c.position[1] >= base:
            agent.update(_content(c.text))
    if not agent:
        return []
    for offset, sentence in sentences(t.user):
        if (not _MARK.search(sentence) or sentence.rstrip().endswith("?")
                or _NOT_MINE.search(sentence) or ONE_OFF.search(sentence)):
            continue
        shared: list[str] = []
        for word in _content(sentence):
            if word in agent and word not in shared:
                shared.append(word)
        if shared and len(shared) <= 4:
            return [t.candidate(f"Prefers {' '.join(shared)}", "preference", None, 0.6,
                                offset)]
    return []
