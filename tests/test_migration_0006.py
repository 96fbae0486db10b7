"""A store written by schema 5 (caller items with a full-text index) upgraded by
migration 0006, which drops that index: saves, cold recall, export and forget still work.

The old data is written through the store's own batch writer on a database migrated only
to version 5, as an older voxmem left it; both backends.
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
from voxmem import Settings
from voxmem.embeddings.hashing import HashingEmbedder
from voxmem.engine import MemoryEngine
from voxmem.models import Caller, Scope, Turn
from voxmem.store import SessionEnd, SessionStart, TurnWrite, WriteBatch
from voxmem.store import _pg_write as pg_write
from voxmem.store._migrations import load_migrations

#: The schema this version migrates to (0006 and every migration after it).
LATEST = len(load_migrations("sqlite"))

OLD_TEXTS = ["my locker combination hint is the heron painting",
             "I prefer a window seat on long flights",
             "the spare key is under the blue flowerpot"]


def old_batch(scope: Scope) -> WriteBatch:
    """One ended call of three turns with vectors, as schema 5 stored them."""
    at = time.time() - 3 * 86_400
    embedder = HashingEmbedder()
    vectors = embedder.embed(OLD_TEXTS)
    return WriteBatch(
        sessions_started=[SessionStart(scope=scope, session_id="old-call", started_at=at,
                                       caller_name="Vera")],
        turns=[TurnWrite(scope=scope, embedding=vectors[i].tobytes(), turn=Turn(
            event_id=f"old-{i}", session_id="old-call", turn_id=f"old-turn-{i}",
            user_text=text, assistant_text="Noted.", created_at=at + i))
            for i, text in enumerate(OLD_TEXTS)],
        sessions_ended=[SessionEnd(scope=scope, session_id="old-call", ended_at=at + 60,
                                   reason="completed")],
        embedding_model=embedder.name)


def scope() -> Scope:
    return Scope(tenant_id="default", project_id="p1", agent_id="a1", user_id="vera")


def write_sqlite_v5(path: Path) -> None:
    with _old_schema.sqlite_written_at(path, 5, old_batch(scope())) as conn:
        # The index this migration drops really held the caller's words.
        assert conn.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'heron'"
                            ).fetchone()[0] == 1


async def write_postgres_v5(app_url: str) -> None:
    async with _old_schema.postgres_written(app_url, old_batch(scope())) as cur:
        await pg_write.set_tenant(cur, "default")
        await cur.execute("SELECT count(*) FROM items WHERE tsv @@ 'heron'::tsquery")
        found = await cur.fetchone()
        assert found is not None and found[0] == 1


def sqlite_schema(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


@pytest.fixture(params=["sqlite", "postgres"])
def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a store written at schema 5 and then migrated by this version."""
    data = tmp_path / "data"
    if request.param == "sqlite":
        path = data / "voxmem.db"
        write_sqlite_v5(path)
        assert "items_fts" in sqlite_schema(path)
        yield Settings(data_dir=str(data), embedder="hashing")
        assert not {"items_fts", "items_ai", "items_ad", "items_au"} & sqlite_schema(path)
        assert "chunks_fts" in sqlite_schema(path)
        return
    dsn = _postgres.require(request.getfixturevalue("postgres_server"))
    owner = _postgres.database_at(dsn, 5)
    app_url = _postgres.app_dsn(dsn, _postgres.database_of(owner))
    _postgres._run_async(write_postgres_v5(app_url))
    # A deployment upgrades with the schema owner's URL, then runs as the application role.
    assert _postgres.upgrade(owner) == LATEST
    with psycopg.connect(owner) as conn:
        columns = {(r[0], r[1]) for r in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE column_name = 'tsv'")}
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
    assert columns == {("chunks", "tsv")}
    assert "items_text" not in indexes and "chunks_text" in indexes
    yield Settings(data_dir=str(data), embedder="hashing", store_url=app_url)
    _postgres.drop_database(dsn, app_url)


async def test_a_schema_5_store_keeps_working_after_0006(upgraded: Settings) -> None:
    engine = MemoryEngine(upgraded)
    await engine.start()
    try:
        assert await engine.store.schema_version() == LATEST
        s = engine.scope(project_id="p1", agent_id="a1", user_id="vera")
        await engine.save_response(s, Caller("vera"), user_text="I moved to Lisbon in May",
                                   assistant_text="Lisbon, lovely.")
        assert await engine.flush(30)
        # Cold cache: the caller is loaded from the upgraded store.
        engine.callers.drop(s)
        old = await engine.search_memory(s, "heron painting locker", timeout_ms=10_000)
        assert any("heron" in h["text"] for h in old.permanent)
        new = await engine.search_memory(s, "where did I move", timeout_ms=10_000)
        assert "Lisbon" in new.context_text
        exported = json.dumps(await engine.export_user(s))
        assert all(text in exported for text in OLD_TEXTS) and "Lisbon" in exported
        removed = await engine.forget_user(s)
        assert sum(removed.values()) >= 4
        assert await engine.store.load_items(s, time.time() + 60) == []
        assert "heron" not in json.dumps(await engine.export_user(s))
    finally:
        await engine.close()
