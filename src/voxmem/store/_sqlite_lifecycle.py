"""SQLite statements for the memory lifecycle: extraction queue, policies, retention,
erasure, merges and exports. Kept apart from the hot read/write path in ``sqlite.py``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..models import Scope
from ._keys import search_key

__all__ = [
    "export_caller",
    "forget_caller",
    "get_policies",
    "list_projects",
    "merge_callers",
    "pending_extractions",
    "purge_items",
    "set_policy",
    "stale_sessions",
]

_CALLER = "tenant_id = ? AND project_id = ? AND space = ? AND user_id = ?"


def _scope(row: sqlite3.Row | tuple[Any, ...]) -> Scope:
    return Scope(tenant_id=row[0], project_id=row[1], space=row[2], user_id=row[3],
                 agent_id=row[4])


def pending_extractions(conn: sqlite3.Connection, limit: int,
                        max_attempts: int) -> list[tuple[Scope, str]]:
    rows = conn.execute(
        "SELECT tenant_id, project_id, space, user_id, agent_id, id FROM sessions "
        "WHERE ended_at IS NOT NULL AND extracted_at IS NULL AND extraction_attempts < ? "
        "ORDER BY ended_at LIMIT ?", (max_attempts, limit)).fetchall()
    return [(_scope(r), r[5]) for r in rows]


def stale_sessions(conn: sqlite3.Connection, idle_before: float,
                   limit: int) -> list[tuple[Scope, str]]:
    rows = conn.execute(
        "SELECT tenant_id, project_id, space, user_id, agent_id, id FROM sessions "
        "WHERE ended_at IS NULL AND COALESCE(last_activity_at, started_at) < ? "
        "ORDER BY started_at LIMIT ?", (idle_before, limit)).fetchall()
    return [(_scope(r), r[5]) for r in rows]


def get_policies(conn: sqlite3.Connection, tenant_id: str,
                 project_id: str) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT agent_id, memory_enabled, retention_days, updated_at FROM memory_policies "
        "WHERE tenant_id = ? AND project_id = ?", (tenant_id, project_id)).fetchall()
    return {r[0]: {"memoryEnabled": bool(r[1]), "retentionDays": int(r[2]),
                   "updatedAt": r[3]} for r in rows}


def set_policy(conn: sqlite3.Connection, tenant_id: str, project_id: str, agent_id: str,
               memory_enabled: bool, retention_days: int, now: float) -> None:
    conn.execute(
        "INSERT INTO memory_policies (tenant_id, project_id, agent_id, memory_enabled,"
        " retention_days, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, project_id, agent_id) DO UPDATE SET"
        " memory_enabled = excluded.memory_enabled, retention_days = excluded.retention_days,"
        " updated_at = excluded.updated_at",
        (tenant_id, project_id, agent_id, int(memory_enabled), retention_days, now))


def list_projects(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT DISTINCT tenant_id, project_id FROM callers ORDER BY 1, 2")]


def purge_items(conn: sqlite3.Connection, tenant_id: str, project_id: str, cutoff: float,
                agent_id: str | None, exclude_agents: Sequence[str]) -> int:
    removed = conn.execute(
        "DELETE FROM items WHERE tenant_id = ? AND project_id = ? AND deleted_at IS NOT NULL",
        (tenant_id, project_id)).rowcount
    if agent_id is not None:
        removed += conn.execute(
            "DELETE FROM items WHERE tenant_id = ? AND project_id = ? AND agent_id = ?"
            " AND created_at < ?", (tenant_id, project_id, agent_id, cutoff)).rowcount
    else:
        marks = ",".join("?" * len(exclude_agents))
        others = f" AND agent_id NOT IN ({marks})" if exclude_agents else ""
        removed += conn.execute(
            "DELETE FROM items WHERE tenant_id = ? AND project_id = ? AND created_at < ?"
            f"{others}", (tenant_id, project_id, cutoff, *exclude_agents)).rowcount
    return int(removed)


def forget_caller(conn: sqlite3.Connection, scope: Scope) -> dict[str, int]:
    key = scope.caller_key
    counts = {
        "items": conn.execute(f"DELETE FROM items WHERE {_CALLER}", key).rowcount,
        "sessions": conn.execute(f"DELETE FROM sessions WHERE {_CALLER}", key).rowcount,
        "callers": conn.execute(f"DELETE FROM callers WHERE {_CALLER}", key).rowcount,
        "recall_traces": conn.execute(f"DELETE FROM recall_traces WHERE {_CALLER}",
                                      key).rowcount,
        "merges": conn.execute(
            "DELETE FROM caller_merges WHERE tenant_id = ? AND project_id = ? AND space = ?"
            " AND (from_user = ? OR to_user = ?)", (*key, key[3])).rowcount,
    }
    # Records set aside by the applier hold the caller's words too.
    conn.execute(f"DELETE FROM journal_quarantine WHERE {_CALLER}", key)
    # Merge every FTS segment so no old segment still holds the caller's words.
    conn.execute("INSERT INTO items_fts (items_fts) VALUES ('optimize')")
    return counts


def merge_callers(conn: sqlite3.Connection, source: Scope, target: Scope, at: float) -> int:
    src, dst = source.caller_key, target.caller_key
    moved = conn.execute(
        f"UPDATE items SET user_id = ?, search_key = ? WHERE {_CALLER}",
        (dst[3], search_key(*dst), *src)).rowcount
    conn.execute(f"UPDATE sessions SET user_id = ? WHERE {_CALLER}", (dst[3], *src))
    row = conn.execute(f"SELECT name, metadata, profile, created_at FROM callers WHERE {_CALLER}",
                       src).fetchone()
    if row is not None:
        conn.execute(
            "INSERT INTO callers (tenant_id, project_id, space, user_id, name, metadata, profile,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " name = COALESCE(callers.name, excluded.name),"
            " metadata = json_patch(excluded.metadata, callers.metadata),"
            " profile = json_patch(excluded.profile, callers.profile),"
            " updated_at = ?",
            (*dst, row[0], row[1], row[2], row[3], at, at))
        conn.execute(f"DELETE FROM callers WHERE {_CALLER}", src)
    conn.execute(
        "INSERT INTO caller_merges (tenant_id, project_id, space, from_user, to_user, at,"
        " items_moved) VALUES (?, ?, ?, ?, ?, ?, ?)", (*dst[:3], src[3], dst[3], at, moved))
    return int(moved)


def export_caller(conn: sqlite3.Connection, scope: Scope) -> dict[str, Any]:
    key = scope.caller_key
    caller = conn.execute(f"SELECT name, metadata, profile FROM callers WHERE {_CALLER}",
                          key).fetchone()
    sessions = [
        {"sessionId": r[0], "agentId": r[1], "startedAt": r[2], "endedAt": r[3],
         "endReason": r[4], "metadata": json.loads(r[5] or "{}"),
         "report": json.loads(r[6]) if r[6] else None}
        for r in conn.execute(
            "SELECT id, agent_id, started_at, ended_at, end_reason, metadata, report "
            f"FROM sessions WHERE {_CALLER} ORDER BY started_at", key)]
    items = [
        {"id": r[0], "kind": r[1], "sessionId": r[2], "text": r[3], "userText": r[4],
         "assistantText": r[5], "factKind": r[6], "slotKey": r[7], "confidence": r[8],
         "createdAt": r[9], "validTo": r[10], "deletedAt": r[11]}
        for r in conn.execute(
            "SELECT id, kind, session_id, text, user_text, assistant_text, fact_kind, slot_key,"
            f" confidence, created_at, valid_to, deleted_at FROM items WHERE {_CALLER}"
            " ORDER BY created_at, rowid", key)]
    return {
        "userId": scope.user_id,
        "name": caller[0] if caller else None,
        "metadata": json.loads(caller[1]) if caller else {},
        "profile": json.loads(caller[2]) if caller else {},
        "sessions": sessions,
        "items": items,
    }
