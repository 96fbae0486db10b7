"""SQLite statements for the memory lifecycle: extraction queue, policies, retention,
erasure, merges, exports and job locks. :class:`SQLiteLifecycle` is a mixin of
:class:`~voxmem.store.sqlite.SQLiteStore`, kept apart from the hot read/write path;
the Postgres store's ``_pg_lifecycle``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

from ..models import CallerExport, PolicyRecord, Scope
from . import _entities as entities
from . import _rows as rows
from . import _sql as sql
from ._keys import erasure_key, search_key

__all__ = ["SQLiteLifecycle"]

T = TypeVar("T")


def _pending_extractions(conn: sqlite3.Connection, limit: int,
                        max_attempts: int) -> list[tuple[Scope, str]]:
    found = conn.execute(
        "SELECT tenant_id, project_id, space, user_id, agent_id, id FROM sessions "
        "WHERE ended_at IS NOT NULL AND extracted_at IS NULL AND extraction_attempts < ? "
        "ORDER BY ended_at LIMIT ?", (max_attempts, limit)).fetchall()
    return [(rows.scope_of(r), r[5]) for r in found]


def _stale_sessions(conn: sqlite3.Connection, idle_before: float,
                   limit: int) -> list[tuple[Scope, str]]:
    found = conn.execute(
        "SELECT tenant_id, project_id, space, user_id, agent_id, id FROM sessions "
        "WHERE ended_at IS NULL AND COALESCE(last_activity_at, started_at) < ? "
        "ORDER BY started_at LIMIT ?", (idle_before, limit)).fetchall()
    return [(rows.scope_of(r), r[5]) for r in found]


#: Trace ids deleted per write transaction (the writer is let go in between).
TRACE_BATCH = 500


def _agents(agent_id: str | None, exclude_agents: Sequence[str]) -> tuple[str, list[str]]:
    """The purge's condition on the memories' agent, and its parameters."""
    if agent_id is not None:
        return " AND agent_id = ?", [agent_id]
    marks = ",".join("?" * len(exclude_agents))
    return (f" AND agent_id NOT IN ({marks})" if exclude_agents else ""), list(exclude_agents)


def _cited_traces(conn: sqlite3.Connection, tenant_id: str, project_id: str, cutoff: float,
                  agent_id: str | None, exclude_agents: Sequence[str]
                  ) -> tuple[float | None, list[str]]:
    """The traces citing a memory the purge removes, and the last deletion time they
    were looked for up to (one read snapshot)."""
    agents, params = _agents(agent_id, exclude_agents)
    conn.execute("BEGIN")
    try:
        bound = conn.execute(_LAST_DELETED, (tenant_id, project_id)).fetchone()[0]
        found = [str(r[0]) for r in conn.execute(_select(sql.PURGE_DELETED_TRACES.sqlite),
                                                 (tenant_id, project_id))]
        found += [str(r[0]) for r in conn.execute(
            _select(sql.PURGE_EXPIRED_TRACES.sqlite.format(
                agents=agents.replace("agent_id", "i.agent_id"))),
            (tenant_id, project_id, cutoff, *params))]
    finally:
        conn.execute("COMMIT")
    return (None if bound is None else float(bound)), list(dict.fromkeys(found))


def delete_traces(ids: Sequence[str], conn: sqlite3.Connection) -> None:
    conn.execute(f"DELETE FROM recall_traces WHERE id IN ({','.join('?' * len(ids))})", ids)


def _select(delete: str) -> str:
    """The ids a ``DELETE FROM recall_traces WHERE id IN (...)`` removes, as a query."""
    return delete[delete.index("(") + 1:-1]


_LAST_DELETED = ("SELECT MAX(deleted_at) FROM items WHERE tenant_id = ? AND project_id = ?"
                 " AND deleted_at IS NOT NULL")
# PURGE_DELETED, of the memories deleted up to the time the traces were looked for.
_PURGE_DELETED_UP_TO = sql.PURGE_DELETED.sqlite + " AND deleted_at <= ?"


def _purge_items(conn: sqlite3.Connection, tenant_id: str, project_id: str, cutoff: float,
                agent_id: str | None, exclude_agents: Sequence[str],
                turns_before: float, deleted_up_to: float | None) -> int:
    removed = 0
    if deleted_up_to is not None:
        removed += conn.execute(_PURGE_DELETED_UP_TO,
                                (tenant_id, project_id, turns_before, deleted_up_to)).rowcount
    if agent_id is not None:
        removed += conn.execute(sql.PURGE_AGENT.sqlite,
                                (tenant_id, project_id, agent_id, cutoff)).rowcount
    else:
        marks = ",".join("?" * len(exclude_agents))
        others = f" AND agent_id NOT IN ({marks})" if exclude_agents else ""
        removed += conn.execute(
            "DELETE FROM items WHERE tenant_id = ? AND project_id = ? AND created_at < ?"
            f"{others}", (tenant_id, project_id, cutoff, *exclude_agents)).rowcount
    return int(removed)


def _forget_caller(conn: sqlite3.Connection, scope: Scope) -> dict[str, int]:
    key = scope.caller_key
    counts = {table: conn.execute(statement.sqlite, key).rowcount
              for table, statement in sql.FORGET.items()}
    # Records set aside by the applier hold the caller's words too; not counted.
    del counts["journal_quarantine"]
    counts["merges"] = conn.execute(sql.FORGET_MERGES.sqlite, (*key, key[3])).rowcount
    return counts


def _merge_callers(conn: sqlite3.Connection, source: Scope, target: Scope, at: float) -> int:
    src, dst = source.caller_key, target.caller_key
    moved = conn.execute(
        f"UPDATE items SET user_id = ?, search_key = ? WHERE {sql.CALLER}",
        (dst[3], search_key(*dst), *src)).rowcount
    conn.execute(sql.MOVE_SESSIONS.sqlite, (dst[3], *src))
    row = conn.execute(sql.MERGE_SOURCE.sqlite, src).fetchone()
    if row is not None:
        # The target's own values win; the source fills in what the target lacks.
        conn.execute(
            "INSERT INTO callers (tenant_id, project_id, space, user_id, name, metadata, profile,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " name = COALESCE(callers.name, excluded.name),"
            " metadata = json_patch(excluded.metadata, callers.metadata),"
            " profile = json_patch(excluded.profile, callers.profile),"
            " updated_at = ?",
            (*dst, row[0], row[1], row[2], row[3], at, at))
        conn.execute(sql.FORGET["callers"].sqlite, src)
    conn.execute(sql.RECORD_MERGE.sqlite, (*dst[:3], src[3], dst[3], at, moved))
    return int(moved)


def _export_caller(conn: sqlite3.Connection, scope: Scope) -> CallerExport:
    key = scope.caller_key
    caller = conn.execute(sql.GET_CALLER.sqlite, key).fetchone()
    return rows.caller_export(
        scope, caller,
        [rows.export_session(r) for r in conn.execute(sql.EXPORT_SESSIONS.sqlite, key)],
        [rows.export_item(r) for r in conn.execute(sql.EXPORT_ITEMS.sqlite, key)])


class SQLiteLifecycle:
    """Job queues, policies, retention, erasure, merges, exports and job locks."""

    # The store class provides these; declared here only for their types.
    _job_locks: dict[str, asyncio.Lock]

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _select(self, statement: str, params: Sequence[Any],
                      convert: Callable[[sqlite3.Row], T]) -> list[T]:
        raise NotImplementedError

    async def _checkpoint(self) -> None:
        raise NotImplementedError

    async def export_caller(self, scope: Scope) -> CallerExport:
        return await self._read(lambda c: _export_caller(c, scope))

    async def pending_extractions(self, limit: int, max_attempts: int) -> list[
        tuple[Scope, str]
    ]:
        return await self._read(lambda c: _pending_extractions(c, limit, max_attempts))

    async def stale_sessions(self, idle_before: float, limit: int) -> list[tuple[Scope, str]]:
        return await self._read(lambda c: _stale_sessions(c, idle_before, limit))

    async def get_policies(self, tenant_id: str, project_id: str) -> dict[str, PolicyRecord]:
        found = await self._select(sql.GET_POLICIES.sqlite, (tenant_id, project_id),
                                   rows.policy)
        return dict(found)

    async def set_policy(self, tenant_id: str, project_id: str, agent_id: str,
                         memory_enabled: bool, retention_days: int, now: float) -> None:
        await self._write(lambda c: c.execute(sql.SET_POLICY.sqlite, (
            tenant_id, project_id, agent_id, memory_enabled, retention_days, now)))

    async def list_projects(self) -> list[tuple[str, str]]:
        return await self._select("SELECT DISTINCT tenant_id, project_id FROM callers"
                                  " ORDER BY 1, 2", (), lambda r: (r[0], r[1]))

    async def purge_items(self, tenant_id: str, project_id: str, cutoff: float,
                          agent_id: str | None, exclude_agents: Sequence[str], *,
                          deleted_turns_before: float = sql.ALL_DELETED) -> int:
        # The traces citing what goes are found on a read connection and deleted a batch
        # per write transaction: found in the writer, at a busy host's week of traces
        # (500,000), the purge held it for 24-35 s and no save was applied meanwhile
        # (docs/reliability.md). A memory deleted after the look waits for the next purge.
        deleted_up_to, traces = await self._read(lambda c: _cited_traces(
            c, tenant_id, project_id, cutoff, agent_id, exclude_agents))
        for lo in range(0, len(traces), TRACE_BATCH):
            await self._write(functools.partial(delete_traces,
                                                traces[lo:lo + TRACE_BATCH]))
        removed = await self._write(lambda c: _purge_items(
            c, tenant_id, project_id, cutoff, agent_id, exclude_agents, deleted_turns_before,
            deleted_up_to))
        if removed:
            # secure_delete zeroes the freed pages in the database file, but the WAL keeps
            # the frames written before the delete (the words) until they are overwritten.
            await self._checkpoint()
        return removed

    async def forget_caller(self, scope: Scope) -> dict[str, int]:
        counts = await self._write(lambda c: {**_forget_caller(c, scope),
                                              **entities.run_sqlite(
                                                  c, entities.forget_entities(scope))})
        await self._checkpoint()
        return counts

    async def begin_erasures(self, scopes: Sequence[Scope], at: float) -> None:
        await self._write(lambda c: c.executemany(
            "INSERT INTO pending_erasures (tenant_id, project_id, space, user_id, agent_id,"
            " requested_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(*s.caller_key, s.agent_id, at) for s in scopes]))

    async def pending_erasures(self) -> list[Scope]:
        return await self._select(
            "SELECT tenant_id, project_id, space, user_id, agent_id FROM pending_erasures"
            " ORDER BY requested_at", (), rows.scope_of)

    async def end_erasure(self, scope: Scope, at: float) -> None:
        def run(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM pending_erasures WHERE tenant_id = ? AND project_id = ?"
                      " AND space = ? AND user_id = ?", scope.caller_key)
            c.execute(sql.PURGE_ERASURE_NOTICES.sqlite, (at - sql.ERASURE_NOTICE_KEPT_S,))
            store_id = str(c.execute(sql.STORE_ID.sqlite).fetchone()[0])
            c.execute(sql.ADD_ERASURE_NOTICE.sqlite,
                      (erasure_key(store_id, *scope.caller_key), at))
        await self._write(run)

    async def erasure_notices(self, since: float) -> list[tuple[str, float]]:
        return await self._select(sql.ERASURE_NOTICES.sqlite, (since,),
                                  lambda r: (r[0], float(r[1])))

    async def merge_callers(self, source: Scope, target: Scope, at: float) -> int:
        return await self._write(lambda c: _merge_callers(c, source, target, at))

    @contextlib.asynccontextmanager
    async def caller_lock(self, scope: Scope) -> AsyncIterator[None]:
        # One runtime owns a SQLite store; its own per-caller lock is enough.
        yield

    @contextlib.asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[bool]:
        # One runtime owns a SQLite data directory (the runtime lock guarantees it), so
        # a job lock only has to keep this process's own jobs from overlapping.
        lock = self._job_locks.setdefault(name, asyncio.Lock())
        if lock.locked():
            yield False
            return
        async with lock:
            yield True
