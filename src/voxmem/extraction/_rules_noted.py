"""Preferences the agent confirms it will keep: "Back porch, noted.", "added to your profile".

A caller states a wish in many ways ("dont substitute anything i'd rather get nothing",
"whenever you guys book me i want the window not the aisle"); an agent that keeps it
says so in a few ("Got it, no substitutions on your orders.", "Window seats are on your
profile.", "I've added a note to always close the side gate."). The agent's reply is
written text, so these few shapes carry to phrasings no caller rule anticipates.

Two guards keep this precise: the agent must say the wish is kept (a note, the profile,
"from now on", on every order), and the kept thing must share a word with what the
caller said in this turn, so the agent cannot put words in the caller's mouth.
"""

from __future__ import annotations

import re

from ._rules_common import ONE_OFF, TurnView, is_recurring_time, is_time, sentences
from ._select import Candidate
from ._text import third_person, word_set

__all__ = ["NOTED_RULES", "echoed_needs", "echoed_preferences"]

_NOT_STATEMENT = re.compile(
    r"\b(?:would\s+you|do\s+you|shall\s+i|should\s+i|can\s+i|could\s+i|if\s+you|i\s+can|"
    r"we\s+can|want\s+me\s+to|let\s+me\s+know)\b", re.IGNORECASE)
# "I've added a window seat preference to your profile", "saved vegan meals to your
# preferences".
_ADDED_TO = re.compile(
    r"\b(?:i've|i\s+have|we've|we\s+have|i|we)\s+(?:also\s+|now\s+)?(?:added|put|saved|"
    r"set|noted|recorded|updated)\s+(?P<what>(?!a\s+note\b)[^.;!?]{3,60}?)\s+(?:to|on|in)\s+"
    r"your\s+(?:[\w-]+\s+){0,2}(?:profile|preferences|notes|file|record)\b", re.IGNORECASE)
# "Window seats and vegan meals are on your profile."
_IS_ON = re.compile(
    r"(?P<what>[A-Za-z][^.;!?:]{2,60}?)\s+(?:is|are)\s+(?:now\s+)?(?:on|saved\s+(?:to|on)|"
    r"in)\s+your\s+(?:[\w-]+\s+){0,2}(?:profile|preferences|notes|file|record)\b", re.IGNORECASE)
# "I've added a note to always close the side gate", "made a note on your account that ...".
_A_NOTE = re.compile(
    r"\b(?:added|put|made|left|placed)\s+a\s+(?:permanent\s+|standing\s+)?note\s+(?:on|to)?\s*"
    r"(?:your\s+(?:account|file|profile|record)\s+)?(?:(?P<to>to)|that)\s+(?P<what>[^.;!?]{3,70})",
    re.IGNORECASE)
# "Got it, no substitutions on your orders."
_NO_ON = re.compile(
    r"\bno\s+(?P<what>[a-z][a-z\s-]{2,40}?)\s+(?:on|for|with)\s+(?:any\s+of\s+)?your\s+"
    r"(?:future\s+)?(?:orders|deliveries|bookings|visits|appointments|account|stays|"
    r"reservations)\b", re.IGNORECASE)
# "Back porch, noted." / "Noted: unscented detergent."
_ECHO = re.compile(
    r"^(?P<what>[A-Za-z][a-z-]*(?:\s+[a-z][a-z-]*){1,4}),?\s+(?:noted|got\s+it\s+noted|added|"
    r"saved)\b|"
    r"^noted\s*[:,-]\s*(?P<what2>[a-z][a-z\s-]{3,50}?)\s*$", re.IGNORECASE)
# "I've noted a ground floor room", "I've requested a high floor for you", "I'll note your
# preference for extra-legroom seats", "I'll add a note for longer visits".
_NOTED_THING = re.compile(
    r"\b(?:i've|i\s+have|we've|we\s+have|i'll|we'll|i\s+will)\s+(?:also\s+)?(?:noted|note|"
    r"requested|request|made\s+a\s+note\s+of|add(?:ed)?\s+a\s+note\s+(?:for|about|of))\s+"
    # Only a thing with an article or named as a preference: "I'll note that Doreen ...",
    # "I've noted your late arrival" are not wishes.
    r"(?:down\s+)?(?:your\s+preference\s+for\s+|that\s+you\s+(?:prefer|like|want)\s+|"
    r"(?=an?\s))(?P<what>(?![^.;!?]*\s(?-i:[A-Z]))[^.;!?]{3,50}?)(?:\s+for\s+(?:you|your\s+\w+)|"
    r"\s+on\s+your\s+\w+)?\s*(?:[.;!?]|$)", re.IGNORECASE)
# "I'll make a note for lukewarm water", "I'll put a note for easy-open lids on your record":
# a note *for* a thing, with or without an article.
_NOTE_FOR = re.compile(
    r"\b(?:i'll|i\s+will|i've|i\s+have|we'll|we've)\s+(?:also\s+)?(?:make|made|put|add|added|"
    r"leave|left)\s+a\s+note\s+(?:for|about|of)\s+(?P<what>(?![^.;!?]*\s(?-i:[A-Z]))[a-z]"
    r"[^.;!?]{2,40}?)(?:\s+on\s+your\s+\w+)?\s*(?:[.;!?]|$)", re.IGNORECASE)
