"""Postgres statements for org knowledge: indexes, their documents and chunks, search.

A mixin of :class:`~voxmem.store.postgres.PostgresStore` (the SQLite store's
``_sqlite_org``, under row security). Chunks are searched by ``tsvector`` and, for a
cold org lane, through a per-dimension HNSW index.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from psycopg import AsyncCursor

from ..models import Chunk, IndexRecord
from . import _rows as rows
from . import _sql as sql
from ._base import CHUNK_PAGE_ROWS, ChunkHit, DocumentWrite
from ._pg_adapt import (
    LOAD_BATCH_ROWS,
    SEARCH_TIMEOUT_MS,
    Float32Vector,
    checked_dims,
    text_query,
    vector_dims,
)
from ._pg_write import write_documents

__all__ = ["HNSW_EF_SEARCH", "PostgresOrg"]

Cursor = AsyncCursor[tuple[Any, ...]]
T = TypeVar("T")

#: HNSW candidate list size at query time. Measured on 100,000 chunks of conversational
#: text (256-dim static embeddings, benchmarks/postgres_recall.py): recall@10 0.77 at
#: pgvector's default 40, 0.83 at 64, 0.89 at 100, 0.96 at 200, for ~1.5 ms more.
HNSW_EF_SEARCH = 200


class PostgresOrg:
    """Org index writes, listings, loads and searches."""

    # The store class provides these; declared here only for their types.
    _known_tenants: set[str]
    _iterative_scan: bool

    def _transaction(self, tenant_id: str | None, *,
                     pipeline: bool = True) -> AbstractAsyncContextManager[Cursor]:
        raise NotImplementedError

    async def _fetch(self, tenant_id: str | None, query: str, params: Sequence[Any] = (),
                     *, search: bool = False) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def _fetch_as(self, tenant_id: str | None, query: str, params: Sequence[Any],
                        convert: Callable[[tuple[Any, ...]], T], *,
                        search: bool = False) -> list[T]:
        raise NotImplementedError

    async def _register_tenants(self, cur: Cursor, tenants: Iterable[str]) -> None:
        raise NotImplementedError

    async def _tenant_ids(self) -> list[str]:
        raise NotImplementedError

    async def _ensure_vector_index(self, table: str, dims: int) -> None:
        raise NotImplementedError

    async def write_documents(
        self,
        tenant_id: str,
        project_id: str,
        index_name: str,
        documents: Sequence[DocumentWrite],
        index_metadata: dict[str, Any] | None,
        now: float,
    ) -> tuple[int, int]:
        for dims in {vector_dims(c.embedding) for d in documents for c in d.chunks
                     if c.embedding}:
            await self._ensure_vector_index("chunks", dims)
        async with self._transaction(tenant_id) as cur:
            await self._register_tenants(cur, [tenant_id])
            written = await write_documents(cur, tenant_id, project_id, index_name,
                                            documents, index_metadata, now)
        self._known_tenants.add(tenant_id)
        return written

    async def list_indexes(self, tenant_id: str, project_id: str) -> list[IndexRecord]:
        return await self._fetch_as(tenant_id, sql.LIST_INDEXES.postgres,
                                    (tenant_id, project_id), rows.index)

    async def index_versions(self, tenant_id: str, project_id: str) -> dict[str, int]:
        found = await self._fetch(tenant_id, sql.INDEX_VERSIONS.postgres,
                                  (tenant_id, project_id))
        return {r[0]: int(r[1]) for r in found}

    async def count_chunks(self, tenant_id: str, project_id: str,
                           chunk_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return 0
        found = await self._fetch(
            tenant_id, "SELECT COUNT(*) FROM chunks WHERE tenant_id = %s AND project_id = %s"
            " AND id = ANY(%s)", (tenant_id, project_id, ids))
        return int(found[0][0])

    async def load_chunks(self, tenant_id: str, project_id: str) -> list[Chunk]:
        chunks: list[Chunk] = []
        async with self._transaction(tenant_id, pipeline=False) as cur:
            # A server-side cursor: a 100k-chunk project arrives in slices, and the event
            # loop (other callers' recalls) runs between them instead of waiting for one
            # huge result to be parsed.
            named = cur.connection.cursor("voxmem_load_chunks", binary=True)
            await named.execute(sql.LOAD_CHUNKS.postgres, (tenant_id, project_id))
            while batch := await named.fetchmany(LOAD_BATCH_ROWS):
                chunks.extend(rows.chunk(r) for r in batch)
                await asyncio.sleep(0)
            await named.close()
        return chunks

    async def chunk_pages(self, tenant_id: str, project_id: str,
                          page_rows: int = CHUNK_PAGE_ROWS) -> AsyncIterator[list[Chunk]]:
        # Keyset pages, one short transaction each: a load of a million chunks takes
        # minutes, and one transaction (and server-side cursor) open that long would
        # hold back vacuum and a pooled connection.
        after = 0
        while True:
            page = await self._fetch_as(tenant_id, sql.CHUNK_PAGE.postgres,
                                        (tenant_id, project_id, after, page_rows),
                                        lambda r: (rows.chunk(r), int(r[8])))
            if not page:
                return
            yield [c for c, _ in page]
            after = page[-1][1]
            if len(page) < page_rows:
                return

    async def org_index_marks(self) -> list[tuple[str, str, str, int, float]]:
        found = [r for tenant in await self._tenant_ids()
                 for r in await self._fetch(tenant, sql.ORG_INDEX_MARKS.postgres)]
        return sorted((str(r[0]), str(r[1]), str(r[2]), int(r[3]), float(r[4]))
                      for r in found)

    async def purge_org_traces(self) -> int:
        removed = 0
        # Each tenant under its own setting (row security); a tenant that wrote org
        # documents is registered, and only such a tenant's traces cite a chunk.
        for tenant in await self._tenant_ids():
            async with self._transaction(tenant, pipeline=False) as cur:
                await cur.execute(sql.PURGE_ORG_TRACES_GONE, (tenant,))
                removed += cur.rowcount
        return removed

    async def purge_deleted_chunks(self) -> bool:
        # A deleted chunk's row and tsvector stay in the server's files until vacuum,
        # which runs by the server's own schedule (docs/postgres.md).
        return False

    async def search_chunks_text(
        self, tenant_id: str, project_id: str, query: str, k: int
    ) -> list[ChunkHit]:
        words = text_query(query)
        if words is None:
            return []
        return await self._fetch_as(
            tenant_id,
            f"SELECT id, ts_rank_cd(tsv, q, 1) AS score, {sql.CHUNK_HIT_COLUMNS}"
            " FROM chunks, websearch_to_tsquery('english', %s) AS q"
            " WHERE tenant_id = %s AND project_id = %s AND tsv @@ q"
            " ORDER BY score DESC, seq LIMIT %s",
            (words, tenant_id, project_id, k), rows.chunk_hit, search=True)

    async def search_chunks_vector(
        self, tenant_id: str, project_id: str, vector: bytes, k: int
    ) -> list[ChunkHit]:
        """Approximate cosine search of a project's chunks through the HNSW index.

        Not in the protocol yet: the engine searches its in-memory copy; this is the
        path for a cold org lane or for projects too large to keep in memory. The score
        is cosine similarity (higher is better).
        """
        dims = checked_dims(vector)
        q = Float32Vector(vector)
        async with self._transaction(tenant_id) as cur:
            await cur.execute(f"SET LOCAL statement_timeout = {SEARCH_TIMEOUT_MS}")
            await cur.execute(f"SET LOCAL hnsw.ef_search = {HNSW_EF_SEARCH}")
            if self._iterative_scan:
                # The tenant/project filter is applied after the index scan; iterative
                # scans keep walking the graph until k rows pass it (pgvector >= 0.8).
                await cur.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            await cur.execute(
                "WITH nearest AS MATERIALIZED ("
                f" SELECT id, embedding::vector({dims}) <=> %s AS distance,"
                f" {sql.CHUNK_HIT_COLUMNS} FROM chunks"
                f" WHERE tenant_id = %s AND project_id = %s AND vector_dims(embedding) = {dims}"
                f" ORDER BY embedding::vector({dims}) <=> %s LIMIT %s)"
                f" SELECT id, 1 - distance, {sql.CHUNK_HIT_COLUMNS} FROM nearest"
                " ORDER BY distance",
                (q, tenant_id, project_id, q, k))
            found = await cur.fetchall()
        return [rows.chunk_hit(r) for r in found]
