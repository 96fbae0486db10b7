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

from ..models import CallerListing, CallRecord, CallSummary, DocumentRecord, RecallTrace
from . import _rows as rows
from . import _sql as sql
from ._base import RecallTraceRow

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
                             limit: int, offset: int = 0) -> list[CallerListing]:
        tests: list[str] = []
        fact_tests: list[str] = []
        args: list[Any] = []
        fact_args: list[Any] = []
        if text:
            tests.append("LOWER(c.user_id || ' ' || COALESCE(c.name, '') || ' ' || c.profile"
                         " || ' ' || c.metadata) LIKE ? ESCAPE '\\'")
            args.append(sql.like_pattern(text))
            fact_tests.append("LOWER(f.text) LIKE ? ESCAPE '\\'")
            fact_args.append(sql.like_pattern(text))
        if digits:
            for column in ("c.user_id", "c.profile", "c.metadata"):
                tests.append(f"{_stripped(column)} LIKE ? ESCAPE '\\'")
                args.append(sql.like_pattern(digits))
            fact_tests.append(f"{_stripped('f.text')} LIKE ? ESCAPE '\\'")
            fact_args.append(sql.like_pattern(digits))
        where = "c.tenant_id = ? AND c.project_id = ?"
        if tests:
            # Numbers given during calls (order, ticket, account) live in the caller's
            # current facts ("Has ticket 8842"), not only in the profile.
            tests.append(sql.FACT_MATCHES.format(tests=" OR ".join(fact_tests)))
            where += " AND (" + " OR ".join(tests) + ")"
        statement = sql.SEARCH_CALLERS.format(where=where).sqlite
        params = (tenant_id, project_id, *args, *fact_args, limit, offset)
        return await self._read(
            lambda c: [rows.caller_listing(r) for r in c.execute(statement, params)])

    async def list_sessions(self, tenant_id: str, project_id: str, *, space: str | None,
                            user_id: str | None, limit: int) -> list[CallSummary]:
        where = sql.calls_where(user=user_id is not None, space=space is not None)
        statement = sql.LIST_CALLS.format(where=where).sqlite
        params = (tenant_id, project_id, *(v for v in (user_id, space) if v is not None),
                  limit)
        return await self._read(
            lambda c: [rows.call_summary(r) for r in c.execute(statement, params)])

    async def session_record(self, tenant_id: str, project_id: str,
                             session_id: str) -> CallRecord | None:
        def run(conn: sqlite3.Connection) -> CallRecord | None:
            r = conn.execute(sql.CALL_RECORD.sqlite,
                             (tenant_id, project_id, session_id)).fetchone()
            return None if r is None else rows.call_record(r)

        return await self._read(run)

    async def list_documents(self, tenant_id: str, project_id: str,
                             index_name: str) -> list[DocumentRecord]:
        params = (tenant_id, project_id, index_name)
        return await self._read(lambda c: [
            rows.document(r) for r in c.execute(sql.LIST_DOCUMENTS.sqlite, params)])

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
                conn.execute(sql.DELETE_DOCUMENT_CHUNKS.sqlite, (*key, doc_id))
                removed += conn.execute(
                    "DELETE FROM org_documents WHERE tenant_id = ? AND project_id = ?"
                    " AND index_name = ? AND doc_id = ?", (*key, doc_id)).rowcount
            version = int(row[0])
            if removed:
                # A new version tells every runtime's org cache to reload the index.
                version += 1
                conn.execute(sql.BUMP_INDEX.sqlite, (version, now, *key))
            return version, removed

        return await self._write(run)

    async def delete_index(self, tenant_id: str, project_id: str,
                           index_name: str) -> int | None:
        key = (tenant_id, project_id, index_name)

        def run(conn: sqlite3.Connection) -> int | None:
            if not conn.execute(sql.DELETE_INDEX.sqlite, key).fetchall():
                return None
            conn.execute(sql.DELETE_INDEX_CHUNKS.sqlite, key)
            return len(conn.execute(sql.DELETE_INDEX_DOCUMENTS.sqlite, key).fetchall())

        return await self._write(run)

    async def write_recall_traces(self, rows: Sequence[RecallTraceRow],
                                  prune_before: float) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(
                sql.INSERT_TRACE.sqlite,
                [(r.id, r.scope.tenant_id, r.scope.project_id, r.scope.space,
                  r.scope.user_id, r.scope.agent_id, r.session_id, r.at, r.query, r.total_ms,
                  r.degraded, json.dumps(r.trace), r.injected, json.dumps(r.sources))
                 for r in rows])
            conn.execute("DELETE FROM recall_traces WHERE at < ?", (prune_before,))

        await self._write(run)

    async def recall_traces(self, tenant_id: str, project_id: str, *,
                            session_id: str | None = None, since: float | None = None,
                            limit: int = 500) -> list[RecallTrace]:
        where = sql.traces_where(session=session_id is not None, since=since is not None)
        statement = sql.RECALL_TRACES.format(where=where).sqlite
        params = (tenant_id, project_id, *(v for v in (session_id, since) if v is not None),
                  limit)
        found = await self._read(lambda c: c.execute(statement, params).fetchall())
        return [rows.recall_trace(r) for r in reversed(found)]
