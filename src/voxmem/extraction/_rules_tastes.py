"""Fourth-round rules: tastes, the person a caller always sees, and linked promises.

Each rule is a frame that carries to any object, not a list of sentences:

- what the caller never takes ("i never take sugar", "we never have ice") and their
  named favourite ("my favourite colour is yellow");
- a choice said twice ("tina always tina", "window every time" is read elsewhere);
- the person who always serves them ("dave always does my car", "marco... he's the only
  one i let cut my hair"), where the agent's written reply must capitalise the name;
- a standing instruction said with "please always" ("please always ring the mobile");
- a time fence said without a verb ("never before ten please");
- the agent's second promise joined to a first ("I'll chase it with the permits team and
  get back to you by Wednesday"), and "it" in a promise resolved to what the agent has
  just done ("I've processed the refund; it'll be back on your card in 7 to 10 days").
"""

from __future__ import annotations

import re

from ._rules_common import (
    ONE_OFF,
    VAGUE,
    TurnView,
    capture_phrase,
    clean_object,
    is_recurring_time,
    lasting_object,
    sentences,
    tidy_days,
)
from ._rules_people import _RELATION_WORDS, agent_proper_nouns, is_common_word
from ._select import Candidate
from ._text import title_name

__all__ = ["TASTE_RULES", "resolve_it"]

_QUESTION = re.compile(
    r"^\s*(?:(?:so|and|um|uh|oh|hi|hello|yeah|please)\s+)*(?:do|does|did|is|are|can|could|"
    r"would|will|what|when|which|how|where|should|shall|may)\b", re.IGNORECASE)
_HYPOTHETICAL = re.compile(r"\b(?:if|unless|whether|maybe|might|suppose)\b", re.IGNORECASE)
# Speech has no commas: "no sugar i never take sugar" ends an object at a new clause.
_NEW_CLAUSE = re.compile(
    r"\s+(?:i|i'm|i'd|i've|we|we're|my|so|because|cause|but|and|it|it's|he|she|they|thanks|"
    r"thank|please|otherwise|(?:the|our|his|her)\s+[a-z]+(?:\s+[a-z]+)?\s+(?:is|isn't|doesn't|"
    r"don't|was|won't|has|can't|gets|are|aren't))\b.*$", re.IGNORECASE)


def _object(sentence: str, start: int, max_words: int = 5) -> str:
    phrase = _NEW_CLAUSE.sub("", capture_phrase(sentence, start))
    return lasting_object(clean_object(phrase), max_words)


# --- what the caller never takes, and favourites -----------------------------------------

_NEVER_TAKE = re.compile(
    r"\b(?:i|we)\s+(?:never|don't\s+ever|do\s+not\s+ever)\s+(?P<verb>take|have|drink|eat|want|"
    r"use|add)\s+(?P<obj>(?!(?:a|an|the|my|our|any|enough|time|trouble|problems?|issues?|luck|"
    r"money|cash|signal|access|reception|anyone|anybody|to)\b)[a-z])", re.IGNORECASE)
_FAVOURITE = re.compile(
    r"\b(?:my|our)\s+(?:favourite|favorite)\s+(?P<what>(?!is\b|are\b|one\b)[a-z]+"
    r"(?:\s+(?!is\b|are\b)[a-z]+)?)\s+(?:is|are|'s)\s+(?P<obj>[a-z])", re.IGNORECASE)


# "i'm always a medium in tops", "i take a size nine", "i wear a 32 waist": a size to
# remember. The number or size word must follow the frame directly.
_SIZE = re.compile(
    r"\b(?:i'm|im|i\s+am|i\s+take|i\s+wear|i'm\s+usually|i'm\s+always)\s+(?:always\s+|usually\s+|"
    r"normally\s+)?(?:an?\s+)?(?P<size>size\s+\d+(?:\.5)?|size\s+[a-z]+|(?:extra\s+)?small|medium|"
    r"(?:extra\s+)?large|x+l|\d+\s+(?:waist|chest|leg|collar|shoe|shoes))\b(?P<tail>\s+in\s+"
    r"(?:tops|shirts|shoes|trousers|jeans|dresses|jackets|boots|everything))?", re.IGNORECASE)


