"""Rules over the agent's words: what it booked and what it promised.

The agent's side of a call is written text (capitals, punctuation), and it is where a
call's outcome is stated: "You're booked for Tuesday May 6th at 3:30 with Dr. Chen",
"An adjuster will call you by Wednesday", "It'll be ready tomorrow after 2pm". A slot
the agent offered ("I have Monday at 10 with Dr. Singh") counts once the caller accepts
it in the next turn.
"""

from __future__ import annotations

import dataclasses
import re

from ._rules_common import TurnView, is_time, sentences
from ._rules_tastes import resolve_it
from ._select import Candidate

__all__ = ["AGENT_RULES", "JOIN_ONLY", "RECURS", "book_appointment", "extra_commitment",
           "has_when"]

#: Confidence of a promise that only says when the promise before it happens ("it should
#: arrive Thursday"); the caller joins it to that promise or drops it.
JOIN_ONLY = 0.66

_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_WHEN = re.compile(
    rf"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|today|tomorrow|tonight|{_MONTHS}\s+\d|"
    rf"\d{{1,2}}(?::\d\d)?\s*(?:am|pm)|\bat\s+\d{{1,2}}(?::\d\d)?\b|the\s+\d{{1,2}}(?:st|nd|rd|th))",
    re.IGNORECASE,
)
_BOOKED = re.compile(
    r"(?:\byou(?:'re|\s+are)\s+(?:booked|confirmed|scheduled)\s+(?:in\s+)?|"
    r"\byou've\s+been\s+booked\s+|\bI(?:'ve|\s+have)\s+booked\s+(?P<what>[^.!?]{0,40}?)"
    r"(?=\s+(?:for|on|at|with|next|this|tomorrow|today)\b)|^Booked(?::|\s+for\b|\s+)|"
    r"\bI(?:'ve|\s+have)\s+(?:got|put)\s+you\s+(?:down|in|booked)\s+for\s+|"
    r"\bbring\s+(?:it|him|her|them)\s+in\s+(?=(?:on\s+)?[A-Z][a-z]+day\b)|"
    r"\b[Ss]ee\s+you\s+(?=(?:on\s+)?(?:[A-Z][a-z]+day\b|the\s+\d))|"
    r"\bWe'll\s+see\s+(?:you|(?P<who>[A-Z][a-z]+))\s+(?=(?:on\s+)?(?:today|tomorrow|"
    r"[A-Z][a-z]+day)\b)|"
    r"\b(?:your|the)\s+(?:first\s+)?(?:appointment|check-?up|session|visit|class|slot|"
    r"reservation|booking)\s+is\s+|"
    # "Ollie is booked in for Friday at 10", "That's confirmed for Tuesday at 9:15",
    # "Your installation is scheduled for the 22nd"
    r"\b(?:(?P<pet>[A-Z][a-z]+)|he|she|they|that|it|your\s+[a-z]+|the\s+[a-z]+)(?:'s|\s+is|\s+are)"
    r"\s+(?:all\s+|now\s+)?(?:booked|confirmed|scheduled)\s+(?:in\s+)?(?=(?:for|on|at)\s))"
    r"\s*(?P<when>(?:[^.!?]|(?<=Dr)\.|(?<=Mr)\.|(?<=Mrs)\.|(?<=Ms)\.|(?<=St)\.){4,90})",
    re.IGNORECASE,
)
_OFFER = re.compile(
    r"^(?:(?:Okay|Ok|Sure|Great|Thanks)[,!.]?\s+)?(?:I\s+have|I've\s+got|I\s+can\s+do|We\s+can\s+"
    r"(?:do|see\s+(?:you|\w+)|send\s+(?:an?|our|the|someone)(?:\s+[a-z]+)?)|"
    r"(?:Our|An?|The)\s+[a-z]+\s+can\s+(?:come|visit|be\s+there|pop\s+round|come\s+out)|"
    r"(?:Dr\.?|Doctor)\s+\w+\s+(?:has|can\s+see\s+\w+)|[A-Z][a-z]+\s+has|"
    r"How\s+about|We\s+have)\s+(?P<when>(?:[^.!?]|(?<=Dr)\.|(?<=Mr)\.|(?<=Mrs)\.|(?<=Ms)\.){4,80})",
)
_ACCEPT = re.compile(
    r"^(?:(?:oh|ok|okay|yeah|yes|yep|sure|great|perfect|lovely|brilliant|fine|that's|thats|"
    r"that|sounds|works|go|on|then|good|is|fine|book|me|it|in|please|thanks|ta|cheers|do|"
    r"for|\d+|at|one|the|first|that's|thats|grand|alright|excellent|ideal|yup|absolutely|"
    r"definitely|take|i'll|ill|have|lets|let's|works|suits|tuesday|monday|wednesday|thursday|friday|saturday|sunday|tomorrow|"
    r"morning|afternoon|evening|pm|am|eleven|ten|nine|four)[\s,.!]*){1,8}$",
    re.IGNORECASE,
)
_WHEN_TAIL = re.compile(
    r"\s*(?:[-,;]\s*)?(?:does\s+that\s+work|is\s+that\s+ok(?:ay)?|would\s+that\s+work|"
    r"works?\s+for\s+you|if\s+that\s+suits|for\s+you)\b.*$", re.IGNORECASE)


