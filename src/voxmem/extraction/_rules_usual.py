"""Wishes marked by what frames them rather than by a verb of liking.

Callers rarely say "I prefer". What makes a detail a lasting taste is often a marker
around it, in any words:

- "as usual", "as always", "like always", "that's my usual": the detail before it is
  what the caller always has ("light starch as usual" → `Usually has light starch`);
- a comparison of comfort: "i'd feel more comfortable with a female doctor", "i'm
  happier with the morning slot", "the back room suits me better";
- the agent's open question: "Any special requests?", "Anything we should know?", "How
  do you take it?" — the caller's short answer is the wish, whatever its words.

Each reads only a short clause, never a question, and only when no other rule found a
wish in that turn: a marked clause is long ("flat white oat milk extra hot that's my
usual") and would swallow the narrower facts read from it.
"""

from __future__ import annotations

import re

from ._rules_common import ONE_OFF, TurnView, clean_object, sentences
from ._select import Candidate

__all__ = ["USUAL_RULES", "asked_wishes", "usual_wishes"]

# The clause before the marker: up to six words after a break ("five shirts, light starch
# as usual" → "light starch"). "Same as always" names what follows it, which the
# standing-order rules read.
_USUAL = re.compile(
    r"(?:^|[,.;!?]\s*|\b(?:and|but|so|please|just|oh|yeah|ok|okay)\s+)"
    r"(?P<what>(?!(?:same|it|that|this|the\s+same|all|everything|me|us)\b)[a-z][a-z' -]{2,50}?)"
    r"\s*,?\s+(?:as\s+(?:usual|always|normal|per\s+usual)|like\s+(?:always|usual|normal)|"
    r"(?:that's|thats|that\s+is|it's|its)\s+(?:my|our|the)\s+usual)\b",
    re.IGNORECASE)
_COMFORT = re.compile(
    r"\b(?:i'd|i\s+would|we'd|i'm|we're|i'll|i\s+feel|i'd\s+feel)\s+(?:feel\s+|be\s+)?"
    r"(?:much\s+|a\s+lot\s+|far\s+|a\s+bit\s+)?(?:more\s+comfortable|happier|happiest|more\s+at\s+ease|"
    r"more\s+relaxed|comfortable)\s+with\s+(?P<what>[a-z][a-z' -]{2,40})|"
    r"\b(?P<what2>(?!it\b|that\b|this\b)[a-z]+(?:\s+[a-z]+){0,3}?)\s+(?:suits|works\s+for)\s+"
    r"(?:me|us)\s+better\b",
    re.IGNORECASE)
_CLAUSE_END = re.compile(
    r"\s+(?:if|because|cause|since|as|so|but|and|when|please|thanks|i|i'm|i'd|we|it's|"
    r"there's)\b.*$", re.IGNORECASE)
_NOT_A_THING = re.compile(r"^(?:a|an|the)?\s*(?:bit|lot|little|while|moment|time|way|one)\b",
                          re.IGNORECASE)
# Open questions for a wish; not a yes/no about one thing, not allergies or health
# (the sensitive-data policy has its own rule for a caller's allergy).
_OPEN_QUESTION = re.compile(
    r"\b(?:any|anything|are\s+there\s+any)\s+(?:special\s+|particular\s+|other\s+)?"
    r"(?:requests?|requirements|instructions|access\s+needs|needs)\b[^.!]*\?|"
    r"\banything\s+(?:(?:else\s+)?(?:we|i)\s+should\s+know|(?:we|i)\s+(?:should|need\s+to)\s+"
    r"(?:know|note|bear\s+in\s+mind))\b[^.!]*\?|"
    r"\bhow\s+do\s+you\s+(?:take|like|have)\s+(?:it|your\s+\w+)\b[^.!]*\?|"
    r"\banything\s+(?:that\s+)?(?:would|that\s+would|to)\s+make\s+[^.!]*\b(?:easier|"
    r"comfortable|better|nicer)\b[^.!]*\?",
    re.IGNORECASE)
_NO_WISH = re.compile(
    r"^(?:no|nope|none|nothing|not\s+really|nah|i\s+don't\s+think\s+so|that's\s+(?:it|all)|"
    r"all\s+good|just\s+the|it's\s+fine|i'm\s+fine|fine|yes|yeah|yep|ok|okay)\b",
    re.IGNORECASE)
_MAX_ANSWER_WORDS = 10
_OPENERS = re.compile(r"^(?:(?:hi|hey|hello|yeah|yes|oh|ok|okay|so|and|but|just|please|um|"
                      r"right|morning|alright|well)[,!]?\s+)+", re.IGNORECASE)
