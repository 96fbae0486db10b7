"""Sensitive-data detector: payment cards, passwords and PINs, government ids, health.

One detector serves two places: the write path redacts raw transcripts with it before
they are stored (SPEC §6.8), and both extractors drop any fact it flags (SPEC §6.3). It is
pure regular-expression work, compiled once at import, so a 64 KB turn is scanned in a
few milliseconds.

Example::

    >>> from voxmem.extraction.sensitive import redact
    >>> redact("card is 4111 1111 1111 1111 and my pin is 4432")
    'card is [redacted:payment_card] and my pin is [redacted:password_pin]'

What each category catches:

- ``payment_card``: 13-19 digits, optionally grouped with spaces, dashes or dots (or
  spoken as words), that pass the Luhn check, and IBANs that pass the mod-97 check
  (``_cards.py``). A Luhn-invalid order number is left alone. The first digits of a card
  that end a turn ("my card is 4111 1111") are redacted one level up, with the rest in
  the next turn.
- ``password_pin``: the value after "password", "PIN", "passcode", "security code",
  "CVV", "verification code", "gate code", "security answer", "mother's maiden name".
- ``government_id``: US social security numbers (the dashed 3-2-4 form anywhere; other
  forms after "social", "SSN"), UK National Insurance numbers, passport and driving
  licence numbers after those words.
- ``health``: a condition, a medication, a treatment, a pregnancy, a disability or an
  allergy named in a clause about a person ("i have diabetes", "i'm on insulin", "refill
  my lisinopril", "i have a herniated disc"). Only that span is redacted, so the rest of
  the sentence ("every month at the elm street pharmacy") is still remembered; a pet's
  health ("my dog biscuit is allergic to chicken") is not the caller's and is kept.
  Allergies count as health data (they are under GDPR art. 9); a deployment that must
  remember them turns ``health`` off in its policy.

Conversation context (the agent just asked for a PIN, so "nine three one seven" is one)
is handled one level up, in :mod:`voxmem.extraction.redaction`.
"""

from __future__ import annotations

import dataclasses
import re

from .._exceptions import BadRequest
from ._cards import find_card_spans, luhn_valid
from ._health import find_health_spans
from ._scan import Scan, triggers, wordset
from ._text import fold_for_detection, spoken_number_runs

__all__ = [
    "CATEGORIES",
    "DEFAULT_POLICY",
    "Finding",
    "SensitivePolicy",
    "find_sensitive",
    "is_sensitive",
    "luhn_valid",
    "redact",
]

CATEGORIES: tuple[str, ...] = ("payment_card", "password_pin", "government_id", "health")

#: Default placeholder written in place of a redacted span.
DEFAULT_PLACEHOLDER = "[redacted:{category}]"


@dataclasses.dataclass(frozen=True)
class SensitivePolicy:
    """Which categories count as sensitive, and what a redaction looks like.

    Every category is on by default. ``placeholder`` is a format string; ``{category}``
    is replaced by the category name.

    ``allergy_constraints`` (on by default) lets an extractor keep a caller's declared
    allergy as a ``constraint`` fact ("Allergic to penicillin") although ``health`` is
    on: it is a safety constraint the caller states so that it is acted on. The
    transcript itself is still redacted, and no other health detail becomes a fact. Set
    it to ``False`` where no health data at all may be stored.

    Example::

        policy = SensitivePolicy(health=False, placeholder="***")
        redact("my pin is 4432, i'm on insulin", policy)
        # 'my pin is ***, i'm on insulin'
    """

    payment_card: bool = True
    password_pin: bool = True
    government_id: bool = True
    health: bool = True
    placeholder: str = DEFAULT_PLACEHOLDER
    allergy_constraints: bool = True

    def __post_init__(self) -> None:
        try:
            self.placeholder.format(category="payment_card")
        except (KeyError, IndexError, ValueError) as exc:
            raise BadRequest(
                f"SensitivePolicy.placeholder {self.placeholder!r} is not a valid format "
                "string; use only the {category} field, e.g. '[redacted:{category}]'",
                field="placeholder",
            ) from exc

    def enabled(self, category: str) -> bool:
        """Whether ``category`` (one of :data:`CATEGORIES`) is detected under this policy."""
        return bool(getattr(self, category, False))


