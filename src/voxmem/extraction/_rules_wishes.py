"""More everyday shapes of a wish: "i'd love a table by the window", "leave out the onions".

Each shape here is a frame that carries to any object ("my preference would be X", "the
less X the better", "i don't do X"); "i want X" counts only with a word that makes it a
standing wish ("if possible", "ideally", "always", "every time"), because "i want a
refund" is a request about this call.
"""

from __future__ import annotations

import re

from ._rules_common import ONE_OFF, TurnView, capture_phrase, clean_object, is_time, sentences
from ._select import Candidate

__all__ = ["WISH_RULES"]

_QUESTION = re.compile(r"^\s*(?:do|does|did|can|could|would|will|is|are|what|when|which|how|"
                       r"where|should|may)\b", re.IGNORECASE)
_LOVE = re.compile(r"\b(?:i'd|i\s+would|we'd|we\s+would)\s+(?:really\s+)?love\s+(?!to\b)",
                   re.IGNORECASE)
_MY_PREFERENCE = re.compile(
    r"\b(?:my|our)\s+(?:preference|first\s+choice|go-to|go\s+to|usual)\s+(?:would\s+be|is|'s)\s+",
    re.IGNORECASE)
_THE_LESS = re.compile(
    r"\bthe\s+(?P<dir>less|more)\s+(?P<what>[a-z][a-z ]{2,30}?)\s+the\s+better\b", re.IGNORECASE)
_SUITS_BEST = re.compile(
    r"(?:^|\b(?:so|and|but|yeah|honestly)\s+)(?P<what>(?:the|a|an)\s+[a-z][a-z ]{2,30}?)\s+"
    r"(?:suits|works\s+best\s+for|is\s+best\s+for)\s+(?:me|us)(?:\s+best)?\b", re.IGNORECASE)
_DONT_DO = re.compile(r"\b(?:i|we)\s+(?:don't|do\s+not)\s+do\s+(?P<what>[a-z][a-z -]{2,25}?)"
                      r"(?=\s*(?:[,.;!?]|$|\s+(?:at\s+all|anymore|please|so|and|but)\b))",
                      re.IGNORECASE)
_LEAVE_OUT = re.compile(
    r"\b(?:leave\s+out|hold|skip|no\s+need\s+for)\s+(?P<what>the\s+[a-z][a-z ]{2,25}?)"
    r"(?=\s*(?:[,.;!?]|$|\s+(?:please|on|in|for|thanks|i|and)\b))", re.IGNORECASE)
_WANT = re.compile(r"\b(?:i|we)\s+(?:always\s+)?(?:want|need|like)\s+(?P<what>(?:a|an|the|my|it|"
                   r"extra|more|less|no)\s+[^,.;!?]{2,40})", re.IGNORECASE)
_STANDING = re.compile(r"\b(?:if\s+possible|ideally|preferably|always|every\s+time|whenever|"
                       r"as\s+a\s+rule|from\s+now\s+on)\b", re.IGNORECASE)
_USE = re.compile(r"\bplease\s+(?:always\s+)?use\s+(?P<what>the\s+[a-z][a-z ]{2,30}?)"
                  r"(?=\s*(?:[,.;!?]|$|\s+(?:when|if|for|please|and)\b))", re.IGNORECASE)
# Objects that make a request about this call, or a time (the availability rules' job).
_NOT_A_WISH = re.compile(
    r"\b(?:refund|cancel|replacement|appointment|booking|account|card|number|email|password|"
    r"invoice|bill|receipt|ticket|update|word|minute|second|moment|help)s?\b", re.IGNORECASE)
_TO_ME = re.compile(r"^(?:to|that|this|it|one|some)\b", re.IGNORECASE)
_IF = re.compile(r"\b(?:if|unless|whether)\b", re.IGNORECASE)


# Speech has no commas: "a loaner i bring it in" ends before "i".
_NEW_CLAUSE = re.compile(r"\s+(?:i|i'm|i've|we|we're|my|so|because|but|he|she|they|he's|she's)"
                         r"\s.*$", re.IGNORECASE)


def _ok(what: str) -> bool:
    return bool(what) and not (_NOT_A_WISH.search(what) or ONE_OFF.search(what)
                               or is_time(what) or _TO_ME.match(what))


def spoken_wishes(t: TurnView) -> list[Candidate]:
    """Wishes in frames the other preference rules do not read."""
    out: list[Candidate] = []
    for offset, sentence in sentences(t.user):
        if sentence.rstrip().endswith("?") or _QUESTION.match(sentence):
            continue
        for pattern in (_LOVE, _MY_PREFERENCE):
            for m in pattern.finditer(sentence):
                if _IF.search(sentence[: m.start()]):
                    continue  # "if you have a sea view i'd love one"
                what = clean_object(_NEW_CLAUSE.sub("", capture_phrase(sentence, m.end())))
                if _ok(what):
                    out.append(t.candidate(f"Prefers {what}", "preference", None, 0.65,
                                           offset + m.start()))
        for m in _THE_LESS.finditer(sentence):
            what = m.group("what").strip().lower()
            if _ok(what):
                out.append(t.candidate(f"Prefers {m.group('dir').lower()} {what}", "preference",
                                       None, 0.65, offset + m.start()))
        for m in _SUITS_BEST.finditer(sentence):
            what = clean_object(m.group("what"))
            if what and not _NOT_A_WISH.search(what):
                out.append(t.candidate(f"Prefers {what}", "preference", None, 0.65,
                                       offset + m.start()))
        for m in _DONT_DO.finditer(sentence):
            what = m.group("what").strip().lower()
            if _ok(what) and what not in ("that", "it", "this", "them", "anything", "much"):
                out.append(t.candidate(f"Does not want {what}", "preference", None, 0.65,
                                       offset + m.start(), negative=True))
        for m in _LEAVE_OUT.finditer(sentence):
            what = m.group("what").strip().lower().removeprefix("the ")
            if _ok(what):
                out.append(t.candidate(f"Does not want {what}", "preference", None, 0.65,
                                       offset + m.start(), negative=True))
        if _STANDING.search(sentence):
            for m in _WANT.finditer(sentence):
                # The standing word must be in the wish's own clause: in "i want a cut
                # with jess she always does my hair" the "always" is about Jess.
                if not _STANDING.search(_NEW_CLAUSE.sub("", sentence[m.start("what"):])) and (
                        not _STANDING.search(sentence[: m.start("what")])):
                    continue
                phrase = _NEW_CLAUSE.sub("", capture_phrase(sentence, m.start("what")))
                what = clean_object(_STANDING.sub("", phrase))
                what = re.sub(r"\s{2,}", " ", what).strip()
                if _ok(what) and len(what.split()) <= 8:
                    out.append(t.candidate(f"Prefers {what}", "preference", None, 0.65,
                                           offset + m.start()))
        for m in _USE.finditer(sentence):
            what = m.group("what").strip().lower()
            if _ok(what):
                out.append(t.candidate(f"Asks to use {what}", "preference", None, 0.65,
                                       offset + m.start()))
    return out


WISH_RULES = (spoken_wishes,)
