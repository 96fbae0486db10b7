"""Rules for standing instructions and the people, pets and slots callers name in passing.

Callers rarely say "I prefer". They give an instruction meant for every later visit
("from now on just leave parcels at the side door", "please don't use bleach"), name the
person they always book with ("I always see Priyanka"), answer with a bare time
("afternoons please"), or name a pet by its breed ("a spaniel called bramble"). The
agent's written reply helps tell a name from an ordinary word: a word it capitalises
mid-sentence and the caller said is a proper noun.
"""

from __future__ import annotations

import re

from ._rules_agent import book_appointment
from ._rules_common import ONE_OFF, TurnView, capture_phrase, clean_object, sentences, tidy_days
from ._rules_people import agent_proper_nouns, is_common_word
from ._select import Candidate
from ._text import title_name, word_set

__all__ = ["STANDING_RULES"]

_QUESTION = re.compile(
    r"^\s*(?:(?:so|and|um|uh|oh)\s+)*(?:do|does|did|is|are|can|could|would|will|what|when|"
    r"which|how|where|should)\b", re.IGNORECASE)
# Objects that point back into the conversation rather than name a thing.
_VAGUE = re.compile(r"^(?:it|that|this|them|those|these|one|anything|something|me|us|you)\b",
                    re.IGNORECASE)

# --- standing instructions ----------------------------------------------------------------

_ACTION = (r"leave|use|send|put|bring|deliver|knock|ring\s+the\s+bell|park|drop|bill|charge|"
           r"email|text|post|ship|cut|wrap|pack|address|keep|skip|call\s+(?:my|the)\s+\w+")
_FROM_NOW_ON = re.compile(
    r"\b(?:from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future|next\s+time\s+and\s+after)"
    r"\s*,?\s+(?:(?:please|just|can\s+you|could\s+you|always)\s+)*"
    rf"(?P<verb>{_ACTION})\s+(?P<obj>[^.;!?]+)", re.IGNORECASE)
_THEN_FROM_NOW_ON = re.compile(
    r"(?:^|\b(?:please|just|and|so|always|can\s+you|could\s+you|will\s+you)\s+)"
    rf"(?P<verb>{_ACTION})\s+(?P<obj>[a-z][^.;!?]*?)\s+"
    r"(?:from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future|every\s+time|each\s+time)\b",
    re.IGNORECASE)
_SAFE_PLACE = re.compile(
    r"\b(?:always|whenever\b[^.;!?]{0,60}?|if\s+(?:i'm|im|we're|i\s+am)\s+(?:out|not\s+(?:in|home|"
    r"there))[^.;!?]{0,20}?)\s+(?:just\s+)?(?P<verb>leave|put|drop)\s+(?P<obj>(?:it|them|parcels?|"
    r"packages?|deliveries|the\s+\w+)\s+(?:in|on|at|by|behind|under|with|inside|round|next\s+to)"
    r"\s+[^.;!?]+)", re.IGNORECASE)
_STOP_SENDING = re.compile(
    r"\b(?:please\s+)?(?:stop|no\s+more)\s+(?:sending|posting|mailing|emailing)\s+(?:me\s+|us\s+)?",
    re.IGNORECASE)
_CALL_MY = re.compile(
    r"\b(?:please\s+)?(?:call|ring|phone|try|use)\s+(?:me\s+on\s+)?my\s+(?P<what>mobile|cell|"
    r"landline|work\s+(?:number|phone|line)|home\s+(?:number|phone))\b(?!\s+(?:is|number|\+?\d))",
    re.IGNORECASE)
_DONT_DO = re.compile(
    r"\b(?:please\s+)?(?:don't|do\s+not|never)\s+(?:ever\s+)?(?P<verb>use|put|add|spray|leave|"
    r"park|bring|send)\s+(?P<obj>(?:any\s+)?[a-z][^.;!?]*)", re.IGNORECASE)
