"""``MemoAirVoiceClient`` and ``MemoAirVoiceMemory``: the SDK's async clients on voxmem.

Each keeps the SDK's constructor and method signatures and wraps one
:class:`voxmem.VoiceClient`. What the SDK sends to its cloud (the API key, index builds)
stays on this machine; what it runs in its per-caller runtime processes runs in the
host's one voxmem runtime (or in-process with ``embedded=True`` / ``VOXMEM_EMBEDDED=1``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._config import Settings
from .._exceptions import VoxmemError
from ..client import CallerSession, VoiceClient
from ..client import MemoryTool as VoxmemMemoryTool
from ..models import SearchResult as VoxmemSearchResult
from ._memoair_tool import MemoryTool
from ._memoair_types import (
    DEFAULT_CLOUD_BASE_URL,
    DEFAULT_SEARCH_TIMEOUT_MS,
    IndexBuildResult,
    IndexLoadResult,
    SearchResult,
    embedded_from_env,
    mapped_errors,
    note_local_only,
    sdk_intent,
    warn_once,
)

__all__ = ["MemoAirSession", "MemoAirVoiceClient", "MemoAirVoiceMemory"]

log = logging.getLogger("voxmem.compat")

DEFAULT_RUNTIME_URL = "http://127.0.0.1:7878"
#: Errors the SDK's save path swallows (the turn is retried from voxmem's journal).
TRANSIENT_CODES = frozenset({"timeout", "store.unavailable", "runtime.start_failed"})
KNOWLEDGE_LOOKUP_USER = {"id": "voxmem:knowledge-lookup"}
KNOWLEDGE_TOOL_DESCRIPTION = (
    "Search the company's knowledge base (policies, products, prices, hours). Returns "
    "relevant passages; an empty result means nothing relevant is stored.")


def _require(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return value


async def _best_effort_save(client: VoiceClient | CallerSession, **kwargs: Any) -> str | None:
    """``save_response`` as the SDK documents it: transient failures are logged and
    answered with ``None`` so the audio path never blocks; bad input still raises."""
    try:
        return await client.save_response(**kwargs)
    except VoxmemError as exc:
        if exc.code in TRANSIENT_CODES:
            log.warning("save_response dropped a turn (%s): %s", exc.code, exc.message)
            return None
        with mapped_errors():
            raise


class MemoAirSession:
    """``await client.session(user=...)`` — one end-user pinned; ``async with`` it."""

    def __init__(self, session: CallerSession) -> None:
        self._session = session

    @property
    def session_id(self) -> str | None:
        """The voxmem session id once entered."""
        return self._session.session_id

    async def __aenter__(self) -> MemoAirSession:
        with mapped_errors():
            await self._session.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        with mapped_errors():
            await self._session.__aexit__(exc_type, *exc)

    async def search_memory(self, query: str, *, lanes: list[str] | None = None,
                            intent: str = "answer_current_user",
                            top_k: dict[str, int] | None = None,
                            timeout_ms: int = DEFAULT_SEARCH_TIMEOUT_MS) -> SearchResult:
        """Recall for the pinned end-user."""
        with mapped_errors():
            result = await self._session.search_memory(
                query, lanes=lanes, intent=sdk_intent(intent), top_k=top_k,
                timeout_ms=timeout_ms)
        return SearchResult.from_voxmem(result)

    async def save_response(self, *, user_text: str, assistant_text: str,
                            turn_id: str | None = None,
                            tool_calls: list[dict[str, Any]] | None = None,
                            metadata: dict[str, Any] | None = None) -> str | None:
        """Persist a completed turn of the pinned end-user; ``None`` when a transient
        failure dropped it, as the client's ``save_response``."""
        interrupted = bool((metadata or {}).get("interrupted", False))
        return await _best_effort_save(
            self._session, user_text=user_text, assistant_text=assistant_text,
            turn_id=turn_id, tool_calls=tool_calls, metadata=metadata,
            interrupted=interrupted)


