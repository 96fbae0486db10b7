"""``VoiceClient`` (async) and ``VoiceClientSync``: same names, same arguments.

Both are thin: :class:`~voxmem.client._core.ClientCore` builds each call and parses its
result; a transport carries it (in-process engine, or the local runtime over HTTP).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._config import Settings
from .._exceptions import PoolError
from ..models import IndexBuildResult, Preload, SearchResult
from ._core import Call, ClientCore, UserArg
from ._embedded import AsyncEmbeddedTransport, SyncEmbeddedTransport

__all__ = ["VoiceClient", "VoiceClientSync"]

DEFAULT_TIMEOUT_MS = 250


def _settings(settings: Settings | dict[str, Any] | None, data_dir: str | Path | None,
              port_range: tuple[int, int]) -> Settings:
    overrides = dict(settings) if isinstance(settings, dict) else {}
    base = settings if isinstance(settings, Settings) else Settings.from_env(overrides)
    changes: dict[str, Any] = {}
    if data_dir is not None:
        changes["data_dir"] = str(data_dir)
    if port_range != (base.runtime_port_min, base.runtime_port_max) and port_range != (
            7878, 7977):
        changes["runtime_port_min"], changes["runtime_port_max"] = port_range
    return base.replace(**changes) if changes else base


class _ClientBase:
    def __init__(
        self,
        *,
        project_id: str,
        agent_id: str,
        api_key: str | None = None,
        runtime_url: str | None = None,
        embedded: bool = False,
        data_dir: str | Path | None = None,
        max_concurrent_users: int = 20,
        runtime_idle_ttl_s: float = 300,
        runtime_port_range: tuple[int, int] = (7878, 7977),
        settings: Settings | dict[str, Any] | None = None,
        tenant_id: str = "default",
    ) -> None:
        self._core = ClientCore(project_id=project_id, agent_id=agent_id, tenant_id=tenant_id)
        self.settings = _settings(settings, data_dir, runtime_port_range)
        self.project_id = project_id
        self.agent_id = agent_id
        self.embedded = embedded or runtime_url is None
        self.runtime_url = runtime_url
        self.api_key = api_key
        self.max_concurrent_users = max_concurrent_users
        self.runtime_idle_ttl_s = runtime_idle_ttl_s
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise PoolError("the client is closed; create a new one", code="pool.closed")


class VoiceClient(_ClientBase):
    """Async memory client for voice agents.

    Example::

        client = VoiceClient(project_id="support", agent_id="front-desk", embedded=True)
        user = {"id": "caller-42", "name": "Dana"}
        await client.save_response(user_text="I'm vegetarian", assistant_text="Noted!",
                                   user=user)
        result = await client.search_memory("what do I eat?", user=user)
        print(result.contextText)
        await client.aclose()
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transport = AsyncEmbeddedTransport(self.settings)

    async def _send(self, call: Call) -> Any:
        self._check_open()
        return await self._transport.call(call)

    async def search_memory(self, query: str, *, user: UserArg = None,
                            user_id: str | None = None, lanes: Sequence[str] | None = None,
                            intent: str = "answer_current_user",
                            top_k: dict[str, int] | None = None,
                            timeout_ms: float = DEFAULT_TIMEOUT_MS,
                            mode: str = "fast") -> SearchResult:
        """Recall what matters for this turn; always returns within ``timeout_ms``."""
        return self._core.parse_search(await self._send(self._core.search_memory(
            query, user=user, user_id=user_id, lanes=lanes, intent=intent, top_k=top_k,
            timeout_ms=timeout_ms, mode=mode)))

    async def save_response(self, *, user_text: str, assistant_text: str, user: UserArg = None,
                            user_id: str | None = None, turn_id: str | None = None,
                            tool_calls: list[dict[str, Any]] | None = None,
                            metadata: dict[str, Any] | None = None,
                            interrupted: bool = False) -> str | None:
        """Save one turn durably; returns its event id once it is on disk."""
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
        """Open a call for the caller (optional: the first save opens one)."""
        return self._core.parse_dict(await self._send(self._core.start_session(
            user=user, user_id=user_id, session_id=session_id, metadata=metadata)))

    async def end_session(self, *, user: UserArg = None, user_id: str | None = None,
                          reason: str = "completed",
                          session_id: str | None = None) -> dict[str, Any]:
        """Close the caller's current call."""
        return self._core.parse_dict(await self._send(self._core.end_session(
            user=user, user_id=user_id, reason=reason, session_id=session_id)))

    async def create_index(self, name: str, documents: list[dict[str, Any]], *,
                           metadata: dict[str, Any] | None = None) -> IndexBuildResult:
        """Build or append org index ``name``; a repeated document id replaces it."""
        return self._core.parse_index_build(await self._send(self._core.create_index(
            name, documents, metadata)))

    async def list_indexes(self) -> list[dict[str, Any]]:
        """The project's org indexes with version and counts."""
        return self._core.parse_list(await self._send(self._core.list_indexes()))

    async def update_profile(self, *, user: UserArg = None, user_id: str | None = None,
                             field: str, value: Any) -> dict[str, Any]:
        """Set one structured profile field of the caller."""
        return self._core.parse_dict(await self._send(self._core.update_profile(
            user=user, user_id=user_id, field=field, value=value)))

    async def import_history(self, *, user: UserArg = None, user_id: str | None = None,
                             sessions: list[dict[str, Any]]) -> dict[str, Any]:
        """Backfill past calls with their real timestamps."""
        return self._core.parse_dict(await self._send(self._core.import_history(
            user=user, user_id=user_id, sessions=sessions)))

    async def flush(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """Wait until every acknowledged write is in the store."""
        return self._core.parse_dict(await self._send(self._core.flush(timeout_s)))

    async def aclose(self) -> None:
        """Flush and release everything the client holds."""
        if self._closed:
            return
        self._closed = True
        await self._transport.aclose()

    async def __aenter__(self) -> VoiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class VoiceClientSync(_ClientBase):
    """Blocking twin of :class:`VoiceClient`: same methods, no ``await``.

    Example::

        client = VoiceClientSync(project_id="support", agent_id="bot", embedded=True)
        client.save_response(user_text="hi", assistant_text="hello", user={"id": "c1"})
        client.close()
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transport = SyncEmbeddedTransport(self.settings)

    def _send(self, call: Call) -> Any:
        self._check_open()
        return self._transport.call(call)

    def search_memory(self, query: str, *, user: UserArg = None,
                      user_id: str | None = None, lanes: Sequence[str] | None = None,
                      intent: str = "answer_current_user",
                      top_k: dict[str, int] | None = None,
                      timeout_ms: float = DEFAULT_TIMEOUT_MS,
                      mode: str = "fast") -> SearchResult:
        """Recall what matters for this turn; always returns within ``timeout_ms``."""
        return self._core.parse_search(self._send(self._core.search_memory(
            query, user=user, user_id=user_id, lanes=lanes, intent=intent, top_k=top_k,
            timeout_ms=timeout_ms, mode=mode)))

    def save_response(self, *, user_text: str, assistant_text: str, user: UserArg = None,
                      user_id: str | None = None, turn_id: str | None = None,
                      tool_calls: list[dict[str, Any]] | None = None,
                      metadata: dict[str, Any] | None = None,
                      interrupted: bool = False) -> str | None:
        """Save one turn durably; returns its event id once it is on disk."""
        return self._core.parse_event_id(self._send(self._core.save_response(
            user_text=user_text, assistant_text=assistant_text, user=user, user_id=user_id,
            turn_id=turn_id, tool_calls=tool_calls, metadata=metadata,
            interrupted=interrupted)))

    def preload(self, *, user: UserArg = None, user_id: str | None = None) -> Preload:
        """The session-start block: profile, top facts, last call, open commitments."""
        return self._core.parse_preload(self._send(self._core.preload(
            user=user, user_id=user_id)))

    def start_session(self, *, user: UserArg = None, user_id: str | None = None,
                      session_id: str | None = None,
                      metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Open a call for the caller (optional: the first save opens one)."""
        return self._core.parse_dict(self._send(self._core.start_session(
            user=user, user_id=user_id, session_id=session_id, metadata=metadata)))

    def end_session(self, *, user: UserArg = None, user_id: str | None = None,
                    reason: str = "completed", session_id: str | None = None) -> dict[str, Any]:
        """Close the caller's current call."""
        return self._core.parse_dict(self._send(self._core.end_session(
            user=user, user_id=user_id, reason=reason, session_id=session_id)))

    def create_index(self, name: str, documents: list[dict[str, Any]], *,
                     metadata: dict[str, Any] | None = None) -> IndexBuildResult:
        """Build or append org index ``name``; a repeated document id replaces it."""
        return self._core.parse_index_build(self._send(self._core.create_index(
            name, documents, metadata)))

    def list_indexes(self) -> list[dict[str, Any]]:
        """The project's org indexes with version and counts."""
        return self._core.parse_list(self._send(self._core.list_indexes()))

    def update_profile(self, *, user: UserArg = None, user_id: str | None = None,
                       field: str, value: Any) -> dict[str, Any]:
        """Set one structured profile field of the caller."""
        return self._core.parse_dict(self._send(self._core.update_profile(
            user=user, user_id=user_id, field=field, value=value)))

    def import_history(self, *, user: UserArg = None, user_id: str | None = None,
                       sessions: list[dict[str, Any]]) -> dict[str, Any]:
        """Backfill past calls with their real timestamps."""
        return self._core.parse_dict(self._send(self._core.import_history(
            user=user, user_id=user_id, sessions=sessions)))

    def flush(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """Wait until every acknowledged write is in the store."""
        return self._core.parse_dict(self._send(self._core.flush(timeout_s)))

    def close(self) -> None:
        """Flush and release everything the client holds."""
        if self._closed:
            return
        self._closed = True
        self._transport.close()

    def __enter__(self) -> VoiceClientSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
