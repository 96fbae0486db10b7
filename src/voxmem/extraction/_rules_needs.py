"""Rules for constraints, recurring needs and other durable notes (plan, a move, pets).

A constraint is something the caller cannot do or must have ("I don't drive", "I can't
go over $50 a month", "I'll need a step-free entrance"); a need is something they ask
for again and again ("I always order two large pepperoni", "every month I need toner").
"""

from __future__ import annotations

import re

from ._rules_common import (
    ONE_OFF,
    TurnView,
    capture_phrase,
    clean_object,
    is_time,
    sentence_case,
    sentences,
)
from ._select import Candidate
from ._text import third_person

__all__ = ["NEED_RULES"]

# --- constraints -------------------------------------------------------------------------

_CANT = re.compile(
    r"\b(?:i|we)\s+(?:can't|cannot|can\s+not|am\s+unable\s+to|'m\s+unable\s+to|"
    r"am\s+not\s+able\s+to)\s+(?P<verb>go\s+over|spend\s+more\s+than|pay\s+more\s+than|"
    r"afford|climb|do|use|take|drive|walk|travel|eat|have|work|read|stand(?=\s+(?:up|for|very|long)\b)|lift|"
    r"carry|"
    r"be\s+reached|answer|get\s+to)\s+",
    re.IGNORECASE,
)
# "I can't do this / hear you / get in": about the call, not the caller.
_CANT_VOLATILE = re.compile(
    r"^(?:this|that|it|you|them|anything|much|any\s+more|anymore|right\s+now|now|today|"
    r"tomorrow|the\s+app|the\s+website|online|in|into|through|a\s+thing)\b",
    re.IGNORECASE,
)
_DONT = re.compile(
    r"\b(?:i|we)\s+(?:don't|do\s+not|no\s+longer)\s+(?P<what>drive|own\s+a\s+car|have\s+a\s+car|"
    r"have\s+a\s+smartphone|have\s+a\s+computer|have\s+internet|have\s+wifi|have\s+email|"
    r"use\s+email|use\s+a\s+computer|use\s+the\s+internet|do\s+online|read\s+english|"
    r"speak\s+english|drink(?!\s+(?!alcohol\b|at\s+all\b|anymore\b|any\s+more\b|or\b|and\b|"
    r"so\b|but\b|because\b|i\b)[a-z])|smoke|have\s+a\s+landline)\b",
    re.IGNORECASE,
)
_REQUIREMENT_TERMS = re.compile(
    r"\b(?:ground[- ]floor|step[- ]free|accessible|elevator|lift|ramp|large\s+print|"
    r"interpreter|sign\s+language|parking|pet[- ]friendly|quiet|braille|hearing\s+loop|"
    r"tty|first[- ]floor|downstairs|no\s+stairs|female|male|bus\s+line|public\s+transport|"
    r"hypoallergenic|non-[a-z]+|[a-z]+-free|fragrance|scent|smoke|smoking)\b",
    re.IGNORECASE,
)
_NEED = re.compile(
    r"\b(?:i|we)(?:'ll|\s+will)?\s+(?:always\s+|really\s+|do\s+|also\s+)?(?:need|require)\s+"
    r"(?P<obj>(?!to\b)[a-z])",
    re.IGNORECASE,
)
_PETS = re.compile(
    r"\b(?:i|we)(?:'ve)?\s+(?:have|got|have\s+got)\s+(?P<pet>(?:a|an|two|three|some)\s+"
    r"(?:(?:big|small|large|little|friendly|very\s+friendly|nervous|young|old)\s+)?"
    r"(?:dogs?|cats?|pets?|puppy|puppies|kitten|kittens))\b"
    r"(?!\s+(?:called\s+|named\s+)?[a-z]+\s+and\s+[a-z]+)",
    re.IGNORECASE,
)
_PET_REQUIREMENT = re.compile(
    r"\b(?P<subj>(?:the\s+)?[a-z]+)\s+(?:has|have|needs?|must)\s+(?:to\s+)?be\s+"
    r"(?P<how>ok|okay|fine|comfortable|good|cool)\s+(?:with|around)\s+(?P<what>dogs?|cats?|"
    r"pets?|animals)\b",
    re.IGNORECASE,
)
_ALLERGY = re.compile(
    r"\b(?:i'm|i\s+am|im|we're)\s+(?:very\s+|severely\s+|really\s+)?allergic\s+to\s+|"
    r"\bi\s+have\s+(?:an?\s+)?(?P<what>[a-z]+)\s+allergy\b",
    re.IGNORECASE,
)