class MemoAirVoiceClient:
    """The ``memoair_voice.MemoAirVoiceClient`` surface, offline.

    ``api_key`` and ``cloud_base_url`` are accepted and ignored (one log line says so);
    ``create_index`` / ``list_indexes`` work on the local store. The pool parameters
    keep their meaning: ``max_concurrent_users`` caller handles (LRU, ``pool.exhausted``
    when all are busy), ``runtime_idle_ttl_s``, ``runtime_port_range`` for the runtime.

    voxmem-only keywords: ``embedded`` (run the engine in this process; default from
    ``VOXMEM_EMBEDDED``), ``data_dir``, ``settings``.

    Example::

        client = MemoAirVoiceClient(api_key="unused", project_id="proj_1",
                                    agent_id="agent_1")
        result = await client.search_memory("what did we discuss?", user={"id": "c42"})
    """

    def __init__(
        self,
        *,
        api_key: str,
        project_id: str,
        agent_id: str,
        cloud_base_url: str = DEFAULT_CLOUD_BASE_URL,
        max_concurrent_users: int = 20,
        runtime_idle_ttl_s: int = 300,
        runtime_port_range: tuple[int, int] = (7878, 7977),
        embedded: bool | None = None,
        data_dir: str | Path | None = None,
        settings: Settings | dict[str, Any] | None = None,
    ) -> None:
        _require("api_key", api_key)
        self.project_id = _require("project_id", project_id)
        self.agent_id = _require("agent_id", agent_id)
        note_local_only(api_key, cloud_base_url)
        with mapped_errors():
            self._client = VoiceClient(
                project_id=project_id, agent_id=agent_id, embedded=embedded_from_env(embedded),
                data_dir=data_dir, settings=settings,
                max_concurrent_users=max_concurrent_users,
                runtime_idle_ttl_s=runtime_idle_ttl_s, runtime_port_range=runtime_port_range)

    @property
    def voxmem_client(self) -> VoiceClient:
        """The voxmem client underneath, for code migrating off the SDK names."""
        return self._client

    async def search_memory(self, query: str, *, user: dict[str, Any] | None = None,
                            user_id: str | None = None, lanes: list[str] | None = None,
                            intent: str = "answer_current_user",
                            top_k: dict[str, int] | None = None,
                            timeout_ms: int = DEFAULT_SEARCH_TIMEOUT_MS) -> SearchResult:
        """Per-turn recall; always returns (empty ``contextText`` when degraded)."""
        with mapped_errors():
            result = await self._client.search_memory(
                query, user=user, user_id=user_id, lanes=lanes, intent=sdk_intent(intent),
                top_k=top_k, timeout_ms=timeout_ms)
        return SearchResult.from_voxmem(result)

    async def save_response(self, *, user_text: str, assistant_text: str,
                            user: dict[str, Any] | None = None, user_id: str | None = None,
                            turn_id: str | None = None,
                            tool_calls: list[dict[str, Any]] | None = None,
                            metadata: dict[str, Any] | None = None) -> str | None:
        """Persist a completed turn; ``None`` when a transient failure dropped it."""
        interrupted = bool((metadata or {}).get("interrupted", False))
        return await _best_effort_save(
            self._client, user_text=user_text, assistant_text=assistant_text, user=user,
            user_id=user_id, turn_id=turn_id, tool_calls=tool_calls, metadata=metadata,
            interrupted=interrupted)

    async def create_index(self, name: str, documents: list[dict[str, Any]], *,
                           metadata: dict[str, Any] | None = None) -> IndexBuildResult:
        """Build or append an org index (100 documents / 1 MB per call; 413 beyond)."""
        with mapped_errors():
            return IndexBuildResult.from_voxmem(
                await self._client.create_index(name, documents, metadata=metadata))

    async def list_indexes(self) -> list[dict[str, Any]]:
        """The project's org indexes (``name``, ``version``, ``chunkCount``, ...)."""
        with mapped_errors():
            return await self._client.list_indexes()

    async def session(self, *, user: dict[str, Any] | None = None,
                      user_id: str | None = None) -> MemoAirSession:
        """Pin one end-user: ``async with await client.session(user=...) as s:``."""
        with mapped_errors():
            return MemoAirSession(self._client.session(user=user, user_id=user_id))

    def search_memory_tool(self, *, user: dict[str, Any] | None = None,
                           user_id: str | None = None) -> MemoryTool:
        """A ``search_memory`` tool. Bound to ``user`` when given; without one it can only
        search the knowledge base (never some other caller's memory)."""
        with mapped_errors():
            if user is not None or user_id is not None:
                return MemoryTool(self._client.search_memory_tool(user=user, user_id=user_id))
        warn_once("tool-without-user",
                  "search_memory_tool() was called without user=...: the SDK routes it to "
                  "whichever end-user its pool last served; voxmem searches only the "
                  "knowledge base instead. Pass user={'id': ...} to search a caller's "
                  "memory (voxmem: VoiceClient.search_memory_tool(user=...)).")
        client = self._client

        async def knowledge(query: str, intent: str) -> VoxmemSearchResult:
            return await client.search_memory(query, user=KNOWLEDGE_LOOKUP_USER,
                                              lanes=["org"], intent=intent)

        return MemoryTool(VoxmemMemoryTool(knowledge, description=KNOWLEDGE_TOOL_DESCRIPTION))

    def to_openai_function(self) -> dict[str, Any]:
        """The ``search_memory`` tool's OpenAI function schema."""
        return self._client.to_openai_function()

    async def aclose(self) -> None:
        """Release the client (the host's runtime keeps serving other processes)."""
        await self._client.aclose()


