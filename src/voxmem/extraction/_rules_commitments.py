"""The agent's promises, and the caller's own, in the shapes "I'll", "we'll" and "X will" take.

Moved out of ``rules.py`` unchanged (that module was at its size limit): ``commitments``
is one of the rule extractor's rules.
"""

from __future__ import annotations

import dataclasses
import re

from ._rules_agent import JOIN_ONLY, RECURS, extra_commitment
from ._rules_common import TurnView, capture_phrase, sentences
from ._select import Candidate
from ._text import third_person

__all__ = ["commitments"]

# --- agent commitments -------------------------------------------------------------------

_COMMIT_SUBJECT = (
    r"(?P<subj>i'll|i\s+will|i'm\s+going\s+to|i\s+am\s+going\s+to|we'll|we\s+will|they'll|"
    r"we're\s+going\s+to|we\s+are\s+going\s+to|"
    r"(?P<who>(?:someone|somebody)(?:\s+from\s+(?:our\s+|the\s+)?[\w-]+(?:\s+[\w-]+)?)?|"
    r"(?:(?-i:[A-Z][a-z]+)\s+from\s+)?(?:a|an|our|the|your)\s+(?:[\w-]+\s+){0,2}?(?:team|specialist|technician|engineer|"
    r"officer|agent|manager|representative|rep|nurse|advisor|adviser|department|supervisor|"
    r"courier|driver|plumber|electrician|installer|crew|coordinator|receptionist|surveyor|"
    r"consultant|caseworker|handler|pharmacist|dentist|optician|tutor|instructor|solicitor|"
    r"accountant|broker|fitter|mechanic|locksmith|inspector|adjuster|assessor))\s+will)"
)
# Verbs that promise something after the call. "transfer", "check", "make a note" or
# "pull up your account" happen during the call and are not remembered.
_COMMIT_VERB = (
    r"(?P<verb>send|email|e-mail|mail|post|text|call|ring|phone|ship|refund|credit|waive|"
    r"reimburse|replace|deliver|dispatch|schedule|arrange|follow\s+up|get\s+back|come\s+back|"
    r"reach\s+out|"
    r"contact|escalate|expedite|process|issue|notify|remind|check\s+back|come\s+out|visit|"
    r"have|be\s+in\s+touch|courier|collect|install|fix|repair|pick\s+up|reverse|resend|"
    r"reissue|chase|investigate|look\s+into|order)"
)
_COMMIT = re.compile(
    rf"\b{_COMMIT_SUBJECT}\s+(?:(?:also|just|personally|definitely|then|now|go\s+ahead\s+and|"
    rf"make\s+sure\s+to|make\s+sure\s+we|be\s+sure\s+to)\s+)*{_COMMIT_VERB}\b",
    re.IGNORECASE,
)
_HAVE_SOMEONE = re.compile(
    r"^(?P<who>(?:a|an|our|the|someone|somebody)\b[\w\s-]{0,40}?)\s+(?P<v>call|email|contact|"
    r"reach\s+out\s+to|get\s+back\s+to|text|visit|give)\s+you(?:\s+a\s+(?:call|ring))?\b",
    re.IGNORECASE,
)
_FUTURE = re.compile(r"will|'ll|going")
_FUTURE_OR_PROMISE = re.compile(r"will|ll\b|going|promise")
_YOU_SHOULD_SEE = re.compile(
    r"\byou(?:'ll|\s+(?:should|will|ought\s+to))\s+(?:also\s+)?(?:see|get|receive)\s+"
    # "which you'll see on next month's bill" names where, not what.
    r"(?!it\b|that\b|them\b|this\b|on\b|in\b|at\b|by\b)",
    re.IGNORECASE,
)
# "A replacement card has been ordered and will arrive in 5 to 7 business days."
_ARRANGED = re.compile(
    r"\b(?P<what>(?:a|an|the|your)\s+[\w\s-]{2,30}?)\s+(?:has\s+been|have\s+been|was|is\s+being)"
    r"\s+(?:ordered|shipped|sent|mailed|scheduled|booked|dispatched|issued|requested)\s+and\s+"
    r"(?:will|should)\s+(?P<then>arrive|be\s+delivered|ship|be\s+there|reach\s+you)\b",
    re.IGNORECASE,
)
# The caller's own promises: "I'll pay the rest on the 15th".
_CALLER_PROMISE = re.compile(
    r"\b(?:i'll|ill|i\s+will|i'm\s+going\s+to|i\s+promise\s+to)\s+(?:definitely\s+|also\s+)?"
    r"(?P<verb>pay|send|bring|drop\s+off|return|upload|fax|mail|email|sign|submit|transfer|"
    r"get\s+you)\s+",
    re.IGNORECASE,
)
_OFFER = re.compile(
    r"\b(?:if\s+you|would\s+you\s+like|do\s+you\s+want|if\s+that|if\s+needed|once\s+you|"
    r"when\s+you|should\s+i|shall\s+i|can\s+i)\b",
    re.IGNORECASE,
)
# Second person → third person, and one-call time words that read wrong next week.
_YOU_OBJECT = re.compile(r"^(?:you|u)\s+(?=\S)", re.IGNORECASE)
_YOUR = re.compile(r"\byour\b", re.IGNORECASE)
_YOU = re.compile(r"\byou\b", re.IGNORECASE)
_COMMIT_TAIL = re.compile(
    r"(?:\s+(?:right\s+now|now|right\s+away|shortly|in\s+a\s+moment|in\s+a\s+minute|there|"
    r"for\s+you|as\s+well|too|straight\s+away|asap|out))+$",
    re.IGNORECASE,
)
_RIGHT_AWAY = re.compile(r"\b(?:right\s+away|straight\s+away|right\s+now|in\s+a\s+moment)\b",
                         re.IGNORECASE)
