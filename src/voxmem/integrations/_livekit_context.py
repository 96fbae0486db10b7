"""Chat-context surgery: the per-turn recall message (placed by id), compaction options.

LiveKit orders context items by ``created_at``; the recall message is stamped just before
the user message it serves, so it stays in front when the framework inserts or merges
items by time. Nothing here matches messages by their text, except
:func:`without_known_lines`, whose job is to compare memory text with the context.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

from livekit.agents import llm
from livekit.agents.llm import chat_context as _lk_chat_context
from livekit.agents.voice.generation import INSTRUCTIONS_MESSAGE_ID

from ._call_defaults import DEFAULT_COMPACT_AFTER_TOKENS, DEFAULT_COMPACT_KEEP_LAST_TURNS

__all__ = [
    "DEFAULT_COMPACT_AFTER_TOKENS",
    "DEFAULT_COMPACT_KEEP_LAST_TURNS",
    "DEFAULT_RECALL_ROLE",
    "MEMORY_MESSAGE_ID",
    "RECALL_MESSAGE_PREFIX",
    "CompactionOptions",
    "RecallRole",
    "insert_recall",
    "is_recall_message",
    "last_user_message",
    "put_memory_message",
    "without_known_lines",
]

RECALL_MESSAGE_PREFIX = "voxmem_recall_"
#: Id of the system message holding the caller's preloaded memory.
MEMORY_MESSAGE_ID = "voxmem_memory"
# LiveKit's message for Instructions.dynamic (1.8.7+); the preload goes after it if present.
_DYNAMIC_INSTRUCTIONS_ID: str = getattr(_lk_chat_context, "DYNAMIC_INSTRUCTIONS_MESSAGE_ID",
                                        "lk.agent_task.instructions.dynamic")
#: The recall message sorts this much before the user message it serves.
RECALL_LEAD_S = 1e-6
#: Role of the per-turn recall message. ``system`` is what most providers read as
#: reference context; ``developer`` is the newer OpenAI name for the same slot; and
#: ``assistant`` gives caller-derived text no more authority than the agent's own words.
RecallRole = Literal["system", "developer", "assistant"]
DEFAULT_RECALL_ROLE: RecallRole = "system"
_QUOTED = re.compile(r'"([^"]*)"')


@dataclasses.dataclass(frozen=True, slots=True)
class CompactionOptions:
    """When and how the conversation sent to the LLM is compacted during a call.

    Past ``after_tokens`` tokens of conversation, everything but the last
    ``keep_last_turns`` messages is replaced, in each LLM request, by one compact record
    (see :func:`voxmem.compact_transcript`). The session's history keeps every item.
    """

    after_tokens: int = DEFAULT_COMPACT_AFTER_TOKENS
    keep_last_turns: int = DEFAULT_COMPACT_KEEP_LAST_TURNS

    def __post_init__(self) -> None:
        if self.after_tokens <= 0 or self.keep_last_turns < 1:
            raise ValueError("CompactionOptions needs after_tokens > 0 and "
                             "keep_last_turns >= 1")


# -- chat context surgery ----------------------------------------------------------------
def is_recall_message(item: object) -> bool:
    """True for the system message voxmem injects before a user message."""
    return isinstance(item, llm.ChatMessage) and item.id.startswith(RECALL_MESSAGE_PREFIX)


def last_user_message(chat_ctx: llm.ChatContext) -> llm.ChatMessage | None:
    """The latest user message of ``chat_ctx``, or ``None``."""
    for item in reversed(chat_ctx.items):
        if isinstance(item, llm.ChatMessage) and item.role == "user":
            return item
    return None


def insert_recall(chat_ctx: llm.ChatContext, user_message: llm.ChatMessage,
                  context_text: str, *, role: RecallRole = DEFAULT_RECALL_ROLE
                  ) -> llm.ChatMessage:
    """Insert ``context_text`` as a message immediately before ``user_message``.

    LiveKit orders items by ``created_at``; the recall message is stamped just before the
    user message so it stays in front of it when the framework inserts or merges items
    by time. When ``user_message`` is not in ``chat_ctx`` yet (the speech hook's turn
    context), the framework inserts it right after this message.
    """
    message = llm.ChatMessage(
        id=f"{RECALL_MESSAGE_PREFIX}{user_message.id}", role=role,
        content=[context_text], created_at=user_message.created_at - RECALL_LEAD_S,
        extra={"voxmem": "recall"})
    index = chat_ctx.index_by_id(user_message.id)
    if index is None:
        chat_ctx.insert(message)
    else:
        chat_ctx.items.insert(index, message)
    return message


def _flat(text: str) -> str:
    return " ".join(text.replace('"', "'").lower().split())


def without_known_lines(context_text: str, chat_ctx: llm.ChatContext) -> str:
    """``context_text`` without the lines whose content the context already holds.

    A recalled fact that is already in the preload message, or an earlier turn of this
    call that is still in the conversation, would otherwise be sent twice. A line goes
    when every quoted part of it (or the line itself) is found in the context; section
    titles left with no line go too, and so does the whole block when nothing is left.
    """
    if not context_text:
        return ""
    known = _flat("\n".join(item.text_content or "" for item in chat_ctx.items
                            if isinstance(item, llm.ChatMessage)
                            and not is_recall_message(item)))
    lines = context_text.split("\n")
    header, body = lines[0], lines[1:]
    kept: list[str] = []
    for line in body:
        if not line.startswith("- ") and line.endswith(":") and "\"" not in line:
            kept.append(line)  # a section title; dropped below if it ends up empty
            continue
        quoted = _QUOTED.findall(line)
        parts = [q.rstrip("…").strip() for q in quoted] or [line.lstrip("- ")]
        if all(part and _flat(part) in known for part in parts):
            continue
        kept.append(line)
    pruned = [line for i, line in enumerate(kept)
              if not (line.endswith(":") and not line.startswith("- ") and "\"" not in line
                      and (i + 1 == len(kept) or (kept[i + 1].endswith(":")
                                                  and not kept[i + 1].startswith("- "))))]
    if not pruned:
        return ""
    return "\n".join([header, *pruned])


def put_memory_message(chat_ctx: llm.ChatContext, memory_text: str) -> None:
    """Put the caller's preload in its own system message after the instructions.

    Found and replaced by its id (:data:`MEMORY_MESSAGE_ID`), removed when
    ``memory_text`` is empty. It follows the instructions message and LiveKit's dynamic
    instructions message, so the instructions stay the cacheable prefix.
    """
    index = chat_ctx.index_by_id(MEMORY_MESSAGE_ID)
    if index is not None:
        del chat_ctx.items[index]
    if not memory_text:
        return
    position = 0
    for anchor in (INSTRUCTIONS_MESSAGE_ID, _DYNAMIC_INSTRUCTIONS_ID):
        found = chat_ctx.index_by_id(anchor)
        if found is not None:
            position = max(position, found + 1)
    created_at = (chat_ctx.items[position - 1].created_at if position
                  else (chat_ctx.items[0].created_at if chat_ctx.items else 0.0))
    chat_ctx.items.insert(position, llm.ChatMessage(
        id=MEMORY_MESSAGE_ID, role="system", content=[memory_text], created_at=created_at,
        extra={"voxmem": "preload"}))
