"""The store protocol, on every backend: migrations, idempotent batches, scoping, indexes."""

from __future__ import annotations

import time

import pytest

from voxmem.models import Chunk, Scope, Turn
from voxmem.store import (
    DocumentWrite,
    SessionEnd,
    SessionStart,
    Store,
    TurnWrite,
    WriteBatch,
)


def scope(user: str, project: str = "p1", tenant: str = "t1") -> Scope:
    return Scope(tenant_id=tenant, project_id=project, agent_id="agent", user_id=user)


def turn(event: str, session: str, text: str, at: float) -> Turn:
    return Turn(event_id=event, session_id=session, turn_id=f"t-{event}", user_text=text,
                assistant_text="ok", created_at=at)


async def test_migrations_recorded(store: Store) -> None:
    assert await store.schema_version() >= 1
    # Opening twice applies nothing new and fails nowhere.
    await store.open()
    assert await store.schema_version() >= 1


async def test_batch_is_idempotent_and_moves_applied_seq(store: Store) -> None:
    s = scope("alice")
    now = time.time()
    batch = WriteBatch(
        sessions_started=[SessionStart(scope=s, session_id="s1", started_at=now,
                                       caller_name="Alice")],
        turns=[TurnWrite(scope=s, turn=turn("e1", "s1", "my dog is called Rex", now))],
        applied_seq=3,
    )
    await store.write(batch)
    await store.write(batch)  # a replay after a crash
    assert await store.applied_seq() == 3
    items = await store.load_items(s, now + 1)
    assert [i.id for i in items] == ["e1"]
    caller = await store.get_caller(s)
    assert caller is not None and caller.name == "Alice"
    await store.write(WriteBatch(applied_seq=2))
    assert await store.applied_seq() == 3, "the applied position never moves backwards"


async def test_callers_never_see_each_other(store: Store) -> None:
    now = time.time()
    writes = []
    for user, project, tenant in [("alice", "p1", "t1"), ("bob", "p1", "t1"),
                                  ("alice", "p2", "t1"), ("alice", "p1", "t2")]:
        sc = scope(user, project, tenant)
        sid = f"s-{user}-{project}-{tenant}"
        writes.append(SessionStart(scope=sc, session_id=sid, started_at=now))
        await store.write(WriteBatch(sessions_started=[writes[-1]], turns=[TurnWrite(
            scope=sc, turn=turn(f"e-{user}-{project}-{tenant}", sid,
                                f"secret word zebra for {user} {project} {tenant}", now))]))
    for user, project, tenant in [("alice", "p1", "t1"), ("bob", "p1", "t1"),
                                  ("alice", "p2", "t1"), ("alice", "p1", "t2")]:
        sc = scope(user, project, tenant)
        items = await store.load_items(sc, now + 1)
        assert [i.id for i in items] == [f"e-{user}-{project}-{tenant}"]
        assert await store.count_items(sc) == 1


async def test_sessions_and_turns(store: Store) -> None:
    s = scope("dave")
    now = time.time()
    await store.write(WriteBatch(
        sessions_started=[SessionStart(scope=s, session_id="s1", started_at=now - 100)],
        turns=[TurnWrite(scope=s, turn=turn("a", "s1", "first", now - 90)),
               TurnWrite(scope=s, turn=turn("b", "s1", "second", now - 80))],
        sessions_ended=[SessionEnd(scope=s, session_id="s1", ended_at=now - 70,
                                   reason="completed")]))
    info = await store.get_session("t1", "p1", "s1")
    assert info is not None and info.user_id == "dave" and info.end_reason == "completed"
    assert [t.event_id for t in await store.session_turns(s, "s1")] == ["a", "b"]
    assert [x.id for x in await store.recent_sessions(s, 5)] == ["s1"]


