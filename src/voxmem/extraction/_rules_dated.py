"""Dated confirmations: the agent's plain statement of when something will happen.

The booking and promise rules read frames: a booking word, a future verb, a subject they
can put in the third person. Many confirmations carry none of these and still say what
the caller will get and when, because the *when* is the point: "Four at 7 on Friday.",
"Thursday at 2 is free. Booked.", "Saturdays at 10 with Ben, starting this Saturday.",
"Our fitter Amir can measure on Tuesday at 11.", "Your membership will end on the 30th.",
"They'll go out on Saturday morning."

What these share is not a phrase but a shape: a statement (not a question, not an offer,
not a condition) by the agent that names a day or a date after the call, in a turn where
no rule read a promise or a booking. Such a sentence becomes one commitment, worded as
the agent said it with the caller in the third person ("Agent confirmed: four at 7 on
Friday"). A sentence about the business rather than the caller (opening hours, prices, a
closure, a timetable of "Mondays"), about this call ("today", "tonight", "in ten
minutes"), about the past, a hedge ("should", "might") or an echo of the day the caller
just named with nothing added is not one: it is news, volatile or the caller's own wish.
After the whole call is read, :func:`settle` drops the ones the call does not bear out.

Hand-written rather than learned: the training calls hold too few of these sentences
(tens) for a classifier over words to tell a confirmation from a timetable, while the
day/date shape and the exclusions below are few and explicit.
"""

from __future__ import annotations

import re

from ._rules_common import TurnView, sentences
from ._select import Candidate
from ._text import word_set

__all__ = ["LABEL", "dated_confirmations", "settle"]

#: How these facts begin: what :func:`settle` recognises.
LABEL = "Agent confirmed: "

# A day or a date after the call: a weekday, "the 9th", "March 3rd", "next week".
_DAY = re.compile(
    r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|weekend|"
    r"the\s+\d{1,2}(?:st|nd|rd|th)\b|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\s+\d{1,2}(?:st|nd|rd|th)?\b|"
    r"\d{1,2}(?:st|nd|rd|th)\s+of\s+[a-z]+|next\s+(?:week|month))",
    re.IGNORECASE)
# Questions, offers and conditions are not yet agreed; a business's timetable, a price, a
# closure or an event of the past is not a promise to this caller; "today" and "tonight"
# are over before the memory would be read.
_NOT_CONFIRMED = re.compile(
    r"\b(?:if|unless|whether|would\s+you|do\s+you|does\s+that|is\s+that|shall\s+i|should\s+i|"
    r"can\s+i|could\s+i|want\s+me\s+to|how\s+about|what\s+about|or|"
    r"(?-i:may)|might|could|hopefully|probably|maybe|"
    r"open|opens|closed|closes|shut|reopen|reopens|until|till|hours|sale|starts|rise|"
    r"cost|costs|price|prices|pounds|dollars|euros|fee|"
    # what the caller must do is theirs to keep, not the business's
    r"need\s+to|needs\s+to|have\s+to|has\s+to|must|bring|"
    r"was|were|had|did|came|received|arrived|happened|last\s+(?:week|month|year|time)|ago|yesterday|should|plan|"
    r"today|tonight|this\s+(?:morning|afternoon|evening)|right\s+now|minutes?|"
    r"every|each|usually|always|normally|only|due\s+back|renewed)\b|[$£€]\d",
    re.IGNORECASE)
_ACK = re.compile(
    r"^(?:(?:done|great|perfect|lovely|okay|ok|right|brilliant|excellent|sorted|sure|"
    r"no\s+problem|of\s+course|thanks|thank\s+you|got\s+it|cheers)"
    # a name after the thanks, but not the day itself: "Thanks, Monday at 9 ..."
    r"(?:,?\s+(?!(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day)(?-i:[A-Z][\w'-]+))?"
    r"[,!.:]?\s+)+", re.IGNORECASE)
_CLOCK = re.compile(r"\b\d{1,2}(?::\d\d)?\s*(?:am|pm)?\b(?!\s*(?:st|nd|rd|th)\b)", re.IGNORECASE)
# A plural day with no single one is a timetable ("we have places on Mondays"), unless
# something starts on it ("from", "starting").
_PLURAL_DAY = re.compile(r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)days\b", re.IGNORECASE)
_SINGLE_DAY = re.compile(r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day\b(?!s)|the\s+\d|"
                         r"from|starting)", re.IGNORECASE)
