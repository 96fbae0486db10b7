"""Text from a call's speech and model services, made storable before it reaches memory.

voxmem refuses a NUL character and a lone UTF-16 surrogate at the door (no store can
keep them, see ``engine/_validate.py``). An integration does not write its text itself:
an STT transcript or an LLM reply streamed in pieces (an emoji's two surrogate halves
decoded from separate chunks) can carry either, and refusing the text there would lose
the whole turn, and the caller's recall for it. So the integrations clean what they
pass on: a NUL is dropped, a lone surrogate becomes U+FFFD (the replacement character).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["storable", "storable_value"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _replace(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else "\ufffd"


def storable(text: str) -> str:
    """``text`` without NUL characters and with lone surrogates replaced.

    Example::

        storable("order A\\x00123 \\ud83d")  # -> "order A123 \\ufffd"
    """
    return _UNSTORABLE.sub(_replace, text)


def storable_value(value: Any) -> Any:
    """:func:`storable` applied to every string (keys too) inside JSON-like ``value``."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_value(k): storable_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_value(v) for v in value]
    return value