_SIZE_WORD = re.compile(r"size|small|medium|large|xl|waist|chest|leg|collar|shoe", re.I)
_TASTE_TRIGGER = re.compile(r"ever|favo|size|small|medium|large|xl|waist|chest|leg|collar|shoe",
                            re.I)


def tastes(t: TurnView) -> list[Candidate]:
    """"i never take sugar", "my favourite colour is yellow", "tina always tina"."""
    out: list[Candidate] = []
    if not _TASTE_TRIGGER.search(t.user):
        return out
    for offset, sentence in sentences(t.user):
        low = sentence.lower()
        if sentence.rstrip().endswith("?") or _QUESTION.match(sentence):
            continue
        for m in _NEVER_TAKE.finditer(sentence) if "ever" in low else ():
            if _HYPOTHETICAL.search(sentence[: m.start()]):
                continue
            obj = _object(sentence, m.start("obj"), 4)
            if obj:
                verb = m.group("verb").lower()
                verb = {"have": "have", "want": "want", "get": "get"}.get(verb, verb)
                out.append(t.candidate(f"Does not {verb} {obj}", "preference", None, 0.7,
                                       offset + m.start(), negative=True))
        for m in _SIZE.finditer(sentence) if _SIZE_WORD.search(low) is not None else ():
            size = re.sub(r"\s+", " ", m.group("size").lower())
            tail = re.sub(r"\s+", " ", m.group("tail") or "").lower()
            out.append(t.candidate(f"Wears {size}{tail}", "note", None, 0.7,
                                   offset + m.start()))
        for m in _FAVOURITE.finditer(sentence) if "favo" in low else ():
            obj = _object(sentence, m.start("obj"), 4)
            if obj:
                what = m.group("what").lower()
                out.append(t.candidate(f"Favourite {what} is {obj}", "preference", None, 0.7,
                                       offset + m.start()))
    return out


# --- the person who always serves the caller ---------------------------------------------

_REPEATED_CHOICE = re.compile(
    r"(?:^|\b(?:oh|yeah|um|uh|so|and|just|well)\s+)(?P<x>[a-z]+)\s+(?:always|every\s+time)\s+"
    r"(?P=x)\b", re.IGNORECASE)
_ALWAYS_DOES = re.compile(
    r"\b(?P<name>[a-z]+)\s+(?:(?:he|she)\s+)?(?:always|usually|normally)\s+(?:does|did|cuts|"
    r"sees|looks\s+after|fixes|services|colours|colors|treats|styles|handles|takes\s+care\s+of)"
    r"\s+(?:my|our|me|us)\b", re.IGNORECASE)
_ONLY_ONE = re.compile(
    r"\b(?:(?P<name>[a-z]+)\s+(?:is|'s)|he's|she's|he\s+is|she\s+is|they're)\s+the\s+only\s+"
    r"(?:one|person|(?:hairdresser|barber|stylist|doctor|dentist|mechanic|driver|therapist|"
    r"groomer|tutor|nurse))\s+(?:i|we)\s+(?:let|trust|see|go\s+to|want|like|book\s+with)\b",
    re.IGNORECASE)
# "id like tom again he was good", "can i have priya again": asking for the same person.
_AGAIN = re.compile(
    r"\b(?:i'd\s+like|id\s+like|i\s+want|can\s+i\s+(?:have|get|see|book)|could\s+i\s+(?:have|"
    r"get|see)|book\s+me\s+(?:in\s+)?with|with)\s+(?P<name>[a-z]+)\s+again\b", re.IGNORECASE)
# "i'd like to keep training with jess", "can i keep seeing dr patel": the same person again.
_KEEP_WITH = re.compile(
    r"\bkeep\s+(?:seeing|training\s+with|going\s+to|having|booking(?:\s+in)?\s+with|"
    r"working\s+with|getting)\s+(?:dr\s+|doctor\s+)?(?P<name>[a-z]+)\b", re.IGNORECASE)
# "a colour with priya i dont let anyone else do my colour": the person named just before.
_NOBODY_ELSE = re.compile(
    r"\b(?:i\s+)?(?:don't|dont|do\s+not|won't|wouldn't|never)\s+let\s+anyone\s+else\b|"
    r"\bnobody\s+else\s+(?:does|touches|cuts|does\s+my)\b", re.IGNORECASE)
