"""The second-vector writer (``embedder="static+onnx"``) does not lose vectors to a store
outage: the ones the store refused are written once it is back, without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from voxmem import Settings, StoreUnavailable
from voxmem.embeddings.onnx import OnnxEmbedder
from voxmem.embeddings.static import StaticEmbedder
from voxmem.engine import MemoryEngine
from voxmem.models import Caller


@pytest.fixture(scope="module")
def minilm() -> OnnxEmbedder:
    return OnnxEmbedder()


@pytest.fixture
async def dual(tmp_path: Path, store_url: str, embedder: StaticEmbedder,
               minilm: OnnxEmbedder) -> AsyncIterator[MemoryEngine]:
    settings = Settings(data_dir=str(tmp_path / "data"), embedder="static+onnx",
                        store_url=store_url, extractor="off")
    engine = MemoryEngine(settings, embedder=embedder, second_embedder=minilm)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.close()


async def test_vectors_the_store_refused_while_down_are_written_when_it_is_back(
        dual: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dual.second is not None
    real = dual.store.set_embeddings
    refused = asyncio.Event()
    down = True

    async def outage(rows: Sequence[tuple[str, bytes]], model: str, **kw: Any) -> None:
        # The store as an outage shows it (a dead Postgres, a locked file).
        if down:
            refused.set()
            raise StoreUnavailable("the store is down")
        await real(rows, model, **kw)

    monkeypatch.setattr(dual.store, "set_embeddings", outage)
    s = dual.scope(project_id="p", agent_id="a", user_id="ana")
    event_id = await dual.save_response(s, Caller("ana"), user_text="I moved to Lisbon",
                                        assistant_text="Noted.")
    assert event_id is not None and await dual.flush(60)  # the row itself is stored
    await asyncio.wait_for(refused.wait(), 60)
    down = False

    assert await dual.second.wait_idle(120)
    stored = {i.id: i.second_embedding for i in await dual.store.load_items(s, time.time())}
    assert stored[event_id] is not None
    assert dual.second.failed == 0 and dual.second.retries >= 1
    mem = dual.callers.peek(s)
    assert mem is not None and mem.index.second is not None
    pos = mem.index.position_of(event_id)
    assert pos is not None and mem.index.second.has[pos]
