"""A restart views the saved org graph in place (no copy on the start's critical path)
and loads a copy only when the graph must change: answers are the same before and after,
and removals and additions made while it is a view are kept."""

from __future__ import annotations

import numpy as np
import pytest

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._org_memory import OrgMemory

T, P = "default", "p1"
TEXTS = [f"Branch {i} of the library on Elm Road lends {i % 7 + 2} books a week and "
         f"opens at {i % 5 + 7} on {('Monday', 'Sunday', 'Friday')[i % 3]}s; late fees "
         f"for children are {i % 4} pence." for i in range(120)]


def _docs(prefix: str, texts: list[str]) -> list[dict[str, object]]:
    return [{"id": f"{prefix}{i}", "text": t, "metadata": {}} for i, t in enumerate(texts)]


async def _open(settings: Settings) -> tuple[MemoryEngine, OrgMemory]:
    engine = MemoryEngine(settings)
    await engine.start()
    await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
    org = engine.org.loaded(T, P)
    assert org is not None
    return engine, org


def _dense(engine: MemoryEngine, org: OrgMemory, texts: list[str]) -> list[list[str]]:
    out = []
    for text in texts:
        vec = np.asarray(engine.embedder.embed([text])[0], dtype=np.float32)
        got = org.index.dense(vec, 5)
        out.append(org.index.ids_at(got.positions.tolist()))
    return out


async def _build(settings: Settings) -> None:
    engine, _ = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS))
    finally:
        await engine.close()


async def test_a_viewed_graph_answers_as_the_loaded_copy(settings: Settings) -> None:
    await _build(settings)
    engine, org = await _open(settings)
    try:
        ann = org.index.ann
        assert ann is not None and ann.viewed and org.vectors_from == "file"
        viewed = _dense(engine, org, TEXTS[::7])
        assert all(len(ids) == 5 for ids in viewed)
        ann.settle()
        assert not ann.viewed
        assert _dense(engine, org, TEXTS[::7]) == viewed
    finally:
        await engine.close()


async def test_removals_and_additions_while_viewed_are_kept(settings: Settings) -> None:
    await _build(settings)
    engine, org = await _open(settings)
    try:
        ann = org.index.ann
        assert ann is not None and ann.viewed
        index = org.index
        gone = next(index.id_at(p) for p in range(index.rows)
                    if index.payload_at(p).document_id == "d3")
        assert gone in _dense(engine, org, [TEXTS[3]])[0]
        await engine.delete_documents(T, P, "kb", ["d3"])
        # Gone at once, whether the graph is still the view (the key only unmapped) or
        # the upkeep's save after the write has loaded the copy already.
        assert gone not in _dense(engine, org, [TEXTS[3]])[0]
        await engine.create_index(T, P, "kb", _docs("n", ["Oak Lane reading room opens "
                                                          "at noon on Tuesdays."]))
        await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
        org.index.maintain()  # what the upkeep runs: the flush loads a copy first
        assert not ann.viewed and ann.pending == 0
        hits = await engine.search_index(T, P, None, "Oak Lane reading room", 3)
        assert hits[0]["text"].startswith("Oak Lane reading room")
        assert gone not in _dense(engine, org, [TEXTS[3]])[0]
    finally:
        await engine.close()
    engine, org = await _open(settings)
    try:
        assert org.vectors_from == "file"
        assert gone not in _dense(engine, org, [TEXTS[3]])[0]
        hits = await engine.search_index(T, P, None, "Oak Lane reading room", 3)
        assert hits[0]["text"].startswith("Oak Lane reading room")
    finally:
        await engine.close()


async def test_a_removal_while_viewed_is_saved_without_the_removed_key(
        settings: Settings) -> None:
    await _build(settings)
    engine, org = await _open(settings)
    try:
        ann = org.index.ann
        assert ann is not None and ann.viewed
        await engine.delete_documents(T, P, "kb", ["d10", "d11"])
        # A changed graph is saved from a loaded copy, by the upkeep after the write or
        # here (whichever comes first; this waits for a save in flight).
        org.save(wait=True)
        assert not ann.viewed
        assert len(ann) == len(TEXTS) - 2
    finally:
        await engine.close()
    engine, org = await _open(settings)
    try:
        ann = org.index.ann
        assert ann is not None and org.vectors_from == "file"
        assert len(ann) == len(TEXTS) - 2  # the graph itself lost them, not only the map
    finally:
        await engine.close()


def test_search_breadth_grows_with_the_graph_past_the_threshold() -> None:
    from voxmem.engine._org_params import (
        ANN_EXPANSION_SEARCH,
        EF_GROWTH_FROM,
        EF_MAX,
        search_ef,
    )

    assert search_ef(10) == search_ef(EF_GROWTH_FROM) == ANN_EXPANSION_SEARCH
    assert ANN_EXPANSION_SEARCH < search_ef(2 * EF_GROWTH_FROM) < search_ef(1_000_000)
    assert search_ef(1_000_000) >= 1_024  # what 0.98 strict recall needs there
    assert search_ef(100_000_000) == EF_MAX


async def test_a_viewed_graph_searches_at_the_breadth_its_size_needs(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from voxmem.engine import _org_params

    await _build(settings)
    engine, org = await _open(settings)
    try:
        ann = org.index.ann
        assert ann is not None and ann.viewed
        monkeypatch.setattr(_org_params, "EF_GROWTH_FROM", 30)  # this graph is "large"
        expected = _org_params.search_ef(len(TEXTS))
        assert expected > _org_params.ANN_EXPANSION_SEARCH
        _dense(engine, org, TEXTS[:1])
        assert ann._ann.expansion_search == expected
        ann.settle()  # a new graph object: the breadth is set on it again
        _dense(engine, org, TEXTS[:1])
        assert ann._ann.expansion_search == expected
    finally:
        await engine.close()
