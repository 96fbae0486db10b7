"""Bookings the agent states in the short shapes of a confirmation.

``_rules_agent`` reads the long shapes ("You're booked for Tuesday at 3:30 with Dr.
Chen"). Agents on a busy line more often confirm with the when alone, in one of a few
written shapes:

- the when first, the booking word last: "Monday 8:40 with Dr. Reyes is booked.";
- who or what is booked, then the when with no "for": "Pepper and Salt are booked
  Wednesday at 3 with Dr. Lin.", "Your appointment with the hygienist is now Thursday at 4";
- a booking verb with its object: "I've scheduled a callback for Wednesday at 2pm",
  "I've reserved a table for six at 8pm on Saturday", "booked Friday pick-up";
- an acknowledgement and the when: "Done, Fridays at 5 with Tom.", "Okay, Thursday at 3 it
  is.", "So that's Tuesday the 9th at 10am with Dr. Park", "Thanks Marek, Wednesday at 9".

The last shape carries no booking word, so it needs more evidence: a day or a date
*and* a clock time in digits, and nothing else in the sentence but who the booking is
with; and it is not an echo of a day the caller named in the same turn ("can we move it
to friday at 3" + "Done, Friday at 3pm." answers a request). Opening hours ("8 till 4 on
Sundays") and a time today ("5pm today") do not have that shape. A question is never a
booking.
"""

from __future__ import annotations

import re

from ._rules_agent import book_appointment
from ._rules_common import TurnView, sentences
from ._select import Candidate

__all__ = ["BOOKING_RULES"]

_DAY = (r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|the\s+\d{1,2}(?:st|nd|rd|th)|"
        r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\s+\d{1,2}(?:st|nd|rd|th)?)")
_CLOCK = (r"(?:\d{1,2}(?::\d\d)?\s*(?:am|pm)\b|(?:at\s+)?\d{1,2}(?::\d\d)?\b(?!\s*(?:%|pounds|"
          r"minutes|mins|hours|days|weeks|people|guests|kg|gb|nights?)\b)|noon|midday|"
          r"(?:first\s+thing\s+)?(?:in\s+the\s+)?(?:morning|afternoon|evening))")
# A visit window ("between 8 and 12") is a clock time too.
_WINDOW = r"between\s+\d{1,2}(?::\d\d)?\s*(?:am|pm)?\s+and\s+\d{1,2}(?::\d\d)?\s*(?:am|pm)?\b"
_DIGIT_CLOCK = (rf"(?:{_WINDOW}|\d{{1,2}}(?::\d\d)?\s*(?:am|pm)\b|(?:at\s+)?\d{{1,2}}(?::\d\d)?\b"
                r"(?!\s*(?:%|pounds|minutes|mins|hours|days|weeks|people|guests|kg|gb|nights?|and)\b))")
# Who the booking is with: "with Dr. Park", "with Tom", "with our hygienist Fiona".
_WITH = r"(?:\s*,?\s+with\s+(?:(?:Dr|Mr|Mrs|Ms|Miss)\.?\s+|our\s+\w+\s+)?[A-Z][\w'-]+)"
# A when with a day and a clock time in either order, with a little between them.
_WHEN_PAIR = (rf"(?:(?:on\s+)?{_DAY}(?:\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th))?,?\s+"
              rf"(?:at\s+)?{_CLOCK}"
              rf"|(?:at\s+)?{_CLOCK}\s*,?\s+(?:on\s+)?{_DAY})")
# With no booking word, only a clock time in digits will do ("Thursday afternoon." answers
# "when is your next free slot?").
_DIGIT_PAIR = (rf"(?:(?:on\s+)?{_DAY}(?:\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th))?,?\s+(?:at\s+)?"
               rf"{_DIGIT_CLOCK}|(?:at\s+)?{_DIGIT_CLOCK}\s*,?\s+(?:on\s+)?{_DAY})")
_ACK = (r"(?:(?:done|great|perfect|lovely|okay|ok|right|brilliant|excellent|super|fab|"
        r"all\s+set|sorted|that's\s+it|thanks|thank\s+you)(?:,?\s+(?-i:[A-Z][a-z]+))?[,!.:]?\s+)")

