"""Postgres statements for the memory lifecycle: extraction queue, policies, retention,
erasure, merges and exports (the SQLite store's ``_sqlite_lifecycle``, under row security).

Each function runs inside a transaction whose tenant setting is already in force; the
queries that span tenants (job queues, project list) are run once per tenant by the
store, all in one pipelined round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from ..models import Scope
from ._pg_write import CALLER

__all__ = [
    "PENDING_EXTRACTIONS",
    "PROJECTS",
    "STALE_SESSIONS",
    "export_caller",
    "forget_caller",
    "get_policies",
    "merge_callers",
    "purge_items",
    "scope_of",
    "set_policy",
]

Cursor = AsyncCursor[tuple[Any, ...]]

#: Per-tenant job queries; rows are (tenant, project, space, user, agent, session).
PENDING_EXTRACTIONS = (
    "SELECT tenant_id, project_id, space, user_id, agent_id, id, ended_at FROM sessions"
    " WHERE tenant_id = current_setting('voxmem.tenant_id', true) AND ended_at IS NOT NULL"
    " AND extracted_at IS NULL AND extraction_attempts < %s ORDER BY ended_at LIMIT %s")
STALE_SESSIONS = (
    "SELECT tenant_id, project_id, space, user_id, agent_id, id, started_at FROM sessions"
    " WHERE tenant_id = current_setting('voxmem.tenant_id', true) AND ended_at IS NULL"
    " AND COALESCE(last_activity_at, started_at) < %s ORDER BY started_at LIMIT %s")
PROJECTS = "SELECT DISTINCT tenant_id, project_id FROM callers"


def scope_of(row: Sequence[Any]) -> Scope:
    return Scope(tenant_id=row[0], project_id=row[1], space=row[2], user_id=row[3],
                 agent_id=row[4])


async def get_policies(cur: Cursor, tenant_id: str,
                       project_id: str) -> dict[str, dict[str, Any]]:
    await cur.execute(
        "SELECT agent_id, memory_enabled, retention_days, updated_at FROM memory_policies"
        " WHERE tenant_id = %s AND project_id = %s", (tenant_id, project_id))
    return {r[0]: {"memoryEnabled": bool(r[1]), "retentionDays": int(r[2]),
                   "updatedAt": r[3]} for r in await cur.fetchall()}


async def set_policy(cur: Cursor, tenant_id: str, project_id: str, agent_id: str,
                     memory_enabled: bool, retention_days: int, now: float) -> None:
    await cur.execute(
        "INSERT INTO memory_policies (tenant_id, project_id, agent_id, memory_enabled,"
        " retention_days, updated_at) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, project_id, agent_id) DO UPDATE SET"
        " memory_enabled = excluded.memory_enabled, retention_days = excluded.retention_days,"
        " updated_at = excluded.updated_at",
        (tenant_id, project_id, agent_id, memory_enabled, retention_days, now))


async def purge_items(cur: Cursor, tenant_id: str, project_id: str, cutoff: float,
                      agent_id: str | None, exclude_agents: Sequence[str]) -> int:
    await cur.execute(
        "DELETE FROM items WHERE tenant_id = %s AND project_id = %s AND deleted_at IS NOT NULL",
        (tenant_id, project_id))
    removed = cur.rowcount
    if agent_id is not None:
        await cur.execute(
            "DELETE FROM items WHERE tenant_id = %s AND project_id = %s AND agent_id = %s"
            " AND created_at < %s", (tenant_id, project_id, agent_id, cutoff))
    else:
        await cur.execute(
            "DELETE FROM items WHERE tenant_id = %s AND project_id = %s AND created_at < %s"
            " AND agent_id <> ALL(%s)", (tenant_id, project_id, cutoff, list(exclude_agents)))
    return int(removed + cur.rowcount)


async def forget_caller(cur: Cursor, scope: Scope) -> dict[str, int]:
    """Delete every row of the caller. Postgres reclaims the dead rows at the next
    (auto)vacuum; docs/postgres.md says how to force it for an erasure request."""
    key = scope.caller_key
    counts: dict[str, int] = {}
    for table in ("items", "sessions", "callers", "recall_traces"):
        await cur.execute(f"DELETE FROM {table} WHERE {CALLER}", key)
        counts[table] = cur.rowcount
    await cur.execute(
        "DELETE FROM caller_merges WHERE tenant_id = %s AND project_id = %s AND space = %s"
        " AND (from_user = %s OR to_user = %s)", (*key, key[3]))
    counts["merges"] = cur.rowcount
    # Records set aside by the applier hold the caller's words too.
    await cur.execute(f"DELETE FROM journal_quarantine WHERE {CALLER}", key)
    return counts


async def merge_callers(cur: Cursor, source: Scope, target: Scope, at: float) -> int:
    src, dst = source.caller_key, target.caller_key
    await cur.execute(f"UPDATE items SET user_id = %s WHERE {CALLER}", (dst[3], *src))
    moved = cur.rowcount
    await cur.execute(f"UPDATE sessions SET user_id = %s WHERE {CALLER}", (dst[3], *src))
    await cur.execute(
        f"SELECT name, metadata, profile, created_at FROM callers WHERE {CALLER}", src)
    row = await cur.fetchone()
    if row is not None:
        # The target's own values win; the source fills in what the target lacks.
        await cur.execute(
            "INSERT INTO callers (tenant_id, project_id, space, user_id, name, metadata,"
            " profile, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " name = COALESCE(callers.name, excluded.name),"
            " metadata = voxmem_merge_patch(excluded.metadata, callers.metadata),"
            " profile = voxmem_merge_patch(excluded.profile, callers.profile),"
            " updated_at = %s",
            (*dst, row[0], Jsonb(row[1]), Jsonb(row[2]), row[3], at, at))
        await cur.execute(f"DELETE FROM callers WHERE {CALLER}", src)
    await cur.execute(
        "INSERT INTO caller_merges (tenant_id, project_id, space, from_user, to_user, at,"
        " items_moved) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (*dst[:3], src[3], dst[3], at, moved))
    return int(moved)


async def export_caller(cur: Cursor, scope: Scope) -> dict[str, Any]:
    key = scope.caller_key
    await cur.execute(f"SELECT name, metadata, profile FROM callers WHERE {CALLER}", key)
    caller = await cur.fetchone()
    await cur.execute(
        "SELECT id, agent_id, started_at, ended_at, end_reason, metadata, report"
        f" FROM sessions WHERE {CALLER} ORDER BY started_at", key)
    sessions = [
        {"sessionId": r[0], "agentId": r[1], "startedAt": r[2], "endedAt": r[3],
         "endReason": r[4], "metadata": r[5] or {}, "report": r[6]}
        for r in await cur.fetchall()]
    await cur.execute(
        "SELECT id, kind, session_id, text, user_text, assistant_text, fact_kind, slot_key,"
        f" confidence, created_at, valid_to, deleted_at FROM items WHERE {CALLER}"
        " ORDER BY created_at, seq", key)
    items = [
        {"id": r[0], "kind": r[1], "sessionId": r[2], "text": r[3], "userText": r[4],
         "assistantText": r[5], "factKind": r[6], "slotKey": r[7], "confidence": r[8],
         "createdAt": r[9], "validTo": r[10], "deletedAt": r[11]}
        for r in await cur.fetchall()]
    return {
        "userId": scope.user_id,
        "name": caller[0] if caller else None,
        "metadata": caller[1] if caller else {},
        "profile": caller[2] if caller else {},
        "sessions": sessions,
        "items": items,
    }
