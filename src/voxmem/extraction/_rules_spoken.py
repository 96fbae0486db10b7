"""Rules for the way callers actually talk: no punctuation, no capitals, half sentences.

"i always want an aisle seat", "make it vegetarian please", "no onions ever", "delivery
to forty two oak lane", "its a twenty sixteen honda civic", "tuesdays are best for me
after three". The older rules expect written sentences; these read the caller's words as
speech-to-text writes them (after the numbers were turned into digits), and use the
agent's written reply where it confirms what was heard.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from ._rules_common import (
    ONE_OFF,
    TurnView,
    capture_phrase,
    clean_object,
    is_recurring_time,
    tidy_days,
)
from ._select import Candidate

__all__ = ["SPOKEN_RULES"]

# A question is not a statement about the caller; "can you switch me to vegan" is a request
# and counts.
_QUESTION = re.compile(
    r"^(?:do|does|did|is|are|what|whats|what's|how|when|where|why|which|who)\b", re.IGNORECASE)
_STOP_OBJ = re.compile(
    r"^(?:problem|problems|thanks|thank|sorry|worries|wait|way|idea|rush|one|i|it|that|not|its|"
    r"it's|that's|thats|he's|she's|they're|we're|hes|shes|"
    r"no|longer|more|need|matter|clue|luck|answer|reply|hurry|pressure|charge|fee|fees|"
    r"change|changes|reason|doubt|kidding|joke|way|big\s+deal|offense|offence|thanks|"
    r"actually|sir|madam|ma'am|mate|hun|love|dear|ok|okay|i'm|im|you|we|they|he|she|my|"
    r"the|a|an|just|all|never|nothing|there|this|then|so|and|but|only|yes|yeah|got|go|"
    r"whenever|when|if|any|please$)\b",
    re.IGNORECASE)

# --- preferences --------------------------------------------------------------------------

_ALWAYS = re.compile(
    r"\b(?:i|we)\s+(?:always|usually|normally|generally)\s+(?:want|get|have|like|take|"
    r"order|book|ask\s+for|go\s+for|drink|eat|wear|request|sit|stay|fly|sleep)\s+(?P<obj>.+)",
    re.IGNORECASE)
_ONLY = re.compile(
    r"\b(?:i|we)\s+only\s+(?:drink|eat|use|wear|fly|want|buy|order|take|watch|read)\s+"
    r"(?P<obj>.+)",
    re.IGNORECASE)
_PUT_ME = re.compile(
    r"\b(?:put|seat|place|book)\s+(?:me|us)\s+(?:by|in|on|near|at|next\s+to)\s+(?P<obj>.+)",
    re.IGNORECASE)
_WHENEVER = re.compile(
    r"\bwhenever\s+(?:you|u)\s+book\s+(?:me|us)\s+(?:(?:put|get|give)\s+(?:me|us)\s+"
    r"(?:in|on|by)?\s*)?(?P<obj>.+)", re.IGNORECASE)
_NO_THING = re.compile(
    r"(?:^|\b(?:and|also|but|so|please|oh|just)\s+)(?:no|never\s+any|nothing)\s+"
    r"(?P<obj>(?!more\b)[a-z][a-z' -]{2,40}?)\s*(?=\b(?:ever|please|for\s+(?:me|us)|"
    r"on\s+(?:it|them|mine|my|anything|everything)|at\s+all|in\s+(?:it|mine)|thanks|my\s+\w+\s+hates?|we\s+don't|"
    r"i\s+don't|i'm\s+the|i\s+hate)\b|$)",
    re.IGNORECASE)
_NOT_REFUSED = re.compile(r"(?:with|in|on|at|for|from|about|don't|dont|do|need|worries|problem|"
                          r"rush|way|idea|bother|"
                          r"thanks|thank|probs|biggie|matter|mind|i'm|it's|that's)\b", re.I)
_PREFER_A = re.compile(
    r"\b(?:i'd|i\s+would|we'd)\s+(?:always\s+|really\s+|usually\s+)?(?:prefer|rather\s+have|like)\s+"
    r"(?P<obj>(?:a|an|the)\s+.+)",
    re.IGNORECASE)
# Ways of saying "I like X" that name a lasting taste.
_TASTE = re.compile(
    r"\b(?:i'm|i\s+am|we're|we\s+are)\s+(?:really\s+|very\s+|quite\s+|so\s+)?(?:a\s+(?:big\s+|huge\s+)?"
    r"fan\s+of|(?:big\s+|huge\s+)?fans\s+of|fond\s+of|keen\s+on|partial\s+to|"
    r"more\s+of\s+an?|only\s+after|into)\s+(?P<obj>.+)|"
    r"\b(?:i|we)\s+tend\s+to\s+(?:go\s+for|get|like|prefer|choose|pick|want)\s+(?P<obj2>.+)|"
    r"\bideally\s+(?P<obj3>.+)|\b(?:we'd|i'd)\s+love\s+it\s+(?P<obj4>.+)|"
    r"\b(?:i'd|we'd)\s+love\s+(?P<obj5>.+?)\s+(?:in|on|with)\s+everything\b",
    re.IGNORECASE)
_DISTASTE = re.compile(
    r"\b(?:i'm|i\s+am|we're|we\s+are)\s+not\s+(?:a\s+(?:big\s+)?fan\s+of|into|keen\s+on)\s+"
    r"(?P<obj>.+)|\b(?:we|i)\s+don't\s+do\s+(?P<obj2>(?!that\b|it\b|this\b|online\b|"
    r"mornings?\b|evenings?\b|weekends?\b)[a-z]+(?:\s+[a-z]+)?)\s+(?:in\s+(?:our|my|this)\s+"
    r"(?:house|home|family)|at\s+all|anymore)", re.IGNORECASE)
# "always cut them thick for me", "aisle is better for my legs", "legroom is a must".
_ALWAYS_FOR_ME = re.compile(
    r"\balways\s+(?P<obj>(?!do\s+that|do\s+this|do\s+it)(?:[a-z']+\s+){1,4}?[a-z']+)\s+"
    r"for\s+(?:me|us)\b", re.IGNORECASE)
_BETTER_FOR_MY = re.compile(
    r"\b(?P<obj>(?!it\b|that\b|this\b)[a-z]+(?:\s+[a-z]+)?)\s+(?:is|are|'s)\s+(?:better|best)"
    r"\s+for\s+(?:my|our)\s+\w+", re.IGNORECASE)
_A_MUST = re.compile(r"\b(?P<obj>(?!it\b|that\b)[a-z]+(?:\s+[a-z]+)?)\s+is\s+a\s+must\b",
                     re.IGNORECASE)
_X_ONLY = re.compile(
    r"\bso\s+(?P<obj>(?!that\b|it\b)[a-z]+(?:\s+[a-z]+)?)\s+only\b", re.IGNORECASE)
# Standing orders said as a request or a label: "stick with the semi skimmed for me",
# "my usual is a flat white", "the lamb bhuna is my favourite", "back row every time".
_STANDING = (
    re.compile(r"\bstick\s+(?:with|to)\s+(?P<obj>.+?)\s+for\s+(?:me|us)\b", re.I),
    re.compile(r"\bmy\s+(?:usual|regular|go[\s-]to|favourite|favorite)\s+(?:is|are|'s)\s+"
               r"(?P<obj>.+)", re.I),
    re.compile(r"(?:^|\b(?:the|and|oh)\s+)(?P<obj>(?!it\b|that\b|this\b)[a-z]+(?:\s+[a-z]+){0,2})"
               r"\s+(?:is|are|'s)\s+my\s+(?:favourite|favorite|go[\s-]to|usual)\b", re.I),
    re.compile(r"\b(?:can|could)\s+you\s+always\s+(?P<obj>.+)", re.I),
    re.compile(r"^(?:(?:and|oh|yeah|so|please)\s+)*(?P<obj>(?!it\b|that\b|this\b|same\b)"
               r"[a-z]+(?:\s+[a-z]+){0,3}?)\s+every\s+time\b", re.I),
    re.compile(r"\bkeep\s+it\s+(?P<obj>[a-z]+(?:\s+[a-z]+)?)\s+for\s+(?:me|us)\b", re.I),
    re.compile(r"\bkeep\s+it\s+(?P<obj>[a-z]+(?:\s+[a-z]+){0,3}?)\s+(?:like|as)\s+(?:always|usual|"
               r"normal|before|last\s+time)\b", re.I),
    re.compile(r"\bgo\s+easy\s+on\s+the\s+[a-z]+\s+i\s+like\s+it\s+(?P<obj>[a-z]+)", re.I),
    re.compile(r"\bi\s+want\s+(?P<obj>(?!to\b).+?)\s+(?:whenever\s+possible|every\s+time)\b",
               re.I),
    re.compile(r"\b(?P<obj>(?:a\s+|an\s+)?[a-z]+(?:\s+[a-z]+){0,2}?)\s+would\s+be\s+better\s+"
               r"than\s+[a-z ]{2,30}?\s+for\s+(?:me|us)\b", re.I),
    re.compile(r"\bnever\s+(?:put|give|seat|book)\s+(?:me|us)\s+(?P<neg>near|by|next\s+to|"
               r"in)\s+(?P<obj>.+)", re.I),
)
_SAME_AS = re.compile(r"\bsame\s+as\s+(?:last\s+time|usual|always)\s+(?P<obj>.+)", re.I)
_STYLIST = re.compile(
    r"\b(?:with|by)\s+(?!(?:me|us|him|her|them|you)\s)(?P<name>[a-z]+)\s+(?:(?:she|he)\s+"
    r"always\s+does|(?:she's|he's)\s+(?:my|the\s+one)|if\s+(?:she's|he's)\s+in)", re.I)
_DIET_WORDS = ("vegan", "vegetarian", "pescatarian", "kosher", "halal", "keto",
               "gluten free", "dairy free", "plant based")
# "Prefers vegan meals", "Only wants halal": a preference for a diet fills the diet slot.
_DIET_PREFERENCE = re.compile(
    r"^(?:Prefers:?|Only\s+wants)\s+(?:only\s+|always\s+)?(?P<diet>" + "|".join(_DIET_WORDS)
    + r")(?:\s+(?:meals?|food|options?|menu|dishes|only))?$", re.IGNORECASE)


def as_diet(c: Candidate) -> Candidate:
    """``c`` moved into the ``diet`` slot when it only names a diet."""
    m = _DIET_PREFERENCE.match(c.text) if c.kind == "preference" and not c.slot_key else None
    if not m:
        return c
    return dataclasses.replace(c, text=f"Diet is {m.group('diet').lower()}", slot_key="diet")


_DIET = re.compile(
    r"\b(?:i'm|i\s+am|we're|we\s+are|were|gone|going|switch\s+(?:me|us)\s+to|make\s+it|"
    r"keep\s+it|to\s+be|be|it's|its|eat|only|all|plan\s+is)\s+(?:fully\s+|strictly\s+|"
    r"totally\s+|now\s+|all\s+)?(?P<diet>" + "|".join(_DIET_WORDS) + r")\b",
    re.IGNORECASE)
_CONTACT = re.compile(
    r"\b(?:(?:please|just|only)\s+)?(?P<how>text|email|e-mail)\s+(?:me|us)\b(?!\s+(?:at|the|a|"
    r"it|that|this|when|back))|\b(?:by|via)\s+(?P<how2>email|text|post|mail)(?:\s+"
    r"(?:from\s+now\s+on|please|instead|only)\b|\s*$)|\b(?P<how3>text|email)(?:'s|\s+is|\s+would\s+be)\s+"
    r"(?:better|best|easier|fine)\b|\bleave\s+a\s+(?P<how4>text|message)\b",
    re.IGNORECASE)
_NO_CALLS = re.compile(
    r"\b(?:don't|do\s+not|dont|please\s+don't|never)\s+(?:ring|call|phone)\s+me\b"
    r"(?!\s+(?:at\s+work|at\s+the\s+office|at\s+home|on\s+my|before|after|during|between|"
    r"until|till|in\s+the|on\s+\w+days?|at\s+night|at\s+\d))|"
    r"\bstop\s+calling\s+me\b(?:\s+about\s+(?P<about>[a-z ]{3,30}?)(?=\s+(?:if|and|but|so|i|"
    r"please|because|cause|we|my)\b|\s*$|\s*[,.;!?]))?", re.IGNORECASE)
_SPEAKS = re.compile(
    r"\b(?:speaks?|in)\s+(?P<lang>spanish|french|german|italian|portuguese|polish|"
    r"mandarin|cantonese|arabic|hindi|urdu|punjabi|russian|vietnamese|korean|japanese|"
    r"tagalog|turkish|ukrainian|english|welsh|somali|farsi)\b|\b(?P<lang2>english|spanish|"
    r"french|polish)\s+is\s+(?:fine|ok|okay|better|best)\b", re.IGNORECASE)


_NEW_CLAUSE = re.compile(
    r"\s+(?:i|i'm|i'd|i'll|we|we're|we'd|we'll|my|it's|he's|she's|you|you're)\s")
_ARTICLE = re.compile(r"^(?:a|an|the|some)\s+", re.IGNORECASE)
_LEAD_WORDS = re.compile(r"^(?:(?:so|and|but|because|cause|plus|actually|well|oh|no|yeah|"
                         r"though|then)\s+)+", re.IGNORECASE)


# The agent asked for a taste: "any seating preference?", "how would you like your steak?".
_ASKED_PREFERENCE = re.compile(
    r"\b(?:any|a|your)\s+(?:\w+\s+)?preferences?\b[^.!]*\?|\bhow\s+would\s+you\s+(?:like|prefer)"
    r"\b[^.!]*\?|\bwhich\s+(?:would\s+you\s+prefer|do\s+you\s+prefer)\b[^.!]*\?|"
    r"\bwhat\s+would\s+you\s+prefer\b[^.!]*\?", re.IGNORECASE)
_NO_PREFERENCE = re.compile(
    r"^(?:no|nope|none|not\s+really|not\s+bothered|either|any|whatever|doesn't\s+matter|"
    r"don't\s+mind|i\s+don't\s+mind|up\s+to\s+you|no\s+preference)\b", re.IGNORECASE)
_MAX_ANSWER_WORDS = 6


def _obj(text: str, start: int = 0) -> str:
    # Speech has no commas: "put me by the window i like to sleep" ends at "i".
    phrase = capture_phrase(text, start)
    cut = _NEW_CLAUSE.search(phrase)
    return clean_object(phrase[:cut.start()] if cut else phrase)


def _pref(t: TurnView, text: str, at: int, conf: float = 0.7, *, slot: str | None = None,
          kind: str = "preference") -> Candidate:
    return t.candidate(text, kind, slot, conf, at)


# Words each pattern cannot match without: a substring test is far cheaper than a
# pattern whose object is ".+" tried at every word of the turn. (Keyed by id: hashing a
# compiled pattern hashes its whole source each time.)
_NEEDS: dict[int, re.Pattern[str]] = {
    id(pattern): re.compile("|".join(words.split())) for pattern, words in (
        (_ALWAYS, "always usually normally generally"), (_ONLY, "only"), (_SAME_AS, "same"),
        (_PUT_ME, "put seat place book"), (_WHENEVER, "whenever"), (_A_MUST, "must"),
        (_PREFER_A, "prefer rather like"), (_DISTASTE, "not don't"), (_X_ONLY, "only"),
        (_TASTE, "fan fond keen partial more after into tend ideally love"),
        (_ALWAYS_FOR_ME, "always"), (_BETTER_FOR_MY, "better best"), (_NO_THING, "no nothing"),
        (_STYLIST, "always she's he's if"), (_CONTACT, "text mail post message"),
        (_NO_CALLS, "call ring phone"),
        *zip(_STANDING, ("stick", "my", "my", "always", "every", "keep", "keep", "easy", "want",
                         "better", "never"), strict=True),
    )}


def _scan(pattern: re.Pattern[str], text: str, low: str) -> Iterator[re.Match[str]]:
    need = _NEEDS.get(id(pattern))
    if need is not None and need.search(low) is None:
        return iter(())
    return pattern.finditer(text)


def spoken_preferences(t: TurnView) -> list[Candidate]:
    """Tastes and standing wishes said the way people say them on the phone."""
    out: list[Candidate] = []
    user = t.user
    low = user.lower()
    if _QUESTION.match(user.strip()):
        return out
    for pattern, lead in ((_ALWAYS, "Prefers"), (_ONLY, "Only wants"), (_PUT_ME, "Prefers"),
                          (_WHENEVER, "Prefers"), (_PREFER_A, "Prefers"),
                          (_SAME_AS, "Prefers")):
        for m in _scan(pattern, user, low):
            obj = _obj(user, m.start("obj"))
            if not obj or _STOP_OBJ.match(_ARTICLE.sub("", obj)) or ONE_OFF.search(obj) or (
                    obj.startswith(("to ", "for "))):
                continue
            if _EVERY.search(obj):
                # "i'd like a standing order of tulips every monday" is a recurring need.
                out.append(t.candidate(f"Regularly wants {obj}", "need", None, 0.65, m.start()))
                continue
            out.append(_pref(t, f"{lead} {obj}", m.start()))
    for pattern in _STANDING:
        for m in _scan(pattern, user, low):
            obj = _obj(user, m.start("obj"))
            if not obj or _STOP_OBJ.match(_ARTICLE.sub("", obj)) or ONE_OFF.search(obj) or (
                    obj.startswith("to ")):
                continue
            neg = m.groupdict().get("neg")
            text = f"Does not want to be {neg} {obj}" if neg else f"Prefers {obj}"
            out.append(_pref(t, text, m.start(), 0.65))
    for m in _scan(_TASTE, user, low):
        start = next(m.start(g) for g in ("obj", "obj2", "obj3", "obj4", "obj5") if m.group(g))
        group = next(g for g in ("obj", "obj2", "obj3", "obj4", "obj5") if m.group(g))
        obj = m.group(group) if group == "obj5" else _obj(user, start)
        obj = re.sub(r"\s+person$", "", obj.strip())
        if obj and not _STOP_OBJ.match(_ARTICLE.sub("", obj)) and not ONE_OFF.search(obj):
            out.append(_pref(t, f"Prefers {clean_object(obj)}", m.start(), 0.65))
    for m in _scan(_DISTASTE, user, low):
        obj = (m.group("obj2") or _obj(user, m.start("obj"))).strip()
        if obj and not _STOP_OBJ.match(_ARTICLE.sub("", obj)):
            out.append(_pref(t, f"Does not want {obj}", m.start(), 0.65))
    for pattern, lead in ((_ALWAYS_FOR_ME, "Prefers: always"), (_BETTER_FOR_MY, "Prefers"),
                          (_A_MUST, "Needs"), (_X_ONLY, "Prefers only")):
        for m in _scan(pattern, user, low):
            obj = clean_object(_LEAD_WORDS.sub("", m.group("obj")))
            if obj and not _STOP_OBJ.match(_ARTICLE.sub("", obj)):
                if pattern is _X_ONLY and is_recurring_time(obj):
                    # "so weekdays only": when, not what
                    out.append(_pref(t, tidy_days(f"Available only {obj}"), m.start(), 0.65,
                                     slot="preferred_time", kind="availability"))
                    continue
                out.append(_pref(t, f"{lead} {obj}", m.start(), 0.65))
    for m in _scan(_NO_THING, user, low):
        obj = m.group("obj").strip()
        if _STOP_OBJ.match(obj) or len(obj.split()) > 4 or obj.endswith(("stuff", "things")):
            continue
        if _NOT_REFUSED.match(obj):
            continue  # "no don't bother", "no worries": a reply, not a thing refused
        out.append(_pref(t, f"Does not want {obj}", m.start(), 0.65))
    for m in _scan(_STYLIST, user, low):
        out.append(_pref(t, f"Prefers {m.group('name').capitalize()}", m.start(), 0.65))
    for m in _scan(_DIET, user, low):
        diet = m.group("diet").lower()
        out.append(_pref(t, f"Diet is {diet}", m.start(), 0.8, slot="diet"))
    for m in _scan(_CONTACT, user, low):
        how = (m.group("how") or m.group("how2") or m.group("how3") or m.group("how4")).lower()
        how = {"e-mail": "email", "mail": "post", "message": "text"}.get(how, how)
        label = {"text": "text messages", "email": "email", "post": "letters by post"}[how]
        out.append(_pref(t, f"Prefers to be contacted by {label}", m.start(), 0.75,
                         slot="preferred_contact_method"))
    for m in _scan(_NO_CALLS, user, low):
        about = f" about {m.group('about').strip()}" if m.group("about") else ""
        out.append(_pref(t, f"Does not want phone calls{about}", m.start(), 0.6, slot=None))
    for m in _SPEAKS.finditer(user):
        lang = (m.group("lang") or m.group("lang2")).capitalize()
        out.append(_pref(t, f"Prefers to speak {lang}", m.start(), 0.75, slot="language"))
    # Last, so a more specific reading of the answer (e-mail, a diet) wins.
    if _ASKED_PREFERENCE.search(t.prev_agent) and not out:
        answer = user.strip()
        words = answer.split()
        if 0 < len(words) <= _MAX_ANSWER_WORDS and not _NO_PREFERENCE.match(answer) and not (
                _QUESTION.match(answer) or "?" in answer):
            obj = clean_object(re.sub(r"\s+(?:please|thanks|thank\s+you)$", "", answer))
            if obj and not _STOP_OBJ.match(_ARTICLE.sub("", obj)):
                out.append(_pref(t, f"Prefers {obj}", 0, 0.6))
    return out


# --- when the caller can be reached or booked --------------------------------------------

_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_PART = (r"(?:(?:weekday\s+|weekend\s+)?(?:mornings?|afternoons?|evenings?|nights?)|"
         r"weekends?|weekdays?|lunchtimes?|lunch\s+times?)")
_CLOCK = r"(?:\d{1,2}(?::\d\d)?\s*(?:am|pm)?|noon|lunch|midday|work)"
_SLOT = (rf"(?P<when>(?:(?:on\s+)?(?:a\s+)?{_DAY}(?:\s+(?:and|or)\s+{_DAY})?|(?:in\s+the\s+)?"
         rf"{_PART})(?:\s+(?:before|after|from|between)\s+{_CLOCK}(?:\s+and\s+{_CLOCK})?)?|"
         rf"(?:any\s*time\s+)?(?:before|after)\s+{_CLOCK})")
_ANY_DAY_BUT = re.compile(
    rf"\bany\s+(?:day|weekday)\s+(?:but|except|apart\s+from|other\s+than)\s+"
    rf"(?P<day>{_DAY}|weekends?|the\s+weekend)\b", re.IGNORECASE)
_SLOT_WORD = re.compile(r"day|morning|afternoon|evening|night|week|lunch|before|after",
                        re.IGNORECASE)
_BEST_FOR_ME = re.compile(
    rf"{_SLOT}\s+(?:are|is|would\s+be|works?)\s+(?:the\s+)?(?:best|better|good|great|ideal|"
    rf"easiest)(?:\s+for\s+(?:me|us))?(?:\s+(?P<after>(?:before|after)\s+{_CLOCK}))?",
    re.IGNORECASE)
_ONLY_HOME = re.compile(
    rf"\b(?:i'm|i\s+am|we're|i\s+can)\s+only\s+(?:home|in|around|free|available|off|do|come|"
    rf"make)\s+(?:classes\s+|it\s+)?(?:on\s+)?{_SLOT}", re.IGNORECASE)
_HAS_TO_BE = re.compile(
    rf"\b(?:has\s+to\s+be|needs\s+to\s+be|must\s+be|make\s+it|it'll\s+have\s+to\s+be)\s+"
    rf"(?:on\s+)?{_SLOT}", re.IGNORECASE)
_REACH_ME = re.compile(
    rf"\b(?:best|better|easiest)\s+(?:time\s+)?to\s+(?:call|reach|get|catch)\s+me\s+(?:is\s+)?"
    rf"(?:in\s+the\s+)?{_SLOT}", re.IGNORECASE)
_SUITS_ME = re.compile(
    rf"{_SLOT}\s+(?:suits?|work\s+best\s+for|works\s+best\s+for)\s+(?:me|us)\b", re.IGNORECASE)
# "please call me in the mornings, before 9am": when to ring, said as a request.
_CALL_ME_WHEN = re.compile(
    rf"\b(?:call|ring|phone|reach|contact|text)\s+me\s+(?:back\s+)?(?:only\s+)?"
    rf"(?:in\s+the\s+|on\s+)?{_SLOT}", re.IGNORECASE)
_EDGE_AFTER = re.compile(rf"\s*,?\s*(?P<edge>(?:before|after)\s+{_CLOCK})", re.IGNORECASE)
_NO_LATER = re.compile(
    rf"\bno\s+(?P<dir>later|earlier)\s+than\s+(?P<t>{_CLOCK})", re.IGNORECASE)
_BARE_SLOT = re.compile(
    rf"(?:^|\b(?:no|actually|hang\s+on\s+no|oh|wait)\s+){_SLOT}(?:\s+only)?"
    rf"(?=\s+(?:my|i'm|i\s+work|are|is|please|only)\b|\s*$)", re.IGNORECASE)
_ASKED_WHEN = re.compile(r"\b(?:what|which)\s+(?:day|days|time|times|window)\b|"
                         r"\bwhen\s+(?:works|is\s+best|are\s+you)\b|\bbest\s+for\s+you\b",
                         re.IGNORECASE)


def _when_text(when: str) -> str:
    when = re.sub(r"^(?:on\s+|in\s+the\s+|a\s+)", "", when.strip(), flags=re.IGNORECASE)
    return tidy_days(when)


def spoken_availability(t: TurnView) -> list[Candidate]:
    """"tuesdays are best for me after three", "i'm only home on thursdays"."""
    out: list[Candidate] = []
    user = t.user
    low = user.lower()
    offered = t.prev_agent.lower()
    # Every pattern below but _NO_LATER holds a day, a part of the day or "before/after".
    timed = _SLOT_WORD.search(user) is not None
    for m in _BEST_FOR_ME.finditer(user) if timed else ():
        when = _when_text(m.group("when"))
        if when.lower().rstrip("s") in offered and "for me" not in m.group().lower():
            continue  # "monday is good" accepts the slot the agent offered
        if m.group("after"):
            when = f"{when} {m.group('after')}"
        out.append(t.candidate(f"Prefers {when}", "availability", "preferred_time", 0.75,
                               m.start()))
    for m in _NO_LATER.finditer(user):
        edge = "before" if m.group("dir").lower() == "later" else "after"
        out.append(t.candidate(f"Available {edge} {m.group('t')}", "availability",
                               "preferred_time", 0.75, m.start()))
    for pattern in (_ONLY_HOME, _HAS_TO_BE, _REACH_ME, _SUITS_ME) if timed else ():
        for m in _scan(pattern, user, low):
            out.append(t.candidate(f"Available {_when_text(m.group('when'))}", "availability",
                                   "preferred_time", 0.75, m.start()))
    for m in _CALL_ME_WHEN.finditer(user) if timed else ():
        when = _when_text(m.group("when"))
        edge_m = _EDGE_AFTER.match(user, m.end())
        if edge_m and not re.search(r"\b(?:before|after)\b", when):
            when = f"{when} {edge_m.group('edge')}"
        # "call me after 5" may be about today only: a habit ("mornings", "before 9") or
        # nothing, and never next to "tomorrow".
        if is_recurring_time(when) and not ONE_OFF.search(user):
            out.append(t.candidate(f"Prefers calls {when}", "availability", "preferred_time",
                                   0.75, m.start()))
    for m in _ANY_DAY_BUT.finditer(user):
        out.append(t.candidate(tidy_days(f"Available any day but {m.group('day').lower()}"),
                               "availability", "preferred_time", 0.75, m.start()))
    if not out and timed:
        bare = _BARE_SLOT.search(user)
        if bare and (bare.start() > 0 or _ASKED_WHEN.search(t.prev_agent)) and (
                not ONE_OFF.search(user)):
            out.append(t.candidate(f"Prefers {_when_text(bare.group('when'))}", "availability",
                                   "preferred_time", 0.65, bare.start()))
    return out


# --- standing needs and constraints ------------------------------------------------------

_EVERY = re.compile(
    r"\b(?:every\s+(?:other\s+)?(?:\d+\s+|two\s+|three\s+|few\s+|couple\s+of\s+)?(?:day|week|"
    r"month|year|fortnight|morning|evening|night|visit|time|spring|summer|autumn|fall|winter|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day)s?|"
    r"each\s+(?:week|month)|once\s+a\s+(?:week|month)|a\s+(?:week|month)|weekly|monthly|"
    r"fortnightly|every\s+\w+\s+(?:weeks|months))\b", re.IGNORECASE)
_HABIT_VERB = re.compile(
    r"\b(?:i|we)\s+(?:(?:also|still|usually)\s+)?(?P<verb>pick\s+up|get|need|order|reorder|"
    r"buy|go\s+through|use|collect|travel|want|take|come\s+in|bring|drop\s+off|come|visit|"
    r"fly|stay)\s+(?P<obj>.+)",
    re.IGNORECASE)
_PLENTY = re.compile(
    r"\b(?P<freq>fortnightly|weekly|monthly|every\s+(?:other\s+)?(?:week|month|fortnight))\s+"
    r"(?:is|would\s+be)\s+(?:plenty|enough|fine|perfect|great)\b", re.IGNORECASE)
_VERB3 = {"drop off": "drops off", "come": "comes", "visit": "visits", "fly": "flies",
          "stay": "stays", "pick up": "picks up", "get": "gets", "need": "needs", "order": "orders",
          "reorder": "reorders", "buy": "buys", "go through": "goes through", "use": "uses",
          "collect": "collects", "travel": "travels", "do": "does", "have": "has",
          "want": "wants", "take": "takes", "come in": "comes in", "bring": "brings"}


def spoken_needs(t: TurnView) -> list[Candidate]:
    """Recurring needs: "i pick up my prescription every month on the first"."""
    out: list[Candidate] = []
    user = t.user
    freq = _EVERY.search(user)
    if not freq or _QUESTION.match(user.strip()):
        return out
    plenty = _PLENTY.search(user)
    if plenty:
        out.append(t.candidate(f"Wants it {plenty.group('freq').lower()}", "need", None, 0.65,
                               plenty.start()))
    for m in _HABIT_VERB.finditer(user):
        verb = re.sub(r"\s+", " ", m.group("verb").lower())
        obj = clean_object(user[m.start("obj"):][:120])
        words = obj.split()
        obj = " ".join(words[:16])
        if not obj or _STOP_OBJ.match(_ARTICLE.sub("", obj)) or (
                freq.group().lower() not in obj.lower()) or "[redacted" in obj:
            continue
        out.append(t.candidate(f"Regularly {_VERB3.get(verb, verb)} {obj}", "need", None,
                               0.65, m.start()))
        break
    return out


_CANT_BE_WITHOUT = re.compile(
    r"\bcan't\s+(?:be\s+without|go\s+without|do\s+without)\s+(?P<what>[a-z ]{2,30}?)\s+(?:for|so|"
    r"and|because)\b.*?\bneed\s+(?P<need>a\s+[a-z]+)", re.IGNORECASE)
_NO_STUFF = re.compile(r"\b(?:so|and)\s+no\s+(?P<what>[a-z]+(?:\s+[a-z]+)?)\s+(?:stuff|things|"
                       r"exercises|classes)\b", re.IGNORECASE)
_WORK_REMOTE = re.compile(
    r"\bi\s+(?:work|am|i'm)\s+(?:remote|remotely|from\s+home)\s+so\s+i\s+can't\s+"
    r"(?P<what>come\s+(?:in|to\s+the\s+office)|[a-z ]{3,30})", re.IGNORECASE)


_AMOUNT = (r"(?:£|\$|€)?\s?(?P<amt>\d[\d,.]*\s?(?:k|grand|quid|pounds|dollars|bucks|euros)?"
           r"(?:\s+(?:a|per)\s+(?:day|night|week|month|year|hour))?)")
_BUDGETS = tuple(re.compile(p + _AMOUNT, re.IGNORECASE) for p in (
    r"\b(?:nothing|not\s+anything)\s+(?P<dir>over|above|more\s+than|under|below|less\s+than)\s+",
    r"\b(?:budget|max|maximum|limit)\s+(?:(?:i|we)\s+can\s+(?:spend|pay|afford|do)\s+)?"
    r"(?:is|of|tops\s+out\s+at|would\s+be)?\s*"
    r"(?:about\s+|around\s+)?",
    r"\bno\s+more\s+than\s+",
))


_NOT_MONEY = re.compile(r"\s*(?:miles?|km|kilomet(?:er|re)s?|minutes?|mins?|hours?|hrs?|feet|"
                        r"foot|metres?|meters?|kg|kilos?|people|guests|days?|weeks?)\b", re.I)


def spoken_constraints(t: TurnView) -> list[Candidate]:
    """"i cant be without a car so i need a loaner", "no jumping stuff"."""
    out: list[Candidate] = []
    for m in _CANT_BE_WITHOUT.finditer(t.user):
        out.append(t.candidate(f"Always needs {m.group('need')} (cannot be without "
                               f"{m.group('what').strip()})", "constraint", None, 0.7,
                               m.start()))
    for m in (m for pattern in _BUDGETS for m in pattern.finditer(t.user)):
        amount = m.group("amt").strip()
        direction = ((m.groupdict().get("dir")) or "over").lower()
        if not any(c.isdigit() for c in amount):
            continue
        if _NOT_MONEY.match(t.user, m.end()):
            continue  # "nothing more than 30 miles from home": a distance
        if direction in ("under", "below", "less than"):
            text = f"Minimum is {amount}"
        else:
            text = f"Budget is at most {amount}"
        out.append(t.candidate(text, "constraint", None, 0.7, m.start()))
    for m in _NO_STUFF.finditer(t.user):
        out.append(t.candidate(f"No {m.group('what')} activities", "constraint", None, 0.65,
                               m.start()))
    for m in _WORK_REMOTE.finditer(t.user):
        out.append(t.candidate(f"Works remotely; cannot {m.group('what').strip()}",
                               "constraint", None, 0.7, m.start()))
    return out


SPOKEN_RULES = (spoken_preferences, spoken_availability, spoken_needs, spoken_constraints)
