"""Rules for habits said in a few words: "decaf for me always", "make it extra spicy".

Short standing orders and facts about the caller's life that the longer patterns miss:
an order said with "for me always", how to send paperwork ("all communication on email
only"), a strength or doneness ("make it extra spicy"), what the caller never eats, and "it's me
again, Nadia" as an introduction. (Working hours, "I work nights", are left to the
availability rules: on their own they say nothing about when to call.)
"""

from __future__ import annotations

import dataclasses
import re

from ._rules_common import ONE_OFF, TurnView, clean_object, sentences
from ._rules_people import agent_proper_nouns, is_common_word
from ._rules_preferences import availability, preferences
from ._rules_spoken import spoken_preferences
from ._select import Candidate
from ._text import third_person, title_name, word_set

__all__ = ["HABIT_RULES"]

_QUESTION = re.compile(
    r"^\s*(?:(?:so|and|um|uh|oh|hi|hello|yeah|please)\s+)*(?:do|does|did|is|are|can|could|would|"
    r"will|what|when|"
    r"which|how|where|should)\b", re.IGNORECASE)
# Words that can stand before "for me" without naming a thing the caller wants.
_NOT_AN_ORDER = word_set(
    """there here that this it them one good great nice fine ok okay easier better best
    worse enough too work works working done bad hard easy tough helpful been same""")
_FOR_ME_ALWAYS = re.compile(
    r"(?:^|\b(?:so|and|just|but|yeah|oh|always)\s+)(?P<obj>[a-z]+(?:\s+[a-z]+)?)\s+(?:for\s+(?:me|us)"
    r"\s+(?:always|every\s+time|each\s+time)|please\s+always|always\s+please)\b|\balways\s+(?P<obj2>[a-z]+)\s+for\s+(?:me|us)\b",
    re.IGNORECASE)
_METHODS = {"email": "email", "e-mail": "email", "mail": "letters by post",
            "post": "letters by post", "text": "text messages", "sms": "text messages",
            "whatsapp": "WhatsApp"}
_PAPERWORK_BY = re.compile(
    r"\b(?:send|all|any)\s+(?:all\s+|the\s+|my\s+)?(?:communications?|correspondence|updates|"
    r"bills|statements|letters|paperwork|invoices|reminders)\s+(?:only\s+)?(?:on|by|via|through|"
    r"over|to\s+my)\s+(?P<m>e-?mail|text|sms|post|mail|whatsapp)\b", re.IGNORECASE)
_TASTES = (r"spicy|mild|hot|strong|weak|sweet|dry|rare|medium(?:\s+rare)?|well\s+done|decaf|"
           r"iced|skinny|light|dark|crispy|thin|thick|large|small")
_MAKE_IT = re.compile(
    rf"\b(?:make|do|keep)\s+(?:it|them|mine)\s+(?P<obj>(?:extra\s+|really\s+|very\s+|nice\s+and\s+|"
    rf"super\s+)?(?:{_TASTES}))\b", re.IGNORECASE)
_DONT_EAT = re.compile(
    r"\b(?:i|we)\s+(?:don't|do\s+not|never|can't|cannot)\s+eat\s+(?P<food>[a-z]+"
    r"(?:\s+(?:or|and|nor)\s+[a-z]+)?)\b", re.IGNORECASE)
_NOT_A_FOOD = word_set(
    """much out after before anything anything late here there that it this a lot anymore them
    those these
    breakfast lunch dinner at in on right well enough too the with""")
_ME_AGAIN = re.compile(
    r"^(?:(?:hi|hiya|hello|hey|yeah|oh)\s+)*(?:it's|its|it\s+is)\s+(?:only\s+|just\s+)?me\s+"
    r"(?:again\s+)?(?P<name>[a-z][a-z'-]+)\b", re.IGNORECASE)


# "can you put a note on my account that I prefer letters": the wish inside the request.
_NOTE_THAT = re.compile(
    r"\b(?:put|make|add|leave|keep)\s+a\s+note\s+(?:on\s+(?:my|the|our)\s+(?:account|file|profile|"
    r"booking|record)\s+)?(?:that\s+)?(?P<rest>(?:i|we)\b[^.;!?]+)", re.IGNORECASE)
