"""voxmem for LiveKit Agents (>= 1.8): a memory agent, caller identity, tools, reports.

Subclass-free or drop-in, the pieces are the same:

- :class:`MemoryAgent` — an ``Agent`` that opens the caller's memory before its first
  reply, renders ``{{memory}}`` in its instructions, recalls under the turn deadline and
  puts the result immediately before the user's message (speech and text input alike),
  and saves every turn from the session's events. Memory closes when the session does,
  not on a handoff.
- :func:`resolve_caller` / :func:`resolve_caller_for_job` — job metadata → SIP phone →
  remote participant → anonymous (never the agent's own identity).
- :func:`memory_tools` — remember / recall / forget / search / list / update_profile and
  ``search_knowledge`` as LLM tools.
- :func:`attach_memory` — the same preload, saves and session end for a plain ``Agent``.
- :func:`on_session_end` — ``on_session_end`` callback confirming LiveKit's session
  report is stored with the call.

Example::

    from livekit.agents import AgentServer, AgentSession, JobContext
    from voxmem import VoiceClient
    from voxmem.integrations.livekit import MemoryAgent, memory_tools, on_session_end

    server = AgentServer()

    @server.rtc_session(on_session_end=on_session_end)
    async def entrypoint(ctx: JobContext) -> None:
        client = VoiceClient(project_id="support", agent_id="front-desk", embedded=True)
        agent = MemoryAgent(client=client, instructions="You are Ava.\\n\\n{{memory}}",
                            tools=memory_tools(),
                            greeting_instructions="Greet the caller, by name if known.")
        await AgentSession(stt=..., llm=..., tts=...).start(agent=agent, room=ctx.room)
"""

from __future__ import annotations

try:
    from livekit.agents import Agent, AgentSession, JobContext, get_job_context, llm
    from livekit.agents.types import FlushSentinel
    from livekit.agents.voice import ModelSettings
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("voxmem.integrations.livekit needs LiveKit Agents: "
                      "pip install 'voxmem[livekit]'") from exc

import asyncio
import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from .._config import Settings
from ..client import VoiceClient
from ..models import Preload
from ._instructions import MEMORY_PLACEHOLDER, render_memory_instructions
from ._livekit_call import (
    DEFAULT_PRELOAD_TIMEOUT_MS,
    DEFAULT_SEARCH_TIMEOUT_MS,
    DEFAULT_TURN_LANES,
    CallMemory,
    insert_recall,
    is_recall_message,
    last_user_message,
)
from ._livekit_identity import (
    CallerIdentity,
    ParticipantLike,
    caller_from_job_metadata,
    caller_from_participants,
    canonical_identity,
    normalize_e164,
    resolve_caller,
)
from ._livekit_tools import DEFAULT_PROFILE_FIELDS, TOOL_NAMES, memory_tools

__all__ = [
    "DEFAULT_PRELOAD_TIMEOUT_MS",
    "DEFAULT_PROFILE_FIELDS",
    "DEFAULT_SEARCH_TIMEOUT_MS",
    "DEFAULT_TURN_LANES",
    "MEMORY_PLACEHOLDER",
    "TOOL_NAMES",
    "CallMemory",
    "CallerIdentity",
    "MemoryAgent",
    "attach_memory",
    "caller_from_job_metadata",
    "caller_from_participants",
    "memory_tools",
    "normalize_e164",
    "on_session_end",
    "render_memory_instructions",
    "resolve_caller",
    "resolve_caller_for_job",
    "store_session_report",
]

log = logging.getLogger("voxmem.livekit")

#: How long to wait for the caller to join when the job metadata does not name them.
DEFAULT_PARTICIPANT_TIMEOUT_S = 5.0
#: How long the report helper waits for the call's memory to finish closing.
REPORT_WAIT_S = 30.0
#: Past the preload deadline, how much longer a first turn waits for on_enter.
READY_SLACK_S = 0.25

UserArg = str | Mapping[str, Any] | CallerIdentity


def _linked_participant(session: AgentSession[Any] | None) -> ParticipantLike | None:
    if session is None:
        return None
    try:
        return session.room_io.linked_participant
    except RuntimeError:  # the session was started without a room
        return None


