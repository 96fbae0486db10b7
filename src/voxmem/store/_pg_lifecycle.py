"""Postgres statements for the memory lifecycle: extraction queue, policies, retention,
erasure, merges and exports (the SQLite store's ``_sqlite_lifecycle``, under row security).

:class:`PostgresLifecycle` is a mixin of :class:`~voxmem.store.postgres.PostgresStore`.
Each statement runs inside a transaction whose tenant setting is already in force; the
queries that span tenants (job queues, project list) are run once per tenant, all in
one pipelined round trip.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from ..models import CallerExport, PolicyRecord, Scope
from . import _entities as entities
from . import _rows as rows
from . import _sql as sql
from ._errors import store_errors
from ._keys import erasure_key
from ._pg_adapt import POSTGRES_ERRORS
from ._pg_write import set_tenant

__all__ = ["PostgresLifecycle"]

Cursor = AsyncCursor[tuple[Any, ...]]
T = TypeVar("T")

_LOCK_PREFIX = "voxmem:"
#: Longest wait for a caller's lock another runtime holds (it learns from one call).
CALLER_LOCK_WAIT_MS = 60_000

# Per-tenant job queries; rows are (tenant, project, space, user, agent, session).
_PENDING_EXTRACTIONS = (
    "SELECT tenant_id, project_id, space, user_id, agent_id, id, ended_at FROM sessions"
    " WHERE tenant_id = current_setting('voxmem.tenant_id', true) AND ended_at IS NOT NULL"
    " AND extracted_at IS NULL AND extraction_attempts < %s ORDER BY ended_at LIMIT %s")
_STALE_SESSIONS = (
    "SELECT tenant_id, project_id, space, user_id, agent_id, id, started_at FROM sessions"
    " WHERE tenant_id = current_setting('voxmem.tenant_id', true) AND ended_at IS NULL"
    " AND COALESCE(last_activity_at, started_at) < %s ORDER BY started_at LIMIT %s")
_PROJECTS = "SELECT DISTINCT tenant_id, project_id FROM callers"
# No per-caller search token to move (SQLite's items keep one, left from their dropped FTS).
_MOVE_ITEMS = sql.for_postgres(f"UPDATE items SET user_id = ? WHERE {sql.CALLER}")


async def _purge_items(cur: Cursor, tenant_id: str, project_id: str, cutoff: float,
                      agent_id: str | None, exclude_agents: Sequence[str],
                      turns_before: float) -> int:
    await cur.execute(sql.PURGE_DELETED_TRACES.postgres, (tenant_id, project_id))
    await cur.execute(sql.PURGE_DELETED.postgres, (tenant_id, project_id, turns_before))
    removed = cur.rowcount
    expired = sql.PURGE_EXPIRED_TRACES.postgres
    if agent_id is not None:
        await cur.execute(expired.format(agents=" AND i.agent_id = %s"),
                          (tenant_id, project_id, cutoff, agent_id))
        await cur.execute(sql.PURGE_AGENT.postgres, (tenant_id, project_id, agent_id, cutoff))
    else:
        await cur.execute(expired.format(agents=" AND i.agent_id <> ALL(%s)"),
                          (tenant_id, project_id, cutoff, list(exclude_agents)))
        await cur.execute(
            "DELETE FROM items WHERE tenant_id = %s AND project_id = %s AND created_at < %s"
            " AND agent_id <> ALL(%s)", (tenant_id, project_id, cutoff, list(exclude_agents)))
    return int(removed + cur.rowcount)


async def _forget_caller(cur: Cursor, scope: Scope) -> dict[str, int]:
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


async def _merge_callers(cur: Cursor, source: Scope, target: Scope, at: float) -> int:
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


async def _export_caller(cur: Cursor, scope: Scope) -> CallerExport:
    key = scope.caller_key
    await cur.execute(sql.GET_CALLER.postgres, key)
    caller = await cur.fetchone()
    await cur.execute(sql.EXPORT_SESSIONS.postgres, key)
    sessions = [rows.export_session(r) for r in await cur.fetchall()]
    await cur.execute(sql.EXPORT_ITEMS.postgres, key)
    items = [rows.export_item(r) for r in await cur.fetchall()]
    return rows.caller_export(scope, caller, sessions, items)


class PostgresLifecycle:
    """Job queues, policies, retention, erasure, merges and exports of the store."""

    # The store class provides these; declared here only for their types.
    _pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] | None
    _known_tenants: set[str]
    acquire_timeout_s: float
    journal_id: str

    def _transaction(self, tenant_id: str | None, *,
                     pipeline: bool = True) -> AbstractAsyncContextManager[Cursor]:
        raise NotImplementedError

    async def _fetch_as(self, tenant_id: str | None, query: str, params: Sequence[Any],
                        convert: Callable[[tuple[Any, ...]], T], *,
                        search: bool = False) -> list[T]:
        raise NotImplementedError

    async def _tenant_ids(self) -> list[str]:
        raise NotImplementedError

    async def _connect(self) -> AsyncConnection[tuple[Any, ...]]:
        raise NotImplementedError

    async def _register_tenants(self, cur: Cursor, tenants: Iterable[str]) -> None:
        raise NotImplementedError

    async def export_caller(self, scope: Scope) -> CallerExport:
        async with self._transaction(scope.tenant_id) as cur:
            return await _export_caller(cur, scope)

    async def _each_tenant(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """``query`` once per tenant, each under its own setting, in one round trip."""
        tenants = await self._tenant_ids()
        if not tenants:
            return []
        found: list[tuple[Any, ...]] = []
        cursors = []
        # One transaction, one round trip: each query runs under its own tenant setting.
        async with self._transaction(None) as first:
            for tenant in tenants:
                cur = first.connection.cursor(binary=True)
                await set_tenant(cur, tenant)
                await cur.execute(query, params)
                cursors.append(cur)
            for cur in cursors:  # the first read syncs the pipeline: all replies arrive
                found.extend(await cur.fetchall())
        return found

    async def pending_extractions(self, limit: int, max_attempts: int) -> list[
        tuple[Scope, str]
    ]:
        found = await self._each_tenant(_PENDING_EXTRACTIONS, (max_attempts, limit))
        found.sort(key=lambda r: r[6])
        return [(rows.scope_of(r), r[5]) for r in found[:limit]]

    async def stale_sessions(self, idle_before: float, limit: int) -> list[tuple[Scope, str]]:
        found = await self._each_tenant(_STALE_SESSIONS, (idle_before, limit))
        found.sort(key=lambda r: r[6])
        return [(rows.scope_of(r), r[5]) for r in found[:limit]]

    async def list_projects(self) -> list[tuple[str, str]]:
        found = await self._each_tenant(_PROJECTS, ())
        return sorted((r[0], r[1]) for r in found)

    async def get_policies(self, tenant_id: str, project_id: str) -> dict[str, PolicyRecord]:
        found = await self._fetch_as(tenant_id, sql.GET_POLICIES.postgres,
                                     (tenant_id, project_id), rows.policy)
        return dict(found)

    async def set_policy(self, tenant_id: str, project_id: str, agent_id: str,
                         memory_enabled: bool, retention_days: int, now: float) -> None:
        async with self._transaction(tenant_id) as cur:
            await self._register_tenants(cur, [tenant_id])
            await cur.execute(sql.SET_POLICY.postgres, (
                tenant_id, project_id, agent_id, memory_enabled, retention_days, now))
        self._known_tenants.add(tenant_id)

    # Row counts are only known once a statement's reply is read: no pipeline below.
    async def purge_items(self, tenant_id: str, project_id: str, cutoff: float,
                          agent_id: str | None, exclude_agents: Sequence[str], *,
                          deleted_turns_before: float = sql.ALL_DELETED) -> int:
        async with self._transaction(tenant_id, pipeline=False) as cur:
            return await _purge_items(cur, tenant_id, project_id, cutoff, agent_id,
                                               exclude_agents, deleted_turns_before)

    async def forget_caller(self, scope: Scope) -> dict[str, int]:
        async with self._transaction(scope.tenant_id, pipeline=False) as cur:
            counts = await _forget_caller(cur, scope)
            counts.update(await entities.run_postgres(cur, entities.forget_entities(scope)))
            return counts

    async def begin_erasures(self, scopes: Sequence[Scope], at: float) -> None:
        async with self._transaction(None) as cur:
            await cur.executemany(
                "INSERT INTO pending_erasures (journal_id, tenant_id, project_id, space,"
                " user_id, agent_id, requested_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [(self.journal_id, *s.caller_key, s.agent_id, at) for s in scopes])

    async def pending_erasures(self) -> list[Scope]:
        return await self._fetch_as(
            None, "SELECT tenant_id, project_id, space, user_id, agent_id"
            " FROM pending_erasures WHERE journal_id = %s ORDER BY requested_at",
            (self.journal_id,), rows.scope_of)

    async def end_erasure(self, scope: Scope, at: float) -> None:
        async with self._transaction(None) as cur:
            await cur.execute(
                "DELETE FROM pending_erasures WHERE journal_id = %s AND tenant_id = %s"
                " AND project_id = %s AND space = %s AND user_id = %s",
                (self.journal_id, *scope.caller_key))
            await cur.execute(sql.PURGE_ERASURE_NOTICES.postgres,
                              (at - sql.ERASURE_NOTICE_KEPT_S,))
            await cur.execute(sql.STORE_ID.postgres)
            found = await cur.fetchone()
            notice = erasure_key(str(found[0]) if found else "", *scope.caller_key)
            await cur.execute(sql.ADD_ERASURE_NOTICE.postgres, (notice, at))

    async def erasure_notices(self, since: float) -> list[tuple[str, float]]:
        return await self._fetch_as(None, sql.ERASURE_NOTICES.postgres, (since,),
                                    lambda r: (str(r[0]), float(r[1])))

    async def merge_callers(self, source: Scope, target: Scope, at: float) -> int:
        if source.tenant_id != target.tenant_id:
            raise ValueError("callers can only be merged within one tenant")
        async with self._transaction(target.tenant_id, pipeline=False) as cur:
            return await _merge_callers(cur, source, target, at)

    @contextlib.asynccontextmanager
    async def caller_lock(self, scope: Scope) -> AsyncIterator[None]:
        """A session advisory lock named by the caller, on a dedicated connection: held
        across the holder's awaits (a pooled transaction would be held open instead),
        gone with the connection if the holder dies. Waits at most CALLER_LOCK_WAIT_MS."""
        name = _LOCK_PREFIX + "caller:" + "\x1f".join(scope.caller_key)
        conn = await self._connect()
        try:
            with store_errors(POSTGRES_ERRORS, "Postgres"):
                await conn.execute(f"SET lock_timeout = {CALLER_LOCK_WAIT_MS}")
                await conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (name,))
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error):
                    await conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))",
                                       (name,))
        finally:
            await conn.close()

    @contextlib.asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[bool]:
        """Hold the database-wide lock ``name`` for the block, if no one else does.

        Yields True to exactly one holder across every runtime on this database and
        False to the others, without waiting. Used by singleton jobs (retention cleanup)::

            async with store.singleton("retention") as mine:
                if mine:
                    await run_retention()

        The lock lives on a dedicated connection: if that connection dies (server
        restart) the lock is gone too, so jobs holding it must be idempotent.
        """
        conn = await self._connect()
        try:
            with store_errors(POSTGRES_ERRORS, "Postgres"):
                cur = await conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                         (_LOCK_PREFIX + name,))
                row = await cur.fetchone()
            held = bool(row and row[0])
            try:
                yield held
            finally:
                if held:
                    with contextlib.suppress(psycopg.Error):
                        await conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))",
                                           (_LOCK_PREFIX + name,))
        finally:
            await conn.close()