_WITH_FIRST = re.compile(
    r"^(?P<with>with\s+(?:(?:Dr|Mr|Mrs|Ms)\.?\s+)?[A-Z][\w'-]+)\s*,?\s+(?:for\s+|on\s+)?",
    re.IGNORECASE)
# "I can book you with Dr. Alvarez. You're booked Tuesday at 8:30": who, said apart.
_WITH_TITLED = re.compile(r"\bwith\s+(?P<who>(?:Dr|Doctor|Nurse|Dentist)\.?\s+[A-Z][\w'-]+)")


def has_when(text: str) -> bool:
    """Whether ``text`` names a day or a clock time."""
    return bool(_WHEN.search(text))


def book_appointment(
    t: TurnView, when: str, offset: int, confidence: float
) -> Candidate | None:
    """An appointment fact for ``when`` ("Tuesday May 6th at 3:30 with Dr. Chen").

    None when ``when`` names no day or time.
    """
    when = _WHEN_TAIL.sub("", when).strip(" ,:")
    # "See you Saturday, Jaden.": the caller addressed by name, not part of the when.
    when = re.sub(r",\s+(?-i:[A-Z][a-z]+)$", "", when)
    when = re.sub(r"^(?:for|on)\s+", "", when, flags=re.IGNORECASE)
    # "Booked with Jess for Saturday at 10:30" → "Saturday at 10:30 with Jess".
    lead = _WITH_FIRST.match(when)
    if lead:
        when = f"{when[lead.end():]} {lead.group('with')}"
    if not _WHEN.search(when) or len(when.split()) > 16 or re.match(
            r"(?:that|it|this|those|them)\b", when, re.IGNORECASE):
        return None
    return t.candidate(f"Appointment booked for {when}", "commitment", "appointment",
                       confidence, offset)


def appointments(t: TurnView) -> list[Candidate]:
    """Bookings the agent confirmed, or offered and the caller took."""
    out: list[Candidate] = []
    base = len(t.user)
    for offset, sentence in sentences(t.agent):
        if sentence.rstrip().endswith("?"):
            continue
        for m in _BOOKED.finditer(sentence):
            what = (m.group("what") or m.group("who") or m.group("pet") or "").strip()
            when = m.group("when")
            if what and what.lower() not in ("you", "you in", "it", "that"):
                when = f"{when} ({what})"
            c = book_appointment(t, when, base + offset + m.start(), 0.8)
            if c is not None:
                out.append(c)
    if t.prev_agent and _ACCEPT.match(t.user.strip()):
        for _, sentence in sentences(t.prev_agent):
            offer = _OFFER.match(sentence.strip())
            if offer:
                c = book_appointment(t, offer.group("when"), 0, 0.7)
                if c is not None:
                    out.append(c)
    who = _WITH_TITLED.search(t.agent)
    if who:
        out = [c if " with " in c.text else dataclasses.replace(
            c, text=f"{c.text} with {who.group('who')}") for c in out]
    return out


# --- promises the main commitment rule does not cover ------------------------------------

