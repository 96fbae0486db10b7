"""The embedded SQLite store: one file, WAL, FTS5 with BM25 for org chunks, vectors as blobs.

Concurrency follows the usual SQLite service shape: one writer thread owning the only
write connection (``BEGIN IMMEDIATE``), and a small pool of reader threads, each with its
own connection. Async methods hand work to those threads, so the event loop never runs
SQL.

Split like the Postgres store: the database file and migrations in ``_sqlite_admin``,
batch writes in ``_sqlite_write``, org indexes in ``_sqlite_org``, retention, erasure
and job locks in ``_sqlite_lifecycle``, operator views in ``_sqlite_console``;
statements both dialects run are in ``_sql``, row mappers in ``_rows``.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .._exceptions import StoreUnavailable
from ..models import (
    CallerRecord,
    Fact,
    MemoryItem,
    Scope,
    SessionInfo,
    Turn,
)
from . import _entities as entities
from . import _rows as rows
from . import _sql as sql
from . import _sqlite_admin as admin
from . import _sqlite_write as writes
from ._base import QuarantinedRecord, WriteBatch
from ._errors import DatabaseErrors, store_errors
from ._sqlite_console import SQLiteConsole
from ._sqlite_lifecycle import SQLiteLifecycle
from ._sqlite_org import SQLiteOrg

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_READERS = 2
#: Bound parameters per IN (...) list, well under SQLite's limit.
_MAX_PARAMS = 500
#: SQLite's LIMIT for "every row".
_NO_LIMIT = -1

_ERRORS = DatabaseErrors(sqlite3.Error, poison=(sqlite3.IntegrityError, sqlite3.DataError))

_IN_CALL = "(? IS NULL OR session_id = ?)"
_TURNS_SINCE = (f"SELECT turn_id, id FROM items WHERE {sql.CALLER} AND kind = 'turn'"
                f" AND {_IN_CALL} AND created_at >= ? ORDER BY created_at DESC")
_TURNS_NAMED = (f"SELECT turn_id, id FROM items WHERE {sql.CALLER} AND kind = 'turn'"
                f" AND {_IN_CALL} AND turn_id IN ({{marks}}) ORDER BY created_at DESC")


class SQLiteStore(SQLiteConsole, SQLiteOrg, SQLiteLifecycle):
    """A :class:`~voxmem.store.Store` on one SQLite file.

    Example::

        store = SQLiteStore("/var/lib/voxmem/voxmem.db")
        await store.open()
    """

    dialect = "sqlite"
    shared = False  # one runtime owns a SQLite data directory

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="voxmem-sqlite-writer")
        self._readers = ThreadPoolExecutor(_READERS, thread_name_prefix="voxmem-sqlite-reader")
        self._local = threading.local()
        self._write_conn: sqlite3.Connection | None = None
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._job_locks: dict[str, asyncio.Lock] = {}
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        # Deleted content is overwritten, not left in free pages: forget_user means gone.
        conn.execute("PRAGMA secure_delete=ON")
        conn.row_factory = sqlite3.Row
        with self._conns_lock:
            self._all_conns.append(conn)
        return conn

    def _reader_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()

        def run() -> T:
            return fn(self._reader_conn())

        with store_errors(_ERRORS, "SQLite read failed"):
            return await self._submit(loop, self._readers, run)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()

        def run() -> T:
            conn = self._write_conn
            assert conn is not None, "store is not open"
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        # Disk full, read-only file, locked database: writes fail loudly while reads
        # keep working from their own connections.
        with store_errors(_ERRORS, "SQLite write failed"):
            return await self._submit(loop, self._writer, run)

    @staticmethod
    def _submit(loop: asyncio.AbstractEventLoop, pool: ThreadPoolExecutor,
                run: Callable[[], T]) -> asyncio.Future[T]:
        try:
            return loop.run_in_executor(pool, run)
        except RuntimeError:
            # close() shut the pools down under a running engine: an outage like any
            # other to the engine and its clients (store.unavailable), not a bug (500).
            raise StoreUnavailable("the SQLite store is closed") from None

    async def _select(self, statement: str, params: Sequence[Any],
                      convert: Callable[[sqlite3.Row], T]) -> list[T]:
        """``convert(row)`` for each row of one read."""
        return await self._read(lambda c: [convert(r) for r in c.execute(statement, params)])

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, admin.create_private, self.path)
        self._write_conn = await loop.run_in_executor(self._writer, self._connect)
        await loop.run_in_executor(self._writer, admin.migrate, self._write_conn)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, lambda: None)
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._conns_lock:
            for conn in self._all_conns:
                conn.close()
            self._all_conns.clear()
        self._write_conn = None

    async def schema_version(self) -> int:
        return await self._read(
            lambda c: int(c.execute(sql.SCHEMA_VERSION.sqlite).fetchone()[0]))

    async def store_id(self) -> str:
        return await self._read(lambda c: str(c.execute(sql.STORE_ID.sqlite).fetchone()[0]))

    async def operator_rows(self, statement: sql.Statement,
                            params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return await self._select(statement.sqlite, params, tuple)

    async def operator_change(self, statement: sql.Statement, params: Sequence[Any]) -> int:
        return await self._write(lambda c: int(c.execute(statement.sqlite, params).rowcount))

    # -- writes -----------------------------------------------------------------------
    async def write(self, batch: WriteBatch) -> None:
        await self._write(functools.partial(writes.apply_batch, batch))

    async def applied_seq(self) -> int:
        return await self._read(
            lambda c: int(c.execute("SELECT applied_seq FROM journal_state").fetchone()[0])
        )

    async def quarantine(self, entry: QuarantinedRecord) -> None:
        await self._write(lambda c: writes.quarantine_record(c, entry))

    async def list_quarantined(self, limit: int = 100) -> list[QuarantinedRecord]:
        return await self._select(
            f"SELECT {sql.QUARANTINE_COLUMNS} FROM journal_quarantine ORDER BY seq LIMIT ?",
            (limit,), rows.quarantined)

    async def count_quarantined(self) -> int:
        found = await self._select("SELECT COUNT(*) FROM journal_quarantine", (),
                                   lambda r: int(r[0]))
        return found[0]

    async def release_quarantined(self, seq: int) -> QuarantinedRecord | None:
        def run(conn: sqlite3.Connection) -> QuarantinedRecord | None:
            row = conn.execute(
                "DELETE FROM journal_quarantine WHERE seq = ?"
                f" RETURNING {sql.QUARANTINE_COLUMNS}", (seq,)).fetchone()
            return None if row is None else rows.quarantined(row)

        return await self._write(run)

    async def find_turns(self, scope: Scope, turn_ids: Sequence[str], *,
                         since: float | None = None,
                         session_id: str | None = None) -> dict[str, str]:
        ids = list(dict.fromkeys(turn_ids))
        where = (*scope.caller_key, session_id, session_id)

        def run(conn: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            if since is not None:
                for row in conn.execute(_TURNS_SINCE, (*where, since)):
                    found[row[0]] = row[1]
            for start in range(0, len(ids), _MAX_PARAMS):
                part = ids[start:start + _MAX_PARAMS]
                for row in conn.execute(_TURNS_NAMED.format(marks=",".join("?" * len(part))),
                                        (*where, *part)):
                    found[row[0]] = row[1]  # the oldest copy wins if there are several
            return found

        return await self._read(run) if ids or since is not None else {}

    async def set_embeddings(
        self, rows: Sequence[tuple[str, bytes]], model: str, *, table: str = "items",
        column: str = "embedding",
    ) -> None:
        statement = sql.set_embeddings(table, column).sqlite
        await self._write(lambda c: c.executemany(
            statement, [(blob, model, row_id) for row_id, blob in rows]))

    async def missing_embeddings(
        self, model: str, limit: int, *, table: str = "items", column: str = "embedding",
    ) -> list[tuple[str, str]]:
        return await self._select(sql.missing_embeddings(table, column).sqlite,
                                  (model, limit), lambda r: (r[0], r[1]))

    # -- caller reads -------------------------------------------------------------------
    async def get_caller(self, scope: Scope) -> CallerRecord | None:
        found = await self._select(sql.GET_CALLER.sqlite, scope.caller_key, rows.caller_found)
        return found[0] if found else None

    async def load_items(self, scope: Scope, now: float) -> list[MemoryItem]:
        return await self._select(sql.LOAD_ITEMS.sqlite, (*scope.caller_key, now),
                                  rows.memory_item)

    async def list_facts(
        self, scope: Scope, *, include_history: bool = False, session_id: str | None = None
    ) -> list[Fact]:
        statement = sql.LIST_FACTS[include_history, session_id is not None].sqlite
        params = scope.caller_key if session_id is None else (*scope.caller_key, session_id)
        return await self._select(statement, params, rows.fact)

    async def get_session(
        self, tenant_id: str, project_id: str, session_id: str
    ) -> SessionInfo | None:
        found = await self._select(sql.GET_SESSION.sqlite, (tenant_id, project_id, session_id),
                                   rows.session_info)
        return found[0] if found else None

    async def recent_sessions(self, scope: Scope, limit: int) -> list[SessionInfo]:
        return await self._select(sql.RECENT_SESSIONS.sqlite, (*scope.caller_key, limit),
                                  rows.session_info)

    async def session_turns(self, scope: Scope, session_id: str, *,
                            last: int | None = None) -> list[Turn]:
        found = await self._select(
            sql.SESSION_TURNS.sqlite,
            (*scope.caller_key, session_id, _NO_LIMIT if last is None else last), rows.turn)
        return found[::-1]

    async def count_items(self, scope: Scope) -> int:
        return await self._read(lambda c: int(c.execute(
            sql.COUNT_ITEMS.sqlite, scope.caller_key).fetchone()[0]))

    # -- callers and entities (see _entities.py) --------------------------------------------
    async def run_entities(self, tenant_id: str, op: entities.EntityOp[T], *,
                           write: bool = True) -> T:
        """Run one caller/entity operation in one transaction (``write=False``: a read)."""
        if write:
            return await self._write(lambda c: entities.run_sqlite(c, op))
        return await self._read(lambda c: entities.run_sqlite(c, op))

    async def entity_tenants(self) -> list[str]:
        """Tenants that have recorded merges (for loading the merges in force)."""
        return await self._select(
            "SELECT DISTINCT tenant_id FROM caller_merges WHERE status = 'merged'", (),
            lambda r: str(r[0]))

    async def _checkpoint(self) -> None:
        """Fold the WAL into the database file and truncate it (after an erasure)."""
        loop = asyncio.get_running_loop()

        def run() -> None:
            assert self._write_conn is not None
            self._write_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        with store_errors(_ERRORS, "SQLite checkpoint failed"):
            await self._submit(loop, self._writer, run)
