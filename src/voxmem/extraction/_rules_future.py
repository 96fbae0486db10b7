"""The agent's promises in shapes no promise rule reads: a fallback, sentence by sentence.

The promise rules read a subject, a future verb and an object ("I'll email you the
invoice", "An adjuster will call you by Wednesday") and word the fact from those parts.
Agents promise in many more shapes: "Priya from IT will remote in at 3", "I've asked Dr.
Obi to call you back after 4", "A technician is scheduled to come out on the 4th", "The
quote will be in your inbox by Friday", "Installation's pencilled in for the 18th". What
these share is written plainly in the sentence: something that happens after the call
(a future marker) and either when it happens or what is done for the caller.

So a sentence of the agent's with a future marker, an anchor (a day, a date, "within two
days", "by Friday", "after 4", "once it ships") and something done for the caller ("call",
"send", "deliver", "refund", "ready", or "you" itself) becomes one commitment, the
sentence itself in the third person ("Agent promised: Priya from IT will remote in on
Monday"). It runs only on sentences where no promise or booking rule found anything, at
a confidence below theirs. Questions, offers ("if you'd like, I'll ..."), things done
during the call ("I'll transfer you", "right away", "in a moment"), what the caller must
do ("you'll need to ...") and prices ("that'll be 40 pounds") are not promises.
"""

from __future__ import annotations

import re

from ._rules_common import TurnView, sentences
from ._select import Candidate
from ._text import third_person

__all__ = ["future_actions"]

# Something happens after the call.
_FUTURE_MARK = re.compile(
    r"\b(?:will|'ll|(?:is|are)\s+(?:scheduled|due|booked|set)\s+to|(?:is|are)\s+on\s+(?:its|"
    r"their|the)\s+way|"
    r"pencilled\s+in|got\s+you\s+down\s+for|put\s+(?:a\s+|you\s+)?(?:callback|call\s*back|"
    r"visit|booking|request)?\s*in\s+for|asked\s+(?:(?:Dr|Mr|Mrs|Ms)\.?\s+)?\w+(?:\s+\w+)?\s+to|"
    r"arranged\s+for|(?:is|are)\s+confirmed\s+for|who'll|"
    # "the cleaner's coming on the 3rd", "I've booked him in for the 3rd to the 17th".
    r"(?:is|are|'s|'re)\s+coming\s+(?:round\s+|out\s+|back\s+)?(?:on|next|this|at|the)\b|"
    r"booked\s+(?:him|her|them)\s+in\b|"
    # "Dr. Evans is going to call you", "they're due Friday", "the paper copy follows in the
    # post", "the fitters are down for the 14th", "Highways aim to fix it within 28 days".
    # ("Pickle's due on the 14th" is when a pet is due in, not something sent: no "'s").
    r"(?:is|are|'s|'re)\s+going\s+to|(?:is|are|'re)\s+due\b|\bfollows?\s+(?:in|by|on)\b|"
    r"(?:is|are|'re|'s)\s+down\s+for|\baim\s+to|\brebooked\b|\bheld\s+for\s+you|"
    # "I'm arranging an engineer visit for the 12th": the present tense of a plan.
    r"(?:I'm|I\s+am|we're|we\s+are)\s+(?:arranging|organising|organizing|sending|posting|"
    r"booking|scheduling|couriering)\b|"
    r"ready\s+(?:to\s+collect\s+|for\s+collection\s+)?(?:by\s+|for\s+|on\s+|from\s+)?"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day)",
    re.IGNORECASE)
