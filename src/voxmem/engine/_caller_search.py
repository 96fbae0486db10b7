"""Finding a caller by whatever an operator has at hand: id, name, email, an account or
ticket number, or a phone number written in any format.

One function, so the dashboard, the REST API and the CLI search the same way; when
callers gain a table of normalised identifiers, only this function changes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._engine import MemoryEngine

__all__ = ["find_callers", "search_terms"]

#: Fewer digits than this are too common to search on their own (a "2" in a name).
MIN_DIGITS = 3
#: National significant number length: a query's last digits are compared, so a number
#: written with or without its country code or trunk prefix finds the same caller.
NATIONAL_DIGITS = 10
_NON_DIGIT = re.compile(r"\D+")


def search_terms(query: str) -> tuple[str, str]:
    """``(text, digits)``: the lower-cased query and its digits as stored numbers match."""
    text = query.strip().lower()
    digits = _NON_DIGIT.sub("", text)
    if len(digits) < MIN_DIGITS:
        digits = ""
    elif len(digits) > NATIONAL_DIGITS:
        digits = digits[-NATIONAL_DIGITS:]
    return text, digits


async def find_callers(engine: MemoryEngine, tenant_id: str, project_id: str, query: str,
                       limit: int) -> list[dict[str, Any]]:
    """Callers matching ``query`` (most recently active first); empty lists them all."""
    text, digits = search_terms(query)
    return await engine.store.search_callers(tenant_id, project_id, text, digits, limit)
