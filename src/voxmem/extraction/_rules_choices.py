"""How the caller likes a thing done, in frames the older rules miss.

"oat latte extra hot that's how i always have it", "i go for the wholemeal every time",
"please make sure it's a non smoking room", "i'd like to sit at the front", "i find it
easier if you text me", "i don't want any marketing calls", "same colour as last time the
dark ash brown"; and a statement of taste at the end of a run-on request ("can we sit
outside we love the terrace"), which the other rules skip as a question.
"""

from __future__ import annotations

import dataclasses
import re

from ._rules_common import (
    Rule,
    TurnView,
    capture_phrase,
    clean_object,
    lasting_object,
    sentences,
)
from ._select import Candidate
from ._text import word_set

__all__ = ["CHOICE_RULES", "statement_tail", "tails"]

# Speech has no commas: an object ends where a new clause starts.
_NEW_CLAUSE = re.compile(
    r"\s+(?:i|i'm|i'd|i've|we|we're|my|so|because|cause|but|and|it's|he|she|they|thanks|"
    r"thank|please|as|cos|coz)\b.*$", re.IGNORECASE)


def _object(text: str, max_words: int = 6) -> str:
    return lasting_object(clean_object(_NEW_CLAUSE.sub("", text.strip())), max_words)


_THATS_HOW = re.compile(
    r"(?P<obj>[a-z][a-z' ]{2,50}?)\s+(?:that's|thats|that\s+is)\s+(?:just\s+)?how\s+(?:i|we)\s+"
    r"(?:always\s+|usually\s+|normally\s+)?(?:have|like|take|want|get|prefer)\s+(?:it|them|mine)\b",
    re.IGNORECASE)
_LEAD = re.compile(r"^(?:(?:and|so|yeah|oh|um|uh|just|please|can\s+i\s+(?:get|have)|i'll\s+have|"
                   r"i'd\s+like|keep|make|do|cut|leave)\s+)+", re.IGNORECASE)
_EVERY_TIME = re.compile(
    r"\b(?:i|we)\s+(?:go\s+for|get|have|take|order|choose|pick|ask\s+for|book|use)\s+"
    r"(?P<obj>[a-z][a-z ]{2,30}?)\s+(?:every\s+(?:single\s+)?time|each\s+time|without\s+fail)\b",
    re.IGNORECASE)
_MAKE_SURE_ITS = re.compile(
    r"\bmake\s+sure\s+(?:it's|its|it\s+is|they're|theyre|it'll\s+be)\s+(?:an?\s+)?(?P<obj>[a-z])",
    re.IGNORECASE)
_LIKE_TO_SIT = re.compile(
    r"\b(?:i'd|id|i\s+would|we'd|we\s+would)\s+(?:really\s+)?(?:like|prefer|love|rather)\s+to\s+"
    r"(?:sit|be\s+seated|be)\s+(?P<obj>(?:at|by|near|in|on|next\s+to|close\s+to)\s+the\s+[a-z])",
    re.IGNORECASE)
_EASIER_IF = re.compile(
    r"\b(?:i\s+find\s+it|it's|its|it\s+is)\s+(?:much\s+|a\s+lot\s+)?(?:easier|better|best)\s+"
    r"(?:for\s+me\s+)?(?:if|when)\s+you\s+(?P<m>text|email|e-mail|whatsapp|message|call|ring|"
    r"write\s+to)\s+(?:me|us)\b", re.IGNORECASE)
_NO_MARKETING = re.compile(
    r"\b(?:i|we)\s+(?:don't|do\s+not)\s+want\s+(?:any\s+(?:more\s+)?)?(?P<obj>(?:marketing|sales|"
    r"promotional|cold|junk|spam)\s+(?:calls|emails|e-mails|texts|messages|mail|post|letters))\b",
    re.IGNORECASE)
_SAME_AS_BEFORE = re.compile(
    r"\bsame\s+(?P<what>[a-z]+)\s+as\s+(?:last\s+time|before|usual|always)\s+(?:the\s+|a\s+)?"
    r"(?P<val>[a-z]+(?:\s+[a-z]+){0,2})\b", re.IGNORECASE)
_NOT_A_VALUE = word_set("""as please thanks thank for with if when again i we but so and
    or one is was you that this same""")
