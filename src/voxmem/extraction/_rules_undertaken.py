"""What the agent undertakes to do from now on, and what it says the caller always has.

A caller often gives a reason, not a wish: "the last girl used that strong bleach and my
eyes were streaming", "the early ones just don't work with the school run", "paper bills
are a pain, I lose everything". No wish frame reads a reason. The agent's answer turns it
into the wish, in the future tense and with a word that says it lasts: "I'll make sure
the team only uses fragrance-free products from now on", "I'll only offer you
appointments after 9:30", "We'll email you any new viewings", "I'll put an aisle
preference on your profile", "I'll note that you need lightweight frames". The promise
rules read these as promises, of the wrong kind and without the point: nobody follows up
on "from now on". Read here, the sentence becomes the caller's standing preference
(`Agent agreed: only offer the caller appointments after 9:30`) and the promise read from
the same sentence is dropped; where a rule already read the wish in the caller's words,
the sentence only restates it and just the promise is dropped.

What marks a standing undertaking is its shape, not its words: I/we in the future tense,
no particular day or date (a day makes it one visit, the booking rules' business), and a
marker that it holds beyond this call. Strong markers ("from now on", "in future", "going
forward", "every time", "on your profile", "a note that", "your orders") stand alone.
Weak ones ("always", "only", "any new") are also how a business states its policy ("we
always send a reminder"), so they count only when the caller's turn shares a content word
with the sentence. Questions, offers, conditions, money and in-call actions ("I'll only
be a minute") are not undertakings.

Also here, the agent's echo of a habit: "Extra hot, no foam, as always." or "Two bags of
smokeless, as usual." where the echo shares a word with the caller's turn is the caller's
usual (`Usually has: extra hot, no foam`).
"""

from __future__ import annotations

import re

from ._rules_amend import WISH_KINDS
from ._rules_common import TurnView, sentences
from ._select import Candidate
from ._text import word_set

__all__ = ["AGREED_LABEL", "undertaken"]

#: How the undertakings read as facts begin.
AGREED_LABEL = "Agent agreed: "

_ACK = (r"(?:(?:done|great|perfect|lovely|okay|ok|right|sure|no\s+problem|no\s+worries|"
        r"of\s+course|certainly|absolutely|understood|noted|thanks|thank\s+you|got\s+it|"
        r"i'm\s+(?:so\s+)?sorry(?:\s+about\s+that)?|sorry(?:\s+about\s+that)?|oh\s+no|will\s+do|"
        r"that's\s+fine)"
        r"(?:,?\s+(?-i:[A-Z][\w'-]+))?[,!.:]?\s+)*")
_UNDERTAKE = re.compile(
    _ACK + r"(?:i'll|i\s+will|we'll|we\s+will|i'm\s+going\s+to|we're\s+going\s+to)\s+"
    r"(?P<rest>.{6,160})$", re.IGNORECASE)
_WORKER = re.compile(
    _ACK + r"(?P<who>(?:our|the)\s+(?:[a-z]+\s+){0,2}?(?:team|staff|sweep|cleaners?|drivers?|"
    r"engineers?|technicians?|fitters?|stylists?|groomers?|walkers?|crew|chef|kitchen|lads|"
    r"guys|people|installers?|gardeners?|decorators?|carers?|nurses?))(?:\s+(?-i:[A-Z]\w+))?"
    r"(?:\s+will|'ll)\s+(?P<rest>.{6,160})$", re.IGNORECASE)
# The part of the sentence that is only the agent's own doing, not the caller's wish.
_HEAD = re.compile(
    r"^(?:(?:also|just|definitely|personally)\s+)*"
    r"(?:(?:make\s+sure|ensure|see\s+to\s+it)(?:\s+that)?\s+"
    r"|(?:make|add|put|leave)\s+a\s+note\s+(?:on\s+(?:your|the)\s+(?:account|file|record|"
    r"profile)\s+)?(?:that|to\s+say(?:\s+that)?)\s+"
    r"|note\s+(?:down\s+)?that\s+)?", re.IGNORECASE)
