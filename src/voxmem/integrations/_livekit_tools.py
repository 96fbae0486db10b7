"""Memory as LLM tools for LiveKit agents (SPEC §6.6 and §10).

The model decides what is worth keeping (``remember_detail``), looks things up
(``recall_detail``, ``search_memories``, ``list_user_memories``, ``search_knowledge``),
corrects them (``forget_detail``, ``update_profile``). A tool finds the caller through the
session's :class:`~voxmem.integrations._livekit_call.CallMemory`, so the same tools serve
every agent of a call, or through the ``client`` and ``user`` given to
:func:`memory_tools`.

Failures become ``ToolError``: its message is what the model reads, so each one says what
happened and what to do next ("carry on without it"), never a stack trace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

from livekit.agents import RunContext, ToolError, function_tool, llm
from livekit.agents.voice import SpeechHandle

from ..client import VoiceClient
from ._livekit_call import CallMemory
from ._livekit_identity import CallerIdentity
from ._tool_core import (
    DEFAULT_FILLER,
    DEFAULT_FILLER_DELAY_S,
    DEFAULT_KNOWLEDGE_TIMEOUT_MS,
    DEFAULT_PROFILE_FIELDS,
    DEFAULT_TOOL_TIMEOUT_MS,
    KNOWLEDGE_LOOKUP_USER,
    TOOL_NAMES,
    check_content,
    check_memory_type,
    fact_line,
    unavailable,
    within,
)

__all__ = [
    "DEFAULT_FILLER",
    "DEFAULT_PROFILE_FIELDS",
    "TOOL_NAMES",
    "memory_tools",
]

#: Profile fields the model may set with ``update_profile`` unless told otherwise.

Tool = llm.Tool


def _memory_type(raw: str) -> str:
    return check_memory_type(raw, ToolError)


def _content(raw: str) -> str:
    return check_content(raw, ToolError)


def _unavailable(exc: Exception, what: str) -> Exception:
    return unavailable(exc, what, ToolError)


class _Tools:
    """The tool bodies, bound to how they find the client and the caller."""

    def __init__(self, *, client: VoiceClient | None, identity: CallerIdentity | None,
                 profile_fields: Collection[str], filler: str | None, filler_delay_s: float,
                 timeout_ms: float, knowledge_timeout_ms: float,
                 knowledge_lanes: tuple[str, ...]) -> None:
        self._client = client
        self._identity = identity
        self.profile_fields = frozenset(profile_fields)
        self.filler = filler
        self.filler_delay_s = filler_delay_s
        self.timeout_ms = timeout_ms
        self.knowledge_timeout_ms = knowledge_timeout_ms
        self.knowledge_lanes = knowledge_lanes

    def _client_of(self, context: RunContext[Any]) -> VoiceClient:
        if self._client is not None:
            return self._client
        memory = CallMemory.of(context.session)
        if memory is None or memory.client is None:
            raise ToolError("Memory is not set up for this call; carry on without it.")
        return memory.client

    def _caller(self, context: RunContext[Any]) -> tuple[VoiceClient, dict[str, Any]]:
        client = self._client_of(context)
        identity = self._identity
        if identity is None:
            memory = CallMemory.of(context.session)
            identity = memory.identity if memory is not None else None
        if identity is None or identity.anonymous:
            raise ToolError("The caller is not identified, so nothing can be remembered or "
                            "looked up about them on this call. Do not promise to remember.")
        return client, identity.to_user()

    async def remember_detail(self, context: RunContext[Any], memory_type: str,
                              content: str) -> str:
        client, user = self._caller(context)
        slot, text = _memory_type(memory_type), _content(content)
        try:
            await within(client.remember(user=user, memory_type=slot, content=text),
                               self.timeout_ms, "remember_detail")
        except Exception as exc:
            raise _unavailable(exc, f"remember {slot}") from exc
        return f"Remembered {slot}: {text}"

    async def recall_detail(self, context: RunContext[Any], memory_type: str) -> str:
        client, user = self._caller(context)
        slot = _memory_type(memory_type)
        try:
            value = await within(client.recall(user=user, memory_type=slot),
                               self.timeout_ms, "recall_detail")
        except Exception as exc:
            raise _unavailable(exc, f"look up {slot}") from exc
        if not value:
            return f"Nothing is stored under {slot}. Try search_memories with other words."
        return f"{slot}: {value}"

    async def forget_detail(self, context: RunContext[Any], memory_type: str) -> str:
        client, user = self._caller(context)
        slot = _memory_type(memory_type)
        try:
            forgotten = await within(client.forget(user=user, memory_type=slot),
                               self.timeout_ms, "forget_detail")
        except Exception as exc:
            raise _unavailable(exc, f"forget {slot}") from exc
        return f"Forgot {slot}." if forgotten else f"Nothing was stored under {slot}."

    async def search_memories(self, context: RunContext[Any], query: str) -> str:
        client, user = self._caller(context)
        if not query.strip():
            raise ToolError("query is empty; say what to look for.")
        try:
            result = await client.search_memory(
                query, user=user, lanes=["profile", "working", "permanent"],
                timeout_ms=self.timeout_ms)
        except Exception as exc:
            raise _unavailable(exc, "search the caller's memory") from exc
        return result.context_text or "No memories of this caller match that."

    async def list_user_memories(self, context: RunContext[Any]) -> str:
        client, user = self._caller(context)
        try:
            facts = await within(client.list_memories(user=user),
                               self.timeout_ms, "list_user_memories")
        except Exception as exc:
            raise _unavailable(exc, "list the caller's memories") from exc
        lines = [line for line in (fact_line(fact) for fact in facts) if line]
        return "\n".join(lines) if lines else "Nothing is stored about this caller yet."

    async def update_profile(self, context: RunContext[Any], field: str, value: str) -> str:
        client, user = self._caller(context)
        name = field.strip().lower()
        if name not in self.profile_fields:
            allowed = ", ".join(sorted(self.profile_fields)) or "none"
            raise ToolError(f"The profile field '{field}' cannot be changed. "
                            f"Allowed fields: {allowed}. Use remember_detail for anything else.")
        text = _content(value)
        try:
            await within(client.update_profile(user=user, field=name, value=text),
                               self.timeout_ms, "update_profile")
        except Exception as exc:
            raise _unavailable(exc, f"update {name}") from exc
        return f"Updated {name} to {text}."

    async def search_knowledge(self, context: RunContext[Any], query: str) -> str:
        client = self._client_of(context)
        if not query.strip():
            raise ToolError("query is empty; say what to look up.")
        try:
            if self.filler:
                filler = self.filler

                def say_filler(_step: int) -> SpeechHandle:
                    # Kept out of the chat history: it is not an answer, and the save
                    # path would otherwise pair the caller's question with it.
                    return context.session.say(filler, add_to_chat_ctx=False)

                # LiveKit's filler speaks only once the session has sat idle this long,
                # so a fast lookup is answered without it.
                async with context.with_filler(say_filler, delay=self.filler_delay_s):
                    result = await self._knowledge(client, query)
            else:
                result = await self._knowledge(client, query)
        except ToolError:
            raise
        except Exception as exc:
            raise _unavailable(exc, "search the knowledge base") from exc
        if not result:
            return "The knowledge base has nothing on that."
        return result

    async def _knowledge(self, client: VoiceClient, query: str) -> str:
        result = await client.search_memory(query, user=KNOWLEDGE_LOOKUP_USER,
                                            lanes=list(self.knowledge_lanes),
                                            timeout_ms=self.knowledge_timeout_ms)
        if not result.context_text and result.degraded:
            raise ToolError("The knowledge base did not answer in time. Say you could not "
                            "check right now and offer to follow up.")
        return result.context_text


def memory_tools(
    *,
    client: VoiceClient | None = None,
    user: str | Mapping[str, Any] | CallerIdentity | None = None,
    profile_fields: Iterable[str] = DEFAULT_PROFILE_FIELDS,
    include: Iterable[str] | None = None,
    filler: str | None = DEFAULT_FILLER,
    filler_delay_s: float = DEFAULT_FILLER_DELAY_S,
    timeout_ms: float = DEFAULT_TOOL_TIMEOUT_MS,
    knowledge_timeout_ms: float = DEFAULT_KNOWLEDGE_TIMEOUT_MS,
    knowledge_lanes: Iterable[str] = ("org",),
) -> list[llm.Tool | llm.Toolset]:
    """LiveKit function tools that let the model manage the caller's memory.

    ``remember_detail(memory_type, content)`` keeps one value per (caller, memory_type);
    ``recall_detail`` and ``forget_detail`` read and drop it; ``search_memories(query)``
    searches what the caller said and what is known about them; ``list_user_memories()``
    lists the stored details; ``update_profile(field, value)`` sets an allow-listed
    profile field; ``search_knowledge(query)`` searches the project's knowledge indexes
    and, when the lookup runs longer than ``filler_delay_s``, says ``filler`` first.

    By default a tool uses the memory of the session it runs in (set up by
    :class:`MemoryAgent` or :func:`attach_memory`), so one list serves every agent of a
    call. Pass ``client`` and ``user`` to pin them instead.

    Example::

        agent = Agent(instructions="...", tools=memory_tools(profile_fields=["name"]))

    Args:
        client: the memory client; defaults to the session's.
        user: the caller; defaults to the session's. An anonymous caller gets a
            ``ToolError`` from every caller tool (``search_knowledge`` still works).
        profile_fields: fields ``update_profile`` may set.
        include: tool names to return (default: all of :data:`TOOL_NAMES`).
        filler: what to say during a slow knowledge search; ``None`` says nothing.
        filler_delay_s: how long the session must sit idle before the filler is said.
        timeout_ms: deadline of each caller-memory tool's call to memory (a runtime that
            stops answering is reported to the model at this point).
        knowledge_timeout_ms: deadline of ``search_knowledge``.
        knowledge_lanes: lanes ``search_knowledge`` reads (only ``"org"`` by default).
    """
    identity: CallerIdentity | None
    if user is None or isinstance(user, CallerIdentity):
        identity = user
    else:
        identity = CallerIdentity.explicit(user)
    lanes = tuple(knowledge_lanes)
    if any(lane != "org" for lane in lanes) and identity is None:
        raise ValueError("knowledge_lanes other than 'org' read a caller's memory; pin user=")
    wanted = tuple(include) if include is not None else TOOL_NAMES
    unknown = [name for name in wanted if name not in TOOL_NAMES]
    if unknown:
        raise ValueError(f"unknown memory tools {unknown}; choose from {list(TOOL_NAMES)}")
    impl = _Tools(client=client, identity=identity, profile_fields=tuple(profile_fields),
                  filler=filler, filler_delay_s=filler_delay_s, timeout_ms=timeout_ms,
                  knowledge_timeout_ms=knowledge_timeout_ms, knowledge_lanes=lanes)
    builders: dict[str, Callable[[_Tools], Tool]] = {
        "remember_detail": _remember_detail, "recall_detail": _recall_detail,
        "forget_detail": _forget_detail, "search_memories": _search_memories,
        "list_user_memories": _list_user_memories, "update_profile": _update_profile,
        "search_knowledge": _search_knowledge,
    }
    # Typed as Agent(tools=...) takes them, so the list can be passed on as it is.
    tools: list[llm.Tool | llm.Toolset] = [builders[name](impl) for name in wanted]
    return tools


# Each builder wraps one method in a plain function: LiveKit reads the tool's name, its
# description and the argument descriptions from the function's signature and docstring.
def _remember_detail(impl: _Tools) -> Tool:
    async def remember_detail(context: RunContext[Any], memory_type: str, content: str) -> str:
        """Remember one detail about the caller for future calls, replacing any earlier
        value of the same kind. Use it for lasting preferences and facts the caller
        shares (favorite color, dietary needs, their dog's name), not for small talk.

        Args:
            memory_type: short snake_case label of the detail, e.g. "favorite_color".
            content: the value to remember, e.g. "blue".
        """
        return await impl.remember_detail(context, memory_type, content)

    return _tool(remember_detail)


def _recall_detail(impl: _Tools) -> Tool:
    async def recall_detail(context: RunContext[Any], memory_type: str) -> str:
        """Look up one remembered detail about the caller by its label.

        Args:
            memory_type: the label it was remembered under, e.g. "favorite_color".
        """
        return await impl.recall_detail(context, memory_type)

    return _tool(recall_detail)


def _forget_detail(impl: _Tools) -> Tool:
    async def forget_detail(context: RunContext[Any], memory_type: str) -> str:
        """Forget one remembered detail about the caller, e.g. when they ask you to or
        say it is no longer true.

        Args:
            memory_type: the label of the detail to forget, e.g. "favorite_color".
        """
        return await impl.forget_detail(context, memory_type)

    return _tool(forget_detail)


def _search_memories(impl: _Tools) -> Tool:
    async def search_memories(context: RunContext[Any], query: str) -> str:
        """Search everything remembered about the caller and what they said on earlier
        calls. Use it when the caller refers to something from before.

        Args:
            query: what to look for, in plain words, e.g. "the router problem last week".
        """
        return await impl.search_memories(context, query)

    return _tool(search_memories)


def _list_user_memories(impl: _Tools) -> Tool:
    async def list_user_memories(context: RunContext[Any]) -> str:
        """List every detail remembered about the caller, e.g. when they ask what you
        know about them."""
        return await impl.list_user_memories(context)

    return _tool(list_user_memories)


def _update_profile(impl: _Tools) -> Tool:
    async def update_profile(context: RunContext[Any], field: str, value: str) -> str:
        """Set one field of the caller's profile (name, email, language, timezone...),
        e.g. when they tell you their name or correct it.

        Args:
            field: the profile field, e.g. "name" or "email".
            value: the new value.
        """
        return await impl.update_profile(context, field, value)

    return _tool(update_profile)


def _search_knowledge(impl: _Tools) -> Tool:
    async def search_knowledge(context: RunContext[Any], query: str) -> str:
        """Search the company knowledge base (policies, products, prices, hours) for a
        question the caller asks.

        Args:
            query: the question or topic, e.g. "return policy for opened items".
        """
        return await impl.search_knowledge(context, query)

    return _tool(search_knowledge)


def _tool(fn: Callable[..., Awaitable[str]]) -> Tool:
    return function_tool(fn)
