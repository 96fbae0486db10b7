"""Rules for what the caller likes, when they can be reached, what they cannot do or need.

Most of what a caller says is about this call ("I need to move my appointment"), so
these rules only fire on first-person statements of habit or taste ("I prefer", "I'd
rather", "Thursdays are better for me", "I always order") and drop anything tied to
today ("I'm free tomorrow"), said about someone else ("he prefers aisle seats"), asked
as a question or said as a hypothesis ("if I'm free on Friday").
"""

from __future__ import annotations

import re

from ._rules_common import (
    ONE_OFF,
    TurnView,
    capture_phrase,
    clean_object,
    is_recurring_time,
    is_time,
    sentences,
    tidy_days,
)
from ._select import Candidate

__all__ = ["PREFERENCE_RULES"]

# --- classification of a preferred thing -------------------------------------------------

_LANGUAGES = {
    "english": "English", "spanish": "Spanish", "español": "Spanish", "espanol": "Spanish",
    "french": "French", "français": "French", "francais": "French", "german": "German",
    "italian": "Italian",
    "portuguese": "Portuguese", "mandarin": "Mandarin", "chinese": "Chinese",
    "cantonese": "Cantonese", "japanese": "Japanese", "korean": "Korean",
    "vietnamese": "Vietnamese", "tagalog": "Tagalog", "arabic": "Arabic", "hindi": "Hindi",
    "russian": "Russian", "polish": "Polish", "dutch": "Dutch", "turkish": "Turkish",
    "ukrainian": "Ukrainian", "punjabi": "Punjabi", "urdu": "Urdu", "bengali": "Bengali",
}
_LANGUAGE = re.compile(r"\b(" + "|".join(_LANGUAGES) + r")\b", re.IGNORECASE)
_CONTACT_METHOD = re.compile(
    r"\b(e-?mails?|e-?mailed|texts?|texted|texting|text\s+messages?|sms|whatsapp|signal|phone\s+calls?|calls?|"
    r"calling|voicemail|letters?|post)\b",
    re.IGNORECASE,
)
_CONTACT_LABEL = {
    "email": "email", "e-mail": "email", "emails": "email", "e-mails": "email",
    "text": "text messages", "texts": "text messages", "texting": "text messages",
    "texted": "text messages", "emailed": "email", "e-mailed": "email",
    "sms": "text messages", "whatsapp": "WhatsApp", "signal": "Signal",
    "calls": "phone calls", "call": "phone calls", "calling": "phone calls",
    "phone call": "phone calls", "phone calls": "phone calls", "voicemail": "voicemail",
    "letter": "letters by post", "letters": "letters by post", "post": "letters by post",
}


def _classify(obj: str, *, negative: bool) -> tuple[str, str | None, str]:
    """(kind, slot_key, text) for a preferred ``obj`` ("mornings", "email", "a booth")."""
    lang = _LANGUAGE.search(obj)
    if lang and not negative and len(obj.split()) <= 5:
        name = _LANGUAGES[lang.group(1).lower()]
        return "preference", "language", f"Prefers to speak {name}"
    method = _CONTACT_METHOD.search(obj)
    # "getting calls during dinner" is about when, not how: time wins over method.
    is_video = re.search(r"\bvideo\b", obj, re.I)
    if method and len(obj.split()) <= 6 and not is_time(obj) and not is_video:
        label = _CONTACT_LABEL.get(method.group(1).lower().replace("  ", " "), "")
        if not label:
            label = _CONTACT_LABEL.get(re.sub(r"\s+", " ", method.group(1).lower()), "")
        if label:
            verb = "Prefers not to get" if negative else "Prefers"
            return "preference", "preferred_contact_method", f"{verb} {label}"
    if is_time(obj):
        verb = "Prefers no calls" if negative and not obj.startswith(("call", "get")) else (
            "Dislikes" if negative else "Prefers")
        return "availability", "preferred_time", tidy_days(f"{verb} {obj}")
    verb = "Dislikes" if negative else "Prefers"
    return "preference", None, f"{verb} {obj}"


