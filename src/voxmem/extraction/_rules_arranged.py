"""What the agent arranged, said in few words: "next delivery Tuesday", "ready tomorrow",
"the team starts Monday".

Agents who have just set something up often state its when without a promise verb: a
noun and a day ("First delivery next Tuesday.", "Installation Monday at 8."), "ready"
and a day ("Another bag for Bella, ready tomorrow.", "Ready a week Friday."), or the
person or thing sent and a verb in the present tense ("The engineer arrives Thursday
morning.", "Your new card goes out today."). The promise rules need "will" or "I'll";
these read the short forms.

Guards: the agent's statements only (a question offers, see ``_rules_offers``), and the
when must name a day, a date or a clock time. The person sent must be one whose work is
for the caller (an engineer, a driver, the team); the thing must travel to the caller
(arrives, goes out, is dispatched). News is not a promise: "the sale starts Monday", "the
office reopens Tuesday" name no one sent and nothing sent.
"""

from __future__ import annotations

import re

from ._rules_agent import has_when
from ._rules_common import TurnView, sentences
from ._rules_offers import takes_offer
from ._select import Candidate

__all__ = ["ARRANGED_RULES"]

_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
# The when, from its first word: a day, today/tomorrow, "next"/"this" + a day or week,
# "the 12th", a clock time, "in two days", "a week Friday".
_WHEN = (rf"(?P<when>(?:(?:on|by|from|after|before|at)\s+)?(?:(?:next|this|a\s+week)\s+)?"
         rf"(?:{_DAY}|today|tomorrow|tonight|the\s+\d{{1,2}}(?:st|nd|rd|th)|\d{{1,2}}(?::\d\d)?"
         rf"\s*(?:am|pm)?|in\s+(?:a|an|one|two|three|four|five|\d+)\s+(?:days?|weeks?|hours?))"
         rf"(?:[^.;!?,](?!\s*and\s+(?:I|we|I'll|we'll)\b)){{0,40}})")
_LEAD = r"(?:^|[,;:]\s*|\b(?:and|so|then)\s+)"
_EVENTS = (r"delivery|redelivery|collection|pick-?up|installation|install|fitting|inspection|"
           r"service|viewing|survey|call\s*back|repair|engineer\s+visit|visit|session|"
           r"lesson|class|consultation|refill")
_EVENT_WHEN = re.compile(
    rf"{_LEAD}(?:(?:your|the|a)\s+)*(?P<event>(?:(?:first|next)\s+)?(?:{_EVENTS}))\s+"
    rf"(?:is\s+|will\s+be\s+|'s\s+)?(?:(?:booked|scheduled|set|confirmed|due)\s+)?"
    rf"(?:for\s+)?{_WHEN}", re.IGNORECASE)
# "A chocolate cake for Leo, ready Saturday at 10": the thing named before it.
_READY_WHEN = re.compile(
    rf"(?:^(?P<thing>(?:an?|the|your|another|one|\d+|two|three|four)\s+[^,.;!?]{{2,40}}),\s*|{_LEAD})"
    rf"(?:(?:it'll|it\s+will|they'll|they\s+will)\s+be\s+|it's\s+|they're\s+)?ready\s+"
    rf"{_WHEN}", re.IGNORECASE)
_SENT_ONE = (r"team|engineer|driver|fitter|technician|crew|plumber|electrician|installer|"
             r"courier|cleaner|nurse|builders?|tutor|surveyor|assessor|gardener|decorator|"
             r"locksmith|inspector|adviser|advisor|specialist|mechanic|carer|groomer|"
             r"chef|caterers?|photographer|instructor|therapist")
_THING = (r"(?:new\s+|replacement\s+)?[a-z]+(?:\s+(?!(?:will|should|would|can|may|might|"
          r"is|are)\b)[a-z]+)?")
_ON_THE_WAY = (
    re.compile(
        rf"{_LEAD}(?P<who>(?:the|your|our)\s+(?:{_SENT_ONE}))\s+(?P<verb>starts|arrives|comes|"
        rf"visits|calls|rings|is\s+coming|comes\s+(?:out|round|over)|is\s+due)\s+{_WHEN}",
        re.IGNORECASE),
    re.compile(
        rf"{_LEAD}(?P<who>(?:the|your)\s+{_THING})\s+(?P<verb>arrives?|goes\s+out|go\s+out|"
        rf"ships?|(?:is|are)\s+(?:dispatched|posted|delivered|sent))\s+{_WHEN}",
        re.IGNORECASE),
)
_EVENT_WORD = re.compile(_EVENTS)
_TRAVEL_WORD = re.compile(r"start|arriv|come|visit|call|ring|due|go|ship|dispatch|post|deliver|"
                          r"sent")
_BOOKABLE = re.compile(r"\b(?:session|lesson|class|visit|consultation|viewing|survey|fitting|"
                       r"service|inspection)\b")
_SAME_DAY = re.compile(r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening)|in\s+\w+\s+"
                       r"hours?)\b", re.IGNORECASE)
_NOT_SENT = re.compile(r"\b(?:sale|office|shop|store|offer|price|prices|rate|rates|season|"
                       r"branch|line|system|website|site)\b", re.IGNORECASE)


def _caller_side(phrase: str) -> str:
    phrase = re.sub(r"\byour\b", "the caller's", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\byou\b", "the caller", phrase, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", phrase).strip(" ,")


def arranged(t: TurnView) -> list[Candidate]:
    """The short forms in which the agent states the when of what it arranged."""
    out: list[Candidate] = []
    base = len(t.user)
    # The caller just took a slot the agent offered: that booking is read from the offer
    # (``_rules_offers``), and "first lesson next Tuesday at 5:30" only restates it.
    booked = bool(t.prev_agent) and has_when(t.prev_agent) and takes_offer(t.user)
    for offset, sentence in sentences(t.agent):
        if sentence.rstrip().endswith("?"):
            continue
        offset += len(sentence) - len(sentence.lstrip())
        sentence = sentence.strip()
        found: list[tuple[str, int]] = []
        low = sentence.lower()
        # Each pattern needs a word the sentence rarely has: test for it first (cheap).
        events = _EVENT_WORD.search(low) is not None
        for m in _EVENT_WHEN.finditer(sentence) if events else ():
            event = re.sub(r"\s+", " ", m.group("event").lower())
            if booked and _BOOKABLE.search(event):
                continue
            found.append((f"Agent arranged the {event} {m.group('when')}", m.start()))
        for m in _READY_WHEN.finditer(sentence) if "ready" in low else ():
            thing = m.group("thing")
            subject = f"{thing[:1].lower()}{thing[1:]} will" if thing else "it will"
            found.append((f"Agent promised {subject} be ready {m.group('when')}", m.start()))
        on_the_way = _TRAVEL_WORD.search(low) is not None
        for m in (m for pattern in _ON_THE_WAY if on_the_way
                  for m in pattern.finditer(sentence)):
            subject = m.group("who")
            if _NOT_SENT.search(subject):
                continue
            verb = m.group("verb").lower()
            found.append((f"Agent promised {subject.lower()} {verb} {m.group('when')}",
                          m.start()))
        for text, start in found:
            text = _caller_side(text.rstrip(" ,."))
            if _SAME_DAY.search(text):
                continue  # "ready after 4 today": over before the caller rings again
            if has_when(text):
                out.append(t.candidate(text, "commitment", None, 0.68, base + offset + start))
    return out


ARRANGED_RULES = (arranged,)
