"""SQLite statements for org knowledge: indexes, their documents and chunks, search.

A mixin of :class:`~voxmem.store.sqlite.SQLiteStore` (the Postgres store's ``_pg_org``).
Chunks are searched with FTS5 (BM25), scoped to the project by its search key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

from ..models import Chunk, IndexRecord
from . import _rows as rows
from . import _sql as sql
from . import _sqlite_write as writes
from ._base import CHUNK_PAGE_ROWS, ChunkHit, DocumentWrite
from ._keys import fts_query, search_key

__all__ = ["SQLiteOrg"]

T = TypeVar("T")

_CHUNKS_TEXT = (
    # Qualified: the FTS table has a ``text`` column too.
    "SELECT chunks.id, -bm25(chunks_fts, 1.0, 0.0), "
    + ", ".join(f"chunks.{column}" for column in sql.CHUNK_HIT_COLUMNS.split(", "))
    + " FROM chunks_fts"
    " JOIN chunks ON chunks.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ?"
    " ORDER BY bm25(chunks_fts, 1.0, 0.0) LIMIT ?")


class SQLiteOrg:
    """Org index writes, listings, loads and searches."""

    # The store class provides these; declared here only for their types.
    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _select(self, statement: str, params: Sequence[Any],
                      convert: Callable[[sqlite3.Row], T]) -> list[T]:
        raise NotImplementedError

    async def _checkpoint(self) -> None:
        raise NotImplementedError

    async def purge_deleted_chunks(self) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            # Set by a trigger on every chunk deletion (migration 0013).
            if conn.execute("DELETE FROM chunk_text_purge_due").rowcount == 0:
                return False
            # A deleted chunk's words stay in the FTS segments written before its
            # delete marker until they are merged: merge them all now.
            conn.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('optimize')")
            return True

        purged = await self._write(run)
        if purged:
            # secure_delete zeroed the freed pages; the WAL keeps the frames written
            # before (the chunks' text) until it is truncated.
            await self._checkpoint()
        return purged

    async def write_documents(
        self,
        tenant_id: str,
        project_id: str,
        index_name: str,
        documents: Sequence[DocumentWrite],
        index_metadata: dict[str, Any] | None,
        now: float,
    ) -> tuple[int, int]:
        return await self._write(lambda c: writes.write_documents(
            c, tenant_id, project_id, index_name, documents, index_metadata, now))

    async def list_indexes(self, tenant_id: str, project_id: str) -> list[IndexRecord]:
        return await self._select(sql.LIST_INDEXES.sqlite, (tenant_id, project_id), rows.index)

    async def index_versions(self, tenant_id: str, project_id: str) -> dict[str, int]:
        found = await self._select(sql.INDEX_VERSIONS.sqlite, (tenant_id, project_id),
                                   lambda r: (str(r[0]), int(r[1])))
        return dict(found)

    async def load_chunks(self, tenant_id: str, project_id: str) -> list[Chunk]:
        return await self._select(sql.LOAD_CHUNKS.sqlite, (tenant_id, project_id), rows.chunk)

    async def count_chunks(self, tenant_id: str, project_id: str,
                           chunk_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        found = await self._select(
            "SELECT COUNT(*) FROM chunks WHERE tenant_id = ? AND project_id = ?"
            f" AND id IN ({marks})", (tenant_id, project_id, *ids), lambda r: int(r[0]))
        return found[0]

    async def chunk_pages(self, tenant_id: str, project_id: str,
                          page_rows: int = CHUNK_PAGE_ROWS) -> AsyncIterator[list[Chunk]]:
        after = 0
        while True:
            page = await self._select(sql.CHUNK_PAGE.sqlite,
                                      (tenant_id, project_id, after, page_rows),
                                      lambda r: (rows.chunk(r), int(r[8])))
            if not page:
                return
            yield [c for c, _ in page]
            after = page[-1][1]
            if len(page) < page_rows:
                return

    async def search_chunks_text(
        self, tenant_id: str, project_id: str, query: str, k: int
    ) -> list[ChunkHit]:
        match = fts_query(query)
        if match is None:
            return []
        key = search_key(tenant_id, project_id)
        return await self._select(
            _CHUNKS_TEXT, (f'search_key : "{key}" AND text : ({match})', k), rows.chunk_hit)
