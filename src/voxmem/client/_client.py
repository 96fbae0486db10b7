"""``VoiceClient`` (async) and ``VoiceClientSync``: same names, same arguments.

``VoiceClient`` wires three things together for every method: a builder and a parser
from the I/O-free :class:`~voxmem.client._core.ClientCore`, the caller pool, and a
transport — the local runtime over loopback HTTP (default, started on first use), a
remote runtime (``runtime_url=``), or the engine in-process (``embedded=True``).

``VoiceClientSync`` is the same client run on a private loop thread; each method blocks
on its async twin, so no logic exists twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from .._config import UNSET, Settings, Unset, setting_default
from .._exceptions import (
    BadRequest,
    MemoryTimeout,
    PoolError,
    RuntimeStartFailed,
    StoreUnavailable,
    VoxmemError,
)
from ..models import IndexBuildResult, Preload, SearchResult
from ._callers import CallerMethods, CallerMethodsSync
from ._core import ClientCore, OperationCall, UserArg
from ._http import RuntimeTransport
from ._pool import CallerHandle, CallerPool
from ._runner import LoopThread
from ._session import CallerSession, CallerSessionSync
from ._tools import TOOL_DESCRIPTION, MemoryTool

__all__ = ["VoiceClient", "VoiceClientSync"]

log = logging.getLogger("voxmem.client")

DEFAULT_PORT_RANGE: tuple[int, int] = (setting_default("runtime_port_min"),
                                       setting_default("runtime_port_max"))
DEFAULT_MAX_CONCURRENT_USERS = 20
DEFAULT_IDLE_TTL_S = 300.0
MAX_REAP_PERIOD_S = 30.0
MIN_REAP_PERIOD_S = 0.05


class Transport(Protocol):
    async def call(self, call: OperationCall, *, timeout_s: float | None = None) -> Any: ...

    async def aclose(self) -> None: ...


def _settings(settings: Settings | dict[str, Any] | None, data_dir: str | Path | None,
              port_range: tuple[int, int]) -> Settings:
    overrides = dict(settings) if isinstance(settings, dict) else {}
    base = settings if isinstance(settings, Settings) else Settings.from_env(overrides)
    changes: dict[str, Any] = {}
    if data_dir is not None:
        changes["data_dir"] = str(data_dir)
    # The argument's default must not undo a range chosen in settings or the environment.
    if tuple(port_range) != DEFAULT_PORT_RANGE:
        changes["runtime_port_min"], changes["runtime_port_max"] = port_range
    return base.replace(**changes) if changes else base


class VoiceClient(CallerMethods):
    """Async memory client for voice agents.

    With no ``runtime_url`` the first call starts the host's runtime (a detached
    ``voxmem serve`` for ``data_dir``) and every other process reuses it.
    ``embedded=True`` runs the engine in this process instead.

    Example::

        client = VoiceClient(project_id="support", agent_id="front-desk")
        async with client.session(user={"id": "caller-42", "name": "Dana"}) as call:
            await call.save_response(user_text="I'm vegetarian", assistant_text="Noted!")
            result = await call.search_memory("what do I eat?")
            print(result.contextText)
        await client.aclose()
    """

    def __init__(
        self,
        *,
        project_id: str,
        agent_id: str,
        api_key: str | None = None,
        runtime_url: str | None = None,
        embedded: bool = False,
        data_dir: str | Path | None = None,
        max_concurrent_users: int = DEFAULT_MAX_CONCURRENT_USERS,
        runtime_idle_ttl_s: float = DEFAULT_IDLE_TTL_S,
        runtime_port_range: tuple[int, int] = DEFAULT_PORT_RANGE,
        settings: Settings | dict[str, Any] | None = None,
        tenant_id: str = "default",
    ) -> None:
        self._core = ClientCore(project_id=project_id, agent_id=agent_id, tenant_id=tenant_id)
        self.settings = _settings(settings, data_dir, runtime_port_range)
        self.project_id = project_id
        self.agent_id = agent_id
        self.tenant_id = tenant_id
        self.runtime_url = runtime_url or self.settings.runtime_url or None
        if embedded and self.runtime_url:
            raise BadRequest("embedded=True runs the engine in-process; it cannot be "
                             "combined with runtime_url", field="runtime_url")
        self.embedded = embedded
        self._transport: Transport
        if embedded:
            # Imported here: the engine (numpy, indexes, extractors) loads only in the
            # processes that run it, never in a worker that talks to a runtime.
            from ._embedded import AsyncEmbeddedTransport

            self._transport = AsyncEmbeddedTransport(self.settings)
        else:
            self._transport = RuntimeTransport(
                self.settings, runtime_url=self.runtime_url,
                token=api_key or self.settings.runtime_token or None)
        self._pool = CallerPool(max_concurrent_users, runtime_idle_ttl_s)
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------------
    async def _checkout(self, user_id: str, *, pin: bool = False) -> CallerHandle:
        """The caller's pool handle, busy; an evicted idle handle is retired first."""
        handle, evicted = self._pool.checkout(user_id, pin=pin)
        self._ensure_reaper()
        if evicted is not None:
            await self._retire(evicted, "evicted")
        return handle

    async def _send(self, call: OperationCall, *, timeout_s: float | None = None) -> Any:
        caller = call.caller  # bad_request before any I/O when the caller is missing
        if caller is None:
            if self._closed:
                raise PoolError("the client is closed; create a new one", code="pool.closed")
            return await self._transport.call(call, timeout_s=timeout_s)
        handle = await self._checkout(caller.id)
        try:
            result = await self._transport.call(call, timeout_s=timeout_s)
        finally:
            self._pool.checkin(handle)
        _track_session(handle, call, result)
        return result

    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.ensure_future(self._reap_idle_handles())

    async def _reap_idle_handles(self) -> None:
        period = min(MAX_REAP_PERIOD_S, max(MIN_REAP_PERIOD_S, self._pool.idle_ttl_s / 2))
        while not self._closed:
            await asyncio.sleep(period)
            for handle in self._pool.expired():
                await self._retire(handle, "idle")
                self._pool.mark_reaped(handle)  # counted once its call has ended

    async def _retire(self, handle: CallerHandle, why: str) -> None:
        """Close a handle the pool let go of. Saves are durable before they return, so
        an idle handle has nothing left to flush; a call left open past the idle TTL is
        ended so its transcript gets its end-of-call processing."""
        log.debug("retiring caller handle %s (%s)", handle.user_id, why)
        if why != "idle" or not handle.session_open:
            return
        try:
            await self._transport.call(self._core.end_session(
                user=None, user_id=handle.user_id, reason="idle_timeout",
                session_id=handle.session_id))
        except VoxmemError as exc:
            log.warning("could not end the idle call of %s: %s", handle.user_id, exc)

    @property
    def pool_stats(self) -> dict[str, int]:
        """Caller handles held, busy, evicted and reaped so far."""
        return self._pool.stats()

    # -- memory -----------------------------------------------------------------------------
    async def search_memory(self, query: str, *, user: UserArg = None,
                            user_id: str | None = None, lanes: Sequence[str] | None = None,
                            intent: str = "answer_current_user",
                            top_k: dict[str, int] | None = None,
                            timeout_ms: float | None = None,
                            mode: str = "fast") -> SearchResult:
        """Recall what matters for this turn, within ``timeout_ms`` (default 250).

        Never stalls the turn: when the deadline passes (lanes too slow) or the runtime
        cannot answer (restarting, unreachable), it returns what it has with
        ``trace["degraded"] = True`` and the reason in ``trace["errors"]``.
        """
        budget_ms = timeout_ms if timeout_ms is not None else self.settings.recall_timeout_ms
        # The deadline counts from now: time spent waiting for a pool slot, a connection
        # or behind other requests in the runtime is part of it. Sent only to a runtime
        # on this machine's clock; a remote one counts from the request's arrival.
        deadline_at = None if self.runtime_url else time.time() + budget_ms / 1000.0
        call = self._core.search_memory(query, user=user, user_id=user_id, lanes=lanes,
                                        intent=intent, top_k=top_k, timeout_ms=timeout_ms,
                                        mode=mode, deadline_at=deadline_at)
        if self.embedded:
            return self._core.parse_search(await self._send(call))
        budget_s = self._core.recall_budget_s(budget_ms, self.settings.runtime_recall_grace_ms)
        try:
            async with asyncio.timeout(budget_s):
                data = await self._send(call, timeout_s=budget_s)
        except TimeoutError:
            log.warning("search_memory missed its %.0f ms deadline; answering without "
                        "memory", budget_ms)
            data = self._core.degraded_search("deadline", budget_ms)
        except (MemoryTimeout, StoreUnavailable, RuntimeStartFailed) as exc:
            # The runtime is unreachable or restarting: the turn goes on without memory
            # (the transport keeps reconnecting for the next call). Bad input, a wrong
            # token or a full pool still raise: those need the developer, not a retry.
            log.warning("search_memory answered without memory: %s", exc)
            data = self._core.degraded_search(exc.code, budget_ms)
        return self._core.parse_search(data)

    async def save_response(self, *, user_text: str, assistant_text: str, user: UserArg = None,
                            user_id: str | None = None, turn_id: str | None = None,
                            tool_calls: list[dict[str, Any]] | None = None,
                            metadata: dict[str, Any] | None = None,
                            interrupted: bool = False) -> str | None:
        """Save one turn; returns its event id once it is durable on disk."""
        return self._core.parse_event_id(await self._send(self._core.save_response(
            user_text=user_text, assistant_text=assistant_text, user=user, user_id=user_id,
            turn_id=turn_id, tool_calls=tool_calls, metadata=metadata,
            interrupted=interrupted)))

    async def preload(self, *, user: UserArg = None, user_id: str | None = None) -> Preload:
        """The session-start block: profile, top facts, last call, open commitments."""
        return self._core.parse_preload(await self._send(self._core.preload(
            user=user, user_id=user_id)))

    async def start_session(self, *, user: UserArg = None, user_id: str | None = None,
                            session_id: str | None = None,
                            metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Open a call for the caller (optional: the first save opens one).

        Reusing another caller's ``session_id`` raises ``identity_mismatch``.
        """
        return self._core.parse_dict(await self._send(self._core.start_session(
            user=user, user_id=user_id, session_id=session_id, metadata=metadata)))

    async def end_session(self, *, user: UserArg = None, user_id: str | None = None,
                          reason: str = "completed", session_id: str | None = None,
                          report: dict[str, Any] | None = None,
                          wait: bool = False) -> dict[str, Any]:
        """Close the caller's current call (``report``: e.g. LiveKit's session report,
        stored with the call); learning from it starts in the background.

        With ``wait=True`` this returns once that learning has finished or failed, and
        the result's ``learning`` holds the outcome::

            ended = await client.end_session(user=caller, wait=True)
            ended["learning"]  # {"status": "learned", "facts": [...], "error": None}
        """
        return self._core.parse_dict(await self._send(self._core.end_session(
            user=user, user_id=user_id, reason=reason, session_id=session_id, report=report,
            wait=wait)))

    async def create_index(self, name: str, documents: list[dict[str, Any]], *,
                           metadata: dict[str, Any] | None = None) -> IndexBuildResult:
        """Build or append org index ``name`` (<= 100 documents and 1 MB per call)."""
        return self._core.parse_index_build(await self._send(self._core.create_index(
            name, documents, metadata)))

    async def list_indexes(self) -> list[dict[str, Any]]:
        """The project's org indexes with version and counts."""
        return self._core.parse_list(await self._send(self._core.list_indexes()))

    async def list_documents(self, name: str) -> dict[str, Any]:
        """Org index ``name`` and its documents: ``{"index": {...}, "documents": [...]}``."""
        return self._core.parse_dict(await self._send(self._core.list_documents(name)))

    async def delete_documents(self, name: str, document_ids: list[str]) -> dict[str, Any]:
        """Remove documents (and their chunks) from org index ``name``.

        Example::

            await client.delete_documents("faq", ["returns.md"])
        """
        return self._core.parse_dict(await self._send(self._core.delete_documents(
            name, document_ids)))

    async def delete_index(self, name: str) -> dict[str, Any]:
        """Remove org index ``name`` with all its documents."""
        return self._core.parse_dict(await self._send(self._core.delete_index(name)))

    async def search_index(self, query: str, *, name: str | None = None,
                           top_k: int | None = None) -> list[dict[str, Any]]:
        """The org chunks recall would return for ``query`` (from index ``name``, or all)."""
        data = self._core.parse_dict(await self._send(self._core.search_index(
            query, name, top_k)))
        return list(data.get("chunks") or [])

    async def update_profile(self, *, user: UserArg = None, user_id: str | None = None,
                             field: str, value: Any) -> dict[str, Any]:
        """Set one structured profile field of the caller."""
        return self._core.parse_dict(await self._send(self._core.update_profile(
            user=user, user_id=user_id, field=field, value=value)))

    async def import_history(self, *, user: UserArg = None, user_id: str | None = None,
                             sessions: list[dict[str, Any]], learn: bool = False,
                             outside_retention: str | None = None) -> dict[str, Any]:
        """Backfill past calls with their real timestamps (``learn=True``: also extract
        facts from them in the background, as for live calls).

        Turns older than the retention window (``memory_retention_days``) would never be
        recalled and cleanup would delete them, so by default the import is refused with
        ``bad_request`` naming the setting; ``outside_retention="skip"`` imports only
        the recent turns. The result counts ``turns``, ``outsideRetention`` and
        ``skipped``.
        """
        return self._core.parse_dict(await self._send(self._core.import_history(
            user=user, user_id=user_id, sessions=sessions, learn=learn,
            outside_retention=outside_retention)))

    async def flush(self, timeout_s: float = 30.0, *, learning: bool = False) -> dict[str, Any]:
        """Wait until every acknowledged write is applied to the store.

        ``learning=True`` also waits for end-of-call learning already under way, so the
        facts it learns are stored when this returns (``flushed`` is False on timeout).
        """
        return self._core.parse_dict(await self._send(self._core.flush(timeout_s, learning)))

    async def list_quarantined(self) -> list[dict[str, Any]]:
        """Journal records the store refused for bad data (not an outage), set aside so
        later writes go on: ``{"seq", "error", "at", "userId", "projectId", "record"}``."""
        result = self._core.parse_dict(await self._send(self._core.project_op(
            "list_quarantined")))
        records: list[dict[str, Any]] = result.get("records", [])
        return records

    async def retry_quarantined(self, seq: int) -> dict[str, Any]:
        """Send quarantined record ``seq`` to the store again (its cause is fixed); if
        refused again it is quarantined again under a new number."""
        return self._core.parse_dict(await self._send(self._core.project_op(
            "retry_quarantined", seq=seq)))

    # -- memory management ------------------------------------------------------------------
    async def list_memories(self, *, user: UserArg = None, user_id: str | None = None,
                            include_deleted: bool = False) -> list[dict[str, Any]]:
        """The caller's facts, newest first; ``include_deleted`` adds superseded and
        deleted ones (with ``validTo`` / ``deletedAt``)."""
        return self._core.parse_list(await self._send(self._core.caller_op(
            "list_memories", user=user, user_id=user_id, include_deleted=include_deleted)))

    async def session_memories(self, *, user: UserArg = None, user_id: str | None = None,
                               session_id: str) -> list[dict[str, Any]]:
        """Memories written during one call."""
        return self._core.parse_list(await self._send(self._core.caller_op(
            "session_memories", user=user, user_id=user_id, session_id=session_id)))

    async def delete_memory(self, memory_id: str, *, user: UserArg = None,
                            user_id: str | None = None) -> dict[str, Any]:
        """Delete one memory: gone from recall at once, from disk at the next cleanup."""
        return self._core.parse_dict(await self._send(self._core.caller_op(
            "delete_memory", user=user, user_id=user_id, memory_id=memory_id)))

    async def remember(self, *, user: UserArg = None, user_id: str | None = None,
                       memory_type: str, content: str) -> dict[str, Any]:
        """Upsert the caller's value for ``memory_type`` (one value per type)."""
        return self._core.parse_dict(await self._send(self._core.caller_op(
            "remember", user=user, user_id=user_id, memory_type=memory_type,
            content=content)))

    async def recall(self, *, user: UserArg = None, user_id: str | None = None,
                     memory_type: str) -> str | None:
        """The caller's current value for ``memory_type``, or None."""
        data = self._core.parse_dict(await self._send(self._core.caller_op(
            "recall", user=user, user_id=user_id, memory_type=memory_type)))
        content = data.get("content")
        return str(content) if content is not None else None

    async def forget(self, *, user: UserArg = None, user_id: str | None = None,
                     memory_type: str) -> bool:
        """Delete the caller's value for ``memory_type``; True when there was one."""
        data = self._core.parse_dict(await self._send(self._core.caller_op(
            "forget", user=user, user_id=user_id, memory_type=memory_type)))
        return bool(data.get("forgotten"))

    async def forget_user(self, *, user: UserArg = None,
                          user_id: str | None = None) -> dict[str, Any]:
        """Erase everything about the caller: facts, turns, calls, journal, profile."""
        return self._core.parse_dict(await self._send(self._core.caller_op(
            "forget_user", user=user, user_id=user_id)))

    async def export_user(self, *, user: UserArg = None,
                          user_id: str | None = None) -> dict[str, Any]:
        """Everything stored about the caller, for a data request."""
        return self._core.parse_dict(await self._send(self._core.caller_op(
            "export_user", user=user, user_id=user_id)))

    async def merge_users(self, from_id: str, to_id: str) -> dict[str, Any]:
        """Move everything of caller ``from_id`` (a guest) to ``to_id`` (the account)."""
        return self._core.parse_dict(await self._send(self._core.project_op(
            "merge_users", from_id=from_id, to_id=to_id)))

    async def get_memory_policy(self) -> dict[str, Any]:
        """Memory on/off and retention of the project and its agents."""
        return self._core.parse_dict(await self._send(self._core.project_op(
            "get_memory_policy")))

    async def set_memory_policy(self, *, memory_enabled: bool | Unset = UNSET,
                                memory_retention_days: int | Unset = UNSET,
                                level: str = "project") -> dict[str, Any]:
        """Set memory on/off and retention (days, 0 = no cap) for the project, or for
        this client's agent with ``level="agent"``. An argument not given keeps the
        value in force at that level (its policy, else the runtime's settings)."""
        return self._core.parse_dict(await self._send(self._core.project_op(
            "set_memory_policy", memory_enabled=memory_enabled,
            memory_retention_days=memory_retention_days, level=level)))

    # -- sessions and tools -----------------------------------------------------------------
    def session(self, *, user: UserArg = None, user_id: str | None = None,
                session_id: str | None = None,
                metadata: dict[str, Any] | None = None) -> CallerSession:
        """``async with client.session(user=...) as call:`` — one call, one caller."""
        return CallerSession(self, user=user, user_id=user_id, session_id=session_id,
                             metadata=metadata)

    def search_memory_tool(self, *, user: UserArg = None, user_id: str | None = None,
                           lanes: Sequence[str] | None = None,
                           timeout_ms: float | None = None,
                           description: str = TOOL_DESCRIPTION) -> MemoryTool:
        """A ``search_memory`` LLM tool bound to one caller."""
        self._core.check_caller(user, user_id)

        async def search(query: str, intent: str) -> SearchResult:
            return await self.search_memory(query, user=user, user_id=user_id, lanes=lanes,
                                            intent=intent, timeout_ms=timeout_ms)

        return MemoryTool(search, description=description)

    def to_openai_function(self) -> dict[str, Any]:
        """The ``search_memory`` tool's OpenAI function schema (no caller needed)."""
        return MemoryTool(_no_search).schema()

    def to_livekit_tool(self, *, user: UserArg = None,
                        user_id: str | None = None) -> Any:
        """The caller's ``search_memory`` tool as a LiveKit ``FunctionTool``."""
        return self.search_memory_tool(user=user, user_id=user_id).to_livekit_tool()

    def to_pipecat_tool(self, *, user: UserArg = None,
                        user_id: str | None = None) -> dict[str, Any]:
        """The caller's ``search_memory`` tool as ``{"name", "schema", "handler"}``."""
        return self.search_memory_tool(user=user, user_id=user_id).to_pipecat_tool()

    # -- lifecycle --------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Release the client: later calls raise ``pool.closed``. The shared runtime keeps
        running for the host's other processes (stop it with ``voxmem stop``)."""
        if self._closed:
            return
        self._closed = True
        self._pool.close()
        if self._reaper is not None:
            self._reaper.cancel()
        await self._transport.aclose()

    async def __aenter__(self) -> VoiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _no_search(query: str, intent: str) -> SearchResult:
    raise BadRequest("this tool has no caller; use search_memory_tool(user=...)")