_BARE_IT = re.compile(r"(?:yes,?\s+|sorry,?\s+)*(?:it|it'll|it's|a\s+new\s+one|one)\b",
                      re.IGNORECASE)
# A stretch with two ends ("a travel notice from the 3rd to the 17th", "paused from the 1st
# to the 15th") is over when it ends: a hold, a trip, a pause.
_RANGE = re.compile(r"\b(?:from|between)\s+(?:the\s+)?\d{1,2}(?:st|nd|rd|th)?\s+"
                    r"(?:to|until|till|and)\s+(?:the\s+)?\d", re.IGNORECASE)
# "So you have your scan on Friday": the agent reads back what the caller already has.
_RECAP = re.compile(r"^(?:so\s+)?you\s+(?:have|'ve\s+got|already)\b", re.IGNORECASE)
_MOVED = re.compile(r"\b(?:move|moved|change|swap|switch|reschedule|push)\b", re.IGNORECASE)
#: Longest sentence read: a long one mixes the when with other news.
_MAX_WORDS = 16


def _caller(phrase: str) -> str:
    # The fact is read back to the agent of a later call: "you" is the caller.
    phrase = re.sub(r"\byour\b", "the caller's", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\byou\b", "the caller", phrase, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", phrase).strip(" ,.")


def dated_confirmations(t: TurnView) -> list[Candidate]:
    """The agent's dated statements in ``t`` (called only where no promise or booking
    rule read a commitment from the agent's words of the turn)."""
    if not t.agent or not _DAY.search(t.agent):
        return []
    base = len(t.user)  # the agent spoke after the caller
    out: list[Candidate] = []
    for offset, sentence in sentences(t.agent):
        text = sentence.strip()
        if (text.endswith("?") or "[redacted" in text or not _DAY.search(text)
                or _NOT_CONFIRMED.search(text) or len(text.split()) > _MAX_WORDS):
            continue
        day = _day_key(text)
        if _MOVED.search(t.user):
            # "can we move Thursday's to Friday at 3" + "Done, Friday at 3pm.": a one-off
            # change the booking rules weigh; this reading would only repeat it.
            continue
        if day in t.user.lower() and not _CLOCK.search(text):
            # "Saturday it is." takes up the caller's own day: their wish, which the wish
            # rules read; a booking says more than the day the caller named.
            continue
        if _RANGE.search(text) or _RECAP.match(_ACK.sub("", text)):
            continue
        if _BARE_IT.match(_ACK.sub("", text)):
            # "It will be with you by Friday": what "it" is, the sentence does not say;
            # the promise rules resolve it from the call where they can.
            continue
        if _PLURAL_DAY.search(text) and not _SINGLE_DAY.search(text):
            continue
        text = _ACK.sub("", text).rstrip(" .!;")
        if len(text.split()) < 2:
            continue
        said = _caller(text[0].lower() + text[1:])
        out.append(t.candidate(LABEL + said, "commitment", None, 0.55,
                               base + offset))
    return out


def _day_key(text: str) -> str:
    # The day a sentence names, as a lower-case key: "thursday", "the 9th", "next week".
    m = _DAY.search(text)
    key = m.group(0).lower() if m else ""
    return key[:-1] if key.endswith("days") else key


# The caller's next words turn the agent's when down or change it.
_TAKEN_BACK = re.compile(
    r"^\W*(?:(?:um|uh|er|oh|hmm)\W+)*(?:no\b|nah\b|nope\b|actually\b|sorry\b|wait\b|"
    r"hang\s+on|hold\s+on|can\s+(?:we|it|i)\b|could\s+(?:we|it|i)\b|what\s+about|how\s+about|"
    r"is\s+there|anything\b|i\s+can't|i\s+cannot|that\s+doesn't|that's\s+no\s+good|not\s+)",
    re.IGNORECASE)
