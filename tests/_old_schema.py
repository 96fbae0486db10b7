"""Stores as an older release left them: a database migrated only to some version,
holding rows written by the store's own batch writer (both backends), for the tests that
upgrade them in place."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg

from voxmem.store import WriteBatch
from voxmem.store import _pg_write as pg_write
from voxmem.store import _sqlite_admin as sqlite_admin
from voxmem.store import _sqlite_write as sqlite_write
from voxmem.store._pg_adapt import register_vector


@contextlib.contextmanager
def sqlite_written_at(path: Path, version: int, batch: WriteBatch
                      ) -> Iterator[sqlite3.Connection]:
    """A SQLite file at schema ``version`` holding ``batch``; yields its connection."""
    sqlite_admin.create_private(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        sqlite_admin.migrate(conn, upto=version)
        conn.execute("BEGIN IMMEDIATE")
        sqlite_write.apply_batch(batch, conn)
        conn.execute("COMMIT")
        yield conn
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def postgres_written(app_url: str, batch: WriteBatch
                           ) -> AsyncIterator[psycopg.AsyncCursor[Any]]:
    """``batch`` written into the (older-schema) database at ``app_url``, as the default
    tenant; yields the cursor inside the writing transaction."""
    async with await psycopg.AsyncConnection.connect(app_url, autocommit=True) as conn:
        row = await (await conn.execute("SELECT 'vector'::regtype::oid")).fetchone()
        assert row is not None
        register_vector(conn, int(row[0]))
        async with conn.transaction():
            cur = conn.cursor(binary=True)
            await cur.execute("INSERT INTO tenants (tenant_id, created_at) VALUES (%s, %s)",
                              ("default", time.time()))
            await pg_write.apply_batch(cur, batch, "old-runtime")
            yield cur
