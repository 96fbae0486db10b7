"""The session-start block's reads of a caller not warm yet do not walk every item of
the caller (migration 0007).

A caller with thousands of turns and a few dozen facts: the block of a caller not warm
yet and the warm load both list the facts, and the block reads the previous call's last
turns. Both backends keep a partial index of fact rows and an index of a call's items by
kind and time, and the statements are planned on them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from tests import _postgres
from voxmem import Settings
from voxmem.models import Scope, Turn
from voxmem.store import FactWrite, Store, TurnWrite, WriteBatch, open_store
from voxmem.store import _sql as sql
from voxmem.store._migrations import load_migrations

T0 = 1_780_000_000.0
INDEX = "items_facts_by_caller"
CALL_INDEX = "items_by_session_time"


def scope(user: str) -> Scope:
    return Scope(tenant_id="t1", project_id="p1", agent_id="agent", user_id=user)


def turns_and_facts(s: Scope, n_turns: int, n_facts: int) -> WriteBatch:
    return WriteBatch(
        turns=[TurnWrite(scope=s, turn=Turn(
            event_id=f"{s.user_id}-e{i}", session_id="s1", turn_id=f"t{i}",
            user_text=f"turn number {i}", assistant_text="ok", created_at=T0 + i))
            for i in range(n_turns)],
        facts=[FactWrite(scope=s, id=f"{s.user_id}-f{i}", text=f"fact {i}", kind="note",
                         slot_key=None, confidence=0.9, source_session_id="s1",
                         source_turn_ids=(f"t{i}",), valid_from=T0 + 10 * i)
               for i in range(n_facts)],
        embedding_model="m")


async def test_the_schema_has_every_migration_and_the_facts_index(
        store: Store, settings: Settings) -> None:
    assert await store.schema_version() == len(load_migrations("sqlite"))
    assert len(load_migrations("sqlite")) == len(load_migrations("postgres"))
    if settings.store_url:
        with psycopg.connect(settings.store_url) as conn:
            found = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                                 (INDEX,)).fetchone()
    else:
        with sqlite3.connect(settings.data_path / "voxmem.db") as lite:
            found = lite.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                 (INDEX,)).fetchone()
    assert found is not None and "fact" in found[0]


async def test_facts_are_listed_among_many_turns_newest_first(store: Store) -> None:
    ann, bob = scope("ann"), scope("bob")
    await store.write(turns_and_facts(ann, 300, 7))
    await store.write(turns_and_facts(bob, 5, 2))
    facts = await store.list_facts(ann)
    assert [f.id for f in facts] == [f"ann-f{i}" for i in reversed(range(7))]
    assert [f.id for f in await store.list_facts(ann, include_history=True)] == [
        f.id for f in facts]
    assert [f.id for f in await store.list_facts(bob)] == ["bob-f1", "bob-f0"]


@pytest.mark.parametrize(("statement", "args", "index"), [
    (sql.LIST_FACTS[False, False].sqlite, (), INDEX),
    (sql.LIST_FACTS[True, False].sqlite, (), INDEX),
    (sql.SESSION_TURNS.sqlite, ("s1", 4), CALL_INDEX),
])
def test_sqlite_plans_the_block_reads_on_their_indexes(
        sqlite_settings: Settings, statement: str, args: tuple[object, ...], index: str) -> None:
    import asyncio

    async def create() -> None:
        s = open_store(sqlite_settings)
        await s.open()
        await s.close()

    asyncio.run(create())
    with sqlite3.connect(sqlite_settings.data_path / "voxmem.db") as conn:
        plan = conn.execute("EXPLAIN QUERY PLAN " + statement,
                            ("t1", "p1", "*", "ann", *args)).fetchall()
    assert any(index in str(row[-1]) for row in plan), plan


async def test_postgres_plans_the_block_reads_on_their_indexes(
        postgres_server: str | None, tmp_path: Path) -> None:
    dsn = _postgres.require(postgres_server)
    url = _postgres.fresh_database(dsn)
    try:
        store = open_store(Settings(data_dir=str(tmp_path / "data"), store_url=url))
        await store.open()
        try:
            await store.write(turns_and_facts(scope("ann"), 2_000, 20))
        finally:
            await store.close()
        with psycopg.connect(url) as conn:
            # A table this small is read whole; the question is which index the planner
            # takes when it takes one, as it does at a real caller's size.
            conn.execute("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in conn.execute(
                "EXPLAIN " + sql.LIST_FACTS[False, False].postgres,
                ("t1", "p1", "*", "ann")).fetchall())
            call_plan = "\n".join(r[0] for r in conn.execute(
                "EXPLAIN " + sql.SESSION_TURNS.postgres,
                ("t1", "p1", "*", "ann", "s1", 4)).fetchall())
    finally:
        _postgres.drop_database(dsn, url)
    assert INDEX in plan, plan
    assert CALL_INDEX in call_plan, call_plan