# When it happens.
_ANCHOR = re.compile(
    r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|today|tomorrow|tonight|this\s+(?:afternoon|"
    r"evening|morning|week)|next\s+(?:week|month|few\s+days)|the\s+\d{1,2}(?:st|nd|rd|th)|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d|within\s+(?:\d+|a|an|one|"
    r"two|three|four|five|seven|ten|the)\b|by\s+(?:the\s+)?(?:end|\d|close|mid)|"
    r"(?:after|before)\s+\d|first\s+thing|once\s+|as\s+soon\s+as|when\s+(?:it|"
    r"they|the|your)|in\s+\d+\s+(?:to\s+\d+\s+)?(?:working\s+)?(?:days|weeks)|working\s+days)",
    re.IGNORECASE)
# What is done for the caller.
_FOR_CALLER = re.compile(
    r"\b(?:call|phone|ring|email|e-mail|emailed|text|texted|send|sent|post|posted|mailed|"
    r"contact|visit|come|"
    r"deliver|delivered|collect|install|fit|respond|reply|get\s+back|be\s+in\s+touch|"
    r"see\s+you|be\s+with\s+you|remote|review|arrive|refund|refunded|credit|credited|waive|"
    r"waived|inbox|resent|replace|repair|fix|book|install(?:ation|ed)?|ready|callback|"
    r"write|engineer|technician|visit|sending|posting|couriering|replacement|"
    r"delivery|collection|you|be\s+out|come\s+out|pop\s+round|be\s+round|be\s+over|"
    r"booked|rebooked|coming|back\s+(?:on|in)\s+your|due|"
    # The worker sent is the deed: "the fitters are down for the 14th".
    r"fitters?|roofers?|plumbers?|electricians?|decorators?|cleaners?|gardeners?|drivers?|"
    r"couriers?|crew|surveyors?|inspectors?|installers?|contractors?|locksmiths?|mechanics?)\b",
    re.IGNORECASE)
_NOT_A_PROMISE = re.compile(
    r"\b(?:if|unless|whether|would\s+you|do\s+you|shall\s+i|should\s+i|can\s+i|want\s+me\s+to|"
    r"let\s+me|right\s+away|straight\s+away|right\s+now|in\s+a\s+(?:moment|minute|sec)|"
    r"minutes?|shortly|now|transfer|put\s+you\s+through|hold|bear\s+with|you'll\s+need|"
    r"you\s+will\s+need|you'll\s+have\s+to|you\s+will\s+have\s+to|cost|charge\s+you|"
    r"pounds|dollars|euros|(?-i:may)|might|could|hopefully|probably|try|need\s+to|needs\s+to|"
    r"(?:be|is|are)\s+(?:closed|shut|open)|closes|opens|reopen|on\s+sale|(?<!the\s)end|expire|"
    r"expires|weather)\b|[$£€]\d",
    re.IGNORECASE)
# Accommodations made while booking, statuses of what is already on its way, and what the
# caller will merely hear: the sets' labels do not count these as promises to follow up.
_IN_CALL = re.compile(
    r"\b(?:note|noted|seat|set\s+(?:you|it)\s+up|switch|(?<!an\s)update|give|connect|offer|keep|"
    r"stick|aside|top\s+up|hand|reserve|should\s+arrive|should\s+be|hear\s+back|shipped|"
    r"show\s+you|"
    r"was|were|each|every)\b", re.IGNORECASE)
_YOURS = ((re.compile(r"\byour\b", re.IGNORECASE), "the caller's"),
          (re.compile(r"\byou're\b", re.IGNORECASE), "the caller is"),
          (re.compile(r"\byou've\b", re.IGNORECASE), "the caller has"),
          (re.compile(r"\byou'll\b", re.IGNORECASE), "the caller will"),
          (re.compile(r"\byou\b", re.IGNORECASE), "the caller"))
_LEAD = re.compile(
    r"^(?:(?:okay|ok|right|great|perfect|lovely|sure|done|sorted|thanks|thank\s+you|no\s+problem|"
    r"of\s+course|alright|so|and|also)(?:\s+[A-Z][a-z]+)?[,!.]?\s+)+", re.IGNORECASE)
_PRONOUN_SUBJECT = re.compile(
    r"(?:it|it'll|that|that'll|this|they|they'll|these|those|one(?=\s+(?:will|should|is)\b)|"
    r"a\s+new\s+one)\b", re.IGNORECASE)
#: Longest sentence kept, in words: a longer one is a speech, not a promise.
MAX_WORDS = 24


def _third_person(sentence: str) -> str:
    for pattern, replacement in _YOURS:
        sentence = pattern.sub(replacement, sentence)
    return sentence


# Two promises in one sentence: "Nadia will visit on Wednesday at 10, and I'll email the
# quote by Friday". Each clause is read on its own, so a rule that read one of them does
# not hide the other.
# "A replacement will arrive in 3 days and our fraud team will call you": the second
# subject may be a noun phrase of a few words.
_CLAUSE = re.compile(r",\s+and\s+|;\s+|,?\s+but\s+|"
                     r"\s+and\s+(?=(?:I|we|she|he|they|our|you)(?:'ll|\s+will)\b|"
                     r"(?:our|the|a|an|your)\s+(?:[\w-]+\s+){0,3}?(?:will|follows?|(?:is|are)\s+due)\b)",
                     re.IGNORECASE)
# "Ms. Adler is dealing. She'll write to you by Friday": the person the agent just named.
_HE_SHE = re.compile(r"^(?:she|he)(?:'ll|\s+will)\b", re.IGNORECASE)
# "I'll book a meter engineer; they'll come on the 19th": the worker the agent just named.
_THEY = re.compile(r"^they(?:'ll|\s+will)\b", re.IGNORECASE)
_WORKER = re.compile(
    r"\b(?:an?|the|our)\s+(?:[\w-]+\s+)?(?P<who>engineer|technician|plumber|electrician|fitter|"
    r"driver|courier|surveyor|inspector|installer|crew|team|cleaners?|gardener|mechanic|"
    r"locksmith|assessor|adjuster|estimator)\b", re.IGNORECASE)
_NAMED = re.compile(r"\b(?:(?:Dr|Mr|Mrs|Ms|Miss)\.?\s+[A-Z][\w'-]+|[A-Z][a-z]+(?=\s+(?:is|will|"
                    r"has|from|in)\b))")
# "No starch, noted. Ready Thursday.": the collection day alone.
# "The first delivery is next Monday", "Sure, first one on the 3rd at 10": the start of
# something the caller has just arranged.
_FIRST_ONE = re.compile(
    r"^(?:(?:sure|great|lovely|perfect|done|okay|ok|thanks)(?:\s+[A-Z][a-z]+)?[,.!]?\s+)*"
    r"(?:(?:the|your|our)\s+)?first\s+(?P<what>[a-z]+)\s+(?:is|will\s+be|'s)?\s*"
    r"(?P<when>(?:on|this|next|the|from|at)\b[^;]{2,40})$", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"^(?:I|we)(?:'ll|\s+will)\b", re.IGNORECASE)
_FIRST_PERSON_DONE = re.compile(r"^(?:I've|I\s+have|we've|we\s+have)\b", re.IGNORECASE)
_PLANNING = re.compile(r"^(?:I'm|I\s+am|we're|we\s+are)\s+(?=\w+ing\b)", re.IGNORECASE)
_READY_DAY = re.compile(r"^ready\s+(?:(?:from|by|on|for)\s+)?(?:next\s+)?"
                        r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|the\s+\d{1,2}(?:st|nd|rd|th))",
                        re.IGNORECASE)


