"""voxmem for LiveKit Agents (>= 1.8): a memory agent, a mixin, caller identity, tools.

Subclass-free or drop-in, the pieces are the same:

- :class:`MemoryAgent` — an ``Agent`` that opens the caller's memory before its first
  reply and puts it in a message of its own after the (unchanged, cacheable)
  instructions, recalls under the turn deadline and puts the result immediately before
  the user's message (speech and text input alike), compacts long calls, and saves every
  turn from the session's events. Memory closes when the session does, not on a handoff.
- :class:`MemoryMixin` + :func:`attach_memory` — the same for an ``Agent`` class you
  already have, in either base order; :func:`memory_on_enter`,
  :func:`memory_on_user_turn` and :func:`memory_before_llm` are its three steps, to call
  from your own hooks instead.
- :func:`resolve_caller` / :func:`resolve_caller_for_job` — job metadata → SIP phone →
  remote participant → anonymous (never the agent's own identity).
- :func:`memory_tools` — remember / recall / forget / search / list / update_profile and
  ``search_knowledge`` as LLM tools.
- :func:`on_session_end` — ``on_session_end`` callback confirming LiveKit's session
  report is stored with the call.

Example::

    from livekit.agents import AgentServer, AgentSession, JobContext, JobProcess
    from voxmem import VoiceClient
    from voxmem.integrations.livekit import MemoryAgent, memory_tools, on_session_end

    def prewarm(proc: JobProcess) -> None:
        proc.userdata["voxmem"] = VoiceClient(project_id="support", agent_id="front-desk")

    server = AgentServer(setup_fnc=prewarm)

    @server.rtc_session(on_session_end=on_session_end)
    async def entrypoint(ctx: JobContext) -> None:
        agent = MemoryAgent(client=ctx.proc.userdata["voxmem"], instructions="You are Ava.",
                            tools=memory_tools(),
                            greeting_instructions="Greet the caller, by name if known.")
        await AgentSession(stt=..., llm=..., tts=...).start(agent=agent, room=ctx.room)
"""

from __future__ import annotations

