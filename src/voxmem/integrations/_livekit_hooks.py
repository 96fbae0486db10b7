"""Memory hooks for any LiveKit ``Agent`` class, and the mixin that wires them in.

Three hook functions do the work; :class:`MemoryMixin` calls them from ``on_enter``,
``on_user_turn_completed`` and ``llm_node`` whatever the class's MRO looks like:

- :func:`memory_on_enter` — open the call's memory and put the caller's preload in its
  own system message right after the instructions (found by its id), so the
  instructions message stays byte-identical across callers and the provider's
  prompt-prefix cache is shared.
- :func:`memory_on_user_turn` — start the turn's recall as soon as the user's turn ends
  (speech path). With a realtime model, which has no ``llm_node``, the recall goes into
  the agent's context (synced to the model's session) here.
- :func:`memory_before_llm` — on every LLM request (speech and text alike): the recall
  immediately before the user's message, minus what the context already holds, and past
  a size threshold the older conversation compacted into one record.

Every hook is idempotent per request, so a class whose own override already calls the
hook (or ``super()``) and the mixin's wrapper never double-insert anything.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import dataclasses
import functools
import logging
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from livekit.agents import Agent, llm
from livekit.agents.llm.chat_context import Instructions

from ..compaction import Compactor, count_tokens
from ..compaction._tokens import warm_up as warm_token_counter
from ._instructions import render_memory_instructions
from ._livekit_call import DEFAULT_TURN_LANES, CallMemory
from ._livekit_context import (
    MEMORY_MESSAGE_ID,
    RECALL_MESSAGE_PREFIX,
    insert_recall,
    is_recall_message,
    last_user_message,
    put_memory_message,
    without_known_lines,
)

__all__ = [
    "COMPACTED_MESSAGE_ID",
    "MEMORY_MESSAGE_ID",
    "MemoryMixin",
    "memory_before_llm",
    "memory_on_enter",
    "memory_on_user_turn",
    "update_memory_instructions",
]

log = logging.getLogger("voxmem.livekit")

#: Id of the system message holding the compacted older part of the conversation.
COMPACTED_MESSAGE_ID = "voxmem_compacted"
#: Past the preload deadline, how much longer a first turn waits for on_enter.
READY_SLACK_S = 0.25

MemoryFactory = Callable[[Agent], Awaitable[CallMemory | None]]


@dataclasses.dataclass(slots=True)
class _AgentMemory:
    """What one agent object needs to remember between hooks (kept off the agent)."""

    instructions: str | Instructions | None = None
    factory: MemoryFactory | None = None
    extra_lanes: tuple[str, ...] = ()
    ready: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    memory_text: str = ""
    compactor: Compactor | None = None
    folded_ids: list[str] = dataclasses.field(default_factory=list)
    #: Puts a preload that arrived after on_enter in place (a runtime still starting).
    late_load: asyncio.Future[None] | None = None


# Keyed by the agent object, so a user's Agent subclass needs no attribute, no __init__
# cooperation and no private field of LiveKit's.
_AGENTS: weakref.WeakKeyDictionary[Agent, _AgentMemory] = weakref.WeakKeyDictionary()


def _state(agent: Agent) -> _AgentMemory:
    state = _AGENTS.get(agent)
    if state is None:
        state = _AGENTS[agent] = _AgentMemory()
    return state


def configure_agent(agent: Agent, *, factory: MemoryFactory | None,
                    instructions: str | Instructions) -> None:
    """Give ``agent`` a way to open a call's memory itself (what ``MemoryAgent`` does)."""
    state = _state(agent)
    state.factory = factory
    state.instructions = instructions


def strip_memory_placeholder(instructions: str | Instructions) -> str | Instructions:
    """The instructions with ``{{memory}}`` removed: memory goes in its own message."""
    if isinstance(instructions, str):
        return render_memory_instructions(instructions, None)
    # A copy keeps whatever else this LiveKit version's Instructions carries (dynamic, ...).
    stripped = copy.copy(instructions)
    stripped.common = render_memory_instructions(instructions.common, None)
    if instructions.audio is not None:
        stripped.audio = render_memory_instructions(instructions.audio, None)
    if instructions.text is not None:
        stripped.text = render_memory_instructions(instructions.text, None)
    return stripped


def _realtime_instructions(instructions: str | Instructions, memory_text: str) -> str:
    bare = strip_memory_placeholder(instructions)
    text = bare.render() if isinstance(bare, Instructions) else bare
    return f"{text.rstrip()}\n\n{memory_text}" if memory_text else text


def _session_or_none(agent: Agent) -> Any:
    try:
        return agent.session
    except RuntimeError:  # not running
        return None