# "i like it when you use the lavender shampoo": a way the caller likes things done.
_LIKE_WHEN = re.compile(
    r"\b(?:i|we)\s+(?:really\s+)?(?:like|love|prefer)\s+it\s+when\s+(?:you|they|you\s+guys)\s+"
    r"(?P<verb>use|do|add|put|leave|bring|send|call|text|knock|ring|wrap|cut|give)\s+"
    r"(?P<obj>[a-z])", re.IGNORECASE)


def _named(t: TurnView, word: str) -> bool:
    """Whether the agent wrote ``word`` with a capital (now or in its last answer)."""
    low = word.lower()
    if is_common_word(low) or len(low) < 3:
        return False
    return low in agent_proper_nouns(t.agent) or low in agent_proper_nouns(t.prev_agent) or (
        bool(re.search(rf"(?:^|[.!?]\s+){re.escape(word.capitalize())}(?:'s)?(?=[,.!?:;]|$|"
                       r"\s+(?:has|is|can|will|would|does|was|and|it|at|on|for|with|in|free)\b)",
                       t.agent)))


# "hiya its keisha is bree in": the caller's own name is not the person they ask for.
_INTRODUCED = re.compile(r"\b(?:it's|its|i'm|im|this\s+is|name\s+is|names|name's)\s+$", re.I)


def _named_before(t: TurnView, before: str) -> str | None:
    """The last name the agent wrote that the caller said in ``before``, not their own."""
    names = [m.group(0) for m in re.finditer(r"[a-z]+", before.lower())
             if _named(t, m.group(0)) and not _INTRODUCED.search(before[: m.start()])]
    return names[-1] if names else None


# "its for ollie hes a cockapoo": a pet named first, its kind said after.
_NAME_THEN_KIND = re.compile(
    r"\b(?:for|it's|its|it\s+is|this\s+is|about|called|named)\s+(?P<name>[a-z]+)\s+(?:he's|she's|"
    r"hes|shes|he\s+is|she\s+is|it's|its|who's|whos)\s+(?:a|an|my|our)\s+(?:(?:little|big|"
    r"young|old|rescue|\d+\s+year\s+old)\s+)?(?P<kind>[a-z]+)(?:\s+(?P<kind2>[a-z]+))?\b",
    re.IGNORECASE)
_PETS = frozenset({"dog", "cat", "horse", "pony", "rabbit", "parrot", "bird", "hamster",
                   "tortoise", "ferret", "gecko", "snake", "lizard", "goat", "donkey"})


_PET_WORDS = frozenset(w for w, kind in _RELATION_WORDS.items() if kind in _PETS)


def named_pets(t: TurnView) -> list[Candidate]:
    """A pet named before its kind: "its for ollie hes a cockapoo"."""
    out: list[Candidate] = []
    if not _PET_WORDS & set(re.findall(r"[a-z]+", t.user.lower())):
        return out
    for m in _NAME_THEN_KIND.finditer(t.user):
        # "a spaniel", "a springer spaniel": the kind is the first or the second word
        kind = _RELATION_WORDS.get(m.group("kind").lower())
        if kind not in _PETS and m.group("kind2"):
            kind = _RELATION_WORDS.get(m.group("kind2").lower())
        if kind in _PETS and _named(t, m.group("name")):
            out.append(t.candidate(f"Has a {kind} named {title_name(m.group('name'))}", "note",
                                   None, 0.75, m.start()))
    return out


_PEOPLE_TRIGGER = re.compile(r"always|every|usually|normally|only|again|when|keep|else",
                             re.IGNORECASE)