_DONT_CALL_AT = re.compile(
    r"\b(?:don't|do\s+not|never)\s+(?:ever\s+)?(?:call|ring|phone)\s+(?:me\s+)?(?P<obj>at\s+work|"
    r"at\s+the\s+office|at\s+home|on\s+my\s+(?:work|home|mobile|landline|cell)(?:\s+(?:number|"
    r"phone))?)\b", re.IGNORECASE)
_ARRANGED_FOR = re.compile(
    r"\bI(?:'ve|\s+have)\s+(?:arranged|organised|organized)\s+(?:for\s+)?"
    r"(?P<what>(?:a|an|the|your)\s+[^.!?;]{3,70})", re.IGNORECASE)
_WHEN_WORD = re.compile(
    r"\b(?:on|by|within|tomorrow|next|this\s+week|(?:mon|tues|wednes|thurs|fri|satur|sun)day|"
    r"the\s+\d{1,2}(?:st|nd|rd|th))\b", re.IGNORECASE)


def noted_wishes(t: TurnView) -> list[Candidate]:
    """A wish inside "make a note that ...", "don't call me at work", "I've arranged for"."""
    out: list[Candidate] = []
    for _, sentence in sentences(t.user):
        # Only a request ("can you make a note that ...") hides the wish from the other
        # rules, which skip questions; a plain statement was read already.
        if not (sentence.rstrip().endswith("?") or _QUESTION.match(sentence)):
            continue
        for m in _NOTE_THAT.finditer(sentence):
            # No question before it: the agent's last question is not what this answers.
            inner = dataclasses.replace(t, user=m.group("rest"), prev_agent="")
            for rule in (preferences, spoken_preferences, availability):
                out.extend(rule(inner))
    for m in _DONT_CALL_AT.finditer(t.user):
        obj = re.sub(r"\s+", " ", m.group("obj").lower())
        out.append(t.candidate(f"Do not call {third_person(obj)}", "preference", None, 0.75,
                               m.start()))
    base = len(t.user)
    for offset, sentence in sentences(t.agent):
        if sentence.rstrip().endswith("?"):
            continue
        for m in _ARRANGED_FOR.finditer(sentence):
            what = m.group("what").strip()
            if not _WHEN_WORD.search(what):
                continue
            what = re.sub(r"^your\b", "the caller's", what, flags=re.IGNORECASE)
            out.append(t.candidate(f"Agent arranged {what}", "commitment", None, 0.7,
                                   base + offset + m.start()))
    return out


def habits(t: TurnView) -> list[Candidate]:
    """"decaf for me always", "all communication on email", "make it extra spicy"."""
    out: list[Candidate] = []
    for offset, sentence in sentences(t.user):
        asked = sentence.rstrip().endswith("?") or bool(_QUESTION.match(sentence))
        for m in _PAPERWORK_BY.finditer(sentence):
            label = _METHODS[m.group("m").lower()]
            out.append(t.candidate(f"Prefers to be contacted by {label}", "preference",
                                   "preferred_contact_method", 0.75, offset + m.start()))
        if asked or ONE_OFF.search(sentence):
            continue
        for m in _FOR_ME_ALWAYS.finditer(sentence):
            obj = clean_object(m.group("obj") or m.group("obj2"))
            words = obj.split()
            if not words or any(w in _NOT_AN_ORDER for w in words) or is_common_word(words[-1]):
                continue
            out.append(t.candidate(f"Prefers {obj}", "preference", None, 0.7,
                                   offset + m.start()))
        for m in _MAKE_IT.finditer(sentence):
            obj = re.sub(r"\s+", " ", m.group("obj").lower())
            out.append(t.candidate(f"Prefers {obj}", "preference", None, 0.65,
                                   offset + m.start()))
        for m in _DONT_EAT.finditer(sentence):
            food = m.group("food").lower()
            if any(w in _NOT_A_FOOD for w in food.split()):
                continue
            # The same words as the diet rule, so two readings merge into one fact.
            out.append(t.candidate(f"Does not eat {food}", "preference", None, 0.7,
                                   offset + m.start()))
    again = _ME_AGAIN.match(t.user.strip())
    if again:
        name = again.group("name").lower()
        if name in agent_proper_nouns(t.agent) | {w.lower() for w in re.findall(
                r"\b[A-Z][a-z'-]+\b", t.agent)} and not is_common_word(name):
            out.append(t.candidate(f"Name is {title_name(name)}", "identity", "name", 0.75,
                                   again.start()))
    return out


