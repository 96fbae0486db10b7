"""Tenant isolation as a second wall: row-level security under hand-written SQL.

The store filters by tenant in every query; these tests go around the store and talk to
the database directly as the application role, to show that the database itself refuses
to show or change another tenant's rows even when the query forgets the filter.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import numpy as np
import psycopg
import pytest

from tests import _postgres
from voxmem.models import Chunk, Scope, Turn
from voxmem.store import DocumentWrite, SessionStart, TurnWrite, WriteBatch
from voxmem.store.postgres import PostgresStore

TENANT_TABLES = ("callers", "sessions", "items", "org_indexes", "org_documents", "chunks",
                 "memory_policies", "caller_merges")


@pytest.fixture
def pg_url(postgres_server: str | None) -> str:
    return _postgres.fresh_database(_postgres.require(postgres_server))


@pytest.fixture
async def two_tenants(pg_url: str) -> AsyncIterator[str]:
    """A database holding the same caller, project and index names under two tenants."""
    store = PostgresStore(pg_url)
    await store.open()
    now = time.time()
    vec = (np.ones(8) / np.sqrt(8)).astype(np.float32)
    for tenant in ("acme", "globex"):
        scope = Scope(tenant_id=tenant, project_id="p", agent_id="a", user_id="same-user")
        await store.write(WriteBatch(
            sessions_started=[SessionStart(scope=scope, session_id=f"s-{tenant}",
                                           started_at=now, caller_name=f"name-{tenant}")],
            turns=[TurnWrite(scope=scope, embedding=vec.tobytes(), turn=Turn(
                event_id=f"e-{tenant}", session_id=f"s-{tenant}", turn_id="t1",
                user_text=f"the secret of {tenant} is kumquat", assistant_text="ok",
                created_at=now))],
            embedding_model="m"))
        await store.write_documents(tenant, "p", "kb", [DocumentWrite(
            doc_id="d1", text=f"{tenant} handbook kumquat", metadata={}, chunks=[
                Chunk(id=f"c-{tenant}", index_name="kb", document_id="d1", ordinal=0,
                      text=f"{tenant} handbook kumquat", embedding=vec.tobytes())],
            embedding_model="m")], None, now)
        await store.set_policy(tenant, "p", "", True, 30, now)
    await store.close()
    yield pg_url


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


def test_app_role_is_subject_to_row_security(two_tenants: str) -> None:
    with _connect(two_tenants) as conn:
        row = conn.execute(
            "SELECT r.rolsuper, r.rolbypassrls, "
            "       (SELECT count(*) FROM pg_tables t WHERE t.schemaname = 'public'"
            "          AND t.tableowner = current_user) "
            "FROM pg_roles r WHERE r.rolname = current_user").fetchone()
        assert row == (False, False, 0), "the app role must not bypass or own the tables"
        forced = {str(name): bool(on) for name, on in conn.execute(
            "SELECT relname, relforcerowsecurity AND relrowsecurity FROM pg_class"
            " WHERE relname = ANY(%s)", (list(TENANT_TABLES),)).fetchall()}
        assert forced == dict.fromkeys(TENANT_TABLES, True)


def test_no_tenant_setting_shows_nothing(two_tenants: str) -> None:
    with _connect(two_tenants) as conn:
        for table in TENANT_TABLES:
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert count == (0,), f"{table} leaked rows without a tenant setting"


def test_hand_written_sql_sees_only_its_tenant(two_tenants: str) -> None:
    with _connect(two_tenants) as conn:
        conn.execute("SELECT set_config('voxmem.tenant_id', 'acme', false)")
        texts = [r[0] for r in conn.execute("SELECT text FROM items")]
        assert texts == ["the secret of acme is kumquat\nok"]
        # Asking for the other tenant by name, by caller, by full text, by vector:
        assert conn.execute("SELECT count(*) FROM items WHERE tenant_id = 'globex'"
                            ).fetchone() == (0,)
        assert conn.execute("SELECT name FROM callers WHERE user_id = 'same-user'"
                            ).fetchall() == [("name-acme",)]
        assert conn.execute(
            "SELECT id FROM chunks WHERE tsv @@ websearch_to_tsquery('english', 'kumquat')"
        ).fetchall() == [("c-acme",)]
        assert conn.execute(
            "SELECT id FROM chunks ORDER BY embedding::vector(8) <=> embedding::vector(8)"
        ).fetchall() == [("c-acme",)]
        assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
        assert conn.execute("SELECT tenant_id FROM memory_policies").fetchall() == [("acme",)]


def test_other_tenants_rows_cannot_be_changed(two_tenants: str) -> None:
    with _connect(two_tenants) as conn:
        conn.execute("SELECT set_config('voxmem.tenant_id', 'acme', false)")
        cur = conn.execute("UPDATE items SET text = 'pwned' WHERE id = 'e-globex'")
        assert cur.rowcount == 0
        cur = conn.execute("DELETE FROM callers WHERE tenant_id = 'globex'")
        assert cur.rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO callers (tenant_id, project_id, space, user_id, created_at,"
                " updated_at) VALUES ('globex', 'p', '*', 'planted', 0, 0)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            # Moving an own row into another tenant is refused too (WITH CHECK).
            conn.execute("UPDATE items SET tenant_id = 'globex' WHERE id = 'e-acme'")
    with _connect(two_tenants) as conn:
        conn.execute("SELECT set_config('voxmem.tenant_id', 'globex', false)")
        assert conn.execute("SELECT text FROM items").fetchall() == [
            ("the secret of globex is kumquat\nok",)]


def test_app_role_cannot_switch_the_wall_off(two_tenants: str) -> None:
    with _connect(two_tenants) as conn:
        conn.execute("SET row_security = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM items")  # refused, not silently filtered
    for statement in ("ALTER TABLE items DISABLE ROW LEVEL SECURITY",
                      "ALTER TABLE items NO FORCE ROW LEVEL SECURITY",
                      "DROP POLICY tenant_isolation ON items",
                      "SET ROLE voxmem_owner"):
        with _connect(two_tenants) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


async def test_tenant_setting_does_not_leak_across_pooled_transactions(
        two_tenants: str) -> None:
    store = PostgresStore(two_tenants, pool_min_size=1, pool_max_size=1)
    await store.open()
    try:
        acme = Scope(tenant_id="acme", project_id="p", agent_id="a", user_id="same-user")
        assert [i.id for i in await store.load_items(acme, time.time() + 1)] == ["e-acme"]
        # The same single pooled connection, next transaction, no tenant set: nothing.
        rows = await store._fetch(None, "SELECT count(*) FROM items")
        assert rows == [(0,)]
        globex = Scope(tenant_id="globex", project_id="p", agent_id="a", user_id="same-user")
        hits = await store.search_chunks_text("globex", "p", "kumquat handbook", 5)
        assert [h.id for h in hits] == ["c-globex"]
        found = await store.get_caller(globex)
        assert found is not None and found.name == "name-globex"
    finally:
        await store.close()