async def test_org_index_create_append_replace(store: Store) -> None:
    now = time.time()

    def doc(doc_id: str, text: str) -> DocumentWrite:
        return DocumentWrite(doc_id=doc_id, text=text, metadata={"topic": doc_id}, chunks=[
            Chunk(id=f"{doc_id}-{text[:5]}", index_name="kb", document_id=doc_id, ordinal=0,
                  text=text, created_at=now)])

    v1, n1 = await store.write_documents("t1", "p1", "kb", [doc("returns", "30 days"),
                                                             doc("ship", "2 days")], None, now)
    v2, n2 = await store.write_documents("t1", "p1", "kb", [doc("returns", "60 days now")],
                                         {"owner": "ops"}, now)
    assert (v1, n1, v2, n2) == (1, 2, 2, 1)
    chunks = await store.load_chunks("t1", "p1")
    assert sorted(c.text for c in chunks) == ["2 days", "60 days now"]
    listing = await store.list_indexes("t1", "p1")
    assert listing[0].name == "kb" and listing[0].version == 2
    assert listing[0].document_count == 2 and listing[0].chunk_count == 2
    assert listing[0].to_wire()["documentCount"] == 2
    assert await store.list_indexes("t1", "p2") == []
    assert await store.load_chunks("t2", "p1") == []
    hits = await store.search_chunks_text("t1", "p1", "days", 5)
    assert len(hits) == 2
    # A hit is the stored chunk (what the cold org lane shows), its vector left out.
    found = {h.id: h.chunk for h in hits}
    assert {c.id: c for c in chunks} == found
    assert await store.search_chunks_text("t1", "other", "days", 5) == []


async def test_embeddings_roundtrip(store: Store) -> None:
    s = scope("erin")
    now = time.time()
    await store.write(WriteBatch(
        sessions_started=[SessionStart(scope=s, session_id="s", started_at=now)],
        turns=[TurnWrite(scope=s, turn=turn("x", "s", "hello there", now))]))
    missing = await store.missing_embeddings("m1", 10)
    assert ("x", "hello there\nok") in missing
    await store.set_embeddings([("x", b"\x00" * 16)], "m1")
    assert ("x", "hello there\nok") not in await store.missing_embeddings("m1", 10)
    assert ("x", "hello there\nok") in await store.missing_embeddings("m2", 10)
    (item,) = await store.load_items(s, now)
    assert item.embedding == b"\x00" * 16


async def test_embeddings_of_an_unknown_table_are_refused(store: Store) -> None:
    """The table name is put into SQL, so only the two embedded tables are accepted."""
    with pytest.raises(ValueError, match="unknown table 'users'"):
        await store.set_embeddings([("x", b"\x00" * 16)], "m1", table="users")
    with pytest.raises(ValueError, match="unknown table 'users'"):
        await store.missing_embeddings("m1", 10, table="users")


async def test_chunk_pages_read_a_project_in_insertion_order(store: Store) -> None:
    now = time.time()

    def doc(project: str, n: int) -> DocumentWrite:
        return DocumentWrite(doc_id=f"d{n}", text=f"text {n}", metadata={}, chunks=[
            Chunk(id=f"{project}-c{n}-{i}", index_name="kb", document_id=f"d{n}", ordinal=i,
                  text=f"chunk {n}.{i}", created_at=now, embedding=bytes([n, i]) * 2)
            for i in range(2)])

    # Two projects interleaved, so a page must skip the other project's rows.
    for n in range(4):
        await store.write_documents("t1", "p1", "kb", [doc("p1", n)], None, now)
        await store.write_documents("t1", "p2", "kb", [doc("p2", n)], None, now)
    pages = [page async for page in store.chunk_pages("t1", "p1", page_rows=3)]
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [c for p in pages for c in p] == await store.load_chunks("t1", "p1")
    assert [c.id for p in pages for c in p] == [f"p1-c{n}-{i}" for n in range(4)
                                                 for i in range(2)]
    assert pages[0][0].embedding == bytes([0, 0]) * 2
    assert [p async for p in store.chunk_pages("t1", "none", page_rows=3)] == []