_NOT_ANYMORE = re.compile(
    r"\b(?:i|we)\s+(?:don't|do\s+not)\s+(?:want|need|drink|eat|use|take)\s+"
    r"(?P<obj>(?!to\b)(?:any\s+)?[a-z][a-z ]{2,40}?)\s+(?:anymore|any\s+more|ever\s+again|"
    r"from\s+now\s+on)\b", re.IGNORECASE)
_ONLY_PAY = re.compile(
    r"\b(?:i|we)\s+only\s+(?:pay|accept|do)\s+(?:in\s+|by\s+|with\s+)?(?P<obj>cash|cheques?|"
    r"checks?|card|bank\s+transfer|paypal|direct\s+debit)\b", re.IGNORECASE)
_LIKE_IT = re.compile(
    r"\b(?:i|we)\s+(?:like|prefer|want|need|(?:always|usually)\s+(?:have|take|get|order))\s+"
    r"(?:it|them|mine)\s+(?:cut\s+|done\s+|cooked\s+|made\s+|served\s+)?(?P<obj>(?:really\s+|quite\s+|"
    r"nice\s+and\s+|extra\s+|super\s+|very\s+|a\s+bit\s+|a\s+little\s+)?(?P<adj>[a-z]+))\b",
    re.IGNORECASE)
# "I like it when ...", "I like it here": not a way something should be done.
_NOT_ADJECTIVE = word_set(
    """when if because here there so a an the that this to and but or as now then too all
    done back up out over in on at there's lots much more better""")


_BY_CHANNEL = re.compile(r"\b(?:by|via)\s+(?:post|mail|e-?mail|text|phone|whatsapp)\b", re.I)


_CHANNEL_WORD = re.compile(r"\b(?:voicemails?|messages?|calls?|texts?|e-?mails?)\b", re.I)


def _phrase(text: str) -> str:
    return clean_object(capture_phrase(text, 0))


def standing_requests(t: TurnView) -> list[Candidate]:
    """Instructions for every later visit: "from now on leave it at the side door"."""
    out: list[Candidate] = []
    for offset, sentence in sentences(t.user):
        # "can you deliver them from now on" is a request, and a standing one.
        for pattern in (_FROM_NOW_ON, _THEN_FROM_NOW_ON, _SAFE_PLACE):
            for m in pattern.finditer(sentence):
                obj = _phrase(m.group("obj"))
                if not obj or ONE_OFF.search(obj) or len(obj.split()) > 9:
                    continue
                verb = re.sub(r"\s+", " ", m.group("verb").lower())
                if verb in ("email", "text", "post") or _BY_CHANNEL.search(obj):
                    continue  # how to reach the caller: the contact-method rules say it
                out.append(t.candidate(f"Asks to {verb} {obj}", "preference", None, 0.7,
                                       offset + m.start()))
        for m in _STOP_SENDING.finditer(sentence):
            obj = clean_object(capture_phrase(sentence, m.end()))
            if obj and not _VAGUE.match(obj) and len(obj.split()) <= 6:
                out.append(t.candidate(f"Does not want {obj}", "preference", None, 0.7,
                                       offset + m.start()))
        for m in _CALL_MY.finditer(sentence):
            what = re.sub(r"\s+", " ", m.group("what").lower())
            out.append(t.candidate(f"Prefers to be called on their {what}", "preference", None,
                                   0.7, offset + m.start()))
        if sentence.rstrip().endswith("?") or _QUESTION.match(sentence):
            continue
        for m in _DONT_DO.finditer(sentence):
            obj = _phrase(m.group("obj"))
            if not obj or _VAGUE.match(obj) or ONE_OFF.search(obj) or len(obj.split()) > 8:
                continue
            if _CHANNEL_WORD.search(obj):
                continue
            out.append(t.candidate(f"Asks not to {m.group('verb').lower()} {obj}", "preference",
                                   None, 0.7, offset + m.start()))
        for m in _NOT_ANYMORE.finditer(sentence):
            obj = clean_object(m.group("obj"))
            if obj and not _VAGUE.match(obj):
                out.append(t.candidate(f"Does not want {obj} anymore", "preference", None, 0.7,
                                       offset + m.start()))
        for m in _ONLY_PAY.finditer(sentence):
            out.append(t.candidate(f"Pays only by {m.group('obj').lower()}", "preference", None,
                                   0.75, offset + m.start()))
        for m in _LIKE_IT.finditer(sentence):
            if (m.group("adj").lower() in _NOT_ADJECTIVE or is_common_word(m.group("adj"))
                    or ONE_OFF.search(sentence)):
                continue
            obj = clean_object(m.group("obj"))
            # Worded like the other preference rules so a second reading merges with it.
            out.append(t.candidate(f"Prefers {obj}", "preference", None, 0.65,
                                   offset + m.start()))
    return out


