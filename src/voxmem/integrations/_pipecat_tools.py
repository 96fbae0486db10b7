"""Memory as Pipecat LLM tools: ``FunctionSchema`` objects with their handlers (SPEC §6.6).

The model decides what is worth keeping (``remember_detail``), looks things up
(``recall_detail``, ``search_memories``, ``list_user_memories``, ``search_knowledge``)
and corrects them (``forget_detail``, ``update_profile``). A schema carries its handler,
so putting the tools in the ``LLMContext`` registers them with the LLM service; no
``register_function`` call is needed.

A handler always answers through ``params.result_callback``: a failure becomes a sentence
the model can act on ("carry on without it"), never an exception in the pipeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import TTSSpeakFrame

from ..client import VoiceClient
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
    "memory_tools_schema",
]

log = logging.getLogger("voxmem.pipecat")

#: Profile fields the model may set with ``update_profile`` unless told otherwise.


class _Refusal(Exception):
    """A tool call the model must be told about (its message is the tool's answer)."""


def _memory_type(raw: Any) -> str:
    return check_memory_type(raw, _Refusal)


def _content(raw: Any, what: str = "content") -> str:
    return check_content(raw, _Refusal, what)


def _query(raw: Any) -> str:
    text = str(raw or "").strip()
    if not text:
        raise _Refusal("query is empty; say what to look for.")
    return text


def _unavailable(exc: Exception, what: str) -> Exception:
    return unavailable(exc, what, _Refusal)


class _Tools:
    """The tool bodies, bound to how they find the client and the caller."""

    def __init__(self, *, client: VoiceClient | None, identity: CallerIdentity | None,
                 memory: Any, profile_fields: Collection[str], filler: str | None,
                 filler_delay_s: float, timeout_ms: float,
                 knowledge_timeout_ms: float) -> None:
        self._client = client
        self._identity = identity
        self._memory = memory
        self.profile_fields = frozenset(profile_fields)
        self.filler = filler
        self.filler_delay_s = filler_delay_s
        self.timeout_ms = timeout_ms
        self.knowledge_timeout_ms = knowledge_timeout_ms

    def client(self) -> VoiceClient:
        client = self._client or getattr(self._memory, "client", None)
        if client is None:
            raise _Refusal("Memory is not set up for this call; carry on without it.")
        return client

    def caller(self) -> tuple[VoiceClient, dict[str, Any]]:
        client = self.client()
        identity = self._identity or getattr(self._memory, "identity", None)
        if not isinstance(identity, CallerIdentity) or identity.anonymous:
            raise _Refusal("The caller is not identified, so nothing can be remembered or "
                           "looked up about them on this call. Do not promise to remember.")
        return client, identity.to_user()

    async def remember_detail(self, args: Mapping[str, Any], _params: Any) -> str:
        client, user = self.caller()
        slot, text = _memory_type(args.get("memory_type")), _content(args.get("content"))
        try:
            await within(client.remember(user=user, memory_type=slot, content=text),
                               self.timeout_ms, "remember_detail")
        except Exception as exc:
            raise _unavailable(exc, f"remember {slot}") from exc
        return f"Remembered {slot}: {text}"

    async def recall_detail(self, args: Mapping[str, Any], _params: Any) -> str:
        client, user = self.caller()
        slot = _memory_type(args.get("memory_type"))
        try:
            value = await within(client.recall(user=user, memory_type=slot),
                               self.timeout_ms, "recall_detail")
        except Exception as exc:
            raise _unavailable(exc, f"look up {slot}") from exc
        if not value:
            return f"Nothing is stored under {slot}. Try search_memories with other words."
        return f"{slot}: {value}"

    async def forget_detail(self, args: Mapping[str, Any], _params: Any) -> str:
        client, user = self.caller()
        slot = _memory_type(args.get("memory_type"))
        try:
            forgotten = await within(client.forget(user=user, memory_type=slot),
                               self.timeout_ms, "forget_detail")
        except Exception as exc:
            raise _unavailable(exc, f"forget {slot}") from exc
        return f"Forgot {slot}." if forgotten else f"Nothing was stored under {slot}."

    async def search_memories(self, args: Mapping[str, Any], _params: Any) -> str:
        client, user = self.caller()
        query = _query(args.get("query"))
        try:
            result = await client.search_memory(
                query, user=user, lanes=["profile", "working", "permanent"],
                timeout_ms=self.timeout_ms)
        except Exception as exc:
            raise _unavailable(exc, "search the caller's memory") from exc
        return result.context_text or "No memories of this caller match that."

    async def list_user_memories(self, _args: Mapping[str, Any], _params: Any) -> str:
        client, user = self.caller()
        try:
            facts = await within(client.list_memories(user=user),
                               self.timeout_ms, "list_user_memories")
        except Exception as exc:
            raise _unavailable(exc, "list the caller's memories") from exc
        lines = [line for line in (fact_line(fact) for fact in facts) if line]
        return "\n".join(lines) if lines else "Nothing is stored about this caller yet."

    async def update_profile(self, args: Mapping[str, Any], _params: Any) -> str:
        client, user = self.caller()
        field = str(args.get("field") or "")
        name = field.strip().lower()
        if name not in self.profile_fields:
            allowed = ", ".join(sorted(self.profile_fields)) or "none"
            raise _Refusal(f"The profile field '{field}' cannot be changed. "
                           f"Allowed fields: {allowed}. Use remember_detail for anything else.")
        text = _content(args.get("value"), "value")
        try:
            await within(client.update_profile(user=user, field=name, value=text),
                               self.timeout_ms, "update_profile")
        except Exception as exc:
            raise _unavailable(exc, f"update {name}") from exc
        return f"Updated {name} to {text}."

    async def search_knowledge(self, args: Mapping[str, Any], params: Any) -> str:
        client = self.client()
        query = _query(args.get("query"))
        search = asyncio.ensure_future(client.search_memory(
            query, user=KNOWLEDGE_LOOKUP_USER, lanes=["org"],
            timeout_ms=self.knowledge_timeout_ms))
        try:
            done, _ = await asyncio.wait([search], timeout=self.filler_delay_s)
            llm = getattr(params, "llm", None)
            if not done and self.filler and llm is not None:
                # Spoken, not written to the context: it is not an answer, and a saved
                # turn would otherwise pair the caller's question with it.
                await llm.push_frame(TTSSpeakFrame(self.filler, append_to_context=False))
            result = await search
        except Exception as exc:
            raise _unavailable(exc, "search the knowledge base") from exc
        finally:
            search.cancel()
        if not result.context_text and result.degraded:
            return ("The knowledge base did not answer in time. Say you could not check "
                    "right now and offer to follow up.")
        return result.context_text or "The knowledge base has nothing on that."


Body = Callable[[_Tools, Mapping[str, Any], Any], Awaitable[str]]

_SPECS: dict[str, tuple[str, dict[str, Any], list[str], Body]] = {
    "remember_detail": (
        "Remember one detail about the caller for future calls, replacing any earlier "
        "value of the same kind. Use it for lasting preferences and facts the caller "
        "shares (favorite color, dietary needs, their dog's name), not for small talk.",
        {"memory_type": {"type": "string", "description":
                         "short snake_case label of the detail, e.g. \"favorite_color\""},
         "content": {"type": "string", "description": "the value to remember, e.g. \"blue\""}},
        ["memory_type", "content"], _Tools.remember_detail),
    "recall_detail": (
        "Look up one remembered detail about the caller by its label.",
        {"memory_type": {"type": "string", "description":
                         "the label it was remembered under, e.g. \"favorite_color\""}},
        ["memory_type"], _Tools.recall_detail),
    "forget_detail": (
        "Forget one remembered detail about the caller, e.g. when they ask you to or say "
        "it is no longer true.",
        {"memory_type": {"type": "string", "description":
                         "the label of the detail to forget, e.g. \"favorite_color\""}},
        ["memory_type"], _Tools.forget_detail),
    "search_memories": (
        "Search everything remembered about the caller and what they said on earlier "
        "calls. Use it when the caller refers to something from before.",
        {"query": {"type": "string", "description":
                   "what to look for, in plain words, e.g. \"the router problem last week\""}},
        ["query"], _Tools.search_memories),
    "list_user_memories": (
        "List every detail remembered about the caller, e.g. when they ask what you know "
        "about them.", {}, [], _Tools.list_user_memories),
    "update_profile": (
        "Set one field of the caller's profile (name, email, language, timezone...), e.g. "
        "when they tell you their name or correct it.",
        {"field": {"type": "string", "description": "the profile field, e.g. \"name\""},
         "value": {"type": "string", "description": "the new value"}},
        ["field", "value"], _Tools.update_profile),
    "search_knowledge": (
        "Search the company knowledge base (policies, products, prices, hours) for a "
        "question the caller asks.",
        {"query": {"type": "string", "description":
                   "the question or topic, e.g. \"return policy for opened items\""}},
        ["query"], _Tools.search_knowledge),
}


def _handler(impl: _Tools, name: str, body: Body) -> Callable[[Any], Awaitable[None]]:
    async def handler(params: Any) -> None:
        arguments = getattr(params, "arguments", None)
        args: Mapping[str, Any] = arguments if isinstance(arguments, Mapping) else {}
        try:
            text = await body(impl, args, params)
        except _Refusal as refusal:
            text = str(refusal)
        except Exception as exc:  # a tool failure must not break the pipeline
            log.warning("memory tool %s failed (%s)", name, exc)
            text = str(_unavailable(exc, name.replace("_", " ")))
        await params.result_callback(text)

    handler.__name__ = name
    return handler


def memory_tools(
    *,
    client: VoiceClient | None = None,
    user: str | Mapping[str, Any] | CallerIdentity | None = None,
    memory: Any = None,
    profile_fields: Iterable[str] = DEFAULT_PROFILE_FIELDS,
    include: Iterable[str] | None = None,
    filler: str | None = DEFAULT_FILLER,
    filler_delay_s: float = DEFAULT_FILLER_DELAY_S,
    timeout_ms: float = DEFAULT_TOOL_TIMEOUT_MS,
    knowledge_timeout_ms: float = DEFAULT_KNOWLEDGE_TIMEOUT_MS,
) -> list[FunctionSchema]:
    """Pipecat ``FunctionSchema`` tools, handlers attached, for the caller's memory.

    ``remember_detail(memory_type, content)`` keeps one value per (caller, memory_type);
    ``recall_detail`` and ``forget_detail`` read and drop it; ``search_memories(query)``
    searches what the caller said and what is known about them; ``list_user_memories()``
    lists the stored details; ``update_profile(field, value)`` sets an allow-listed
    profile field; ``search_knowledge(query)`` searches the project's knowledge indexes
    and, when the lookup runs longer than ``filler_delay_s``, has the bot say ``filler``.

    The caller is ``user`` if given, else whoever ``memory`` (a
    :class:`~voxmem.integrations.pipecat.MemoryProcessor`) serves, looked up at call time.

    Example::

        tools = memory_tools(memory=memory_processor)
        context = LLMContext(messages, tools=ToolsSchema(standard_tools=tools))
    """
    identity: CallerIdentity | None
    if user is None or isinstance(user, CallerIdentity):
        identity = user
    else:
        identity = CallerIdentity.explicit(user)
    if client is None and memory is None:
        raise ValueError("memory_tools needs client=... (with user=...) or memory=...")
    wanted = tuple(include) if include is not None else TOOL_NAMES
    unknown = [name for name in wanted if name not in TOOL_NAMES]
    if unknown:
        raise ValueError(f"unknown memory tools {unknown}; choose from {list(TOOL_NAMES)}")
    impl = _Tools(client=client, identity=identity, memory=memory,
                  profile_fields=tuple(profile_fields), filler=filler,
                  filler_delay_s=filler_delay_s, timeout_ms=timeout_ms,
                  knowledge_timeout_ms=knowledge_timeout_ms)
    tools = []
    for name in wanted:
        description, properties, required, body = _SPECS[name]
        tools.append(FunctionSchema(name=name, description=description,
                                    properties=properties, required=required,
                                    handler=_handler(impl, name, body)))
    return tools


def memory_tools_schema(**kwargs: Any) -> ToolsSchema:
    """:func:`memory_tools` wrapped in a ``ToolsSchema``, ready for ``LLMContext(tools=)``."""
    return ToolsSchema(standard_tools=memory_tools(**kwargs))