def _is_realtime(agent: Agent) -> bool:
    model = agent.llm
    if not isinstance(model, llm.RealtimeModel | llm.LLM):
        session = _session_or_none(agent)
        model = session.llm if session is not None else None
    return isinstance(model, llm.RealtimeModel)


def call_memory(agent: Agent) -> CallMemory | None:
    """The memory of the call ``agent`` is running in, if any."""
    session = _session_or_none(agent)
    return CallMemory.of(session) if session is not None else None


# -- the hooks ------------------------------------------------------------------------------
async def memory_on_enter(agent: Agent) -> CallMemory | None:
    """Open the call's memory (or join it after a handoff) and load the caller's preload.

    Call it first thing in your ``on_enter``. The preload goes into a system message of its
    own right after your instructions, which stay exactly as you wrote them. Returns the
    call's memory, or ``None`` when the session has none (see ``attach_memory``).
    """
    state = _state(agent)
    state.ready.clear()
    try:
        session = agent.session
        handoff = CallMemory.of(session) is not None
        memory = CallMemory.of(session)
        if memory is None and state.factory is not None:
            memory = await state.factory(agent)
        if memory is None:
            log.info("agent %s has no call memory: call attach_memory(session, ...) before "
                     "session.start to give it one", agent.id)
            return None
        if state.instructions is None:
            state.instructions = agent.instructions
        if memory.compaction is not None:
            # Tens of milliseconds once per process: here, before the greeting, rather
            # than inside the caller's first turn.
            warm_token_counter()
        preload = await (memory.refresh() if handoff else memory.open())
        has_history = any(isinstance(item, llm.ChatMessage) and item.role == "user"
                          for item in agent.chat_ctx.items)
        # A handed-off agent without the earlier conversation gets it back from the
        # working lane; one given chat_ctx=... already has it, and would get it twice.
        state.extra_lanes = (("working",) if handoff and not has_history
                             and memory.lanes == DEFAULT_TURN_LANES else ())
        state.memory_text = preload.context_text if preload is not None else ""
        await _load_memory(agent, state)
        if preload is None and memory.opening:
            state.late_load = asyncio.ensure_future(_load_when_open(agent, state, memory))
        return memory
    except Exception as exc:  # the greeting must not depend on memory
        log.warning("memory set-up failed (%s); the call goes on without memory", exc)
        return None
    finally:
        state.ready.set()


async def update_memory_instructions(agent: Agent, instructions: str) -> None:
    """New instructions for ``agent`` mid-call, laid out as at the start of the call.

    They become the agent's template: ``{{memory}}`` is removed (the memory has its own
    message), or on a realtime model the preload goes into them, as ``on_enter`` does.
    """
    state = _state(agent)
    state.instructions = instructions
    if _is_realtime(agent):
        text = _realtime_instructions(instructions, state.memory_text)
    else:
        text = render_memory_instructions(instructions, None)
    # LiveKit's own method: the agent's override (MemoryAgent's) is what called this.
    await Agent.update_instructions(agent, text)


async def _load_memory(agent: Agent, state: _AgentMemory) -> None:
    assert state.instructions is not None
    if _is_realtime(agent):
        # A realtime session takes one instructions string and no system messages in its
        # context: the preload goes into the instructions themselves.
        text = _realtime_instructions(state.instructions, state.memory_text)
        if text != agent.instructions:
            await Agent.update_instructions(agent, text)
        return
    bare = strip_memory_placeholder(state.instructions)
    if isinstance(bare, str) and bare != agent.instructions:
        await Agent.update_instructions(agent, bare)
    chat_ctx = agent.chat_ctx.copy()
    put_memory_message(chat_ctx, state.memory_text)
    await agent.update_chat_ctx(chat_ctx)


async def _load_when_open(agent: Agent, state: _AgentMemory, memory: CallMemory) -> None:
    """The preload that arrived after the first reply (a runtime still starting), put in
    place for the agent's next reply: a reply already being generated keeps the context
    it started with, so nothing lands mid-sentence."""
    preload = await memory.wait_open()
    if preload is None or not preload.context_text or call_memory(agent) is not memory:
        return
    try:
        if agent.session.current_agent is not agent:
            return  # handed off meanwhile: the next agent's on_enter preloads for itself
        state.memory_text = preload.context_text
        await _load_memory(agent, state)
    except Exception as exc:  # memory_before_llm still adds it to the next request
        log.warning("could not put the late preload in the agent's context (%s)", exc)
    else:
        log.info("memory loaded for the next reply, once the runtime answered")


async def _wait_ready(agent: Agent, memory: CallMemory) -> None:
    """The caller may speak (or type) while on_enter is still loading memory."""
    state = _state(agent)
    if state.ready.is_set():
        return
    try:
        await asyncio.wait_for(state.ready.wait(),
                               memory.preload_timeout_ms / 1000 + READY_SLACK_S)
    except TimeoutError:
        log.warning("memory was not ready for the first turn; answering without it")


