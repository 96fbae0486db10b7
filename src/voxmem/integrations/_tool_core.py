"""What the LiveKit and Pipecat memory tools share: defaults, argument checks, wording.

Each framework wraps these in its own tool objects and reports a refusal with its own
exception type (LiveKit's ``ToolError``; the Pipecat tools' refusal), passed in as
``error``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from .._exceptions import BadRequest, MemoryTimeout, VoxmemError

__all__ = [
    "DEFAULT_FILLER",
    "DEFAULT_FILLER_DELAY_S",
    "DEFAULT_KNOWLEDGE_TIMEOUT_MS",
    "DEFAULT_PROFILE_FIELDS",
    "DEFAULT_TOOL_TIMEOUT_MS",
    "KNOWLEDGE_LOOKUP_USER",
    "MAX_CONTENT_CHARS",
    "MAX_MEMORY_TYPE_CHARS",
    "TOOL_NAMES",
    "check_content",
    "check_memory_type",
    "fact_line",
    "unavailable",
    "within",
]

T = TypeVar("T")

DEFAULT_PROFILE_FIELDS: tuple[str, ...] = (
    "name", "preferred_name", "email", "preferred_language", "timezone",
    "preferred_contact_time")
#: Spoken while a knowledge search runs long.
DEFAULT_FILLER = "One moment, I'm looking that up."
#: Silence before the filler: a search faster than this is answered without it.
DEFAULT_FILLER_DELAY_S = 0.5
DEFAULT_TOOL_TIMEOUT_MS = 1000.0
DEFAULT_KNOWLEDGE_TIMEOUT_MS = 1500.0
MAX_MEMORY_TYPE_CHARS = 48
MAX_CONTENT_CHARS = 1000
#: Knowledge lookups need no caller, but the client API takes one; this id is only ever
#: used with lanes=["org"], which reads the project's indexes and nothing of any caller.
KNOWLEDGE_LOOKUP_USER = {"id": "voxmem:knowledge-lookup"}

TOOL_NAMES = ("remember_detail", "recall_detail", "forget_detail", "search_memories",
              "list_user_memories", "update_profile", "search_knowledge")

_SLUG = re.compile(r"[^a-z0-9_]+")

Refuse = Callable[[str], Exception]


def check_memory_type(raw: Any, error: Refuse) -> str:
    """``raw`` as a slot label (``"Favorite Color"`` → ``favorite_color``)."""
    slug = _SLUG.sub("_", str(raw or "").strip().lower()).strip("_")
    if not slug:
        raise error("memory_type must be a short label such as 'favorite_color'.")
    return slug[:MAX_MEMORY_TYPE_CHARS]


def check_content(raw: Any, error: Refuse, what: str = "content") -> str:
    """``raw`` with its whitespace collapsed; refused when empty or too long."""
    text = " ".join(str(raw or "").split())
    if not text:
        raise error(f"{what} is empty; say what to remember.")
    if len(text) > MAX_CONTENT_CHARS:
        raise error(f"{what} is too long; keep it under {MAX_CONTENT_CHARS} characters.")
    return text


def unavailable(exc: Exception, what: str, error: Refuse) -> Exception:
    """The answer the model gets when memory could not do ``what``."""
    if isinstance(exc, BadRequest):
        return error(f"Could not {what}: {exc.message}")
    code = exc.code if isinstance(exc, VoxmemError) else type(exc).__name__
    return error(f"Memory is unavailable right now ({code}), so I could not {what}. "
                 "Carry on without it and do not promise to remember.")


async def within(call: Awaitable[T], timeout_ms: float, what: str) -> T:
    """``call`` under a tool's deadline. The client's own bound on a non-search request is
    its general request timeout (30 s by default), and a runtime that stops answering
    would hold the model's tool step, and so the caller's turn, that long."""
    try:
        async with asyncio.timeout(timeout_ms / 1000):
            return await call
    except TimeoutError:
        raise MemoryTimeout(f"{what}: memory did not answer within {timeout_ms:.0f} ms",
                            retryable=True) from None


def fact_line(fact: Mapping[str, Any]) -> str:
    """One line of ``list_user_memories``: ``- label: value`` for a slot, else the fact."""
    text = fact.get("text") or fact.get("content")
    if not isinstance(text, str) or not text:
        return ""
    label = fact.get("slotKey") or fact.get("memoryType")
    if isinstance(label, str) and label:
        # Slot facts read "favorite color: blue"; keep the value once.
        return f"- {label}: {text.removeprefix(label.replace('_', ' ') + ': ')}"
    return f"- {text}"