async def resolve_caller_for_job(
    ctx: JobContext,
    *,
    session: AgentSession[Any] | None = None,
    participant: ParticipantLike | None = None,
    wait_for_participant_s: float = DEFAULT_PARTICIPANT_TIMEOUT_S,
    default_country_code: str | None = None,
) -> CallerIdentity:
    """Resolve the caller of a LiveKit job (see :func:`resolve_caller` for the order).

    When the job metadata names no caller and nobody is in the room yet, waits up to
    ``wait_for_participant_s`` for a participant to join.

    Example::

        identity = await resolve_caller_for_job(ctx)
    """
    metadata = ctx.job.metadata
    participant = participant or _linked_participant(session)
    identity = resolve_caller(job_metadata=metadata, room=ctx.room, participant=participant,
                              default_country_code=default_country_code)
    if not identity.anonymous:
        return identity
    if wait_for_participant_s > 0:
        try:
            joined = await asyncio.wait_for(ctx.wait_for_participant(),
                                            wait_for_participant_s)
        except (TimeoutError, RuntimeError) as exc:
            log.info("no caller joined within %.1f s (%s); the call is anonymous",
                     wait_for_participant_s, exc or "timeout")
            return identity
        identity = resolve_caller(job_metadata=metadata, room=ctx.room, participant=joined,
                                  default_country_code=default_country_code)
    return identity


def _client_tenant(client: VoiceClient) -> str:
    tenant = getattr(client, "tenant_id", None) or getattr(
        getattr(client, "_core", None), "tenant_id", None)
    return tenant if isinstance(tenant, str) else "default"


async def attach_memory(
    session: AgentSession[Any],
    *,
    client: VoiceClient,
    user: UserArg | None = None,
    identity_timeout_s: float = DEFAULT_PARTICIPANT_TIMEOUT_S,
    search_timeout_ms: float = DEFAULT_SEARCH_TIMEOUT_MS,
    preload_timeout_ms: float = DEFAULT_PRELOAD_TIMEOUT_MS,
    owns_client: bool = False,
) -> CallMemory:
    """Give a session memory without subclassing: preload, automatic saves, session end.

    Call it before ``session.start``; render the preload into your instructions with
    :func:`render_memory_instructions` and give the agent :func:`memory_tools`. Per-turn
    recall into the chat context is what :class:`MemoryAgent` adds on top.

    Example::

        memory = await attach_memory(session, client=client, user=identity)
        prompt = render_memory_instructions(TEMPLATE, memory.preload and
                                            memory.preload.context_text)
        await session.start(Agent(instructions=prompt, tools=memory_tools()), room=ctx.room)
    """
    existing = CallMemory.of(session)
    if existing is not None:
        return existing
    if user is None:
        job = get_job_context(required=False)
        identity = (await resolve_caller_for_job(job, wait_for_participant_s=identity_timeout_s)
                    if job is not None else CallerIdentity.anonymous_caller())
    else:
        identity = user if isinstance(user, CallerIdentity) else CallerIdentity.explicit(user)
    if identity.tenant_id and identity.tenant_id != _client_tenant(client):
        log.error("the caller belongs to tenant %r but the memory client serves tenant %r; "
                  "memory is off for this call", identity.tenant_id, _client_tenant(client))
        identity = CallerIdentity.anonymous_caller()
    memory = CallMemory(client=client, identity=identity, owns_client=owns_client,
                        search_timeout_ms=search_timeout_ms,
                        preload_timeout_ms=preload_timeout_ms).attach(session)
    await memory.open()
    return memory