_IN_A_MOMENT = re.compile(
    r"\bin\s+a\s+(?:few\s+)?(?:minutes?|moment|second|sec|jiffy)\b|\bshortly\b|\bnow\b", re.I)
_NOT_A_PROMISE = re.compile(r"^(?:a\s+look|a\s+note|you\s+through|you\s+over|it\s+a\s+try)\b", re.I)
_IT_WILL = "Agent promised it will "
_VERB_YOU = re.compile(r"^(\S+)\s+(?:you|u)\b\s*", re.IGNORECASE)


def _commit_phrase(phrase: str) -> str:
    # "email you a copy" → "email a copy", "call you back" → "call back".
    phrase = _VERB_YOU.sub(r"\1 ", _YOU_OBJECT.sub("", phrase))
    phrase = _YOUR.sub("the caller's", phrase)
    phrase = _YOU.sub("the caller", phrase)
    return _COMMIT_TAIL.sub("", phrase).strip(" ,")


def commitments(t: TurnView) -> list[Candidate]:
    """Promises the agent made: "I'll email you the invoice", "we'll call you Friday"."""
    out: list[Candidate] = []
    base = len(t.user)  # agent text comes after the caller's words in the same turn
    for offset, sentence in sentences(t.agent):
        if sentence.rstrip().endswith("?") or _OFFER.search(sentence):
            continue
        if _RIGHT_AWAY.search(sentence):
            continue  # done during the call ("I'll send one up right away")
        found = len(out)
        low = sentence.lower()
        # Every promise shape holds "will"/"'ll"/"going to"; most agent sentences hold none.
        for m in _COMMIT.finditer(sentence) if _FUTURE.search(low) else ():
            verb = re.sub(r"\s+", " ", m.group("verb").lower())
            rest = capture_phrase(sentence, m.end())
            if _NOT_A_PROMISE.match(rest):
                continue
            who = m.group("who")
            if verb == "have":
                have = _HAVE_SOMEONE.match(rest)
                if not have:
                    continue
                after = capture_phrase(sentence, m.end() + have.end())
                action = _commit_phrase(f"{have.group('v')} {after}")
                verb_done = have.group("v").lower()
                if verb_done == "give":  # "give you a call"
                    after = capture_phrase(sentence, m.end() + have.end())
                    action = _commit_phrase(f"call {after}")
                text = f"Agent promised {have.group('who').strip()} will {action}"
            else:
                action = _commit_phrase(f"{verb} {rest}")
                if who:
                    who_text = re.sub(r"(^|\bfrom\s+)(?:our|your)\s+", r"\1the ", who.strip(),
                                      flags=re.I)
                    text = f"Agent promised {who_text.lower()} will {action}"
                else:
                    text = f"Agent promised to {action}"
            if len(action.split()) < 2 and verb not in ("call", "ring", "phone"):
                continue  # "I'll send" with no object says nothing
            out.append(t.candidate(text.rstrip("."), "commitment", None, 0.8,
                                   base + offset + m.start()))
        for m in _YOU_SHOULD_SEE.finditer(sentence) if "you" in low else ():
            what = _commit_phrase(capture_phrase(sentence, m.end()))
            if _IN_A_MOMENT.search(what):
                continue  # "a text with the code in a few minutes" arrives during the call
            if len(what.split()) >= 2:
                out.append(t.candidate(f"Agent promised the caller will receive {what}",
                                       "commitment", None, 0.7, base + offset + m.start()))
        for m in _ARRANGED.finditer(sentence) if " and " in low else ():
            what = _commit_phrase(m.group("what").strip())
            then = re.sub(r"\s+", " ", m.group("then").lower())
            when = _commit_phrase(capture_phrase(sentence, m.end()))
            text = f"Agent promised {what} will {then} {when}".strip()
            out.append(t.candidate(text, "commitment", None, 0.7, base + offset + m.start()))
        if len(out) == found:
            for text, at, conf in extra_commitment(sentence, t.agent[:offset]):
                if text.startswith(_IT_WILL) and found and out[-1].kind == "commitment":
                    # "it" is what the promise just before was about: say when, there.
                    out[-1] = dataclasses.replace(
                        out[-1], text=f"{out[-1].text}; it will {text[len(_IT_WILL):]}")
                    continue
                if conf == JOIN_ONLY:
                    continue
                out.append(t.candidate(text, "commitment", None, conf, base + offset + at))
    # "We'll deliver every Tuesday": a promise that recurs is a standing arrangement, the
    # caller's recurring need, not a one-off to follow up.
    out = [dataclasses.replace(c, kind="need") if c.slot_key is None and RECURS.search(c.text)
           else c for c in out]
    for offset, sentence in sentences(t.user):
        if sentence.rstrip().endswith("?") or _OFFER.search(sentence):
            continue
        for m in _CALLER_PROMISE.finditer(sentence) if _FUTURE_OR_PROMISE.search(
                sentence) else ():
            verb = re.sub(r"\s+", " ", m.group("verb").lower()).removesuffix(" you")
            rest = _commit_phrase(third_person(capture_phrase(sentence, m.end())))
            if len(rest.split()) >= 2:
                out.append(t.candidate(f"Caller promised to {verb} {rest}", "commitment", None,
                                       0.7, offset + m.start()))
    return out