try:
    from livekit.agents import Agent, AgentSession, JobContext, get_job_context
    from livekit.agents.llm.chat_context import Instructions
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("voxmem.integrations.livekit needs LiveKit Agents: "
                      "pip install 'voxmem[livekit]'") from exc

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from .._config import Settings
from ..client import VoiceClient
from ..client._tenant import serves_tenant
from ..models import DEFAULT_TENANT
from ._call_defaults import (
    DEFAULT_CLOSE_TIMEOUT_S,
    check_call_options,
    until_deadline_or_start,
)
from ._instructions import MEMORY_PLACEHOLDER, render_memory_instructions
from ._livekit_call import (
    DEFAULT_PRELOAD_TIMEOUT_MS,
    DEFAULT_SEARCH_TIMEOUT_MS,
    DEFAULT_TURN_LANES,
    CallMemory,
)
from ._livekit_context import DEFAULT_RECALL_ROLE, CompactionOptions, RecallRole, insert_recall
from ._livekit_hooks import (
    COMPACTED_MESSAGE_ID,
    MEMORY_MESSAGE_ID,
    MemoryMixin,
    call_memory,
    configure_agent,
    memory_before_llm,
    memory_on_enter,
    memory_on_user_turn,
    strip_memory_placeholder,
    update_memory_instructions,
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
    "COMPACTED_MESSAGE_ID",
    "DEFAULT_COMPACTION",
    "DEFAULT_PRELOAD_TIMEOUT_MS",
    "DEFAULT_PROFILE_FIELDS",
    "DEFAULT_RECALL_ROLE",
    "DEFAULT_SEARCH_TIMEOUT_MS",
    "DEFAULT_TURN_LANES",
    "MEMORY_MESSAGE_ID",
    "MEMORY_PLACEHOLDER",
    "TOOL_NAMES",
    "CallMemory",
    "CallerIdentity",
    "CompactionOptions",
    "MemoryAgent",
    "MemoryMixin",
    "RecallRole",
    "attach_memory",
    "caller_from_job_metadata",
    "caller_from_participants",
    "insert_recall",
    "memory_before_llm",
    "memory_on_enter",
    "memory_on_user_turn",
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
#: Long calls are compacted by default once the conversation passes ~1,000 tokens.
DEFAULT_COMPACTION = CompactionOptions()

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


async def _serves(client: VoiceClient, identity: CallerIdentity, timeout_ms: float) -> bool:
    """Whether ``client`` may serve the caller: their job names no tenant, or the one the
    client's calls run in (a client with only a tenant's API key asks the runtime)."""
    if not identity.tenant_id:
        return True
    try:
        if await serves_tenant(client, identity.tenant_id, timeout_s=timeout_ms / 1000):
            return True
    except Exception as exc:  # a revoked key, say: memory is off, the call goes on
        log.warning("could not check the memory client's tenant (%s)", exc)
    # Never write one tenant's caller into another tenant's memory.
    log.error("the caller belongs to tenant %r but the memory client does not serve it "
              "(its tenant: %r, or its API key's); memory is off for this call",
              identity.tenant_id, client.tenant_id)
    return False


async def attach_memory(
    session: AgentSession[Any],
    *,
    client: VoiceClient,
    user: UserArg | None = None,
    identity_timeout_s: float = DEFAULT_PARTICIPANT_TIMEOUT_S,
    search_timeout_ms: float = DEFAULT_SEARCH_TIMEOUT_MS,
    preload_timeout_ms: float = DEFAULT_PRELOAD_TIMEOUT_MS,
    lanes: Sequence[str] | None = DEFAULT_TURN_LANES,
    recall_role: RecallRole = DEFAULT_RECALL_ROLE,
    compaction: CompactionOptions | None = DEFAULT_COMPACTION,
    owns_client: bool = False,
    close_timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S,
) -> CallMemory:
    """Give a session memory: preload, automatic saves, session end, and the tools.

    Call it before ``session.start``. Agents that use :class:`MemoryMixin` (or call the
    ``memory_*`` hooks) then get the preload in its own message, per-turn recall and
    compaction from it; a plain ``Agent`` gets saves and session end, and can render the
    preload into its instructions with :func:`render_memory_instructions` and ask for
    memory through :func:`memory_tools`.

    Example::

        class FrontDesk(MemoryMixin, MyAgent):
            pass

        await attach_memory(session, client=client, user=identity)
        await session.start(FrontDesk(instructions=PROMPT), room=ctx.room)
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
    if not await _serves(client, identity, preload_timeout_ms):
        identity = CallerIdentity.anonymous_caller()
    memory = CallMemory(client=client, identity=identity, owns_client=owns_client,
                        search_timeout_ms=search_timeout_ms,
                        preload_timeout_ms=preload_timeout_ms, lanes=lanes,
                        recall_role=recall_role, compaction=compaction,
                        close_timeout_s=close_timeout_s).attach(session)
    await memory.open()
    return memory


class MemoryAgent(MemoryMixin, Agent):
    """A LiveKit ``Agent`` that remembers its callers. Drop-in: extra kwargs go to ``Agent``.

    - **Before the first reply** (``on_enter``): resolve the caller, open their voxmem
      session and preload profile, top facts, last call and open commitments into a
      system message of its own, right after the instructions (id
      ``voxmem_memory``). The instructions stay byte-identical for every caller, so
      a provider's prompt-prefix cache is shared across calls. ``{{memory}}`` in the
      instructions is removed. A returning caller can be greeted by name.
    - **Every user turn**: ``search_memory`` under ``search_timeout_ms``; the result goes
      into the LLM's context immediately before the user's message, for that turn only,
      without what the context already holds (the preload, earlier turns). Speech and text
      input alike; one search per user turn however many tool steps follow.
    - **Long calls**: past ``compaction.after_tokens`` the older conversation is sent as
      one compact record (:func:`voxmem.compact_transcript`); the history keeps it all.
    - **Saves** come from the session's events, no handler to write.
    - **Memory closes with the session**, not in ``on_exit``: a handoff keeps it open.
    - **Failures** are logged on ``voxmem.livekit`` and the call goes on without memory.

    Subclass it and override ``on_enter``, ``on_user_turn_completed`` or ``llm_node``
    freely (calling ``super()`` or ``Agent.default.llm_node``); the memory step runs
    first either way. To add memory to an agent class you already have, use
    :class:`MemoryMixin` instead.

    Example::

        agent = MemoryAgent(
            client=VoiceClient(project_id="support", agent_id="front-desk", embedded=True),
            instructions="You are Ava, the front desk.",
            greeting_instructions="Greet the caller, by name if you know it.",
            tools=memory_tools(),
        )

    Args:
        instructions: the instructions, a string or LiveKit ``Instructions``.
        client: the memory client (shared, not closed by the agent).
        settings: build a client per call from these settings instead (needs
            ``project_id``); the client then follows the caller's tenant and is closed
            with the call.
        project_id: project of the client built from ``settings``.
        agent_id: voxmem agent id of that client (default: this agent's LiveKit id).
        user: the caller if you already know them (id, ``{"id", "name"}`` or
            :class:`CallerIdentity`); otherwise resolved from the job.
        memory_enabled: ``False`` turns memory off.
        search_timeout_ms: deadline of the per-turn recall.
        preload_timeout_ms: deadline of session start + preload.
        lanes: lanes searched each turn (``None``: all).
        recall_role: role of the per-turn recall message: ``"system"`` (default),
            ``"developer"`` or ``"assistant"`` (see docs/livekit.md for the trade-off).
        compaction: when to compact a long call (``None``: never).
        greeting_instructions: if set, the agent speaks first with these instructions,
            once memory is loaded.
        participant_timeout_s: how long to wait for the caller to join when resolving.
        close_timeout_s: how long the end of the call waits for queued saves, for an
            opening still on its way, and for ``end_session``, each.
        default_country_code: country of national phone numbers from SIP.
        client_kwargs: extra ``VoiceClient`` arguments when building from ``settings``.
    """

    def __init__(
        self,
        *,
        instructions: str | Instructions,
        client: VoiceClient | None = None,
        settings: Settings | None = None,
        project_id: str | None = None,
        agent_id: str | None = None,
        user: UserArg | None = None,
        memory_enabled: bool = True,
        search_timeout_ms: float = DEFAULT_SEARCH_TIMEOUT_MS,
        preload_timeout_ms: float = DEFAULT_PRELOAD_TIMEOUT_MS,
        lanes: Sequence[str] | None = DEFAULT_TURN_LANES,
        recall_role: RecallRole = DEFAULT_RECALL_ROLE,
        compaction: CompactionOptions | None = DEFAULT_COMPACTION,
        greeting_instructions: str | None = None,
        participant_timeout_s: float = DEFAULT_PARTICIPANT_TIMEOUT_S,
        close_timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S,
        default_country_code: str | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        **agent_kwargs: Any,
    ) -> None:
        if memory_enabled and client is None and settings is None:
            raise ValueError("MemoryAgent needs client=VoiceClient(...) or settings=Settings(...) "
                             "with project_id=..., or memory_enabled=False")
        if client is None and settings is not None and not project_id:
            raise ValueError("MemoryAgent(settings=...) also needs project_id=...")
        check_call_options(search_timeout_ms, preload_timeout_ms, lanes)
        if user is not None and not isinstance(user, CallerIdentity):
            CallerIdentity.explicit(user)  # a bad user is a mistake to hear of now
        if recall_role not in ("system", "developer", "assistant"):
            raise ValueError("recall_role must be 'system', 'developer' or 'assistant'")
        if not isinstance(instructions, str | Instructions):
            raise TypeError("instructions must be a str or livekit.agents.llm.Instructions")
        super().__init__(instructions=strip_memory_placeholder(instructions), **agent_kwargs)
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
        self._recall_role = recall_role
        self._compaction = compaction
        self._greeting = greeting_instructions
        self._participant_timeout_s = participant_timeout_s
        self._close_timeout_s = close_timeout_s
        self._country = default_country_code
        self._client_kwargs = dict(client_kwargs or {})
        self._call_memory: CallMemory | None = None
        configure_agent(self, factory=self._open_call_memory, instructions=instructions)

    @property
    def memory(self) -> CallMemory | None:
        """The memory of the call this agent is in, or was last in (``None`` before)."""
        return call_memory(self) or self._call_memory

    @property
    def instructions_template(self) -> str | Instructions:
        """The instructions as given (a ``{{memory}}`` placeholder in them is not sent)."""
        return self._template

    async def update_instructions(self, instructions: str) -> None:
        """New instructions for the rest of the call, treated as the constructor's are:
        a ``{{memory}}`` in them is removed (on a realtime model, the preload takes its
        place), and they become :attr:`instructions_template`."""
        self._template = instructions
        await update_memory_instructions(self, instructions)

    async def on_enter(self) -> None:
        """Greet once memory is loaded (the memory step itself runs before this)."""
        self._call_memory = call_memory(self) or self._call_memory
        if self._greeting:
            self.session.generate_reply(instructions=self._greeting)

    # -- set-up ---------------------------------------------------------------------------
    async def _open_call_memory(self, agent: Agent) -> CallMemory | None:
        if not self._memory_enabled:
            return None
        session = self.session
        identity = await self._identity()
        client, owns_client = await self._client_for(identity)
        if client is None:
            identity = CallerIdentity.anonymous_caller()
        else:
            # Bounded like the opening: a runtime still starting must not hold the greeting.
            identity = await until_deadline_or_start(
                client, canonical_identity(client, identity),
                self._preload_timeout_ms / 1000) or identity
        job = get_job_context(required=False)
        metadata = {"livekit_agent": self.id}
        if job is not None:
            metadata.update(livekit_job_id=job.job.id, livekit_room=job.job.room.name)
        memory = CallMemory(client=client, identity=identity, owns_client=owns_client,
                            search_timeout_ms=self._search_timeout_ms,
                            preload_timeout_ms=self._preload_timeout_ms, lanes=self._lanes,
                            session_metadata=metadata, recall_role=self._recall_role,
                            compaction=self._compaction, close_timeout_s=self._close_timeout_s)
        self._call_memory = memory.attach(session)
        return self._call_memory

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

    async def _client_for(self, identity: CallerIdentity) -> tuple[VoiceClient | None, bool]:
        if self._client is not None:
            if not await _serves(self._client, identity, self._preload_timeout_ms):
                return None, False
            return self._client, False
        assert self._settings is not None and self._project_id is not None
        try:
            client = VoiceClient(project_id=self._project_id, agent_id=self._agent_id or self.id,
                                 settings=self._settings,
                                 tenant_id=identity.tenant_id or DEFAULT_TENANT,
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