_LEANS_ON_ANOTHER = re.compile(r"^\s*you\b|\b(?:it|them|that)\b", re.IGNORECASE)


def _clauses(sentence: str) -> list[tuple[int, str]]:
    out, start = [], 0
    for m in _CLAUSE.finditer(sentence):
        out.append((start, sentence[start:m.start()]))
        start = m.end()
    out.append((start, sentence[start:]))
    return [(at, text) for at, text in out if text.strip()]


def _named_before(agent: str, offset: int) -> str | None:
    """The last person the agent named before ``offset``, for a "she'll"/"he'll"."""
    names = [m.group(0) for m in _NAMED.finditer(agent[:offset])
             if not m.group(0).startswith(("Thanks", "Thank", "Sorry", "Yes", "Okay"))]
    return names[-1] if names else None


_ASK_LEAD = re.compile(r"^(?:(?:hi|hello|hey|yeah|yes|um|uh|er|so|and|oh|right|ok|okay)"
                       r"[,!]?\s+)+", re.IGNORECASE)


def _asked(user: str) -> str:
    """The caller's first clause, short, in the third person: what a bare "it" answers."""
    first = re.split(r"[.?!;,]\s*|\s+(?:but|and|so)\s+", user.strip(), maxsplit=1)[0]
    words = _ASK_LEAD.sub("", first).split()
    if len(words) < 3 or "[redacted" in first:
        return ""
    return third_person(" ".join(words[:12]))


