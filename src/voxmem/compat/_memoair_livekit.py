"""``MemoAirLiveKitAgent``: the ``memoair-livekit`` drop-in agent, on voxmem.

It behaves as the SDK documents, including the two parts that are known mistakes, and
says so once in the log with the voxmem way:

- memory is keyed on the ``user_id`` given at construction — the SDK's examples pass the
  agent's *own* participant identity, which files every caller under one id;
- saves happen only when your code forwards assistant items to
  :meth:`on_agent_response_completed` (the SDK's hand-written ``conversation_item_added``
  handler), and barge-ins are not saved.

:class:`voxmem.integrations.livekit.MemoryAgent` does both right: it resolves the caller
(job metadata, SIP number, remote participant) and saves every turn by itself.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from livekit.agents import Agent, get_job_context, llm

from ..integrations._transcript import storable
from ._memoair_client import MemoAirVoiceClient
from ._memoair_types import DEFAULT_CLOUD_BASE_URL, DEFAULT_SEARCH_TIMEOUT_MS, warn_once

__all__ = ["MemoAirLiveKitAgent"]

log = logging.getLogger("voxmem.compat")

#: Our hard stop past the search deadline, for a runtime that stops answering.
DEADLINE_SLACK_S = 0.05
#: The recall message sorts this much before the user message it serves.
RECALL_LEAD_S = 1e-6


class MemoAirLiveKitAgent(Agent):
    """A LiveKit ``Agent`` with the ``memoair_livekit.MemoAirLiveKitAgent`` signature.

    ``api_key`` and ``cloud_base_url`` are accepted and ignored. voxmem-only keywords
    (taken out of ``agent_kwargs``): ``embedded``, ``data_dir``, ``settings``.

    Example::

        agent = MemoAirLiveKitAgent(api_key="unused", project_id="proj_1",
                                    agent_id="agent_1", user_id="caller_42",
                                    instructions="You are a helpful assistant.")
    """

    def __init__(
        self,
        *,
        api_key: str,
        project_id: str,
        agent_id: str,
        user_id: str,
        instructions: str | None = None,
        search_timeout_ms: int = DEFAULT_SEARCH_TIMEOUT_MS,
        cloud_base_url: str = DEFAULT_CLOUD_BASE_URL,
        **agent_kwargs: Any,
    ) -> None:
        if not isinstance(user_id, str) or not user_id.strip():
            raise ValueError("user_id must be a non-empty string")
        voxmem_options = {key: agent_kwargs.pop(key) for key in ("embedded", "data_dir",
                                                                 "settings")
                          if key in agent_kwargs}
        super().__init__(instructions=instructions or "", **agent_kwargs)
        self.memory_client = MemoAirVoiceClient(
            api_key=api_key, project_id=project_id, agent_id=agent_id,
            cloud_base_url=cloud_base_url, **voxmem_options)
        self.user_id = user_id
        self.search_timeout_ms = search_timeout_ms
        self._pending_user_text: str | None = None
        self._session_open = False

    @property
    def _user(self) -> dict[str, Any]:
        return {"id": self.user_id}

    def _check_identity(self) -> None:
        job = get_job_context(required=False)
        if job is None:
            return
        try:
            own = job.room.local_participant.identity
        except Exception:  # not connected yet: nothing to compare
            return
        if isinstance(own, str) and own == self.user_id:
            warn_once("agent-identity",
                      "MemoAirLiveKitAgent's user_id is the agent's own participant identity "
                      "(%s): every caller of this agent shares one memory. voxmem keeps the "
                      "documented behaviour here; use voxmem.integrations.livekit.MemoryAgent "
                      "(or resolve_caller_for_job) to key memory on the caller.", own)

    async def on_enter(self) -> None:
        """Open the end-user's session (the SDK's ``load_index`` step)."""
        self._check_identity()
        try:
            await self.memory_client.voxmem_client.start_session(
                user=self._user, metadata={"source": "memoair-livekit"})
            self._session_open = True
        except Exception as exc:  # memory must never stop the call
            log.warning("memory session could not open (%s); the call goes on", exc)

    async def on_user_turn_completed(self, turn_ctx: llm.ChatContext,
                                     new_message: llm.ChatMessage) -> None:
        """Recall under ``search_timeout_ms`` and splice it before the user's message."""
        user_text = storable(new_message.text_content or "")
        self._pending_user_text = user_text
        try:
            result = await asyncio.wait_for(
                self.memory_client.search_memory(user_text, user=self._user,
                                                 timeout_ms=self.search_timeout_ms),
                timeout=self.search_timeout_ms / 1000 + DEADLINE_SLACK_S)
        except TimeoutError:
            log.warning("search_memory missed its %d ms deadline; answering without it",
                        self.search_timeout_ms)
            return
        except Exception as exc:  # never block the LLM on memory
            log.warning("search_memory failed: %r", exc)
            return
        context = (result.contextText or "").strip()
        if not context:
            return
        message = llm.ChatMessage(role="system", content=[context],
                                  created_at=new_message.created_at - RECALL_LEAD_S)
        index = turn_ctx.index_by_id(new_message.id)
        if index is None:
            # LiveKit appends the user message after this hook: sort just before it.
            turn_ctx.insert(message)
        else:
            turn_ctx.items.insert(index, message)

    async def on_agent_response_completed(self, chat_ctx: llm.ChatContext | None,
                                          new_message: llm.ChatMessage) -> None:
        """Save the completed turn (call it from a ``conversation_item_added`` handler)."""
        warn_once("save-handler",
                  "MemoAirLiveKitAgent saves turns only through a hand-written "
                  "conversation_item_added handler, and misses barge-ins; "
                  "voxmem.integrations.livekit.MemoryAgent saves every turn (interrupted "
                  "ones flagged) with no handler to write.")
        user_text = self._pending_user_text
        assistant_text = storable(new_message.text_content or "")
        if user_text is None and not assistant_text:
            return
        self._pending_user_text = None
        try:
            await self.memory_client.save_response(
                user_text=user_text or "", assistant_text=assistant_text, user=self._user,
                metadata={"framework": "livekit",
                          "interrupted": bool(getattr(new_message, "interrupted", False))})
        except Exception as exc:  # a lost save is logged, the call goes on
            log.warning("save_response failed: %s", exc)

    async def on_exit(self) -> None:
        """End the end-user's session (idempotent)."""
        if not self._session_open:
            return
        self._session_open = False
        try:
            await self.memory_client.voxmem_client.end_session(user=self._user)
        except Exception as exc:
            log.warning("memory session could not close (%s)", exc)

    async def aclose(self) -> None:
        """Release the memory client (voxmem addition; the SDK leaves it to exit)."""
        await self.memory_client.aclose()