# "Am I speaking with Mrs. Adeyemi?" — "yes that's me": the agent said the name.
_IS_IT_YOU = re.compile(
    r"\b(?i:am\s+i\s+(?:speaking|talking)\s+(?:with|to)|is\s+(?:this|that)|are\s+you|"
    r"have\s+i\s+got|do\s+i\s+have)\s+(?:(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+)?(?P<name>[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?)"
    r"\s*\?")
_YES_ME = re.compile(
    r"^(?:(?:oh|um|uh|hi|hello)\s+)*(?:yes|yeah|yep|yup|speaking|that's\s+me|thats\s+me|it\s+is|"
    r"that's\s+right|correct)\b(?!\s+(?:but|no)\b)", re.IGNORECASE)
_SURNAME_ONLY = re.compile(
    r"\b(?:surname|last\s+name|family\s+name)\s+(?:is|'s)\s+(?P<name>[a-z][a-z'-]{2,})\b", re.I)
_FIRST_NAME = re.compile(r"\bfirst\s+name\b", re.IGNORECASE)
# "I'll get that certificate sent out to you today", "I'll make sure the manager calls you".
_GET_IT_DONE = re.compile(
    r"\b(?:I'll|I\s+will|We'll|We\s+will)\s+get\s+(?P<what>(?:that|the|your|a|an)\s+[\w-]+"
    r"(?:\s+[\w-]+)?)\s+(?P<verb>sent|posted|emailed|mailed|delivered|fixed|sorted|booked|"
    r"ordered|replaced)\b(?P<rest>[^.!?;]{0,60})", re.IGNORECASE)
_MAKE_SURE = re.compile(
    r"\b(?:I'll|I\s+will|We'll|We\s+will)\s+make\s+sure\s+(?P<who>(?:the|our|a|your)\s+[\w-]+"
    r"(?:\s+[\w-]+)?|someone|somebody|(?!you\b|it\b|that\b|this\b|they\b|we\b|i\b)[a-z]+)\s+"
    r"(?P<verb>calls|rings|emails|contacts|texts|gets\s+back|phones|visits|checks|fixes|sends|"
    r"looks\s+at|sorts\s+out|cleans|replaces)\b(?P<rest>[^.!?;]{0,60})", re.IGNORECASE)


def _tidy(phrase: str) -> str:
    phrase = re.sub(r"\byour\b", "the caller's", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\b(?:to\s+)?you\b", "", phrase, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", phrase).strip(" ,")


def asked_names_and_promises(t: TurnView) -> list[Candidate]:
    """A name the agent asked about and the caller confirmed; two more shapes of promise."""
    out: list[Candidate] = []
    asked = _IS_IT_YOU.search(t.prev_agent)
    if asked and _YES_ME.match(t.user.strip()):
        words = asked.group("name").split()
        if not any(is_common_word(w.lower()) for w in words):
            out.append(t.candidate(f"Name is {' '.join(words)}", "identity", "name", 0.8, 0))
    surname = _SURNAME_ONLY.search(t.user)
    if surname and not _FIRST_NAME.search(t.user) and not is_common_word(surname.group("name")):
        out.append(t.candidate(f"Name is {title_name(surname.group('name'))}", "identity",
                               "name", 0.7, surname.start()))
    base = len(t.user)
    for offset, sentence in sentences(t.agent):
        if sentence.rstrip().endswith("?"):
            continue
        for m in _GET_IT_DONE.finditer(sentence):
            what = _tidy(m.group("what"))
            verb = m.group("verb").lower()
            text = f"Agent promised to get {what} {verb} {_tidy(m.group('rest'))}"
            out.append(t.candidate(text.strip(), "commitment", None, 0.7,
                                   base + offset + m.start()))
        for m in _MAKE_SURE.finditer(sentence):
            who = re.sub(r"^(?:our|your)\s+", "the ", m.group("who"), flags=re.IGNORECASE)
            verb = re.sub(r"(?<=x)es$|(?<=sh)es$|(?<=ch)es$|s$", "",
                          m.group("verb").lower().split()[0])
            verb = "get" if verb == "get" else verb
            tail = " ".join(m.group("verb").lower().split()[1:])
            text = f"Agent promised {who.lower()} will {verb} {tail} {_tidy(m.group('rest'))}"
            out.append(t.candidate(re.sub(r"\s+", " ", text).strip(), "commitment", None, 0.7,
                                   base + offset + m.start()))
    return out


HABIT_RULES = (habits, noted_wishes, asked_names_and_promises)
