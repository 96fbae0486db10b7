"""``VoiceClient`` (async) and ``CallerSession`` (``client.session(user=...)``).

``VoiceClient`` wires three things together for every method: the call built by the
I/O-free :class:`~voxmem.client._core.ClientCore` and its parser, the caller pool, and a
transport — the local runtime over loopback HTTP (default, started on first use), a
remote runtime (``runtime_url=``), or the engine in-process (``embedded=True``).

Each method's signature is written here once (the memory-management and caller
methods in the ``_memories`` and ``_callers`` mixins): the blocking twins in ``_sync``
are derived from these, and the core takes the arguments as they are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from .._api import OPERATION_SPECS, python_spelling
from .._config import Settings, setting_default
from .._exceptions import (
    BadRequest,
    MemoryTimeout,
    PoolError,
    RuntimeStartFailed,
    StoreUnavailable,
    VoxmemError,
)
from .._log_ids import caller_ref
from ..models import DEFAULT_TENANT, IndexBuildResult, Preload, SearchResult
from ._callers import CallerMethods
from ._core import ClientCore, OperationCall, UserArg
from ._http import RuntimeTransport
from ._memories import MemoryMethods
from ._pool import CallerHandle, CallerPool
from ._tools import TOOL_DESCRIPTION, ClientTools, MemoryTool, SessionTools

__all__ = ["DEFAULT_IDLE_TTL_S", "DEFAULT_MAX_CONCURRENT_USERS", "DEFAULT_PORT_RANGE",
           "CallerSession", "VoiceClient"]

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


class VoiceClient(CallerMethods, MemoryMethods, ClientTools):
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
        tenant_id: str | None = None,
    ) -> None:
        self._core = ClientCore(project_id=project_id, agent_id=agent_id, tenant_id=tenant_id)
        self.settings = _settings(settings, data_dir, runtime_port_range)
        self.project_id = project_id
        self.agent_id = agent_id
        self.tenant_id = tenant_id or DEFAULT_TENANT
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
        try:
            return await self._send_as_sent(call, timeout_s)
        except BadRequest as exc:
            # The body goes out in the wire's camelCase and the runtime names a field as
            # it was sent; this client's callers know it by the parameter's name.
            python_spelling(OPERATION_SPECS[call.op].request, exc)
            raise

    async def _send_as_sent(self, call: OperationCall, timeout_s: float | None) -> Any:
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
        log.debug("retiring the handle of %s (%s)", caller_ref(handle.user_id), why)
        if why != "idle" or not handle.session_open:
            return
        try:
            await self._transport.call(self._core.call(
                "end_session", user=None, user_id=handle.user_id, reason="idle_timeout",
                session_id=handle.session_id))
        except VoxmemError as exc:
            log.warning("could not end the idle call of %s: %s", caller_ref(handle.user_id), exc)

    async def _wait_runtime_starting(self) -> None:
        """Return once this client has found no runtime serving its data directory and
        waits for one to start (seconds on a cold, loaded host). Never returns for a
        running, remote or embedded runtime: race it against a call, as the LiveKit
        integration does to answer a caller at once rather than wait out a start."""
        local = getattr(self._transport, "local", None)
        await (local.starting.wait() if local is not None else asyncio.Event().wait())

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
        call = self._core.call("search_memory", query=query, user=user, user_id=user_id,
                               lanes=lanes, intent=intent, top_k=top_k,
                               timeout_ms=timeout_ms, mode=mode, deadline_at=deadline_at)
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
        return self._core.parse_event_id(await self._send(self._core.call(
            "save_response", user_text=user_text, assistant_text=assistant_text, user=user,
            user_id=user_id, turn_id=turn_id, tool_calls=tool_calls, metadata=metadata,
            interrupted=interrupted)))

    async def preload(self, *, user: UserArg = None, user_id: str | None = None) -> Preload:
        """The session-start block: profile, top facts, last call, open commitments."""
        return self._core.parse_preload(await self._send(self._core.call(
            "preload", user=user, user_id=user_id)))

    async def start_session(self, *, user: UserArg = None, user_id: str | None = None,
                            session_id: str | None = None,
                            metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Open a call for the caller (optional: the first save opens one).

        Reusing another caller's ``session_id`` raises ``identity_mismatch``.
        """
        return self._core.parse_dict(await self._send(self._core.call(
            "start_session", user=user, user_id=user_id, session_id=session_id, metadata=metadata)))

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
        return self._core.parse_dict(await self._send(self._core.call(
            "end_session", user=user, user_id=user_id, reason=reason, session_id=session_id,
            report=report, wait=wait)))

    async def create_index(self, name: str, documents: list[dict[str, Any]], *,
                           metadata: dict[str, Any] | None = None) -> IndexBuildResult:
        """Build or append org index ``name`` (<= 100 documents and 1 MB per call)."""
        return self._core.parse_index_build(await self._send(self._core.call(
            "create_index", name=name, documents=documents, metadata=metadata)))

    async def list_indexes(self) -> list[dict[str, Any]]:
        """The project's org indexes with version and counts."""
        return self._core.parse_list(await self._send(self._core.call("list_indexes")))

    async def list_documents(self, name: str) -> dict[str, Any]:
        """Org index ``name`` and its documents: ``{"index": {...}, "documents": [...]}``."""
        return self._core.parse_dict(await self._send(self._core.call("list_documents", name=name)))

    async def delete_documents(self, name: str, document_ids: list[str]) -> dict[str, Any]:
        """Remove documents (and their chunks) from org index ``name``.

        Example::

            await client.delete_documents("faq", ["returns.md"])
        """
        return self._core.parse_dict(await self._send(self._core.call(
            "delete_documents", name=name, document_ids=document_ids)))

    async def delete_index(self, name: str) -> dict[str, Any]:
        """Remove org index ``name`` with all its documents."""
        return self._core.parse_dict(await self._send(self._core.call("delete_index", name=name)))

    async def search_index(self, query: str, *, name: str | None = None,
                           top_k: int | None = None) -> list[dict[str, Any]]:
        """The org chunks recall would return for ``query`` (from index ``name``, or all)."""
        data = self._core.parse_dict(await self._send(self._core.call(
            "search_index", query=query, name=name, top_k=top_k)))
        return list(data.get("chunks") or [])

    async def update_profile(self, *, user: UserArg = None, user_id: str | None = None,
                             field: str, value: Any) -> dict[str, Any]:
        """Set one structured profile field of the caller."""
        return self._core.parse_dict(await self._send(self._core.call(
            "update_profile", user=user, user_id=user_id, field=field, value=value)))

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
        return self._core.parse_dict(await self._send(self._core.call(
            "import_history", user=user, user_id=user_id, sessions=sessions, learn=learn,
            outside_retention=outside_retention)))

    async def flush(self, timeout_s: float = 30.0, *, learning: bool = False) -> dict[str, Any]:
        """Wait until every acknowledged write is applied to the store.

        ``learning=True`` also waits for end-of-call learning already under way, so the
        facts it learns are stored when this returns (``flushed`` is False on timeout).
        """
        return self._core.parse_dict(await self._send(self._core.call(
            "flush", timeout_s=timeout_s, learning=learning)))

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


def _track_session(handle: CallerHandle, call: OperationCall, result: Any) -> None:
    """Keep the handle's view of the caller's open call current."""
    if call.op in {"start_session", "save_response"}:
        handle.session_open = True
        if call.op == "start_session" and isinstance(result, dict):
            handle.session_id = result.get("sessionId") or handle.session_id
    elif call.op == "end_session":
        handle.session_open = False
        handle.session_id = None


class CallerSession(SessionTools):
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
