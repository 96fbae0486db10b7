"""SQLite statements for the operator views (dashboard, ``voxmem index``): caller search,
call lists, document and index deletion, stored recall traces.

A mixin of :class:`~voxmem.store.sqlite.SQLiteStore`, kept apart from the hot read/write
path; none of it runs on the audio path.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..models import Scope
from ._base import RecallTraceRow
from ._console_sql import CALLER_STATS, SESSION_COLUMNS, like_pattern, session_row

__all__ = ["SQLiteConsole"]

T = TypeVar("T")

# Phone numbers are stored however the caller's platform wrote them; stripping the usual
# separators lets "+1 (415) 555-0123" match a search for "415.555.0123". A REPLACE chain
# rather than a Python function registered per connection keeps every connection plain.
_SEPARATORS = (" ", "-", "(", ")", ".", "+", "/", "\"")


def _stripped(column: str) -> str:
    expr = column
    for sep in _SEPARATORS:
        quoted = sep.replace("'", "''")
        expr = f"REPLACE({expr}, '{quoted}', '')"
    return expr


class SQLiteConsole:
    """Operator queries; relies on the store's ``_read`` / ``_write`` thread hand-off."""

    # The store class overrides both; these only give the mixin its types.
    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def search_callers(self, tenant_id: str, project_id: str, text: str, digits: str,
                             limit: int) -> list[dict[str, Any]]:
        tests: list[str] = []
        fact_tests: list[str] = []
        args: list[Any] = []
        fact_args: list[Any] = []
        if text:
            tests.append("LOWER(c.user_id || ' ' || COALESCE(c.name, '') || ' ' || c.profile"
                         " || ' ' || c.metadata) LIKE ? ESCAPE '\\'")
            args.append(like_pattern(text))
            fact_tests.append("LOWER(f.text) LIKE ? ESCAPE '\\'")
            fact_args.append(like_pattern(text))
        if digits:
            for column in ("c.user_id", "c.profile", "c.metadata"):
                tests.append(f"{_stripped(column)} LIKE ? ESCAPE '\\'")
                args.append(like_pattern(digits))
            fact_tests.append(f"{_stripped('f.text')} LIKE ? ESCAPE '\\'")
            fact_args.append(like_pattern(digits))
        where = "c.tenant_id = ? AND c.project_id = ?"
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

        def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT c.user_id, c.name, c.profile, c.metadata, c.space, c.created_at,"
                f" c.updated_at, {CALLER_STATS} FROM callers c WHERE {where}"
                " ORDER BY c.updated_at DESC LIMIT ?", (*args, limit)).fetchall()
            return [{"userId": r[0], "name": r[1], "profile": json.loads(r[2]),
                     "metadata": json.loads(r[3]), "space": r[4], "createdAt": r[5],
                     "updatedAt": r[6], "lastCallAt": r[7], "callCount": r[8],
                     "memoryCount": r[9]} for r in rows]

        return await self._read(run)

    async def caller_merges(self, scope: Scope) -> list[dict[str, Any]]:
        t, p, space, user = scope.caller_key

        def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return [{"fromUser": r[0], "toUser": r[1], "at": r[2], "itemsMoved": r[3]}
                    for r in conn.execute(
                        "SELECT from_user, to_user, at, items_moved FROM caller_merges"
                        " WHERE tenant_id = ? AND project_id = ? AND space = ?"
                        " AND (from_user = ? OR to_user = ?) ORDER BY at DESC",
                        (t, p, space, user, user))]

        return await self._read(run)

    async def list_sessions(self, tenant_id: str, project_id: str, *, space: str | None,
                            user_id: str | None, limit: int) -> list[dict[str, Any]]:
        where = "s.tenant_id = ? AND s.project_id = ?"
        args: list[Any] = [tenant_id, project_id]
        if user_id is not None:
            where += " AND s.user_id = ?"
            args.append(user_id)
        if space is not None:
            where += " AND s.space = ?"
            args.append(space)

        def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return [session_row(r) for r in conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE {where}"
                " ORDER BY s.started_at DESC LIMIT ?", (*args, limit))]

        return await self._read(run)

    async def session_record(self, tenant_id: str, project_id: str,
                             session_id: str) -> dict[str, Any] | None:
        def run(conn: sqlite3.Connection) -> dict[str, Any] | None:
            r = conn.execute(
                f"SELECT {SESSION_COLUMNS}, s.metadata, s.report, s.extracted_at,"
                " s.extraction_attempts, s.extraction_error FROM sessions s"
                " WHERE s.tenant_id = ? AND s.project_id = ? AND s.id = ?",
                (tenant_id, project_id, session_id)).fetchone()
            if r is None:
                return None
            return {**session_row(r), "metadata": json.loads(r[9] or "{}"),
                    "report": json.loads(r[10]) if r[10] else None, "extractedAt": r[11],
                    "extractionAttempts": r[12], "extractionError": r[13]}

        return await self._read(run)

    async def list_documents(self, tenant_id: str, project_id: str,
                             index_name: str) -> list[dict[str, Any]]:
        def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT d.doc_id, d.metadata, d.version, d.updated_at, LENGTH(d.text),"
                " (SELECT COUNT(*) FROM chunks c WHERE c.tenant_id = d.tenant_id"
                "  AND c.project_id = d.project_id AND c.index_name = d.index_name"
                "  AND c.doc_id = d.doc_id)"
                " FROM org_documents d WHERE d.tenant_id = ? AND d.project_id = ?"
                " AND d.index_name = ? ORDER BY d.doc_id",
                (tenant_id, project_id, index_name)).fetchall()
            return [{"documentId": r[0], "metadata": json.loads(r[1]), "version": r[2],
                     "updatedAt": r[3], "chars": r[4], "chunkCount": r[5]} for r in rows]

        return await self._read(run)

    async def delete_documents(self, tenant_id: str, project_id: str, index_name: str,
                               doc_ids: Sequence[str], now: float) -> tuple[int, int] | None:
        key = (tenant_id, project_id, index_name)

        def run(conn: sqlite3.Connection) -> tuple[int, int] | None:
            row = conn.execute(
                "SELECT version FROM org_indexes WHERE tenant_id = ? AND project_id = ?"
                " AND name = ?", key).fetchone()
            if row is None:
                return None
            removed = 0
            for doc_id in doc_ids:
                conn.execute("DELETE FROM chunks WHERE tenant_id = ? AND project_id = ?"
                             " AND index_name = ? AND doc_id = ?", (*key, doc_id))
                removed += conn.execute(
                    "DELETE FROM org_documents WHERE tenant_id = ? AND project_id = ?"
                    " AND index_name = ? AND doc_id = ?", (*key, doc_id)).rowcount
            version = int(row[0])
            if removed:
                # A new version tells every runtime's org cache to reload the index.
                version += 1
                conn.execute("UPDATE org_indexes SET version = ?, updated_at = ?"
                             " WHERE tenant_id = ? AND project_id = ? AND name = ?",
                             (version, now, *key))
            return version, removed

        return await self._write(run)

    async def delete_index(self, tenant_id: str, project_id: str,
                           index_name: str) -> int | None:
        key = (tenant_id, project_id, index_name)

        def run(conn: sqlite3.Connection) -> int | None:
            gone = conn.execute("DELETE FROM org_indexes WHERE tenant_id = ? AND project_id = ?"
                                " AND name = ?", key).rowcount
            if not gone:
                return None
            conn.execute("DELETE FROM chunks WHERE tenant_id = ? AND project_id = ?"
                         " AND index_name = ?", key)
            return int(conn.execute(
                "DELETE FROM org_documents WHERE tenant_id = ? AND project_id = ?"
                " AND index_name = ?", key).rowcount)

        return await self._write(run)

    async def write_recall_traces(self, rows: Sequence[RecallTraceRow],
                                  prune_before: float) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR IGNORE INTO recall_traces (id, tenant_id, project_id, space,"
                " user_id, agent_id, session_id, at, query, total_ms, degraded, trace,"
                " injected, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.id, r.scope.tenant_id, r.scope.project_id, r.scope.space,
                  r.scope.user_id, r.scope.agent_id, r.session_id, r.at, r.query, r.total_ms,
                  int(r.degraded), json.dumps(r.trace), r.injected, json.dumps(r.sources))
                 for r in rows])
            conn.execute("DELETE FROM recall_traces WHERE at < ?", (prune_before,))

        await self._write(run)

    async def recall_traces(self, tenant_id: str, project_id: str, *,
                            session_id: str | None = None, since: float | None = None,
                            limit: int = 500) -> list[dict[str, Any]]:
        where = "tenant_id = ? AND project_id = ?"
        args: list[Any] = [tenant_id, project_id]
        if session_id is not None:
            where += " AND session_id = ?"
            args.append(session_id)
        if since is not None:
            where += " AND at >= ?"
            args.append(since)

        def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT id, user_id, agent_id, session_id, at, query, total_ms, degraded,"
                f" trace, injected, sources FROM recall_traces WHERE {where}"
                " ORDER BY at DESC, rowid DESC LIMIT ?", (*args, limit)).fetchall()
            return [{"id": r[0], "userId": r[1], "agentId": r[2], "sessionId": r[3],
                     "at": r[4], "query": r[5], "totalMs": r[6], "degraded": bool(r[7]),
                     "trace": json.loads(r[8]), "injected": r[9],
                     "sources": json.loads(r[10])} for r in reversed(rows)]

        return await self._read(run)