# --- a named person or a bare time --------------------------------------------------------

_ALWAYS_SEE = re.compile(
    r"\b(?:i|we)\s+(?:always|only|usually|normally)\s+(?P<verb>see|go\s+to|go\s+with|book\s+with|"
    r"ask\s+for|request|have|get|let|want|use)\s+(?P<name>[a-z][a-z'-]+)\b", re.IGNORECASE)
_ALWAYS_THEM = re.compile(
    r"\b(?:i|we)\s+(?:always|only|usually|normally)\s+(?:see|go\s+to|go\s+with|book\s+with|"
    r"ask\s+for|have|get|want|use)\s+(?:her|him|them)\b", re.IGNORECASE)
_SAME_PERSON = re.compile(
    r"\bsame\s+(?P<what>[a-z]+)\s+as\s+(?:last\s+time|before|usual)\s*,?\s+(?P<name>[a-z][a-z'-]+)",
    re.IGNORECASE)
_PARTS = (r"mornings|afternoons|evenings|nights|weekends|weekdays|"
          r"(?:mon|tues|wednes|thurs|fri|satur|sun)days")
_BARE_TIME = re.compile(
    rf"(?:^|\b(?:so|and|just|but|yeah|ok)\s+)(?P<obj>(?:weekday\s+|weekend\s+|early\s+|late\s+)?"
    rf"(?:{_PARTS})(?:\s+(?:before|after)\s+[\w:]+(?:\s*[ap]m)?)?|(?:after|before)\s+(?:school|work))"
    r"\s+(?:please|only|preferably|"
    r"ideally|if\s+possible|if\s+you\s+can|suit\s+me\s+(?:best|better)|are\s+(?:better|best)\s+"
    r"for\s+me)\b", re.IGNORECASE)


_SPEAKER_OF = re.compile(
    r"\b(?:someone|somebody|anyone|anybody|an\s+agent|a\s+person)\s+(?:who|that)\s+"
    r"(?:speaks|can\s+speak)\s+(?P<lang>spanish|french|german|italian|portuguese|polish|"
    r"mandarin|cantonese|arabic|hindi|urdu|punjabi|russian|vietnamese|korean|japanese|tagalog|"
    r"turkish|ukrainian|romanian|greek|somali|farsi|tamil|gujarati|bengali)\b", re.IGNORECASE)


# A capitalised word followed by a lower-case word it describes ("Extra cheese.", "Window
# table for two.") starts a noun phrase; a name is followed by a verb or a stop.
_WRITTEN_WORD = re.compile(
    r"\b[A-Z][a-z'-]+\b(?:(?<='s)|(?=[,.!?:;]|$|\s+(?:[A-Z]|has|is|isn't|can|can't|will|would|does|was|"
    r"and|it|at|on|for|with|will|said|says|from|who|to|here|there|too|again|then|no)\b))")


def _names_written(agent: str) -> frozenset[str]:
    # Also a capitalised word that starts a sentence ("Dmitri has Thursday free"), unless
    # it is an everyday word; the caller must have said it after "I always see" too.
    # "Marco's free at 3": the name without the possessive.
    return agent_proper_nouns(agent) | frozenset(
        w.lower().removesuffix("'s") for w in _WRITTEN_WORD.findall(agent)
        if not is_common_word(w.lower()))