def constraints(t: TurnView) -> list[Candidate]:
    """What the caller cannot do or must have."""
    out: list[Candidate] = []
    for offset, sentence in sentences(t.user):
        for m in _CANT.finditer(sentence):
            obj = capture_phrase(sentence, m.end())
            obj = clean_object(re.split(r"\s+(?:my|i|i'm|he|she|they|we|the\s+doctor)\s", obj)[0])
            verb = re.sub(r"\s+", " ", m.group("verb").lower())
            if not obj or _CANT_VOLATILE.match(obj) or ONE_OFF.search(obj):
                continue
            if verb == "do" and is_time(obj):
                continue  # "I can't do weekends" is availability, handled there
            out.append(t.candidate(f"Cannot {verb} {obj}", "constraint", None, 0.7,
                                   offset + m.start()))
        for m in _DONT.finditer(sentence):
            what = re.sub(r"\s+", " ", m.group("what").lower())
            out.append(t.candidate(f"Does not {what}", "constraint", None, 0.75,
                                   offset + m.start()))
        for m in _NEED.finditer(sentence):
            obj = clean_object(capture_phrase(sentence, m.start("obj")))
            if obj and _REQUIREMENT_TERMS.search(obj) and not ONE_OFF.search(obj):
                out.append(t.candidate(f"Needs {obj}", "constraint", None, 0.7,
                                       offset + m.start()))
    pet = _PETS.search(t.user)
    requirement = _PET_REQUIREMENT.search(t.user)
    if pet:
        text = f"Has {clean_object(pet.group('pet'))}"
        if requirement:
            subj = requirement.group("subj").lower()
            subj = "visitors" if subj in ("it", "they", "the", "someone", "whoever") else subj
            text += f"; {subj.removeprefix('the ')} must be ok with {requirement.group('what')}"
        out.append(t.candidate(text, "constraint", None, 0.7, pet.start()))
    if t.keep_health:
        # Only reachable when the policy keeps health data; otherwise the clause was
        # redacted before the rules ran (declared_allergies reads it before that).
        out.extend(declared_allergies(t, t.user))
    return out


_ALLERGEN_END = re.compile(r"\s+(?:so|but|because|and\s+(?:i|i'm|my|we|it|that|also)|which|"
                           r"that|if|when|pretty|really|very|quite|too|as\s+well|by\s+the\s+way|btw|"
                           r"just\s+so|for\s+(?:the\s+record|what\s+it's\s+worth)|though|"
                           r"actually|you\s+know|i\s+think|i\s+guess)\b.*$", re.I)
_NOT_AN_ALLERGEN = re.compile(r"^(?:anything|nothing|it|that|this|them|something|stuff|"
                              r"everything|my|his|her|their|severe|serious|bad|mild|slight|"
                              r"terrible|real|known|little|big|an?)\b", re.IGNORECASE)


def declared_allergies(t: TurnView, text: str) -> list[Candidate]:
    """The caller's own allergy: "i'm allergic to penicillin", "i have a nut allergy".

    ``text`` is the caller's words before redaction: under the default policy the
    transcript loses the allergy, the fact keeps it (SensitivePolicy.allergy_constraints).
    Only first-person statements count; a pet's or a child's allergy is not the caller's.
    """
    return [t.candidate(fact, "constraint", None, 0.8, offset)
            for fact, offset in allergy_statements(text)]


def allergy_statements(text: str) -> list[tuple[str, int]]:
    """Each allergy the caller declares in ``text`` as its fact ("Allergic to penicillin",
    "Has a nut allergy") and where it was said."""
    out: list[tuple[str, int]] = []
    for offset, sentence in sentences(text):
        if sentence.rstrip().endswith("?"):
            continue  # "am I allergic to ...?" / "is it ok if i'm allergic to nuts?"
        for m in _ALLERGY.finditer(sentence):
            what = m.group("what")
            if what and not _NOT_AN_ALLERGEN.match(what):
                article = "an" if what[0] in "aeiou" else "a"
                out.append((f"Has {article} {what.lower()} allergy", offset + m.start()))
                continue
            if not what:
                what = _ALLERGEN_END.sub("", capture_phrase(sentence, m.end()))
                what = clean_object(what)
            what = what.lower()
            if what and not _NOT_AN_ALLERGEN.match(what) and len(what.split()) <= 5:
                out.append((f"Allergic to {what}", offset + m.start()))
    return out


# --- recurring needs ---------------------------------------------------------------------