_NOTE_HEAD = re.compile(r"\bnote\b", re.IGNORECASE)
# A wish passed on to whoever does the work (sixteenth round): "I'll tell the driver to
# leave it round the back", "I'll let Jo know not to use hairspray", "I'll remind the team
# to take their shoes off". By the definition of a commitment (docs/extraction.md) this is
# the caller's preference, not a promise; it counts only when the instruction shares a
# content word with what the caller said, and never as a call, e-mail or visit to the
# caller ("I'll ask Dr. Obi to ring you back" is a promise).
_PASSED = re.compile(
    r"^(?:tell|ask|remind|brief|warn|instruct|let)\s+"
    r"(?P<who>(?:the|our|your)\s+(?:[a-z]+\s+){0,2}?[a-z]+|(?-i:[A-Z][a-z'-]+))\s+"
    # an instruction ("to ...", "not to ...") or the caller's own wish ("know you'd like
    # ..."); "let the kitchen know Ethan is vegetarian" is news about someone else
    r"(?:know\s+)?(?:(?:that\s+)?(?=you\b)|(?:(?:not|never)\s+)?to\s+)(?P<what>.{6,160})$",
    re.IGNORECASE)
_TO_CALLER = re.compile(
    r"\b(?:call|ring|phone|email|e-mail|text|contact|write\s+to|get\s+back\s+to|visit|see)\s+"
    r"(?:you|yours)\b|\bin\s+touch\b|\bcome\s+(?:out|round|over)\b|\bpop\s+(?:in|round)\b"
    # a deed for the caller ("ask the warehouse to send a replacement") is a promise
    r"|\b(?:send|post|deliver|dispatch|refund|fix|repair|replace|order|quote|book)\b",
    re.IGNORECASE)
_STRONG = re.compile(
    r"\b(?:from\s+now\s+on|from\s+here\s+on|in\s+(?:the\s+)?future|going\s+forward|"
    r"every\s+time|each\s+time|as\s+standard|by\s+default|(?:from|starting\s+with)\s+"
    r"(?:your|the)\s+next\s+(?:bag|box|order|delivery|case|shipment|batch)|"
    r"(?:on|to)\s+(?:your|the)\s+(?:profile|account|file|record|notes)|"
    r"(?:your|all\s+your|future)\s+(?:orders|deliveries|visits|bookings|appointments|"
    r"lessons|cleans|collections|repeats|prescriptions))\b", re.IGNORECASE)
# "I'll only offer you appointments after 9:30": "only" as the verb's own limit.
_ONLY = re.compile(r"only\s+(?!be\b|need|take|have|ask)[a-z]+\s+", re.IGNORECASE)
_WISH = re.compile(r"\b(?:needs?|wants?|likes?|prefers?|would\s+like|rather|always|never|only|"
                   r"no|not|don't|doesn't|avoid|every|each)\b", re.IGNORECASE)
_WEAK = re.compile(r"\b(?:always|only|any\s+(?:new|future|more))\b", re.IGNORECASE)
# One visit, not a standing wish: a day, a date, a relative day, a deadline.
_ONE_TIME = re.compile(
    r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b(?!s)|\b\d{1,2}(?:st|nd|rd|th)\b|"
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december)\b|\b(?:today|tonight|tomorrow|this\s+(?:morning|afternoon|evening|week)|"
    r"next\s+week|later|shortly|soon|asap|right\s+away|straight\s+away|now)\b(?!\s+on)|"
    # a deadline; "before 2pm" with "only" is a standing limit, "before Friday" is not
    r"\b(?:by|within)\s+(?:the\s+)?(?:end|\d|[a-z]+day)|\bbefore\s+(?:the\s+end|[a-z]+day\b)",
    re.IGNORECASE)
_NOT_STANDING = re.compile(
    r"[$£€]|\b(?:refund|credit|charge|charged|fee|price|cost|pay|discount|voucher|"
    r"transfer|put\s+you\s+through|hold|cancel|check|look|find\s+out|see\s+what|"
    r"get\s+back|call\s+you\s+back|let\s+you\s+know)\b"
    r"|^(?:only\s+)?(?:be|need|take|have|ask|keep\s+you|just\s+be)\b", re.IGNORECASE)
# What says nothing by itself, or only that something was written down ("note Joy on
# your file" is the people rules' to read).
_VAGUE = re.compile(r"^(?:that|it|this|those|them|so|do\s+that|do\s+it|do\s+so|note|"
                    r"(?:make|add|put|leave)\s+(?:a\s+)?notes?|pass\s+(?:that|it|this)\s+on)\b",
                    re.IGNORECASE)
_OFFER = re.compile(r"\b(?:if|unless|would\s+you|do\s+you|shall|should|could|might|maybe|"
                    r"try)\b", re.IGNORECASE)
