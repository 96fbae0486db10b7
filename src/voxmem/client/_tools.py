"""``MemoryTool``: recall as an LLM tool, plus adapters for OpenAI, LiveKit and Pipecat.

The tool is bound to one caller (the person on the line), so the LLM only ever chooses
*what* to look up, never *whose* memory: it cannot reach another caller's memory by
making up a user id.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from .._exceptions import BadRequest, VoxmemError
from ..models import SearchResult
from ._core import UserArg

__all__ = ["TOOL_DESCRIPTION", "TOOL_NAME", "ClientTools", "MemoryTool", "SessionTools"]

log = logging.getLogger("voxmem.client")

TOOL_NAME = "search_memory"
TOOL_DESCRIPTION = (
    "Search long-term memory about the caller you are talking to and the company's "
    "knowledge base. Returns short dated notes: the caller's profile (name, plan, "
    "preferences), what they said and were promised in earlier calls, identifiers such as "
    "order, ticket or account numbers, and relevant knowledge-base passages. Use it when "
    "the answer depends on earlier calls or on company information you do not have in "
    "the conversation. An empty result means nothing relevant is stored; do not guess."
)
QUERY_DESCRIPTION = ("What to look up, as a short natural-language question, e.g. 'which "
                     "delivery time does the caller prefer?'")
INTENT_DESCRIPTION = ("Why you are searching. answer_current_user (default): answer what "
                      "the caller just asked; personalize: tailor the reply; "
                      "knowledge: company information only.")
NOTHING_FOUND = "No relevant memory found for this caller."
UNAVAILABLE = "Memory is unavailable right now; answer without it."

SearchFn = Callable[[str, str], Awaitable[SearchResult]]


class MemoryTool:
    """Async callable that searches one caller's memory and returns ``contextText``.

    Attributes:
        name: always ``"search_memory"``.
        description: what the LLM reads to decide when to call it.
        last_trace: the trace of the most recent search (per-lane ms, degraded flag).

    Example::

        tool = client.search_memory_tool(user={"id": "caller-42"})
        openai_tools = [tool.schema()]
        text = await tool("what does the caller prefer for follow-ups?")
        print(tool.last_trace)
    """

    name: str = TOOL_NAME

    def __init__(self, search: SearchFn, *, description: str = TOOL_DESCRIPTION) -> None:
        self._search = search
        self.description = description
        self.last_trace: UserArg = None
        self.last_result: SearchResult | None = None

    @property
    def search_fn(self) -> SearchFn:
        """The function the tool searches with (``(query, intent) -> SearchResult``)."""
        return self._search

    async def __call__(self, query: str, *, intent: str = "answer_current_user") -> str:
        """Search memory for ``query``; returns the composed context text.

        A memory failure never aborts the conversation: it is logged, recorded in
        :attr:`last_trace` and answered with a sentence the LLM can work with.
        """
        try:
            result = await self._search(query, intent)
        except VoxmemError as exc:
            log.warning("search_memory tool failed: %s", exc)
            self.last_result = None
            self.last_trace = {"degraded": True, "errors": {"client": exc.code}}
            return UNAVAILABLE
        self.last_result = result
        self.last_trace = result.trace
        return result.context_text or NOTHING_FOUND

    def parameters(self) -> dict[str, Any]:
        """JSON schema of the tool's arguments."""
        return {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": QUERY_DESCRIPTION},
                "intent": {"type": "string", "description": INTENT_DESCRIPTION,
                           "enum": ["answer_current_user", "personalize", "knowledge"]},
            },
            "required": ["query"],
            "additionalProperties": False,
        }

    def schema(self) -> dict[str, Any]:
        """OpenAI Chat Completions tool schema: ``{"type": "function", "function": ...}``."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": self.parameters()}}

    def to_openai_function(self) -> dict[str, Any]:
        """Same as :meth:`schema`; the name the peer SDKs use."""
        return self.schema()

    def to_livekit_tool(self) -> Any:
        """A LiveKit Agents ``FunctionTool`` with this tool's name and description.

        Needs ``livekit-agents`` (``pip install 'voxmem[livekit]'``).
        """
        try:
            # Imported by name: livekit-agents is an optional extra without type stubs.
            function_tool = importlib.import_module("livekit.agents").function_tool
        except ImportError as exc:
            raise VoxmemError(
                "to_livekit_tool() needs livekit-agents, which is not installed: "
                "pip install 'voxmem[livekit]'", code="dependency.missing",
                status_code=500, details={"missing_package": "livekit-agents"}) from exc
        tool = self

        async def search_memory(query: str, intent: str = "answer_current_user") -> str:
            """Search long-term memory about the caller.

            Args:
                query: What to look up, as a short natural-language question.
                intent: Why you are searching (answer_current_user, personalize,
                    knowledge).
            """
            return await tool(query, intent=intent)

        return function_tool(search_memory, name=self.name, description=self.description)

    def to_pipecat_tool(self) -> dict[str, Any]:
        """``{"name", "schema", "handler"}`` for a Pipecat (>= 1.14) LLM service.

        ``schema`` is a Pipecat ``FunctionSchema`` carrying ``handler``, so
        ``ToolsSchema(standard_tools=[tool["schema"]])`` in the ``LLMContext`` both
        advertises and registers the tool; ``llm.register_function(tool["name"],
        tool["handler"])`` works too. ``handler`` takes Pipecat's ``FunctionCallParams``
        and answers through ``await params.result_callback(text)`` (it also returns the
        text, for direct calls).

        Needs ``pipecat-ai`` (``pip install 'voxmem[pipecat]'``).
        """
        try:
            # Imported by name: pipecat-ai is an optional extra.
            function_schema = importlib.import_module(
                "pipecat.adapters.llm.schemas.function_schema").FunctionSchema
        except ImportError as exc:
            raise VoxmemError(
                "to_pipecat_tool() needs pipecat-ai, which is not installed: "
                "pip install 'voxmem[pipecat]'", code="dependency.missing",
                status_code=500, details={"missing_package": "pipecat-ai"}) from exc
        tool = self

        async def handler(params: Any) -> str:
            arguments = getattr(params, "arguments", None)
            args = arguments if isinstance(arguments, Mapping) else {}
            query = args.get("query")
            if not isinstance(query, str) or not query.strip():
                text = "search_memory needs a non-empty 'query' string."
            else:
                intent = args.get("intent")
                text = await tool(query, intent=intent if isinstance(intent, str)
                                  else "answer_current_user")
            await params.result_callback(text)
            return text

        parameters = self.parameters()
        schema = function_schema(name=self.name, description=self.description,
                                 properties=parameters["properties"],
                                 required=parameters["required"], handler=handler)
        return {"name": self.name, "schema": schema, "handler": handler}


class _CallerTools(Protocol):
    def search_memory_tool(self, *, user: UserArg = None,
                           user_id: str | None = None) -> MemoryTool: ...


class _SessionToolSource(Protocol):
    def search_memory_tool(self) -> MemoryTool: ...


async def _no_search(query: str, intent: str) -> SearchResult:
    raise BadRequest("this tool has no caller; use search_memory_tool(user=...)")


class ClientTools:
    """The tool adapters of both clients, written once over ``search_memory_tool``."""

    def to_openai_function(self) -> dict[str, Any]:
        """The ``search_memory`` tool's OpenAI function schema (no caller needed)."""
        return MemoryTool(_no_search).schema()

    def to_livekit_tool(self: _CallerTools, *, user: UserArg = None,
                        user_id: str | None = None) -> Any:
        """The caller's ``search_memory`` tool as a LiveKit ``FunctionTool``."""
        return self.search_memory_tool(user=user, user_id=user_id).to_livekit_tool()

    def to_pipecat_tool(self: _CallerTools, *, user: UserArg = None,
                        user_id: str | None = None) -> dict[str, Any]:
        """The caller's ``search_memory`` tool as ``{"name", "schema", "handler"}``."""
        return self.search_memory_tool(user=user, user_id=user_id).to_pipecat_tool()


class SessionTools:
    """The tool adapters of both session classes, over their ``search_memory_tool``."""

    def to_openai_function(self: _SessionToolSource) -> dict[str, Any]:
        """The tool's OpenAI function schema."""
        return self.search_memory_tool().schema()

    def to_livekit_tool(self: _SessionToolSource) -> Any:
        """The tool as a LiveKit ``FunctionTool`` (needs livekit-agents)."""
        return self.search_memory_tool().to_livekit_tool()

    def to_pipecat_tool(self: _SessionToolSource) -> dict[str, Any]:
        """The tool as ``{"name", "schema", "handler"}`` for Pipecat."""
        return self.search_memory_tool().to_pipecat_tool()
