"""One hit shape on every path (both backends): a fact, turn or org chunk looks the same
whether recall found it in the warm index, preload read it from the store, or the org
lane asked the store while the project's index was still loading."""

from __future__ import annotations

import asyncio
from typing import Any

from voxmem.engine import MemoryEngine
from voxmem.engine._analysis import analyze
from voxmem.models import Caller

T, P = "default", "p1"


def _without_score(hit: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in hit.items() if key != "score"}


async def test_preload_facts_have_the_shape_of_recalled_facts(engine: MemoryEngine) -> None:
    s = engine.scope(project_id=P, agent_id="a1", user_id="olga", tenant_id=T)
    await engine.remember(s, "favourite_colour", "teal")
    await engine.save_response(s, Caller("olga"), user_text="My parrot is called Kiwi",
                               assistant_text="Kiwi is a great name")
    await engine.end_session(s)
    # The call's fact (the parrot) is learned in the background: settled before preload
    # and recall read the caller, so both see the same facts.
    assert await engine.flush(10, learning=True)
    engine.callers.drop(s)  # preload reads the store; recall then loads the caller
    preload = await engine.preload(s, Caller("olga"))
    [preloaded] = [f for f in preload.facts if "teal" in f["text"]]
    await engine.callers.get(s).ready.wait()
    result = await engine.search_memory(s, "favourite colour teal", timeout_ms=5000)
    [recalled] = [h for h in result.permanent if h["kind"] == "fact"]
    assert preloaded.keys() == recalled.keys()
    assert _without_score(preloaded) == _without_score(recalled)
    # The previous call's turns in preload are recall hits too.
    assert preload.last_session is not None
    [turn] = preload.last_session["turns"]
    about_kiwi = await engine.search_memory(s, "parrot called Kiwi", timeout_ms=5000)
    [recalled_turn] = [h for h in about_kiwi.permanent if h["kind"] == "turn"]
    assert turn.keys() == recalled_turn.keys()
    assert _without_score(turn) == _without_score(recalled_turn)


async def test_cold_org_hits_have_the_shape_of_warm_ones(engine: MemoryEngine) -> None:
    await engine.create_index(T, P, "faq", [
        {"id": "returns", "text": "Returns are accepted within thirty days of delivery.",
         "metadata": {"team": "support"}}], {"owner": "ops"})
    s = engine.scope(project_id=P, agent_id="a1", user_id="pavel", tenant_id=T)
    await engine.org.warm(T, P)
    warm = await engine.search_memory(s, "returns within thirty days", lanes=("org",),
                                      timeout_ms=5000)
    assert warm.trace["coldLanes"] == []
    engine.org.drop(T, P)  # as after a restart: the org lane asks the store meanwhile
    query = "returns within thirty days"
    # The reload starts here, as on a restart's first recall; the lane decides warm or cold
    # before its first await, so with no await in between it must take the store's path.
    # (Checking `ready` after the lane raced: on Postgres the store's query awaits, and a
    # one-chunk reload can finish meanwhile.)
    reloading = engine.org.memory(T, P)
    assert not reloading.ready.is_set()
    vector: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    cold = await engine.org.lane(s, query, analyze(query), vector, 5)
    assert engine.org.memory(T, P) is reloading
    [warm_hit], [cold_hit] = warm.org, cold
    assert cold_hit.keys() == warm_hit.keys()
    assert {"createdAt", "createdAtTs", "index", "documentId", "metadata"} <= cold_hit.keys()
    assert _without_score(cold_hit) == _without_score(warm_hit)
    assert cold_hit["metadata"] == {"owner": "ops", "team": "support"}