_VERB_3RD = {
    "order": "orders", "get": "gets", "buy": "buys", "book": "books", "need": "needs",
    "use": "uses", "take": "takes", "have": "has", "go through": "goes through",
    "reorder": "reorders", "go with": "goes with", "have to": "has to", "go for": "goes for",
    "call": "calls",
    "come in": "comes in", "come": "comes", "pick up": "picks up", "refill": "refills",
    "visit": "visits", "bring": "brings", "top": "tops", "renew": "renews",
    "service": "services", "replace": "replaces",
}
_HABITUAL = re.compile(
    r"\b(?:i|we)\s+(?P<adv>always|usually|normally|typically|regularly)\s+(?P<verb>order|get|"
    r"buy|book|need|use|take|have|go\s+with|go\s+for|pick\s+up|reorder|come\s+in|come|"
    r"visit|bring)\s+",
    re.IGNORECASE,
)
_FREQUENCY = re.compile(
    r"\b(?:every\s+(?:other\s+)?(?:day|week|month|year|morning|evening|weekend|quarter|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|couple\s+of\s+(?:weeks|months)|"
    r"(?:\d+|two|three|four|five|six|seven|eight|nine|ten|twelve)\s+(?:days|weeks|months))|"
    r"each\s+(?:week|month|year)|once\s+a\s+(?:week|month|year)|"
    r"twice\s+a\s+(?:week|month|year)|weekly|monthly|fortnightly)\b",
    re.IGNORECASE,
)
_RECURRING_VERB = re.compile(
    r"\b(?:i|we)\s+(?:(?:also|still)\s+)?(?P<verb>need\s+to\s+(?:order|reorder|buy|get|"
    r"refill|book)|have\s+to\s+(?:order|reorder|buy|get|refill|book)|need|order|reorder|"
    r"buy|get|go\s+through|use|come\s+in|come|call|refill|have|top\s+up|renew|service|"
    r"replace|pick\s+up)\s+",
    re.IGNORECASE,
)
_QUANTITY = re.compile(r"\b(?:\d+|a|an|the|one|two|three|four|five|six|dozen|couple|pair|"
                       r"bags?|boxes?|packs?|bottles?|loaves|litres?|pints?)\b", re.IGNORECASE)
_NOT_A_NEED = re.compile(r"^(?:to\s+(?:talk|speak|ask|know|check|call|cancel|change)|"
                         r"help|you|it|that|this|a\s+minute|a\s+second)\b", re.IGNORECASE)


def needs(t: TurnView) -> list[Candidate]:
    """Habits of use: "I always order X", "every month I need to reorder X"."""
    out: list[Candidate] = []
    for offset, sentence in sentences(t.user):
        if sentence.rstrip().endswith("?"):
            continue
        for m in _HABITUAL.finditer(sentence):
            verb = re.sub(r"\s+", " ", m.group("verb").lower())
            obj = clean_object(capture_phrase(sentence, m.end()))
            if not obj or _NOT_A_NEED.match(obj) or ONE_OFF.search(obj):
                continue
            adverb = m.group("adv").lower().capitalize()
            # "I always go with the matte finish" is a taste; "I always order X" a need.
            # "we always get thin crust" names a taste too: without a quantity, what the
            # caller always gets, has or takes is how they like it, not an amount to stock.
            kind = "preference" if verb in ("go with", "go for", "book") or (
                verb in ("get", "have", "take") and not _QUANTITY.search(obj)) else "need"
            out.append(t.candidate(f"{adverb} {_VERB_3RD.get(verb, verb)} {obj}", kind, None,
                                   0.75, offset + m.start()))
        freq = _FREQUENCY.search(sentence)
        if not freq:
            continue
        for m in _RECURRING_VERB.finditer(sentence):
            verb = re.sub(r"\s+", " ", m.group("verb").lower())
            obj = clean_object(capture_phrase(sentence, m.end()))
            if not obj or _NOT_A_NEED.match(obj) or "[redacted" in obj:
                continue
            words = verb.split()
            head = _VERB_3RD.get(" ".join(words[:2]) if words[0] in ("go", "come", "pick")
                                 else words[0], words[0])
            rest = " ".join(words[1:]) if words[0] not in ("go", "come", "pick") else ""
            phrase = " ".join(p for p in (head, rest, obj) if p)
            if freq.group().lower() not in phrase.lower():
                phrase = f"{phrase} {freq.group().lower()}"
            out.append(t.candidate(sentence_case(phrase), "need", None, 0.7, offset + m.start()))
            break
    return out


# --- notes: plan, a move ------------------------------------------------------------------

