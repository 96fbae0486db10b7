"""The seventh round's wishes: how the caller has a thing done, in the frames of an order.

Callers say a lasting taste while ordering, in frames of their own that carry to any
object: a modifier on the order ("light on the cheese", "go easy on the salt", "hold the
ice", "oat milk"), a habit of the household ("we always do thin crust", "i always go with
the lamb"), a kind of person ("i'm more into audio books these days", "i'm not really a
dairy person"), a choice over another ("the eco products rather than her own"), and an
"ideally" before a person or a thing ("ideally one of the women vets"). Each becomes one
preference in the caller's words.

These run after every other wish rule and only on a turn where none of them read a
wish, so a turn says its taste once. Questions ("do you do oat milk"), other people's
tastes ("that's how my husband likes it") and this call's one-offs ("light on the cheese
today") are not read.
"""

from __future__ import annotations

import re

from ._rules_common import ONE_OFF, TurnView, clean_object
from ._select import Candidate

__all__ = ["order_modifiers"]

# A clause ends at a break, a conjunction or a new subject: "light on the cheese please
# we're in a rush" keeps "the cheese".
_END = (r"(?=\s*(?:[,.;!?]|$|\s+(?:please|and|but|so|because|cos|cause|as|if|thanks|i|i'm|"
        r"we|we're|it|it's|that's|for|on|with|these|this|today|tonight|now|not|or|ta|cheers|"
        r"to)\b))")
_OBJ = r"(?P<what>[a-z][a-z' -]{1,30}?)"
_MODIFIER = re.compile(
    rf"\b(?:(?:go|going)\s+)?(?P<how>light|easy|go\s+easy|heavy)\s+on\s+(?P<what>the\s+[a-z][a-z -]"
    rf"{{1,25}}?){_END}|\b(?P<milk>oat|soy|soya|almond|coconut|skimmed|skim|lactose[- ]free|"
    rf"semi[- ]skimmed|whole)\s+milk\b", re.IGNORECASE)
_HABIT = re.compile(
    rf"\b(?:i|we)\s+(?:always|usually|normally)\s+(?:do|get|have|go\s+(?:for|with)|order|take|"
    rf"pick|stick\s+(?:to|with))\s+{_OBJ}{_END}", re.IGNORECASE)
_INTO = re.compile(
    rf"\b(?:i'm|we're)\s+(?:more\s+(?:into|of\s+a)|(?P<neg>not\s+(?:really\s+)?(?:a|an|much\s+of\s+a)?)|"
    rf"(?:a|an|such\s+a)|more)\s+{_OBJ}(?P<person>\s+(?:person|people|fan|fans|girl|guy|man|"
    rf"woman|drinkers?|eaters?|family))?{_END}", re.IGNORECASE)
_RATHER_THAN = re.compile(
    r"\b(?:use|get|have|bring|send|do|give\s+me)\s+(?P<what>(?:the|a|an|some)\s+[a-z][a-z -]"
    r"{1,25}?)\s+(?:(?:i've|ive)\s+got(?:\s+[a-z ]{1,25}?)?\s+)?"
    r"(?:rather\s+than|instead\s+of)\b",
    re.IGNORECASE)
_IDEALLY = re.compile(
    rf"\b(?:ideally|preferably)\s+(?P<what>(?:one\s+of\s+(?:the|your)|a|an|the|with)\s+[a-z][a-z -]"
    rf"{{1,30}}?){_END}", re.IGNORECASE)
_QUESTION = re.compile(r"^\s*(?:do|does|did|is|are|have|has|what|which|how)\s+you\b|\?\s*$|"
                       r"\b(?:do|does|have|has|can|could)\s+you\s+(?:have|do|got|sell|serve|"
                       r"stock|offer|make)\b", re.IGNORECASE)
# "that's how my husband likes it": the taste is someone else's.
_OTHERS = re.compile(r"\b(?:my|our)\s+(?:husband|wife|partner|son|daughter|kids?|mum|mom|dad|"
                     r"father|mother|friend|boss|guests?|brother|sister)\b|\b(?:he|she)\s+"
                     r"(?:likes|loves|prefers|wants|always|only)\b", re.IGNORECASE)
# What the business sent or gave last time, right before the thing: a complaint, not a taste.
_WRONGLY_SENT = re.compile(r"\b(?:got|sent|gave\s+(?:me|us)|brought|delivered|came\s+with)\s+"
                           r"(?:me\s+|us\s+)?(?:the\s+|a\s+|some\s+)?$", re.IGNORECASE)
_PERSONS = {"person", "people", "fan", "fans", "girl", "guy", "man", "woman", "drinker", "eater",
            "drinkers", "eaters", "family"}


def _fact(t: TurnView, text: str, at: int) -> Candidate:
    return t.candidate(text, "preference", None, 0.6, at)


def order_modifiers(t: TurnView) -> list[Candidate]:
    """A taste said in one of the frames above (see the module docstring)."""
    said = t.user
    if not said or _QUESTION.search(said) or _OTHERS.search(said) or ONE_OFF.search(said):
        return []
    if m := _MODIFIER.search(said):
        if m.group("milk") and _WRONGLY_SENT.search(said[:m.start()]):
            return []  # "last week i got soy milk instead of whole": a complaint
        if m.group("milk"):
            return [_fact(t, f"Takes {m.group('milk').lower()} milk", m.start())]
        what = clean_object(m.group("what"))
        how = "less" if m.group("how").lower() in ("light", "easy", "go easy") else "plenty of"
        return [_fact(t, f"Prefers {how} {what.removeprefix('the ')}", m.start())]
    if m := _HABIT.search(said):
        what = clean_object(m.group("what"))
        if len(what) > 2:
            return [_fact(t, f"Always has {what}", m.start())]
    if m := _INTO.search(said):
        what = clean_object(m.group("what"))
        person = (m.group("person") or "").strip().lower()
        if m.group("neg") and person:  # "i'm not a beginner" is a level, not a taste
            return [_fact(t, f"Is not a {what} {person}", m.start())]
        if person in _PERSONS or re.search(r"\bmore\s+(?:into|of)\b", m.group(0), re.I):
            return [_fact(t, f"Prefers {what}", m.start())]
    if m := _RATHER_THAN.search(said):
        return [_fact(t, f"Prefers {clean_object(m.group('what'))}", m.start())]
    if m := _IDEALLY.search(said):
        return [_fact(t, f"Prefers {clean_object(m.group('what'))}", m.start())]
    return []

