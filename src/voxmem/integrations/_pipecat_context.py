"""Context surgery for Pipecat's ``LLMContext``: where memory goes in the message list.

Pipecat messages are plain OpenAI-style dicts with no ids, and an ``LLMContext`` is
shared by the aggregators, the LLM service and (for speculative inference) provisional
copies that hold the same dict objects. Memory messages are therefore recognised by
identity (the dict we inserted) and, for contexts rebuilt from copies, by their exact
text: nothing is added to the message that an LLM API could reject.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from pipecat.processors.aggregators.llm_context import (
    LLMContext,
    LLMSpecificMessage,
    standard_message_text,
)

from ._instructions import render_memory_instructions

__all__ = [
    "Instructions",
    "conversation_span",
    "insert_before_last_user",
    "last_user_index",
    "remove_messages",
]


def last_user_index(messages: list[Any]) -> int | None:
    """Index of the latest user message with text, or ``None``."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, LLMSpecificMessage):
            continue
        if message.get("role") == "user" and standard_message_text(message).strip():
            return index
    return None


def _is_one_of(message: Any, ours: Iterable[dict[str, Any]], texts: set[str],
               role: str) -> bool:
    if isinstance(message, LLMSpecificMessage):
        return False
    if any(message is mine for mine in ours):
        return True
    content = message.get("content")
    return message.get("role") == role and isinstance(content, str) and content in texts


def remove_messages(context: LLMContext, ours: Iterable[dict[str, Any]], texts: set[str],
                    role: str) -> int:
    """Remove every memory message voxmem put into ``context``; returns how many."""
    mine = list(ours)
    messages: list[Any] = context.get_messages()
    kept = [m for m in messages if not _is_one_of(m, mine, texts, role)]
    removed = len(messages) - len(kept)
    if removed:
        context.set_messages(kept)
    return removed


def insert_before_last_user(context: LLMContext, message: dict[str, Any]) -> bool:
    """Put ``message`` immediately before the latest user message; False when there is
    no user message to put it before."""
    messages: list[Any] = context.get_messages()
    index = last_user_index(messages)
    if index is None:
        return False
    context.set_messages(cast(Any, [*messages[:index], message, *messages[index:]]))
    return True


class Instructions:
    """The context's instructions with the caller's preload block rendered in.

    On first use it takes the system (or developer) messages holding ``{{memory}}`` as
    templates; with no placeholder, the first system message (the block is appended to
    it); with no system message at all, a system message of its own put first. Every
    :meth:`render` starts again from those templates, so a preload that lands after the
    first turn still finds its place.
    """

    def __init__(self, *, role: str) -> None:
        self._role = role
        self._templates: list[tuple[dict[str, Any], str]] | None = None
        self._own: dict[str, Any] | None = None
        self.rendered: str | None = None

    def render(self, context: LLMContext, memory_text: str | None) -> None:
        """Put ``memory_text`` (``None``: no memory) into ``context``'s instructions."""
        block = (memory_text or "").strip()
        messages: list[Any] = context.get_messages()
        if self._templates is None:
            instructions = [m for m in messages if not isinstance(m, LLMSpecificMessage)
                            and m.get("role") in ("system", "developer")
                            and isinstance(m.get("content"), str)]
            with_placeholder = [m for m in instructions
                                if render_memory_instructions(m["content"], None)
                                != m["content"]]
            chosen = with_placeholder or instructions[:1]
            self._templates = [(m, m["content"]) for m in chosen]
        for message, template in self._templates:
            message["content"] = render_memory_instructions(template, block)
        if not self._templates:
            # No instructions in the context (the LLM service holds them): memory gets a
            # system message of its own, first.
            without = [m for m in messages if m is not self._own]
            if block:
                self._own = {"role": self._role, "content": block}
                context.set_messages(cast(Any, [self._own, *without]))
            elif len(without) != len(messages):
                context.set_messages(without)
        self.rendered = block


def conversation_span(messages: list[Any]) -> tuple[int, int] | None:
    """``(start, end)`` of the plain user/assistant messages after the instructions,
    which in-call compaction may rewrite; ``None`` when the conversation holds anything
    compaction must not touch (tool calls, images, service-specific messages)."""
    start = 0
    while start < len(messages):
        message = messages[start]
        if isinstance(message, LLMSpecificMessage) or message.get("role") not in (
                "system", "developer"):
            break
        start += 1
    for message in messages[start:]:
        if isinstance(message, LLMSpecificMessage):
            return None
        if message.get("role") not in ("user", "assistant") or message.get("tool_calls"):
            return None
        if not isinstance(message.get("content"), str):
            return None
    return start, len(messages)