_PLAN_BY_AGENT = re.compile(
    r"\byou're\s+(?:now\s+|all\s+set\s+)?(?:on|signed\s+up\s+for|subscribed\s+to|enrolled\s+in)"
    r"\s+(?:the\s+|our\s+)?(?P<plan>[A-Z][\w+-]*(?:\s(?:[A-Z][\w+-]*|\d+))?)(?:\s+plan)?\b|"
    # "I've moved you to the 150Mb plan from next month": a change, so the new plan.
    r"\b(?:I've|I\s+have|we've|I'll|we'll)\s+(?:now\s+)?(?:moved|switched|upgraded|downgraded|"
    r"changed|move|switch|upgrade|downgrade|change)\s+you\s+(?:over\s+)?to\s+(?:the\s+|our\s+)?"
    r"(?P<plan2>[\w+-]+(?:\s[\w+-]+)?)\s+(?:plan|tier|package|tariff|bundle|membership)\b|"
    r"\byou're\s+(?:now\s+)?on\s+(?:the|our)\s+(?P<plan3>[a-z][\w+-]*(?:\s[a-z][\w+-]*)?)\s+"
    r"(?:plan|tier|package|tariff|membership)\b"
)
_PLAN_BY_CALLER = re.compile(
    r"\b(?:i'm|i\s+am|im|we're|we\s+are)\s+(?:currently\s+|still\s+)?on\s+(?:the\s+|a\s+)?"
    r"(?P<plan>[\w+-]+(?:\s[\w+-]+)?)\s+(?:plan|tier|package|subscription|membership|tariff|"
    r"contract|bundle)\b",
    re.IGNORECASE,
)
_MOVING = re.compile(
    # "were moving up to leeds": speech-to-text writes "we're" as "were"
    r"\b(?:i'm|i\s+am|im|we're|we\s+are|were)\s+(?P<verb>moving|relocating)\s+"
    r"(?:(?:up|down|over|back|out|across)\s+)?to\s+(?P<place>"
    r"[a-z][a-z .'-]{1,30}?)(?=\s+(?:next|this|in|on|soon|at|by|for|so|and|because)\b|"
    r"[,.;!?]|$)|\b(?:i|we)\s+(?:just\s+|recently\s+)?(?P<verb2>moved)\s+"
    r"(?:(?:up|down|over|back|out|across)\s+)?to\s+(?P<place2>"
    r"[a-z][a-z .'-]{1,30}?)(?=\s+(?:last|this|in|on|recently|so|and|because)\b|[,.;!?]|$)|"
    r"\b(?:i|we)\s+live\s+in\s+(?P<place3>[a-z][a-z .'-]{1,30}?)(?=\s+(?:now|so|and|because|"
    r"with)\b|[,.;!?]|$)",
    re.IGNORECASE,
)


_OWNS = re.compile(
    r"\b(?:i|we)\s+(?P<verb>own|run|manage|have)\s+(?P<what>(?:a|an|my\s+own|our\s+own)\s+"
    r"(?:[a-z'-]+\s+){0,3}?(?:business|shop|store|company|restaurant|bakery|cafe|salon|clinic|"
    r"practice|firm|farm|studio|agency|bar|gym|garage|daycare|bnb|b&b|hotel|franchise|"
    r"startup|food\s+truck))\b",
    re.IGNORECASE,
)
_WORKS_AS = re.compile(
    r"\bi\s+work\s+as\s+(?P<what>(?:a|an)\s+[a-z -]{2,30}?)(?=[,.;!?]|$|\s+(?:at|for|in|so|and)\b)",
    re.IGNORECASE,
)


def notes(t: TurnView) -> list[Candidate]:
    """Durable context: the caller's plan, business or job, a move to another city."""
    out: list[Candidate] = []
    for m in _OWNS.finditer(t.user):
        verb = {"own": "Owns", "run": "Runs", "manage": "Manages", "have": "Has"}[
            m.group("verb").lower()]
        out.append(t.candidate(f"{verb} {third_person(m.group('what'))}", "note", None, 0.7,
                               m.start()))
    for m in _WORKS_AS.finditer(t.user):
        out.append(t.candidate(f"Works as {m.group('what')}", "note", "occupation", 0.7,
                               m.start()))
    by_agent = _PLAN_BY_AGENT.search(t.agent)
    if by_agent:
        plan = by_agent.group("plan") or by_agent.group("plan2") or (
            by_agent.group("plan3").title())
        out.append(t.candidate(f"Is on the {plan} plan", "note", "plan", 0.75,
                               len(t.user) + by_agent.start()))
    by_caller = _PLAN_BY_CALLER.search(t.user)
    if by_caller and "[redacted" not in by_caller.group("plan"):
        plan = by_caller.group("plan").title()
        out.append(t.candidate(f"Is on the {plan} plan", "note", "plan", 0.7, by_caller.start()))
    for m in _MOVING.finditer(t.user):
        if m.group("place"):
            text = f"Moving to {m.group('place').strip().title()}"
            out.append(t.candidate(text, "note", None, 0.65, m.start()))
        elif m.group("place2"):
            text = f"Moved to {m.group('place2').strip().title()}"
            out.append(t.candidate(text, "note", "location", 0.65, m.start()))
        elif m.group("place3"):
            text = f"Lives in {m.group('place3').strip().title()}"
            out.append(t.candidate(text, "note", "location", 0.65, m.start()))
    return out


NEED_RULES = (constraints, needs, notes)