_USUAL = re.compile(
    r"^" + _ACK + r"(?P<what>[^,]{3,60}(?:,\s*[^,]{2,40})?),?\s+(?:as\s+(?:always|usual|ever)|"
    r"like\s+always|same\s+as\s+(?:always|usual|ever|last\s+time))[.!]*$", re.IGNORECASE)
# The agent's uptake said without a verb: "Mild for you from now on, Kelly.", "Strip wax
# only, Chloe, I've put it on your card.", "Invoices by email from now on."
_ECHO = re.compile(
    r"^" + _ACK + r"(?P<what>(?!(?:i|we|you|it|that|this|they|he|she|there|so|and|but|if|"
    r"see|speak|talk|bye|thanks?|no\s+problem|sure|just)\b)[a-z][\w'-]*(?:\s+[\w'-]+){0,5}?)"
    r"\s+(?P<mark>from\s+now\s+on|in\s+future|going\s+forward|every\s+time|as\s+standard|"
    r"only|ever|always)(?:,?\s+(?-i:[A-Z][\w'-]+))?"
    r"(?:(?:\s*[,;:.-]|\s+(?=(?:on|in|to|for|at)\s+(?:your|the)\b))\s*(?P<tail>.{0,60}))?$",
    re.IGNORECASE)
_STRONG_MARK = re.compile(r"now|future|forward|time|standard", re.IGNORECASE)
# What says the agent kept it: "I've put it on your card", "noted on your account" (a bare
# "noted" can mean only "heard").
_KEPT = re.compile(r"\b(?:(?:on|to)\s+(?:your|the)\s+(?:account|card|file|profile|notes?|"
                   r"record)|i(?:'ve|\s+have)\s+(?:put|added|noted|updated|set))\b",
                   re.IGNORECASE)
# A thing that recurs is a standing order, which the need rules read.
_RECURS = re.compile(r"\b(?:daily|weekly|fortnightly|monthly|yearly|every|each)\b", re.IGNORECASE)
# A refusal or the business's own rule: "Weekdays only, I'm afraid.", "Cash only."
_REFUSAL = re.compile(r"\b(?:afraid|sorry|unfortunately|can't|cannot|don't|won't|cash|card\s+"
                      r"payments?|open|closed|policy)\b", re.IGNORECASE)
_NOT_CONTENT = word_set("""the a an and or of to for in on at with your you i we it is are
be will ll my our me us as always only any new from now every each time just also make sure
no not that this there they them he she his her its can get got one""")
_WORD = re.compile(r"[a-z][a-z'-]+")
# Words every recurring need or booking holds: sharing them says nothing.
_GENERIC = word_set("""regularly usually every week weekly month monthly fortnight day year
gets get want wants needs need comes come in once twice caller caller's their them""")
#: Longest undertaking read, in words.
_MAX_WORDS = 20


def _content(text: str) -> set[str]:
    return {w.rstrip("s") for w in _WORD.findall(text.lower()) if w not in _NOT_CONTENT}


def _caller(phrase: str) -> str:
    # The fact is read back to the agent of a later call: "you" is the caller.
    phrase = re.sub(r"\byours\b", "the caller's", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\byour\b", "the caller's", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\byou(?:'d|\s+would)\s+like\b", "the caller would like", phrase,
                    flags=re.IGNORECASE)
    phrase = re.sub(r"\byou're\b", "the caller is", phrase, flags=re.IGNORECASE)
    # "you need lightweight frames" → "the caller needs lightweight frames"
    phrase = re.sub(r"\byou\s+(need|want|like|prefer|have|get|take|use|wear)\b",
                    r"the caller \1s", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\byou\b", "the caller", phrase, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", phrase).strip(" ,.")