# The caller asked what is free: the agent's when answers a question until it is taken.
_ASKS_WHEN = re.compile(
    # speech-to-text drops the apostrophe: "whens the adult swim on"
    r"^\W*(?:(?:um|uh|er|oh|hi|hello|yeah|so)\W+)*(?:when(?:'?s)?|what\s+(?:time|day)s?|which|"
    r"(?:do|are|is|have)\s+(?:you|there|they))\b|\?\s*$", re.IGNORECASE)
_TAKES_IT = re.compile(
    r"^\W*(?:(?:um|uh|er|oh|hmm)\W+)*(?:yes|yeah|yep|yup|ok|okay|great|perfect|lovely|fine|"
    r"sure|brilliant|go\s+on|book|that\s+works|that's\s+(?:fine|great|perfect)|sounds)\b",
    re.IGNORECASE)


def _day_keys(text: str) -> list[str]:
    # Every day the sentence names: "Wednesday the 4th" is also "the 4th".
    keys = [m.group(0).lower() for m in _DAY.finditer(text)]
    return [k[:-1] if k.endswith("days") else k for k in keys]


def settle(candidates: list[Candidate], users: list[str]) -> list[Candidate]:
    """Keep the dated confirmations the call bears out; ``users`` holds the caller's
    words of each turn.

    Dropped: one whose days a fuller dated confirmation of the call also names (the
    same arrangement said twice); one whose day another commitment or recurring need of
    the call already
    names (an offer the caller then took, "Jess has Saturday at 11." then "Booked,
    Saturday at 11 with Jess.", is one booking, worded better by the rule that read the
    acceptance); one the caller's next words turn down or change ("no sorry, thursday");
    and an answer to the caller's question about what is free that the caller's next
    words do not take up. (An offer the caller does not answer, "Tom has Friday at 10."
    at the end of a call, is kept: on the training calls, requiring a "yes" after every
    offer cost as many right facts as wrong ones.)
    """
    others = [c.text.lower() for c in candidates
              if c.kind in ("commitment", "need") and not c.text.startswith(LABEL)]
    # "Anna can start on the 3rd." then "Great, Anna from the 3rd.": one arrangement, said
    # twice; the fuller sentence is kept.
    dated = [c for c in candidates if c.text.startswith(LABEL)]
    kept = []
    for c in candidates:
        if c.text.startswith(LABEL):
            turn = c.position[0]
            after = users[turn + 1] if turn + 1 < len(users) else ""
            days = _day_keys(c.text)
            fuller = any(o is not c and len(o.text) > len(c.text)
                         and days and all(d in _day_keys(o.text) for d in days) for o in dated)
            if (fuller or any(d in o for d in days for o in others) or _TAKEN_BACK.search(after)
                    or (_ASKS_WHEN.search(users[turn]) and not _TAKES_IT.search(after))):
                continue
        kept.append(c)
    return [c for c in kept if not _restated_booking(c, kept)]


_CLOCK = re.compile(r"\b\d{1,2}(?::\d\d)?\s*(?:am|pm)?\b", re.IGNORECASE)
# The words a commitment's wording adds around what was agreed.
_FRAME = re.compile(r"^(?:agent\s+(?:promised|confirmed|arranged|is\s+arranging)|"
                    r"appointment\s+booked)\s*(?:to|for|:)?\s*", re.IGNORECASE)
_WORDS = re.compile(r"[a-z0-9:']+")
_GENERIC = word_set("""the a an for on at to with is be will caller caller's their of
book booked booking in""")


def _restated_booking(c: Candidate, kept: list[Candidate]) -> bool:
    # "Appointment booked for Monday" beside "Agent promised to book the caller for 7:30
    # on Monday", read from the same words by two rules, or the booking and its summary:
    # a commitment whose every word another, fuller one of the call also says is the
    # same arrangement said twice.
    if c.kind != "commitment" or not (_day_keys(c.text) or _CLOCK.search(c.text)):
        return False
    words = _said(c)
    # Strictly fewer words: two wordings of the same words are merged by the selection.
    return bool(words) and any(o is not c and o.kind == "commitment" and words < _said(o)
                               for o in kept)


def _said(c: Candidate) -> set[str]:
    return set(_WORDS.findall(_FRAME.sub("", c.text.lower()))) - _GENERIC
