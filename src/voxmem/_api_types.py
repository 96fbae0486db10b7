"""The wire types: one request and one response type per operation, as msgspec Structs.

These classes are the contract of the REST API and of the embedded client alike: the
operation table (:mod:`voxmem._api`) names one request and one response type per
operation, the runtime validates every body against the request type, and the OpenAPI
document's ``components/schemas`` are generated from both.

Wire convention: **camelCase** in both directions (``userText`` in, ``contextText``
out). Request bodies may also spell a field in snake_case (``user_text``, the Python
parameter name); that alias exists because the REST API accepted only snake_case before
and scripts written against it must keep working. Error ``details.field`` names a field
in its Python spelling (``sessions[0].started_at``), whichever spelling was sent.

Why msgspec: a request is decoded and validated on the audio path (every recall). On
this machine validating a ``search_memory`` body takes ~1 µs with msgspec against
~3 µs with pydantic v2, and importing msgspec costs ~3 ms against ~150 ms for pydantic —
and the client imports these types (see docs/architecture.md for the measurement).

Responses are declared here for the schema and the clients; the handlers still build
them as JSON-ready dicts from the engine's records (no second copy on the recall path),
and a test validates real responses of every operation against these schemas.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from .models import IndexRecord

__all__ = [
    "CallerExport", "CallerRef", "CallerRequest", "CreateIndexRequest",
    "DeleteMemoryRequest", "Document", "EndSessionRequest", "FlushRequest", "FlushResult",
    "ForgetRequest", "Forgotten", "Hit", "ImportHistoryRequest", "ImportResult",
    "ImportedSession", "ImportedTurn", "IndexBuilt", "IndexInfo", "ListMemoriesRequest",
    "MemoryDeleted", "MemoryPolicies", "MemoryRecord", "MergeUsersRequest", "PolicyRow",
    "PreloadResponse", "ProfileUpdated", "ProjectRequest", "QuarantineList",
    "QuarantineRetried", "QuarantinedRecord", "RecallRequest", "Recalled",
    "RememberRequest", "Remembered", "RetryQuarantinedRequest", "SearchRequest",
    "SearchResponse", "SearchTrace", "SessionMemoriesRequest", "SessionRecord",
    "SetPolicyRequest", "Source", "StartSessionRequest", "TurnRequest", "TurnSaved",
    "UpdateProfileRequest", "UserForgotten", "UsersMerged", "WireRequest", "WireResponse",
]

JsonObject = dict[str, Any]


class WireRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True,
                  omit_defaults=True, kw_only=True):
    """Base of every request body: unknown fields are refused, defaults not sent."""


class ProjectRequest(WireRequest, kw_only=True):
    """A call about a project: who is asking. ``tenantId`` defaults to ``"default"``."""

    project_id: str
    tenant_id: str | None = None
    agent_id: str | None = None


class CallerRef(WireRequest, kw_only=True):
    """The person on the line: ``{"id", "name", "metadata"}``."""

    id: str
    name: str | None = None
    metadata: JsonObject | None = None


class CallerRequest(ProjectRequest, kw_only=True):
    """A call about one caller: ``user`` (or its alias ``userId``) is required."""

    user: CallerRef | None = None
    user_id: str | None = None


# -- requests -------------------------------------------------------------------------------
class SearchRequest(CallerRequest, kw_only=True):
    query: str
    lanes: list[str] | None = None
    intent: str | None = None
    top_k: dict[str, int] | None = None
    timeout_ms: float | None = None
    mode: Literal["fast", "accurate"] | None = None
    #: Epoch seconds when the caller stops waiting (a runtime on the same clock).
    deadline_at: float | None = None


class TurnRequest(CallerRequest, kw_only=True):
    user_text: str
    assistant_text: str
    turn_id: str | None = None
    tool_calls: list[JsonObject] | None = None
    metadata: JsonObject | None = None
    interrupted: bool = False


class StartSessionRequest(CallerRequest, kw_only=True):
    session_id: str | None = None
    metadata: JsonObject | None = None


class EndSessionRequest(CallerRequest, kw_only=True):
    reason: str = "completed"
    session_id: str | None = None
    report: JsonObject | None = None
    #: Answer only once the call's learning (fact extraction) is done.
    wait: bool = False


class Document(WireRequest, kw_only=True):
    id: str
    text: str
    metadata: JsonObject | None = None


class CreateIndexRequest(ProjectRequest, kw_only=True):
    name: str
    documents: list[Document]
    metadata: JsonObject | None = None


class UpdateProfileRequest(CallerRequest, kw_only=True):
    field: str
    value: str | int | float | bool | None = None


class ImportedTurn(WireRequest, kw_only=True):
    user_text: str = ""
    assistant_text: str = ""
    #: Epoch seconds or ISO-8601; defaults to the session's start.
    created_at: float | str | None = None
    turn_id: str | None = None
    metadata: JsonObject | None = None


class ImportedSession(WireRequest, kw_only=True):
    #: Epoch seconds or ISO-8601.
    started_at: float | str
    turns: list[ImportedTurn]
    ended_at: float | str | None = None
    session_id: str | None = None
    metadata: JsonObject | None = None


class ImportHistoryRequest(CallerRequest, kw_only=True):
    sessions: list[ImportedSession]
    learn: bool = False
    outside_retention: Literal["refuse", "skip"] = "refuse"


class ListMemoriesRequest(CallerRequest, kw_only=True):
    include_deleted: bool = False


class SessionMemoriesRequest(CallerRequest, kw_only=True):
    session_id: str


class DeleteMemoryRequest(CallerRequest, kw_only=True):
    memory_id: str


class RememberRequest(CallerRequest, kw_only=True):
    memory_type: str
    content: str


class RecallRequest(CallerRequest, kw_only=True):
    memory_type: str


class ForgetRequest(CallerRequest, kw_only=True):
    memory_type: str


class MergeUsersRequest(ProjectRequest, kw_only=True):
    from_id: str
    to_id: str


class SetPolicyRequest(ProjectRequest, kw_only=True):
    level: Literal["project", "agent"] = "project"
    #: Not sent: keeps the value in force at that level.
    memory_enabled: bool | UnsetType = UNSET
    #: Days, 0 = no cap. Not sent: keeps the value in force at that level.
    memory_retention_days: int | UnsetType = UNSET


class FlushRequest(WireRequest, kw_only=True):
    """Runtime-wide: the identity fields are accepted and not needed."""

    timeout_s: float = 30.0
    #: Also wait for end-of-call learning still running.
    learning: bool = False
    project_id: str | None = None
    tenant_id: str | None = None
    agent_id: str | None = None


class RetryQuarantinedRequest(ProjectRequest, kw_only=True):
    #: The journal sequence number of the quarantined record.
    seq: int


# -- responses ------------------------------------------------------------------------------
class WireResponse(msgspec.Struct, rename="camel", kw_only=True):
    """Base of every response body (camelCase; fields may be added, never removed)."""


class SearchTrace(WireResponse, kw_only=True):
    degraded: bool
    lanes: dict[str, float] = {}
    lanes_used: list[str] = []
    total_ms: float | None = None
    errors: dict[str, str] = {}
    mode: str | None = None
    intent: str | None = None
    timeout_ms: float | None = None
    queued_ms: float | None = None
    cold_lanes: list[str] = []
    #: per lane left out at the deadline, what it was still waiting for ("policy",
    #: "caller load", "store read", "cold build", "lane thread", "embedding",
    #: "second model", "org index load", "search"); see docs/recall.md, "The deadline"
    waited: dict[str, str] = {}


class Hit(WireResponse, kw_only=True):
    """One recalled item: a turn, a fact or a call summary of the caller, or an org
    chunk. Which optional fields are present depends on ``kind``."""

    id: str
    lane: str
    kind: str
    text: str
    score: float
    #: ISO-8601 UTC, and the same instant as epoch seconds.
    created_at: str | None = None
    created_at_ts: float | None = None
    session_id: str | None = None
    user_text: str | None = None
    assistant_text: str | None = None
    turn_id: str | None = None
    confidence: float | None = None
    slot_key: str | None = None
    #: Org chunks: the index and the document the chunk comes from.
    index: str | None = None
    document_id: str | None = None
    metadata: JsonObject | None = None


class Source(WireResponse, kw_only=True):
    """A citation for one hit of ``contextText``."""

    lane: str
    id: str
    score: float
    session_id: str | None = None
    index: str | None = None
    document_id: str | None = None


class SearchResponse(WireResponse, kw_only=True):
    context_text: str
    profile: JsonObject | None
    working: list[Hit]
    permanent: list[Hit]
    org: list[Hit]
    sources: list[Source]
    trace: SearchTrace


class TurnSaved(WireResponse, kw_only=True):
    event_id: str | None


class PreloadResponse(WireResponse, kw_only=True):
    context_text: str
    profile: JsonObject | None
    facts: list[JsonObject]
    last_session: JsonObject | None
    commitments: list[JsonObject]
    trace: JsonObject


class SessionRecord(WireResponse, kw_only=True):
    session_id: str
    user_id: str
    agent_id: str
    #: ISO-8601 UTC.
    started_at: str
    ended_at: str | None
    end_reason: str | None
    metadata: JsonObject


class IndexBuilt(WireResponse, kw_only=True):
    index_name: str
    chunk_count: int
    version: int


#: The store's record is the wire shape: one declaration for both.
IndexInfo = IndexRecord


class ProfileUpdated(WireResponse, kw_only=True):
    profile: JsonObject


class ImportResult(WireResponse, kw_only=True):
    sessions: int
    turns: int
    outside_retention: int
    skipped: int


class MemoryRecord(WireResponse, kw_only=True):
    id: str
    text: str
    kind: str
    slot_key: str | None
    confidence: float
    source_session_id: str | None
    source_turn_ids: list[str]
    valid_from: float
    valid_to: float | None
    created_at: float
    deleted_at: float | None = None


class MemoryDeleted(WireResponse, kw_only=True):
    deleted: str


class Remembered(WireResponse, kw_only=True):
    memory_type: str
    content: str | None
    changed: bool


class Recalled(WireResponse, kw_only=True):
    memory_type: str
    content: str | None
    id: str | None = None


class Forgotten(WireResponse, kw_only=True):
    memory_type: str
    forgotten: bool


class UserForgotten(WireResponse, kw_only=True):
    items: int
    sessions: int


class CallerExport(WireResponse, kw_only=True):
    #: The shape's version; ``import_user`` takes an export of its own release's.
    format: int
    user_id: str
    name: str | None
    metadata: JsonObject
    profile: JsonObject
    sessions: list[JsonObject]
    items: list[JsonObject]
    #: Linked identifiers, merges naming the caller (a merge in force with its undo
    #: record) and the entity graph with its mentions: ``import_user`` restores them.
    identifiers: list[JsonObject] = []
    merges: list[JsonObject] = []
    graph: JsonObject = {}


class UsersMerged(WireResponse, kw_only=True):
    items_moved: int


class PolicyRow(WireResponse, kw_only=True):
    memory_enabled: bool
    retention_days: int
    updated_at: float | None = None


class MemoryPolicies(WireResponse, kw_only=True):
    project: PolicyRow
    agents: dict[str, PolicyRow]


class FlushResult(WireResponse, kw_only=True):
    """``flushed`` plus the engine's write-path counters."""

    flushed: bool
    journal_seq: int
    applied_seq: int
    backlog: int


class QuarantinedRecord(WireResponse, kw_only=True):
    seq: int
    error: str
    at: float
    user_id: str | None
    project_id: str | None
    #: The journal record as ASCII JSON.
    record: str


class QuarantineList(WireResponse, kw_only=True):
    records: list[QuarantinedRecord]


class QuarantineRetried(WireResponse, kw_only=True):
    seq: int
    journaled_as: int
