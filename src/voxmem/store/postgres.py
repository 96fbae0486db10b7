"""The Postgres store: many runtimes on many hosts sharing one database.

Same protocol and semantics as the SQLite store (idempotent batches, the applied journal
position moving in the batch's transaction, create-or-append indexes, caller scoping on
every query), on psycopg 3's async driver and a connection pool:

* vectors live in pgvector ``vector`` columns; org chunks get an HNSW (cosine) index per
  embedding dimension, created on first sight of that dimension;
* org chunks' full-text search is a stored ``tsvector`` with a GIN index, ranked by
  ``ts_rank_cd`` (caller items have none: caller search runs in memory);
* every transaction sets ``voxmem.tenant_id`` and row-level security hides and refuses
  every row of other tenants, a second wall behind the tenant filter in each query;
* each runtime's journal keeps its own applied position (``journal_id``);
* an unreachable server fails fast with :class:`~voxmem.StoreUnavailable` (short connect
  and pool-acquire timeouts), so the engine's retry and recall deadlines stay in charge.

Split like the SQLite store: schema and migrations in ``_pg_admin``, batch writes in
``_pg_write``, org indexes in ``_pg_org``, retention, erasure and job locks in
``_pg_lifecycle``, operator views in ``_pg_console``; statements both dialects run are
in ``_sql``, row mappers in ``_rows``.

Example::

    store = PostgresStore("postgresql://voxmem_app:secret@db:5432/voxmem",
                          journal_id="host-a", pool_max_size=8)
    await store.open()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, TypeVar

from psycopg import AsyncConnection, AsyncCursor
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from .._config import Settings, setting_default
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
from ._base import QuarantinedRecord, WriteBatch
from ._errors import store_errors
from ._pg_adapt import (
    LOAD_BATCH_ROWS,
    POSTGRES_ERRORS,
    SEARCH_TIMEOUT_MS,
    Float32Vector,
    register_vector,
    vector_dims,
)
from ._pg_admin import (
    application_role_grants,
    journal_identity,
    migrate,
    version_tuple,
    warn_if_rls_bypassed,
)
from ._pg_console import PostgresConsole
from ._pg_lifecycle import PostgresLifecycle
from ._pg_org import PostgresOrg
from ._pg_write import apply_batch, batch_tenants, close_if_unsettled, quarantine_record, set_tenant

__all__ = [
    "DEFAULT_ACQUIRE_TIMEOUT_S",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_POOL_MAX_SIZE",
    "DEFAULT_POOL_MIN_SIZE",
    "PostgresStore",
    "application_role_grants",
    "journal_identity",
]

log = logging.getLogger("voxmem.store")

Cursor = AsyncCursor[tuple[Any, ...]]
T = TypeVar("T")

#: Connections kept open per runtime even when idle (the first recall needs no connect);
#: the settings table holds the number.
DEFAULT_POOL_MIN_SIZE: int = setting_default("postgres_pool_min_size")
#: Most connections one runtime opens; see docs/postgres.md for sizing against
#: max_connections (runtimes x pool_max_size + admin headroom).
DEFAULT_POOL_MAX_SIZE: int = setting_default("postgres_pool_max_size")
#: libpq's connect_timeout; 2 s is the smallest libpq honours.
DEFAULT_CONNECT_TIMEOUT_S: float = setting_default("postgres_connect_timeout_s")
#: How long a call waits for a pooled connection before StoreUnavailable. Recall has its
#: own, shorter deadline; this bounds writes and admin calls when the server is gone.
DEFAULT_ACQUIRE_TIMEOUT_S: float = setting_default("postgres_acquire_timeout_s")
#: The pool retries a failed connect with backoff for this long, then gives up and starts
#: afresh on the next request, so recovery after a long outage takes seconds, not minutes.
RECONNECT_WINDOW_S = 5.0
#: Remembered row -> tenant pairs between missing_embeddings and set_embeddings.
ROW_TENANT_MEMORY = 50_000

_ERRORS = POSTGRES_ERRORS

# Postgres-only statements, written in the shared spelling and translated once.
_FIND_TURNS = sql.for_postgres(
    f"SELECT turn_id, id FROM items WHERE {sql.CALLER} AND kind = 'turn'"
    " AND (?::text IS NULL OR session_id = ?)"
    " AND (turn_id = ANY(?) OR created_at >= ?) ORDER BY created_at DESC")


class PostgresStore(PostgresConsole, PostgresOrg, PostgresLifecycle):
    """A :class:`~voxmem.store.Store` on PostgreSQL with pgvector.

    Args:
        url: a libpq URL or DSN. Connect as a role that is subject to row-level security
            (not a superuser, not BYPASSRLS); ``connect_timeout`` in the URL wins over
            ``connect_timeout_s``.
        journal_id: names this runtime's journal; each runtime sharing the database
            needs its own (see :meth:`from_settings`).
        pool_min_size / pool_max_size: connections kept / allowed per runtime.
        connect_timeout_s: libpq connect timeout.
        acquire_timeout_s: wait for a free pooled connection before StoreUnavailable.
    """

    dialect = "postgres"
    shared = True  # many runtimes on many hosts write the same database

    def __init__(
        self,
        url: str,
        *,
        journal_id: str = "default",
        pool_min_size: int = DEFAULT_POOL_MIN_SIZE,
        pool_max_size: int = DEFAULT_POOL_MAX_SIZE,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        acquire_timeout_s: float = DEFAULT_ACQUIRE_TIMEOUT_S,
        application_name: str = "voxmem",
    ) -> None:
        if pool_max_size < max(1, pool_min_size):
            raise ValueError("pool_max_size must be >= max(1, pool_min_size)")
        params = conninfo_to_dict(url)
        params.setdefault("connect_timeout", str(max(2, round(connect_timeout_s))))
        params.setdefault("application_name", application_name)
        self._conninfo = make_conninfo("", **params)
        self.journal_id = journal_id
        self.pool_min_size = pool_min_size
        self.pool_max_size = pool_max_size
        self.acquire_timeout_s = acquire_timeout_s
        self._pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] | None = None
        self._vector_oid = 0
        self._iterative_scan = False
        self._known_tenants: set[str] = set()
        self._vector_indexes: set[tuple[str, int]] = set()
        self._row_tenants: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> PostgresStore:
        """The store ``settings`` describe (``store_url`` and the ``postgres_*`` pool and
        timeout settings), with this data directory's journal id."""
        return cls(
            settings.store_url,
            journal_id=journal_identity(settings.data_path),
            pool_min_size=settings.postgres_pool_min_size,
            pool_max_size=settings.postgres_pool_max_size,
            connect_timeout_s=settings.postgres_connect_timeout_s,
            acquire_timeout_s=settings.postgres_acquire_timeout_s,
        )

    # -- plumbing ---------------------------------------------------------------------
    async def _connect(self) -> AsyncConnection[tuple[Any, ...]]:
        """A connection outside the pool (migrations, advisory locks)."""
        with store_errors(_ERRORS, "cannot connect to Postgres"):
            conn = await AsyncConnection.connect(self._conninfo, autocommit=True)
        if self._vector_oid:
            register_vector(conn, self._vector_oid)
        return conn

    async def _configure(self, conn: AsyncConnection[tuple[Any, ...]]) -> None:
        register_vector(conn, self._vector_oid)

    @contextlib.asynccontextmanager
    async def _transaction(self, tenant_id: str | None, *,
                           pipeline: bool = True) -> AsyncIterator[Cursor]:
        """One transaction on a pooled connection, with the tenant setting in force.

        Pipelined by default: statements go out without waiting for each reply (results
        are awaited when read, or at commit), so a read or a batch costs about one round
        trip instead of one per statement. Every psycopg error (server gone, pool timeout,
        constraint) surfaces as StoreUnavailable, as SQLite errors do from its store.
        """
        pool = self._pool
        if pool is None:
            raise StoreUnavailable("the Postgres store is not open (call open() first)")
        with store_errors(_ERRORS, "Postgres"):
            async with pool.connection(timeout=self.acquire_timeout_s) as conn:
                try:
                    async with contextlib.AsyncExitStack() as stack:
                        if pipeline:
                            await stack.enter_async_context(conn.pipeline())
                        await stack.enter_async_context(conn.transaction())
                        cur = conn.cursor(binary=True)
                        if tenant_id is not None:
                            await set_tenant(cur, tenant_id)
                        yield cur
                except BaseException:
                    await close_if_unsettled(conn)
                    raise

    async def _fetch(self, tenant_id: str | None, query: str, params: Sequence[Any] = (),
                     *, search: bool = False) -> list[tuple[Any, ...]]:
        """Rows of one read: BEGIN, tenant, query and COMMIT in one pipeline.

        ``search`` caps the statement at SEARCH_TIMEOUT_MS: searches serve a recall
        deadline, and a query the caller has given up on should not keep a core busy.
        """
        return await self._fetch_as(tenant_id, query, params, _row, search=search)

    async def _fetch_as(self, tenant_id: str | None, query: str, params: Sequence[Any],
                        convert: Callable[[tuple[Any, ...]], T], *,
                        search: bool = False) -> list[T]:
        """Like :meth:`_fetch`, building ``convert(row)`` for each row.

        Rows are decoded and converted LOAD_BATCH_ROWS at a time with the event loop let
        in between, so loading a caller with 10,000 memories never stalls other callers'
        recalls for more than a few milliseconds.
        """
        out: list[T] = []
        async with self._transaction(tenant_id) as cur:
            if search:
                await cur.execute(f"SET LOCAL statement_timeout = {SEARCH_TIMEOUT_MS}")
            await cur.execute(query, params)
            while batch := await cur.fetchmany(LOAD_BATCH_ROWS):
                out.extend(convert(r) for r in batch)
                if len(batch) == LOAD_BATCH_ROWS:
                    await asyncio.sleep(0)
        return out

    # -- connection -------------------------------------------------------------------
    async def open(self) -> None:
        """Connect, apply pending migrations, open the pool. Safe to call twice."""
        conn = await self._connect()
        try:
            with store_errors(_ERRORS, "Postgres"):
                await migrate(conn)
                row = await (await conn.execute(
                    "SELECT t.oid, e.extversion FROM pg_extension e"
                    " JOIN pg_depend d ON d.refobjid = e.oid AND d.classid = 'pg_type'::regclass"
                    " JOIN pg_type t ON t.oid = d.objid"
                    " WHERE e.extname = 'vector' AND t.typname = 'vector'")).fetchone()
                if row is None:
                    raise StoreUnavailable("the pgvector extension is not installed in this "
                                           "database (CREATE EXTENSION vector as a superuser)",
                                           retryable=False)
                self._vector_oid = int(row[0])
                self._iterative_scan = version_tuple(str(row[1])) >= (0, 8)
                names = await (await conn.execute(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'chunks'"
                    " AND indexname LIKE 'chunks_embedding_%%_hnsw'")).fetchall()
                for (name,) in names:
                    self._vector_indexes.add(("chunks", int(name.split("_")[2])))
                await warn_if_rls_bypassed(conn)
        finally:
            await conn.close()
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
            self._conninfo,
            min_size=self.pool_min_size,
            max_size=self.pool_max_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            # A connection that died with a server restart is dropped at checkout instead
            # of failing the first statement after an outage.
            check=AsyncConnectionPool.check_connection,
            timeout=self.acquire_timeout_s,
            reconnect_timeout=RECONNECT_WINDOW_S,
            name="voxmem",
            open=False,
        )
        try:
            with store_errors(_ERRORS, "cannot open the Postgres pool"):
                await pool.open(wait=True, timeout=self.acquire_timeout_s + 2)
        except StoreUnavailable:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def schema_version(self) -> int:
        found = await self._fetch(None, sql.SCHEMA_VERSION.postgres)
        return int(found[0][0])

    async def store_id(self) -> str:
        found = await self._fetch(None, sql.STORE_ID.postgres)
        return str(found[0][0])

    async def operator_rows(self, statement: sql.Statement,
                            params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return await self._fetch(None, statement.postgres, params)

    async def operator_change(self, statement: sql.Statement, params: Sequence[Any]) -> int:
        async with self._transaction(None, pipeline=False) as cur:
            await cur.execute(statement.postgres, params)
            return int(cur.rowcount)

    # -- writes -----------------------------------------------------------------------
    async def write(self, batch: WriteBatch) -> None:
        tenants = batch_tenants(batch)
        async with self._transaction(None) as cur:
            await self._register_tenants(cur, tenants)
            await apply_batch(cur, batch, self.journal_id)
        self._known_tenants.update(tenants)

    async def _register_tenants(self, cur: Cursor, tenants: Iterable[str]) -> None:
        new = sorted(set(tenants) - self._known_tenants)
        if new:
            await cur.executemany(
                "INSERT INTO tenants (tenant_id, created_at) VALUES (%s, %s)"
                " ON CONFLICT (tenant_id) DO NOTHING", [(t, time.time()) for t in new])

    async def applied_seq(self) -> int:
        found = await self._fetch(
            None, "SELECT applied_seq FROM journal_positions WHERE journal_id = %s",
            (self.journal_id,))
        return int(found[0][0]) if found else 0

    async def quarantine(self, entry: QuarantinedRecord) -> None:
        async with self._transaction(None) as cur:
            await quarantine_record(cur, entry, self.journal_id)

    async def list_quarantined(self, limit: int = 100) -> list[QuarantinedRecord]:
        return await self._fetch_as(
            None, f"SELECT {sql.QUARANTINE_COLUMNS} FROM journal_quarantine"
            " WHERE journal_id = %s ORDER BY seq LIMIT %s", (self.journal_id, limit),
            rows.quarantined)

    async def count_quarantined(self) -> int:
        found = await self._fetch_as(
            None, "SELECT COUNT(*) FROM journal_quarantine WHERE journal_id = %s",
            (self.journal_id,), lambda r: int(r[0]))
        return found[0]

    async def release_quarantined(self, seq: int) -> QuarantinedRecord | None:
        found = await self._fetch_as(
            None, "DELETE FROM journal_quarantine WHERE journal_id = %s AND seq = %s"
            f" RETURNING {sql.QUARANTINE_COLUMNS}", (self.journal_id, seq), rows.quarantined)
        return found[0] if found else None

    async def find_turns(self, scope: Scope, turn_ids: Sequence[str], *,
                         since: float | None = None,
                         session_id: str | None = None) -> dict[str, str]:
        if not turn_ids and since is None:
            return {}
        found = await self._fetch(
            scope.tenant_id, _FIND_TURNS,
            (*scope.caller_key, session_id, session_id, list(dict.fromkeys(turn_ids)),
             float("inf") if since is None else since))
        return {r[0]: r[1] for r in found}  # the oldest copy wins if there are several

    async def _tenant_ids(self) -> list[str]:
        found = await self._fetch(None, "SELECT tenant_id FROM tenants ORDER BY tenant_id")
        return [r[0] for r in found]

    async def set_embeddings(
        self, rows: Sequence[tuple[str, bytes]], model: str, *, table: str = "items",
        column: str = "embedding",
    ) -> None:
        query = sql.set_embeddings(table, column).postgres
        if table == "chunks":
            for dims in {vector_dims(blob) for _, blob in rows if blob}:
                await self._ensure_vector_index("chunks", dims)
        by_tenant: dict[str | None, list[tuple[Any, ...]]] = {}
        for row_id, blob in rows:
            tenant = self._row_tenants.pop(row_id, None)
            by_tenant.setdefault(tenant, []).append((Float32Vector.maybe(blob), model, row_id))
        unknown = by_tenant.pop(None, [])
        # Rows whose tenant this process has not seen are tried under every tenant; row
        # security makes the update land only under the row's own.
        targets = [(t, params) for t, params in by_tenant.items() if t is not None]
        if unknown:
            targets += [(t, unknown) for t in await self._tenant_ids()]
        for tenant, params in targets:
            async with self._transaction(tenant) as cur:
                await cur.executemany(query, params)

    async def missing_embeddings(
        self, model: str, limit: int, *, table: str = "items", column: str = "embedding",
    ) -> list[tuple[str, str]]:
        query = sql.missing_embeddings(table, column).postgres
        found: list[tuple[str, str]] = []
        for tenant in await self._tenant_ids():
            if len(found) >= limit:
                break
            missing = await self._fetch(tenant, query, (model, limit - len(found)))
            if len(self._row_tenants) > ROW_TENANT_MEMORY:
                self._row_tenants.clear()
            for row_id, text in missing:
                self._row_tenants[row_id] = tenant
                found.append((row_id, text))
        return found

    async def _ensure_vector_index(self, table: str, dims: int) -> None:
        if (table, dims) in self._vector_indexes:
            return
        started = time.perf_counter()
        async with self._transaction(None) as cur:
            await cur.execute("SELECT voxmem_ensure_vector_index(%s, %s)", (table, dims))
            created = await cur.fetchone()
        if created and created[0]:
            log.info("created HNSW index for %d-dimension vectors on %s in %.0f ms", dims,
                     table, (time.perf_counter() - started) * 1000)
        self._vector_indexes.add((table, dims))

    # -- caller reads -----------------------------------------------------------------
    async def get_caller(self, scope: Scope) -> CallerRecord | None:
        found = await self._fetch_as(scope.tenant_id, sql.GET_CALLER.postgres,
                                     scope.caller_key, rows.caller_found)
        return found[0] if found else None

    async def load_items(self, scope: Scope, now: float) -> list[MemoryItem]:
        return await self._fetch_as(scope.tenant_id, sql.LOAD_ITEMS.postgres,
                                    (*scope.caller_key, now), rows.memory_item)

    async def list_facts(
        self, scope: Scope, *, include_history: bool = False, session_id: str | None = None
    ) -> list[Fact]:
        statement = sql.LIST_FACTS[include_history, session_id is not None].postgres
        params = scope.caller_key if session_id is None else (*scope.caller_key, session_id)
        return await self._fetch_as(scope.tenant_id, statement, params, rows.fact)

    # -- callers and entities (see _entities.py) --------------------------------------------
    async def run_entities(self, tenant_id: str, op: entities.EntityOp[T], *,
                           write: bool = True) -> T:
        """Run one caller/entity operation in one transaction, under ``tenant_id``."""
        async with self._transaction(tenant_id, pipeline=False) as cur:
            if write:
                # A tenant's first rows may be a merge: list it, so loading merges finds it.
                await self._register_tenants(cur, [tenant_id])
            return await entities.run_postgres(cur, op)

    async def entity_tenants(self) -> list[str]:
        """Every tenant (each is read under its own row-security setting)."""
        return await self._tenant_ids()

    async def get_session(
        self, tenant_id: str, project_id: str, session_id: str
    ) -> SessionInfo | None:
        found = await self._fetch_as(tenant_id, sql.GET_SESSION.postgres,
                                     (tenant_id, project_id, session_id), rows.session_info)
        return found[0] if found else None

    async def recent_sessions(self, scope: Scope, limit: int) -> list[SessionInfo]:
        return await self._fetch_as(scope.tenant_id, sql.RECENT_SESSIONS.postgres,
                                    (*scope.caller_key, limit), rows.session_info)

    async def session_turns(self, scope: Scope, session_id: str, *,
                            last: int | None = None) -> list[Turn]:
        # LIMIT NULL is Postgres's "every row".
        found = await self._fetch_as(scope.tenant_id, sql.SESSION_TURNS.postgres,
                                     (*scope.caller_key, session_id, last), rows.turn)
        return found[::-1]

    async def count_items(self, scope: Scope) -> int:
        found = await self._fetch(scope.tenant_id, sql.COUNT_ITEMS.postgres, scope.caller_key)
        return int(found[0][0])


# -- helpers ------------------------------------------------------------------------------
def _row(r: tuple[Any, ...]) -> tuple[Any, ...]:
    return r