DEFAULT_POLICY = SensitivePolicy()


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One sensitive span: ``text[start:end]`` belongs to ``category``."""

    category: str
    start: int
    end: int


# --- passwords, PINs, codes --------------------------------------------------------------

_SPOKEN_DIGIT = r"(?:zero|one|two|three|four|five|six|seven|eight|nine|oh)"
_SECRET_KEY = (
    r"(?:pass\s?words?|pass\s?codes?|pins?(?:\s(?:number|code))?|"
    r"security\s(?:code|answer|question\sanswer|pin)|cvv2?|cvc|csc|"
    r"verification\scode|one[-\s]time\s(?:code|password|passcode|pin)|otp|"
    r"(?:three|four|five|six|3|4|5|6)[-\s]digit\s(?:code|number|pin)|"
    r"code\s(?:on\s(?:the\s)?(?:back|front|card)|(?:that\s)?you\s(?:just\s)?(?:sent|texted|emailed)"
    r"|i\s(?:just\s)?(?:got|received)|(?:that\s)?(?:came|come)\sthrough|in\sthe\s(?:text|email))|"
    r"(?:access|gate|door|alarm|entry|garage|lock\s?box|unlock)\scode|"
    r"(?:mother'?s\s)?maiden\sname)"
)
_SECRET_TRIGGERS = triggers(
    "password passwords passcode passcodes pass pin pins code codes cvv cvv2 cvc csc otp "
    "maiden answer password's passcode's pin's code's digit"
)
_SECRET_VALUE = (
    rf"(?:{_SPOKEN_DIGIT}(?:[\s,-]+{_SPOKEN_DIGIT}){{2,}}|\d[\d\s-]*\d|"
    r"[\"']?[^\s,;!?\"']*[^\s,;!?.\"'][\"']?)"
)
# "my password is X", "the passcode for the gate is X", "PIN: X".
_SECRET_IS = re.compile(
    rf"\b{_SECRET_KEY}(?:'s|\b(?:\s+(?!is\b|was\b)[\w']+){{0,5}}?\s*(?:is|was|=|:|are))\s+"
    rf"(?:(?:it's|its|like|just)\s+)?(?P<value>{_SECRET_VALUE})"
)
# "PIN 4321", "security code 913": a key directly followed by digits.
_SECRET_DIGITS = re.compile(
    rf"\b{_SECRET_KEY}\b[\s:#]*(?:number\s)?(?P<value>\d[\d\s-]{{1,10}}\d|"
    rf"{_SPOKEN_DIGIT}(?:[\s,-]+{_SPOKEN_DIGIT}){{2,}})"
)
# "4432 is my pin".
_SECRET_BEFORE = re.compile(
    rf"(?P<value>\b\d{{3,12}}\b|\b[\w!@#$%^&*]{{4,40}})\s+(?:is|was)\s+(?:my|the|our)\s+"
    rf"(?:new\s|old\s)?{_SECRET_KEY}\b"
)
# Words that follow "password is" without being the password.
_NOT_A_SECRET = wordset(
    """not wrong incorrect expired locked reset invalid correct right the a an same
    different too very so still being changed case what that this it working blocked
    required needed fine ok okay good weak strong saved stored on in my your which where
    there here below above number code verified confirmed set updated accepted valid
    about for sent going"""
)


# "pass is qwerty123", "my pass is hunter2": "pass" alone is too common a word ("boarding
# pass", "bus pass") to key on, so the value must look like a password (a digit in it).
_PASS_IS = re.compile(
    r"\b(?:pass|pw|pwd|login)(?:'s|\s+(?:is|was|=|:))\s+(?:(?:it's|its|like|just)\s+)?"
    r"(?P<value>[^\s,;!?\"']*\d[^\s,;!?\"']*)"
)
_PASS_TRIGGERS = triggers("pass pass's pw pwd login login's")


def _find_secrets(scan: Scan) -> list[Finding]:
    found: list[Finding] = []
    for start, end in scan.windows(_SECRET_TRIGGERS, before=60, after=140):
        for pattern in (_SECRET_IS, _SECRET_DIGITS, _SECRET_BEFORE):
            for m in pattern.finditer(scan.low, start, end):
                if m.group("value").strip("\"'") in _NOT_A_SECRET:
                    continue
                found.append(Finding("password_pin", m.start("value"), m.end("value")))
    if scan.digit_count:
        for start, end in scan.windows(_PASS_TRIGGERS, before=5, after=80):
            found.extend(Finding("password_pin", m.start("value"), m.end("value"))
                         for m in _PASS_IS.finditer(scan.low, start, end))
    return found


# --- government ids ----------------------------------------------------------------------

_SSN_DASHED = re.compile(r"\d{3}-\d{2}-\d{4}")
_SSN_CONTEXT = re.compile(
    r"\b(?:social\s+security(?:\s+(?:number|no\.?|#))?|social|ssn|ss\s?#|ss\s+number|"
    r"tax\s+id|itin|sin\s+number)\b(?:\s+[\w']+){0,4}?[\s:#]*"
    r"(?P<value>\d{3}[\s.-]?\d{2}[\s.-]?\d{4})(?!\d)"
)
_NI_STRICT = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_NI_CONTEXT = re.compile(
    r"\b(?:national\s+insurance|n\.?i\.?|nino)(?:\s+(?:number|no\.?|#))?\b(?:\s+[\w']+){0,3}?"
    r"[\s:#]*(?P<value>[a-z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[a-d])\b"
)
_DOC_CONTEXT = re.compile(
    r"\b(?:passport|driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|licen[cs]e|id\s+card|"
    r"national\s+id|travel\s+document|document)(?:\s+(?:number|no\.?|num|#))?\b(?:\s+[\w']+){0,3}?[\s:#]*"
    r"(?P<value>(?=[a-z0-9-]*\d)[a-z0-9][a-z0-9-]{4,17})\b"
)
_GOV_TRIGGERS = triggers(
    "social ssn ss tax itin sin insurance ni nino passport licence license driver's "
    "drivers driving id national document"
)


def _bounded(text: str, start: int, end: int, extra: str = "") -> bool:
    """True when ``text[start:end]`` is not glued to more letters, digits or ``extra``."""
    return (start == 0 or not (text[start - 1].isalnum() or text[start - 1] in extra)) and (
        end == len(text) or not (text[end].isalnum() or text[end] in extra)
    )


def _valid_ssn(dashed: str) -> bool:
    """The SSA never issues area 000, 666 or 9xx, group 00 or serial 0000."""
    area, group, serial = dashed.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _find_government_ids(scan: Scan) -> list[Finding]:
    found: list[Finding] = []
    text = scan.text
    if scan.digit_count >= 9 and "-" in text:
        found.extend(
            Finding("government_id", m.start(), m.end())
            for m in _SSN_DASHED.finditer(text)
            if _valid_ssn(m.group()) and _bounded(text, m.start(), m.end(), extra="-")
        )
    if scan.digit_count >= 6:
        found.extend(
            Finding("government_id", m.start(), m.end())
            for m in _NI_STRICT.finditer(text)
            if _bounded(text, m.start(), m.end())
        )
    for start, end in scan.windows(_GOV_TRIGGERS, before=5, after=80):
        found.extend(Finding("government_id", start + s, start + e) for s, e, _digits
                     in spoken_number_runs(text[start:end + 40], 9, 9))  # words, read out
        for pattern in (_SSN_CONTEXT, _NI_CONTEXT, _DOC_CONTEXT):
            found.extend(
                Finding("government_id", m.start("value"), m.end("value"))
                for m in pattern.finditer(scan.low, start, end)
            )
    return found


# --- health ------------------------------------------------------------------------------


def _find_health(scan: Scan) -> list[Finding]:
    return _find_health_in(scan, about_caller=False)


def _find_health_in(scan: Scan, *, about_caller: bool) -> list[Finding]:
    return [Finding("health", start, end)
            for start, end in find_health_spans(scan, about_caller=about_caller)]


def _find_cards(scan: Scan) -> list[Finding]:
    return [Finding("payment_card", start, end) for start, end in find_card_spans(scan)]


# --- public API --------------------------------------------------------------------------

_DETECTORS = (
    ("payment_card", _find_cards),
    ("password_pin", _find_secrets),
    ("government_id", _find_government_ids),
    ("health", _find_health),
)


def find_sensitive(
    text: str, policy: SensitivePolicy = DEFAULT_POLICY, *, about_caller: bool = False
) -> list[Finding]:
    """Every sensitive span in ``text`` under ``policy``, sorted, non-overlapping.

    In a transcript a health word counts only in a clause about a person ("i have
    diabetes", not "diabetes affects millions"). Pass ``about_caller=True`` for text that
    is about the caller by construction, such as an extracted fact ("Has diabetes").

    Overlapping findings are merged; the merged span keeps the category of the finding
    that starts first (a card number inside a health clause is reported once).

    Example::

        >>> find_sensitive("my social is 123-45-6789")
        [Finding(category='government_id', start=13, end=24)]
    """
    if not text:
        return []
    scan = Scan(fold_for_detection(text))
    findings: list[Finding] = []
    for category, detect in _DETECTORS:
        if policy.enabled(category):
            found = _find_health_in(scan, about_caller=True) if (
                about_caller and category == "health") else detect(scan)
            findings.extend(f for f in found if f.end > f.start)
    if not findings:
        return []
    findings.sort(key=lambda f: (f.start, -f.end))
    merged = [findings[0]]
    for f in findings[1:]:
        last = merged[-1]
        if f.start < last.end:
            if f.end > last.end:
                merged[-1] = Finding(last.category, last.start, f.end)
        else:
            merged.append(f)
    return merged


def redact(
    text: str, policy: SensitivePolicy = DEFAULT_POLICY, *, about_caller: bool = False
) -> str:
    """``text`` with every sensitive span replaced by the policy's placeholder.

    Everything outside the spans is left exactly as it was.

    Example::

        >>> redact("my password is bluefish42, thanks")
        'my password is [redacted:password_pin], thanks'
    """
    findings = find_sensitive(text, policy, about_caller=about_caller)
    if not findings:
        return text
    out: list[str] = []
    last = 0
    for f in findings:
        out.append(text[last:f.start])
        out.append(policy.placeholder.format(category=f.category))
        last = f.end
    out.append(text[last:])
    return "".join(out)


def is_sensitive(
    text: str, policy: SensitivePolicy = DEFAULT_POLICY, *, about_caller: bool = False
) -> bool:
    """Whether ``text`` has anything sensitive under ``policy`` (see :func:`find_sensitive`)."""
    return bool(find_sensitive(text, policy, about_caller=about_caller))
