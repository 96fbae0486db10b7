"""One model for stored memories and another for queries (``PairedEmbedder``): the pair
is built only for models of one vector space, and the engine embeds queries with the
query model and everything stored with the memories' model."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from voxmem._config import Settings
from voxmem._exceptions import BadRequest
from voxmem.embeddings import (
    Embedder,
    PairedEmbedder,
    Vectors,
    query_side,
    vector_space,
)
from voxmem.embeddings.hashing import HashingEmbedder
from voxmem.embeddings.static import DEFAULT_STATIC_MODEL_DIR, StaticEmbedder
from voxmem.engine._lanes import LaneRunner


class _Recording:
    """An embedder of a named space that records what it was asked to embed."""

    cheap = True

    def __init__(self, name: str, space: str, dimensions: int = 8) -> None:
        self.name = name
        self.vector_space = space
        self.dimensions = dimensions
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.seen.extend(texts)
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        out[:, 0] = 1.0
        return out


def test_vector_space_defaults_to_the_model_itself() -> None:
    hashing = HashingEmbedder()
    assert vector_space(hashing) == hashing.name
    assert vector_space(_Recording("a", "shared")) == "shared"


def test_pair_of_one_space_embeds_memories_and_queries_apart() -> None:
    memories, queries = _Recording("table", "space-x"), _Recording("full", "space-x")
    pair = PairedEmbedder(memories, queries)
    assert isinstance(pair, Embedder)
    pair.embed(["I moved to Lisbon"])
    assert memories.seen == ["I moved to Lisbon"] and queries.seen == []
    assert query_side(pair) is queries
    assert query_side(memories) is memories
    # Both names: stored vectors and fusion weights belong to this pairing.
    assert pair.name == "table+q:full"
    assert pair.dimensions == 8 and pair.vector_space == "space-x"


def test_pair_cheap_is_the_query_models() -> None:
    slow = _Recording("full", "s")
    slow.cheap = False
    assert PairedEmbedder(_Recording("t", "s"), slow).cheap is False
    assert PairedEmbedder(slow, _Recording("t", "s")).cheap is True


@pytest.mark.parametrize(("space", "dims"), [("other-space", 8), ("space-x", 4)])
def test_pair_of_different_spaces_or_sizes_is_refused(space: str, dims: int) -> None:
    with pytest.raises(BadRequest) as info:
        PairedEmbedder(_Recording("table", "space-x"), _Recording("full", space, dims))
    assert info.value.details["field"] == "embedder"
    assert "table" in info.value.message and "full" in info.value.message


def test_bundled_table_declares_minilms_space() -> None:
    # Trained into MiniLM's space without PCA: it pairs with the full model.
    assert StaticEmbedder().vector_space == "sentence-transformers/all-MiniLM-L6-v2"


def test_a_table_of_its_own_space_does_not_pair_with_the_full_model(tmp_path: Path) -> None:
    # A table without the declaration (a PCA-rotated one, whose numbers are not
    # MiniLM's) is a space of its own: a query by the full model must not be compared.
    own = tmp_path / "own"
    shutil.copytree(DEFAULT_STATIC_MODEL_DIR, own)
    config = json.loads((own / "config.json").read_text("utf-8"))
    del config["vector_space"]
    (own / "config.json").write_text(json.dumps(config), "utf-8")
    static = StaticEmbedder(own)
    assert static.vector_space == static.name
    with pytest.raises(BadRequest):
        PairedEmbedder(static, _Recording("minilm", "sentence-transformers/all-MiniLM-L6-v2",
                                          static.dimensions))


def test_a_table_declaring_its_teachers_space_pairs_with_it(tmp_path: Path) -> None:
    tuned = tmp_path / "tuned"
    shutil.copytree(DEFAULT_STATIC_MODEL_DIR, tuned)
    config = json.loads((tuned / "config.json").read_text("utf-8"))
    config["vector_space"] = "teacher-space"
    (tuned / "config.json").write_text(json.dumps(config), "utf-8")
    table = StaticEmbedder(tuned)
    assert table.vector_space == "teacher-space"
    pair = PairedEmbedder(table, _Recording("teacher", "teacher-space", table.dimensions))
    assert pair.name.startswith(table.name + "+q:")


async def test_lane_runner_embeds_the_query_with_the_query_model() -> None:
    memories, queries = _Recording("table", "s"), _Recording("full", "s")
    lanes = LaneRunner(PairedEmbedder(memories, queries))
    try:
        vector = await lanes.embed_query("where do I live now?")
    finally:
        lanes.shutdown()
    assert vector is not None and vector.shape == (8,)
    assert queries.seen == ["where do I live now?"] and memories.seen == []


class _RecordingHashing(HashingEmbedder):
    """The hashing embedder under another name, recording its inputs (one shared space)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.vector_space = "hashing-space"
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.seen.extend(texts)
        return super().embed(texts)


async def test_engine_stores_with_the_memory_model_and_searches_with_the_query_model(
        tmp_path: Path, store_url: str) -> None:
    from voxmem.engine import MemoryEngine
    from voxmem.models import Caller

    memories, queries = _RecordingHashing("mem-model"), _RecordingHashing("query-model")
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "d"), store_url=store_url,
                                   fusion="rrf"),
                          embedder=PairedEmbedder(memories, queries))
    await engine.start()
    try:
        scope = engine.scope(project_id="p", agent_id="a", user_id="dana")
        now = time.time()  # inside the default retention window
        await engine.import_history(scope, Caller("dana"), [{"startedAt": now, "turns": [
            {"userText": "my parrot Ziggy learned to whistle", "assistantText": "",
             "createdAt": now}]}])
        assert await engine.flush(60)
        result = await engine.search_memory(scope, "what did Ziggy learn?",
                                            lanes=["permanent"], timeout_ms=5000)
    finally:
        await engine.close()
    assert "Ziggy" in str(result.permanent[0]["text"])
    assert any("Ziggy learned" in text for text in memories.seen)
    assert "what did Ziggy learn?" not in memories.seen
    assert queries.seen == ["what did Ziggy learn?"]


def test_the_bundled_table_pairs_with_onnx_queries() -> None:
    pytest.importorskip("onnxruntime")
    from voxmem.embeddings.onnx import OnnxEmbedder

    pair = PairedEmbedder(StaticEmbedder(), OnnxEmbedder())
    assert pair.cheap is False and pair.dimensions == 384
    # One space: a text embedded by both models lands close (the table's training target).
    text = "my daughter starts college in September"
    assert float(pair.embed([text])[0] @ pair.queries.embed([text])[0]) > 0.8
