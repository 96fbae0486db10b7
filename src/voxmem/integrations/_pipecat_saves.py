"""Turns of a Pipecat call, from the context aggregators' events to an ordered save queue.

Which reply answers which words: a user turn is answered by the first reply that *starts*
after the user began speaking. Each user turn is tagged with the number of replies
started before it; reply K takes the words tagged below K. A barge-in (the user starts
while reply K is open) is tagged K and waits for reply K + 1, whichever of the two
aggregators reports first. Event order, not clock time: Pipecat runs each event handler
as a task, in the order the frames were seen, and these handlers never await.

One worker task writes the turns in order, so nothing on the frame path awaits the store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from ._ordered import OrderedSaves
from ._transcript import storable

__all__ = ["Turn", "TurnSaver"]


@dataclasses.dataclass(slots=True)
class Turn:
    """One exchange to save: what the caller said (one or more user turns) and the reply."""

    user_texts: list[str]
    assistant_text: str
    interrupted: bool
    unanswered: bool = False


class TurnSaver:
    """Pairs user turns with replies and hands them, in order, to ``save``.

    ``accepting()`` says whether turns are recorded at all (a known caller, a call not
    closing); events while it is false are dropped.
    """

    def __init__(self, save: Callable[[Turn], Awaitable[None]], *,
                 accepting: Callable[[], bool]) -> None:
        self._accepting = accepting
        self._pending_user: list[tuple[str, int]] = []
        self._replies_started = 0
        self._user_turn_tag: int | None = None
        self._realtime_user_turns = False
        self._saves: OrderedSaves[Turn] = OrderedSaves(save)

    def attach(self, context_aggregator: Any) -> None:
        """Subscribe to an aggregator pair's turn events (``(user, assistant)``)."""
        user_aggregator, assistant_aggregator = context_aggregator
        user_aggregator.add_event_handler("on_user_turn_started", self._on_user_turn_started)
        user_aggregator.add_event_handler("on_user_turn_stopped", self._on_user_turn_stopped)
        user_aggregator.add_event_handler("on_user_turn_message_added",
                                          self._on_user_message_added)
        assistant_aggregator.add_event_handler("on_assistant_turn_started",
                                               self._on_assistant_turn_started)
        assistant_aggregator.add_event_handler("on_assistant_turn_stopped",
                                               self._on_assistant_turn_stopped)

    async def _on_user_turn_started(self, _aggregator: Any, _strategy: Any) -> None:
        self._user_turn_tag = self._replies_started

    async def _on_user_turn_stopped(self, _aggregator: Any, _strategy: Any,
                                    message: Any) -> None:
        content = getattr(message, "content", None)
        if content is None:
            # Realtime services finalise the user's words later; take them from
            # on_user_turn_message_added instead.
            self._realtime_user_turns = True
            return
        self._add_user_text(content)

    async def _on_user_message_added(self, _aggregator: Any, message: Any) -> None:
        if self._realtime_user_turns:
            self._add_user_text(getattr(message, "content", None))

    def _add_user_text(self, content: Any) -> None:
        tag = self._user_turn_tag if self._user_turn_tag is not None else self._replies_started
        self._user_turn_tag = None
        if self._accepting() and isinstance(content, str) and content.strip():
            self._pending_user.append((storable(content.strip()), tag))

    async def _on_assistant_turn_started(self, _aggregator: Any) -> None:
        self._replies_started += 1

    async def _on_assistant_turn_stopped(self, _aggregator: Any, message: Any) -> None:
        if not self._accepting():
            return
        text = storable(str(getattr(message, "content", "") or "").strip())
        interrupted = bool(getattr(message, "interrupted", False))
        if not text and not interrupted:
            # A step that only called tools: the words it answers wait for the reply
            # that follows the tools' results.
            return
        reply = self._replies_started
        users = [words for words, tag in self._pending_user if tag < reply]
        self._pending_user = [(words, tag) for words, tag in self._pending_user
                              if tag >= reply]
        if not text and not users:
            return
        self._saves.put(Turn(user_texts=users, assistant_text=text, interrupted=interrupted))

    async def finish(self, timeout_s: float) -> bool:
        """Queue the caller's unanswered words, then wait for every queued save; False
        when ``timeout_s`` passed first (the saves go on in the background)."""
        if self._pending_user:
            users, self._pending_user = [words for words, _ in self._pending_user], []
            self._saves.put(Turn(user_texts=users, assistant_text="", interrupted=False,
                               unanswered=True))
        return await self._saves.close(timeout_s)
