"""``client.session(user=...)``: one call with one caller, pinned for its duration.

Entering opens the call (``start_session``) and pins the caller's pool handle, so the
pool never evicts or reaps a caller who is on the line; leaving ends the call
(``reason="completed"``, or ``"error"`` when the block raised) and unpins it. Inside,
every method is the client's method with ``user`` already filled in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._exceptions import BadRequest
from ..models import Preload, SearchResult
from ._core import UserArg
from ._runner import LoopThread
from ._tools import TOOL_DESCRIPTION, MemoryTool

if TYPE_CHECKING:
    from ._client import VoiceClient
    from ._pool import CallerHandle

__all__ = ["CallerSession", "CallerSessionSync"]


class CallerSession:
    """An open call with one caller. Use as ``async with client.session(user=...) as s``.

    Example::

        async with client.session(user={"id": "caller-42", "name": "Dana"}) as call:
            print((await call.preload()).contextText)
            memory = await call.search_memory("what did I order last time?")
            await call.save_response(user_text="Where is my order?",
                                     assistant_text="It ships tomorrow.")
    """

    def __init__(self, client: VoiceClient, *, user: UserArg = None,
                 user_id: str | None = None, session_id: str | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._client = client
        self.user: dict[str, Any] = dict(user) if user is not None else {"id": user_id}
        if user is not None and user_id is not None:
            self.user.setdefault("id", user_id)
        self.caller = client._core.check_caller(user, user_id)  # bad_request, before I/O
        self.session_id = session_id
        self._metadata = metadata
        self._handle: CallerHandle | None = None
        self.info: dict[str, Any] = {}
        self.ended = False

    async def __aenter__(self) -> CallerSession:
        if self._handle is not None:
            raise BadRequest("this session is already open; use a new client.session()",
                             field="session")
        self._handle = await self._client._checkout(self.caller.id, pin=True)
        try:
            self.info = await self._client.start_session(
                user=self.user, session_id=self.session_id, metadata=self._metadata)
        except BaseException:
            self._release()
            raise
        self.session_id = str(self.info.get("sessionId") or self.session_id or "") or None
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        try:
            if not self.ended:
                await self.end("completed" if exc_type is None else "error")
        finally:
            self._release()

    def _release(self) -> None:
        if self._handle is not None:
            self._client._pool.checkin(self._handle, pin=True)
            self._handle = None

    async def end(self, reason: str = "completed", *, wait: bool = False) -> dict[str, Any]:
        """End the call now (leaving the ``async with`` block does it otherwise).

        ``wait=True``: return once learning from the call has finished; see
        :meth:`VoiceClient.end_session`.
        """
        self.ended = True
        return await self._client.end_session(user=self.user, reason=reason,
                                              session_id=self.session_id, wait=wait)

    async def search_memory(self, query: str, *, lanes: Sequence[str] | None = None,
                            intent: str = "answer_current_user",
                            top_k: dict[str, int] | None = None,
                            timeout_ms: float | None = None,
                            mode: str = "fast") -> SearchResult:
        """Recall for this caller; see :meth:`VoiceClient.search_memory`."""
        return await self._client.search_memory(query, user=self.user, lanes=lanes,
                                                intent=intent, top_k=top_k,
                                                timeout_ms=timeout_ms, mode=mode)

    async def save_response(self, *, user_text: str, assistant_text: str,
                            turn_id: str | None = None,
                            tool_calls: list[dict[str, Any]] | None = None,
                            metadata: dict[str, Any] | None = None,
                            interrupted: bool = False) -> str | None:
        """Save one turn of this call durably; returns its event id."""
        return await self._client.save_response(
            user_text=user_text, assistant_text=assistant_text, user=self.user,
            turn_id=turn_id, tool_calls=tool_calls, metadata=metadata,
            interrupted=interrupted)

    async def preload(self) -> Preload:
        """The session-start memory block for this caller."""
        return await self._client.preload(user=self.user)

    async def update_profile(self, field: str, value: Any) -> dict[str, Any]:
        """Set one profile field of this caller."""
        return await self._client.update_profile(user=self.user, field=field, value=value)

    def search_memory_tool(self, *, lanes: Sequence[str] | None = None,
                           timeout_ms: float | None = None,
                           description: str = TOOL_DESCRIPTION) -> MemoryTool:
        """A ``search_memory`` LLM tool bound to this caller."""
        return self._client.search_memory_tool(user=self.user, lanes=lanes,
                                               timeout_ms=timeout_ms,
                                               description=description)

    def to_openai_function(self) -> dict[str, Any]:
        """The tool's OpenAI function schema."""
        return self.search_memory_tool().schema()

    def to_livekit_tool(self) -> Any:
        """The tool as a LiveKit ``FunctionTool`` (needs livekit-agents)."""
        return self.search_memory_tool().to_livekit_tool()

    def to_pipecat_tool(self) -> dict[str, Any]:
        """The tool as ``{"name", "schema", "handler"}`` for Pipecat."""
        return self.search_memory_tool().to_pipecat_tool()


class CallerSessionSync:
    """Blocking twin of :class:`CallerSession`, for :class:`VoiceClientSync`.

    Example::

        with client.session(user={"id": "caller-42"}) as call:
            call.save_response(user_text="hi", assistant_text="hello")
    """

    def __init__(self, runner: LoopThread, session: CallerSession) -> None:
        self._runner = runner
        self._session = session

    @property
    def session_id(self) -> str | None:
        return self._session.session_id

    @property
    def user(self) -> dict[str, Any]:
        return self._session.user

    def __enter__(self) -> CallerSessionSync:
        self._runner.run(self._session.__aenter__())
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._runner.run(self._session.__aexit__(exc_type, *exc))

    def end(self, reason: str = "completed", *, wait: bool = False) -> dict[str, Any]:
        """End the call now; see :meth:`CallerSession.end`."""
        return self._runner.run(self._session.end(reason, wait=wait))

    def search_memory(self, query: str, *, lanes: Sequence[str] | None = None,
                      intent: str = "answer_current_user",
                      top_k: dict[str, int] | None = None,
                      timeout_ms: float | None = None, mode: str = "fast") -> SearchResult:
        return self._runner.run(self._session.search_memory(
            query, lanes=lanes, intent=intent, top_k=top_k, timeout_ms=timeout_ms,
            mode=mode))

    def save_response(self, *, user_text: str, assistant_text: str,
                      turn_id: str | None = None,
                      tool_calls: list[dict[str, Any]] | None = None,
                      metadata: dict[str, Any] | None = None,
                      interrupted: bool = False) -> str | None:
        return self._runner.run(self._session.save_response(
            user_text=user_text, assistant_text=assistant_text, turn_id=turn_id,
            tool_calls=tool_calls, metadata=metadata, interrupted=interrupted))

    def preload(self) -> Preload:
        return self._runner.run(self._session.preload())

    def update_profile(self, field: str, value: Any) -> dict[str, Any]:
        return self._runner.run(self._session.update_profile(field, value))

    def search_memory_tool(self, *, lanes: Sequence[str] | None = None,
                           timeout_ms: float | None = None,
                           description: str = TOOL_DESCRIPTION) -> MemoryTool:
        tool = self._session.search_memory_tool(lanes=lanes, timeout_ms=timeout_ms,
                                                description=description)
        return self._runner.hop_tool(tool)

    def to_openai_function(self) -> dict[str, Any]:
        return self._session.to_openai_function()

    def to_livekit_tool(self) -> Any:
        return self.search_memory_tool().to_livekit_tool()

    def to_pipecat_tool(self) -> dict[str, Any]:
        return self.search_memory_tool().to_pipecat_tool()
