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
from . import _rows as rows
from . import _sql as sql

__all__ = [
    "PENDING_EXTRACTIONS",
    "PROJECTS",
    "STALE_SESSIONS",
    "export_caller",
    "forget_caller",
    "merge_callers",
    "purge_items",
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
# No per-caller search token to move (SQLite's FTS needs one; tsvector search does not).
_MOVE_ITEMS = sql.for_postgres(f"UPDATE items SET user_id = ? WHERE {sql.CALLER}")


async def purge_items(cur: Cursor, tenant_id: str, project_id: str, cutoff: float,
                      agent_id: str | None, exclude_agents: Sequence[str]) -> int:
    await cur.execute(sql.PURGE_DELETED.postgres, (tenant_id, project_id))
    removed = cur.rowcount
    if agent_id is not None:
        await cur.execute(sql.PURGE_AGENT.postgres, (tenant_id, project_id, agent_id, cutoff))
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
    for table, statement in sql.FORGET.items():
        await cur.execute(statement.postgres, key)
        counts[table] = cur.rowcount
    # Records set aside by the applier hold the caller's words too; not counted.
    del counts["journal_quarantine"]
    await cur.execute(sql.FORGET_MERGES.postgres, (*key, key[3]))
    counts["merges"] = cur.rowcount
    return counts


async def merge_callers(cur: Cursor, source: Scope, target: Scope, at: float) -> int:
    src, dst = source.caller_key, target.caller_key
    await cur.execute(_MOVE_ITEMS, (dst[3], *src))
    moved = cur.rowcount
    await cur.execute(sql.MOVE_SESSIONS.postgres, (dst[3], *src))
    await cur.execute(sql.MERGE_SOURCE.postgres, src)
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
        await cur.execute(sql.FORGET["callers"].postgres, src)
    await cur.execute(sql.RECORD_MERGE.postgres, (*dst[:3], src[3], dst[3], at, moved))
    return int(moved)


async def export_caller(cur: Cursor, scope: Scope) -> dict[str, Any]:
    key = scope.caller_key
    await cur.execute(sql.GET_CALLER.postgres, key)
    caller = await cur.fetchone()
    await cur.execute(sql.EXPORT_SESSIONS.postgres, key)
    sessions = [rows.export_session(r) for r in await cur.fetchall()]
    await cur.execute(sql.EXPORT_ITEMS.postgres, key)
    items = [rows.export_item(r) for r in await cur.fetchall()]
    return {
        "userId": scope.user_id,
        "name": caller[1] if caller else None,
        "metadata": caller[2] if caller else {},
        "profile": caller[3] if caller else {},
        "sessions": sessions,
        "items": items,
    }
