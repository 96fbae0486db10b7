"""Identifier kinds, their strength, their normal form, and the ones a caller says aloud.

Strength decides what an identifier may do on its own:

* **strong** (phone, e-mail, account / customer / policy number, external id, LiveKit
  identity): one owner is enough to link a call to a caller;
* **corroborating** (order, invoice, ticket numbers): links only together with a name
  that matches the owner's ("this is John, the one who called about invoice 4421");
* **weak** (a name): never links on its own;
* **call** (SIP call id): identifies one call, never a person; kept for the record.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

from .._exceptions import BadRequest
from ._format_chars import reorders, without_format_chars
from ._phone import normalize_phone
from ._speech import normalize_email, spoken_to_digits

__all__ = [
    "FIND_KINDS",
    "IDENTIFIER_KINDS",
    "METADATA_KINDS",
    "STRENGTH",
    "IdentifierKind",
    "SpokenClaims",
    "Strength",
    "checked_identifier",
    "normalize_identifier",
    "spoken_claims",
    "strength_of",
]

IdentifierKind = Literal["phone", "email", "account", "policy", "external_id",
                         "livekit_identity", "order", "invoice", "ticket", "name",
                         "sip_call_id"]
Strength = Literal["strong", "corroborating", "weak", "call"]

STRENGTH: dict[str, Strength] = {
    "phone": "strong", "email": "strong", "account": "strong", "policy": "strong",
    "external_id": "strong", "livekit_identity": "strong",
    "order": "corroborating", "invoice": "corroborating", "ticket": "corroborating",
    "name": "weak", "sip_call_id": "call",
}
IDENTIFIER_KINDS: tuple[str, ...] = tuple(STRENGTH)
#: Caller metadata keys that carry an identifier, and its kind.
METADATA_KINDS: dict[str, str] = {
    "phone": "phone", "phone_number": "phone", "email": "email", "account": "account",
    "account_number": "account", "customer_id": "account", "policy": "policy",
    "policy_number": "policy", "external_id": "external_id", "crm_id": "external_id",
    "livekit_identity": "livekit_identity", "sip_call_id": "sip_call_id",
}
#: Kinds a free-text caller search tries, in order.
FIND_KINDS: tuple[str, ...] = ("phone", "email", "account", "policy", "invoice", "order",
                               "ticket", "external_id", "livekit_identity", "name")
#: Stored strength per class (a number, so a later source can raise it).
STRENGTH_SCORE: dict[Strength, float] = {"strong": 1.0, "corroborating": 0.6, "weak": 0.2,
                                         "call": 0.0}
_REFERENCE_KINDS = frozenset({"account", "policy", "order", "invoice", "ticket"})
# External ids, LiveKit identities, SIP call ids: exact, as the system sent them (and
# any kind not listed, which the caller of normalize_identifier checks).
_EXACT_KINDS = frozenset({"external_id", "livekit_identity", "sip_call_id"})
# "INV-4421", "TK 8842", "#4421": a short letter prefix before the digits is how a system
# prints the number, not part of what a caller says; both forms normalise to the digits.
# Words said around a reference number that are not part of it ("account number is ...").
_REFERENCE_WORDS = frozenset({
    "account", "acct", "customer", "member", "membership", "client", "policy", "invoice",
    "bill", "order", "ticket", "case", "incident", "reference", "ref", "number", "no", "num",
    "id", "is", "it", "its", "s", "my", "the", "about", "for", "was", "code"})
_PREFIXED = re.compile(r"^[A-Z]{1,4}(\d{3,})$")


def strength_of(kind: str) -> Strength:
    return STRENGTH.get(kind, "weak")


def normalize_identifier(kind: str, raw: str, default_region: str | None = "US") -> str | None:
    """The normal form of identifier ``raw`` of ``kind``, or None when it is not one.

    Example::

        normalize_identifier("phone", "(510) 555-0100")              # '+15105550100'
        normalize_identifier("invoice", "four four two one")         # '4421'
        normalize_identifier("invoice", "INV-4421")                  # '4421'
        normalize_identifier("email", "j o h n at gmail dot com")    # 'john@gmail.com'

    Unicode format characters (zero-width, bidi controls) are dropped, and a control
    that can display the identifier in another order than it reads refuses it
    (``_format_chars``); kinds taken exactly keep the invisible ones as sent.
    """
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    if kind == "phone":
        return normalize_phone(text, default_region)
    if kind in _EXACT_KINDS:
        # Exact, as the system sent them (and stored so): only a reordering is refused.
        return None if reorders(text) else text
    cleaned = without_format_chars(text, refuse_reordering=kind != "name")
    if cleaned is None or not cleaned.strip():
        return None
    text = cleaned.strip()
    if kind == "email":
        return normalize_email(text)
    if kind == "name":
        words = re.findall(r"[^\W\d_]+(?:['-][^\W\d_]+)*", text.lower())
        return " ".join(words) or None
    if kind in _REFERENCE_KINDS:
        words = re.findall(r"[A-Za-z0-9]+", spoken_to_digits(text))
        compact = "".join(w for w in words if w.lower() not in _REFERENCE_WORDS).upper()
        if not compact or not any(c.isdigit() for c in compact):
            return None
        prefixed = _PREFIXED.match(compact)
        value = prefixed.group(1) if prefixed else compact
        return value if len(value) >= 3 else None
    return text


# --- what a caller says --------------------------------------------------------------------

_NUMBER = r"(?:number|no\.?|num|#|id)?[\s,:]*(?:is|was|it's|it\s+is)?[\s:]*"
_REFERENCE = r"([A-Za-z]{0,4}[\s-]?\d[\d\s-]{2,})"
# (kind, the words one of which starts every match of the pattern, the pattern). The
# words let a turn skip a pattern it cannot match (see _claims).
_CLAIM_PATTERNS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    ("account", ("account", "acct", "customer", "member", "client"),
     re.compile(r"\b(?:account|acct|customer|member(?:ship)?|client)\s*" + _NUMBER
                + _REFERENCE, re.I)),
    ("policy", ("policy",), re.compile(r"\bpolicy\s*" + _NUMBER + _REFERENCE, re.I)),
    ("invoice", ("invoice", "bill"),
     re.compile(r"\b(?:invoice|bill)\s*" + _NUMBER + _REFERENCE, re.I)),
    ("order", ("order",), re.compile(r"\border\s*" + _NUMBER + _REFERENCE, re.I)),
    ("ticket", ("ticket", "case", "incident", "reference", "ref"),
     re.compile(r"\b(?:ticket|case|incident|reference|ref)\s*" + _NUMBER + _REFERENCE,
                re.I)),
    # "reach", "call": the pattern's "reach me" may meet a "reach  me" the number
    # rewrite respaced.
    ("phone", ("phone", "mobile", "cell", "number", "reach", "call"),
     re.compile(r"\b(?:phone|mobile|cell|number|reach me|call me)\b[^\d+]{0,20}"
                r"(\+?\d[\d\s().-]{6,20}\d)", re.I)),
)
# Every claim pattern starts with one of these words (spoken numbers keep them: the
# rewrite to digits only changes number words).
_CLAIM_WORDS = ("account", "acct", "customer", "member", "client", "policy", "invoice",
                "bill", "order", "ticket", "case", "incident", "reference", "ref", "phone",
                "mobile", "cell", "number", "reach me", "call me")


def _starts_a_word(words: tuple[str, ...]) -> re.Pattern[str]:
    """Whether one of ``words`` starts at a word boundary (of lower-case ASCII text).

    Every claim pattern begins with ``\\b`` and one of its words, and the spoken-number
    rewrite turns number words into digits (word characters into word characters), so
    it can make no boundary the text lacked: a turn where a word only occurs inside
    another ("prefer", "excellent", "border") cannot match. Checked as substrings, the
    words sent 22 % of the dev corpus's turns through the costly rewrite; 13 % can match.
    """
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + ")")


_CLAIM_GATE = _starts_a_word(_CLAIM_WORDS)
_PATTERN_GATES = tuple(_starts_a_word(words) for _kind, words, _pattern in _CLAIM_PATTERNS)
_EMAIL_WRITTEN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL_SPOKEN = re.compile(
    r"\b(?:e-?mail(?:\s+address)?\s+(?:is|it's)|it's|at)\s+((?:[a-z0-9]+\s+){0,40}?)"
    r"at\s+((?:[a-z0-9]+\s+)*?dot\s+(?:com|net|org|edu|io|co|uk|de|fr)(?:\s+dot\s+[a-z]{2})?)\b",
    re.I)
_NAME_CLAIM = re.compile(
    r"\b(?:this\s+is|my\s+name\s+is|my\s+name's|i\s+am|i'm|it's|name\s+is)\s+"
    r"([A-Z][a-z]+|[a-z]{2,})(?:\s+([A-Z][a-z]+))?\b")
# "her name is", "my mother's name is": someone else's name, not the caller's.
_OTHERS_NAME = re.compile(r"(?:\b(?:his|her|their)|['\u2019]s|s')\s+$", re.I)
#: A turn longer than this is no spoken turn: without an identifier it is not read for
#: "calling for my mother".
BEHALF_SCAN_CHARS = 2_000
# Words that follow "I'm" / "it's" without being a name.
_NOT_NAMES = frozenset({
    "calling", "just", "not", "trying", "looking", "the", "a", "an", "here", "having",
    "still", "so", "very", "really", "sorry", "fine", "good", "okay", "ok", "going",
    "about", "wondering", "phoning", "ringing", "after", "on", "in", "at", "with", "me",
    "my", "your", "that", "this", "from", "back", "also", "again", "one", "who", "interested",
    "worried", "hoping", "afraid", "glad", "happy", "sure", "pretty", "quite", "new",
    "confused", "annoyed", "frustrated", "waiting", "regarding", "following",
    # number words: "it's seventy-eight fifty-nine ..." is a number, not a name
    "zero", "oh", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
    "eighty", "ninety", "hundred", "double", "triple", "account", "order", "invoice",
    "ticket", "number",
})
# "my son's account", "calling for my mother", "his order": the identifier is someone
# else's, the caller is acting for them.
_ON_BEHALF = re.compile(
    r"\b(?:my\s+(?:son|daughter|wife|husband|partner|mother|mom|mum|father|dad|brother|"
    r"sister|grandmother|grandma|grandfather|grandpa|aunt|uncle|niece|nephew|friend|"
    r"boss|colleague|neighbou?r|child|kid|parents?|spouse|fianc[ée]e?|boyfriend|girlfriend|"
    r"employer|client|tenant|landlord)(?:'s)?|on\s+behalf\s+of|calling\s+for|for\s+my|"
    r"\b(?:his|her|their)\s+(?:account|order|invoice|ticket|policy|number|phone|email))",
    re.I)
#: One of these is in every match of ``_ON_BEHALF`` (lower-cased): "my" in its first
#: and fourth branches, then "behalf", "calling", and each word its last branch ends on.
_BEHALF_WORDS = ("my", "behalf", "calling", "account", "order", "invoice", "ticket",
                 "policy", "number", "phone", "email")


@dataclasses.dataclass(frozen=True, slots=True)
class SpokenClaims:
    """What one utterance says about who the caller is."""

    identifiers: tuple[tuple[str, str, str], ...] = ()  # (kind, normalised, raw)
    names: tuple[str, ...] = ()
    #: The caller acts for someone else ("my son's account ...", "calling for my mother").
    on_behalf: bool = False


def spoken_claims(text: str, default_region: str | None = "US") -> SpokenClaims:
    """Identifiers and names a caller gives in ``text``, normalised.

    Example::

        spoken_claims("this is John, the one who called about invoice four four two one")
        # SpokenClaims(identifiers=(('invoice', '4421', '4421'),), names=('john',), ...)
    """
    return _claims(text, default_region, word_checks=True)


def _claims(text: str, default_region: str | None, *, word_checks: bool) -> SpokenClaims:
    found: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    # A pattern's match leaves out a bidi override in front of it ("\u202e0010-555-015"
    # shows as 510-555-0100): a turn holding one gives no identifier (_format_chars).
    reordered = reorders(text)

    def add(kind: str, raw: str) -> None:
        if reordered:
            return
        value = normalize_identifier(kind, raw, default_region)
        if value and (kind, value) not in seen:
            seen.add((kind, value))
            found.append((kind, value, raw.strip()))

    # Most turns name no identifier at all; the word checks below let them skip the
    # spoken-number rewrite (the costliest step, on every saved turn) and the patterns.
    # They are exact only where lower() and case-insensitive matching agree (ASCII).
    lower = text.lower() if word_checks and text.isascii() else None
    # The substring test is a cheap first pass (a regex alternation costs more per
    # character); the boundary test then drops words inside other words.
    if lower is None or (any(word in lower for word in _CLAIM_WORDS)
                         and _CLAIM_GATE.search(lower)):
        digits = spoken_to_digits(text)
        for (kind, _words, pattern), gate in zip(_CLAIM_PATTERNS, _PATTERN_GATES, strict=True):
            # A pattern whose words are all absent cannot match: scanning 6 patterns
            # over a long turn that merely says "number" was most of the claim scan.
            if lower is not None and not gate.search(lower):
                continue
            for m in pattern.finditer(digits):
                add(kind, m.group(1))
    if "@" in text or not word_checks:
        for m in _EMAIL_WRITTEN.finditer(text):
            add("email", m.group(0))
    if lower is None or ("at" in lower and "dot" in lower):
        for m in _EMAIL_SPOKEN.finditer(text):
            add("email", f"{m.group(1)} at {m.group(2)}")
    names: list[str] = []
    for m in _NAME_CLAIM.finditer(text):
        first = m.group(1)
        if first.lower() in _NOT_NAMES or _OTHERS_NAME.search(text, max(0, m.start() - 16),
                                                               m.start()):
            continue
        names.append(first.lower())
    # "I'm calling for my mother." is often said a turn before her e-mail address, and a
    # call remembers it (entities/_in_call.py), so a turn of speech is read for it even
    # without an identifier; a longer text only with one (the costliest pattern here).
    # Every match of the pattern holds one of its words; in lower-case ASCII text a
    # substring test of them is exact and skips the pattern for ~70 % of turns (the
    # pattern has no literal start, so the regex engine tries it at every position).
    behalf = ((bool(found) or len(text) <= BEHALF_SCAN_CHARS)
              and (lower is None or any(word in lower for word in _BEHALF_WORDS))
              and bool(_ON_BEHALF.search(text)))
    return SpokenClaims(identifiers=tuple(found), names=tuple(dict.fromkeys(names)),
                        on_behalf=behalf)


def checked_identifier(kind: str, raw: str, region: str | None) -> str:
    """``raw``'s normal form as a ``kind``, or ``BadRequest`` naming the field at fault."""
    if kind not in IDENTIFIER_KINDS:
        raise BadRequest(f"identifier kind must be one of {', '.join(IDENTIFIER_KINDS)}",
                         field="kind")
    value = normalize_identifier(kind, raw, region)
    if value is None and kind != "name" and isinstance(raw, str) and reorders(raw):
        raise BadRequest(f"{raw!r} holds a right-to-left control that can display it in "
                         f"another order than it reads; send the {kind} without it",
                         field="value")
    if value is None:
        raise BadRequest(f"{raw!r} is not a valid {kind}", field="value")
    return value
