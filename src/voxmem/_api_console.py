"""Wire types of the operator views (the dashboard's data): callers, calls, knowledge
indexes, health.

Kept apart from :mod:`voxmem._api_types` only for size; the same conventions hold.
"""

from __future__ import annotations

import msgspec

from . import models
from ._api_types import (
    CallerRequest,
    Hit,
    IndexInfo,
    JsonObject,
    MemoryRecord,
    ProjectRequest,
    WireResponse,
)

__all__ = [
    "CallDetail", "CallList", "CallSummary", "CallTurn", "CallerDetail", "CallerList",
    "CallerSummary", "DeleteDocumentsRequest", "DocumentInfo", "DocumentList",
    "DocumentsDeleted", "GetCallRequest", "GetCallerRequest", "IndexDeleted",
    "IndexNameRequest", "IndexSearchResult", "ListCallersRequest", "ListCallsRequest",
    "RuntimeHealth", "SearchIndexRequest",
]


# -- operator views (the dashboard's data) ------------------------------------------------
class ListCallersRequest(ProjectRequest, kw_only=True):
    #: Any identifier: id, name, phone in any format, email, account number.
    query: str | None = None
    limit: int | None = None
    #: Callers to skip: pages the list without a query (a search answers its first
    #: ``limit``).
    offset: int | None = None


class GetCallerRequest(CallerRequest, kw_only=True):
    limit: int | None = None


class ListCallsRequest(ProjectRequest, kw_only=True):
    #: Only this caller's calls.
    user_id: str | None = None
    limit: int | None = None


class GetCallRequest(ProjectRequest, kw_only=True):
    session_id: str


class IndexNameRequest(ProjectRequest, kw_only=True):
    name: str


class DeleteDocumentsRequest(ProjectRequest, kw_only=True):
    name: str
    document_ids: list[str]


class SearchIndexRequest(ProjectRequest, kw_only=True):
    query: str
    #: One index; all of the project's when not given.
    name: str | None = None
    top_k: int | None = None


# -- operator view responses ----------------------------------------------------------------
class CallerSummary(WireResponse, kw_only=True):
    user_id: str
    name: str | None
    profile: JsonObject
    metadata: JsonObject
    space: str
    last_call_at: float | None
    call_count: int
    memory_count: int
    #: The identifiers the search matched on, strongest first.
    matched: list[JsonObject] = msgspec.field(default_factory=list)
    created_at: float | None = None
    updated_at: float | None = None


class CallerList(WireResponse, kw_only=True):
    callers: list[CallerSummary]


#: The store's records are the wire shapes of a call and a document: one declaration each.
CallSummary = models.CallSummary
DocumentInfo = models.DocumentRecord


class CallList(WireResponse, kw_only=True):
    calls: list[CallSummary]


class CallerDetail(WireResponse, kw_only=True):
    caller: JsonObject
    memories: list[MemoryRecord]
    history: list[MemoryRecord]
    calls: list[CallSummary]
    identifiers: list[JsonObject]
    merges: list[JsonObject]


class CallTurn(WireResponse, kw_only=True):
    event_id: str
    turn_id: str
    user_text: str
    assistant_text: str
    created_at: float
    interrupted: bool
    tool_calls: list[JsonObject]
    #: The recall traces served before this turn was saved.
    recall: list[JsonObject]


class CallDetail(WireResponse, kw_only=True):
    call: CallSummary
    turns: list[CallTurn]
    later_recall: list[JsonObject]
    memories_written: list[MemoryRecord]


class DocumentList(WireResponse, kw_only=True):
    index: IndexInfo
    documents: list[DocumentInfo]


class DocumentsDeleted(WireResponse, kw_only=True):
    index_name: str
    version: int
    removed: int


class IndexDeleted(WireResponse, kw_only=True):
    index_name: str
    documents_removed: int


class IndexSearchResult(WireResponse, kw_only=True):
    chunks: list[Hit]


class RuntimeHealth(WireResponse, kw_only=True):
    journal: JsonObject
    pending_learning: int
    recall: JsonObject
    memory_per_caller: list[JsonObject]
    engine: JsonObject