# Objects of "i like ..." that are about this call or the agent, not a taste.
_TRIVIAL_OBJECT = re.compile(
    r"^(?:your|you|that|this|it|them|him|her|the\s+new|the\s+way\s+you|what|talking|to\s+"
    r"(?:know|ask|check|book|make|order|see|speak|talk|get\s+an?\s+update|cancel|change)|"
    r"a\s+lot|so|very|how)\b",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(?:do|does|did|can|could|would|will|is|are|have|has|should|may|what|when|which|"
    r"how|where)\b",
    re.IGNORECASE,
)
_HYPOTHETICAL = re.compile(r"\b(?:if|unless|whether|maybe|might)\b", re.IGNORECASE)


def _skip_sentence(sentence: str) -> bool:
    """Questions are requests for information, not statements about the caller."""
    return sentence.rstrip().endswith("?") or bool(_QUESTION_START.match(sentence))


def _preference(
    t: TurnView, obj: str, at: int, confidence: float, *, negative: bool = False
) -> Candidate | None:
    obj = clean_object(obj)
    if not obj or len(obj) < 3 or ONE_OFF.search(obj) or _TRIVIAL_OBJECT.match(obj):
        return None
    if "[redacted" in obj or _SOMEONE_ELSE.match(obj) or _INTRO_OBJECT.match(obj):
        return None
        return None
    kind, slot, text = _classify(obj, negative=negative)
    return t.candidate(text, kind, slot, confidence, at, negative=negative)


# "i prefer she sticks with glasses": what the caller would like another person to do for
# themselves, not the caller's taste ("i prefer they text" is the business's doing, kept).
_SOMEONE_ELSE = re.compile(r"(?:he|she)\s+(?!does\b|is\b|has\b)[a-z]+s\b", re.IGNORECASE)

# "its omar the pickup at eight": the caller's introduction, not the thing they dislike.
_INTRO_OBJECT = re.compile(r"(?:it's|its|this\s+is|i'm|im)\s", re.IGNORECASE)

# --- preferences -------------------------------------------------------------------------

_PREFER = re.compile(
    r"\b(?:i|we)\s+(?:really\s+|always\s+|usually\s+|generally\s+|much\s+|definitely\s+|"
    r"do\s+|would\s+)?(?:prefer|prefers)\s+(?P<neg>not\s+(?:to\s+)?)?",
    re.IGNORECASE,
)
_RATHER = re.compile(
    r"\b(?:i'd|i\s+would|we'd|we\s+would|id)\s+(?:much\s+|really\s+)?(?:rather|prefer)\s+"
    r"(?P<neg>not\s+(?:to\s+)?)?",
    re.IGNORECASE,
)
_HAVE_OBJECT = re.compile(r"^(?:have|get|go\s+with|take)\s+(?=(?:a|an|the|my|some)\b)", re.I)
_LIKE = re.compile(
    r"\b(?:i|we)\s+(?:really\s+|do\s+|always\s+)?(?P<neg>don't\s+(?:really\s+)?like|do\s+not\s+like|"
    r"hate|dislike|can't\s+stand|cannot\s+stand|like|love)\s+",
    re.IGNORECASE,
)
_GOOD = (
    r"best|better|easiest|easier|easy|ideal|great|perfect|good|convenient|more\s+convenient|"
    r"most\s+convenient"
)
# "mondays and wednesdays are out": ruled out, not outside.
_BAD = (r"tough|hard|difficult|bad|impossible|no\s+good|not\s+great|too\s+early|too\s+late|tricky|"
        r"out(?!\s+(?:of|there|the|at|on|in|for\s+(?!me\b|us\b)))")
_GOOD_OR_BAD = re.compile(
    r"best|better|eas(?:y|ier|iest)|ideal|great|perfect|good|convenient|tough|hard|difficult|"
    r"bad|impossible|early|late|tricky|\bout\b", re.IGNORECASE)
_BETTER_FOR_ME = re.compile(
    r"(?:^|[,;:]\s*|\b(?:and|but|so|yeah|well|honestly|actually|generally|usually|oh|ok|"
    r"okay|no|wait|now)\s+)(?P<obj>[^\W\d_][\w' -]{1,40}?)(?:\s+(?:is|are|work|works|"
    r"tend\s+to\s+be|tends\s+to\s+be|would\s+be|will\s+be|seem\s+to\s+be|are\s+always|is\s+always)|'s|'re)\s+"
    r"(?:way\s+|much\s+|a\s+lot\s+|generally\s+|usually\s+|always\s+|just\s+|really\s+|"
    rf"kind\s+of\s+|pretty\s+)*(?:(?P<good>{_GOOD})|(?P<bad>{_BAD}))"
    r"(?P<for>\s+(?:for|to)\s+(?:me|us)|\s+to\s+(?:reach|call|contact|get\s+hold\s+of|catch)\s+"
    r"(?:me|us))?(?P<than>\s+than\s+[a-z ]{2,20}?)?(?=\s*(?:[,.;!?]|$|\s+(?:anyway|than|and|"
    r"since|because|so|but|i|honestly|now|these\s+days)\b))",
    re.IGNORECASE,
)
_BEST_WAY = re.compile(
    r"(?P<obj>[a-z][a-z ]{1,25}?)\s+is\s+the\s+(?:best|easiest)\s+way\s+to\s+(?:reach|contact|"
    r"get\s+(?:a\s+)?hold\s+of|get\s+in\s+touch\s+with)\s+(?:me|us)|\bthe\s+(?:best|easiest)\s+"
    r"way\s+to\s+(?:reach|contact)\s+(?:me|us)\s+is\s+(?:by\s+|via\s+|through\s+)?"
    r"(?P<obj2>[a-z][a-z ]{1,25}?)(?=\s*(?:[,.;!?]|$))",
    re.IGNORECASE,
)
_JUST_CONTACT = re.compile(
    r"\b(?:please\s+)?(?:just|only)\s+(?P<m>email|e-mail|text|message|whatsapp)(?:\s+me\b|"
    r"(?=\s*(?:[,.;!?]|$|\s+(?:please|instead|is\s+fine)\b)))|"
    r"\b(?P<m2>email|e-mail|text|message|whatsapp)\s+me\s+instead\b",
    re.IGNORECASE,
)
_COMFORTABLE_LANG = re.compile(
    r"\b(?:i'm|i\s+am|im)\s+(?:more\s+|most\s+|much\s+more\s+)?comfortable\s+(?:speaking\s+|"
    r"in\s+|with\s+)(?P<lang>[a-zñç]+)|\b(?:prefiero|prefiere)\s+(?:hablar\s+)?(?:en\s+)?"
    r"(?P<es>español|espanol)\b|\ben\s+(?P<es2>español|espanol),?\s+por\s+favor\b|"
    r"\bje\s+pr[ée]f[èe]re\s+(?:parler\s+)?(?:en\s+)?(?P<fr>fran[çc]ais)\b",
    re.IGNORECASE,
)
_WANTS_UPDATES = re.compile(
    r"\b(?:can|could|would)\s+you\s+(?:always\s+|please\s+)?(?:send|text|email|give)\s+me\s+"
    r"(?P<what>reminders|notifications|alerts|updates|confirmations)(?P<rest>[^,.;!?]{0,30})|"
    r"\bi\s+(?:want|need|would\s+like|'d\s+like)\s+(?:to\s+(?:get|receive)\s+)?"
    r"(?P<what2>reminders|notifications|alerts)(?P<rest2>[^,.;!?]{0,30})",
    re.IGNORECASE,
)
_SAME_AS_LAST = re.compile(
    r"\bsame\s+(?P<what>[a-z]+(?:\s+[a-z]+)?)\s+as\s+(?:last\s+time|before|usual|always)"
    r"(?:\s*,\s*(?P<name>[a-z]+)\b)?",
    re.IGNORECASE,
)
_TOO_EARLY = re.compile(
    r"\b(?:anything|nothing|no\s+calls|no\s+appointments|no\s+visits)\s+(?P<obj>(?:before|after|"
    r"later\s+than|earlier\s+than)"
    r"\s+[\w:]+(?:\s*(?:am|pm))?)(?:\s+(?:[a-z]+\s+){0,3}?(?:is|are)\s+(?:way\s+|much\s+|a\s+bit\s+|"
    r"just\s+)?too\s+(?:early|late)|(?=\s*(?:[,.;!?]|$|\s+please)))",
    re.IGNORECASE,
)
_NOT_A_PERSON = re.compile(
    r"\b(?:i'm|i\s+am|im)\s+(?:not\s+a|no)\s+(?P<part>morning|night|evening|early)\s+(?:person|bird)",
    re.IGNORECASE,
)
_TIME_ZONE = re.compile(
    r"\b(?:i'm|i\s+am|im|we're|we\s+are)\s+(?:in|on)\s+(?P<tz>pacific|mountain|central|eastern|"
    r"atlantic|hawaii|alaska|uk|gmt|bst|cet|ist|aest|est|pst|cst|mst)\s+time\b",
    re.IGNORECASE,
)
_HABIT = re.compile(
    r"\b(?:always|every\s+time|usually|generally|whenever\s+i\s+can|all\s+the\s+time)\b", re.I
)
_OPTIONS = re.compile(
    r"\b(?:an?\s+|the\s+)?(?P<a>[a-z]+(?:\s[a-z]+)?)\s+or\s+(?:an?\s+|the\s+)?"
    r"(?P<b>[a-z]+(?:\s[a-z]+)?)\s*\?",
    re.IGNORECASE,
)


def preferences(t: TurnView) -> list[Candidate]:
    """Tastes and wishes: "I prefer X", "I'd rather X", "I like X", "X is best for me"."""
    out: list[Candidate] = []
    for offset, sentence in sentences(t.user):
        if _skip_sentence(sentence):
            continue
        for pattern, confidence in ((_PREFER, 0.8), (_RATHER, 0.75)):
            for m in pattern.finditer(sentence):
                if _HYPOTHETICAL.search(sentence[: m.start()]):
                    continue
                # "i'd rather you texted me than called": the wish, not "you".
                obj = re.sub(r"^(?:you|u)\s+(?=\w+ed\b)", "", capture_phrase(sentence, m.end()))
                tail = re.match(r"\s*than\s+([a-z ]{2,30}?)(?=[,.;!?]|$)", sentence[m.end()
                                + len(obj) :], re.I) if obj else None
                if tail:
                    obj = f"{obj} rather than {tail.group(1).strip()}"
                # "i'd rather have a king bed": the thing wished for is the object.
                obj = _HAVE_OBJECT.sub("", obj)
                c = _preference(t, obj, offset + m.start(), confidence,
                                negative=bool(m.group("neg")))
                if c:
                    out.append(c)
        for m in _LIKE.finditer(sentence):
            word = m.group("neg").lower()
            negative = word not in ("like", "love")
            obj = capture_phrase(sentence, m.end())
            if obj.lower().startswith("to "):
                continue  # "i like to sleep": an activity, not a preference to act on
            c = _preference(t, obj, offset + m.start(), 0.6, negative=negative)
            if c:
                out.append(c)
        # The full pattern may start at any word; try it only when a judging word is there.
        judged = _GOOD_OR_BAD.search(sentence) is not None
        for m in _BETTER_FOR_ME.finditer(sentence.lstrip()) if judged else ():
            obj = m.group("obj").strip()
            # The subject is the last clause: "i speak a little english but español".
            obj = re.split(r"\b(?:but|so|because|and\s+i|i)\b", obj)[-1].strip()
            # Words of a correction lead in too: "no sorry tuesdays are bad" is about Tuesdays.
            obj = re.sub(r"^(?:(?:honestly|actually|yeah|well|and|oh|generally|now|no|sorry|"
                         r"wait|um|uh|hi|hiya|hello|hey)\s+)+", "", obj)
            # Without "for me", only a habit-like time ("weekends are best") is about the
            # caller; "the blue one is better" is about a product.
            if not m.group("for") and not is_recurring_time(obj):
                continue
            if obj.lower() in ("that", "this", "it", "which", "what", "either", "any"):
                continue
            if not m.group("for") and obj.lower() in t.prev_agent.lower():
                continue  # "wednesdays at 4 is perfect" takes the slot the agent offered
            if ONE_OFF.search(obj) or (is_time(obj) and not is_recurring_time(obj)):
                continue
            c = _preference(t, obj, offset + m.start(), 0.8, negative=bool(m.group("bad")))
            if c:
                out.append(c)
        for m in _BEST_WAY.finditer(sentence) if judged and "way" in sentence else ():
            c = _preference(t, m.group("obj") or m.group("obj2"), offset + m.start(), 0.85)
            if c:
                out.append(c)
        for m in _JUST_CONTACT.finditer(sentence):
            method = (m.group("m") or m.group("m2")).lower()
            c = _preference(t, method, offset + m.start(), 0.8)
            if c:
                out.append(c)
        for m in _COMFORTABLE_LANG.finditer(sentence):
            word = m.group("lang") or m.group("es") or m.group("es2") or m.group("fr") or ""
            name = _LANGUAGES.get(word.lower())
            if name:
                out.append(t.candidate(f"Prefers to speak {name}", "preference", "language",
                                       0.8, offset + m.start()))
    for m in _SAME_AS_LAST.finditer(t.user):
        what = m.group("what").lower()
        text = f"Prefers the same {what} as last time"
        if m.group("name") and m.group("name").lower() not in ("he", "she", "they", "please"):
            text += f" ({m.group('name').capitalize()})"
        out.append(t.candidate(text, "preference", None, 0.75, m.start()))
    for m in _TIME_ZONE.finditer(t.user):
        tz = m.group("tz")
        tz = tz.upper() if len(tz) <= 4 else tz.capitalize()
        out.append(t.candidate(f"Is in {tz} time", "note", "timezone", 0.75, m.start()))
    # Asked as a question, but a standing wish: "can you send me reminders the day before?"
    for m in _WANTS_UPDATES.finditer(t.user):
        what = (m.group("what") or m.group("what2")).lower()
        rest = clean_object(m.group("rest") or m.group("rest2") or "")
        out.append(t.candidate(f"Wants {what} {rest}".strip(), "preference", None, 0.7,
                               m.start()))
    # "Window or aisle?" — "window, always window": a habitual choice is a preference.
    options = _OPTIONS.search(t.prev_agent)
    if options and _HABIT.search(t.user):
        for option in (options.group("a"), options.group("b")):
            head = option.split()[-1].lower()
            if re.search(rf"\b{re.escape(head)}\b", t.user, re.IGNORECASE):
                c = _preference(t, option.lower(), 0, 0.7)
                if c:
                    out.append(c)
                break
    return out


# --- diet --------------------------------------------------------------------------------

_DIETS = (
    r"vegetarian|vegan|veggie|veg|pescatarian|pescetarian|keto|kosher|halal|paleo|plant[- ]based|"
    r"gluten[- ]free|dairy[- ]free|flexitarian|raw\s+vegan"
)
_DIET = re.compile(
    rf"\b(?:i'm|i\s+am|im|i've\s+(?:been|gone|become)|i\s+(?:went|became|eat|keep)|we're|"
    rf"we\s+are|we\s+eat|we\s+keep)\s+(?:(?:now|also|a|an|strictly|strict|mostly|fully|"
    rf"completely|totally|pretty\s+much)\s+)*(?P<diet>{_DIETS})\b",
    re.IGNORECASE,
)
_NO_FOOD = re.compile(
    r"\b(?:i|we)\s+(?:don't|do\s+not|never)\s+eat\s+(?P<food>meat|pork|beef|fish|dairy|eggs|"
    r"seafood|chicken|red\s+meat|sugar|carbs)\b",
    re.IGNORECASE,
)
_FREE_FROM = re.compile(
    r"\b(?:need|needs|has\s+to\s+be|have\s+to\s+be|must\s+be|needs\s+to\s+be|should\s+be|"
    r"only\s+eat|only\s+buy)\s+(?:everything\s+|it\s+|all\s+|food\s+|things\s+|to\s+be\s+)*"
    r"(?P<what>(?:gluten|dairy|nut|peanut|sugar|egg|soy|alcohol|meat|lactose)[- ]free)\b",
    re.IGNORECASE,
)


def diets(t: TurnView) -> list[Candidate]:
    """"I'm vegetarian", "I don't eat pork", "it has to be gluten free"."""
    out: list[Candidate] = []
    for m in _DIET.finditer(t.user):
        diet = m.group("diet").lower().replace(" ", "-")
        out.append(t.candidate(f"Is {diet}", "preference", "diet", 0.85, m.start()))
    for m in _NO_FOOD.finditer(t.user):
        out.append(t.candidate(f"Does not eat {m.group('food').lower()}", "preference", None,
                               0.75, m.start()))
    for m in _FREE_FROM.finditer(t.user):
        what = m.group("what").lower().replace(" ", "-")
        out.append(t.candidate(f"Needs {what} food", "constraint", None, 0.7, m.start()))
    return out


# --- availability ------------------------------------------------------------------------

_ONLY_DO = re.compile(r"\b(?:i|we)\s+can\s+only\s+(?:really\s+|ever\s+|usually\s+)?(?:do|make|"
                      r"come(?:\s+in)?|manage|get\s+in)\s+", re.IGNORECASE)
_FREE_ON = re.compile(
    r"\b(?:i'm|i\s+am|im|we're|we\s+are)\s+(?P<adv>(?:(?:usually|generally|normally|always|"
    r"only|mostly|typically)\s+)*)(?:free|available|around|home|reachable)\s+",
    re.IGNORECASE,
)
_DONT_CALL = re.compile(
    r"\b(?:please\s+)?(?:don't|do\s+not|never|no)\s+(?:call|ring|phone|contact|text|calls?)"
    r"\s+(?:me\s+|us\s+)?(?=(?:before|after|during|on|in\s+the|at|between)\b)",
    re.IGNORECASE,
)
_IS_A_NO = re.compile(
    r"\b(?P<obj>(?:before|after|during)\s+[\w:]+(?:\s*(?:am|pm))?)\s+(?:is\s+a\s+no|is\s+out|"
    r"doesn't\s+work|does\s+not\s+work|won't\s+work|is\s+no\s+good|is\s+not\s+good)\b",
    re.IGNORECASE,
)
_CANT_DO_TIME = re.compile(r"\b(?:i|we)\s+(?:can't|cannot|can\s+not)\s+do\s+", re.IGNORECASE)
_MUST_COME = re.compile(
    r"\b(?P<subj>deliveries|delivery|appointments?|visits?|calls|pickups?|it|they|the\s+"
    r"\w+)\s+(?:has|have|need|needs|must)\s+(?:to\s+)?(?:be|come|arrive|happen|be\s+done)\s+"
    r"(?=(?:before|after|in\s+the|on|between|by)\b)",
    re.IGNORECASE,
)


def availability(t: TurnView) -> list[Candidate]:
    """When the caller can be reached or booked: "I can only do mornings before 9"."""
    out: list[Candidate] = []
    for offset, sentence in sentences(t.user):
        if _skip_sentence(sentence):
            continue
        for m in _ONLY_DO.finditer(sentence):
            obj = clean_object(capture_phrase(sentence, m.end()))
            if obj and is_time(obj) and not ONE_OFF.search(obj):
                out.append(t.candidate(tidy_days(f"Available only {obj}"), "availability",
                                       "preferred_time", 0.85, offset + m.start()))
        for m in _FREE_ON.finditer(sentence):
            if _HYPOTHETICAL.search(sentence[: m.start()]):
                continue  # "if I'm free on Friday"
            obj = clean_object(capture_phrase(sentence, m.end()))
            habitual = bool(m.group("adv").strip())
            if not obj or not is_time(obj) or ONE_OFF.search(obj):
                continue
            if not (habitual or is_recurring_time(obj)):
                continue
            adverb = m.group("adv").strip().lower()
            text = f"{adverb.capitalize()} free {obj}" if adverb else f"Free {obj}"
            out.append(t.candidate(tidy_days(text), "availability", "preferred_time", 0.8,
                                   offset + m.start()))
        for m in _DONT_CALL.finditer(sentence):
            obj = clean_object(capture_phrase(sentence, m.end()))
            if obj and is_time(obj):
                out.append(t.candidate(tidy_days(f"Do not call {obj}"), "availability",
                                       "preferred_time", 0.85, offset + m.start(),
                                       negative=True))
        for m in _IS_A_NO.finditer(sentence):
            out.append(t.candidate(tidy_days(f"Not available {m.group('obj')}"),
                                   "availability", "preferred_time", 0.75, offset + m.start(),
                                   negative=True))
        for m in _TOO_EARLY.finditer(sentence):
            obj = re.sub(r"^later\s+than", "after", m.group("obj"), flags=re.IGNORECASE)
            obj = re.sub(r"^earlier\s+than", "before", obj, flags=re.IGNORECASE)
            out.append(t.candidate(tidy_days(f"Not available {obj}"), "availability",
                                   "preferred_time", 0.75, offset + m.start(), negative=True))
        for m in _NOT_A_PERSON.finditer(sentence):
            part = m.group("part").lower()
            part = "mornings" if part == "early" else f"{part}s"
            out.append(t.candidate(f"Dislikes {part}", "availability", "preferred_time", 0.7,
                                   offset + m.start(), negative=True))
        for m in _CANT_DO_TIME.finditer(sentence):
            obj = clean_object(capture_phrase(sentence, m.end()))
            if obj and is_recurring_time(obj):
                out.append(t.candidate(tidy_days(f"Not available {obj}"), "availability",
                                       "preferred_time", 0.75, offset + m.start(),
                                       negative=True))
        for m in _MUST_COME.finditer(sentence):
            obj = clean_object(capture_phrase(sentence, m.end()))
            subj = m.group("subj").lower()
            if not obj or not is_time(obj) or ONE_OFF.search(obj):
                continue
            subj_text = "Visits" if subj in ("it", "they") else subj.capitalize()
            out.append(t.candidate(tidy_days(f"{subj_text} must come {obj}"), "availability",
                                   "preferred_time", 0.75, offset + m.start()))
    return out


PREFERENCE_RULES = (preferences, diets, availability)
