"""The embedded SQLite store: one file, WAL, FTS5 with BM25, vectors as blobs.

Concurrency follows the usual SQLite service shape: one writer thread owning the only
write connection (``BEGIN IMMEDIATE``), and a small pool of reader threads, each with its
own connection. Async methods hand work to those threads, so the event loop never runs
SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .._exceptions import StoreUnavailable
from ..models import Chunk, MemoryItem, Scope, SessionInfo, Turn
from . import _entities as entities
from . import _sqlite_lifecycle as lifecycle
from ._base import DocumentWrite, QuarantinedRecord, TextHit, TurnWrite, WriteBatch
from ._keys import search_key
from ._migrations import load_migrations
from ._sqlite_console import SQLiteConsole

__all__ = ["SQLiteStore"]

log = logging.getLogger("voxmem.store")

T = TypeVar("T")

_READERS = 2
#: Bound parameters per IN (...) list, well under SQLite's limit.
_MAX_PARAMS = 500


def fts_query(text: str) -> str | None:
    """An FTS5 OR-query of the words in ``text``, each quoted so user text is never syntax."""
    words = []
    for raw in text.replace('"', " ").split():
        word = "".join(ch for ch in raw if ch.isalnum())
        if word:
            words.append(f'"{word.lower()}"')
    if not words:
        return None
    return " OR ".join(dict.fromkeys(words))


def _scope_args(scope: Scope) -> tuple[str, str, str, str]:
    return scope.caller_key


_CALLER = "tenant_id = ? AND project_id = ? AND space = ? AND user_id = ?"


class SQLiteStore(SQLiteConsole):
    """A :class:`~voxmem.store.Store` on one SQLite file.

    Example::

        store = SQLiteStore("/var/lib/voxmem/voxmem.db")
        await store.open()
    """

    dialect = "sqlite"
    shared = False  # one runtime owns a SQLite data directory

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._applier = ThreadPoolExecutor(1, thread_name_prefix="voxmem-sqlite-writer")
        self._readers = ThreadPoolExecutor(_READERS, thread_name_prefix="voxmem-sqlite-reader")
        self._local = threading.local()
        self._write_conn: sqlite3.Connection | None = None
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._job_locks: dict[str, asyncio.Lock] = {}

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

        try:
            return await loop.run_in_executor(self._readers, run)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite read failed: {exc}") from exc

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

        try:
            return await loop.run_in_executor(self._applier, run)
        except sqlite3.Error as exc:
            # Disk full, read-only file, locked database: writes fail loudly while
            # reads keep working from their own connections. Bad data (a broken
            # constraint) fails the same way every time: not worth retrying.
            poison = isinstance(exc, sqlite3.IntegrityError | sqlite3.DataError)
            raise StoreUnavailable(f"SQLite write failed: {exc}",
                                   retryable=not poison) from exc

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._applier, self._create_private)
        self._write_conn = await loop.run_in_executor(self._applier, self._connect)
        await loop.run_in_executor(self._applier, self._migrate)

    def _create_private(self) -> None:
        """Create the database file 0600 whatever the umask.

        SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, so making
        this one owner-only covers them too.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        for suffix in ("-wal", "-shm"):  # left by an older version with a wider mode
            side = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(FileNotFoundError):
                side.chmod(0o600)

    def _migrate(self) -> None:
        conn = self._write_conn
        assert conn is not None
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        done = int(current[0])
        for migration in load_migrations("sqlite"):
            if migration.version <= done:
                continue
            log.info("applying SQLite migration %04d %s", migration.version, migration.name)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, time.time()),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._applier, lambda: None)
        self._applier.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._conns_lock:
            for conn in self._all_conns:
                conn.close()
            self._all_conns.clear()
        self._write_conn = None

    async def schema_version(self) -> int:
        return await self._read(
            lambda c: int(c.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])
        )

    # -- writes -----------------------------------------------------------------------
    async def write(self, batch: WriteBatch) -> None:
        await self._write(functools.partial(_apply_batch, batch))

    async def applied_seq(self) -> int:
        return await self._read(
            lambda c: int(c.execute("SELECT applied_seq FROM journal_state").fetchone()[0])
        )

    async def quarantine(self, entry: QuarantinedRecord) -> None:
        key = entry.scope.caller_key if entry.scope else (None, None, None, None)

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO journal_quarantine (seq, tenant_id, project_id, space, user_id,"
                " record, error, quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (seq) DO NOTHING",
                (entry.seq, *key, entry.record, entry.error, entry.at))
            conn.execute(
                "UPDATE journal_state SET applied_seq = MAX(applied_seq, ?) WHERE id = 1",
                (entry.seq,))

        await self._write(run)

    async def list_quarantined(self, limit: int = 100) -> list[QuarantinedRecord]:
        return await self._read(lambda c: [_quarantined(r) for r in c.execute(
            "SELECT seq, record, error, quarantined_at, tenant_id, project_id, space,"
            " user_id FROM journal_quarantine ORDER BY seq LIMIT ?", (limit,))])

    async def release_quarantined(self, seq: int) -> QuarantinedRecord | None:
        def run(conn: sqlite3.Connection) -> QuarantinedRecord | None:
            row = conn.execute(
                "DELETE FROM journal_quarantine WHERE seq = ? RETURNING seq, record, error,"
                " quarantined_at, tenant_id, project_id, space, user_id", (seq,)).fetchone()
            return None if row is None else _quarantined(row)

        return await self._write(run)

    async def find_turns(self, scope: Scope, turn_ids: Sequence[str], *,
                         since: float | None = None) -> dict[str, str]:
        ids = list(dict.fromkeys(turn_ids))

        def run(conn: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            if since is not None:
                for row in conn.execute(
                        f"SELECT turn_id, id FROM items WHERE {_CALLER} AND kind = 'turn'"
                        " AND created_at >= ? ORDER BY created_at DESC",
                        (*scope.caller_key, since)):
                    found[row[0]] = row[1]
            for start in range(0, len(ids), _MAX_PARAMS):
                part = ids[start:start + _MAX_PARAMS]
                marks = ",".join("?" * len(part))
                for row in conn.execute(
                        f"SELECT turn_id, id FROM items WHERE {_CALLER} AND kind = 'turn'"
                        f" AND turn_id IN ({marks}) ORDER BY created_at DESC",
                        (*scope.caller_key, *part)):
                    found[row[0]] = row[1]  # the oldest copy wins if there are several
            return found

        return await self._read(run) if ids or since is not None else {}

    async def set_embeddings(
        self, rows: Sequence[tuple[str, bytes]], model: str, *, table: str = "items"
    ) -> None:
        name = _table(table)

        def run(conn: sqlite3.Connection) -> None:
            conn.executemany(
                f"UPDATE {name} SET embedding = ?, embedding_model = ? WHERE id = ?",
                [(blob, model, row_id) for row_id, blob in rows],
            )

        await self._write(run)

    async def missing_embeddings(
        self, model: str, limit: int, *, table: str = "items"
    ) -> list[tuple[str, str]]:
        name = _table(table)
        return await self._read(lambda c: [
            (r[0], r[1]) for r in c.execute(
                f"SELECT id, text FROM {name} WHERE embedding_model IS NOT ? "
                "ORDER BY rowid LIMIT ?", (model, limit))
        ])

    # -- caller reads -------------------------------------------------------------------
    async def get_caller(self, scope: Scope) -> dict[str, Any] | None:
        def run(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                f"SELECT user_id, name, metadata, profile FROM callers WHERE {_CALLER}",
                _scope_args(scope),
            ).fetchone()
            if row is None:
                return None
            return {"id": row[0], "name": row[1], "metadata": json.loads(row[2]),
                    "profile": json.loads(row[3])}

        return await self._read(run)

    async def load_items(self, scope: Scope, now: float) -> list[MemoryItem]:
        def run(conn: sqlite3.Connection) -> list[MemoryItem]:
            rows = conn.execute(
                "SELECT id, kind, text, created_at, session_id, confidence, slot_key, "
                "fact_kind, embedding, user_text, assistant_text, turn_id FROM items "
                f"WHERE {_CALLER} AND deleted_at IS NULL "
                "AND (valid_to IS NULL OR valid_to > ?) ORDER BY created_at, rowid",
                (*_scope_args(scope), now),
            ).fetchall()
            return [
                MemoryItem(id=r[0], kind=r[1], text=r[2], created_at=r[3], session_id=r[4],
                           confidence=r[5], slot_key=r[6], fact_kind=r[7], embedding=r[8],
                           user_text=r[9], assistant_text=r[10], turn_id=r[11])
                for r in rows
            ]

        return await self._read(run)

    async def list_facts(
        self, scope: Scope, *, include_history: bool = False, session_id: str | None = None
    ) -> list[dict[str, Any]]:
        def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            extra = "" if include_history else " AND valid_to IS NULL AND deleted_at IS NULL"
            args: tuple[Any, ...] = _scope_args(scope)
            if session_id is not None:
                extra += " AND session_id = ?"
                args = (*args, session_id)
            rows = conn.execute(
                "SELECT id, text, fact_kind, slot_key, confidence, session_id, source_turn_ids,"
                f" valid_from, valid_to, created_at, deleted_at FROM items WHERE {_CALLER}"
                f" AND kind = 'fact'{extra} ORDER BY created_at DESC, rowid DESC",
                args,
            ).fetchall()
            return [
                {"id": r[0], "text": r[1], "kind": r[2], "slotKey": r[3], "confidence": r[4],
                 "sourceSessionId": r[5], "sourceTurnIds": json.loads(r[6] or "[]"),
                 "validFrom": r[7], "validTo": r[8], "createdAt": r[9], "deletedAt": r[10]}
                for r in rows
            ]

        return await self._read(run)

    async def get_session(
        self, tenant_id: str, project_id: str, session_id: str
    ) -> SessionInfo | None:
        def run(conn: sqlite3.Connection) -> SessionInfo | None:
            row = conn.execute(
                "SELECT id, user_id, agent_id, started_at, ended_at, end_reason, metadata "
                "FROM sessions WHERE tenant_id = ? AND project_id = ? AND id = ?",
                (tenant_id, project_id, session_id),
            ).fetchone()
            return _session(row) if row else None

        return await self._read(run)

    async def recent_sessions(self, scope: Scope, limit: int) -> list[SessionInfo]:
        return await self._read(lambda c: [
            _session(r) for r in c.execute(
                "SELECT id, user_id, agent_id, started_at, ended_at, end_reason, metadata "
                f"FROM sessions WHERE {_CALLER} ORDER BY started_at DESC LIMIT ?",
                (*_scope_args(scope), limit))
        ])

    async def session_turns(self, scope: Scope, session_id: str, *,
                            last: int | None = None) -> list[Turn]:
        def run(conn: sqlite3.Connection) -> list[Turn]:
            rows = conn.execute(
                "SELECT id, session_id, turn_id, user_text, assistant_text, created_at, "
                "agent_id, interrupted, tool_calls, metadata FROM items "
                f"WHERE {_CALLER} AND session_id = ? AND kind = 'turn' AND deleted_at IS NULL "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (*_scope_args(scope), session_id, -1 if last is None else last),
            ).fetchall()[::-1]
            return [
                Turn(event_id=r[0], session_id=r[1], turn_id=r[2], user_text=r[3] or "",
                     assistant_text=r[4] or "", created_at=r[5], agent_id=r[6],
                     interrupted=bool(r[7]), tool_calls=json.loads(r[8] or "[]"),
                     metadata=json.loads(r[9] or "{}"))
                for r in rows
            ]

        return await self._read(run)

    async def search_items_text(
        self, scope: Scope, query: str, k: int, now: float
    ) -> list[TextHit]:
        match = fts_query(query)
        if match is None:
            return []
        key = search_key(*scope.caller_key)

        def run(conn: sqlite3.Connection) -> list[TextHit]:
            # bm25() weights: text 1, search_key 0, so the scoping token never scores.
            rows = conn.execute(
                "SELECT items.id, -bm25(items_fts, 1.0, 0.0) AS score, items.kind, items.text,"
                " items.created_at, items.session_id, items.user_text, items.assistant_text,"
                " items.confidence FROM items_fts "
                "JOIN items ON items.rowid = items_fts.rowid "
                "WHERE items_fts MATCH ? AND items.deleted_at IS NULL "
                "AND (items.valid_to IS NULL OR items.valid_to > ?) "
                "ORDER BY bm25(items_fts, 1.0, 0.0) LIMIT ?",
                (f'search_key : "{key}" AND text : ({match})', now, k),
            ).fetchall()
            return [TextHit(r[0], float(r[1]), {
                "kind": r[2], "text": r[3], "createdAt": r[4], "sessionId": r[5],
                "userText": r[6], "assistantText": r[7], "confidence": r[8]}) for r in rows]

        return await self._read(run)

    async def search_items_vector(
        self, scope: Scope, vector: bytes, model: str, k: int, now: float
    ) -> list[TextHit]:
        query = np.frombuffer(vector, dtype=np.float32)

        def run(conn: sqlite3.Connection) -> list[TextHit]:
            # SQLite here cannot load vector extensions, so this is an exact scan of one
            # caller's vectors: the cold path while the warm index loads.
            rows = conn.execute(
                "SELECT id, embedding, kind, text, created_at, session_id, user_text,"
                f" assistant_text, confidence FROM items WHERE {_CALLER}"
                " AND deleted_at IS NULL AND (valid_to IS NULL OR valid_to > ?)"
                " AND embedding_model = ?",
                (*_scope_args(scope), now, model),
            ).fetchall()
            rows = [r for r in rows if r[1] is not None and len(r[1]) == len(vector)]
            if not rows:
                return []
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            scores = matrix.reshape(len(rows), -1) @ query
            order = np.argsort(-scores)[:k]
            return [TextHit(rows[i][0], float(scores[i]), {
                "kind": rows[i][2], "text": rows[i][3], "createdAt": rows[i][4],
                "sessionId": rows[i][5], "userText": rows[i][6], "assistantText": rows[i][7],
                "confidence": rows[i][8]}) for i in order]

        return await self._read(run)

    async def export_caller(self, scope: Scope) -> dict[str, Any]:
        return await self._read(lambda c: lifecycle.export_caller(c, scope))

    # -- lifecycle --------------------------------------------------------------------------
    async def pending_extractions(self, limit: int, max_attempts: int) -> list[
        tuple[Scope, str]
    ]:
        return await self._read(lambda c: lifecycle.pending_extractions(c, limit, max_attempts))

    async def stale_sessions(self, idle_before: float, limit: int) -> list[tuple[Scope, str]]:
        return await self._read(lambda c: lifecycle.stale_sessions(c, idle_before, limit))

    async def get_policies(self, tenant_id: str, project_id: str) -> dict[str, dict[str, Any]]:
        return await self._read(lambda c: lifecycle.get_policies(c, tenant_id, project_id))

    async def set_policy(self, tenant_id: str, project_id: str, agent_id: str,
                         memory_enabled: bool, retention_days: int, now: float) -> None:
        await self._write(lambda c: lifecycle.set_policy(
            c, tenant_id, project_id, agent_id, memory_enabled, retention_days, now))

    async def list_projects(self) -> list[tuple[str, str]]:
        return await self._read(lifecycle.list_projects)

    async def purge_items(self, tenant_id: str, project_id: str, cutoff: float,
                          agent_id: str | None, exclude_agents: Sequence[str]) -> int:
        return await self._write(lambda c: lifecycle.purge_items(
            c, tenant_id, project_id, cutoff, agent_id, exclude_agents))

    async def forget_caller(self, scope: Scope) -> dict[str, int]:
        counts = await self._write(lambda c: {**lifecycle.forget_caller(c, scope),
                                              **entities.run_sqlite(
                                                  c, entities.forget_entities(scope))})
        await self._checkpoint()
        return counts

    async def merge_callers(self, source: Scope, target: Scope, at: float) -> int:
        return await self._write(lambda c: lifecycle.merge_callers(c, source, target, at))

    # -- callers and entities (see _entities.py) --------------------------------------------
    async def run_entities(self, tenant_id: str, op: entities.EntityOp[T], *,
                           write: bool = True) -> T:
        """Run one caller/entity operation in one transaction (``write=False``: a read)."""
        if write:
            return await self._write(lambda c: entities.run_sqlite(c, op))
        return await self._read(lambda c: entities.run_sqlite(c, op))

    async def entity_tenants(self) -> list[str]:
        """Tenants that have recorded merges (for loading the merges in force)."""
        rows = await self._read(lambda c: c.execute(
            "SELECT DISTINCT tenant_id FROM caller_merges WHERE status = 'merged'").fetchall())
        return [r[0] for r in rows]

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

    async def _checkpoint(self) -> None:
        """Fold the WAL into the database file and truncate it (after an erasure)."""
        loop = asyncio.get_running_loop()

        def run() -> None:
            assert self._write_conn is not None
            self._write_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        await loop.run_in_executor(self._applier, run)

    async def count_items(self, scope: Scope) -> int:
        return await self._read(lambda c: int(c.execute(
            f"SELECT COUNT(*) FROM items WHERE {_CALLER} AND deleted_at IS NULL",
            _scope_args(scope)).fetchone()[0]))

    # -- org indexes ------------------------------------------------------------------------
    async def write_documents(
        self,
        tenant_id: str,
        project_id: str,
        index_name: str,
        documents: Sequence[DocumentWrite],
        index_metadata: dict[str, Any] | None,
        now: float,
    ) -> tuple[int, int]:
        key = search_key(tenant_id, project_id)

        def run(conn: sqlite3.Connection) -> tuple[int, int]:
            row = conn.execute(
                "SELECT version, metadata FROM org_indexes "
                "WHERE tenant_id = ? AND project_id = ? AND name = ?",
                (tenant_id, project_id, index_name),
            ).fetchone()
            if row is None:
                version = 1
                conn.execute(
                    "INSERT INTO org_indexes (tenant_id, project_id, name, version, metadata,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (tenant_id, project_id, index_name, version,
                     json.dumps(index_metadata or {}), now, now),
                )
            else:
                version = int(row[0]) + 1
                merged = {**json.loads(row[1]), **(index_metadata or {})}
                conn.execute(
                    "UPDATE org_indexes SET version = ?, metadata = ?, updated_at = ? "
                    "WHERE tenant_id = ? AND project_id = ? AND name = ?",
                    (version, json.dumps(merged), now, tenant_id, project_id, index_name),
                )
            written = 0
            for doc in documents:
                conn.execute(
                    "DELETE FROM chunks WHERE tenant_id = ? AND project_id = ? "
                    "AND index_name = ? AND doc_id = ?",
                    (tenant_id, project_id, index_name, doc.doc_id),
                )
                conn.execute(
                    "INSERT INTO org_documents (tenant_id, project_id, index_name, doc_id, text,"
                    " metadata, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (tenant_id, project_id, index_name, doc_id) DO UPDATE SET"
                    " text = excluded.text, metadata = excluded.metadata,"
                    " version = excluded.version, updated_at = excluded.updated_at",
                    (tenant_id, project_id, index_name, doc.doc_id, doc.text,
                     json.dumps(doc.metadata), version, now),
                )
                conn.executemany(
                    "INSERT INTO chunks (id, tenant_id, project_id, index_name, doc_id, ordinal,"
                    " text, search_key, metadata, created_at, embedding, embedding_model)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(c.id, tenant_id, project_id, index_name, doc.doc_id, c.ordinal, c.text,
                      key, json.dumps(c.metadata), now, c.embedding,
                      doc.embedding_model if c.embedding else None)
                     for c in doc.chunks],
                )
                written += len(doc.chunks)
            return version, written

        return await self._write(run)

    async def list_indexes(self, tenant_id: str, project_id: str) -> list[dict[str, Any]]:
        def run(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT i.name, i.version, i.metadata, i.created_at, i.updated_at,"
                " (SELECT COUNT(*) FROM org_documents d WHERE d.tenant_id = i.tenant_id"
                "   AND d.project_id = i.project_id AND d.index_name = i.name),"
                " (SELECT COUNT(*) FROM chunks c WHERE c.tenant_id = i.tenant_id"
                "   AND c.project_id = i.project_id AND c.index_name = i.name)"
                " FROM org_indexes i WHERE i.tenant_id = ? AND i.project_id = ? ORDER BY i.name",
                (tenant_id, project_id),
            ).fetchall()
            return [_index_row(r) for r in rows]

        return await self._read(run)

    async def index_versions(self, tenant_id: str, project_id: str) -> dict[str, int]:
        return await self._read(lambda c: {
            r[0]: int(r[1]) for r in c.execute(
                "SELECT name, version FROM org_indexes WHERE tenant_id = ? AND project_id = ?",
                (tenant_id, project_id))
        })

    async def load_chunks(self, tenant_id: str, project_id: str) -> list[Chunk]:
        return await self._read(lambda c: [
            Chunk(id=r[0], index_name=r[1], document_id=r[2], ordinal=r[3], text=r[4],
                  metadata=json.loads(r[5]), created_at=r[6], embedding=r[7])
            for r in c.execute(
                "SELECT id, index_name, doc_id, ordinal, text, metadata, created_at, embedding "
                "FROM chunks WHERE tenant_id = ? AND project_id = ? ORDER BY rowid",
                (tenant_id, project_id))
        ])

    async def search_chunks_text(
        self, tenant_id: str, project_id: str, query: str, k: int
    ) -> list[TextHit]:
        match = fts_query(query)
        if match is None:
            return []
        key = search_key(tenant_id, project_id)
        return await self._read(lambda c: [
            TextHit(r[0], float(r[1]), {"index": r[2], "documentId": r[3], "text": r[4],
                                        "metadata": json.loads(r[5])})
            for r in c.execute(
                "SELECT chunks.id, -bm25(chunks_fts, 1.0, 0.0), chunks.index_name,"
                " chunks.doc_id, chunks.text, chunks.metadata FROM chunks_fts "
                "JOIN chunks ON chunks.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ? "
                "ORDER BY bm25(chunks_fts, 1.0, 0.0) LIMIT ?",
                (f'search_key : "{key}" AND text : ({match})', k))
        ])


