"""Notices of a commitment already made: the confirmation, the reminder, the details.

By the definition of a commitment (docs/extraction.md), a notice that announces a
commitment already made is not one: "I'll email you the confirmation", "you'll get a text
the evening before with a narrower slot", "I'll text you Wednesday to confirm" after a
booking of the same call. What a caller will ring back about is the booking; the notice
only restates it. Alone in a call, the same sentence is the follow-up the caller waits
for ("I'll email the refund confirmation by Monday", "I'll send the registration
confirmation") and is kept.
"""

from __future__ import annotations

import re

from ._select import Candidate

__all__ = ["drop_booking_notices"]

_NOTICE = re.compile(
    r"\b(?:confirmation|confirming|reminders?|the\s+details|to\s+confirm|"
    r"(?:day|evening|night|morning)\s+before)\b", re.IGNORECASE)


def _is_notice(c: Candidate) -> bool:
    return c.kind == "commitment" and bool(_NOTICE.search(c.text))


def drop_booking_notices(candidates: list[Candidate]) -> list[Candidate]:
    """``candidates`` of one call without the notices of a commitment the call also holds
    (a booking or a promise that is not itself a notice)."""
    notices = [c for c in candidates if _is_notice(c)]
    if not notices:
        return candidates
    if not any(c.kind == "commitment" and not _is_notice(c) for c in candidates):
        return candidates
    return [c for c in candidates if not _is_notice(c)]
