"""The one phone normaliser of the package: anything a person, a SIP trunk or a CRM
writes for a phone number, as E.164 (``+15105550100``), via ``phonenumbers``.

Extraction, the LiveKit identity helper and caller resolution all call
:func:`normalize_phone`, so one number is one identifier wherever it came from.
"""

from __future__ import annotations

import functools

import phonenumbers

from ._format_chars import without_format_chars
from ._speech import spoken_to_digits

__all__ = ["DEFAULT_REGION", "country_code_for_region", "normalize_phone",
           "region_for_country_code"]

#: Region assumed for national numbers without a country prefix (ISO 3166 alpha-2).
DEFAULT_REGION = "US"

#: Shorter national numbers are extensions or short codes, not a caller's phone.
MIN_NATIONAL_DIGITS = 7

_URI_SCHEMES = ("tel:", "sips:", "sip:")


@functools.lru_cache(maxsize=64)
def region_for_country_code(code: str) -> str:
    """The main region of a calling code: ``"1"`` → ``"US"``, ``"44"`` → ``"GB"``.

    Raises:
        ValueError: when ``code`` is not a known calling code.
    """
    digits = code.strip().lstrip("+")
    if not digits.isdigit():
        raise ValueError(f"default_country_code must be digits like '1' or '44', got {code!r}")
    region = phonenumbers.region_code_for_country_code(int(digits))
    if region == phonenumbers.UNKNOWN_REGION:
        raise ValueError(f"{code!r} is not a known country calling code")
    return str(region)


def country_code_for_region(region: str) -> str:
    """The calling code of a region: ``"US"`` → ``"1"``, ``"GB"`` → ``"44"``.

    Raises:
        ValueError: when ``region`` is not a known ISO 3166 region.
    """
    code = phonenumbers.country_code_for_region(region.strip().upper())
    if not code:
        raise ValueError(f"{region!r} is not a known region (ISO 3166 code such as GB)")
    return str(code)


def normalize_phone(raw: str | None, default_region: str | None = DEFAULT_REGION) -> str | None:
    """``raw`` as an E.164 phone number, or ``None`` when it is not a possible number.

    Accepts written forms (``(510) 555-0100``, ``+44 (0)20 7946 0018``, ``00 44 ...``),
    SIP/tel URIs (``sip:+15105550100@trunk``) and spoken ones ("five one oh, five five
    five, oh one hundred"). Unicode format characters are dropped, and a bidi control
    that can display the digits in another order refuses the number. A number without
    a country prefix is read in ``default_region``; with ``default_region=None`` only
    international numbers are accepted, because guessing the country would file two
    people under one id.

    Example::

        normalize_phone("(510) 555-0100")                     # '+15105550100'
        normalize_phone("+44 (0)20 7946 0018")                # '+442079460018'
        normalize_phone("020 7946 0018", default_region="GB")  # '+442079460018'
    """
    if raw is None:
        return None
    # Zero-width and left-to-right controls dropped; one that can show the digits in
    # another order than they read (U+202E) refuses the number (_format_chars).
    cleaned = without_format_chars(raw)
    if cleaned is None:
        return None
    text = cleaned.strip()
    lowered = text.lower()
    for scheme in _URI_SCHEMES:
        if lowered.startswith(scheme):
            text = text[len(scheme):].split("@", 1)[0].split(";", 1)[0]
            break
    if any(c.isalpha() for c in text) or "," in text:
        text = spoken_to_digits(text)
    if text.startswith("00"):
        text = "+" + text[2:]
    region = (default_region or "").upper() or None
    if not text.lstrip().startswith("+") and region is None:
        # A bare long number may still carry its country code ("15105550100").
        digits = "".join(c for c in text if c.isdigit())
        if len(digits) <= 10:
            return None
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    # Possible (right length for its country), not valid: valid also checks number
    # ranges, which lag behind real allocations and reject new mobile blocks.
    if number.extension:
        return None  # a desk behind a switchboard, not one person's line
    if not phonenumbers.is_possible_number(number) or len(
            str(number.national_number)) < MIN_NATIONAL_DIGITS:
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
