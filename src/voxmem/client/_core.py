"""The I/O-free half of the clients: request payloads in, typed results out.

``VoiceClient`` and ``VoiceClientSync`` differ only in how a :class:`Call` travels (await
or block); every argument check, default and result parse lives here once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .._exceptions import BadRequest
from ..models import IndexBuildResult, Preload, SearchResult

__all__ = ["Call", "ClientCore", "UserArg"]

UserArg = dict[str, Any] | None


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """One operation to run: its name in the operation table and its JSON body."""

    op: str
    payload: dict[str, Any]


class ClientCore:
    """Builds calls for one (tenant, project, agent) and parses their results."""

    def __init__(self, *, project_id: str, agent_id: str, tenant_id: str = "default") -> None:
        for name, value in (("project_id", project_id), ("agent_id", agent_id)):
            if not isinstance(value, str) or not value.strip():
                raise BadRequest(f"{name} must be a non-empty string", field=name)
        self.project_id = project_id
        self.agent_id = agent_id
        self.tenant_id = tenant_id

    def _call(self, op: str, **payload: Any) -> Call:
        body = {k: v for k, v in payload.items() if v is not None}
        body.update(tenant_id=self.tenant_id, project_id=self.project_id,
                    agent_id=self.agent_id)
        return Call(op, body)

    # -- builders --------------------------------------------------------------------------
    def search_memory(self, query: str, *, user: UserArg, user_id: str | None,
                      lanes: Sequence[str] | None, intent: str,
                      top_k: dict[str, int] | None, timeout_ms: float, mode: str) -> Call:
        return self._call("search_memory", query=query, user=user, user_id=user_id,
                          lanes=list(lanes) if lanes is not None else None, intent=intent,
                          top_k=top_k, timeout_ms=timeout_ms, mode=mode)

    def save_response(self, *, user_text: str, assistant_text: str, user: UserArg,
                      user_id: str | None, turn_id: str | None,
                      tool_calls: list[dict[str, Any]] | None,
                      metadata: dict[str, Any] | None, interrupted: bool) -> Call:
        return self._call("save_response", user_text=user_text, assistant_text=assistant_text,
                          user=user, user_id=user_id, turn_id=turn_id, tool_calls=tool_calls,
                          metadata=metadata, interrupted=interrupted)

    def preload(self, *, user: UserArg, user_id: str | None) -> Call:
        return self._call("preload", user=user, user_id=user_id)

    def start_session(self, *, user: UserArg, user_id: str | None, session_id: str | None,
                      metadata: dict[str, Any] | None) -> Call:
        return self._call("start_session", user=user, user_id=user_id, session_id=session_id,
                          metadata=metadata)

    def end_session(self, *, user: UserArg, user_id: str | None, reason: str,
                    session_id: str | None) -> Call:
        return self._call("end_session", user=user, user_id=user_id, reason=reason,
                          session_id=session_id)

    def create_index(self, name: str, documents: list[dict[str, Any]],
                     metadata: dict[str, Any] | None) -> Call:
        return self._call("create_index", name=name, documents=documents, metadata=metadata)

    def list_indexes(self) -> Call:
        return self._call("list_indexes")

    def update_profile(self, *, user: UserArg, user_id: str | None, field: str,
                       value: Any) -> Call:
        call = self._call("update_profile", user=user, user_id=user_id, field=field)
        call.payload["value"] = value
        return call

    def import_history(self, *, user: UserArg, user_id: str | None,
                       sessions: list[dict[str, Any]]) -> Call:
        return self._call("import_history", user=user, user_id=user_id, sessions=sessions)

    def flush(self, timeout_s: float) -> Call:
        return self._call("flush", timeout_s=timeout_s)

    # -- parsers ---------------------------------------------------------------------------
    @staticmethod
    def parse_search(data: Any) -> SearchResult:
        return SearchResult.from_dict(data)

    @staticmethod
    def parse_event_id(data: Any) -> str | None:
        value = data.get("eventId") if isinstance(data, dict) else None
        return str(value) if value else None

    @staticmethod
    def parse_preload(data: Any) -> Preload:
        return Preload.from_dict(data)

    @staticmethod
    def parse_index_build(data: Any) -> IndexBuildResult:
        return IndexBuildResult.from_dict(data)

    @staticmethod
    def parse_dict(data: Any) -> dict[str, Any]:
        return dict(data) if isinstance(data, dict) else {}

    @staticmethod
    def parse_list(data: Any) -> list[dict[str, Any]]:
        return list(data) if isinstance(data, list) else []