async def memory_on_user_turn(agent: Agent, turn_ctx: llm.ChatContext,
                              new_message: llm.ChatMessage) -> None:
    """Start the turn's recall as the user's turn ends (speech path).

    With an LLM the recall is put in place by :func:`memory_before_llm`, which runs for
    the reply (editing ``turn_ctx`` here would throw away a preemptive draft). A realtime
    model has no ``llm_node``, so the recall goes into the agent's context here, which
    LiveKit syncs to the realtime session. (With the model's own server-side turn
    detection LiveKit does not call this hook at all; see docs/livekit.md.)
    """
    memory = call_memory(agent)
    if memory is None or not memory.enabled:
        return
    await _wait_ready(agent, memory)
    context_text = await memory.recall(new_message.text_content, message_id=new_message.id,
                                       extra_lanes=_state(agent).extra_lanes)
    if context_text and _is_realtime(agent):
        # LiveKit hands a realtime model the agent's chat context, not this turn's copy:
        # the recall goes into the agent's context, which is synced to the model's session
        # before it answers.
        chat_ctx = agent.chat_ctx.copy()
        context_text = without_known_lines(context_text, chat_ctx)
        if context_text and chat_ctx.get_by_id(f"{RECALL_MESSAGE_PREFIX}{new_message.id}") is None:
            insert_recall(chat_ctx, new_message, context_text, role=memory.recall_role)
            await agent.update_chat_ctx(chat_ctx)


async def memory_before_llm(agent: Agent, chat_ctx: llm.ChatContext) -> None:
    """Prepare one LLM request's context: preload, recall, compaction.

    Call it at the top of your ``llm_node`` (before ``Agent.default.llm_node``). Works on
    the request's own copy of the context; the session's history is not changed.
    """
    memory = call_memory(agent)
    if memory is None:
        return
    await _wait_ready(agent, memory)
    state = _state(agent)
    if state.late_load is not None and not memory.opening:
        await asyncio.shield(state.late_load)  # the preload is here: it makes this reply
    if state.memory_text and chat_ctx.get_by_id(MEMORY_MESSAGE_ID) is None:
        # This request's context was copied before on_enter's preload landed.
        put_memory_message(chat_ctx, state.memory_text)
    if memory.compaction is not None:
        _compact(chat_ctx, state, memory)
    if not memory.enabled:
        return
    user_message = last_user_message(chat_ctx)
    if user_message is None:
        return
    index = chat_ctx.index_by_id(user_message.id)
    if index and is_recall_message(chat_ctx.items[index - 1]):
        return  # already there: the realtime hook, or an earlier tool step of this turn
    context_text = await memory.recall(user_message.text_content, message_id=user_message.id,
                                       extra_lanes=state.extra_lanes)
    context_text = without_known_lines(context_text, chat_ctx)
    if context_text:
        insert_recall(chat_ctx, user_message, context_text, role=memory.recall_role)


# -- compaction of a long call ----------------------------------------------------------------
def _conversation_text(item: llm.ChatItem) -> tuple[str, str] | None:
    """(role, text) the compactor reads for a conversation item, or None."""
    if isinstance(item, llm.ChatMessage) and item.role in ("user", "assistant"):
        return item.role, item.text_content or ""
    if isinstance(item, llm.FunctionCallOutput):
        return "assistant", f"({item.name} returned: {item.output})"
    return None


