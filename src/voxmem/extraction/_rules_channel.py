"""A way of being reached that the caller asks for and the agent takes up as a promise.

A caller says how they want to be reached as a reason or a comparison ("i never pick up
the phone at work so texting is best for me", "the letters never reach me honestly email
works much better", "the landline is the one to ring"), and the agent answers in the
future tense with that channel: "We'll text you all your appointment updates from now
on", "I'll send you updates on WhatsApp then", "We'll ring the landline when anything
comes up". The promise rules read the answer as a commitment; by the definition of a
commitment (docs/extraction.md) nothing is to be followed up there: the lasting fact is
how the caller wants to be contacted. Read here, the promise read from such a sentence
is dropped and the caller's channel becomes their preference, unless a rule already read
it from the caller's words.

Kept as a commitment: an answer with a day, a date or a deadline ("I'll email you the
renewal quote by Friday": a document due), an answer on a condition ("if there's any
issue") and an answer that reaches someone other than the caller ("we'll text her").
The caller's words must name the same channel with a word that compares or insists
("best", "rather", "instead", "only", "the way to", "dont phone"); "can you text me when
it's ready" asks for one notice, not a standing way to be reached.
"""

from __future__ import annotations

import re

from ._rules_common import TurnView, sentences
from ._select import Candidate

__all__ = ["channel_taken_up"]

#: Each channel: the caller's words for it, the agent's, and the fact's wording.
_CHANNELS: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (re.compile(r"\bwhats\s?app\b", re.I), re.compile(r"\bwhats\s?app\b", re.I),
     "WhatsApp"),
    (re.compile(r"\b(?:text(?:s|ing)?|txt|sms)\b", re.I),
     re.compile(r"\b(?:text(?:s|ing)?|sms)\b", re.I), "text messages"),
    (re.compile(r"\be-?mail(?:s|ing)?\b", re.I), re.compile(r"\be-?mail", re.I),
     "email"),
    (re.compile(r"\b(?:post|letters?)\b", re.I),
     re.compile(r"\b(?:post|letters?)\b", re.I), "letters by post"),
    (re.compile(r"\blandline\b", re.I), re.compile(r"\blandline\b", re.I),
     "landline"),
)
# What makes the caller's mention of a channel a standing wish rather than a request for
# one message: a comparison, an insistence, the channel as *the* way to reach them.
_WISH = re.compile(
    r"\b(?:best|better|easiest|easier|rather|prefer|preferably|instead|only|works|suits?|"
    r"the\s+(?:way|one|thing)\s+to|the\s+one\s+(?:i|that)|always|from\s+now\s+on|"
    r"(?:don't|dont|do\s+not|never|can't|cant)\s+(?:\w+\s+){0,2}?(?:phone|ring|call|pick\s+up|"
    r"answer|check|read|do)|never\s+reach|terrible\s+with|rubbish\s+with|not\s+great\s+with)\b",
    re.I)
# The agent's answer: I/we/the business's people in the future tense, to the caller.
_FUTURE = re.compile(r"\b(?:i'll|i\s+will|we'll|we\s+will|they'll|(?:lads|team|driver|"
                     r"engineer|staff)\s+will)\b", re.I)
_TO_CALLER = re.compile(r"\byou(?:rs?)?\b|\b(?:by|via|on|over)\s+(?:e-?mail|text|sms|post|"
                        r"whats\s?app)\b|\bthe\s+landline\b", re.I)
# One occasion, not a standing way of reaching the caller.
_DATED = re.compile(
    r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b(?!s)|\b\d|\b(?:january|february|march|"
    r"april|may|june|july|august|september|october|november|december)\b|\b(?:today|tonight|"
    r"tomorrow|this\s+(?:morning|afternoon|evening|week)|next\s+week|by\s+the\s+end|"
    r"within|shortly|right\s+away|straight\s+away|now)\b(?!\s+on)", re.I)
_CONDITION = re.compile(r"\b(?:if|unless|would\s+you|do\s+you|shall|should|could|might|"
                        r"maybe)\b", re.I)
# Someone else is the one reached ("we'll text her if there's a problem").
_OTHER = re.compile(r"\b(?:her|him|them|she|he)\b", re.I)


def _caller_channel(user: str) -> tuple[re.Pattern[str], str] | None:
    for _, sentence in sentences(user):
        if not _WISH.search(sentence) or sentence.rstrip().endswith("?"):
            continue
        for said, written, label in _CHANNELS:
            if said.search(sentence):
                return written, label
    return None


def channel_taken_up(t: TurnView, found: list[Candidate]) -> list[Candidate]:
    """``found``, the candidates of turn ``t``, with the agent's promise to use the channel
    the caller asked for read as the caller's preference (see the module docstring)."""
    if not t.agent or not t.user:
        return found
    low = t.agent.lower()
    if "'ll" not in low and " will " not in low:
        return found  # every answer read here is in the future tense
    channel = _caller_channel(t.user)
    if channel is None:
        return found
    written, label = channel
    base = len(t.user)  # the agent spoke after the caller
    taken = False
    out = list(found)
    for offset, sentence in sentences(t.agent):
        if (sentence.rstrip().endswith("?") or not _FUTURE.search(sentence)
                or not written.search(sentence) or not _TO_CALLER.search(sentence)
                or _CONDITION.search(sentence) or _OTHER.search(sentence)):
            continue
        taken = True
        if _DATED.search(sentence):
            continue  # a document or a call due on a day: a commitment, kept as one
        start, end = base + offset, base + offset + len(sentence)
        out = [c for c in out if not (c.kind == "commitment" and start <= c.position[1] < end)]
    # Not where a rule read the wish already: a contact slot, or a wish naming the channel
    # ("Agent agreed: message the caller on WhatsApp from now on").
    if taken and not any(c.slot_key == "preferred_contact_method" or (
            c.kind in ("preference", "constraint") and written.search(c.text)) for c in out):
        out.append(t.candidate(f"Prefers to be contacted by {label}", "preference",
                               "preferred_contact_method", 0.7, 0))
    return out
