"""The reused Postgres test databases (``tests/_pg_pool.py``): the next test in a slot
sees none of the last test's rows, indexes, statistics or clients, and a database whose
schema a test changed is dropped instead of handed on."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import psycopg
import pytest

from tests import _pg_pool, _postgres
from voxmem.models import Chunk, Scope, Turn
from voxmem.store import DocumentWrite, SessionStart, TurnWrite, WriteBatch
from voxmem.store._migrations import load_migrations
from voxmem.store.postgres import PostgresStore

LATEST = len(load_migrations("postgres"))


async def _write_two_tenants(url: str) -> None:
    """Rows in the caller, session, item, org and policy tables under two tenants, and
    an HNSW index for the 8-dimension vectors (the store makes one per dimension)."""
    store = PostgresStore(url)
    await store.open()
    try:
        now = time.time()
        vec = (np.ones(8) / np.sqrt(8)).astype(np.float32)
        for tenant in ("acme", "globex"):
            scope = Scope(tenant_id=tenant, project_id="p", agent_id="a", user_id="ann")
            await store.write(WriteBatch(
                sessions_started=[SessionStart(scope=scope, session_id=f"s-{tenant}",
                                               started_at=now, caller_name="Ann")],
                turns=[TurnWrite(scope=scope, embedding=vec.tobytes(), turn=Turn(
                    event_id=f"e-{tenant}", session_id=f"s-{tenant}", turn_id="t1",
                    user_text=f"the secret of {tenant} is kumquat", assistant_text="ok",
                    created_at=now))],
                embedding_model="m"))
            await store.write_documents(tenant, "p", "kb", [DocumentWrite(
                doc_id="d1", text="handbook kumquat", metadata={}, chunks=[
                    Chunk(id=f"c-{tenant}", index_name="kb", document_id="d1", ordinal=0,
                          text="handbook kumquat", embedding=vec.tobytes())],
                embedding_model="m")], None, now)
            await store.set_policy(tenant, "p", "", True, 30, now)
            await store.begin_erasures([Scope(tenant_id=tenant, project_id="p", agent_id="a",
                                              user_id="bob")], now)
    finally:
        await store.close()


def _database_oid(dsn: str, url: str) -> int | None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s",
                           (_postgres.database_of(url),)).fetchone()
    return None if row is None else int(row[0])


def _superuser(dsn: str, url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(_postgres.superuser_dsn(dsn, _postgres.database_of(url)),
                           autocommit=True)


def _rows_by_table(conn: psycopg.Connection[tuple[Any, ...]]) -> dict[str, int]:
    tables = [str(r[0]) for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND NOT tablename = ANY(%s)", (list(_pg_pool.KEPT_TABLES),))]
    counts = {}
    for table in tables:
        row = conn.execute(f'SELECT count(*) FROM public."{table}"').fetchone()
        counts[table] = int(row[0]) if row else -1
    return counts


async def test_the_next_test_in_a_slot_sees_nothing_of_the_last(
        postgres_server: str | None) -> None:
    dsn = _postgres.require(postgres_server)
    first = _pg_pool.acquire(dsn)
    await _write_two_tenants(first)
    with _superuser(dsn, first) as conn:
        conn.execute("ANALYZE")
        written = {t: n for t, n in _rows_by_table(conn).items() if n}
        assert {"callers", "sessions", "items", "org_indexes", "org_documents", "chunks",
                "memory_policies", "pending_erasures"} <= set(written)
        assert conn.execute("SELECT count(*) FROM pg_indexes"
                            " WHERE indexname = 'chunks_embedding_8_hnsw'").fetchone() == (1,)
        assert conn.execute("SELECT count(*) > 0 FROM pg_statistic WHERE starelid ="
                            " 'public.items'::regclass").fetchone() == (True,)
    # A client the last test left open, as a leaked pool or runtime would be.
    left_open = psycopg.connect(first, autocommit=True)
    oid = _database_oid(dsn, first)

    _pg_pool.release(dsn, first)
    second = _pg_pool.acquire(dsn)
    try:
        assert _database_oid(dsn, second) == oid, "the same database, reused"
        assert _postgres.database_of(second) != _postgres.database_of(first)
        with pytest.raises(psycopg.OperationalError):
            left_open.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError, match="does not exist"):
            psycopg.connect(first).close()

        with _superuser(dsn, second) as conn:
            counts = _rows_by_table(conn)
            assert set(written) <= set(counts)
            assert counts == dict.fromkeys(counts, 0), "rows of the last test survived"
            assert conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE %s",
                                (_pg_pool.VECTOR_INDEX_PATTERN,)).fetchone() == (0,)
            assert conn.execute(
                "SELECT count(*) FROM pg_statistic s JOIN pg_class c ON c.oid = s.starelid"
                " WHERE c.relnamespace = 'public'::regnamespace").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM pg_sequences WHERE schemaname ="
                                " 'public' AND last_value IS NOT NULL").fetchone() == (0,)
        # The application, under row security, finds the schema whole and no caller.
        store = PostgresStore(second)
        await store.open()
        try:
            assert await store.schema_version() == LATEST
            ann = Scope(tenant_id="acme", project_id="p", agent_id="a", user_id="ann")
            assert await store.get_caller(ann) is None
            assert await store.load_items(ann, time.time()) == []
        finally:
            await store.close()
    finally:
        left_open.close()
        _pg_pool.release(dsn, second)


#: Changes a test could make as the schema owner (or a superuser): each leaves a
#: database the next test must not get.
SCHEMA_CHANGES = {
    "a newer schema version": "INSERT INTO schema_version (version, name, applied_at)"
                              " VALUES (9999, 'from_the_future', 0)",
    "a dropped column": "ALTER TABLE items DROP COLUMN slot_key",
    "a table of its own": "CREATE TABLE public.extra (x INTEGER)",
    "an index of its own": "CREATE INDEX items_extra ON items (user_id)",
    "a grant to everyone": "GRANT SELECT ON callers TO PUBLIC",
    "row security relaxed": "ALTER TABLE callers NO FORCE ROW LEVEL SECURITY",
    "a policy dropped": "DROP POLICY tenant_isolation ON items",
    "a function replaced": "CREATE OR REPLACE FUNCTION voxmem_merge_patch(target JSONB,"
                           " patch JSONB) RETURNS JSONB LANGUAGE sql AS 'SELECT target'",
    "a new store identity": "UPDATE store_identity SET store_id = 'another'",
    "a table dropped": "DROP TABLE store_identity",
    "extended statistics": "CREATE STATISTICS items_extra ON user_id, space FROM items",
}


@pytest.mark.parametrize("change", sorted(SCHEMA_CHANGES))
def test_a_database_whose_schema_a_test_changed_is_dropped(
        postgres_server: str | None, change: str) -> None:
    dsn = _postgres.require(postgres_server)
    url = _pg_pool.acquire(dsn)
    oid = _database_oid(dsn, url)
    with _superuser(dsn, url) as conn:
        conn.execute(SCHEMA_CHANGES[change])
    discarded = _pg_pool.stats["discarded"]

    _pg_pool.release(dsn, url)
    assert _pg_pool.stats["discarded"] == discarded + 1
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE oid = %s",
                            (oid,)).fetchone() == (0,)
    assert oid is not None


def test_an_unchanged_database_is_reused(postgres_server: str | None) -> None:
    """The control for the test above: release alone changes nothing the check sees."""
    dsn = _postgres.require(postgres_server)
    url = _pg_pool.acquire(dsn)
    oid = _database_oid(dsn, url)
    _pg_pool.release(dsn, url)
    again = _pg_pool.acquire(dsn)
    try:
        assert _database_oid(dsn, again) == oid
    finally:
        _pg_pool.release(dsn, again)


def test_a_release_outlives_its_maintenance_connection_being_ended(
        postgres_server: str | None) -> None:
    """A test that ends every backend (or a server restart) must not fail the next
    test's teardown: the pool's kept connection is replaced."""
    dsn = _postgres.require(postgres_server)
    url = _pg_pool.acquire(dsn)
    _pg_pool.release(dsn, url)  # the kept connection exists from here
    url = _pg_pool.acquire(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ended = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                             " WHERE application_name = %s",
                             (_pg_pool.ADMIN_APPLICATION,)).fetchone()
    assert ended == (1,)
    oid = _database_oid(dsn, url)
    _pg_pool.release(dsn, url)
    again = _pg_pool.acquire(dsn)
    try:
        assert _database_oid(dsn, again) == oid
    finally:
        _pg_pool.release(dsn, again)