def _split_statements(script: str) -> list[str]:
    """Split a migration into statements; triggers hold ``;`` inside ``BEGIN ... END``."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending[:80]!r}")
    return statements


def _table(name: str) -> str:
    if name not in {"items", "chunks"}:
        raise ValueError(f"unknown table {name!r}")
    return name


def _session(row: sqlite3.Row | tuple[Any, ...]) -> SessionInfo:
    return SessionInfo(id=row[0], user_id=row[1], agent_id=row[2], started_at=row[3],
                       ended_at=row[4], end_reason=row[5], metadata=json.loads(row[6] or "{}"))


def _quarantined(r: sqlite3.Row | tuple[Any, ...]) -> QuarantinedRecord:
    scope = None if r[4] is None else Scope(tenant_id=r[4], project_id=r[5], agent_id="",
                                            user_id=r[7], space=r[6])
    return QuarantinedRecord(seq=int(r[0]), record=r[1], error=r[2], at=float(r[3]),
                             scope=scope)


def _index_row(r: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    return {"name": r[0], "version": r[1], "metadata": json.loads(r[2]),
            "createdAt": r[3], "updatedAt": r[4], "documentCount": r[5], "chunkCount": r[6]}


def _turns_not_stored(conn: sqlite3.Connection, batch: WriteBatch) -> list[TurnWrite]:
    """The batch's turns minus those whose turn id the caller already has stored.

    The engine answers a retried turn id with the first event id; this catches the rest
    (a retry while the store could not be asked, two writers racing).
    """
    out: list[TurnWrite] = []
    seen: set[tuple[str, ...]] = set()
    for w in batch.turns:
        key = (*w.scope.caller_key, w.turn.turn_id)
        if key in seen:
            continue
        seen.add(key)
        row = conn.execute(f"SELECT id FROM items WHERE {_CALLER} AND kind = 'turn'"
                           " AND turn_id = ? LIMIT 1", key).fetchone()
        if row is None or row[0] == w.turn.event_id:
            out.append(w)
    return out


def _apply_batch(batch: WriteBatch, conn: sqlite3.Connection) -> None:
    for s in batch.sessions_started:
        t, p, sp, u = s.scope.caller_key
        conn.execute(
            "INSERT INTO callers (tenant_id, project_id, space, user_id, name, metadata,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " name = COALESCE(excluded.name, callers.name),"
            " metadata = json_patch(callers.metadata, excluded.metadata),"
            " updated_at = excluded.updated_at",
            (t, p, sp, u, s.caller_name, json.dumps(s.caller_metadata), s.started_at,
             s.started_at),
        )
        conn.execute(
            "INSERT INTO sessions (tenant_id, project_id, id, space, user_id, agent_id,"
            " started_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tenant_id, project_id, id) DO NOTHING",
            (t, p, s.session_id, sp, u, s.scope.agent_id, s.started_at, json.dumps(s.metadata)),
        )
    turns = _turns_not_stored(conn, batch)
    if turns:
        conn.executemany(
            "INSERT INTO items (id, tenant_id, project_id, space, user_id, agent_id, session_id,"
            " kind, text, search_key, turn_id, user_text, assistant_text, interrupted,"
            " tool_calls, metadata, created_at, embedding, embedding_model)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'turn', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            [(w.turn.event_id, *w.scope.caller_key, w.scope.agent_id, w.turn.session_id,
              w.turn.text, search_key(*w.scope.caller_key), w.turn.turn_id, w.turn.user_text,
              w.turn.assistant_text, int(w.turn.interrupted), json.dumps(w.turn.tool_calls),
              json.dumps(w.turn.metadata), w.turn.created_at, w.embedding,
              batch.embedding_model if w.embedding is not None else None)
             for w in turns],
        )
    for f in batch.facts:
        if f.supersedes:
            conn.executemany(
                "UPDATE items SET valid_to = ? WHERE id = ? AND valid_to IS NULL",
                [(f.valid_from, old) for old in f.supersedes],
            )
        conn.execute(
            "INSERT INTO items (id, tenant_id, project_id, space, user_id, agent_id, session_id,"
            " kind, text, search_key, fact_kind, slot_key, confidence, source_turn_ids,"
            " valid_from, created_at, embedding, embedding_model)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'fact', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (f.id, *f.scope.caller_key, f.scope.agent_id, f.source_session_id, f.text,
             search_key(*f.scope.caller_key), f.kind, f.slot_key, f.confidence,
             json.dumps(list(f.source_turn_ids)), f.valid_from, f.valid_from, f.embedding,
             batch.embedding_model if f.embedding is not None else None),
        )
    for pw in batch.profile:
        t, p, sp, u = pw.scope.caller_key
        conn.execute(
            "INSERT INTO callers (tenant_id, project_id, space, user_id, profile, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, json_object(?, json(?)), ?, ?)"
            " ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " profile = json_set(callers.profile, '$.' || json_quote(?), json(?)),"
            " updated_at = excluded.updated_at",
            (t, p, sp, u, pw.field, json.dumps(pw.value), pw.at, pw.at, pw.field,
             json.dumps(pw.value)),
        )
    for e in batch.sessions_ended:
        t, p, _sp, _u = e.scope.caller_key
        conn.execute(
            "UPDATE sessions SET ended_at = ?, end_reason = ? "
            "WHERE tenant_id = ? AND project_id = ? AND id = ? AND ended_at IS NULL",
            (e.ended_at, e.reason, t, p, e.session_id),
        )
    if batch.turns:
        last: dict[tuple[str, str, str], float] = {}
        for w in batch.turns:
            key = (w.scope.tenant_id, w.scope.project_id, w.turn.session_id)
            last[key] = max(last.get(key, 0.0), w.turn.created_at)
        conn.executemany(
            "UPDATE sessions SET last_activity_at = MAX(COALESCE(last_activity_at, 0), ?) "
            "WHERE tenant_id = ? AND project_id = ? AND id = ?",
            [(at, t, p, sid) for (t, p, sid), at in last.items()],
        )
    for d in batch.deletes:
        conn.execute(
            f"UPDATE items SET deleted_at = ? WHERE id = ? AND {_CALLER} AND deleted_at IS NULL",
            (d.at, d.item_id, *d.scope.caller_key),
        )
    for x in batch.extractions:
        t, p, _sp, _u = x.scope.caller_key
        if x.error is None:
            conn.execute(
                "UPDATE sessions SET extracted_at = ?, extraction_error = NULL "
                "WHERE tenant_id = ? AND project_id = ? AND id = ?",
                (x.at, t, p, x.session_id),
            )
        else:
            conn.execute(
                "UPDATE sessions SET extraction_attempts = extraction_attempts + 1, "
                "extraction_error = ? WHERE tenant_id = ? AND project_id = ? AND id = ?",
                (x.error[:500], t, p, x.session_id),
            )
    for r in batch.reports:
        t, p, _sp, _u = r.scope.caller_key
        conn.execute(
            "UPDATE sessions SET report = ? WHERE tenant_id = ? AND project_id = ? AND id = ?",
            (json.dumps(r.report), t, p, r.session_id),
        )
    if batch.applied_seq is not None:
        conn.execute(
            "UPDATE journal_state SET applied_seq = MAX(applied_seq, ?) WHERE id = 1",
            (batch.applied_seq,),
        )