_NOT_ON = re.compile(
    rf"\b(?:but\s+)?not\s+(?:on\s+)?(?:a\s+)?(?P<obj>weekends?|weekdays|mornings|evenings|{_PARTS}|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)days)\b(?!\s+(?:is|are|would|works?)\b)",
    re.IGNORECASE)
# "we'd like fresh flowers for reception every week": a standing order.
_LIKE_EVERY = re.compile(
    r"\b(?:(?:we'd|i'd|we\s+would|i\s+would|we|i)\s+(?:like|want|need)|(?:can|could)\s+you\s+"
    r"(?:add|send|deliver|bring|do))\s+"
    r"(?P<obj>(?!to\b)[a-z][a-z ]{2,50}?)\s+(?P<freq>every\s+(?:other\s+)?(?:week|month|day|"
    r"fortnight|morning|(?:mon|tues|wednes|thurs|fri|satur|sun)day)|each\s+(?:week|month)|"
    r"once\s+a\s+(?:week|month)|twice\s+a\s+(?:week|month))\b",
    re.IGNORECASE)


def named_preferences(t: TurnView) -> list[Candidate]:
    """"I always see Priyanka", "the same driver as last time, Ahmed", "afternoons please"."""
    out: list[Candidate] = []
    # Asked as a question, but the caller is saying which language they need.
    for m in _SPEAKER_OF.finditer(t.user):
        out.append(t.candidate(f"Prefers to speak {m.group('lang').capitalize()}", "preference",
                               "language", 0.75, m.start()))
    confirmed = _names_written(t.agent) | _names_written(t.prev_agent)
    for offset, sentence in sentences(t.user):
        # "can you send the same driver as last time, Ahmed?" is a request that counts.
        asked = sentence.rstrip().endswith("?") or bool(_QUESTION.match(sentence))
        for m in _ALWAYS_SEE.finditer(sentence):
            name = m.group("name").lower()
            if name in confirmed and not is_common_word(name):
                out.append(t.candidate(f"Prefers {title_name(name)} (always asks for them)",
                                       "preference", None, 0.75, offset + m.start()))
        for m in _ALWAYS_THEM.finditer(sentence):
            # "book with jess again ... i only go to her": the person named before.
            # Any word the agent writes as a name, said before the pronoun.
            named = [w.lower() for w in re.findall(r"[a-z][a-z'-]+", t.user[:offset + m.start()],
                                                   re.IGNORECASE)]
            named = [n for n in named if n in confirmed and not is_common_word(n)]
            if named:
                out.append(t.candidate(f"Prefers {title_name(named[-1])} (always asks for them)",
                                       "preference", None, 0.75, offset + m.start()))
        for m in _SAME_PERSON.finditer(sentence):
            name = m.group("name").lower()
            if name in confirmed and not is_common_word(name):
                what = m.group("what").lower()
                out.append(t.candidate(
                    f"Prefers the same {what} as last time ({title_name(name)})", "preference",
                    None, 0.8, offset + m.start()))
        for m in _NOT_ON.finditer(sentence):
            obj = m.group("obj").lower()
            if obj == "weekend":
                obj = "weekends"
            if asked or ONE_OFF.search(sentence) or not obj.endswith("s"):
                continue
            out.append(t.candidate(tidy_days(f"Not available on {obj}"), "availability",
                                   "preferred_time", 0.7, offset + m.start(), negative=True))
        for m in _LIKE_EVERY.finditer(sentence):
            obj = clean_object(m.group("obj"))
            if not obj or _VAGUE.match(obj) or ONE_OFF.search(sentence):
                continue
            freq = re.sub(r"\s+", " ", m.group("freq").lower())
            out.append(t.candidate(tidy_days(f"Wants {obj} {freq}"), "need", None, 0.7,
                                   offset + m.start()))
        for m in _BARE_TIME.finditer(sentence):
            obj = m.group("obj").lower()
            if asked or ONE_OFF.search(sentence):
                continue
            out.append(t.candidate(tidy_days(f"Prefers {obj}"), "availability", "preferred_time",
                                   0.7, offset + m.start()))
    return out