_METHOD = {"text": "text messages", "message": "text messages", "email": "email",
           "e-mail": "email", "whatsapp": "WhatsApp", "call": "phone calls",
           "ring": "phone calls", "write to": "letters by post"}


_TRIGGER = re.compile(r"how|time|fail|sure|sit|seated|easier|better|best|want|same", re.I)


def choices(t: TurnView) -> list[Candidate]:
    """The frames above, one fact each."""
    out: list[Candidate] = []
    if not _TRIGGER.search(t.user):
        return out
    for offset, sentence in sentences(t.user):
        low = sentence.lower()
        for m in _THATS_HOW.finditer(sentence) if "how" in low else ():
            obj = _object(_LEAD.sub("", m.group("obj").strip()), 6)
            if obj:
                out.append(t.candidate(f"Prefers {obj}", "preference", None, 0.7,
                                       offset + m.start()))
        for m in _EVERY_TIME.finditer(sentence) if " time" in low or "fail" in low else ():
            obj = _object(m.group("obj"), 5)
            if obj:
                out.append(t.candidate(f"Prefers {obj}", "preference", None, 0.7,
                                       offset + m.start()))
        for m in _MAKE_SURE_ITS.finditer(sentence) if "sure" in low else ():
            obj = _object(capture_phrase(sentence, m.start("obj")), 5)
            if obj:
                out.append(t.candidate(f"Prefers {obj}", "preference", None, 0.65,
                                       offset + m.start()))
        for m in _LIKE_TO_SIT.finditer(sentence) if " to " in low else ():
            obj = _object(capture_phrase(sentence, m.start("obj")), 6)
            if obj:
                out.append(t.candidate(f"Prefers to sit {obj}", "preference", None, 0.65,
                                       offset + m.start()))
        for m in _EASIER_IF.finditer(sentence) if " you " in low else ():
            label = _METHOD[re.sub(r"\s+", " ", m.group("m").lower())]
            out.append(t.candidate(f"Prefers to be contacted by {label}", "preference",
                                   "preferred_contact_method", 0.75, offset + m.start()))
        for m in _NO_MARKETING.finditer(sentence) if "want" in low else ():
            out.append(t.candidate(f"Does not want {m.group('obj').lower()}", "preference",
                                   None, 0.75, offset + m.start(), negative=True))
        for m in _SAME_AS_BEFORE.finditer(sentence) if "same" in low else ():
            val = _object(m.group("val"), 3)
            if val and val.split()[0].lower() not in _NOT_A_VALUE:
                out.append(t.candidate(
                    f"Prefers the same {m.group('what').lower()} as last time ({val})",
                    "preference", None, 0.75, offset + m.start()))
    return out


# A request followed by a statement of taste: "can we sit outside we love the terrace".
_STATEMENT = re.compile(
    r"\s(?=(?:i|we)\s+(?:really\s+|do\s+|always\s+|usually\s+)?(?:love|like|prefer|hate|"
    r"always|never|can't\s+stand|only)\b)", re.IGNORECASE)


def statement_tail(sentence: str) -> tuple[int, str] | None:
    """``(offset, text)`` of the last first-person statement inside a run-on question."""
    starts = [m.end() for m in _STATEMENT.finditer(sentence)]
    if not starts:
        return None
    return starts[-1], sentence[starts[-1]:]


def tails(t: TurnView, rules: tuple[Rule, ...]) -> list[Candidate]:
    """Run ``rules`` over the statements at the end of the caller's run-on questions."""
    out: list[Candidate] = []
    if not _STATEMENT.search(t.user):
        return out
    for offset, sentence in sentences(t.user):
        if not (sentence.rstrip().endswith("?") or re.match(
                r"^\s*(?:(?:so|and|um|uh|oh|hi|hello|yeah)\s+)*(?:can|could|would|will|do|is|are)\b",
                sentence, re.IGNORECASE)):
            continue
        tail = statement_tail(sentence.rstrip(" ?"))
        if tail is None:
            continue
        at, text = tail
        inner = dataclasses.replace(t, user=text, prev_agent="")
        for rule in rules:
            found = rule(inner)
            out.extend(dataclasses.replace(c, position=(t.index, offset + at + c.position[1]))
                       for c in found)
    return out


CHOICE_RULES = (choices,)
