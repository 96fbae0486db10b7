"""Wishes said with their reason: "i'm not great with heights so a low floor would be good".

Callers who are not asked for a preference often give one as the consequence of
something about themselves: "i work from home on fridays so that's the best day to
come", "i'm trying to cut down on sugar so the diet ones please", "i've got a thing
about clean cars so one of the newer ones please". No wish frame reads these: the wish is
a bare noun phrase marked only by "please", "would be good" or "if you can", and it
often leans on the reason ("that's the best day", "send it there"). The shape is the
signal: a first-person clause about the caller, "so", and a wish clause. The fact keeps
both halves, in the third person, as the caller said them.

Also here, frames of a lasting taste that need no reason: "the quieter the better"
(not "the sooner the better", which is about this call), "a number three all over, same
every time", and the idioms that say a taste as who the caller is: "i'm a window person",
"i'm team decaf", "i'm partial to the lemon drizzle", "i'm a sucker for a sea view", "i
swear by X", "we're big on X", "i'd pick the train over driving any day", "the full valet
for me every time".

These are fallbacks: read only in a turn where no rule read a wish in the caller's
words, at a confidence below theirs.
"""

from __future__ import annotations

import re

from ._rules_common import ONE_OFF, TurnView, capture_phrase, clean_object, sentences
from ._select import Candidate
from ._text import third_person

__all__ = ["reasoned_wishes"]

_SO = re.compile(r",?\s+so\s+", re.IGNORECASE)
# The reason is the caller's own: "i'm ...", "we ...", "my ...", after an opener.
_SELF = re.compile(
    r"^(?:(?:oh|well|yeah|yes|honestly|look|listen|and|but|um|see|to\s+be\s+honest)[\s,]+)*"
    r"(?:i|i'm|im|i've|ive|i'd|we|we're|we've|my|our)\b", re.IGNORECASE)
# Someone else's reason is someone else's taste.
_OTHERS = re.compile(
    r"\b(?:he|she|he's|she's|his|her|they|they're|their|my\s+(?:husband|wife|partner|son|"
    r"daughter|mum|mom|dad|kids?|children|boss|friend|brother|sister))\b", re.IGNORECASE)
_WISH = re.compile(
    r"^(?P<what>(?:(?:just|only)\s+)?(?:the|a|an|one\s+of\s+the|some|somewhere|someone|"
    r"something|plenty\s+of)\b.{2,50}?)\s+"
    r"(?:please|would\s+be\s+(?:good|great|best|ideal|perfect|better|nice|lovely|handy)|"
    r"is\s+(?:best|a\s+must|ideal|perfect|better)|if\s+(?:possible|you\s+can|you\s+could|"
    r"that's\s+(?:ok|okay|alright)))\b"
    r"|^(?:that's|thats|it's|its)\s+(?:the\s+)?(?:best|easiest|only)\s+(?:day|time|option|way)\b"
    r"|^if\s+you\s+(?:can|could)\s+[a-z]", re.IGNORECASE)
_QUESTION = re.compile(r"^(?:can|could|would|will|do|does|is|are|what|when|how)\b",
                       re.IGNORECASE)
_BETTER = re.compile(r"\bthe\s+(?P<adj>[a-z]{3,}er)\s+the\s+better\b", re.IGNORECASE)
# About this call's own business, not a taste.
_URGENT = frozenset({"sooner", "quicker", "faster", "earlier", "later", "never", "longer",
                     "over", "under"})
_EVERY_TIME = re.compile(
    r"(?:^|,\s*)(?:(?:.*?\bjust|nothing\s+fancy)\s+)?(?P<what>[a-z][^,;]{2,50}?),?\s+"
    r"(?:(?:the\s+)?same\s+(?:every|each)\s+time|every\s+single\s+time)\s*$", re.IGNORECASE)