def preferred_people(t: TurnView) -> list[Candidate]:
    """The stylist, driver or mechanic the caller always has, and a choice said twice."""
    out: list[Candidate] = []
    if not _PEOPLE_TRIGGER.search(t.user):
        return out
    for offset, sentence in sentences(t.user):
        # The two "always does"/"only one" frames are statements even inside a request
        # ("can dave look at it he always does my car"); a bare repeated word is not.
        asked = sentence.rstrip().endswith("?") or bool(_QUESTION.match(sentence))
        low = sentence.lower()
        for m in _REPEATED_CHOICE.finditer(sentence) if not asked and (
                "always" in low or "every" in low) else ():
            word = m.group("x")
            if word.lower() in VAGUE or word.lower() in ("no", "not", "yes", "never", "i"):
                continue
            if _named(t, word):
                text = f"Prefers {title_name(word)} (always asks for them)"
            elif is_common_word(word.lower()) or len(word) < 3:
                continue
            else:
                text = f"Prefers {word.lower()}"
            out.append(t.candidate(text, "preference", None, 0.7, offset + m.start()))
        for m in _ALWAYS_DOES.finditer(sentence) if "ly " in low or "always" in low else ():
            name: str | None = m.group("name")
            if name and name.lower() in ("he", "she", "it", "that", "this"):
                # "can dave look at it he always does my car": the name said before
                name = _named_before(t, sentence[: m.start()])
            if name and _named(t, name):
                out.append(t.candidate(f"Prefers {title_name(name)} (always asks for them)",
                                       "preference", None, 0.7, offset + m.start()))
        for m in _KEEP_WITH.finditer(sentence) if "keep" in low else ():
            if _named(t, m.group("name")):
                out.append(t.candidate(
                    f"Prefers {title_name(m.group('name'))} (always asks for them)",
                    "preference", None, 0.7, offset + m.start()))
        for m in _NOBODY_ELSE.finditer(sentence) if "else" in low else ():
            if who := _named_before(t, sentence[: m.start()]):
                out.append(t.candidate(f"Prefers {title_name(who)} (always asks for them)",
                                       "preference", None, 0.7, offset + m.start()))
        for m in _AGAIN.finditer(sentence) if "again" in low else ():
            if _named(t, m.group("name")):
                out.append(t.candidate(
                    f"Prefers {title_name(m.group('name'))} (always asks for them)",
                    "preference", None, 0.7, offset + m.start()))
        for m in _LIKE_WHEN.finditer(sentence) if not asked and " when " in low else ():
            obj = _object(sentence, m.start("obj"), 6)
            if obj:
                out.append(t.candidate(f"Likes it when staff {m.group('verb').lower()} {obj}",
                                       "preference", None, 0.65, offset + m.start()))
        for m in _ONLY_ONE.finditer(sentence) if "only" in low else ():
            name = m.group("name")
            if name is None:
                # "marco tomorrow he's the only one i let": the name said just before
                name = _named_before(t, sentence[: m.start()])
            if name and _named(t, name):
                out.append(t.candidate(f"Prefers {title_name(name)} (always asks for them)",
                                       "preference", None, 0.75, offset + m.start()))
    return out


# --- standing instructions and time fences -----------------------------------------------

_PLEASE_ALWAYS = re.compile(
    r"\bplease\s+(?:just\s+)?always\s+(?P<verb>ring|call|text|use|leave|knock|send|close|lock|"
    r"bring|check|put|ask\s+for|wear|take\s+off|remove|park|wipe|ring\s+the\s+bell|cut|wrap)\s+"
    r"(?P<obj>[a-z])", re.IGNORECASE)
_FENCE = re.compile(
    r"(?:^|\b(?:and|but|so|just|please|oh|um|uh|yeah|ok|okay)\s+)(?:never|not|no\s+calls|"
    r"nothing)\s+(?P<obj>(?:before|after|earlier\s+than|later\s+than)\s+(?:\d{1,2}(?::\d\d)?"
    r"(?:\s*(?:am|pm|o'clock))?|noon|midday|lunch|dinner))\b", re.IGNORECASE)


# "tuesdays work best no actually wednesdays": a time the caller corrects at once. The
# correction names only the new value; it takes the slot the first statement filled.
_REPAIR = re.compile(
    r"\b(?:no|sorry|i\s+mean|wait|or\s+rather|scratch\s+that)[\s,]+(?:(?:no|actually|sorry|wait|"
    r"make\s+(?:it|that))[\s,]+)*(?P<obj>(?:on\s+)?(?:[a-z]+days?|mornings?|afternoons?|"
    r"evenings?|weekends?|weekdays?|nights?)(?:\s+(?:and|or)\s+[a-z]+days?)?(?:\s+(?:before|after)"
    r"\s+\d{1,2}(?::\d\d)?(?:\s*(?:am|pm))?)?)\s*(?:please|instead|then|are\s+better|is\s+better|"
    r"would\s+be\s+better)?\s*$", re.IGNORECASE)


