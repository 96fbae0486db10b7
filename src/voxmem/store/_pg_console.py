"""Postgres statements for the operator views (dashboard, ``voxmem index``): caller search,
call lists, document and index deletion, stored recall traces.

A mixin of :class:`~voxmem.store.postgres.PostgresStore` (the SQLite store's
``_sqlite_console``, under row security); none of it runs on the audio path.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from ..models import CallerListing, CallRecord, CallSummary, DocumentRecord, RecallTrace
from . import _rows as rows
from . import _sql as sql
from ._base import RecallTraceRow

__all__ = ["PostgresConsole"]

Cursor = AsyncCursor[tuple[Any, ...]]

# The separators the SQLite store strips (see _sqlite_console): the same matches on both.
_STRIP = "regexp_replace({}, '[ ()./+\"-]', '', 'g')"


class PostgresConsole:
    """Operator queries; relies on the store's ``_fetch`` and ``_transaction``."""

    # The store class overrides both; these only give the mixin its types.
    async def _fetch(self, tenant_id: str | None, query: str, params: Sequence[Any] = (),
                     *, search: bool = False) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _transaction(self, tenant_id: str | None, *,
                     pipeline: bool = True) -> AbstractAsyncContextManager[Cursor]:
        raise NotImplementedError

    async def search_callers(self, tenant_id: str, project_id: str, text: str, digits: str,
                             limit: int, offset: int = 0) -> list[CallerListing]:
        tests: list[str] = []
        fact_tests: list[str] = []
        args: list[Any] = []
        fact_args: list[Any] = []
        if text:
            tests.append("LOWER(c.user_id || ' ' || COALESCE(c.name, '') || ' ' ||"
                         " c.profile::text || ' ' || c.metadata::text) LIKE ?")
            args.append(sql.like_pattern(text))
            fact_tests.append("LOWER(f.text) LIKE ?")
            fact_args.append(sql.like_pattern(text))
        if digits:
            for column in ("c.user_id", "c.profile::text", "c.metadata::text"):
                tests.append(_STRIP.format(column) + " LIKE ?")
                args.append(sql.like_pattern(digits))
            fact_tests.append(_STRIP.format("f.text") + " LIKE ?")
            fact_args.append(sql.like_pattern(digits))
        where = "c.tenant_id = ? AND c.project_id = ?"
        if tests:
            # Numbers given during calls (order, ticket, account) live in the caller's
            # current facts ("Has ticket 8842"), not only in the profile.
            tests.append(sql.FACT_MATCHES.format(tests=" OR ".join(fact_tests)))
            where += " AND (" + " OR ".join(tests) + ")"
        found = await self._fetch(
            tenant_id, sql.SEARCH_CALLERS.format(where=where).postgres,
            (tenant_id, project_id, *args, *fact_args, limit, offset))
        return [rows.caller_listing(r) for r in found]

    async def list_sessions(self, tenant_id: str, project_id: str, *, space: str | None,
                            user_id: str | None, limit: int) -> list[CallSummary]:
        where = sql.calls_where(user=user_id is not None, space=space is not None)
        found = await self._fetch(
            tenant_id, sql.LIST_CALLS.format(where=where).postgres,
            (tenant_id, project_id, *(v for v in (user_id, space) if v is not None), limit))
        return [rows.call_summary(r) for r in found]

    async def session_record(self, tenant_id: str, project_id: str,
                             session_id: str) -> CallRecord | None:
        found = await self._fetch(tenant_id, sql.CALL_RECORD.postgres,
                                  (tenant_id, project_id, session_id))
        return rows.call_record(found[0]) if found else None

    async def list_documents(self, tenant_id: str, project_id: str,
                             index_name: str) -> list[DocumentRecord]:
        found = await self._fetch(tenant_id, sql.LIST_DOCUMENTS.postgres,
                                  (tenant_id, project_id, index_name))
        return [rows.document(r) for r in found]

    async def delete_documents(self, tenant_id: str, project_id: str, index_name: str,
                               doc_ids: Sequence[str], now: float) -> tuple[int, int] | None:
        key = (tenant_id, project_id, index_name)
        async with self._transaction(tenant_id, pipeline=False) as cur:
            # FOR UPDATE: two runtimes deleting at once still get consecutive versions.
            await cur.execute("SELECT version FROM org_indexes WHERE tenant_id = %s"
                              " AND project_id = %s AND name = %s FOR UPDATE", key)
            row = await cur.fetchone()
            if row is None:
                return None
            ids = list(doc_ids)
            await cur.execute("DELETE FROM chunks WHERE tenant_id = %s AND project_id = %s"
                              " AND index_name = %s AND doc_id = ANY(%s)", (*key, ids))
            await cur.execute("DELETE FROM org_documents WHERE tenant_id = %s"
                              " AND project_id = %s AND index_name = %s AND doc_id = ANY(%s)"
                              " RETURNING doc_id", (*key, ids))
            removed = len(await cur.fetchall())
            version = int(row[0])
            if removed:
                # A new version tells every runtime's org cache to reload the index.
                version += 1
                await cur.execute(sql.BUMP_INDEX.postgres, (version, now, *key))
            return version, removed

    async def delete_index(self, tenant_id: str, project_id: str,
                           index_name: str) -> int | None:
        key = (tenant_id, project_id, index_name)
        async with self._transaction(tenant_id, pipeline=False) as cur:
            await cur.execute(sql.DELETE_INDEX.postgres, key)
            if not await cur.fetchall():
                return None
            await cur.execute(sql.DELETE_INDEX_CHUNKS.postgres, key)
            await cur.execute(sql.DELETE_INDEX_DOCUMENTS.postgres, key)
            return len(await cur.fetchall())

    async def write_recall_traces(self, rows: Sequence[RecallTraceRow],
                                  prune_before: float) -> None:
        by_tenant: dict[str, list[RecallTraceRow]] = {}
        for r in rows:
            by_tenant.setdefault(r.scope.tenant_id, []).append(r)
        for tenant, group in by_tenant.items():
            async with self._transaction(tenant) as cur:
                await cur.executemany(
                    sql.INSERT_TRACE.postgres,
                    [(r.id, r.scope.tenant_id, r.scope.project_id, r.scope.space,
                      r.scope.user_id, r.scope.agent_id, r.session_id, r.at, r.query,
                      r.total_ms, r.degraded, Jsonb(r.trace), r.injected, Jsonb(r.sources))
                     for r in group])
                # Row security: each tenant's old traces are pruned under its own setting.
                await cur.execute("DELETE FROM recall_traces WHERE tenant_id = %s AND at < %s",
                                  (tenant, prune_before))

    async def recall_traces(self, tenant_id: str, project_id: str, *,
                            session_id: str | None = None, since: float | None = None,
                            limit: int = 500) -> list[RecallTrace]:
        where = sql.traces_where(session=session_id is not None, since=since is not None)
        found = await self._fetch(
            tenant_id, sql.RECALL_TRACES.format(where=where).postgres,
            (tenant_id, project_id, *(v for v in (session_id, since) if v is not None),
             limit))
        return [rows.recall_trace(r) for r in reversed(found)]
