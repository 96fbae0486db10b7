"""A caller's memory reloaded from the store ranks exactly as it did while in memory.

Learned facts were journaled without their vectors: indexed with one while warm, they
came back from the store without, which left them out of the vector ranking and moved
every hit's score (0.064354 warm, 0.065761 reloaded, for the same hits in the same
order). The applier now stores a fact with the vector the learning indexed it with.
"""

from __future__ import annotations

from pathlib import Path

from tests.test_topic_priming import _lines
from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.models import Caller

QUERY = "What instruments does Melanie play?"


async def test_a_reloaded_caller_scores_as_the_warm_one(tmp_path: Path, store_url: str) -> None:
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "data"), embedder="static",
                                   store_url=store_url, background_processes=0))
    await engine.start()
    try:
        scope = engine.scope(project_id="p", agent_id="a", user_id="mel")
        who = Caller("mel", "Melanie")
        for text in _lines(40):
            await engine.save_response(scope, who, user_text=text, assistant_text="Noted.")
        await engine.end_session(scope)
        assert await engine.flush(60, learning=True)
        warm = await engine.search_memory(scope, QUERY, timeout_ms=5000)
        assert any(h["kind"] == "fact" for h in warm.permanent)  # learned, and a hit
        engine.callers.drop(scope)
        mem = engine.callers.get(scope)
        await mem.primed.wait()
        assert mem.load_error is None
        reloaded = await engine.search_memory(scope, QUERY, timeout_ms=5000)
        assert not warm.trace["degraded"] and not reloaded.trace["degraded"]
        assert [(h["id"], h["score"]) for h in reloaded.permanent] == [
            (h["id"], h["score"]) for h in warm.permanent]
        # Every fact came back with its vector (what the scores depend on).
        facts = [h["id"] for h in warm.permanent if h["kind"] == "fact"]
        for fact_id in facts:
            pos = mem.index.position_of(fact_id)
            assert pos is not None and mem.index.vector_at(pos) is not None
    finally:
        await engine.close()
