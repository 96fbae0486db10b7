"""Typed records shared by the engine, the store and the clients.

Scopes first: every stored row carries a :class:`Scope` and every query takes one, so a
caller's memory can only be read through that caller's scope.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Literal

import msgspec

__all__ = [
    "DEFAULT_TENANT",
    "LANES",
    "CallRecord",
    "CallSummary",
    "Caller",
    "CallerExport",
    "CallerListing",
    "CallerRecord",
    "Chunk",
    "DocumentRecord",
    "ExportedItem",
    "ExportedSession",
    "Fact",
    "IndexBuildResult",
    "IndexRecord",
    "Lane",
    "MemoryItem",
    "PolicyRecord",
    "Preload",
    "RecallTrace",
    "Record",
    "Scope",
    "SearchResult",
    "SessionInfo",
    "Turn",
    "iso",
]

Lane = Literal["profile", "working", "permanent", "org"]
LANES: tuple[Lane, ...] = ("profile", "working", "permanent", "org")

#: What a searchable caller memory is: a saved turn, an extracted fact, a call summary.
ItemKind = Literal["turn", "fact", "summary"]

SHARED_SPACE = "*"
#: The tenant of every call that names none (single-tenant deployments).
DEFAULT_TENANT = "default"


def iso(ts: float) -> str:
    """Epoch seconds as an ISO-8601 UTC timestamp (what the wire and the composer use)."""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


@dataclasses.dataclass(frozen=True, slots=True)
class Scope:
    """Where a row belongs: tenant → project → memory space → caller.

    ``space`` is ``"*"`` when callers' memory is shared by every agent of the project
    (the default) or the agent id when ``memory_scope="agent"``. ``agent_id`` records
    which agent acted, whatever the space.
    """

    tenant_id: str
    project_id: str
    agent_id: str
    user_id: str
    space: str = SHARED_SPACE

    @property
    def caller_key(self) -> tuple[str, str, str, str]:
        """The key every per-caller row and cache is filed under."""
        return (self.tenant_id, self.project_id, self.space, self.user_id)

    @property
    def project_key(self) -> tuple[str, str]:
        return (self.tenant_id, self.project_id)


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """The person on the line: a stable id plus display name and free metadata."""

    id: str
    name: str | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class Turn:
    """One (user_text, assistant_text) exchange as saved by ``save_response``."""

    event_id: str
    session_id: str
    turn_id: str
    user_text: str
    assistant_text: str
    created_at: float
    agent_id: str = ""
    interrupted: bool = False
    tool_calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def text(self) -> str:
        """The searchable text of the turn: what both sides said."""
        if self.user_text and self.assistant_text:
            return f"{self.user_text}\n{self.assistant_text}"
        return self.user_text or self.assistant_text


class Record(msgspec.Struct, frozen=True, rename="camel"):
    """A typed record the store returns. Its wire form (camelCase JSON-ready builtins)
    is one conversion away: :meth:`to_wire`, so no handler builds the dict by hand."""

    def to_wire(self) -> dict[str, Any]:
        """This record as the API returns it (``slot_key`` -> ``"slotKey"``)."""
        wire: dict[str, Any] = msgspec.to_builtins(self)
        return wire


class Fact(Record, frozen=True):
    """A short durable third-person statement about the caller, as stored.

    ``valid_to`` is set once a newer fact superseded it, ``deleted_at`` once it was
    deleted; recall uses only facts with neither.
    """

    id: str
    text: str
    kind: str = "note"
    slot_key: str | None = None
    confidence: float = 1.0
    source_session_id: str | None = None
    source_turn_ids: list[str] = msgspec.field(default_factory=list)
    valid_from: float = 0.0
    valid_to: float | None = None
    created_at: float = 0.0
    deleted_at: float | None = None

    @property
    def current(self) -> bool:
        """Neither superseded nor deleted."""
        return self.valid_to is None and self.deleted_at is None


class CallerRecord(Record, frozen=True):
    """A stored caller: display name, metadata from the platform, learned profile."""

    id: str
    name: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    profile: dict[str, Any] = msgspec.field(default_factory=dict)


class IndexRecord(Record, frozen=True):
    """An org knowledge index with its size."""

    name: str
    version: int
    metadata: dict[str, Any]
    created_at: float
    updated_at: float
    document_count: int
    chunk_count: int


class PolicyRecord(Record, frozen=True):
    """A stored memory policy (of a project, or of one agent in it)."""

    memory_enabled: bool
    retention_days: int
    updated_at: float | None = None


class DocumentRecord(Record, frozen=True):
    """A document of an org index, as the operator views list it."""

    document_id: str
    metadata: dict[str, Any]
    version: int
    updated_at: float
    chars: int
    chunk_count: int


class CallSummary(Record, frozen=True):
    """One call of a list: who, when, how it ended, how much it said and taught."""

    session_id: str
    user_id: str
    space: str
    agent_id: str
    started_at: float
    ended_at: float | None
    end_reason: str | None
    turn_count: int
    fact_count: int


class CallRecord(CallSummary, frozen=True):
    """One call in full: its summary plus metadata, report and learning state."""

    metadata: dict[str, Any]
    report: dict[str, Any] | None
    extracted_at: float | None
    extraction_attempts: int
    extraction_error: str | None


class RecallTrace(Record, frozen=True):
    """A stored recall: what was asked, how long it took, what it injected."""

    id: str
    user_id: str
    agent_id: str
    session_id: str | None
    at: float
    query: str
    total_ms: float
    degraded: bool
    trace: dict[str, Any]
    injected: str
    sources: list[dict[str, Any]]


class CallerListing(Record, frozen=True):
    """A caller as the operator search lists them, with call and memory counts."""

    user_id: str
    name: str | None
    profile: dict[str, Any]
    metadata: dict[str, Any]
    space: str
    created_at: float
    updated_at: float
    last_call_at: float | None
    call_count: int
    memory_count: int


class ExportedSession(Record, frozen=True):
    """A call as a data export lists it."""

    session_id: str
    agent_id: str
    started_at: float
    ended_at: float | None
    end_reason: str | None
    metadata: dict[str, Any]
    report: dict[str, Any] | None


class ExportedItem(Record, frozen=True):
    """A stored memory item (turn, fact or summary) as a data export lists it, deleted
    and superseded ones included."""

    id: str
    kind: str
    session_id: str | None
    text: str
    user_text: str | None
    assistant_text: str | None
    fact_kind: str | None
    slot_key: str | None
    confidence: float | None
    created_at: float
    valid_to: float | None
    deleted_at: float | None
    #: A turn's id within its call (the idempotency key of a save); None for facts.
    turn_id: str | None = None
    #: The turn ids of its call a fact was learned from (recall ranks them together).
    source_turn_ids: list[str] | None = None


class CallerExport(Record, frozen=True):
    """Everything the store holds about one caller, for a data request."""

    user_id: str
    name: str | None
    metadata: dict[str, Any]
    profile: dict[str, Any]
    sessions: list[ExportedSession]
    items: list[ExportedItem]


@dataclasses.dataclass(frozen=True, slots=True)
class MemoryItem:
    """A searchable unit of a caller's memory as the store returns it."""

    id: str
    kind: ItemKind
    text: str
    created_at: float
    session_id: str | None = None
    confidence: float = 1.0
    slot_key: str | None = None
    fact_kind: str | None = None
    user_text: str | None = None
    assistant_text: str | None = None
    turn_id: str | None = None
    embedding: bytes | None = None
    #: The full model's vector beside ``embedding`` (embedder "static+onnx"), once written.
    second_embedding: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of an org document, the unit the org lane searches."""

    id: str
    index_name: str
    document_id: str
    ordinal: int
    text: str
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    created_at: float = 0.0
    embedding: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SessionInfo:
    """A call as the store knows it."""

    id: str
    user_id: str
    agent_id: str
    started_at: float
    ended_at: float | None = None
    end_reason: str | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: How end-of-call learning went, when the caller waited for it
    #: (``end_session(wait=True)``): ``{"status", "facts", "error"}``.
    learning: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "sessionId": self.id,
            "userId": self.user_id,
            "agentId": self.agent_id,
            "startedAt": iso(self.started_at),
            "endedAt": iso(self.ended_at) if self.ended_at is not None else None,
            "endReason": self.end_reason,
            "metadata": self.metadata,
        }
        if self.learning is not None:
            out["learning"] = self.learning
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class SearchResult:
    """What ``search_memory`` returns. It always returns, even when lanes time out.

    Attributes:
        context_text: ready to splice as one system message; ``""`` when nothing is
            relevant. Also readable as ``contextText``.
        profile: the caller's current profile fields, or ``None``.
        working: hits from this call and recent call summaries.
        permanent: facts and past turns of this caller.
        org: chunks from the project's org indexes.
        sources: ``{lane, id, score, ...}`` per hit, for citation.
        trace: per-lane milliseconds, total, lanes used, ``degraded`` and ``mode``.
    """

    context_text: str
    profile: dict[str, Any] | None
    working: list[dict[str, Any]]
    permanent: list[dict[str, Any]]
    org: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    trace: dict[str, Any]

    @property
    def contextText(self) -> str:  # noqa: N802 - the name the spec and peer SDKs use
        return self.context_text

    @property
    def degraded(self) -> bool:
        return bool(self.trace.get("degraded"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "contextText": self.context_text,
            "profile": self.profile,
            "working": self.working,
            "permanent": self.permanent,
            "org": self.org,
            "sources": self.sources,
            "trace": self.trace,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchResult:
        return cls(
            context_text=str(data.get("contextText", "")),
            profile=data.get("profile"),
            working=list(data.get("working") or []),
            permanent=list(data.get("permanent") or []),
            org=list(data.get("org") or []),
            sources=list(data.get("sources") or []),
            trace=dict(data.get("trace") or {}),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Preload:
    """The block for session start: profile, top facts, last call, open commitments."""

    context_text: str
    profile: dict[str, Any] | None
    facts: list[dict[str, Any]]
    last_session: dict[str, Any] | None
    commitments: list[dict[str, Any]]
    trace: dict[str, Any]

    @property
    def contextText(self) -> str:  # noqa: N802 - the name the spec and peer SDKs use
        return self.context_text

    def to_dict(self) -> dict[str, Any]:
        return {
            "contextText": self.context_text,
            "profile": self.profile,
            "facts": self.facts,
            "lastSession": self.last_session,
            "commitments": self.commitments,
            "trace": self.trace,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preload:
        return cls(
            context_text=str(data.get("contextText", "")),
            profile=data.get("profile"),
            facts=list(data.get("facts") or []),
            last_session=data.get("lastSession"),
            commitments=list(data.get("commitments") or []),
            trace=dict(data.get("trace") or {}),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class IndexBuildResult:
    """What ``create_index`` returns."""

    index_name: str
    chunk_count: int
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {"indexName": self.index_name, "chunkCount": self.chunk_count,
                "version": self.version}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexBuildResult:
        return cls(index_name=str(data["indexName"]), chunk_count=int(data["chunkCount"]),
                   version=int(data["version"]))
