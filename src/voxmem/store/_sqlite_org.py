"""SQLite statements for org knowledge: indexes, their documents and chunks, search.

A mixin of :class:`~voxmem.store.sqlite.SQLiteStore` (the Postgres store's ``_pg_org``).
Chunks are searched with FTS5 (BM25), scoped to the project by its search key.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

from ..models import Chunk, IndexRecord
from . import _rows as rows
from . import _sql as sql
from . import _sqlite_write as writes
from ._base import CHUNK_PAGE_ROWS, ChunkHit, DocumentWrite
from ._keys import fts_query, search_key
from ._sqlite_lifecycle import TRACE_BATCH as _TRACE_BATCH
from ._sqlite_lifecycle import delete_traces as _delete_traces

__all__ = ["SQLiteOrg"]

T = TypeVar("T")

_CHUNKS_TEXT = (
    # Qualified: the FTS table has a ``text`` column too.
    "SELECT chunks.id, -bm25(chunks_fts, 1.0, 0.0), "
    + ", ".join(f"chunks.{column}" for column in sql.CHUNK_HIT_COLUMNS.split(", "))
    + " FROM chunks_fts"
    " JOIN chunks ON chunks.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ?"
    " ORDER BY bm25(chunks_fts, 1.0, 0.0) LIMIT ?")


#: FTS pages merged per step of the cleanup's merge (a negative count merges segments
#: of every level, as 'optimize' does).
_MERGE_PAGES = 500
#: Steps per cleanup at most (19 at 100,000 chunks; about ten times that expected at a
#: million).
_MERGE_STEPS = 2_000


def _merge_step(conn: sqlite3.Connection) -> bool:
    """One step of merging the chunks' full-text index; True once there was nothing
    left to merge, and the mark of a deletion is then cleared in the same transaction
    (a deletion after it marks anew)."""
    before = conn.total_changes
    conn.execute("INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('merge', ?)",
                 (-_MERGE_PAGES,))
    if conn.total_changes - before >= 2:  # FTS5's sign that the step merged something
        return False
    conn.execute("DELETE FROM chunk_text_purge_due")
    return True


class SQLiteOrg:
    """Org index writes, listings, loads and searches."""

    # The store class provides these; declared here only for their types.
    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _select(self, statement: str, params: Sequence[Any],
                      convert: Callable[[sqlite3.Row], T]) -> list[T]:
        raise NotImplementedError

    async def _checkpoint(self) -> None:
        raise NotImplementedError

    async def org_index_marks(self) -> list[tuple[str, str, str, int, float]]:
        return await self._select(sql.ORG_INDEX_MARKS.sqlite, (), lambda r: (
            str(r[0]), str(r[1]), str(r[2]), int(r[3]), float(r[4])))

    async def purge_org_traces(self) -> int:
        # Found on a read connection (WAL readers do not hold the writer) and deleted a
        # batch per write transaction, as the traces of deleted memories are.
        found = await self._read(lambda c: [str(r[0]) for r in c.execute(
            sql.ORG_TRACES_GONE)])
        for lo in range(0, len(found), _TRACE_BATCH):
            await self._write(functools.partial(_delete_traces, found[lo:lo + _TRACE_BATCH]))
        if found:
            await self._checkpoint()  # the WAL's frames of the traces hold their words
        return len(found)

    async def purge_deleted_chunks(self) -> bool:
        # Marked by a trigger on every chunk deletion (migration 0013).
        if not await self._select("SELECT 1 FROM chunk_text_purge_due", (), lambda r: r):
            return False
        # A deleted chunk's words stay in the FTS segments written before its delete
        # marker until they are merged: merge every segment, a bounded step per write
        # transaction. One 'optimize' held the writer ~2 s at 100,000 chunks (20 s at a
        # million, after any document was replaced); a step is ~0.3 s at most there.
        for _ in range(_MERGE_STEPS):
            if await self._write(_merge_step):
                break
        else:
            return False  # writes kept it busy: the mark stays, the next cleanup goes on
        # secure_delete zeroed the freed pages; the WAL keeps the frames written before
        # (the chunks' text) until it is truncated.
        await self._checkpoint()
        return True

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
