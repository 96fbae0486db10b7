"""Row mappers both dialects share: one place turns a selected row into a record.

Each mapper reads a row selected with the matching statement in ``_sql.py``. The only
difference between the dialects' rows is JSON: SQLite returns a JSON column as text,
Postgres (``jsonb``) as the decoded value; :func:`json_value` accepts both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..models import (
    CallerExport,
    CallerListing,
    CallerRecord,
    CallRecord,
    CallSummary,
    Chunk,
    DocumentRecord,
    ExportedItem,
    ExportedSession,
    Fact,
    IndexRecord,
    MemoryItem,
    PolicyRecord,
    RecallTrace,
    Scope,
    SessionInfo,
    Turn,
)
from ._base import ChunkHit, QuarantinedRecord

__all__ = [
    "call_record",
    "call_summary",
    "caller_export",
    "caller_found",
    "caller_listing",
    "chunk",
    "chunk_hit",
    "document",
    "export_item",
    "export_session",
    "fact",
    "index",
    "json_value",
    "memory_item",
    "policy",
    "quarantined",
    "recall_trace",
    "scope_of",
    "session_info",
    "turn",
]

Row = Sequence[Any]


def json_value(value: Any, default: Any) -> Any:
    """A JSON column's value: decoded from SQLite's text, as is from Postgres.

    Every JSON column holds an object or an array, so a ``str`` is always SQLite's
    encoding, never a decoded JSON string.
    """
    if value is None:
        return default
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value


def scope_of(r: Row) -> Scope:
    """(tenant, project, space, user, agent) at the start of a row."""
    return Scope(tenant_id=r[0], project_id=r[1], space=r[2], user_id=r[3], agent_id=r[4])


def memory_item(r: Row) -> MemoryItem:
    return MemoryItem(id=r[0], kind=r[1], text=r[2], created_at=r[3], session_id=r[4],
                      confidence=r[5], slot_key=r[6], fact_kind=r[7], embedding=r[8],
                      user_text=r[9], assistant_text=r[10], turn_id=r[11],
                      second_embedding=r[12])


def session_info(r: Row) -> SessionInfo:
    return SessionInfo(id=r[0], user_id=r[1], agent_id=r[2], started_at=r[3], ended_at=r[4],
                       end_reason=r[5], metadata=json_value(r[6], {}))


def turn(r: Row) -> Turn:
    return Turn(event_id=r[0], session_id=r[1], turn_id=r[2], user_text=r[3] or "",
                assistant_text=r[4] or "", created_at=r[5], agent_id=r[6],
                interrupted=bool(r[7]), tool_calls=json_value(r[8], []),
                metadata=json_value(r[9], {}))


def chunk(r: Row) -> Chunk:
    return Chunk(id=r[0], index_name=r[1], document_id=r[2], ordinal=r[3], text=r[4],
                 metadata=json_value(r[5], {}), created_at=r[6], embedding=r[7])


def quarantined(r: Row) -> QuarantinedRecord:
    """From a row of ``QUARANTINE_COLUMNS``."""
    scope = None if r[4] is None else Scope(tenant_id=r[4], project_id=r[5], agent_id="",
                                            user_id=r[7], space=r[6])
    return QuarantinedRecord(seq=int(r[0]), record=r[1], error=r[2], at=float(r[3]),
                             scope=scope)


def caller_found(r: Row) -> CallerRecord:
    """From a ``GET_CALLER`` row."""
    return CallerRecord(id=r[0], name=r[1], metadata=json_value(r[2], {}),
                        profile=json_value(r[3], {}))


def fact(r: Row) -> Fact:
    """From a row of ``FACT_COLUMNS``."""
    return Fact(id=r[0], text=r[1], kind=r[2], slot_key=r[3], confidence=r[4],
                source_session_id=r[5], source_turn_ids=json_value(r[6], []),
                valid_from=r[7], valid_to=r[8], created_at=r[9], deleted_at=r[10])


def chunk_hit(r: Row) -> ChunkHit:
    """From (id, score, ``CHUNK_HIT_COLUMNS``)."""
    return ChunkHit(Chunk(id=r[0], index_name=r[2], document_id=r[3], ordinal=int(r[4]),
                          text=r[5], metadata=json_value(r[6], {}), created_at=r[7]),
                    float(r[1]))


def index(r: Row) -> IndexRecord:
    """From a ``LIST_INDEXES`` row."""
    return IndexRecord(name=r[0], version=int(r[1]), metadata=json_value(r[2], {}),
                       created_at=r[3], updated_at=r[4], document_count=int(r[5]),
                       chunk_count=int(r[6]))


def document(r: Row) -> DocumentRecord:
    """From a ``LIST_DOCUMENTS`` row."""
    return DocumentRecord(document_id=r[0], metadata=json_value(r[1], {}), version=r[2],
                          updated_at=r[3], chars=r[4], chunk_count=r[5])


def policy(r: Row) -> tuple[str, PolicyRecord]:
    """(agent id, policy) from a ``GET_POLICIES`` row."""
    return r[0], PolicyRecord(memory_enabled=bool(r[1]), retention_days=int(r[2]),
                              updated_at=r[3])


def export_session(r: Row) -> ExportedSession:
    """From an ``EXPORT_SESSIONS`` row."""
    return ExportedSession(session_id=r[0], agent_id=r[1], started_at=r[2], ended_at=r[3],
                           end_reason=r[4], metadata=json_value(r[5], {}),
                           report=json_value(r[6], None))


def export_item(r: Row) -> ExportedItem:
    """From an ``EXPORT_ITEMS`` row."""
    return ExportedItem(id=r[0], kind=r[1], session_id=r[2], text=r[3], user_text=r[4],
                        assistant_text=r[5], fact_kind=r[6], slot_key=r[7],
                        confidence=r[8], created_at=r[9], valid_to=r[10], deleted_at=r[11],
                        turn_id=r[12], source_turn_ids=json_value(r[13], None))


def caller_export(scope: Scope, caller: Row | None, sessions: list[ExportedSession],
                  items: list[ExportedItem]) -> CallerExport:
    """From a ``GET_CALLER`` row (None when the caller has no record) and the exported
    sessions and items."""
    return CallerExport(user_id=scope.user_id, name=caller[1] if caller else None,
                        metadata=json_value(caller[2], {}) if caller else {},
                        profile=json_value(caller[3], {}) if caller else {},
                        sessions=sessions, items=items)


def caller_listing(r: Row) -> CallerListing:
    """From a ``SEARCH_CALLERS`` row."""
    return CallerListing(user_id=r[0], name=r[1], profile=json_value(r[2], {}),
                         metadata=json_value(r[3], {}), space=r[4], created_at=r[5],
                         updated_at=r[6], last_call_at=r[7], call_count=r[8],
                         memory_count=r[9])


def call_summary(r: Row) -> CallSummary:
    """One call of a list, from a row selected with ``CALL_COLUMNS``."""
    return CallSummary(session_id=r[0], user_id=r[1], space=r[2], agent_id=r[3],
                       started_at=r[4], ended_at=r[5], end_reason=r[6], turn_count=r[7],
                       fact_count=r[8])


def call_record(r: Row) -> CallRecord:
    """From a ``CALL_RECORD`` row."""
    return CallRecord(session_id=r[0], user_id=r[1], space=r[2], agent_id=r[3],
                      started_at=r[4], ended_at=r[5], end_reason=r[6], turn_count=r[7],
                      fact_count=r[8], metadata=json_value(r[9], {}),
                      report=json_value(r[10], None), extracted_at=r[11],
                      extraction_attempts=r[12], extraction_error=r[13])


def recall_trace(r: Row) -> RecallTrace:
    """From a ``RECALL_TRACES`` row."""
    return RecallTrace(id=r[0], user_id=r[1], agent_id=r[2], session_id=r[3], at=r[4],
                       query=r[5], total_ms=r[6], degraded=bool(r[7]),
                       trace=json_value(r[8], {}), injected=r[9],
                       sources=json_value(r[10], []))