_IDIOM = re.compile(
    r"\b(?:i'm|im|i\s+am|we're|we\s+are|(?:i've|ive|i\s+have)\s+always\s+been)\s+"
    r"(?:(?:a|an)\s+)?(?:(?:real|big|huge|total)\s+)?"
    r"(?P<person>(?!bit\b|little\b|kind\b|people\b|morning\b|night\b)[a-z]+)\s+"
    r"(?:person|people|kind\s+of\s+(?:person|people|guy|girl))\b"
    r"|\b(?:i'm|im|we're)\s+team\s+(?P<team>[a-z]+)\b"
    r"|\b(?:i'm|im|i\s+am)\s+(?:quite\s+|very\s+|a\s+bit\s+)?partial\s+to\s+(?P<partial>)"
    r"|\b(?:i'm|im|i\s+am)\s+(?:a\s+)?(?:real\s+|total\s+|bit\s+of\s+a\s+)?sucker\s+for\s+(?P<sucker>)"
    r"|\b(?:i|we)\s+(?:always\s+)?swear\s+by\s+(?P<swear>)"
    r"|\b(?:we're|were|i'm|im|we\s+are)\s+(?:really\s+|very\s+)?big\s+on\s+(?P<big>)"
    r"|\b(?:i'd|id|i\s+would|i'll|i\s+will)\s+(?:pick|take|choose|have)\s+(?P<over>[a-z ]{3,30}?)"
    r"\s+over\s+[a-z ]{3,30}?\s+any\s+day\b"
    r"|(?:^|,\s*)(?P<forme>(?:the|a|an)\s+[a-z ]{3,30}?)\s+for\s+me\s+every\s+time\b",
    re.IGNORECASE)
# Where an idiom's object ends: "the lemon drizzle, put one aside", "decaf these days".
_IDIOM_END = re.compile(r"\s+(?:these\s+days|nowadays|always|in\s+this\s+house|for\s+sure|"
                        r"honestly|to\s+be\s+honest)\b.*$", re.IGNORECASE)
_NOT_A_TASTE = re.compile(r"^(?:it|that|this|them|you|the\s+way|people|doing|being)\b",
                          re.IGNORECASE)
#: Longest reason and wish kept, in words.
_MAX_WORDS = 24


def reasoned_wishes(t: TurnView) -> list[Candidate]:
    """Wishes said as the consequence of a reason, and two lasting-taste frames."""
    out: list[Candidate] = []
    low = t.user.lower()
    if not (" so " in low or "better" in low or "time" in low or "person" in low
            or "people" in low or "team" in low or "partial" in low or "sucker" in low
            or "swear" in low or "big on" in low or " over " in low) or "[redacted" in low:
        return out  # every shape holds one of these words
    for offset, sentence in sentences(t.user):
        text = sentence.strip()
        if text.endswith("?") or ONE_OFF.search(text):
            continue
        for m in _SO.finditer(text):
            reason, wish = text[:m.start()], text[m.end():]
            # The reason starts at the last clause break before "so".
            reason = re.split(r",\s+|\s+(?:and|but)\s+(?=i\b|i'm|we\b|my\b)", reason)[-1]
            if (not _SELF.match(reason) or _OTHERS.search(reason) or _QUESTION.match(wish)
                    or not _WISH.match(wish)):
                continue
            said = f"{reason} so {wish}".strip(" ,.")
            if len(said.split()) > _MAX_WORDS:
                continue
            out.append(t.candidate(f"Preference: {third_person(said)}", "preference", None,
                                   0.6, offset + text.find(reason)))
            break
        for m in _BETTER.finditer(text):
            adj = m.group("adj").lower()
            if adj not in _URGENT:
                out.append(t.candidate(f"Prefers it {adj}", "preference", None, 0.6,
                                       offset + m.start()))
        for m in _IDIOM.finditer(text):
            name = next(k for k, v in m.groupdict().items() if v is not None)
            if name in ("person", "team", "over", "forme"):
                what = m.group(name)
            else:
                what = capture_phrase(text, m.end())
            what = clean_object(_IDIOM_END.sub("", what))
            if (what and len(what.split()) <= 6 and not _NOT_A_TASTE.match(what)
                    and " not " not in f" {text[:m.start()][-12:]} "):
                out.append(t.candidate(f"Prefers {what}", "preference", None, 0.6,
                                       offset + m.start()))
        every = _EVERY_TIME.search(text)
        if every:
            what = clean_object(every.group("what"))
            if what and 2 <= len(what.split()) <= 8 and not _OTHERS.search(what):
                out.append(t.candidate(f"Usually has {what}", "preference", None, 0.6,
                                       offset + every.start("what")))
    return out
