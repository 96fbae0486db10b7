"""Compaction of a long Pipecat call: what the LLM is sent once the conversation is long.

Past ``after_tokens`` tokens of conversation, the LLM is sent a copy of the context whose
older messages are replaced by their compact record (``voxmem.compaction.Compactor``, the
incremental ``compact_transcript``) and whose latest ``keep_last_turns`` messages stay
word for word. The conversation's own context keeps every message, as the LiveKit
integration keeps the session's history.

Compacting a long call takes tens of milliseconds of CPU, so it never runs on the frame's
path: each frame uses the last record made (when the messages it covers are still the
conversation's first ones) and starts a fresh one in a worker thread when the
conversation has grown.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from pipecat.processors.aggregators.llm_context import LLMContext

from ..compaction import Compactor, count_tokens
from ._pipecat_context import conversation_span

__all__ = ["COMPACT_REFRESH_MESSAGES", "ContextCompaction"]

log = logging.getLogger("voxmem.pipecat")

#: The compact record is brought up to date once this many messages have aged out of
#: the verbatim tail.
COMPACT_REFRESH_MESSAGES = 4


class ContextCompaction:
    """The compact record of one call's conversation, kept fresh in the background.

    Attributes:
        compactions: context frames sent to the LLM compacted so far.
    """

    def __init__(self, *, after_tokens: int, keep_last_turns: int) -> None:
        self.after_tokens = after_tokens
        self.keep_last_turns = keep_last_turns
        self.compactions = 0
        # The compact record of the conversation's first messages (those messages, the
        # record message) and the background task making the next one.
        self._record: tuple[list[Any], dict[str, Any]] | None = None
        self._task: asyncio.Future[None] | None = None
        self._compactor = Compactor(keep_last_turns=0)
        self._compactor_fed: list[Any] = []

    def compacted(self, context: LLMContext) -> LLMContext:
        """``context`` with its older conversation replaced by the latest compact record,
        or ``context`` itself when there is no record for it (yet)."""
        messages: list[Any] = context.get_messages()
        span = conversation_span(messages)
        if span is None:
            return context
        start, end = span
        conversation = messages[start:end]
        self._refresh(conversation)
        if self._record is None:
            return context
        covered, record = self._record
        if (len(covered) >= len(conversation)
                or any(a is not b for a, b in zip(covered, conversation, strict=False))):
            return context
        self.compactions += 1
        return LLMContext(messages=cast(Any, [*messages[:start], record,
                                              *conversation[len(covered):]]),
                          tools=context.tools, tool_choice=context.tool_choice)

    async def wait(self) -> None:
        """Wait for a compaction running in the background, if any."""
        if self._task is not None:
            await asyncio.wait([self._task])

    def cancel(self) -> None:
        """Stop waiting for a running compaction (its worker thread finishes on its own)."""
        if self._task is not None:
            self._task.cancel()

    def _refresh(self, conversation: list[Any]) -> None:
        if self._task is not None and not self._task.done():
            return
        older = conversation[:max(0, len(conversation) - self.keep_last_turns)]
        covered = len(self._record[0]) if self._record is not None else 0
        # A fresh record every few messages, not every turn: it is CPU on a shared core.
        if len(older) - covered < COMPACT_REFRESH_MESSAGES and self._record is not None:
            return
        if not older or len(older) == covered:
            return
        tokens = sum(count_tokens(m["content"]) for m in conversation)
        if tokens <= self.after_tokens:
            return
        self._task = asyncio.ensure_future(self._compact(older))

    async def _compact(self, older: list[Any]) -> None:
        fed = self._compactor_fed
        if len(fed) > len(older) or any(a is not b for a, b in zip(fed, older, strict=False)):
            # The conversation was rewritten (messages replaced): start over.
            self._compactor, fed = Compactor(keep_last_turns=0), []
        new = [(str(m["role"]), str(m["content"])) for m in older[len(fed):]]
        compactor = self._compactor

        def feed() -> str:
            for role, text in new:
                compactor.add(role, text)
            records = [m for m in compactor.result().messages if m.get("role") == "system"]
            return str(records[0]["content"]) if records else ""

        try:
            # Incremental and CPU-bound: a worker thread keeps the event loop moving.
            record = await asyncio.to_thread(feed)
        except Exception as exc:
            log.warning("context compaction failed (%s); sending the full context", exc)
            self._compactor, self._compactor_fed = Compactor(keep_last_turns=0), []
            return
        self._compactor_fed = list(older)
        if record:
            self._record = (list(older), {"role": "system", "content": record})
