"""The SDK's sync mirrors: ``MemoAirVoiceMemorySync`` and ``MemoryToolSync``.

Each runs its async twin on a private loop thread (the way ``VoiceClientSync`` does), so
no logic exists twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..client._runner import LoopThread
from ._memoair_client import MemoAirVoiceMemory
from ._memoair_tool import MemoryTool
from ._memoair_types import DEFAULT_SEARCH_TIMEOUT_MS, IndexLoadResult, SearchResult

__all__ = ["MemoAirVoiceMemorySync", "MemoryToolSync"]


class MemoryToolSync:
    """Blocking ``search_memory`` tool: ``tool(query)`` returns the context text."""

    def __init__(self, tool: MemoryTool, runner: LoopThread) -> None:
        self._tool = tool
        self._runner = runner
        self.name = tool.name

    @property
    def last_trace(self) -> dict[str, Any] | None:
        """The trace of the most recent search."""
        return self._tool.last_trace

    def __call__(self, query: str, *, intent: str = "answer_current_user") -> str:
        return self._runner.run(self._tool(query, intent=intent))

    def schema(self) -> dict[str, Any]:
        """OpenAI function-tool JSON schema."""
        return self._tool.schema()


class MemoAirVoiceMemorySync:
    """:class:`MemoAirVoiceMemory` with the same method names and no ``await``.

    Example::

        memory = MemoAirVoiceMemorySync(project_id="proj_1", user_id="caller_42")
        memory.start_session()
        memory.after_turn("hi", "hello!", turn_id="t1")
        memory.end_session()
        memory.close()
    """

    def __init__(self, **kwargs: Any) -> None:
        self._runner = LoopThread(name="voxmem-memoair-sync")
        self._async = MemoAirVoiceMemory(**kwargs)

    @property
    def session_id(self) -> str | None:
        """The open session's id."""
        return self._async.session_id

    def start_session(self, metadata: dict[str, Any] | None = None,
                      timeout_s: float = 5.0) -> dict[str, Any]:
        """Open the end-user's session."""
        return self._runner.run(self._async.start_session(metadata, timeout_s))

    def load_index(self) -> IndexLoadResult:
        """Open the session (if needed) and report what was loaded."""
        return self._runner.run(self._async.load_index())

    def end_session(self, reason: str = "completed", timeout_s: float = 5.0) -> dict[str, Any]:
        """Close the session."""
        return self._runner.run(self._async.end_session(reason, timeout_s))

    def search_memory(self, query: str, *, lanes: list[str] | None = None,
                      intent: str = "answer_current_user",
                      top_k: dict[str, int] | None = None,
                      timeout_ms: int = DEFAULT_SEARCH_TIMEOUT_MS) -> SearchResult:
        """Recall for this end-user."""
        return self._runner.run(self._async.search_memory(
            query, lanes=lanes, intent=intent, top_k=top_k, timeout_ms=timeout_ms))

    def after_turn(self, user_text: str, assistant_text: str, turn_id: str,
                   tool_calls: list[dict[str, Any]] | None = None,
                   metadata: dict[str, Any] | None = None,
                   timeout_s: float = 1.0) -> str | None:
        """Persist a completed turn."""
        return self._runner.run(self._async.after_turn(
            user_text, assistant_text, turn_id, tool_calls, metadata, timeout_s))

    def search_memory_tool(self, *, search_memory_timeout_ms: int | None = None
                           ) -> MemoryToolSync:
        """A blocking ``search_memory`` tool bound to this end-user."""
        return MemoryToolSync(self._async.search_memory_tool(
            search_memory_timeout_ms=search_memory_timeout_ms), self._runner)

    def to_openai_function(self) -> dict[str, Any]:
        """The tool's OpenAI function schema."""
        return self._async.to_openai_function()

    def to_livekit_tool(self) -> Any:
        """The tool as a LiveKit ``FunctionTool`` (searches run on this object's loop)."""
        return self._runner.hop_tool(
            self._async.search_memory_tool().voxmem_tool).to_livekit_tool()

    def to_pipecat_tool(self) -> Mapping[str, Any]:
        """``{name, schema, handler}`` for Pipecat (searches run on this object's loop)."""
        return self._runner.hop_tool(
            self._async.search_memory_tool().voxmem_tool).to_pipecat_tool()

    def close(self) -> None:
        """Release the client and its loop thread."""
        if self._runner.closed:
            return
        self._runner.run(self._async.aclose())
        self._runner.stop()