_WHO = (
    # "Priyanka from our network team": the person's name is what a later call asks for.
    r"(?P<who>(?:[A-Z][a-z]+\s+(?:from|in|at)\s+)?(?:(?:a|an|the|our|your)\s+)?"
    r"(?:[\w-]+\s+){0,2}?(?:adjuster|assessor|"
    r"estimator|crew|vet|doctor|nurse|officer|engineer|technician|specialist|team|manager|"
    r"courier|driver|inspector|agent|advisor|adviser|representative|rep|department|"
    r"maintenance|billing|support|desk|someone|somebody|card|replacement|refund|permit|"
    r"pack|form|forms|letter|statement|router|kit|coordinator|receptionist|surveyor|valuer|"
    r"consultant|planner|caseworker|handler|pharmacist|dentist|hygienist|optician|tutor|"
    r"teacher|instructor|stylist|groomer|solicitor|accountant|broker|underwriter|clerk|"
    r"dispatcher|fitter|mechanic|locksmith|inspector)|"
    r"(?:Mr|Mrs|Ms|Dr|Miss)\.?\s+[A-Z][a-z]+|[A-Z][a-z]+(?:,\s+[A-Z][a-z]+,)?)"
)
_WILL = re.compile(
    rf"\b{_WHO}\s+will\s+(?P<verb>call|phone|ring|contact|email|text|visit|come\s+out|"
    rf"come\s+back|come\s+round|come\s+by|be\s+round|be\s+over|pop\s+round|pop\s+by|drop\s+by|"
    rf"come|be\s+there|be\s+with\s+you|be\s+in\s+touch|reach\s+out|get\s+back|"
    rf"return|follow\s+up|arrive|review|send|deliver|look\s+at|remote\s+in|be\s+out)\b"
    rf"(?P<rest>(?:[^.!?;]|(?<=Dr)\.|(?<=Mr)\.|(?<=Mrs)\.|(?<=Ms)\.){{0,80}})",
    re.IGNORECASE,
)
_READY = re.compile(
    r"\b(?:it'll|it\s+will|it\s+should|they'll|they\s+should|that'll|your\s+[\w\s]{2,20}?\s+will|"
    r"we'll\s+have\s+(?:it|them|the\s+[\w\s-]{2,20}?|your\s+[\w\s-]{2,20}?)|I'll\s+have\s+"
    r"(?:it|them))\s+(?:be\s+)?(?P<state>ready|done|back(?:\s+to\s+you)?|finished|fixed|sorted|"
    r"there|filed|delivered|(?<!be\s)arrive|(?<!be\s)reach\s+you)\b(?P<rest>[^.!?;]{0,60})",
    re.IGNORECASE,
)
_I_WILL = re.compile(
    r"\b(?:I'll|I\s+will|We'll|We\s+will)\s+(?:also\s+|now\s+|just\s+)?(?P<verb>open|apply|"
    r"waive|post|book|reserve|bring|arrange|file|submit|hold|prepare|schedule|set\s+up|"
    r"sort(?:\s+out)?|"
    r"put(?=\s+an?\s)|"
    r"send|have\s+[\w\s]{2,20}?\s+(?:review|call|check|look\s+at|email|contact))\b"
    r"(?P<rest>(?:[^.!?;]|(?<=Dr)\.|(?<=Mr)\.|(?<=Mrs)\.|(?<=Ms)\.){0,80})",
    re.IGNORECASE,
)
# Done on the spot, not later: "I'll send one up right away", "I'll note that".
_IMMEDIATE = re.compile(
    r"\b(?:right\s+away|right\s+now|straight\s+away|in\s+a\s+moment|in\s+a\s+minute|"
    r"shortly|now)\s*$|\b(?:note|notes|noted)\b", re.IGNORECASE)
_TIME_OR_WHAT = re.compile(r"\w{3,}")
_BOOK_WHEN = re.compile(r"\b(?:from|on|for)\s+the\s+\d|\bon\s+the\s+day\b|"
                        r"\b(?:next|every|each)\s+\w+|\btomorrow\b|\b\d{1,2}(?:st|nd|rd|th)\b",
                        re.IGNORECASE)
# A when that is not a clock time: "within 5 working days", "in 7 to 10 days".
_SOON = re.compile(r"\b(?:tomorrow|today|by|within|next)\b|\bin\s+(?:\d+|a|an|one|two|three|"
                   r"a\s+few)\b[^.!?;]{0,20}?\b(?:days?|weeks?|hours?)\b", re.IGNORECASE)


