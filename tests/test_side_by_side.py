"""Both embeddings side by side (``embedder="static+onnx"``), on both stores: the
second vector column (migration 0009) on a store an older release left, a save that
gets both vectors once the background writer is done, search while a memory's second
vector is missing, the deadline that ranks without the full model's query vector,
erasure, re-embedding by the second model's name, and the setting itself.

The models are the bundled ones. The only stand-in is :class:`Gated`, which runs the
real MiniLM but holds the texts a test names until the test lets them through, so
"the second vector is not there yet" is a state the test waits for, not a race.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from tests import _old_schema, _postgres
from tests.test_migration_0006 import OLD_TEXTS, old_batch, scope
from voxmem import BadRequest, Settings
from voxmem.embeddings import Vectors, load_embedder, load_second_embedder
from voxmem.embeddings.onnx import OnnxEmbedder
from voxmem.embeddings.static import StaticEmbedder
from voxmem.engine import MemoryEngine
from voxmem.engine._index import HybridIndex, Where
from voxmem.engine._rank import RankParams, rrf
from voxmem.engine._second import SECOND_COLUMN, side_by_side_params
from voxmem.models import Caller, Scope
from voxmem.store import Store
from voxmem.store._migrations import load_migrations

LATEST = len(load_migrations("sqlite"))


class Gated:
    """MiniLM, except that a text in ``held`` waits until ``gate`` is set (and says it
    arrived through ``reached``)."""

    def __init__(self, model: OnnxEmbedder) -> None:
        self._model = model
        self.name, self.dimensions, self.cheap = model.name, model.dimensions, False
        self.held: set[str] = set()
        self.gate = threading.Event()
        self.reached = threading.Event()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if self.held.intersection(texts):
            self.reached.set()
            assert self.gate.wait(60), "the test never opened the gate"
        return self._model.embed(texts)


@pytest.fixture(scope="module")
def minilm() -> OnnxEmbedder:
    return OnnxEmbedder()


@pytest.fixture
def dual_settings(tmp_path: Path, store_url: str) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), embedder="static+onnx",
                    store_url=store_url, extractor="off")


@pytest.fixture
def gated(minilm: OnnxEmbedder) -> Iterator[Gated]:
    model = Gated(minilm)
    yield model
    model.gate.set()  # a failing test must not leave a writer thread waiting


@pytest.fixture
async def dual(dual_settings: Settings, embedder: StaticEmbedder,
               gated: Gated) -> AsyncIterator[MemoryEngine]:
    engine = MemoryEngine(dual_settings, embedder=embedder, second_embedder=gated)
    await engine.start()
    try:
        yield engine
    finally:
        gated.gate.set()
        await engine.close()


async def save(engine: MemoryEngine, s: Scope, text: str) -> str:
    event_id = await engine.save_response(s, Caller(s.user_id), user_text=text,
                                          assistant_text="Noted.")
    assert event_id is not None and await engine.flush(60)
    return event_id


async def second_vectors(store: Store, s: Scope) -> dict[str, bytes | None]:
    return {item.id: item.second_embedding for item in await store.load_items(s, time.time())}


async def settled(engine: MemoryEngine) -> None:
    assert engine.second is not None
    assert await engine.second.wait_idle(60)


def test_the_setting_is_validated() -> None:
    assert Settings(embedder="static+onnx").embedder == "static+onnx"
    with pytest.raises(BadRequest):
        Settings(embedder="onnx+static")  # type: ignore[arg-type]
    both = Settings.from_env(environ={"VOXMEM_EMBEDDER": "static+onnx"})
    assert isinstance(load_embedder(both), StaticEmbedder)
    assert isinstance(load_second_embedder(both), OnnxEmbedder)
    assert load_second_embedder(Settings(embedder="static")) is None
    assert load_second_embedder(Settings(embedder="onnx")) is None


async def test_a_save_gets_both_vectors(dual: MemoryEngine, gated: Gated) -> None:
    s = dual.scope(project_id="p", agent_id="a", user_id="ana")
    first = await save(dual, s, "I moved to Lisbon last spring")
    await settled(dual)
    blob = (await second_vectors(dual.store, s))[first]
    assert blob is not None and len(blob) == 4 * gated.dimensions
    expected = gated.embed(["I moved to Lisbon last spring\nNoted."])[0]
    assert np.allclose(np.frombuffer(blob, dtype=np.float32), expected, atol=1e-6)
    mem = dual.callers.peek(s)
    assert mem is not None and mem.index.second is not None
    pos = mem.index.position_of(first)
    assert pos is not None and mem.index.second.has[pos]
    result = await dual.search_memory(s, "which city do I live in now?", timeout_ms=10_000)
    assert result.trace["fullModel"] == {"working": "ranked", "permanent": "ranked"}
    assert any("Lisbon" in h["text"] for h in result.working)
    # The org lane stays on the table: a knowledge search does not embed by MiniLM.
    knowledge = await dual.search_memory(s, "opening hours", intent="knowledge")
    assert "fullModel" not in knowledge.trace
    # The table's vector is the first column, as with embedder="static".
    rows = await dual.store.missing_embeddings(dual.embedder.name, 10)
    assert first not in [rid for rid, _ in rows]


async def test_a_memory_without_its_second_vector_is_still_found(
        dual: MemoryEngine, gated: Gated) -> None:
    s = dual.scope(project_id="p", agent_id="a", user_id="bo")
    await save(dual, s, "My dog Rex loves long walks by the river")
    await settled(dual)
    late = "I work night shifts as a nurse at the county hospital"
    gated.held.add(f"{late}\nNoted.")
    late_id = await save(dual, s, late)
    assert await asyncio.to_thread(gated.reached.wait, 60)  # the writer holds it now
    mem = dual.callers.peek(s)
    assert mem is not None and mem.index.second is not None
    pos = mem.index.position_of(late_id)
    assert pos is not None and not mem.index.second.has[pos]
    assert (await second_vectors(dual.store, s))[late_id] is None
    result = await dual.search_memory(s, "what is my job at the hospital?",
                                      timeout_ms=10_000)
    assert result.trace["fullModel"]["working"] == "ranked"
    assert result.working and result.working[0]["id"] == late_id
    gated.gate.set()
    await settled(dual)
    assert mem.index.second.has[pos]
    assert (await second_vectors(dual.store, s))[late_id] is not None


async def test_a_deadline_before_the_query_vector_ranks_without_it(
        dual: MemoryEngine, gated: Gated) -> None:
    s = dual.scope(project_id="p", agent_id="a", user_id="cy")
    await save(dual, s, "I booked a table at the harbour restaurant for Friday")
    await settled(dual)
    question = "where did I book dinner?"
    gated.held.add(question)
    result = await dual.search_memory(s, question, timeout_ms=2_000)
    assert gated.reached.is_set()
    assert result.trace["fullModel"] == {"working": "deadline", "permanent": "deadline"}
    assert not result.trace["degraded"]
    assert any("harbour" in h["text"] for h in result.working)


async def test_erasure_removes_both_vectors(dual: MemoryEngine, gated: Gated) -> None:
    s = dual.scope(project_id="p", agent_id="a", user_id="dee")
    kept = await save(dual, s, "My sister Maria lives in Porto")
    await settled(dual)
    held = "My brother Tom is visiting from Leeds next May"
    gated.held.add(f"{held}\nNoted.")
    pending = await save(dual, s, held)
    assert await asyncio.to_thread(gated.reached.wait, 60)
    await dual.forget_user(s)
    gated.gate.set()  # the writer's vector for an erased row lands nowhere
    await settled(dual)
    assert await dual.store.load_items(s, time.time()) == []
    left = await dual.store.missing_embeddings("another-model", 100, column=SECOND_COLUMN)
    assert not {kept, pending} & {rid for rid, _ in left}
    mem = dual.callers.peek(s)
    assert mem is None or (kept not in mem.index and pending not in mem.index)


async def test_rows_are_reembedded_by_the_second_models_name(
        dual_settings: Settings, embedder: StaticEmbedder, minilm: OnnxEmbedder) -> None:
    engine = MemoryEngine(dual_settings, embedder=embedder, second_embedder=minilm)
    await engine.start()
    try:
        s = engine.scope(project_id="p", agent_id="a", user_id="eve")
        ids = [await save(engine, s, f"Note number {i}: call me after six") for i in range(3)]
        await settled(engine)
        # As if a release with another second model had written them.
        await engine.store.set_embeddings([(i, b"\x00" * 16) for i in ids], "old-minilm",
                                          column=SECOND_COLUMN)
    finally:
        await engine.close()
    engine = MemoryEngine(dual_settings, embedder=embedder, second_embedder=minilm)
    await engine.start()
    try:
        assert engine.second is not None
        await asyncio.wait_for(engine.second.swept.wait(), 120)
        missing = await engine.store.missing_embeddings(minilm.name, 100, column=SECOND_COLUMN)
        assert not set(ids) & {rid for rid, _ in missing}
        stored = await second_vectors(engine.store, s)
        assert all(stored[i] is not None and len(stored[i] or b"") == 4 * minilm.dimensions
                   for i in ids)
        # The first column keeps the table's vectors: each column by its own model.
        assert not set(ids) & {rid for rid, _ in
                               await engine.store.missing_embeddings(embedder.name, 100)}
    finally:
        await engine.close()


async def test_the_vector_columns_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown vector column"):
        await store.set_embeddings([("x", b"\x00" * 16)], "m", table="chunks",
                                   column=SECOND_COLUMN)
    with pytest.raises(ValueError, match="unknown vector column"):
        await store.missing_embeddings("m", 10, column="text")


# -- an older store upgraded in place --------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def schema_8(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a store an older release left at schema 8, holding one old call."""
    data = tmp_path / "data"
    if request.param == "sqlite":
        with _old_schema.sqlite_written_at(data / "voxmem.db", 8, old_batch(scope())):
            pass
        yield Settings(data_dir=str(data), embedder="static+onnx", extractor="off")
        return
    dsn = _postgres.require(request.getfixturevalue("postgres_server"))
    owner = _postgres.database_at(dsn, 8)
    app_url = _postgres.app_dsn(dsn, _postgres.database_of(owner))

    async def write() -> None:
        async with _old_schema.postgres_written(app_url, old_batch(scope())):
            pass

    _postgres._run_async(write())
    assert _postgres.upgrade(owner) == LATEST
    yield Settings(data_dir=str(data), embedder="static+onnx", store_url=app_url,
                   extractor="off")
    _postgres.drop_database(dsn, app_url)


