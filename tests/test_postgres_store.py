"""What only the Postgres store has to get right: vectors in pgvector, HNSW per dimension,
full-text queries from any input, per-runtime journal positions, job locks, failing fast,
and migrations that only the schema owner may apply."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests import _postgres
from voxmem import Settings, StoreUnavailable
from voxmem._config import setting_default
from voxmem.models import Chunk, Scope, Turn
from voxmem.store import DocumentWrite, SessionStart, TurnWrite, WriteBatch
from voxmem.store.postgres import PostgresStore


@pytest.fixture
def pg_url(postgres_server: str | None) -> str:
    return _postgres.fresh_database(_postgres.require(postgres_server))


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(pg_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def unit(rng: np.random.Generator, dims: int) -> np.ndarray:
    v = rng.standard_normal(dims).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)


def caller(user: str = "ann", tenant: str = "t1") -> Scope:
    return Scope(tenant_id=tenant, project_id="p1", agent_id="agent", user_id=user)


def turn_batch(scope: Scope, event: str, text: str, vec: np.ndarray | None,
               seq: int | None = None, model: str = "m") -> WriteBatch:
    now = time.time()
    return WriteBatch(
        sessions_started=[SessionStart(scope=scope, session_id="s1", started_at=now)],
        turns=[TurnWrite(scope=scope, embedding=None if vec is None else vec.tobytes(),
                         turn=Turn(event_id=event, session_id="s1", turn_id=event,
                                   user_text=text, assistant_text="", created_at=now))],
        embedding_model=model, applied_seq=seq)


def doc(doc_id: str, vectors: list[np.ndarray], texts: list[str] | None = None
        ) -> DocumentWrite:
    texts = texts or [f"{doc_id} part {i}" for i in range(len(vectors))]
    return DocumentWrite(doc_id=doc_id, text=" ".join(texts), metadata={"src": doc_id},
                         embedding_model="m", chunks=[
        Chunk(id=f"{doc_id}-{i}", index_name="kb", document_id=doc_id, ordinal=i, text=t,
              metadata={"i": i}, embedding=v.tobytes())
        for i, (t, v) in enumerate(zip(texts, vectors, strict=True))])


async def test_vectors_round_trip_bit_exact(store: PostgresStore) -> None:
    rng = np.random.default_rng(1)
    tricky = np.array([1e-38, -0.0, 3.4e38, 1 / 3, -1e-45, 7.0], dtype=np.float32)
    vectors = [unit(rng, 384), tricky]
    for i, vec in enumerate(vectors):
        await store.write(turn_batch(caller(), f"e{i}", f"text {i}", vec))
    items = await store.load_items(caller(), time.time() + 10)
    assert [i.embedding for i in items] == [v.tobytes() for v in vectors]
    await store.write_documents("t1", "p1", "kb", [doc("d", vectors)], None, time.time())
    chunks = await store.load_chunks("t1", "p1")
    assert [c.embedding for c in chunks] == [v.tobytes() for v in vectors]


async def test_unstorable_vectors_do_not_block_the_batch(store: PostgresStore) -> None:
    bad = np.array([np.nan, 1.0, 0.0], dtype=np.float32)
    await store.write(turn_batch(caller(), "e-nan", "still saved", bad, seq=4))
    items = await store.load_items(caller(), time.time() + 10)
    assert [(i.id, i.embedding) for i in items] == [("e-nan", None)]
    assert await store.applied_seq() == 4


async def test_each_dimension_gets_its_own_hnsw_index_and_uses_it(
        store: PostgresStore, pg_url: str) -> None:
    rng = np.random.default_rng(2)
    small = [unit(rng, 8) for _ in range(40)]
    large = [unit(rng, 16) for _ in range(40)]
    await store.write_documents("t1", "p1", "kb", [doc("small", small)], None, time.time())
    await store.write_documents("t1", "p1", "kb", [doc("large", large)], None, time.time())
    with psycopg.connect(pg_url) as conn:
        names = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'chunks'")}
        assert {"chunks_embedding_8_hnsw", "chunks_embedding_16_hnsw"} <= names
    for vectors, prefix in ((small, "small"), (large, "large")):
        hits = await store.search_chunks_vector("t1", "p1", vectors[7].tobytes(), 3)
        assert hits[0].id == f"{prefix}-7" and hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert all(h.id.startswith(prefix) for h in hits)
        assert hits[0].chunk.document_id == prefix
    # The planner takes the partial HNSW index for the store's query shape (as the
    # application role, under row security).
    with psycopg.connect(pg_url) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SELECT set_config('voxmem.tenant_id', 't1', false)")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT id FROM chunks WHERE tenant_id = 't1' AND project_id = 'p1'"
            " AND vector_dims(embedding) = 16 ORDER BY embedding::vector(16) <=> %s::vector(16)"
            " LIMIT 3", (str(large[0].tolist()),)))
        assert "chunks_embedding_16_hnsw" in plan


@pytest.mark.parametrize("query", [
    "", "   ", "'\"", "a & b | !c <-> d:*", "or", "OR AND NOT", "the of and",
    "naïve café 東京", "x" * 5000, " ".join(f"w{i}" for i in range(500)), "-kumquat", "é'\\"])
async def test_full_text_search_takes_any_input(store: PostgresStore, query: str) -> None:
    await store.write(turn_batch(caller(), "e1", "kumquat and café near 東京", None))
    await store.write_documents("t1", "p1", "kb", [doc("d", [np.ones(4, np.float32)],
                                                     ["kumquat café"])], None, time.time())
    assert isinstance(await store.search_chunks_text("t1", "p1", query, 5), list)


async def test_full_text_search_stems_and_ranks(store: PostgresStore) -> None:
    texts = ["my modem keeps dropping", "the modem modems, modem again: modem restarting",
             "I like pizza"]
    await store.write_documents("t1", "p1", "kb", [doc("d", [np.ones(4, np.float32)] * 3,
                                                     texts)], None, time.time())
    hits = await store.search_chunks_text("t1", "p1", "Modems restarted?", 5)
    assert [h.id for h in hits] == ["d-1", "d-0"]
    assert hits[0].score > hits[1].score > 0


async def test_each_runtime_keeps_its_own_journal_position(pg_url: str) -> None:
    a = PostgresStore(pg_url, journal_id="host-a")
    b = PostgresStore(pg_url, journal_id="host-b")
    await a.open()
    await b.open()
    try:
        await a.write(WriteBatch(applied_seq=120))
        await b.write(WriteBatch(applied_seq=3))
        await a.write(WriteBatch(applied_seq=100))  # never backwards
        assert (await a.applied_seq(), await b.applied_seq()) == (120, 3)
        fresh = PostgresStore(pg_url, journal_id="host-c")
        await fresh.open()
        assert await fresh.applied_seq() == 0
        await fresh.close()
    finally:
        await a.close()
        await b.close()


async def test_singleton_lock_has_exactly_one_holder(pg_url: str) -> None:
    stores = [PostgresStore(pg_url, journal_id=f"h{i}") for i in range(4)]
    for s in stores:
        await s.open()
    try:
        release = asyncio.Event()
        all_tried = asyncio.Event()
        outcomes: list[bool] = []

        async def job(s: PostgresStore) -> None:
            async with s.singleton("retention") as mine:
                outcomes.append(mine)
                if len(outcomes) == len(stores):
                    all_tried.set()
                if mine:
                    await release.wait()

        tasks = [asyncio.create_task(job(s)) for s in stores]
        await asyncio.wait_for(all_tried.wait(), 10)
        assert sorted(outcomes) == [False, False, False, True]
        async with stores[0].singleton("another-job") as other:
            assert other, "locks are per name"
        release.set()
        await asyncio.gather(*tasks)
        async with stores[3].singleton("retention") as mine:
            assert mine, "released when the holder's block ends"
    finally:
        for s in stores:
            await s.close()


async def test_concurrent_index_writers_get_distinct_versions(pg_url: str) -> None:
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    await a.open()
    await b.open()
    try:
        ones = np.ones(4, np.float32) / 2
        results = await asyncio.gather(*[
            s.write_documents("t1", "p1", "kb", [doc(f"d{i}", [ones])], None, time.time())
            for i, s in enumerate([a, b] * 5)])
        assert sorted(v for v, _ in results) == list(range(1, 11))
        assert await a.index_versions("t1", "p1") == {"kb": 10}
    finally:
        await a.close()
        await b.close()


async def test_reembedding_sweep_crosses_tenants_under_row_security(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    try:
        for tenant in ("t1", "t2"):
            await store.write(turn_batch(caller(tenant=tenant), f"e-{tenant}", "hi", None))
        missing = await store.missing_embeddings("new-model", 10)
        assert sorted(i for i, _ in missing) == ["e-t1", "e-t2"]
        vec = np.ones(4, np.float32) / 2
        # A store that did not list the rows itself (another runtime, a restart).
        other = PostgresStore(pg_url)
        await other.open()
        await other.set_embeddings([(i, vec.tobytes()) for i, _ in missing], "new-model")
        await other.close()
        assert await store.missing_embeddings("new-model", 10) == []
        items = await store.load_items(caller(tenant="t2"), time.time() + 9)
        assert items[0].embedding == vec.tobytes()
    finally:
        await store.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_server_fails_fast() -> None:
    store = PostgresStore(f"postgresql://nobody:x@127.0.0.1:{_closed_port()}/none")
    started = time.perf_counter()
    with pytest.raises(StoreUnavailable):
        await store.open()
    assert time.perf_counter() - started < 3.0
    with pytest.raises(StoreUnavailable, match="not open"):
        await store.applied_seq()


async def test_only_the_schema_owner_may_migrate(postgres_server: str | None) -> None:
    dsn = _postgres.require(postgres_server)
    name = f"voxmem_empty_{time.monotonic_ns()}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER {_postgres.OWNER_ROLE}')
    try:
        with psycopg.connect(_postgres.superuser_dsn(dsn, name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
        app = PostgresStore(_postgres.app_dsn(dsn, name))
        with pytest.raises(StoreUnavailable, match="schema owner") as err:
            await app.open()
        assert not err.value.retryable
        owner = PostgresStore(_postgres.owner_dsn(dsn, name))
        await owner.open()
        assert await owner.schema_version() >= 2
        await owner.close()
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_the_store_built_from_settings_takes_every_pool_and_timeout_setting(
        tmp_path: Path) -> None:
    """Nothing connects here: the settings must reach the pool and libpq as given."""
    settings = Settings(data_dir=str(tmp_path), store_url="postgresql://app@db.invalid/vm",
                        postgres_pool_min_size=2, postgres_pool_max_size=3,
                        postgres_connect_timeout_s=9.0, postgres_acquire_timeout_s=7.5)
    store = PostgresStore.from_settings(settings)
    assert (store.pool_min_size, store.pool_max_size, store.acquire_timeout_s) == (2, 3, 7.5)
    assert conninfo_to_dict(store._conninfo)["connect_timeout"] == "9"
    defaults = PostgresStore.from_settings(Settings(data_dir=str(tmp_path),
                                                    store_url=settings.store_url))
    assert (defaults.pool_min_size, defaults.pool_max_size) == (
        setting_default("postgres_pool_min_size"), setting_default("postgres_pool_max_size"))