# "Done, Fridays at 5 with Tom." / "So that's Tuesday the 9th at 10am with Dr. Park." /
# "Okay, Thursday at 3 it is."
_BARE = re.compile(
    rf"^\s*(?:{_ACK}+|so\s+)?(?:(?:so\s+)?that's\s+(?:all\s+)?(?:(?:booked|arranged|set|"
    rf"confirmed)\s+)?(?:for\s+)?|(?:booked|confirmed|set)[,:]?\s+(?:for\s+)?|"
    rf"(?:weekly|every)\s+|(?:your\s+)?first\s+[a-z]+\s+(?:is\s+)?)?"
    rf"(?P<when>{_DIGIT_PAIR}(?:\s+(?:weekly|each\s+week|every\s+week))?"
    rf"{_WITH}?(?:\s+for\s+(?:two|three|four|five|six|\d+|(?-i:[A-Z][a-z]+)))?)"
    rf"(?:\s+it\s+is|\s+then)?\s*[.!;]?\s*$",
    re.IGNORECASE,
)
# "Monday 8:40 with Dr. Reyes is booked." / "Thursday at 2 is confirmed."
_WHEN_THEN_BOOKED = re.compile(
    rf"^\s*(?:{_ACK}+)?(?P<when>{_WHEN_PAIR}{_WITH}?)\s+(?:(?:is|are)\s+(?:now\s+|all\s+)?"
    rf"(?:booked|confirmed|reserved|arranged|yours)\b|booked\s*[.!]?\s*$)",
    re.IGNORECASE,
)
# "Pepper and Salt are booked Wednesday at 3 with Dr. Lin." / "Your appointment with the
# hygienist is now Thursday at 4" / "Booked with Anya Saturday at 11."
_BOOKED_THEN_WHEN = re.compile(
    rf"(?:\b(?:is|are)\s+(?:now\s+)?(?:booked|confirmed|scheduled|moved)(?:\s+in)?\s+(?:to\s+)?|"
    rf"\b(?:appointment|booking|session|visit|slot|lesson|class|reservation)"
    rf"(?:\s+with\s+(?:the\s+)?[\w.]+(?:\s+[A-Z][\w'-]+)?)?\s+is\s+now\s+(?:on\s+)?|"
    rf"^\s*(?:{_ACK}+)?booked(?:\s+in)?{_WITH}?,?\s+)"
    rf"(?P<when>{_WHEN_PAIR}{_WITH}?)",
    re.IGNORECASE,
)
# "Booked, patch test Friday at 2.", "Booked, a small car for Friday.", "You're in for
# Thursday at 6 with Gus.": a booking word, so a day alone will do.
_BOOKED_LEAD = re.compile(
    rf"^\s*(?:{_ACK}+)?(?:(?:booked|confirmed|reserved)(?:\s+in)?[,:]?\s+|you're\s+(?:in|down|"
    rf"pencilled\s+in|booked\s+in)\s+)(?:(?:a|an|the|your)\s+)?"
    rf"(?:(?P<what>[a-z][a-z -]{{1,30}}?(?:\s+with\s+(?:(?:Dr|Mr|Mrs|Ms)\.?\s+)?[A-Z][\w'-]+)?)"
    rf"\s*,?\s+)??"
    rf"(?:for\s+|on\s+)?(?P<when>{_DAY}(?:\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th))?"
    rf"(?:,?\s+(?:at\s+)?{_CLOCK})?{_WITH}?)\s*[.!;]?\s*$",
    re.IGNORECASE,
)
# "Engineer booked for Tuesday between 8 and 1.", "Table for four booked for Friday at 8.":
# what is booked, then its day, with no verb before it.
_NOUN_BOOKED = re.compile(
    rf"^\s*(?:{_ACK}+)?(?:(?:a|an|the|your)\s+)?(?P<what>[a-z][a-z -]{{1,30}}?)\s+"
    rf"(?<!\bis\s)(?<!\bare\s)(?:booked|confirmed|reserved|scheduled)(?:\s+in)?\s+(?:for\s+|on\s+)?"
    rf"(?P<when>{_DAY}(?:\s+(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th))?(?:,?\s+(?:at\s+)?"
    rf"(?:{_WINDOW}|{_CLOCK}))?{_WITH}?)\s*[.!;]?\s*$",
    re.IGNORECASE,
)
# "I've scheduled a callback for Wednesday at 2pm", "I've reserved a table for six at 8pm
# on Saturday", "booked Friday pick-up", "I've set up a delivery for Monday morning".
_VERB_OBJECT = re.compile(
    rf"\b(?:I(?:'ve|\s+have)\s+|we(?:'ve|\s+have)\s+|^\s*(?:{_ACK}+)?)"
    rf"(?:scheduled|reserved|arranged|booked|set\s+up|lined\s+up|pencilled\s+in)\s+"
    rf"(?:you\s+)?(?:(?P<what>(?:a|an|the|your)\s+(?:[\w-]+\s+){{0,2}}?[\w-]+?)\s+)?"
    rf"(?:(?:for|on)\s+(?:(?:two|three|four|five|six|seven|eight|\d+)\s+)?)?"
    rf"(?P<when>(?:at\s+)?{_CLOCK}\s+(?:on\s+)?{_DAY}|(?:on\s+)?{_DAY}(?:\s+(?:at\s+)?{_CLOCK})?)"
    rf"(?P<tail>\s+[a-z-]+(?:\s+[a-z-]+)?)?\s*[.!;]?\s*$",
    re.IGNORECASE,
)


