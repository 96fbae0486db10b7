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
    """The caller's preload block, in a system message of its own after the instructions.

    As in the LiveKit integration, the instructions stay byte-identical for every caller,
    so an LLM provider's prompt cache keeps serving their prefix; the per-caller block
    follows them. A ``{{memory}}`` placeholder left in the instructions (the layout of
    earlier versions) is removed on first use. Every :meth:`render` replaces the block,
    so a preload that lands after the first turn still finds its place.
    """

    def __init__(self) -> None:
        self._prepared = False
        self._anchor: Any = None
        self._own: dict[str, Any] | None = None
        #: The block last rendered ("" for none), ``None`` before the first render.
        self.rendered: str | None = None

    @property
    def message(self) -> dict[str, Any] | None:
        """The preload message currently in the context, if any."""
        return self._own

    def update(self, context: LLMContext, memory_text: str | None) -> None:
        """:meth:`render` when needed: on first use, for a preload that changed, and
        after the app replaced the context's messages (``LLMMessagesUpdateFrame``, the
        way to change the prompt mid-call), which took the block with them."""
        if (self.rendered is None or self._replaced(context.get_messages())
                or (memory_text and self.rendered != memory_text.strip())):
            self.render(context, memory_text)

    def _replaced(self, messages: list[Any]) -> bool:
        # By identity: the app's new messages may hold the same text.
        return any(mine is not None and not any(m is mine for m in messages)
                   for mine in (self._own, self._anchor))

    def render(self, context: LLMContext, memory_text: str | None) -> None:
        """Put ``memory_text`` (``None``: no memory) after ``context``'s instructions."""
        block = (memory_text or "").strip()
        messages: list[Any] = context.get_messages()
        if self._prepared and self._replaced(messages):
            self._prepared = False  # new instructions: strip their placeholder, re-anchor
        if not self._prepared:
            leading = []
            for message in messages:
                if isinstance(message, LLMSpecificMessage) or message.get("role") not in (
                        "system", "developer"):
                    break
                leading.append(message)
                if isinstance(message.get("content"), str):
                    message["content"] = render_memory_instructions(message["content"], None)
            self._anchor = leading[-1] if leading else None
            self._prepared = True
        kept = [m for m in messages if m is not self._own]
        self._own = None
        if block:
            self._own = {"role": "system", "content": block}
            position = next((i + 1 for i, m in enumerate(kept) if m is self._anchor), 0)
            kept.insert(position, self._own)
        if len(kept) != len(messages) or any(a is not b for a, b in zip(kept, messages,
                                                                       strict=True)):
            context.set_messages(cast(Any, kept))
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