# --- pets named by breed, names given under a booking ------------------------------------

_BREEDS = {
    "spaniel": "dog", "cocker": "dog", "labrador": "dog", "lab": "dog", "poodle": "dog",
    "terrier": "dog", "collie": "dog", "retriever": "dog", "shepherd": "dog", "beagle": "dog",
    "pug": "dog", "dachshund": "dog", "husky": "dog", "bulldog": "dog", "greyhound": "dog",
    "whippet": "dog", "schnauzer": "dog", "corgi": "dog", "chihuahua": "dog", "doodle": "dog",
    "labradoodle": "dog", "cockapoo": "dog", "cavapoo": "dog", "staffie": "dog",
    "boxer": "dog", "rottweiler": "dog", "puppy": "dog", "pup": "dog", "dog": "dog",
    "kitten": "cat", "tabby": "cat", "cat": "cat", "budgie": "bird", "parrot": "parrot",
    "cockatiel": "bird", "hamster": "hamster", "tortoise": "tortoise", "turtle": "turtle",
    "gecko": "lizard", "lizard": "lizard", "ferret": "ferret", "pony": "pony",
    "horse": "horse", "rabbit": "rabbit", "bunny": "rabbit", "guinea pig": "guinea pig",
}
_BREED = "|".join(sorted(_BREEDS, key=len, reverse=True))
_PET_CALLED = re.compile(
    rf"\b(?:i've\s+got|i\s+have|we\s+have|we've\s+got|got|i\s+own|we\s+own|my|our)\s+"
    rf"(?:an?\s+)?(?:(?:little|old|young|big|rescue|black|white|brown|golden|german|"
    rf"\w+-year-old)\s+)*(?P<breed>{_BREED})\s+(?:(?:called|named|(?:who's|he's|she's|hes|shes)"
    rf"\s+called)\s+(?P<name>[a-z][a-z'-]+)|(?P<bare>[a-z][a-z'-]+))", re.IGNORECASE)
_UNDER_SURNAME = re.compile(
    r"\bunder\s+(?:the\s+)?(?:sur|last\s+|family\s+)?name\s+(?:of\s+)?(?P<name>[a-z][a-z'-]+"
    r"(?:\s+[a-z][a-z'-]+)?)", re.IGNORECASE)


_UNDER_WRITTEN = re.compile(r"\bunder\s+(?P<name>[a-z][a-z'-]+)\s*$", re.IGNORECASE)


def pets_and_names(t: TurnView) -> list[Candidate]:
    """"a spaniel called bramble", "my poodle coco", "booking under the surname wexley"."""
    out: list[Candidate] = []
    confirmed = agent_proper_nouns(t.agent)
    for m in _PET_CALLED.finditer(t.user):
        name = (m.group("name") or m.group("bare")).lower()
        if is_common_word(name) or (m.group("bare") and name not in confirmed):
            continue  # "my dog needs ..." has no name; a bare word must be confirmed
        breed = m.group("breed").lower()
        species = _BREEDS[breed]
        extra = f" ({breed})" if breed != species else ""
        conf = 0.8 if name in confirmed or m.group("name") else 0.6
        out.append(t.candidate(f"Has a {species} named {title_name(name)}{extra}", "note", None,
                               conf, m.start()))
    for m in _UNDER_WRITTEN.finditer(t.user):
        name = m.group("name").lower()
        if name in _names_written(t.agent) and not is_common_word(name):
            out.append(t.candidate(f"Name is {title_name(name)}", "identity", "name", 0.7,
                                   m.start()))
    for m in _UNDER_SURNAME.finditer(t.user):
        words = [w for w in m.group("name").split() if not is_common_word(w)]
        if words and m.group("name").split()[0] == words[0]:
            name = " ".join(words[:2])
            out.append(t.candidate(f"Name is {title_name(name)}", "identity", "name", 0.75,
                                   m.start()))
    return out


# --- bookings the agent confirmed in other words ------------------------------------------

