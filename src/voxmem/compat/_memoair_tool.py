"""The SDK's ``MemoryTool``: calling it returns the composed ``contextText``, as documented.

voxmem's own :class:`voxmem.client.MemoryTool` answers an empty or failed search with a
sentence for the LLM ("No relevant memory found ..."), which is right inside a tool call
but not for SDK code that calls the tool directly and tests the text
(``context = await tool(q); if context: ...``): that code would splice the sentence into
the prompt as if it were memory. This wrapper returns the text exactly as the SDK does
("" when nothing was recalled or memory was unavailable) and hands the LLM adapters
(``to_livekit_tool`` and friends) voxmem's tool, so an LLM still reads a sentence.
"""

from __future__ import annotations

import logging
from typing import Any

from .._exceptions import VoxmemError
from ..client import MemoryTool as VoxmemMemoryTool
from ..models import SearchResult as VoxmemSearchResult
from ._memoair_types import sdk_intent

__all__ = ["MemoryTool"]

log = logging.getLogger("voxmem.compat")


class MemoryTool:
    """``memoair_voice.MemoryTool``: ``await tool(query)`` returns the ``contextText``.

    Attributes:
        name: always ``"search_memory"``.
        last_trace: the trace of the most recent search (``degraded`` set when memory
            was unavailable), or ``None`` before the first.

    Example::

        tool = client.search_memory_tool(user={"id": "caller_42"})
        openai_tools = [tool.schema()]
        context = await tool("what does the user prefer for follow-ups?")  # "" if none
    """

    def __init__(self, tool: VoxmemMemoryTool) -> None:
        self._tool = tool
        self.name: str = tool.name
        self.last_trace: dict[str, Any] | None = None
        #: voxmem's full result of the most recent search (``None`` if it failed).
        self.last_result: VoxmemSearchResult | None = None

    @property
    def voxmem_tool(self) -> VoxmemMemoryTool:
        """voxmem's tool underneath (its direct call answers the LLM with a sentence)."""
        return self._tool

    @property
    def description(self) -> str:
        """What the LLM reads to decide when to call the tool."""
        return self._tool.description

    async def __call__(self, query: str, *, intent: str = "answer_current_user") -> str:
        """Search memory for ``query``; the composed context text, ``""`` when none."""
        # The search function, not voxmem's tool call: its result is this call's own
        # (reading the inner tool's last_result would race with a concurrent call).
        try:
            result = await self._tool.search_fn(query, sdk_intent(intent))
        except VoxmemError as exc:  # the SDK's search always returns; so does its tool
            log.warning("search_memory tool failed: %s", exc)
            self.last_result = None
            self.last_trace = {"degraded": True, "errors": {"client": exc.code}}
            return ""
        self.last_result = result
        self.last_trace = result.trace
        return result.context_text

    def schema(self) -> dict[str, Any]:
        """OpenAI-style function-tool JSON schema."""
        return self._tool.schema()

    def to_openai_function(self) -> dict[str, Any]:
        """Same as :meth:`schema`."""
        return self._tool.to_openai_function()

    def to_livekit_tool(self) -> Any:
        """A LiveKit ``FunctionTool`` (needs ``voxmem[livekit]``)."""
        return self._tool.to_livekit_tool()

    def to_pipecat_tool(self) -> dict[str, Any]:
        """``{"name", "schema", "handler"}`` for Pipecat (needs ``voxmem[pipecat]``)."""
        return self._tool.to_pipecat_tool()
