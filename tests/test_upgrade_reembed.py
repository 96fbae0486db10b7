"""A store whose vectors are from another embedding model (an upgrade changed the
default model, or the operator changed it) is re-embedded in the background at start.
A caller or org index loaded while that sweep runs must get the new vectors too, not
stay vector-less until a restart: the answers after the sweep are the answers a
restarted runtime gives. Both backends.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from voxmem import Settings
from voxmem.embeddings import Vectors
from voxmem.embeddings.hashing import HashingEmbedder
from voxmem.engine import MemoryEngine
from voxmem.models import Caller, Scope

T, P = "default", "p1"
TURNS = ["I keep the spare house key under the blue flowerpot",
         "my dog Biscuit travels with me in the cabin",
         "please send the invoices to my office in Portland",
         "I always want a window seat on long flights"]
DOCS = ["Checked baggage: two bags of up to 23 kg each; overweight bags cost 75 dollars.",
        "Pets in the cabin: small dogs under 8 kg in a soft carrier under the seat.",
        "Refunds for a cancelled flight arrive within seven business days."]
QUESTION = "where is the spare key for my dog"
ORG_QUESTION = "can my small dog sit in the cabin"


class HeldModel(HashingEmbedder):
    """An embedding model that answers single queries at once and holds every batch
    (the re-embedding sweep's) until released, as a busy embedding service would."""

    def __init__(self, dimensions: int) -> None:
        super().__init__(dimensions)
        self.release = threading.Event()
        self.batches = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        if len(texts) > 1:
            self.release.wait(60)
            self.batches += 1
        return super().embed(texts)


def _settings(settings: Settings) -> Settings:
    return Settings(data_dir=str(settings.data_path), store_url=settings.store_url,
                    embedder="hashing")


def _scope(engine: MemoryEngine) -> Scope:
    return engine.scope(project_id=P, agent_id="a", user_id="vera")


async def _write_with_the_old_model(settings: Settings) -> None:
    engine = MemoryEngine(settings, embedder=HashingEmbedder(64))
    await engine.start()
    try:
        scope = _scope(engine)
        for i, text in enumerate(TURNS):
            await engine.save_response(scope, Caller("vera"), user_text=text,
                                       assistant_text="Noted.", turn_id=f"t{i}")
        await engine.create_index(T, P, "faq", [
            {"id": f"d{i}", "text": t, "metadata": {}} for i, t in enumerate(DOCS)])
        assert await engine.flush(60)
    finally:
        await engine.close()


async def _answers(engine: MemoryEngine) -> dict[str, Any]:
    scope = _scope(engine)
    await engine.warm_org(scope)
    found = await engine.search_memory(scope, QUESTION, timeout_ms=60_000)
    org = await engine.search_index(T, P, None, ORG_QUESTION, 3)
    return {"memory": [(s["id"], float(s["score"])) for s in found.sources],
            "org": [(h["id"], float(h["score"])) for h in org]}


def _same(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """The same hits in the same order with the same scores (up to the recency a few
    seconds more adds; without vectors the scores were ~0.3 lower)."""
    return all([i for i, _ in one[k]] == [i for i, _ in other[k]] and all(
        abs(a - b) < 0.01 for (_, a), (_, b) in zip(one[k], other[k], strict=True))
        for k in ("memory", "org"))


async def test_what_loads_during_the_reembedding_gets_the_new_vectors(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(settings)
    await _write_with_the_old_model(settings)

    model = HeldModel(128)
    engine = MemoryEngine(settings, embedder=model)
    await engine.start()
    try:
        await _answers(engine)  # the caller and the org index load, the sweep is held
        model.release.set()
        assert await asyncio.wait_for(engine.reembedded.wait(), 60)
        assert model.batches >= 2  # items and chunks really were re-embedded
        assert await engine.store.missing_embeddings(model.name, 10) == []
        during = await _answers(engine)
    finally:
        await engine.close()

    restarted = MemoryEngine(settings, embedder=HashingEmbedder(128))
    await restarted.start()
    try:
        after = await _answers(restarted)
    finally:
        await restarted.close()
    assert _same(during, after), (during, after)
    # The org index loaded again saved its files alone: the one it replaced saved no
    # more (two writers removed each other's temporary files: "saving ... failed").
    # (voxmem's own records: on Postgres the pool may warn that it replaced a connection
    # a read cancelled at an engine's close left mid-exchange.)
    assert not [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and r.name.startswith("voxmem")]