# Every shape holds a day, a date or a time; most agent turns hold none and stop here.
_GUARD = re.compile(r"\d|day\b|days\b|\b(?:noon|midday|morning|afternoon|evening)\b",
                    re.IGNORECASE)


# Money is arranged, not booked: "a payment arrangement for the 15th" is the caller's promise.
_NOT_A_VISIT = re.compile(r"\b(?:payment|refund|direct\s+debit|instal?ments?|credit)\b",
                          re.IGNORECASE)


_DAY_WORD = re.compile(r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day", re.IGNORECASE)


def _bare(t: TurnView, text: str) -> re.Match[str] | None:
    """The acknowledgement shape, unless it echoes a day the caller named in this turn:
    "can we move it to friday at 3" + "Done, Friday at 3pm." answers the request (the
    labelled sets keep the caller's own words, not the echo, as what to remember)."""
    m = _BARE.match(text)
    if m is None:
        return None
    days = {d.lower() for d in _DAY_WORD.findall(m.group("when"))}
    if days & {d.lower() for d in _DAY_WORD.findall(t.user)}:
        return None
    return m


def _candidate(t: TurnView, when: str, offset: int, confidence: float) -> Candidate | None:
    when = re.sub(r"^at\s+", "", when.strip(" ,"), flags=re.IGNORECASE)
    return book_appointment(t, when, len(t.user) + offset, confidence)


def short_bookings(t: TurnView) -> list[Candidate]:
    """Bookings confirmed in a short written shape (see the module docstring)."""
    if not t.agent or not _GUARD.search(t.agent):
        return []
    out: list[Candidate] = []
    for offset, sentence in sentences(t.agent):
        text = sentence.strip()
        if text.endswith("?"):
            continue
        found: Candidate | None = None
        m = _WHEN_THEN_BOOKED.match(text) or _bare(t, text)
        if m:
            found = _candidate(t, m.group("when"), offset, 0.7)
        elif (lead := _BOOKED_LEAD.match(text)) or (
                (lead := _NOUN_BOOKED.match(text)) and not _NOT_A_VISIT.search(text)
                and not re.search(r"\b(?:is|are)\b", lead.group("what"), re.IGNORECASE)):
            what = (lead.group("what") or "").strip()
            found = _candidate(t, lead.group("when") + (f" ({what})" if what else ""), offset,
                               0.75)
        else:
            m = _BOOKED_THEN_WHEN.search(text)
            if m:
                found = _candidate(t, m.group("when"), offset, 0.75)
            else:
                v = _VERB_OBJECT.search(text)
                if v and not _NOT_A_VISIT.search(v.group(0)):
                    what = " ".join(p for p in ((v.group("what") or "").strip(),
                                                (v.group("tail") or "").strip()) if p)
                    when = v.group("when") + (f" ({what})" if what else "")
                    found = _candidate(t, when, offset, 0.75)
        if found is not None:
            out.append(found)
    return out


BOOKING_RULES = (short_bookings,)
