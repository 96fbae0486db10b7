"""Differential test: the same writes on the SQLite store (the reference) and the
Postgres store must read back the same, method by method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests import _postgres
from voxmem.models import Chunk, Scope, Turn
from voxmem.store import (
    DocumentWrite,
    ExtractionDone,
    FactWrite,
    ItemDelete,
    ProfileWrite,
    SessionEnd,
    SessionReport,
    SessionStart,
    Store,
    TurnWrite,
    WriteBatch,
)
from voxmem.store.postgres import PostgresStore
from voxmem.store.sqlite import SQLiteStore

T0 = 1_780_000_000.0


def scope(user: str, tenant: str = "t1", project: str = "p1") -> Scope:
    return Scope(tenant_id=tenant, project_id=project, agent_id="agent", user_id=user)


def vec(seed: int, dims: int = 16) -> bytes:
    v = np.random.default_rng(seed).standard_normal(dims)
    return (v / np.linalg.norm(v)).astype(np.float32).tobytes()


def batches() -> list[WriteBatch]:
    ann, bob, other = scope("ann"), scope("bob"), scope("ann", tenant="t2")
    out: list[WriteBatch] = []
    for s, sid in ((ann, "s1"), (bob, "s2"), (other, "s3")):
        out.append(WriteBatch(
            sessions_started=[SessionStart(scope=s, session_id=sid, started_at=T0,
                                           caller_name=s.user_id.title(),
                                           caller_metadata={"tier": "gold", "x": {"a": 1}},
                                           metadata={"channel": "sip"})],
            turns=[TurnWrite(scope=s, embedding=vec(i), turn=Turn(
                event_id=f"{sid}-e{i}", session_id=sid, turn_id=f"t{i}",
                user_text=f"my modem number {i} keeps dropping", assistant_text="noted",
                created_at=T0 + i, tool_calls=[{"name": "lookup"}], metadata={"i": i},
                interrupted=i == 2)) for i in range(4)],
            embedding_model="m", applied_seq=len(out) + 1))
    out.append(WriteBatch(
        facts=[FactWrite(scope=ann, id="f1", text="Prefers mornings", kind="preference",
                         slot_key="preferred_time", confidence=0.9, source_session_id="s1",
                         source_turn_ids=("t1",), valid_from=T0 + 10, embedding=vec(9)),
               FactWrite(scope=ann, id="f2", text="Prefers evenings", kind="preference",
                         slot_key="preferred_time", confidence=0.8, source_session_id="s1",
                         source_turn_ids=("t2", "t3"), valid_from=T0 + 20,
                         supersedes=("f1",))],
        profile=[ProfileWrite(scope=ann, field="plan", value={"name": "Gold", "n": 2},
                              at=T0 + 5),
                 ProfileWrite(scope=bob, field="city", value="Porto", at=T0 + 6)],
        sessions_ended=[SessionEnd(scope=ann, session_id="s1", ended_at=T0 + 30,
                                   reason="completed")],
        deletes=[ItemDelete(scope=ann, item_id="s1-e3", at=T0 + 31),
                 ItemDelete(scope=bob, item_id="s1-e0", at=T0 + 31)],  # not bob's: no-op
        extractions=[ExtractionDone(scope=bob, session_id="s2", at=T0 + 40, error="boom")],
        reports=[SessionReport(scope=ann, session_id="s1", report={"turns": 4})],
        embedding_model="m", applied_seq=7))
    out.append(WriteBatch(sessions_started=[SessionStart(
        scope=ann, session_id="s1", started_at=T0, caller_name=None,
        caller_metadata={"x": {"b": 2}, "tier": None})], applied_seq=5))
    return out


async def snapshot(store: Store) -> dict[str, Any]:
    ann, bob, other = scope("ann"), scope("bob"), scope("ann", tenant="t2")
    later = T0 + 1000
    out: dict[str, Any] = {"applied": await store.applied_seq()}
    for name, s in (("ann", ann), ("bob", bob), ("other", other)):
        items = await store.load_items(s, later)
        out[name] = {
            "caller": await store.get_caller(s),
            "items": [(i.id, i.kind, i.text, i.created_at, i.session_id, i.confidence,
                       i.slot_key, i.fact_kind, i.embedding, i.turn_id) for i in items],
            "facts": await store.list_facts(s),
            "history": await store.list_facts(s, include_history=True),
            "session_facts": await store.list_facts(s, session_id="s1"),
            "sessions": [x.to_dict() for x in await store.recent_sessions(s, 10)],
            "turns": {sid: await store.session_turns(s, sid) for sid in ("s1", "s2", "s3")},
            "count": await store.count_items(s),
            "export": await store.export_caller(s),
        }
    out["pending"] = sorted((s.caller_key, sid) for s, sid in
                            await store.pending_extractions(10, 3))
    out["stale"] = sorted((s.caller_key, sid) for s, sid in
                          await store.stale_sessions(T0 + 100, 10))
    out["projects"] = await store.list_projects()
    out["session"] = await store.get_session("t1", "p1", "s1")
    return out


async def org(store: Store) -> dict[str, Any]:
    def document(doc_id: str, n: int, tag: str) -> DocumentWrite:
        return DocumentWrite(doc_id=doc_id, text=f"{doc_id} {tag}", metadata={"tag": tag},
                             embedding_model="m", chunks=[
            Chunk(id=f"{doc_id}-{tag}-{i}", index_name="kb", document_id=doc_id, ordinal=i,
                  text=f"{doc_id} router manual part {i} {tag}", metadata={"i": i},
                  embedding=vec(100 + i)) for i in range(n)])

    first = await store.write_documents("t1", "p1", "kb", [document("a", 3, "v1"),
                                                         document("b", 2, "v1")],
                                        {"owner": "ops"}, T0)
    second = await store.write_documents("t1", "p1", "kb", [document("a", 1, "v2")],
                                         {"lang": "en"}, T0 + 1)
    await store.set_policy("t1", "p1", "", False, 30, T0)
    await store.set_policy("t1", "p1", "agent", True, 7, T0 + 1)
    return {
        "writes": [first, second],
        "indexes": await store.list_indexes("t1", "p1"),
        "versions": await store.index_versions("t1", "p1"),
        "chunks": [(c.id, c.index_name, c.document_id, c.ordinal, c.text, c.metadata,
                    c.embedding) for c in await store.load_chunks("t1", "p1")],
        "text": sorted(h.id for h in await store.search_chunks_text("t1", "p1", "router",
                                                                     10)),
        "policies": await store.get_policies("t1", "p1"),
        "other_tenant": await store.list_indexes("t2", "p1"),
    }


async def lifecycle(store: Store) -> dict[str, Any]:
    ann, bob = scope("ann"), scope("bob")
    merged = await store.merge_callers(bob, ann, T0 + 50)
    purged = await store.purge_items("t1", "p1", T0 + 2, None, ["nobody"])
    after_purge = [i.id for i in await store.load_items(ann, T0 + 1000)]
    forgotten = await store.forget_caller(ann)
    return {"merged": merged, "purged": purged, "after_purge": after_purge,
            "forgotten": forgotten, "gone": await store.export_caller(ann),
            "projects": await store.list_projects()}


async def run(store: Store) -> dict[str, Any]:
    await store.open()
    try:
        for batch in batches():
            await store.write(batch)
        for batch in batches():  # a replay after a crash changes nothing
            await store.write(batch)
        return {"snapshot": await snapshot(store), "org": await org(store),
                "lifecycle": await lifecycle(store)}
    finally:
        await store.close()


def _without_clock(value: Any) -> Any:
    """Drop wall-clock fields the stores fill in themselves (merge/update times)."""
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k != "updatedAt"}
    if isinstance(value, list | tuple):
        return type(value)(_without_clock(v) for v in value)
    return value


async def test_postgres_reads_back_what_sqlite_reads_back(
        postgres_server: str | None, tmp_path: Path) -> None:
    url = _postgres.fresh_database(_postgres.require(postgres_server))
    expected = await run(SQLiteStore(tmp_path / "reference.db"))
    actual = await run(PostgresStore(url))
    for part in expected:
        for key in expected[part]:
            assert _without_clock(actual[part][key]) == _without_clock(expected[part][key]), (
                f"{part}.{key} differs")