# "I've noted a late arrival so the room is held": about this stay, not a wish.
_ONE_OFF_NOTE = re.compile(r"\b(?:late|early|arrival|delay|so|because)\b", re.IGNORECASE)
# "I've set your letters to large print."
_SET_YOUR = re.compile(
    r"\b(?:i've|i\s+have|we've)\s+(?:also\s+)?(?:set|switched|changed)\s+your\s+"
    r"(?P<thing>letters|statements|bills|invoices|correspondence|paperwork)\s+to\s+"
    r"(?P<value>[a-z][a-z -]{2,30}?)\s*(?:[.;!?]|$)",
    re.IGNORECASE)
# "Sure, texts only." / "Email only from now on."
_CHANNEL_ONLY = re.compile(
    r"^(?:(?:sure|okay|ok|done|great|no\s+problem|of\s+course|got\s+it|right)[,!.]?\s+)*"
    r"(?P<how>post|mail|letters?|email|e-mail|texts?|sms|phone\s+calls?|calls?|whatsapp)\s+"
    r"only\b", re.IGNORECASE)
_CONTACT_PREF = re.compile(
    r"\bset\s+your\s+(?:contact|communication)\s+preference\s+to\s+(?P<how>post|mail|letters?|"
    r"email|e-mail|text|texts|sms|phone|calls?|whatsapp)\b", re.IGNORECASE)
_HOW = {"post": "letters by post", "mail": "letters by post", "letter": "letters by post",
        "letters": "letters by post", "email": "email", "e-mail": "email",
        "text": "text messages", "texts": "text messages", "sms": "text messages",
        "phone": "phone calls", "call": "phone calls", "calls": "phone calls",
        "whatsapp": "WhatsApp"}
# The caller said it as a must ("i can only drive automatics", "cant use latex").
_MUST = re.compile(r"\b(?:can't|cant|cannot|can\s+only|has\s+to|have\s+to|must|need\s+to)\b",
                   re.IGNORECASE)
# "i'll need a booster seat for my son": a need for every booking.
_WILL_NEED = re.compile(r"\b(?:i'll|i\s+will|i'd|we'll|we\s+will)\s+(?:always\s+)?need\s+(?!to\b)",
                        re.IGNORECASE)
_PROPER = re.compile(r"\s[A-Z]")
_HABIT = re.compile(r"\b(?:every|each|weekly|monthly|daily|yearly|annual|twice|once)\b", re.I)
_LEAD = re.compile(r"^(?:all|just|only|always)\s+", re.IGNORECASE)
_STOP = word_set("""a an the and or of to for on in at with your you my me it that this
is are be been was will i i've we we've all any some no not always never please""")
_WORD = re.compile(r"[a-z]+")
# What an agent puts "on your file" that is not a wish: money, documents, plans.
_NOT_A_WISH = re.compile(
    r"\b(?:credit|refund|charge|payment|fee|balance|discount|plan|tariff|package|card|"
    r"number|address|email|phone|document|copy|receipt|invoice|ticket|case|claim|"
    r"appointment|booking|reservation|name|details)s?\b", re.IGNORECASE)


