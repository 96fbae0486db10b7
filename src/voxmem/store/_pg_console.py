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

from ..models import Scope
from ._base import RecallTraceRow
from ._console_sql import CALLER_STATS, SESSION_COLUMNS, like_pattern, session_row

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
                             limit: int) -> list[dict[str, Any]]:
        tests: list[str] = []
        fact_tests: list[str] = []
        args: list[Any] = []
        fact_args: list[Any] = []
        if text:
            tests.append("LOWER(c.user_id || ' ' || COALESCE(c.name, '') || ' ' ||"
                         " c.profile::text || ' ' || c.metadata::text) LIKE %s")
            args.append(like_pattern(text))
            fact_tests.append("LOWER(f.text) LIKE %s")
            fact_args.append(like_pattern(text))
        if digits:
            for column in ("c.user_id", "c.profile::text", "c.metadata::text"):
                tests.append(_STRIP.format(column) + " LIKE %s")
                args.append(like_pattern(digits))
            fact_tests.append(_STRIP.format("f.text") + " LIKE %s")
            fact_args.append(like_pattern(digits))
        where = "c.tenant_id = %s AND c.project_id = %s"
        if tests:
            # Numbers given during calls (order, ticket, account) live in the caller's
            # current facts ("Has ticket 8842"), not only in the profile.
            tests.append(
                "EXISTS (SELECT 1 FROM items f WHERE f.tenant_id = c.tenant_id"
                " AND f.project_id = c.project_id AND f.space = c.space"
                " AND f.user_id = c.user_id AND f.kind = 'fact' AND f.valid_to IS NULL"
                " AND f.deleted_at IS NULL AND (" + " OR ".join(fact_tests) + "))")
            where += " AND (" + " OR ".join(tests) + ")"
        args = [tenant_id, project_id, *args, *fact_args]
        rows = await self._fetch(
            tenant_id,
            "SELECT c.user_id, c.name, c.profile, c.metadata, c.space, c.created_at,"
            f" c.updated_at, {CALLER_STATS} FROM callers c WHERE {where}"
            " ORDER BY c.updated_at DESC LIMIT %s", (*args, limit))
        return [{"userId": r[0], "name": r[1], "profile": r[2], "metadata": r[3],
                 "space": r[4], "createdAt": r[5], "updatedAt": r[6], "lastCallAt": r[7],
                 "callCount": r[8], "memoryCount": r[9]} for r in rows]

    async def caller_merges(self, scope: Scope) -> list[dict[str, Any]]:
        t, p, space, user = scope.caller_key
        rows = await self._fetch(
            t, "SELECT from_user, to_user, at, items_moved FROM caller_merges"
            " WHERE tenant_id = %s AND project_id = %s AND space = %s"
            " AND (from_user = %s OR to_user = %s) ORDER BY at DESC", (t, p, space, user, user))
        return [{"fromUser": r[0], "toUser": r[1], "at": r[2], "itemsMoved": r[3]}
                for r in rows]

    async def list_sessions(self, tenant_id: str, project_id: str, *, space: str | None,
                            user_id: str | None, limit: int) -> list[dict[str, Any]]:
        where = "s.tenant_id = %s AND s.project_id = %s"
        args: list[Any] = [tenant_id, project_id]
        if user_id is not None:
            where += " AND s.user_id = %s"
            args.append(user_id)
        if space is not None:
            where += " AND s.space = %s"
            args.append(space)
        rows = await self._fetch(
            tenant_id, f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE {where}"
            " ORDER BY s.started_at DESC LIMIT %s", (*args, limit))
        return [session_row(r) for r in rows]

    async def session_record(self, tenant_id: str, project_id: str,
                             session_id: str) -> dict[str, Any] | None:
        rows = await self._fetch(
            tenant_id,
            f"SELECT {SESSION_COLUMNS}, s.metadata, s.report, s.extracted_at,"
            " s.extraction_attempts, s.extraction_error FROM sessions s"
            " WHERE s.tenant_id = %s AND s.project_id = %s AND s.id = %s",
            (tenant_id, project_id, session_id))
        if not rows:
            return None
        r = rows[0]
        return {**session_row(r), "metadata": r[9] or {}, "report": r[10],
                "extractedAt": r[11], "extractionAttempts": r[12], "extractionError": r[13]}

    async def list_documents(self, tenant_id: str, project_id: str,
                             index_name: str) -> list[dict[str, Any]]:
        rows = await self._fetch(
            tenant_id,
            "SELECT d.doc_id, d.metadata, d.version, d.updated_at, LENGTH(d.text),"
            " (SELECT COUNT(*) FROM chunks c WHERE c.tenant_id = d.tenant_id"
            "  AND c.project_id = d.project_id AND c.index_name = d.index_name"
            "  AND c.doc_id = d.doc_id)"
            " FROM org_documents d WHERE d.tenant_id = %s AND d.project_id = %s"
            " AND d.index_name = %s ORDER BY d.doc_id", (tenant_id, project_id, index_name))
        return [{"documentId": r[0], "metadata": r[1], "version": r[2], "updatedAt": r[3],
                 "chars": r[4], "chunkCount": r[5]} for r in rows]

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
                version += 1
                await cur.execute("UPDATE org_indexes SET version = %s, updated_at = %s"
                                  " WHERE tenant_id = %s AND project_id = %s AND name = %s",
                                  (version, now, *key))
            return version, removed

    async def delete_index(self, tenant_id: str, project_id: str,
                           index_name: str) -> int | None:
        key = (tenant_id, project_id, index_name)
        async with self._transaction(tenant_id, pipeline=False) as cur:
            await cur.execute("DELETE FROM org_indexes WHERE tenant_id = %s AND project_id = %s"
                              " AND name = %s RETURNING name", key)
            if not await cur.fetchall():
                return None
            await cur.execute("DELETE FROM chunks WHERE tenant_id = %s AND project_id = %s"
                              " AND index_name = %s", key)
            await cur.execute("DELETE FROM org_documents WHERE tenant_id = %s"
                              " AND project_id = %s AND index_name = %s RETURNING doc_id", key)
            return len(await cur.fetchall())

    async def write_recall_traces(self, rows: Sequence[RecallTraceRow],
                                  prune_before: float) -> None:
        by_tenant: dict[str, list[RecallTraceRow]] = {}
        for r in rows:
            by_tenant.setdefault(r.scope.tenant_id, []).append(r)
        for tenant, group in by_tenant.items():
            async with self._transaction(tenant) as cur:
                await cur.executemany(
                    "INSERT INTO recall_traces (id, tenant_id, project_id, space, user_id,"
                    " agent_id, session_id, at, query, total_ms, degraded, trace, injected,"
                    " sources) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (id) DO NOTHING",
                    [(r.id, r.scope.tenant_id, r.scope.project_id, r.scope.space,
                      r.scope.user_id, r.scope.agent_id, r.session_id, r.at, r.query,
                      r.total_ms, r.degraded, Jsonb(r.trace), r.injected, Jsonb(r.sources))
                     for r in group])
                await cur.execute("DELETE FROM recall_traces WHERE tenant_id = %s AND at < %s",
                                  (tenant, prune_before))

    async def recall_traces(self, tenant_id: str, project_id: str, *,
                            session_id: str | None = None, since: float | None = None,
                            limit: int = 500) -> list[dict[str, Any]]:
        where = "tenant_id = %s AND project_id = %s"
        args: list[Any] = [tenant_id, project_id]
        if session_id is not None:
            where += " AND session_id = %s"
            args.append(session_id)
        if since is not None:
            where += " AND at >= %s"
            args.append(since)
        rows = await self._fetch(
            tenant_id,
            "SELECT id, user_id, agent_id, session_id, at, query, total_ms, degraded, trace,"
            f" injected, sources FROM recall_traces WHERE {where} ORDER BY at DESC, seq DESC"
            " LIMIT %s",
            (*args, limit))
        return [{"id": r[0], "userId": r[1], "agentId": r[2], "sessionId": r[3], "at": r[4],
                 "query": r[5], "totalMs": r[6], "degraded": bool(r[7]), "trace": r[8],
                 "injected": r[9], "sources": r[10]} for r in reversed(rows)]
