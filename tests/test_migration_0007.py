"""A store the previous release left at schema 6 (before the caller read indexes of
migration 0007) upgraded in place, on both backends: its calls, facts and turns are all
still read, the session-start block included, and it takes new writes.

The old rows are written by the store's own batch writer on a database migrated only to
version 6, as the previous release left it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests import _old_schema, _postgres
from tests.test_migration_0006 import OLD_TEXTS, old_batch, scope
from voxmem import Settings, StoreUnavailable
from voxmem.engine import MemoryEngine
from voxmem.models import Caller
from voxmem.store import FactWrite, WriteBatch
from voxmem.store._migrations import load_migrations

LATEST = len(load_migrations("sqlite"))
NEW_INDEXES = {"items_facts_by_caller", "items_by_session_time"}
OLD_FACT = "Prefers a call back after 5pm"


def old_writes() -> WriteBatch:
    """The schema-5 test's old call, plus one learned fact from it."""
    batch = old_batch(scope())
    fact = FactWrite(scope=scope(), id="fact-old-1", text=OLD_FACT, kind="preference",
                     slot_key="callback_time", confidence=0.9,
                     source_session_id="old-call", source_turn_ids=("old-turn-1",),
                     valid_from=time.time() - 3 * 86_400 + 120)
    return WriteBatch(sessions_started=batch.sessions_started, turns=batch.turns,
                      facts=[fact], sessions_ended=batch.sessions_ended,
                      embedding_model=batch.embedding_model)


def write_sqlite_v6(path: Path) -> None:
    with _old_schema.sqlite_written_at(path, 6, old_writes()):
        pass


async def write_postgres_v6(app_url: str) -> None:
    async with _old_schema.postgres_written(app_url, old_writes()):
        pass


def sqlite_indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}


def pg_indexes(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}


@pytest.fixture(params=["sqlite", "postgres"])
def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a store written at schema 6 and then migrated by this version."""
    data = tmp_path / "data"
    if request.param == "sqlite":
        path = data / "voxmem.db"
        write_sqlite_v6(path)
        assert not NEW_INDEXES & sqlite_indexes(path)
        yield Settings(data_dir=str(data), embedder="hashing")
        assert sqlite_indexes(path) >= NEW_INDEXES
        assert "items_by_source_session" not in sqlite_indexes(path)
        return
    dsn = _postgres.require(request.getfixturevalue("postgres_server"))
    owner = _postgres.database_at(dsn, 6)
    app_url = _postgres.app_dsn(dsn, _postgres.database_of(owner))
    _postgres._run_async(write_postgres_v6(app_url))
    assert not NEW_INDEXES & pg_indexes(owner)
    # A deployment upgrades with the schema owner's URL, then runs as the application role.
    assert _postgres.upgrade(owner) == LATEST
    assert pg_indexes(owner) >= NEW_INDEXES
    assert "items_by_source_session" not in pg_indexes(owner)
    yield Settings(data_dir=str(data), embedder="hashing", store_url=app_url)
    _postgres.drop_database(dsn, app_url)


async def test_a_schema_6_store_keeps_every_read_after_0007(upgraded: Settings) -> None:
    engine = MemoryEngine(upgraded)
    await engine.start()
    try:
        assert await engine.store.schema_version() == LATEST
        s = engine.scope(project_id="p1", agent_id="a1", user_id="vera")
        # The session-start block of a caller not warm yet reads through the new indexes.
        block = await engine.preload(s)
        assert OLD_FACT in block.context_text
        assert block.last_session is not None
        facts = await engine.store.list_facts(s)
        assert [f.text for f in facts] == [OLD_FACT]
        tail = await engine.store.session_turns(s, "old-call")
        assert [t.user_text for t in tail] == OLD_TEXTS
        await engine.save_response(s, Caller("vera"), user_text="I moved to Lisbon in May",
                                   assistant_text="Lisbon, lovely.")
        assert await engine.flush(30)
        engine.callers.drop(s)
        new = await engine.search_memory(s, "where did I move", timeout_ms=10_000)
        assert "Lisbon" in new.context_text
        exported = json.dumps(await engine.export_user(s))
        assert all(text in exported for text in OLD_TEXTS) and OLD_FACT in exported
    finally:
        await engine.close()


def test_the_application_role_on_an_old_schema_is_told_to_migrate(
        postgres_server: str | None) -> None:
    """The runtime's own role may not run DDL: opening a schema-6 database with it is a
    clear error naming the fix, not a half-upgraded store."""
    dsn = _postgres.require(postgres_server)
    owner = _postgres.database_at(dsn, 6)
    app_url = _postgres.app_dsn(dsn, _postgres.database_of(owner))
    try:
        with pytest.raises(StoreUnavailable) as raised:
            _postgres.upgrade(app_url)
        assert "schema" in str(raised.value).lower()
        assert not NEW_INDEXES & pg_indexes(owner)
    finally:
        _postgres.drop_database(dsn, app_url)