def _undertaking(sentence: str, caller: set[str]) -> str | None:
    text = sentence.strip().rstrip(" .!")
    if not text or text.endswith("?") or "[redacted" in text or _OFFER.search(text):
        return None
    m = _UNDERTAKE.match(text)
    if not m:
        # "Our sweep will lay dust sheets down every time from now on": the business's
        # worker as the subject, only with a marker that it lasts.
        worker = _WORKER.match(text)
        if not worker or not _STRONG.search(text) or _ONE_TIME.search(text):
            return None
        what = worker.group("rest")
        if _VAGUE.match(what) or _NOT_STANDING.search(what) or len(what.split()) > _MAX_WORDS:
            return None
        return AGREED_LABEL + _caller(f"{worker.group('who').lower()} will {what}")
    rest = m.group("rest")
    passed = _PASSED.match(rest)
    if passed:
        what = passed.group("what")
        # Money and in-call actions in who and what; not the verbs that open a clause,
        # which _NOT_STANDING reads at its start ("ask", "take" are the instruction here).
        if (_TO_CALLER.search(what) or _ONE_TIME.search(rest)
                or _NOT_STANDING.search(f"{passed.group('who')} {what}")
                or len(what.split()) > _MAX_WORDS or not _content(what) & caller):
            return None
        return AGREED_LABEL + _caller(rest)
    head = _HEAD.match(rest)
    noted = bool(head and _NOTE_HEAD.search(head.group(0)))
    what = rest[head.end():] if head else rest
    if (_VAGUE.match(what) or _NOT_STANDING.search(what) or _ONE_TIME.search(rest)
            or not 2 <= len(what.split()) <= _MAX_WORDS):
        return None
    if noted and not _WISH.search(what):
        return None  # "I'll note that Dave will be home" is news, not a wish
    # "always" and "only" are also a business's policy: the caller must have said it.
    if not (noted or _STRONG.search(rest) or _ONLY.match(what)) and (
            not _WEAK.search(rest) or not _content(what) & caller):
        return None
    return AGREED_LABEL + _caller(what)


def _usual(sentence: str, caller: set[str]) -> str | None:
    m = _USUAL.match(sentence.strip())
    if not m or _ONE_TIME.search(m.group("what")) or "[redacted" in sentence:
        return None
    what = m.group("what").strip(" ,")
    if not _content(what) & caller or re.match(r"(?:i|we|you)\b", what, re.IGNORECASE):
        return None
    return f"Usually has: {what}"


def _echoed(sentence: str, caller: set[str]) -> str | None:
    text = sentence.strip().rstrip(" .!")
    m = _ECHO.match(text)
    if (not m or "[redacted" in text or _OFFER.search(text) or _ONE_TIME.search(text)
            or _REFUSAL.search(text) or _NOT_STANDING.search(m.group("what"))
            or _RECURS.search(m.group("what"))):
        return None
    what, mark = m.group("what"), m.group("mark")
    # "only", "ever", "always" are also a business's own rule: kept only when the agent
    # says where it kept it.
    if not _STRONG_MARK.search(mark) and not _KEPT.search(m.group("tail") or ""):
        return None
    return AGREED_LABEL + _caller(f"{what} {mark.lower()}")


def _restated(t: TurnView, found: list[Candidate]) -> list[Candidate]:
    # "i need a van every saturday" + "I'll reserve a van every Saturday": one arrangement,
    # which the agent's sentence states as agreed; the caller's wording is a duplicate.
    base = len(t.user)
    agent = [_content(c.text) for c in found
             if c.kind in ("commitment", "need") and c.position[1] >= base]
    if not agent:
        return found
    return [c for c in found if not (
        c.kind == "need" and c.position[1] < base
        and any((_content(c.text) - _GENERIC) & words for words in agent))]


def undertaken(t: TurnView, found: list[Candidate]) -> list[Candidate]:
    """``found``, the candidates of turn ``t``, with the agent's standing undertakings
    read: a promise read from such a sentence is dropped, and the sentence becomes a
    preference unless a rule already read a wish of the caller's in the turn. A recurring
    need in the caller's words that the agent's arrangement restates is dropped."""
    found = _restated(t, found)
    low = t.agent.lower()
    if not t.agent or not ("'ll" in low or " will " in low or "going to" in low
                           or " as " in low or "like always" in low or "from now" in low
                           or "only" in low or "ever" in low or "future" in low
                           or "forward" in low or "always" in low or "every time" in low):
        return found  # every shape holds one of these; most replies hold none
    caller = _content(t.user)
    base = len(t.user)  # the agent spoke after the caller
    # A wish the rules read in the caller's words, or in the agent's ("noted" echoes); a
    # promise that recurs is a need read from the agent and does not count.
    wished = any(c.kind in WISH_KINDS and (c.kind != "need" or c.position[1] < base)
                 for c in found)
    out = list(found)
    for offset, sentence in sentences(t.agent):
        start, end = base + offset, base + offset + len(sentence)
        text = (_undertaking(sentence, caller) or _usual(sentence, caller)
                or _echoed(sentence, caller))
        if text is None:
            continue
        out = [c for c in out if not (c.kind in ("commitment", "need")
                                      and start <= c.position[1] < end)]
        if not wished:
            out.append(t.candidate(text, "preference", None, 0.6, start))
            wished = True
    return out
