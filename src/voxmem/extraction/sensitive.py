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

- ``payment_card``: 13-19 digits, optionally grouped with spaces or dashes (or spoken as
  words), that pass the Luhn check. A Luhn-invalid order number is left alone.
- ``password_pin``: the value after "password", "PIN", "passcode", "security code",
  "CVV", "verification code", "gate code", "security answer", "mother's maiden name".
- ``government_id``: US social security numbers (the dashed 3-2-4 form anywhere; other
  forms after "social", "SSN"), UK National Insurance numbers, passport and driving
  licence numbers after those words.
- ``health``: a clause that ties a person to a condition, a medication, a treatment, a
  pregnancy, a disability or an allergy ("i have diabetes", "i'm on insulin", "my HIV
  status"). The whole clause is redacted, because the condition *is* the sensitive
  value. Allergies count as health data (they are under GDPR art. 9); a deployment that
  must remember them turns ``health`` off in its policy.
"""

from __future__ import annotations

import bisect
import dataclasses
import re

from .._exceptions import BadRequest
from ._text import digit_word_runs

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


# --- payment cards -----------------------------------------------------------------------

# A run of digit groups separated by single spaces or dashes. Card windows are cut out of
# runs at group boundaries, so "call 503 555 0142" next to a card does not hide the card.
_DIGIT_GROUPS = re.compile(r"(?<![\d.,])\d+(?:[ -]\d+)*(?![\d])")
_CARD_MIN, _CARD_MAX = 13, 19


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _find_cards(text: str) -> list[Finding]:
    found: list[Finding] = []
    for run in _DIGIT_GROUPS.finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start(), m.group())
                  for m in re.finditer(r"\d+", run.group())]
        total = sum(len(g[2]) for g in groups)
        if total < _CARD_MIN:
            continue
        taken_until = -1
        for i in range(len(groups)):
            if groups[i][0] < taken_until:
                continue
            digits = ""
            # Prefer the longest window from this group that is a valid card number.
            best_end = -1
            for j in range(i, len(groups)):
                digits += groups[j][2]
                if len(digits) > _CARD_MAX:
                    break
                if len(digits) >= _CARD_MIN and luhn_valid(digits):
                    best_end = groups[j][1]
            if best_end > 0:
                found.append(Finding("payment_card", groups[i][0], best_end))
                taken_until = best_end
    # Card numbers read out digit by digit ("four one one one ...").
    for start, end, digits in digit_word_runs(text, _CARD_MIN):
        if len(digits) <= _CARD_MAX and luhn_valid(digits):
            found.append(Finding("payment_card", start, end))
    return found


# --- passwords, PINs, codes --------------------------------------------------------------

_SPOKEN_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_SECRET_KEY = (
    r"(?:pass\s?words?|pass\s?codes?|pins?(?:\s(?:number|code))?|"
    r"security\s(?:code|answer|question\sanswer|pin)|cvv2?|cvc|csc|"
    r"verification\scode|one[-\s]time\s(?:code|password|passcode)|otp|"
    r"(?:access|gate|door|alarm|entry|garage|lock\s?box|unlock)\scode|"
    r"(?:mother'?s\s)?maiden\sname)"
)
_SECRET_VALUE = (
    rf"(?:{_SPOKEN_DIGIT}(?:[\s,-]+{_SPOKEN_DIGIT}){{2,}}|\d[\d\s-]*\d|"
    r"[\"']?[^\s,;!?\"']*[^\s,;!?.\"'][\"']?)"
)
# "my password is X", "the passcode for the gate is X", "PIN: X".
_SECRET_IS = re.compile(
    rf"\b{_SECRET_KEY}\b(?:\s+(?!is\b|was\b)[\w']+){{0,5}}?\s*"
    rf"(?:is|was|=|:|'s|are)\s+(?:(?:it's|its|like|just)\s+)?(?P<value>{_SECRET_VALUE})",
    re.IGNORECASE,
)
# "PIN 4321", "security code 913": a key directly followed by digits.
_SECRET_DIGITS = re.compile(
    rf"\b{_SECRET_KEY}\b[\s:#]*(?:number\s)?(?P<value>\d[\d\s-]{{1,10}}\d|"
    rf"{_SPOKEN_DIGIT}(?:[\s,-]+{_SPOKEN_DIGIT}){{2,}})",
    re.IGNORECASE,
)
# "4432 is my pin".
_SECRET_BEFORE = re.compile(
    rf"(?P<value>\b\d{{3,12}}\b|\b[\w!@#$%^&*]{{4,40}})\s+(?:is|was)\s+(?:my|the|our)\s+"
    rf"(?:new\s|old\s)?{_SECRET_KEY}\b",
    re.IGNORECASE,
)
# Words that follow "password is" without being the password.
_NOT_A_SECRET = frozenset(
    """not wrong incorrect expired locked reset invalid correct right the a an same
    different too very so still being changed case what that this it working blocked
    required needed fine ok okay good weak strong saved stored on in my your""".split()
)


def _find_secrets(text: str) -> list[Finding]:
    found: list[Finding] = []
    for pattern in (_SECRET_IS, _SECRET_DIGITS, _SECRET_BEFORE):
        for m in pattern.finditer(text):
            value = m.group("value")
            if value.strip("\"'").lower() in _NOT_A_SECRET:
                continue
            found.append(Finding("password_pin", m.start("value"), m.end("value")))
    return found


# --- government ids ----------------------------------------------------------------------

_SSN_DASHED = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_SSN_CONTEXT = re.compile(
    r"\b(?:social\s+security(?:\s+(?:number|no\.?|#))?|social|ssn|ss\s?#|ss\s+number|"
    r"tax\s+id|itin|sin\s+number)\b(?:\s+[\w']+){0,4}?[\s:#]*"
    r"(?P<value>\d{3}[\s.-]?\d{2}[\s.-]?\d{4})(?!\d)",
    re.IGNORECASE,
)
_NI_STRICT = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")
_NI_CONTEXT = re.compile(
    r"\b(?:national\s+insurance|n\.?i\.?|nino)(?:\s+(?:number|no\.?|#))?\b(?:\s+[\w']+){0,3}?"
    r"[\s:#]*(?P<value>[a-z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[a-d])\b",
    re.IGNORECASE,
)
_DOC_CONTEXT = re.compile(
    r"\b(?:passport|driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|licen[cs]e|id\s+card|"
    r"national\s+id)(?:\s+(?:number|no\.?|num|#))?\b(?:\s+[\w']+){0,3}?[\s:#]*"
    r"(?P<value>(?=[a-z0-9-]*\d)[a-z0-9][a-z0-9-]{4,17})\b",
    re.IGNORECASE,
)


def _find_government_ids(text: str) -> list[Finding]:
    found = [Finding("government_id", m.start(), m.end()) for m in _SSN_DASHED.finditer(text)]
    found.extend(Finding("government_id", m.start(), m.end()) for m in _NI_STRICT.finditer(text))
    for pattern in (_SSN_CONTEXT, _NI_CONTEXT, _DOC_CONTEXT):
        found.extend(
            Finding("government_id", m.start("value"), m.end("value"))
            for m in pattern.finditer(text)
        )
    return found


# --- health ------------------------------------------------------------------------------

_HEALTH_TERMS = r"""
    (?:pre-?)?diabet(?:es|ic) | cancer | tumou?rs? | leuka?emia | lymphoma | chemo(?:therapy)? |
    radiation\stherapy | hiv | aids | hepatitis | herpes | std | sti | asthma(?:tic)? | copd |
    epilep(?:sy|tic) | seizures? | stroke | heart\s(?:attack|condition|disease|failure) |
    (?:high|low)\sblood\spressure | blood\spressure | hypertension | cholesterol | arthritis |
    c(?:o)?eliac | crohn'?s | colitis | ibs | kidney\s(?:disease|failure|stones?) | dialysis |
    transplant | multiple\ssclerosis | parkinson'?s | alzheimer'?s | dementia | autis(?:m|tic) |
    adhd | depression | depressed | anxiety | panic\sattacks? | bipolar | schizophreni\w* |
    ptsd | ocd | eating\sdisorder | anorexi\w* | bulimi\w* | addiction | addicted | alcoholic |
    rehab | therapy | therapist | psychiatrist | counsell?ing | disabilit(?:y|ies) | disabled |
    wheelchair | crutches | hearing\saids? | pregnan(?:t|cy) | miscarriage | ivf | fertility |
    surgery | injur(?:y|ies|ed) | broken\s(?:leg|arm|wrist|ankle|hip|foot) | bad\sback |
    back\spain | chronic\spain | migraines? | covid | allerg(?:y|ies|ic) | lactose\sintolerant |
    intoleran(?:t|ce) | diagnos(?:ed|is|es) | prescriptions? | prescribed | medications? | meds |
    pills | insulin | metformin | warfarin | lithium | methadone | antidepressants? | inhaler |
    epipen | hospice | hospitali[sz]ed | (?:i'm|i\sam|im)\s(?:blind|deaf|sick\swith)
"""
_HEALTH = re.compile(rf"\b(?:{_HEALTH_TERMS})\b", re.IGNORECASE | re.VERBOSE)
# A health word only matters when the clause is about a person ("my", "i have", "he's").
_PERSONAL = re.compile(
    r"\b(?:i|i'm|im|i've|ive|i'd|me|my|mine|myself|we|we're|our|us|he|she|he's|she's|his|"
    r"her|him|their|they're|you|your|you're)\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(
    r"[.!?;,\n]|\b(?:but|so|because|though|although|however|anyway)\b", re.IGNORECASE
)


def _find_health(text: str) -> list[Finding]:
    hits = list(_HEALTH.finditer(text))
    if not hits:
        return []
    breaks = list(_CLAUSE_BREAK.finditer(text))
    starts = [b.start() for b in breaks]
    found: list[Finding] = []
    for hit in hits:
        i = bisect.bisect_right(starts, hit.start())
        clause_start = breaks[i - 1].end() if i > 0 else 0
        j = bisect.bisect_left(starts, hit.end())
        clause_end = starts[j] if j < len(starts) else len(text)
        clause = text[clause_start:clause_end]
        if not _PERSONAL.search(clause):
            continue
        lead = len(clause) - len(clause.lstrip())
        tail = len(clause.rstrip())
        found.append(Finding("health", clause_start + lead, clause_start + tail))
    return found


# --- public API --------------------------------------------------------------------------

_DETECTORS = (
    ("payment_card", _find_cards),
    ("password_pin", _find_secrets),
    ("government_id", _find_government_ids),
    ("health", _find_health),
)


def find_sensitive(text: str, policy: SensitivePolicy = DEFAULT_POLICY) -> list[Finding]:
    """Every sensitive span in ``text`` under ``policy``, sorted, non-overlapping.

    Overlapping findings are merged; the merged span keeps the category of the finding
    that starts first (a card number inside a health clause is reported once).

    Example::

        >>> find_sensitive("my social is 123-45-6789")
        [Finding(category='government_id', start=13, end=24)]
    """
    if not text:
        return []
    findings: list[Finding] = []
    for category, detect in _DETECTORS:
        if policy.enabled(category):
            findings.extend(f for f in detect(text) if f.end > f.start)
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


def redact(text: str, policy: SensitivePolicy = DEFAULT_POLICY) -> str:
    """``text`` with every sensitive span replaced by the policy's placeholder.

    Everything outside the spans is left exactly as it was.

    Example::

        >>> redact("my password is bluefish42, thanks")
        'my password is [redacted:password_pin], thanks'
    """
    findings = find_sensitive(text, policy)
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


def is_sensitive(text: str, policy: SensitivePolicy = DEFAULT_POLICY) -> bool:
    """Whether ``text`` contains anything sensitive under ``policy``."""
    return bool(find_sensitive(text, policy))