class MemoryAgent(Agent):
    """A LiveKit ``Agent`` that remembers its callers. Drop-in: extra kwargs go to ``Agent``.

    - **Before the first reply** (``on_enter``): resolve the caller, open their voxmem
      session and preload profile, top facts, last call and open commitments into the
      instructions at ``{{memory}}`` (appended when the template has no placeholder). A
      returning caller can be greeted by name.
    - **Every user turn**: ``search_memory`` under ``search_timeout_ms``; the result goes
      into the LLM's context as a system message immediately before the user's message,
      for that turn only. Speech input recalls in ``on_user_turn_completed``; text input
      (``AgentSession.run(user_input=...)``, which skips that hook) recalls in
      ``llm_node``. One search per user turn, however many tool steps follow.
    - **Saves** come from the session's events, no handler to write: several user turns
      before one reply are saved together, a barge-in reply is flagged ``interrupted``.
    - **Memory closes with the session**, not in ``on_exit``: a handoff to another agent
      (a ``MemoryAgent`` or not) keeps the call's memory open. In a LiveKit job the
      session's report goes with the call's ``end_session``.
    - **Failures** (runtime down, deadline missed) are logged on ``voxmem.livekit`` and
      the call goes on without memory.

    Override ``on_enter``, ``on_user_turn_completed`` or ``llm_node`` if you need to, and
    call ``super()`` first.

    Example::

        agent = MemoryAgent(
            client=VoiceClient(project_id="support", agent_id="front-desk", embedded=True),
            instructions="You are Ava, the front desk.\\n\\n{{memory}}",
            greeting_instructions="Greet the caller, by name if you know it.",
            tools=memory_tools(),
        )

    Args:
        instructions: the instructions template; ``{{memory}}`` marks where the caller's
            memory goes.
        client: the memory client (shared, not closed by the agent).
        settings: build a client per call from these settings instead (needs
            ``project_id``); the client then follows the caller's tenant and is closed
            with the call.
        project_id: project of the client built from ``settings``.
        agent_id: voxmem agent id of that client (default: this agent's LiveKit id).
        user: the caller if you already know them (id, ``{"id", "name"}`` or
            :class:`CallerIdentity`); otherwise resolved from the job.
        memory_enabled: ``False`` turns memory off (the placeholder is removed).
        search_timeout_ms: deadline of the per-turn recall.
        preload_timeout_ms: deadline of session start + preload.
        lanes: lanes searched each turn (``None``: all).
        greeting_instructions: if set, the agent speaks first with these instructions,
            once memory is loaded.
        participant_timeout_s: how long to wait for the caller to join when resolving.
        default_country_code: country of national phone numbers from SIP.
        client_kwargs: extra ``VoiceClient`` arguments when building from ``settings``.
    """

    def __init__(
        self,
        *,
        instructions: str,
        client: VoiceClient | None = None,
        settings: Settings | None = None,
        project_id: str | None = None,
        agent_id: str | None = None,
        user: UserArg | None = None,
        memory_enabled: bool = True,
        search_timeout_ms: float = DEFAULT_SEARCH_TIMEOUT_MS,
        preload_timeout_ms: float = DEFAULT_PRELOAD_TIMEOUT_MS,
        lanes: Sequence[str] | None = DEFAULT_TURN_LANES,
        greeting_instructions: str | None = None,
        participant_timeout_s: float = DEFAULT_PARTICIPANT_TIMEOUT_S,
        default_country_code: str | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        **agent_kwargs: Any,
    ) -> None:
        if memory_enabled and client is None and settings is None:
            raise ValueError("MemoryAgent needs client=VoiceClient(...) or settings=Settings(...) "
                             "with project_id=..., or memory_enabled=False")
        if client is None and settings is not None and not project_id:
            raise ValueError("MemoryAgent(settings=...) also needs project_id=...")
        if search_timeout_ms <= 0 or preload_timeout_ms <= 0:
            raise ValueError("search_timeout_ms and preload_timeout_ms must be positive")
        # Until memory is loaded (or when it is off) the placeholder is simply absent.
        super().__init__(instructions=render_memory_instructions(instructions, None),
                         **agent_kwargs)
        self._template = instructions
        self._client = client
        self._settings = settings
        self._project_id = project_id
        self._agent_id = agent_id
        self._user = user
        self._memory_enabled = memory_enabled
        self._search_timeout_ms = search_timeout_ms
        self._preload_timeout_ms = preload_timeout_ms
        self._lanes = lanes
        self._greeting = greeting_instructions
        self._participant_timeout_s = participant_timeout_s
        self._country = default_country_code
        self._client_kwargs = dict(client_kwargs or {})
        self._call_memory: CallMemory | None = None
        # Lanes this agent adds to the call's on each turn (set when it takes over).
        self._extra_lanes: tuple[str, ...] = ()
        self._bare_instructions = render_memory_instructions(instructions, None)
        # Set once on_enter has loaded memory into the instructions (or given up).
        self._memory_ready = asyncio.Event()

    @property
    def memory(self) -> CallMemory | None:
        """The memory of the call this agent is in, or was last in (``None`` before)."""
        try:
            return CallMemory.of(self.session) or self._call_memory
        except RuntimeError:  # not running: the call it last served
            return self._call_memory

    @property
    def instructions_template(self) -> str:
        """The instructions as given, ``{{memory}}`` included."""
        return self._template

    # -- lifecycle ------------------------------------------------------------------------
    async def on_enter(self) -> None:
        """Open the call's memory and render it into the instructions, then greet."""
        try:
            handoff = CallMemory.of(self.session) is not None
            memory = self._call_memory = await self._memory_for_session()
            preload: Preload | None = None
            if memory is not None:
                # Taking over mid-call: preload again so what this call taught us is in.
                preload = await (memory.refresh() if handoff else memory.open())
                if handoff and memory.lanes == DEFAULT_TURN_LANES:
                    # A handed-off agent does not see the earlier conversation unless it
                    # was given its chat context; the working lane brings that part back.
                    self._extra_lanes = ("working",)
            rendered = render_memory_instructions(
                self._template, preload.context_text if preload is not None else None)
            if rendered != self.instructions:
                await self.update_instructions(rendered)
        except Exception as exc:  # the greeting must not depend on memory
            log.warning("memory set-up failed (%s); the call goes on without memory", exc)
        finally:
            self._memory_ready.set()
        if self._greeting:
            self.session.generate_reply(instructions=self._greeting)

    async def on_user_turn_completed(self, turn_ctx: llm.ChatContext,
                                     new_message: llm.ChatMessage) -> None:
        """Recall for the user's words and put it immediately before their message."""
        await self._wait_memory_ready()
        memory = self.memory
        if memory is None or not memory.enabled:
            return
        context_text = await memory.recall(new_message.text_content,
                                           message_id=new_message.id,
                                           extra_lanes=self._extra_lanes)
        # With preemptive generation on, a reply may already be drafting from the turn
        # context as it was; editing it here would discard that draft. llm_node puts the
        # (cached) recall into whichever generation answers the turn instead.
        if context_text and not self._preemptive_generation():
            insert_recall(turn_ctx, new_message, context_text)

    async def llm_node(
        self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: ModelSettings,
    ) -> AsyncGenerator[llm.ChatChunk | str | FlushSentinel, None]:
        """Make sure the turn's recall precedes the user's message, then run the LLM.

        This is the path text input takes (``AgentSession.run`` and text chat do not call
        ``on_user_turn_completed``); on the speech path the hook has already done it.
        """
        await self._ensure_recall(chat_ctx)
        async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
            yield chunk

    async def _wait_memory_ready(self) -> None:
        """Wait for on_enter's preload: the caller may speak (or type) before it is done."""
        if self._memory_ready.is_set():
            return
        try:
            await asyncio.wait_for(self._memory_ready.wait(),
                                   self._preload_timeout_ms / 1000 + READY_SLACK_S)
        except TimeoutError:
            log.warning("memory was not ready for the first turn; answering without it")

    def _sync_instructions(self, chat_ctx: llm.ChatContext) -> None:
        """Put the memory-rendered instructions into a context copied before they existed."""
        current = self.instructions
        if not isinstance(current, str) or current == self._bare_instructions:
            return
        for index, item in enumerate(chat_ctx.items):
            if (isinstance(item, llm.ChatMessage) and item.role == "system"
                    and item.text_content == self._bare_instructions):
                chat_ctx.items[index] = llm.ChatMessage(
                    id=item.id, role="system", content=[current], created_at=item.created_at)
                return

    async def _ensure_recall(self, chat_ctx: llm.ChatContext) -> None:
        # A turn that arrived while on_enter was loading memory was given the
        # instructions without it; bring them up to date for this generation.
        await self._wait_memory_ready()
        self._sync_instructions(chat_ctx)
        memory = self.memory
        if memory is None or not memory.enabled:
            return
        user_message = last_user_message(chat_ctx)
        if user_message is None:
            return
        index = chat_ctx.index_by_id(user_message.id)
        if index and is_recall_message(chat_ctx.items[index - 1]):
            return  # injected by the hook or by an earlier step of this turn
        context_text = await memory.recall(user_message.text_content,
                                           message_id=user_message.id,
                                           extra_lanes=self._extra_lanes)
        if context_text:
            insert_recall(chat_ctx, user_message, context_text)

    def _preemptive_generation(self) -> bool:
        # Agent-level options override the session's, as LiveKit resolves them.
        options = {**self.session.options.turn_handling.get("preemptive_generation", {}),
                   **self._turn_handling.get("preemptive_generation", {})}
        return bool(options.get("enabled"))

    # -- set-up ---------------------------------------------------------------------------
    async def _memory_for_session(self) -> CallMemory | None:
        session = self.session
        existing = CallMemory.of(session)
        if existing is not None:
            return existing  # a handoff: the call's memory is already open
        if not self._memory_enabled:
            return None
        identity = await self._identity()
        client, owns_client = self._client_for(identity)
        if client is None:
            identity = CallerIdentity.anonymous_caller()
        else:
            identity = await canonical_identity(client, identity)
        job = get_job_context(required=False)
        metadata = {"livekit_agent": self.id}
        if job is not None:
            metadata.update(livekit_job_id=job.job.id, livekit_room=job.job.room.name)
        memory = CallMemory(client=client, identity=identity, owns_client=owns_client,
                            search_timeout_ms=self._search_timeout_ms,
                            preload_timeout_ms=self._preload_timeout_ms, lanes=self._lanes,
                            session_metadata=metadata)
        return memory.attach(session)

    async def _identity(self) -> CallerIdentity:
        if self._user is not None:
            if isinstance(self._user, CallerIdentity):
                return self._user
            return CallerIdentity.explicit(self._user)
        job = get_job_context(required=False)
        if job is None:
            log.info("no caller given and no LiveKit job to resolve one from; "
                     "the call is anonymous")
            return CallerIdentity.anonymous_caller()
        try:
            return await resolve_caller_for_job(
                job, session=self.session, wait_for_participant_s=self._participant_timeout_s,
                default_country_code=self._country)
        except Exception as exc:
            log.warning("could not resolve the caller (%s); the call is anonymous", exc)
            return CallerIdentity.anonymous_caller()

    def _client_for(self, identity: CallerIdentity) -> tuple[VoiceClient | None, bool]:
        if self._client is not None:
            tenant = _client_tenant(self._client)
            if identity.tenant_id and identity.tenant_id != tenant:
                # Never write one tenant's caller into another tenant's memory.
                log.error("the caller belongs to tenant %r but the memory client serves "
                          "tenant %r; memory is off for this call", identity.tenant_id, tenant)
                return None, False
            return self._client, False
        assert self._settings is not None and self._project_id is not None
        try:
            client = VoiceClient(project_id=self._project_id, agent_id=self._agent_id or self.id,
                                 settings=self._settings,
                                 tenant_id=identity.tenant_id or "default",
                                 **self._client_kwargs)
        except Exception as exc:
            log.warning("could not create the memory client (%s); memory is off for this call",
                        exc)
            return None, False
        return client, True