def future_actions(t: TurnView, taken: set[int]) -> list[Candidate]:
    """Promises in the agent's clauses that start at none of the offsets in ``taken``
    (where a promise or booking rule already read something)."""
    low = t.agent.lower()
    if not t.agent or not (_FUTURE_MARK.search(t.agent) or "ready" in low or "first" in low):
        return []
    out: list[Candidate] = []
    base = len(t.user)  # the agent spoke after the caller
    for offset, sentence in sentences(t.agent):
        if sentence.strip().endswith("?"):
            continue
        clauses = _clauses(sentence)
        for at, clause in clauses:
            start, end = base + offset + at, base + offset + at + len(clause)
            if any(start <= pos < end for pos in taken):
                continue
            if len(clauses) > 1 and _LEANS_ON_ANOTHER.search(clause):
                # "... and you'll see it back in 3 days": the other clause's consequence,
                # and "it" is what the promise rules resolve from the whole sentence.
                continue
            # After a promise in this reply, "it'll arrive by Wednesday" is that promise's
            # when, which the promise rules join to it; it is not a second promise.
            after_promise = any(pos < start for pos in taken)
            found = _promise(t, clause.strip(), offset + at, after_promise=after_promise)
            if found:
                out.append(t.candidate(found, "commitment", None, 0.6, start))
    return out


def _promise(t: TurnView, text: str, offset: int, *, after_promise: bool = False
             ) -> str | None:
    if _READY_DAY.match(text) and not _NOT_A_PROMISE.search(text):
        return f"Agent promised: it will be {text[0].lower()}{text[1:].rstrip(' .!;')}"
    if (first := _FIRST_ONE.match(text)) and _ANCHOR.search(first.group("when")):
        what = first.group("what").lower()
        return f"Agent promised: the first {what} is {first.group('when').rstrip(' .!;')}"
    if (len(text.split()) > MAX_WORDS or not _FUTURE_MARK.search(text)
            or _NOT_A_PROMISE.search(text)):
        return None
    # Both a when and a deed: "The office will reopen on Tuesday" is news, "I'll seat
    # you near the front" is done at the visit the caller is booking now.
    if not (_ANCHOR.search(text) and _FOR_CALLER.search(text)) or _IN_CALL.search(text):
        return None
    said = _third_person(_LEAD.sub("", text).rstrip(" .!;,"))
    if pronoun := _HE_SHE.match(said):
        who = _named_before(t.agent, offset)
        if who is None:
            return None
        said = f"{who.removesuffix(chr(39) + 's')} will{said[pronoun.end():]}"
    if they := _THEY.match(said):
        workers = list(_WORKER.finditer(t.agent[:offset]))
        if not workers:
            return None
        said = f"the {workers[-1].group('who').lower()} will{said[they.end():]}"
    if _PRONOUN_SUBJECT.match(said):
        # "That'll be posted out within five days": what "that" is, the caller asked for.
        asked = "" if after_promise else _asked(t.user)
        if not asked:
            return None
        said = re.sub(r"^(it|that|this|they)'ll\b", r"\1 will", said, flags=re.IGNORECASE)
        said = f"{said} (the caller asked: {asked})"
    if len(said.split()) < 4:
        return None
    if plan := _PLANNING.match(said):
        return f"Agent is {said[plan.end():]}"
    said = _FIRST_PERSON.sub("the agent will", said, count=1)
    said = _FIRST_PERSON_DONE.sub("the agent has", said, count=1)
    return f"Agent promised: {said}"