class MemoAirVoiceMemory:
    """The SDK's low-level per-end-user client (``memoair_voice.MemoAirVoiceMemory``).

    Bound to one ``user_id``; ``start_session`` / ``after_turn`` / ``end_session`` drive a
    call explicitly. Runtime binaries, versions and cloud tokens are accepted and
    ignored: voxmem's runtime is part of the package. ``runtime_url`` other than the
    SDK's default points at a voxmem runtime; ``storage_root`` is the data directory.

    Example::

        memory = MemoAirVoiceMemory(project_id="proj_1", user_id="caller_42")
        await memory.start_session()
        await memory.after_turn("hi", "hello!", turn_id="t1")
        await memory.end_session()
    """

    def __init__(
        self,
        *,
        project_id: str,
        user_id: str,
        api_key: str | None = None,
        internal_token: str | None = None,
        runtime_url: str = DEFAULT_RUNTIME_URL,
        runtime_token: str | None = None,
        session_id: str | None = None,
        satham: dict[str, Any] | None = None,
        auto_start_runtime: bool = True,
        runtime_binary: str | None = None,
        cloud_base_url: str = DEFAULT_CLOUD_BASE_URL,
        storage_root: str | None = None,
        runtime_version: str | None = None,
        runtime_repo: str | None = None,
        runtime_cache_dir: str | None = None,
        client: Any = None,
        runtime_manager: Any = None,
        agent_id: str = "default",
        embedded: bool | None = None,
        settings: Settings | dict[str, Any] | None = None,
    ) -> None:
        self.project_id = _require("project_id", project_id)
        self.user_id = _require("user_id", user_id)
        note_local_only(api_key, cloud_base_url, internal_token)
        # The SDK's default URL means "the local runtime": voxmem finds or starts it.
        remote = runtime_url if runtime_url and runtime_url != DEFAULT_RUNTIME_URL else None
        use_embedded = embedded_from_env(embedded) and remote is None
        with mapped_errors():
            self._client = VoiceClient(
                project_id=project_id, agent_id=agent_id, embedded=use_embedded,
                runtime_url=remote, api_key=runtime_token if remote else None,
                data_dir=storage_root, settings=settings)
        self.session_id = session_id
        # A runtime elsewhere keeps its own data directory; this process cannot name it.
        self._data_dir = "" if remote else str(self._client.settings.data_path)
        self._metadata: dict[str, Any] = {"satham": satham} if satham else {}

    @property
    def voxmem_client(self) -> VoiceClient:
        """The voxmem client underneath."""
        return self._client

    @property
    def user(self) -> dict[str, Any]:
        """The ``user=`` of every call this object makes."""
        return {"id": self.user_id}

    async def start_session(self, metadata: dict[str, Any] | None = None,
                            timeout_s: float = 5.0) -> dict[str, Any]:
        """Open the end-user's session: ``{sessionId, bootstrap, paths}``."""
        with mapped_errors():
            info = await self._client.start_session(
                user=self.user, session_id=self.session_id,
                metadata={**self._metadata, **(metadata or {})} or None)
            preload = await self._client.preload(user=self.user)
        self.session_id = str(info.get("sessionId") or self.session_id or "") or None
        return {"sessionId": self.session_id, "bootstrap": preload.to_dict(),
                "paths": {"dataDir": self._data_dir}}

    async def load_index(self) -> IndexLoadResult:
        """Open the session (if needed) and report what was loaded."""
        if self.session_id is None:
            await self.start_session()
        with mapped_errors():
            indexes = await self._client.list_indexes()
        versions = [v for i in indexes if isinstance(v := i.get("version"), int)]
        return IndexLoadResult(session_id=self.session_id or "", profile_version=None,
                               permanent_manifest_version=None,
                               org_manifest_version=max(versions) if versions else None,
                               scopes_loaded=["profile", "working", "permanent", "org"])

    async def end_session(self, reason: str = "completed",
                          timeout_s: float = 5.0) -> dict[str, Any]:
        """Close the session; learning from it starts in the background."""
        with mapped_errors():
            result = await self._client.end_session(user=self.user, reason=reason,
                                                    session_id=self.session_id)
        self.session_id = None
        return result

    async def search_memory(self, query: str, *, lanes: list[str] | None = None,
                            intent: str = "answer_current_user",
                            top_k: dict[str, int] | None = None,
                            timeout_ms: int = DEFAULT_SEARCH_TIMEOUT_MS) -> SearchResult:
        """Recall for this end-user."""
        with mapped_errors():
            result = await self._client.search_memory(query, user=self.user, lanes=lanes,
                                                      intent=sdk_intent(intent), top_k=top_k,
                                                      timeout_ms=timeout_ms)
        return SearchResult.from_voxmem(result)

    async def after_turn(self, user_text: str, assistant_text: str, turn_id: str,
                         tool_calls: list[dict[str, Any]] | None = None,
                         metadata: dict[str, Any] | None = None,
                         timeout_s: float = 1.0) -> str | None:
        """Persist a completed turn (``turn_id`` makes a retry store nothing new)."""
        interrupted = bool((metadata or {}).get("interrupted", False))
        return await _best_effort_save(
            self._client, user_text=user_text, assistant_text=assistant_text, user=self.user,
            turn_id=turn_id or str(uuid.uuid4()), tool_calls=tool_calls, metadata=metadata,
            interrupted=interrupted)

    def search_memory_tool(self, *, search_memory_timeout_ms: int | None = None
                           ) -> MemoryTool:
        """A ``search_memory`` tool bound to this end-user."""
        return MemoryTool(self._client.search_memory_tool(
            user=self.user, timeout_ms=search_memory_timeout_ms))

    def to_openai_function(self) -> dict[str, Any]:
        """The tool's OpenAI function schema."""
        return self._client.to_openai_function()

    def to_livekit_tool(self) -> Any:
        """The tool as a LiveKit ``FunctionTool`` (needs ``voxmem[livekit]``)."""
        with mapped_errors():
            return self._client.to_livekit_tool(user=self.user)

    def to_pipecat_tool(self) -> Mapping[str, Any]:
        """``{name, schema, handler}`` for Pipecat (needs ``voxmem[pipecat]``)."""
        with mapped_errors():
            return self._client.to_pipecat_tool(user=self.user)

    async def aclose(self) -> None:
        """Release the client."""
        await self._client.aclose()

