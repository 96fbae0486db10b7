"""Standing requests in the caller's own words, when no wish rule read the turn.

The wish rules read a verb and its object ("from now on leave it at the side door",
"stop sending me paper bills"). Callers make a standing request in any verb: "can my
tablets come in blister packs from now on", "can you swap the whites for reds from now
on", "could you always leave out sesame". What marks these is a request ("can you",
"could my", "please", "i'd like you to") whose clause says it holds beyond this call
("from now on", "going forward", "every time", "always", "all my orders").

The fact is the request as said, in the third person: `Asks to swap the whites for reds
from now on`, `Asks that their tablets come in blister packs from now on`. It is a
fallback: the extractor asks for it only for a turn in which no rule read a wish in the
caller's words, and at a confidence below theirs.

Also here: "can you stop the paper statements", which the "stop sending" rule misses.
"""

from __future__ import annotations

import re

from ._rules_common import ONE_OFF, TurnView, capture_phrase, clean_object, sentences
from ._select import Candidate

__all__ = ["standing_asks"]

_STANDING = re.compile(
    r"\b(?:from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future|every\s+time|each\s+time|"
    r"always|all\s+(?:my|our)\s+\w+|for\s+all\s+(?:my|our))\b", re.IGNORECASE)
_REQUEST = re.compile(
    r"\b(?:(?P<can>can|could|would|will)\s+(?P<who>you|my\s+\w+|it|they|the\s+\w+)\s+"
    r"|please\s+(?:can\s+you\s+|could\s+you\s+)?|i'd\s+like\s+you\s+to\s+|i\s+want\s+you\s+to\s+)"
    r"(?:please\s+|just\s+)*(?P<rest>[a-z][^.;!?]*)", re.IGNORECASE)
# Where the request ends: the caller moves on to a reason ("... from now on i get confused").
_REASON = re.compile(r"\s+(?:i|we|she|he|they|it's|its|cause|because|as|one\s+of)\s", re.IGNORECASE)
_STOP_THE = re.compile(
    r"\b(?:please\s+)?(?:stop|cancel)\s+(?:the\s+|my\s+|our\s+|all\s+(?:the\s+)?)?"
    r"(?P<what>(?:paper\s+|printed\s+|monthly\s+|marketing\s+|promotional\s+)?(?:statements|bills|"
    r"letters|catalogues|catalogs|brochures|newsletters|leaflets|reminders|marketing\s+calls|"
    r"marketing\s+emails|texts|emails))\b", re.IGNORECASE)
# "i'd love it if you could use the unscented stuff": a wish put as a favour.
_LOVE_IT_IF = re.compile(
    r"\bi'd\s+(?:really\s+|so\s+)?(?:love|like|prefer|appreciate)\s+it\s+if\s+you\s+(?:could|would|can)\s+"
    r"(?:always\s+|just\s+)?(?P<rest>[a-z][^.;!?]*)", re.IGNORECASE)
# "i find morning deliveries work best", "afternoon slots work better for us".
_WORKS_BEST = re.compile(
    r"\b(?P<obj>(?:(?!(?:think|find|guess|reckon|suppose|really|probably|just|usually|"
    r"normally|always|the|i|we)\b)[a-z]+\s+)?[a-z]+s)\s+(?:work|suit)\s+(?:best|better)\b",
    re.IGNORECASE)
# "texts are better than calls for me".
_CHANNEL_BETTER = re.compile(
    r"\b(?P<how>texts?|emails?|letters?|calls?|whatsapp)\s+(?:are|is)\s+(?:much\s+)?better\b",
    re.IGNORECASE)
_HOW = {"text": "text messages", "texts": "text messages", "email": "email", "emails": "email",
        "letter": "letters by post", "letters": "letters by post", "call": "phone calls",
        "calls": "phone calls", "whatsapp": "WhatsApp"}
_WHEN_WORD = re.compile(r"(?:days?|mornings|afternoons|evenings|nights|weekends|weekdays)$",
                        re.IGNORECASE)
_NOT_A_THING = re.compile(r"^(?:that|this|these|those|things|days|times|they|both|which)\b",
                          re.IGNORECASE)
_ANY_CUE = re.compile(
    r"always|now\s+on|forward|future|time|stop|cancel|better|best|\bit\s+if\b|all\s+(?:my|our)",
    re.IGNORECASE)
#: Longest request kept, in words.
MAX_WORDS = 12


def standing_asks(t: TurnView) -> list[Candidate]:
    """Standing requests and stopped mailings in the caller's words (see the docstring)."""
    out: list[Candidate] = []
    if not _ANY_CUE.search(t.user):
        return out  # every shape below holds one of these words; most turns hold none
    for offset, sentence in sentences(t.user):
        for m in _CHANNEL_BETTER.finditer(sentence):
            out.append(t.candidate(f"Prefers {_HOW[m.group('how').lower()]}", "preference",
                                   "preferred_contact_method", 0.65, offset + m.start()))
        for m in _WORKS_BEST.finditer(sentence):
            obj = clean_object(m.group("obj"))
            # A day or a time is the availability rules' to read ("fridays work better").
            if obj and not _NOT_A_THING.match(obj) and not ONE_OFF.search(obj) and not (
                    _WHEN_WORD.search(obj)):
                out.append(t.candidate(f"Prefers {obj}", "preference", None, 0.6,
                                       offset + m.start()))
        for m in _LOVE_IT_IF.finditer(sentence):
            rest = clean_object(capture_phrase(sentence, m.start("rest")))
            if 2 <= len(rest.split()) <= MAX_WORDS and not ONE_OFF.search(rest) and (
                    "[redacted" not in rest):
                out.append(t.candidate(f"Asks to {rest}", "preference", None, 0.6,
                                       offset + m.start()))
        for m in _STOP_THE.finditer(sentence):
            out.append(t.candidate(f"Does not want {m.group('what').lower()}", "preference",
                                   None, 0.65, offset + m.start()))
        if not _STANDING.search(sentence):
            continue
        for m in _REQUEST.finditer(sentence):
            rest = capture_phrase(sentence, m.start("rest"))
            marker = _STANDING.search(rest)
            if not marker:
                continue
            reason = _REASON.search(rest, marker.end())
            if reason:
                rest = rest[:reason.start()]
            rest = clean_object(rest)
            words = len(rest.split())
            if not rest or "[redacted" in rest or not 3 <= words <= MAX_WORDS or ONE_OFF.search(
                    rest):
                continue
            who = (m.group("who") or "you").lower()
            if who == "you":
                text = f"Asks to {rest}"
            else:
                subject = clean_object(who)
                text = f"Asks that {subject} {rest}"
            out.append(t.candidate(text, "preference", None, 0.6, offset + m.start()))
    return out
