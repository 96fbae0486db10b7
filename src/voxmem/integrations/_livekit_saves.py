"""Turns of a LiveKit call, from the session's conversation events to an ordered save queue.

User messages wait until the assistant answers, then go out as one turn (several user
turns before one reply are kept together); a barge-in reply carries ``interrupted``; the
tools a step ran travel with the turn they answered. One worker drains the queue, so
turns are written in order and never on the audio path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from livekit.agents import (
    AgentSession,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
    llm,
)

from ._ordered import OrderedSaves
from ._transcript import storable, storable_value

__all__ = ["MAX_TOOL_OUTPUT_CHARS", "PendingTurn", "TurnQueue"]

#: A tool's output is stored with the turn up to this many characters.
MAX_TOOL_OUTPUT_CHARS = 2000


@dataclasses.dataclass(slots=True)
class PendingTurn:
    """One exchange to save: the caller's messages, the reply and the tools it ran."""

    user_texts: list[str]
    user_item_ids: list[str]
    assistant_text: str
    assistant_item_id: str | None
    interrupted: bool
    tool_calls: list[dict[str, Any]]
    unanswered: bool = False


class TurnQueue:
    """Pairs a session's user messages with replies and hands them, in order, to ``save``.

    ``accepting()`` says whether turns are still recorded (false once the call closes);
    conversation events while it is false are dropped.
    """

    def __init__(self, save: Callable[[PendingTurn], Awaitable[None]], *,
                 accepting: Callable[[], bool]) -> None:
        self._accepting = accepting
        self._pending_user: list[llm.ChatMessage] = []
        self._pending_tools: list[dict[str, Any]] = []
        self._saves: OrderedSaves[PendingTurn] = OrderedSaves(save)

    def attach(self, session: AgentSession[Any]) -> None:
        """Follow ``session``'s conversation and tool events."""
        session.on("conversation_item_added", self._on_item_added)
        session.on("function_tools_executed", self._on_tools_executed)

    def _on_item_added(self, event: ConversationItemAddedEvent) -> None:
        item = event.item
        # The session also reports agent handoffs here; they carry no words.
        if not isinstance(item, llm.ChatMessage) or not self._accepting():
            return
        if item.role == "user":
            if not (item.text_content or "").strip():
                return
            if self._pending_tools:
                # The last turn was answered by tools alone (a handoff, say): it ends here.
                self._saves.put(self._take_turn(assistant_text="", assistant_item_id=None,
                                              interrupted=False))
            self._pending_user.append(item)
        elif item.role == "assistant":
            text = (item.text_content or "").strip()
            if not text and not self._pending_user:
                return
            self._saves.put(self._take_turn(assistant_text=text, assistant_item_id=item.id,
                                          interrupted=item.interrupted))

    def _on_tools_executed(self, event: FunctionToolsExecutedEvent) -> None:
        for call, output in event.zipped():
            self._pending_tools.append({
                "name": call.name, "arguments": call.arguments, "call_id": call.call_id,
                "output": output.output[:MAX_TOOL_OUTPUT_CHARS], "is_error": output.is_error})

    def _take_turn(self, *, assistant_text: str, assistant_item_id: str | None,
                   interrupted: bool, unanswered: bool = False) -> PendingTurn:
        users, self._pending_user = self._pending_user, []
        tools, self._pending_tools = self._pending_tools, []
        return PendingTurn(
            user_texts=[storable((m.text_content or "").strip()) for m in users],
            user_item_ids=[m.id for m in users], assistant_text=storable(assistant_text),
            assistant_item_id=assistant_item_id, interrupted=interrupted,
            tool_calls=storable_value(tools), unanswered=unanswered)

    async def flush(self) -> None:
        """Wait until every turn queued so far is written."""
        await self._saves.flush()

    async def finish(self, timeout_s: float) -> bool:
        """Queue what the caller said that was never answered, then wait for every queued
        save; ``False`` when ``timeout_s`` passed first (the saves go on in the background)."""
        if self._pending_user or self._pending_tools:
            # The caller spoke and the call ended before an answer: keep their words.
            self._saves.put(self._take_turn(assistant_text="", assistant_item_id=None,
                                          interrupted=False, unanswered=True))
        return await self._saves.close(timeout_s)
