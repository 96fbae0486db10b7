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

__all__ = ["future_actions"]

# Something happens after the call.
_FUTURE_MARK = re.compile(
    r"\b(?:will|'ll|(?:is|are)\s+(?:scheduled|due|booked|set)\s+to|(?:is|are)\s+on\s+(?:its|"
    r"their|the)\s+way|"
    r"pencilled\s+in|got\s+you\s+down\s+for|put\s+(?:a\s+|you\s+)?(?:callback|call\s*back|"
    r"visit|booking|request)?\s*in\s+for|asked\s+(?:(?:Dr|Mr|Mrs|Ms)\.?\s+)?\w+(?:\s+\w+)?\s+to|"
    r"arranged\s+for|(?:is|are)\s+confirmed\s+for|who'll|"
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
    r"they|the|your)|in\s+\d+\s+(?:days|weeks)|working\s+days)", re.IGNORECASE)
# What is done for the caller.
_FOR_CALLER = re.compile(
    r"\b(?:call|phone|ring|email|e-mail|emailed|text|texted|send|sent|post|posted|mailed|"
    r"contact|visit|come|"
    r"deliver|delivered|collect|install|fit|respond|reply|get\s+back|be\s+in\s+touch|"
    r"see\s+you|be\s+with\s+you|remote|review|arrive|refund|refunded|credit|credited|waive|"
    r"waived|inbox|resent|replace|repair|fix|book|install(?:ation|ed)?|ready|callback|"
    r"delivery|collection|you|be\s+out|come\s+out|pop\s+round|be\s+round|be\s+over)\b",
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
    r"\b(?:note|noted|seat|set\s+(?:you|it)\s+up|switch|update|show|give|connect|offer|keep|"
    r"stick|aside|top\s+up|hand|reserve|should\s+arrive|should\s+be|hear\s+back|shipped|"
    r"was|were|each|every)\b", re.IGNORECASE)
_YOURS = ((re.compile(r"\byour\b", re.IGNORECASE), "the caller's"),
          (re.compile(r"\byou're\b", re.IGNORECASE), "the caller is"),
          (re.compile(r"\byou've\b", re.IGNORECASE), "the caller has"),
          (re.compile(r"\byou'll\b", re.IGNORECASE), "the caller will"),
          (re.compile(r"\byou\b", re.IGNORECASE), "the caller"))
_LEAD = re.compile(
    r"^(?:(?:okay|ok|right|great|perfect|lovely|sure|done|thanks|thank\s+you|no\s+problem|"
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


def future_actions(t: TurnView, taken: set[int]) -> list[Candidate]:
    """Promises in the agent's sentences that start at none of the offsets in ``taken``
    (where a promise or booking rule already read something)."""
    if not t.agent or not _FUTURE_MARK.search(t.agent):
        return []
    out: list[Candidate] = []
    base = len(t.user)  # the agent spoke after the caller
    for offset, sentence in sentences(t.agent):
        start, end = base + offset, base + offset + len(sentence)
        if any(start <= at < end for at in taken):
            continue
        text = sentence.strip()
        if (text.endswith("?") or len(text.split()) > MAX_WORDS or not _FUTURE_MARK.search(text)
                or _NOT_A_PROMISE.search(text)):
            continue
        # Both a when and a deed: "The office will reopen on Tuesday" is news, "I'll seat
        # you near the front" is done at the visit the caller is booking now.
        if not (_ANCHOR.search(text) and _FOR_CALLER.search(text)) or _IN_CALL.search(text):
            continue
        said = _third_person(_LEAD.sub("", text).rstrip(" .!;"))
        if _PRONOUN_SUBJECT.match(said):
            continue  # "A new one will arrive by Friday": the promise rules resolve "it"
        if len(said.split()) < 4:
            continue
        out.append(t.candidate(f"Agent promised: {said}", "commitment", None, 0.6, start))
    return out
