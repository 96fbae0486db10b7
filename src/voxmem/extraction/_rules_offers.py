"""Offers the agent put as a question and the caller took.

Agents often offer in one short question and let the caller's "yes" close it: a slot
("Wednesday at 10?", "Pickup Friday 9am?", "How about Thursday at 2 with Dr. Ray?") or a
deed ("Shall I hold two loaves for Saturday?", "Would you like me to email you the
quote?"). Neither is stated again, so the booking or the promise lives only in the pair:
the question, and a reply whose first clause takes it ("wednesday's good", "yes
saturday", "fine", "go on then, and ...").

The question must offer one thing. One that asks the caller to choose or to say ("What
day suits?", "Monday or Tuesday?", "Do you want Friday?") offers nothing, and a reply
that refuses or bargains anywhere in its first clause ("not friday", "friday's no good",
"can we do later") takes nothing. A standing order asked about again ("Same again this
Saturday?") is the caller's habit, not a booking.
"""

from __future__ import annotations

import re

from ._rules_agent import book_appointment, has_when
from ._rules_common import TurnView, sentences
from ._select import Candidate

__all__ = ["OFFER_RULES", "takes_offer"]

_NOT_A_SLOT = (r"(?!(?i:what|when|which|where|who|why|how|do|does|did|can|could|are|have|any|"
               r"same|usual|the\s+usual|shall|should|would|want|will|is|was)\b)")
_BODY = r"(?:[^.!?]|(?<=Dr)\.|(?<=Mr)\.|(?<=Mrs)\.|(?<=Ms)\.)"
_SLOT_QUESTION = re.compile(
    r"^(?:(?:Okay|Ok|Sure|Great|Right|So|Then|And|Lovely|Perfect)[,!.]?\s+)?"
    r"(?i:(?:how|what)\s+about\s+|shall\s+we\s+say\s+)?"
    rf"(?P<when>{_NOT_A_SLOT}{_BODY}{{4,60}})\?$")
# The deeds an agent offers to do for the caller.
_DEED = (r"(?:send|email|e-mail|text|call|ring|phone|book|hold|reserve|order|arrange|post|"
         r"put|set|add|note|cancel|refund|schedule|pencil|keep|save|leave|get|have|pop)")
_DEED_QUESTION = re.compile(
    r"^(?:(?:Okay|Ok|Sure|Great|Right|So|And|Lovely|Perfect)[,!.]?\s+)?"
    r"(?:Shall\s+I|Should\s+I|(?:Do|Would)\s+you\s+(?:like|want)\s+me\s+to|Want\s+me\s+to|"
    rf"Can\s+I|Could\s+I)\s+(?P<verb>{_DEED})\s+(?P<rest>{_BODY}{{3,70}})\?$",
    re.IGNORECASE)

# A slot offered as a statement: "We can come today between 2 and 4.", "I can do 10am
# with Ms. Grant starting this Saturday.", "Our fitter can pop round Friday morning."
_SLOT_STATEMENT = re.compile(
    r"^(?:(?:Okay|Ok|Sure|Great|Right|So|Lovely|Perfect)[,!.]?\s+)?"
    r"(?:I|We|(?:Our|An?|The)\s+[a-z]+|[A-Z][a-z]+)\s+(?:can|could)\s+"
    r"(?:come(?:\s+(?:out|round|over|by))?|do|see\s+(?:you|him|her|them|\w+)|"
    r"fit\s+(?:you|him|her|them|\w+)\s+in|be\s+(?:there|with\s+you|round)|"
    r"pop\s+(?:round|over|in|by)|visit|deliver|collect)\s+"
    rf"(?P<when>{_BODY}{{4,70}})[.!]?$")
# A deed with no when is a promise only when something reaches the caller later.
_SENT = frozenset({"send", "email", "e-mail", "text", "call", "ring", "phone", "post"})
_PRONOUN_OBJECT = re.compile(r"(?:it|that|this|them|those|one)\b", re.IGNORECASE)
# "Tuesday at 3 work?": the words that ask whether the slot suits.
_ASKS_IF_OK = re.compile(r"\s+(?:work|works|suit|suits|ok|okay|good|alright|any\s+good|"
                         r"for\s+you|then)$", re.IGNORECASE)