def _stems(text: str) -> set[str]:
    # Five-letter stems: "substitutions" and "substitute" are one word for this purpose.
    return {w[:5] for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def _grounded(what: str, caller: str) -> bool:
    return bool(_stems(what) & _stems(caller))


def _clean(what: str) -> str:
    what = re.sub(r"^(?:a|an|the)\s+(?:standing\s+)?", "", what.strip(" ,"), flags=re.I)
    what = re.sub(r"\s+(?:preference|request|note)s?$", "", what, flags=re.I)
    return what[:1].lower() + what[1:]


def _keep(t: TurnView, text: str, at: int) -> Candidate | None:
    what = text[6:] if text.startswith("Note:") else text.split(" ", 2)[-1]
    if (len(what.split()) > 9 or re.search(r"\d", what) or is_time(what)
            or ONE_OFF.search(what) or _NOT_A_WISH.search(what)
            or not _grounded(what, t.user)):
        return None
    kind = ("need" if _WILL_NEED.search(t.user) else
            "constraint" if _MUST.search(t.user) else "preference")
    if kind != "preference" and text.startswith("Prefers "):
        text = "Needs " + text.removeprefix("Prefers ")
    return t.candidate(text.rstrip(" ."), kind, None, 0.7, at)


def _statements(t: TurnView) -> list[tuple[int, str]]:
    if not t.user.strip():
        return []
    base = len(t.user)  # the agent spoke after the caller
    return [(base + offset, sentence) for offset, sentence in sentences(t.agent)
            if not (sentence.rstrip().endswith("?") or _NOT_STATEMENT.search(sentence))]


def noted_preferences(t: TurnView) -> list[Candidate]:
    """Wishes the agent says it keeps: on the profile, in a note, on every order."""
    out: list[Candidate] = []
    for at, sentence in _statements(t):
        m = _CONTACT_PREF.search(sentence) or _CHANNEL_ONLY.match(sentence.strip())
        if m and (m.re is _CONTACT_PREF or _grounded(m.group("how")[:4], t.user)):
            how = _HOW[m.group("how").lower().split()[-1]]
            out.append(t.candidate(f"Prefers {how}", "preference", "preferred_contact_method",
                                   0.75, at + m.start()))
            continue
        found: list[tuple[str, int]] = []
        for pattern in (_ADDED_TO, _IS_ON):
            for m in pattern.finditer(sentence):
                found.append((f"Prefers {_clean(m.group('what'))}", m.start()))
        for m in _A_NOTE.finditer(sentence):
            what = third_person(m.group("what").strip())
            text = f"Asks to {what}" if m.group("to") else f"Note: {what}"
            found.append((text, m.start()))
        for m in (*_NOTED_THING.finditer(sentence), *_NOTE_FOR.finditer(sentence)):
            if _ONE_OFF_NOTE.search(m.group("what")):
                continue
            found.append((f"Prefers {_clean(m.group('what'))}", m.start()))
        for m in _SET_YOUR.finditer(sentence):
            found.append((f"Prefers {m.group('value').strip()} {m.group('thing').lower()}",
                          m.start()))
        for m in _NO_ON.finditer(sentence):
            found.append((f"Does not want {m.group('what').strip().lower()}", m.start()))
        for text, start in found:
            c = _keep(t, text, at + start)
            if c:
                out.append(c)
    return out


def echoed_preferences(t: TurnView) -> list[Candidate]:
    """"Back porch, noted.": the agent's short echo of a wish.

    Weaker than :func:`noted_preferences` ("noted" may mean only "heard"), so the
    extractor uses it only for a turn where no rule read a wish in the caller's words.
    """
    out: list[Candidate] = []
    for at, sentence in _statements(t):
        m = _ECHO.match(sentence.strip())
        if not m:
            continue
        what = (m.group("what") or m.group("what2") or "").strip()
        if is_recurring_time(what) and not ONE_OFF.search(what) and _grounded(what, t.user):
            # "After 10am, noted." answers when the caller can come.
            out.append(t.candidate(f"Prefers {what[:1].lower() + what[1:]}", "availability",
                                   "preferred_time", 0.65, at))
            continue
        # "Salt and Pepper, noted!" echoes names; "Every six weeks, noted." a habit the
        # caller's own words state better.
        if _PROPER.search(what) or _HABIT.search(what):
            continue
        what = _LEAD.sub("", _clean(what))
        no = re.match(r"no\s+", what, re.IGNORECASE)
        c = _keep(t, f"Does not want {what[no.end():]}" if no else f"Prefers {what}", at)
        if c:
            out.append(c)
    return out


# "Absolutely, one rye sourdough held every Saturday.", "Done, monthly deliveries from now
# on.": the agent restating a standing order.
_RECURRING_ECHO = re.compile(
    r"^(?:(?:absolutely|done|sure|great|of\s+course|perfect|lovely|no\s+problem|got\s+it|"
    r"okay|ok|certainly)[,!.]?\s+)*(?P<what>[^.!?]*?\b(?:every\s+(?:other\s+|second\s+)?"
    r"(?:\w+\s+)?(?:day|week|month|year|fortnight|(?:mon|tues|wednes|thurs|fri|satur|sun)day)s?"
    r"|each\s+(?:week|month)|weekly|monthly|fortnightly|yearly|annual)\b[^.!?]*)",
    re.IGNORECASE)
# Not an order: talk ("we'll see you every ..."), or what the agent set up or booked, which
# arranged_needs and the booking rules word better.
_NOT_AN_ORDER = re.compile(r"^(?:i|we|you|it|that|this|there|see|talk|speak|your)\b|"
                           r"\b(?:set\s+up|booked|scheduled)\b", re.IGNORECASE)
_ORDER_TAIL = re.compile(r"\s*,?\s+(?:from\s+now\s+on|going\s+forward|starting\s+\w+|"
                         r"(?:(?:is|are|has\s+been|have\s+been)\s+)?(?:all\s+)?set\s+up|sorted|"
                         r"done|noted)$",
                         re.IGNORECASE)


def echoed_needs(t: TurnView) -> list[Candidate]:
    """A standing order the agent restates; like :func:`echoed_preferences`, a fallback."""
    out: list[Candidate] = []
    for at, sentence in _statements(t):
        m = _RECURRING_ECHO.match(sentence.strip())
        if not m:
            continue
        what = _ORDER_TAIL.sub("", m.group("what").strip(" ,"))
        what = what[:1].lower() + what[1:]
        if (_NOT_AN_ORDER.search(what) or len(what.split()) > 12 or ONE_OFF.search(what)
                or not _grounded(what, t.user)):
            continue
        out.append(t.candidate(f"Regularly gets {what}", "need", None, 0.65, at))
    return out


NOTED_RULES = (noted_preferences,)