# "can you message me on whatsapp instead of email", "send the bill to my email only":
# how to reach the caller, said inside a request (the contact rules skip questions).
_CHANNELS = {"whatsapp": "WhatsApp", "email": "email", "e-mail": "email", "text": "text messages",
             "sms": "text messages", "post": "letters by post", "signal": "Signal"}
_REACH_ON = re.compile(
    r"\b(?:message|contact|reach|get\s+hold\s+of|update)\s+(?:me|us)\s+(?:on|via|by|through|over)\s+"
    r"(?P<m>whatsapp|e-?mail|text|sms|signal|post)\b|\bsend\s+(?:the|my|all\s+(?:the|my)?)?\s*"
    r"(?:bills?|statements?|invoices?|receipts?|letters?|updates?|reminders?)\s+(?:to\s+my|by|via|"
    r"on|over)\s+(?P<m2>e-?mail|post|text|whatsapp)\b", re.IGNORECASE)
_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
# "tuesdays and wednesdays are my only days off", "come on fridays instead of mondays"
_DAYS_OFF = re.compile(
    rf"\b(?P<obj>{_DAYS}(?:\s+and\s+{_DAYS})?)\s+(?:are|is)\s+my\s+(?:only\s+)?days?\s+off\b|"
    rf"\bmy\s+(?:only\s+)?days?\s+off\s+(?:are|is)\s+(?P<obj2>{_DAYS}(?:\s+and\s+{_DAYS})?)\b",
    re.IGNORECASE)
_INSTEAD_OF = re.compile(
    rf"\b(?:come|deliver|book\s+(?:me|us)|call\s+(?:me|us)|visit|do\s+it|clean|mow)\s+(?:in\s+)?"
    rf"(?:on\s+)?(?P<new>{_DAYS}|mornings|afternoons|evenings)\s+instead\s+of\s+"
    rf"(?P<old>{_DAYS}|mornings|afternoons|evenings)\b", re.IGNORECASE)
_COME_WHEN = re.compile(
    r"\bneed\s+(?:someone|somebody|you|them|the\s+[a-z]+)\s+to\s+(?:come|visit|call|deliver)\s+"
    r"(?P<obj>(?:before|after)\s+\d{1,2}(?::\d\d)?(?:\s*(?:am|pm))?(?:\s+or\s+(?:before|after)\s+"
    r"\d{1,2}(?::\d\d)?(?:\s*(?:am|pm))?)?)", re.IGNORECASE)
_NEVER_BOOK = re.compile(
    r"\b(?:never|don't|do\s+not|please\s+don't)\s+(?:book|schedule)\s+(?:me|us|anything)\s+"
    r"(?P<obj>(?:before|after)\s+\d{1,2}(?::\d\d)?(?:\s*(?:am|pm))?)", re.IGNORECASE)


def reach_and_days(t: TurnView) -> list[Candidate]:
    """How and when to reach the caller, said as a request or a fact of their week."""
    out: list[Candidate] = []
    low = t.user.lower()
    for m in _REACH_ON.finditer(t.user) if (" me " in f"{low} " or " us " in f"{low} "
                                            or "send" in low) else ():
        label = _CHANNELS[(m.group("m") or m.group("m2")).lower()]
        out.append(t.candidate(f"Prefers to be contacted by {label}", "preference",
                               "preferred_contact_method", 0.75, m.start()))
    for m in _DAYS_OFF.finditer(t.user) if " off" in low else ():
        days = (m.group("obj") or m.group("obj2")).lower()
        out.append(t.candidate(tidy_days(f"Available {days} (days off)"), "availability",
                               "preferred_time", 0.75, m.start()))
    for m in _INSTEAD_OF.finditer(t.user) if "instead" in low else ():
        text = f"Prefers {m.group('new').lower()}, not {m.group('old').lower()}"
        out.append(t.candidate(tidy_days(text), "availability", "preferred_time", 0.75,
                               m.start()))
    for m in _COME_WHEN.finditer(t.user) if "need" in low else ():
        out.append(t.candidate(f"Available {m.group('obj').lower()}", "availability",
                               "preferred_time", 0.75, m.start()))
    for m in _NEVER_BOOK.finditer(t.user) if "book" in low or "schedule" in low else ():
        out.append(t.candidate(f"Not available {m.group('obj').lower()}", "availability",
                               "preferred_time", 0.8, m.start(), negative=True))
    return out