def _track_session(handle: CallerHandle, call: OperationCall, result: Any) -> None:
    """Keep the handle's view of the caller's open call current."""
    if call.op in {"start_session", "save_response"}:
        handle.session_open = True
        if call.op == "start_session" and isinstance(result, dict):
            handle.session_id = result.get("sessionId") or handle.session_id
    elif call.op == "end_session":
        handle.session_open = False
        handle.session_id = None


class VoiceClientSync(CallerMethodsSync):
    """Blocking twin of :class:`VoiceClient`: same methods and arguments, no ``await``.

    Example::

        client = VoiceClientSync(project_id="support", agent_id="bot")
        with client.session(user={"id": "caller-42"}) as call:
            call.save_response(user_text="hi", assistant_text="hello")
        client.close()
    """

    def __init__(
        self,
        *,
        project_id: str,
        agent_id: str,
        api_key: str | None = None,
        runtime_url: str | None = None,
        embedded: bool = False,
        data_dir: str | Path | None = None,
        max_concurrent_users: int = DEFAULT_MAX_CONCURRENT_USERS,
        runtime_idle_ttl_s: float = DEFAULT_IDLE_TTL_S,
        runtime_port_range: tuple[int, int] = DEFAULT_PORT_RANGE,
        settings: Settings | dict[str, Any] | None = None,
        tenant_id: str = "default",
    ) -> None:
        self._async = VoiceClient(
            project_id=project_id, agent_id=agent_id, api_key=api_key,
            runtime_url=runtime_url, embedded=embedded, data_dir=data_dir,
            max_concurrent_users=max_concurrent_users, runtime_idle_ttl_s=runtime_idle_ttl_s,
            runtime_port_range=runtime_port_range, settings=settings, tenant_id=tenant_id)
        self._runner = LoopThread()
        self.settings = self._async.settings
        self.project_id = project_id
        self.agent_id = agent_id
        self.tenant_id = tenant_id
        self.embedded = self._async.embedded
        self.runtime_url = self._async.runtime_url

    @property
    def pool_stats(self) -> dict[str, int]:
        """Caller handles held, busy, evicted and reaped so far."""
        return self._async.pool_stats

    def search_memory(self, query: str, *, user: UserArg = None,
                      user_id: str | None = None, lanes: Sequence[str] | None = None,
                      intent: str = "answer_current_user",
                      top_k: dict[str, int] | None = None,
                      timeout_ms: float | None = None,
                      mode: str = "fast") -> SearchResult:
        """Recall for this turn; see :meth:`VoiceClient.search_memory`."""
        return self._runner.run(self._async.search_memory(
            query, user=user, user_id=user_id, lanes=lanes, intent=intent, top_k=top_k,
            timeout_ms=timeout_ms, mode=mode))

    def save_response(self, *, user_text: str, assistant_text: str, user: UserArg = None,
                      user_id: str | None = None, turn_id: str | None = None,
                      tool_calls: list[dict[str, Any]] | None = None,
                      metadata: dict[str, Any] | None = None,
                      interrupted: bool = False) -> str | None:
        """Save one turn; returns its event id once it is durable on disk."""
        return self._runner.run(self._async.save_response(
            user_text=user_text, assistant_text=assistant_text, user=user, user_id=user_id,
            turn_id=turn_id, tool_calls=tool_calls, metadata=metadata,
            interrupted=interrupted))

    def preload(self, *, user: UserArg = None, user_id: str | None = None) -> Preload:
        """The session-start block: profile, top facts, last call, open commitments."""
        return self._runner.run(self._async.preload(user=user, user_id=user_id))

    def start_session(self, *, user: UserArg = None, user_id: str | None = None,
                      session_id: str | None = None,
                      metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Open a call for the caller (optional: the first save opens one)."""
        return self._runner.run(self._async.start_session(
            user=user, user_id=user_id, session_id=session_id, metadata=metadata))

    def end_session(self, *, user: UserArg = None, user_id: str | None = None,
                    reason: str = "completed", session_id: str | None = None,
                    report: dict[str, Any] | None = None,
                    wait: bool = False) -> dict[str, Any]:
        """Close the caller's current call; see :meth:`VoiceClient.end_session`."""
        return self._runner.run(self._async.end_session(
            user=user, user_id=user_id, reason=reason, session_id=session_id, report=report,
            wait=wait))

    def list_memories(self, *, user: UserArg = None, user_id: str | None = None,
                      include_deleted: bool = False) -> list[dict[str, Any]]:
        """The caller's facts; see :meth:`VoiceClient.list_memories`."""
        return self._runner.run(self._async.list_memories(
            user=user, user_id=user_id, include_deleted=include_deleted))

    def session_memories(self, *, user: UserArg = None, user_id: str | None = None,
                         session_id: str) -> list[dict[str, Any]]:
        """Memories written during one call."""
        return self._runner.run(self._async.session_memories(
            user=user, user_id=user_id, session_id=session_id))

    def delete_memory(self, memory_id: str, *, user: UserArg = None,
                      user_id: str | None = None) -> dict[str, Any]:
        """Delete one memory: gone from recall at once, from disk at the next cleanup."""
        return self._runner.run(self._async.delete_memory(memory_id, user=user,
                                                          user_id=user_id))

    def remember(self, *, user: UserArg = None, user_id: str | None = None,
                 memory_type: str, content: str) -> dict[str, Any]:
        """Upsert the caller's value for ``memory_type`` (one value per type)."""
        return self._runner.run(self._async.remember(
            user=user, user_id=user_id, memory_type=memory_type, content=content))

    def recall(self, *, user: UserArg = None, user_id: str | None = None,
               memory_type: str) -> str | None:
        """The caller's current value for ``memory_type``, or None."""
        return self._runner.run(self._async.recall(user=user, user_id=user_id,
                                                   memory_type=memory_type))

    def forget(self, *, user: UserArg = None, user_id: str | None = None,
               memory_type: str) -> bool:
        """Delete the caller's value for ``memory_type``; True when there was one."""
        return self._runner.run(self._async.forget(user=user, user_id=user_id,
                                                   memory_type=memory_type))

    def forget_user(self, *, user: UserArg = None,
                    user_id: str | None = None) -> dict[str, Any]:
        """Erase everything about the caller."""
        return self._runner.run(self._async.forget_user(user=user, user_id=user_id))

    def export_user(self, *, user: UserArg = None,
                    user_id: str | None = None) -> dict[str, Any]:
        """Everything stored about the caller, for a data request."""
        return self._runner.run(self._async.export_user(user=user, user_id=user_id))

    def merge_users(self, from_id: str, to_id: str) -> dict[str, Any]:
        """Move everything of caller ``from_id`` (a guest) to ``to_id`` (the account)."""
        return self._runner.run(self._async.merge_users(from_id, to_id))

    def get_memory_policy(self) -> dict[str, Any]:
        """Memory on/off and retention of the project and its agents."""
        return self._runner.run(self._async.get_memory_policy())

    def set_memory_policy(self, *, memory_enabled: bool | Unset = UNSET,
                          memory_retention_days: int | Unset = UNSET,
                          level: str = "project") -> dict[str, Any]:
        """Set memory on/off and retention; see :meth:`VoiceClient.set_memory_policy`."""
        return self._runner.run(self._async.set_memory_policy(
            memory_enabled=memory_enabled, memory_retention_days=memory_retention_days,
            level=level))

    def create_index(self, name: str, documents: list[dict[str, Any]], *,
                     metadata: dict[str, Any] | None = None) -> IndexBuildResult:
        """Build or append org index ``name`` (<= 100 documents and 1 MB per call)."""
        return self._runner.run(self._async.create_index(name, documents, metadata=metadata))

    def list_indexes(self) -> list[dict[str, Any]]:
        """The project's org indexes with version and counts."""
        return self._runner.run(self._async.list_indexes())

    def list_documents(self, name: str) -> dict[str, Any]:
        """Org index ``name`` and its documents; see :meth:`VoiceClient.list_documents`."""
        return self._runner.run(self._async.list_documents(name))

    def delete_documents(self, name: str, document_ids: list[str]) -> dict[str, Any]:
        """Remove documents from org index ``name``."""
        return self._runner.run(self._async.delete_documents(name, document_ids))

    def delete_index(self, name: str) -> dict[str, Any]:
        """Remove org index ``name`` with all its documents."""
        return self._runner.run(self._async.delete_index(name))

    def search_index(self, query: str, *, name: str | None = None,
                     top_k: int | None = None) -> list[dict[str, Any]]:
        """The org chunks recall would return for ``query``."""
        return self._runner.run(self._async.search_index(query, name=name, top_k=top_k))

    def update_profile(self, *, user: UserArg = None, user_id: str | None = None,
                       field: str, value: Any) -> dict[str, Any]:
        """Set one structured profile field of the caller."""
        return self._runner.run(self._async.update_profile(
            user=user, user_id=user_id, field=field, value=value))

    def import_history(self, *, user: UserArg = None, user_id: str | None = None,
                       sessions: list[dict[str, Any]], learn: bool = False,
                       outside_retention: str | None = None) -> dict[str, Any]:
        """Backfill past calls; see :meth:`VoiceClient.import_history`."""
        return self._runner.run(self._async.import_history(
            user=user, user_id=user_id, sessions=sessions, learn=learn,
            outside_retention=outside_retention))

    def flush(self, timeout_s: float = 30.0, *, learning: bool = False) -> dict[str, Any]:
        """Wait until every acknowledged write is applied to the store; see
        :meth:`VoiceClient.flush`."""
        return self._runner.run(self._async.flush(timeout_s, learning=learning))

    def list_quarantined(self) -> list[dict[str, Any]]:
        """See :meth:`VoiceClient.list_quarantined`."""
        return self._runner.run(self._async.list_quarantined())

    def retry_quarantined(self, seq: int) -> dict[str, Any]:
        """See :meth:`VoiceClient.retry_quarantined`."""
        return self._runner.run(self._async.retry_quarantined(seq))

    def session(self, *, user: UserArg = None, user_id: str | None = None,
                session_id: str | None = None,
                metadata: dict[str, Any] | None = None) -> CallerSessionSync:
        """``with client.session(user=...) as call:`` — one call, one caller."""
        return CallerSessionSync(self._runner, self._async.session(
            user=user, user_id=user_id, session_id=session_id, metadata=metadata))

    def search_memory_tool(self, *, user: UserArg = None, user_id: str | None = None,
                           lanes: Sequence[str] | None = None,
                           timeout_ms: float | None = None,
                           description: str = TOOL_DESCRIPTION) -> MemoryTool:
        """A ``search_memory`` LLM tool bound to one caller; awaitable from any loop."""
        return self._runner.hop_tool(self._async.search_memory_tool(
            user=user, user_id=user_id, lanes=lanes, timeout_ms=timeout_ms,
            description=description))

    def to_openai_function(self) -> dict[str, Any]:
        """The ``search_memory`` tool's OpenAI function schema (no caller needed)."""
        return self._async.to_openai_function()

    def to_livekit_tool(self, *, user: UserArg = None,
                        user_id: str | None = None) -> Any:
        """The caller's ``search_memory`` tool as a LiveKit ``FunctionTool``."""
        return self.search_memory_tool(user=user, user_id=user_id).to_livekit_tool()

    def to_pipecat_tool(self, *, user: UserArg = None,
                        user_id: str | None = None) -> dict[str, Any]:
        """The caller's ``search_memory`` tool as ``{"name", "schema", "handler"}``."""
        return self.search_memory_tool(user=user, user_id=user_id).to_pipecat_tool()

    def close(self) -> None:
        """Release the client and its loop thread; the shared runtime keeps running."""
        if self._runner.closed:
            return
        self._runner.run(self._async.aclose())
        self._runner.stop()

    def __enter__(self) -> VoiceClientSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