_GET_SOMEONE = re.compile(
    r"\b(?:I'll|I\s+will|We'll|We\s+will)\s+(?:get|have|ask)\s+(?P<who>someone|somebody|"
    r"(?:a|an|the|our)\s+[\w-]+(?:\s+[\w-]+)?(?:\s+(?:Dr|Mr|Mrs|Ms)\.?\s+[A-Z][\w'-]+|"
    r",\s+[A-Z][\w'-]+,)?|(?:(?:Dr|Mr|Mrs|Ms)\.?\s+)?[A-Z][a-z'-]+(?:,[^,.!?]{3,40},)?)\s+"
    r"(?P<how>(?:to\s+)?(?:ring|call|phone|"
    r"come|visit|email|text|contact|look|pop|drop)\b[^.!?;]{0,60}|(?:round|out|over|there)"
    r"\b[^.!?;]{0,60})", re.IGNORECASE)
# "I'll have the VAT return drafted and sent over by the 20th", "I'll have two bags of
# the renal diet ready on Thursday": something readied for the caller by a time.
_HAVE_DONE = re.compile(
    r"\b(?:I'll|I\s+will|We'll|We\s+will)\s+have\s+(?P<what>(?:the|your|a|an|two|three|\d+)"
    r"\s+[^.!?;]{2,50}?)\s+(?P<state>ready|done|sent(?:\s+over)?|drafted|fixed|finished|"
    r"delivered|printed|prepared|sorted|repaired|posted)\b(?P<rest>[^.!?;]{0,50})",
    re.IGNORECASE)
_EXPECT = re.compile(
    r"\b(?:Expect|You'll\s+get|You\s+will\s+get)\s+(?:a\s+|an\s+)?(?P<what>call|email|text|"
    r"visit|letter)\s+from\s+(?P<rest>[^.!?;]{3,60})|\byou'll\s+hear\s+(?:back\s+)?from\s+"
    r"(?:us|me|them|(?:the|our|your)\s+[\w-]+(?:\s+[\w-]+)?)\s+(?P<when>[^.!?;]{3,40})",
    re.IGNORECASE)


def _tidy(phrase: str) -> str:
    phrase = re.sub(r"\byour\b", "the caller's", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\byou\b", "the caller", phrase, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", phrase).strip(" ,")