_STANDING_TRIGGER = re.compile(r"always|before|after|than|\bno\b|sorry|mean|wait|rather|scratch",
                               re.IGNORECASE)
_REPAIR_WORD = re.compile(r"\bno\b|sorry|i mean|wait|rather|scratch")


def standing_always(t: TurnView) -> list[Candidate]:
    """"please always ring the mobile not the landline", "never before ten please"."""
    out: list[Candidate] = []
    if not _STANDING_TRIGGER.search(t.user):
        return out  # most turns hold none of the words these frames need
    for offset, sentence in sentences(t.user):
        low = sentence.lower()
        if sentence.rstrip().endswith("?"):
            continue
        for m in _PLEASE_ALWAYS.finditer(sentence) if "always" in low else ():
            obj = _object(sentence, m.start("obj"), 8)
            if obj:
                verb = re.sub(r"\s+", " ", m.group("verb").lower())
                out.append(t.candidate(f"Asks to always {verb} {obj}", "preference", None,
                                       0.7, offset + m.start()))
        fenced = "fore" in low or "after" in low or "than" in low
        repaired = _REPAIR_WORD.search(low) is not None
        if not (fenced or repaired) or _QUESTION.match(sentence) or ONE_OFF.search(sentence):
            continue
        repair = _REPAIR.search(sentence) if repaired and is_recurring_time(sentence) else None
        if repair and is_recurring_time(sentence[: repair.start()]) and is_recurring_time(
                repair.group("obj")):
            obj = re.sub(r"^on\s+", "", repair.group("obj").strip(), flags=re.IGNORECASE)
            out.append(t.candidate(tidy_days(f"Prefers {obj.lower()}"), "availability",
                                   "preferred_time", 0.75, offset + repair.start("obj")))
        for m in _FENCE.finditer(sentence) if fenced else ():
            if _HYPOTHETICAL.search(sentence[: m.start()]):
                continue
            obj = re.sub(r"^later\s+than", "after", m.group("obj"), flags=re.IGNORECASE)
            obj = re.sub(r"^earlier\s+than", "before", obj, flags=re.IGNORECASE)
            out.append(t.candidate(tidy_days(f"Not available {obj.lower()}"), "availability",
                                   "preferred_time", 0.75, offset + m.start(), negative=True))
    return out


# --- the agent's linked promises ----------------------------------------------------------

_LINKED = re.compile(
    r"\b(?:I'll|I\s+will|We'll|We\s+will)\s+(?P<first>[a-z]+)\b(?:[^.!?;]{0,70}?)\s+and\s+"
    r"(?:then\s+)?(?:I'll\s+|we'll\s+)?(?P<verb>get\s+back\s+to|call|ring|phone|email|text|"
    r"update|let|come\s+back\s+to)\s+you(?P<how>\s+(?:back|know))?\b(?P<rest>[^.!?;]{0,60})",
    re.IGNORECASE)
_LET_KNOW = re.compile(
    r"\b(?:I'll|I\s+will|We'll|We\s+will)\s+let\s+you\s+know\s+(?P<rest>(?:by|on|as\s+soon\s+as|"
    r"when|once|within|before)\b[^.!?;]{3,60})", re.IGNORECASE)
# "by Wednesday", "within 48 hours", "on Friday", "tomorrow": a promise has a when or a what.
_WHEN = re.compile(
    r"\b(?:by|on|within|before|tomorrow|next|this|in\s+(?:\d+|a|an|two|three)|as\s+soon\s+as|"
    r"once|when|(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b", re.IGNORECASE)



