"""Identifiers the engine mints for calls, turns, facts and chunks."""

from __future__ import annotations

import uuid

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    """Time-ordered unique id (uuid7 when available) with a readable prefix."""
    maker = getattr(uuid, "uuid7", None)
    value = maker() if maker is not None else uuid.uuid4()
    return f"{prefix}_{value.hex}"
