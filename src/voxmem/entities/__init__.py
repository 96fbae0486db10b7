"""Callers and entities: identifiers normalised for speech, caller resolution, merges
and the per-caller entity graph (SPEC §7).

This package's top level is light (no engine, no store): extraction and the LiveKit
helper import the normalisers from here.
"""

from __future__ import annotations

from ._identifiers import normalize_identifier
from ._phone import (
    DEFAULT_REGION,
    country_code_for_region,
    normalize_phone,
    region_for_country_code,
)
from ._speech import digit_runs, name_key, names_match, normalize_email, spoken_to_digits

__all__ = [
    "DEFAULT_REGION",
    "country_code_for_region",
    "digit_runs",
    "name_key",
    "names_match",
    "normalize_email",
    "normalize_identifier",
    "normalize_phone",
    "region_for_country_code",
    "spoken_to_digits",
]