def _you(phrase: str) -> str:
    phrase = re.sub(r"\byour\b", "the caller's", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\byou\b", "the caller", phrase, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", phrase).strip(" ,.")


def linked_promises(t: TurnView) -> list[Candidate]:
    """"I'll chase it ... and get back to you by Wednesday", "I'll let you know by Friday"."""
    out: list[Candidate] = []
    if "'ll" not in t.agent and "will" not in t.agent.lower():
        return out
    base = len(t.user)
    for offset, sentence in sentences(t.agent):
        low = sentence.lower()
        if sentence.rstrip().endswith("?") or re.search(r"\b(?:if\s+you|would\s+you|do\s+you\s+"
                                                         r"want)\b", sentence, re.IGNORECASE):
            continue
        for m in _LINKED.finditer(sentence) if " and " in low else ():
            rest = m.group("rest")
            if not _WHEN.search(rest):
                continue
            verb = re.sub(r"\s+", " ", m.group("verb").lower())
            how = (m.group("how") or "").strip().lower()
            if verb == "let" and how != "know":
                continue
            if verb in ("get back to", "come back to"):
                action = f"{verb} the caller"
            elif verb == "let":
                action = "let the caller know"
            else:
                action = f"{verb} the caller{' back' if how == 'back' else ''}"
            out.append(t.candidate(f"Agent promised to {action} {_you(rest)}".strip(),
                                   "commitment", None, 0.7, base + offset + m.start("verb")))
        for m in _LET_KNOW.finditer(sentence) if "know" in low else ():
            out.append(t.candidate(f"Agent promised to let the caller know {_you(m.group('rest'))}",
                                   "commitment", None, 0.65, base + offset + m.start()))
    return out


# "I've processed the refund": what "it" means in the promise that follows.
_DONE_THING = re.compile(
    r"\b(?:I've|I\s+have|We've|We\s+have)\s+(?:now\s+|just\s+)?(?:processed|issued|approved|"
    r"requested|ordered|submitted|raised|authorised|authorized|sent|put\s+through|arranged|"
    r"cancelled|canceled|logged|booked|blocked|frozen|stopped|reported)\s+(?P<what>(?:the|a|an|your)\s+(?:[\w-]+\s+){0,2}?"
    r"(?:refund|replacement|card|credit|claim|order|parcel|payment|request|repair|collection|"
    r"cheque|check|reimbursement|transfer|complaint|ticket|return|prescription|part|letter|pack|"
    r"statement|voucher|engineer|technician))\b", re.IGNORECASE)


_DONE_AND_ARRIVES = re.compile(
    r"\b(?:I've|I\s+have|We've|We\s+have)\s+(?:just\s+)?(?:requested|ordered|sent|posted|"
    r"dispatched|issued|booked|reordered|resent)\s+(?P<what>(?:a|an|the|your)\s+[\w -]{2,30}?)\s+"
    r"and\s+(?:it|they)(?:'ll|\s+will|\s+should)\s+(?P<then>arrive|be\s+with\s+you|reach\s+you|"
    r"be\s+delivered|get\s+to\s+you|be\s+there)\b(?P<rest>[^.!?;]{0,40})", re.IGNORECASE)


def done_and_arrives(t: TurnView) -> list[Candidate]:
    """"I've requested a paper statement and it should arrive in about a week"."""
    out: list[Candidate] = []
    if " and " not in t.agent:
        return out
    base = len(t.user)
    for m in _DONE_AND_ARRIVES.finditer(t.agent):
        what = _you(m.group("what"))
        then = re.sub(r"\s+", " ", m.group("then").lower())
        out.append(t.candidate(f"Agent promised {what} will {then} {_you(m.group('rest'))}"
                               .strip(), "commitment", None, 0.7, base + m.start()))
    return out


def resolve_it(before: str) -> str | None:
    """The thing the agent just did something with, to stand for a later "it"."""
    found = None
    for m in _DONE_THING.finditer(before):
        found = m
    if found is None:
        return None
    return re.sub(r"^your\b", "the caller's", found.group("what"), flags=re.IGNORECASE)


TASTE_RULES = (tastes, preferred_people, named_pets, standing_always, reach_and_days,
               linked_promises, done_and_arrives)