_CONFIRMED = re.compile(
    r"(?:^|(?<=[.!]\s))(?:(?:Great|Perfect|Lovely|Okay|Ok|Done|Right)[,!.]?\s+)?"
    r"(?:(?:You're\s+|You\s+are\s+|That's\s+you\s+)?all\s+set|Locked\s+in|Confirmed|"
    r"(?:you're|you\s+are)\s+down\s+for|I've\s+put\s+you\s+down\s+for|"
    r"That's\s+you\s+(?:booked\s+)?in|I've\s+pencil+ed\s+you\s+in|I've\s+(?:moved|changed|"
    r"rescheduled)\s+(?:you|it|your\s+\w+)|(?:Moved|Rescheduled)|We\s+can\s+take\s+"
    r"(?:the\s+)?[A-Z]?\w+)\s*(?:[,:]\s*|\s+)(?:for\s+|on\s+|to\s+)?(?P<when>(?:[^.!?]|"
    r"(?<=Dr)\.|(?<=Mr)\.|(?<=Mrs)\.|(?<=Ms)\.){4,90})", re.IGNORECASE)


_WHEN_START = re.compile(
    r"(?:(?:for|on|to)\s+)?(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|today|tomorrow|"
    r"\d{1,2}(?::\d\d|\s*[ap]m)|"
    r"the\s+\d{1,2}(?:st|nd|rd|th)\b|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d)", re.IGNORECASE)


def confirmed_bookings(t: TurnView) -> list[Candidate]:
    """"All set, Monday at 2pm with Dr. Lindqvist", "I've pencilled you in for Wednesday"."""
    out: list[Candidate] = []
    base = len(t.user)
    for offset, sentence in sentences(t.agent):
        if sentence.rstrip().endswith("?"):
            continue
        for m in _CONFIRMED.finditer(sentence.strip()):
            if not _WHEN_START.match(m.group("when")):
                continue  # "I've moved you to the 4pm flight" is not a visit
            c = book_appointment(t, m.group("when"), base + offset + m.start(), 0.75)
            if c is not None:
                out.append(c)
    return out


_WILL_BE_SENT = re.compile(
    r"\b(?P<what>(?:your|the|a|an)\s+(?:new\s+|replacement\s+|updated\s+)?[\w-]+"
    r"(?:\s+[\w-]+)?)\s+will\s+be\s+(?P<verb>posted|sent|mailed|emailed|delivered|shipped|"
    r"dispatched|couriered|fitted|installed|collected|picked\s+up|refunded|credited|repaired|"
    r"replaced|processed|issued|applied|returned)\b(?P<rest>[^.!?;]{0,60})", re.IGNORECASE)
_WHEN_WORD = re.compile(
    r"\b(?:by|within|on|tomorrow|next|in\s+\d|in\s+(?:a|two|three)|this\s+week|end\s+of|"
    r"\d+\s+(?:working\s+|business\s+)?days?|(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b",
    re.IGNORECASE)


def promised_deliveries(t: TurnView) -> list[Candidate]:
    """"Your new parking permit will be posted to you within 10 days"."""
    out: list[Candidate] = []
    base = len(t.user)
    for offset, sentence in sentences(t.agent):
        if sentence.rstrip().endswith("?"):
            continue
        for m in _WILL_BE_SENT.finditer(sentence):
            if not _WHEN_WORD.search(m.group("rest")):
                continue  # "your card will be replaced" with no when is a policy, not a plan
            what = re.sub(r"^your\b", "the caller's", m.group("what"), flags=re.IGNORECASE)
            rest = re.sub(r"\bto\s+you\b\s*", "", m.group("rest")).strip(" ,")
            text = f"Agent promised {what.lower()} will be {m.group('verb').lower()} {rest}"
            out.append(t.candidate(text.strip(), "commitment", None, 0.7,
                                   base + offset + m.start()))
    return out


STANDING_RULES = (standing_requests, named_preferences, pets_and_names, confirmed_bookings,
                  promised_deliveries)