def extra_commitment(sentence: str, before: str = "") -> list[tuple[str, int, float]]:
    """``(fact text, offset, confidence)`` for promises in one agent sentence.

    ``before`` is the agent's text before the sentence: "it" in "it'll be back on your card
    in 5 days" stands for what the agent has just done ("I've processed the refund").
    """
    out: list[tuple[str, int, float]] = []
    # _WILL needs "will": a substring test skips its costly scan in most sentences.
    for m in _WILL.finditer(sentence) if "will" in sentence.lower() else ():
        rest = m.group("rest")
        if _IMMEDIATE.search(rest) or m.group("who").lower() in ("it", "that", "this"):
            continue
        who = re.sub(r"(^|\b(?:from|in|at)\s+)(?:our|your)\s+", r"\1the ", m.group("who").strip(),
                     flags=re.I)
        who = re.sub(r"^(A|An|The)\b", lambda a: a.group(1).lower(), who)
        who = re.sub(r",\s+([A-Z][a-z]+),", r" \1", who)
        if who.lower() == "one":
            # "I've blocked the card and a new one will arrive ...": one is a card
            thing = resolve_it(before + " " + sentence[: m.start()])
            if thing is None:
                continue
            who = f"a new {thing.split()[-1]}"
        text = f"Agent promised {who} will {m.group('verb').lower()} {_tidy(rest)}"
        out.append((text.rstrip(" ."), m.start(), 0.75))
    for m in _READY.finditer(sentence):
        rest = m.group("rest")
        if not (is_time(rest) or _SOON.search(rest)):
            continue
        subject = "it"
        if re.match(r"(?:it|that|they)\b", m.group(0), re.IGNORECASE):
            subject = resolve_it(before + " " + sentence[: m.start()]) or "it"
        state = m.group("state").lower()
        verb = state if state in ("arrive", "reach you") else f"be {state}"
        text = f"Agent promised {subject} will {_tidy(verb)} {_tidy(rest)}"
        # "it should ...", "it'll arrive ...": only as the when of the promise before it
        weak = verb == state or "should" in m.group(0).lower()
        out.append((text.rstrip(" ."), m.start(), JOIN_ONLY if weak else 0.7))
    for m in _GET_SOMEONE.finditer(sentence):
        who = re.sub(r"^our\s+", "the ", m.group("who"), flags=re.IGNORECASE)
        how = re.sub(r"^to\s+", "", m.group("how").strip())
        if re.match(r"(?:round|out|over|there)\b", how, re.IGNORECASE):
            # "we'll get someone out": the visit is the promise, not "someone will out"
            text = f"Agent promised to get {who} {_tidy(how)}"
        else:
            text = f"Agent promised {who} will {_tidy(how)}"
        out.append((text.rstrip(" ."), m.start(), 0.7))
    for m in _HAVE_DONE.finditer(sentence):
        rest = m.group("rest")
        if not (is_time(rest) or re.search(r"\b(?:by|within|next|on)\b", rest)):
            continue  # "I'll have it done" with no when is a reassurance
        what = re.sub(r"^your\b", "the caller's", m.group("what").strip(), flags=re.I)
        text = f"Agent promised to have {what} {m.group('state').lower()} {_tidy(rest)}"
        out.append((text.rstrip(" ."), m.start(), 0.7))
    for m in _EXPECT.finditer(sentence):
        if m.group("what"):
            text = f"Agent promised a {m.group('what')} from {_tidy(m.group('rest'))}"
        else:
            text = f"Agent promised the caller will hear back {_tidy(m.group('when'))}"
        out.append((text.rstrip(" ."), m.start(), 0.7))
    for m in _I_WILL.finditer(sentence):
        rest = m.group("rest")
        if _IMMEDIATE.search(rest) or len(_TIME_OR_WHAT.findall(rest)) < 1 or re.fullmatch(
                r"\s*(?:that|it|this|them|those|out|that\s+out|it\s+out|one|a\s+new\s+one)\s*"
                r"(?:for\s+you)?\s*",
                rest, re.IGNORECASE):
            continue
        verb = re.sub(r"\s+", " ", m.group("verb").lower())
        if verb in ("book", "reserve", "bring") and not (is_time(rest) or _BOOK_WHEN.search(rest)):
            continue  # "I'll book a female vet": done in the call; a booking says when
        out.append((f"Agent promised to {verb} {_tidy(rest)}".rstrip(" ."), m.start(), 0.7))
    return out


# "I've set you up for four bottles every second Tuesday": a recurring order the agent
# arranged is a standing need of the caller's.
_SET_UP = re.compile(
    r"\b(?:I've|I\s+have|We've|We\s+have|I'll|We'll)\s+(?:set\s+you\s+up\s+(?:for|with)|"
    r"put\s+you\s+down\s+for|set\s+up|arranged|reserve|book)\s+(?P<what>[^.!?;]{4,80})",
    re.IGNORECASE)
RECURS = re.compile(
    r"\b(?:every\s+(?:other\s+|second\s+)?(?:\w+\s+)?(?:day|week|month|year|fortnight|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day)s?|each\s+(?:week|month|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day)|weekly|monthly|fortnightly)\b",
    re.IGNORECASE)


def arranged_needs(t: TurnView) -> list[Candidate]:
    """A standing order the agent set up for the caller."""
    out: list[Candidate] = []
    base = len(t.user)
    for offset, sentence in sentences(t.agent):
        for m in _SET_UP.finditer(sentence):
            # "..., first delivery next Tuesday": the when of the first one is a promise of
            # its own (``_rules_arranged``), not part of the standing order.
            what = re.sub(r",\s+(?:the\s+)?(?:first|next)\s+\w+\s+.*$", "",
                          m.group("what").strip())
            if not RECURS.search(what):
                continue
            what = re.sub(r"\byour\b", "the caller's", what, flags=re.IGNORECASE)
            out.append(t.candidate(f"Regularly gets {what}", "need", None, 0.65,
                                   base + offset + m.start()))
    return out


AGENT_RULES = (appointments, arranged_needs)