# "same as usual" names nothing; "invoice the farm account as usual" is an errand, not a
# taste (the account rules read those).
_NOT_A_TASTE = re.compile(r"\b(?:same|usual|hi|hey|hello)\b|^(?:invoice|bill|charge|pay|"
                          r"send|post|email|ship|deliver|put\s+it|do\s+it)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"^(?:that|it|this|them|those|him|her)\b", re.IGNORECASE)


def _tidy(phrase: str) -> str:
    phrase = _CLAUSE_END.sub("", phrase.strip(" ,"))
    return clean_object(phrase)


def usual_wishes(t: TurnView) -> list[Candidate]:
    """"X as usual", "i'd feel more comfortable with X": a detail marked as lasting."""
    out: list[Candidate] = []
    low = t.user.lower()
    if "usual" in low or "always" in low or "normal" in low:
        for m in _USUAL.finditer(t.user):
            what = clean_object(_OPENERS.sub("", m.group("what")))
            if (what and len(what.split()) <= 6 and not ONE_OFF.search(what)
                    and not _NOT_A_TASTE.search(what)):
                out.append(t.candidate(f"Usually has {what}", "preference", None, 0.65,
                                       m.start("what")))
    if "not too" in low and "?" not in low:
        for m in _NOT_TOO.finditer(t.user):
            what = _tidy(m.group("what"))
            if what:
                out.append(t.candidate(f"Prefers it not too {what}", "preference", None, 0.65,
                                       m.start()))
    if "comfortable" in low or "happi" in low or "better" in low or "ease" in low \
            or "relaxed" in low:
        for m in _COMFORT.finditer(t.user):
            what = _tidy(m.group("what") or m.group("what2") or "")
            if (what and len(what.split()) <= 6 and not _NOT_A_THING.match(what)
                    and not _PRONOUN.match(what)):
                out.append(t.candidate(f"Prefers {what}", "preference", None, 0.65, m.start()))
    return out


# "not too short on top please", "not too spicy": a fallback, as the reason said with it
# ("i'm not great with chilli") often names the wish better.
_NOT_TOO = re.compile(
    r"(?:^|[,.;!]\s*|\b(?:but|and|just|please|oh)\s+)not\s+too\s+"
    r"(?P<what>(?!(?:bad|sure|worried|bothered|late|long|far|busy|keen|fussed|early|soon|"
    r"much|many|good|well)\b)[a-z]+(?:\s+(?:on|in|at|for)\s+(?:the\s+)?[a-z]+)?)",
    re.IGNORECASE)
# Frames that make a detail a wish in any words around it.
_FRAMES: tuple[tuple[re.Pattern[str], str], ...] = (
    # "my preference would be a female therapist"
    (re.compile(r"\b(?:my|our)\s+preference\s+(?:would\s+be|is|'s|has\s+always\s+been)\s+"
                r"(?:for\s+)?(?P<what>[a-z][a-z' -]{2,40})", re.IGNORECASE), "Prefers {}"),
    # "definitely no mushrooms", "absolutely no nuts"
    (re.compile(r"\b(?:definitely|absolutely|strictly|never\s+any)\s+no\s+"
                r"(?P<what>(?!(?:problem|worries|rush|need|thanks|idea|way|one|more|longer|"
                r"hurry|actually|sorry|wait)\b)[a-z][a-z' -]{2,30})", re.IGNORECASE),
     "Does not want {}"),
    # "i don't like it too sweet"
    (re.compile(r"\b(?:i|we)\s+(?:don't|do\s+not|dont)\s+like\s+(?:it|them|mine)\s+too\s+"
                r"(?P<what>[a-z]+)", re.IGNORECASE), "Does not like it too {}"),
    # "as little noise as possible"
    (re.compile(r"\bas\s+(?P<what>(?:little|few|much|quiet|early|late|close|near|far)\s+"
                r"(?:[a-z]+\s+){0,2}?)as\s+possible\b", re.IGNORECASE), "Wants as {}as possible"),
)

_FRAME_WORD = re.compile(r"preference|no\s|too\s|possible")


def framed_wishes(t: TurnView) -> list[Candidate]:
    """A detail a frame makes a wish: "my preference would be X", "not too X", "definitely
    no X", "i don't like it too X", "as little X as possible"."""
    out: list[Candidate] = []
    low = t.user.lower()
    if "?" in low or not _FRAME_WORD.search(low):
        return out
    for pattern, text in _FRAMES:
        for m in pattern.finditer(t.user):
            what = m.group("what")
            if not what.endswith(" "):
                what = _tidy(what)
            if what and len(what.split()) <= 6 and not _PRONOUN.match(what):
                out.append(t.candidate(text.format(what), "preference", None, 0.65,
                                       m.start()))
    return out


def asked_wishes(t: TurnView) -> list[Candidate]:
    """The caller's short answer to the agent's open question for a wish."""
    if "?" not in t.prev_agent or not _OPEN_QUESTION.search(t.prev_agent):
        return []
    answer = t.user.strip()
    first = sentences(answer)[0][1].strip(" ,.!") if answer else ""
    if (not first or "?" in first or _NO_WISH.match(first)
            or len(first.split()) > _MAX_ANSWER_WORDS or "allerg" in first.lower()):
        return []
    what = clean_object(re.sub(r"\s+(?:please|thanks|thank\s+you|ta|cheers)$", "", first,
                               flags=re.IGNORECASE))
    if not what or (len(what.split()) < 2 and len(what) < 4):
        return []
    return [t.candidate(f"Note: {what}", "preference", None, 0.6, 0)]


USUAL_RULES = (framed_wishes,)