# A first clause that takes what was offered: "wednesday's good", "yes saturday", "fine",
# "do thursday", "tomorrow fine, just leave it with ...".
_TAKES = re.compile(
    r"^(?:(?:oh|ok|okay|yeah|yes|yep|yup|aye|sure|great|perfect|lovely|brilliant|fine|grand|"
    r"cool|sound|sick|ideal|excellent|alright|go\s+on|please|do|book|that|that's|thats|it|"
    r"sounds|works|good|suits|then|(?:mon|tues|wednes|thurs|fri|satur|sun)day(?:'s|\s+is)?|"
    r"tomorrow(?:'s|\s+is)?|today(?:'s|\s+is)?|\d+(?::\d\d)?(?:am|pm)?(?:'s|\s+is)?|"
    r"at|the|one|for|me|us|in|it's|its|is|that'll|thanks|ta|cheers)\b[\s,.!]*){1,6}"
    r"(?:$|(?<=[,.;!])|\s*[,.;!]|\s+(?:and|but|so|just)\b)",
    re.IGNORECASE)
_TAKE_WORD = re.compile(
    r"\b(?:yes|yeah|yep|yup|aye|ok|okay|sure|great|perfect|lovely|brilliant|fine|grand|cool|"
    r"sound|sick|ideal|excellent|alright|good|works|suits|go\s+on|book|do|please)\b",
    re.IGNORECASE)
_REFUSES = re.compile(
    r"\b(?:no|not|nope|never|busy|rather|instead|other|else|later|earlier|but)\b|n't\b",
    re.IGNORECASE)


def takes_offer(reply: str) -> bool:
    """Whether the caller's reply takes what was just offered (and refuses nothing)."""
    m = _TAKES.match(reply.strip())
    return bool(m and _TAKE_WORD.search(m.group(0)) and not _REFUSES.search(m.group(0)))


def _third_person(phrase: str) -> str:
    phrase = re.sub(r"\byour\b", "the caller's", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\b(?:you|u)\b", "the caller", phrase, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", phrase).strip(" ,")


def taken_offers(t: TurnView) -> list[Candidate]:
    """A slot or a deed the agent offered as a question that the caller's reply takes."""
    if not t.prev_agent or not takes_offer(t.user):
        return []
    out: list[Candidate] = []
    for _, sentence in sentences(t.prev_agent):
        sentence = sentence.strip()
        if " or " in sentence:
            continue
        if not sentence.endswith("?"):
            offered = _SLOT_STATEMENT.match(sentence)
            if offered and has_when(offered.group("when")):
                c = book_appointment(t, offered.group("when"), 0, 0.7)
                out.extend([c] if c is not None else [])
            continue
        deed = _DEED_QUESTION.match(sentence)
        if deed:
            verb = deed.group("verb").lower()
            if not has_when(deed.group("rest")) and (
                    verb not in _SENT or _PRONOUN_OBJECT.match(deed.group("rest"))):
                continue  # "Shall I add it to your policy?" is done in the call
            if verb in ("book", "pencil", "put", "reserve", "schedule"):
                # "Shall I book Wednesday at 2?": the slot, as any other booking.
                booked = book_appointment(t, re.sub(r"^(?:you|u)\s+(?:in\s+)?(?:for\s+)?", "",
                                                    deed.group("rest")), 0, 0.7)
                out.extend([booked] if booked is not None else [])
                continue
            rest = _third_person(deed.group("rest"))
            # "Shall I send you ...": the caller is the one it is sent to.
            rest = re.sub(r"^the caller\s+(?=\S)", "", rest)
            out.append(t.candidate(f"Agent promised to {verb} {rest}",
                                   "commitment", None, 0.7, 0))
            continue
        slot = _SLOT_QUESTION.match(sentence)
        if slot and has_when(slot.group("when")):
            c = book_appointment(t, _ASKS_IF_OK.sub("", slot.group("when")), 0, 0.7)
            if c is not None:
                out.append(c)
    return out


OFFER_RULES = (taken_offers,)