async def store_session_report(ctx: JobContext, *,
                               session: AgentSession[Any] | None = None) -> str | None:
    """Make sure LiveKit's session report is stored with the call; returns where.

    The report travels with the call's ``end_session`` when the session closes (LiveKit
    can build it by then); this waits for that close to finish and returns where it went
    (``voxmem:session/<id>``), or ``None`` when there is nothing to store it with (no
    memory, an anonymous caller) or it could not be stored (logged at close).

    Example::

        async def my_session_end(ctx: JobContext) -> None:
            where = await store_session_report(ctx)
            await notify_crm(ctx.room.name, report_location=where)
    """
    try:
        session = session or ctx.primary_session
    except RuntimeError:
        return None
    memory = CallMemory.of(session)
    if memory is None or not memory.enabled:
        return None
    if not await memory.wait_closed(REPORT_WAIT_S):
        log.warning("the call's memory did not close within %.0f s; its report is not "
                    "stored", REPORT_WAIT_S)
    return memory.report_stored()


async def on_session_end(ctx: JobContext) -> None:
    """``on_session_end`` callback for ``AgentServer.rtc_session``: stores the report.

    Example::

        @server.rtc_session(on_session_end=on_session_end)
        async def entrypoint(ctx: JobContext) -> None: ...
    """
    where = await store_session_report(ctx)
    if where is not None:
        log.info("session report stored at %s", where)