def _compact(chat_ctx: llm.ChatContext, state: _AgentMemory, memory: CallMemory) -> None:
    """Replace the older conversation of this request with the compact record.

    Only user/assistant messages and tool calls with their outputs are folded, and a tool
    call is never separated from its output; the instructions, the memory message and
    every other item stay where they are, with their ids.
    """
    options = memory.compaction
    assert options is not None
    if chat_ctx.get_by_id(COMPACTED_MESSAGE_ID) is not None:
        return  # this request was compacted already (a super() chain of llm_node overrides)
    items = chat_ctx.items
    conversation = [i for i, item in enumerate(items)
                    if _conversation_text(item) is not None or isinstance(item, llm.FunctionCall)]
    total = 0
    for i in conversation:
        pair = _conversation_text(items[i])
        total += count_tokens(pair[1]) if pair is not None else 0
    if total < options.after_tokens:
        return
    messages = [i for i in conversation if isinstance(items[i], llm.ChatMessage)]
    if len(messages) <= options.keep_last_turns:
        return
    boundary = messages[-options.keep_last_turns] if options.keep_last_turns else len(items)
    # Never split a tool call from its output: move the boundary before any call whose
    # output is kept.
    kept_outputs = {item.call_id for item in items[boundary:]
                    if isinstance(item, llm.FunctionCallOutput)}
    for i in conversation:
        item = items[i]
        if i < boundary and isinstance(item, llm.FunctionCall) and item.call_id in kept_outputs:
            boundary = i
            break
    older = [i for i in conversation if i < boundary]
    if not older:
        return
    if state.compactor is None:
        state.compactor = Compactor(keep_last_turns=0)
    done = set(state.folded_ids)
    for i in older:
        item = items[i]
        pair = _conversation_text(item)
        if item.id in done or pair is None or not pair[1].strip():
            continue
        state.compactor.add(*pair)
        state.folded_ids.append(item.id)
    record = state.compactor.record()
    drop = set(older)
    first = older[0]
    chat_ctx.items = [item for i, item in enumerate(items)
                      if i not in drop and not (i < boundary and is_recall_message(item))]
    if record:
        position = sum(1 for i in range(first) if i not in drop
                       and not is_recall_message(items[i]))
        chat_ctx.items.insert(position, llm.ChatMessage(
            id=COMPACTED_MESSAGE_ID, role="system", content=[record],
            created_at=items[first].created_at))


# -- the mixin ---------------------------------------------------------------------------------
_HOOKED = "__voxmem_hooked__"
# Set while a class's own on_enter runs, so the memory is loaded once per enter even when
# every class of the chain is wrapped and calls super().
_ENTERING: contextvars.ContextVar[bool] = contextvars.ContextVar("voxmem_entering",
                                                                 default=False)


def _wrap_on_enter(original: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    @functools.wraps(original)
    async def on_enter(self: Agent) -> None:
        if _ENTERING.get():  # a super().on_enter() of an overriding subclass
            await original(self)
            return
        await memory_on_enter(self)
        token = _ENTERING.set(True)
        try:
            await original(self)
        finally:
            _ENTERING.reset(token)

    setattr(on_enter, _HOOKED, True)
    return on_enter


def _wrap_on_user_turn(original: Callable[..., Awaitable[None]]
                       ) -> Callable[..., Awaitable[None]]:
    @functools.wraps(original)
    async def on_user_turn_completed(self: Agent, turn_ctx: llm.ChatContext,
                                     new_message: llm.ChatMessage) -> None:
        await memory_on_user_turn(self, turn_ctx, new_message)
        await original(self, turn_ctx, new_message)

    setattr(on_user_turn_completed, _HOOKED, True)
    return on_user_turn_completed


def _wrap_llm_node(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def llm_node(self: Agent, chat_ctx: llm.ChatContext, tools: list[llm.Tool],
                       model_settings: Any) -> AsyncGenerator[Any, None]:
        await memory_before_llm(self, chat_ctx)
        # An async generator whatever the class's node returns (a generator, a coroutine
        # of text or of a chunk): LiveKit reads all of them, and a subclass can still
        # write ``async for chunk in super().llm_node(...)``.
        result = original(self, chat_ctx, tools, model_settings)
        if asyncio.iscoroutine(result):
            result = await result
        if result is None:
            return
        if isinstance(result, str | llm.ChatChunk):
            yield result
            return
        async for chunk in result:
            yield chunk

    setattr(llm_node, _HOOKED, True)
    return llm_node


_WRAPPERS: dict[str, Callable[[Any], Any]] = {
    "on_enter": _wrap_on_enter,
    "on_user_turn_completed": _wrap_on_user_turn,
    "llm_node": _wrap_llm_node,
}


class MemoryMixin:
    """Adds the call's memory to your own ``Agent`` subclass, in either base order.

    ``class FrontDesk(MemoryMixin, MyAgent)`` and ``class FrontDesk(MyAgent, MemoryMixin)``
    both work, and so do subclasses that override ``on_enter``, ``on_user_turn_completed``
    or ``llm_node`` without calling ``super()`` (a user ``llm_node`` that calls
    ``Agent.default.llm_node`` directly included): the memory step runs before the
    method the class ends up with. No ``__init__`` is needed; the memory comes from the
    session (:func:`~voxmem.integrations.livekit.attach_memory` before
    ``session.start``).

    Example::

        class FrontDesk(MemoryMixin, MyCompanyAgent):
            pass

        session = AgentSession(llm=..., stt=..., tts=...)
        await attach_memory(session, client=client, user=caller)
        await session.start(FrontDesk(instructions="You are Ava."), room=ctx.room)
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, wrap in _WRAPPERS.items():
            method = getattr(cls, name, None)
            if method is None or getattr(method, _HOOKED, False):
                continue
            setattr(cls, name, wrap(method))