async def test_migration_0009_applies_on_an_existing_store(
        schema_8: Settings, embedder: StaticEmbedder, minilm: OnnxEmbedder) -> None:
    engine = MemoryEngine(schema_8, embedder=embedder, second_embedder=minilm)
    await engine.start()
    try:
        assert await engine.store.schema_version() == LATEST
        assert engine.second is not None
        await asyncio.wait_for(engine.second.swept.wait(), 120)
        s = engine.scope(project_id="p1", agent_id="a1", user_id="vera")
        stored = await second_vectors(engine.store, s)
        assert len(stored) == len(OLD_TEXTS)
        assert all(v is not None and len(v) == 4 * minilm.dimensions for v in stored.values())
        result = await engine.search_memory(s, OLD_TEXTS[0], timeout_ms=10_000)
        assert result.trace["fullModel"]["permanent"] == "ranked"
        assert any(h["text"].startswith(OLD_TEXTS[0]) for h in result.permanent)
    finally:
        await engine.close()


# -- the parts -----------------------------------------------------------------------------
def test_the_third_list_joins_the_fusion_with_its_own_weight_and_floor() -> None:
    params = side_by_side_params(RankParams())
    assert (params.dense_weight, params.second_weight, params.second_floor) == (0.25, 0.75, 0.15)
    keyword, table = ["a", "b"], [("b", 0.9), ("c", 0.2)]
    two = rrf(keyword, table, params)
    # Without the second model's ranking the fusion is the two lists' as it always was.
    assert two == rrf(keyword, table, params, None)
    k = params.rrf_k
    assert two["a"] == pytest.approx((1 / (k + 1)) / ((1 + 0.25) / (k + 1)))
    three = rrf(keyword, table, params, [("d", 0.5), ("a", 0.4), ("e", 0.1)])
    best = (1 + 0.25 + 0.75) / (k + 1)
    assert three["d"] == pytest.approx(0.75 / (k + 1) / best)
    assert three["a"] == pytest.approx((1 / (k + 1) + 0.75 / (k + 2)) / best)
    assert "e" not in three  # under the floor and found by no other list
    assert "c" not in three  # under the table's floor, as before
    assert max(three.values()) <= 1.0


def test_the_second_matrix_ranks_only_rows_that_have_a_vector() -> None:
    index = HybridIndex(4)
    index.add("early", ["a"], created_at=1.0, group=1)
    index.keep_second(3)
    index.add_many(["x", "y", "z"], [["b"], ["c"], ["d"]], created_at=[2.0, 3.0, 4.0],
                   payloads=[None] * 3, groups=[1, 2, 2])
    unit = np.eye(3, dtype=np.float32)
    assert index.set_second("x", unit[0]) == 1
    assert index.set_second("z", unit[0] * 0.6 + unit[1] * 0.8) == 3
    assert index.set_second("gone", unit[0]) is None
    ranked = index.search_second(unit[0], 10)
    assert ranked.positions.tolist() == [1, 3]  # "early" and "y" have none
    assert index.search_second(unit[0], 10, Where(groups=(2,))).positions.tolist() == [3]
    index.remove("x")
    assert index.search_second(unit[0], 10).positions.tolist() == [3]
    assert HybridIndex(4).search_second(unit[0], 10).positions.tolist() == []
