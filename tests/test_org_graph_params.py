"""The org graph's build parameters: chosen by size, recorded in the vector file, a graph
saved with older ones read as it is and rebuilt (from the exact vectors) when its size
calls for better ones."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voxmem import Settings
from voxmem.engine import MemoryEngine, _org_params
from voxmem.engine._org_file import MAGIC
from voxmem.engine._org_location import org_vector_path
from voxmem.engine._org_memory import OrgMemory
from voxmem.engine._org_params import LARGE_GRAPH, SMALL_GRAPH, search_ef
from voxmem.engine._org_vectors import OrgVectors

T, P = "default", "p1"
TEXTS = [f"Branch {i} of the library on Elm Road lends {i % 7 + 2} books a week and "
         f"opens at {i % 5 + 7} on {('Monday', 'Sunday', 'Friday')[i % 3]}s; late fees "
         f"for children are {i % 4} pence." for i in range(120)]


def _everything(positions: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    return np.ones(positions.shape[0], dtype=np.bool_)


def _vectors(n: int, dims: int = 32) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(5)
    base = rng.normal(size=(n, dims)).astype(np.float32) + 1.5  # a shared direction
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    return base


def _best(ann: OrgVectors, query: npt.NDArray[np.float32]) -> int:
    found, scores = ann.search(query, 1, _everything)
    return int(found[np.argmax(scores)])


def test_a_graph_grown_past_the_threshold_is_rebuilt_with_the_large_parameters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _vectors(3_000)
    ann = OrgVectors(32, scratch_dir=tmp_path)
    try:
        ann.add(np.arange(1_500, dtype=np.int64), base[:1_500])
        ann.flush()
        assert ann.params == SMALL_GRAPH and not ann.needs_rebuild
        monkeypatch.setattr(_org_params, "LARGE_GRAPH_FROM", 2_000)
        # More go in on the small graph's parameters (a graph is rebuilt, not mixed) ...
        ann.add(np.arange(1_500, 2_500, dtype=np.int64), base[1_500:2_500])
        ann.flush()
        assert ann._ann.connectivity == SMALL_GRAPH.connectivity and ann.needs_rebuild
        removed = [7, 1_600]
        for pos in removed:
            ann.remove(pos)
        ann.add(np.arange(2_500, 3_000, dtype=np.int64), base[2_500:])  # pending
        assert ann.rebuild()
        assert ann.params == LARGE_GRAPH and not ann.needs_rebuild
        assert ann._ann.connectivity == LARGE_GRAPH.connectivity
        assert len(ann._ann) == 2_500 - len(removed)
        assert ann.pending == 500 and ann.dirty
        for i in range(0, 3_000, 29):
            if i not in removed:
                assert _best(ann, base[i]) == i
        for pos in removed:
            found, _ = ann.search(base[pos], 5, _everything)
            assert pos not in found.tolist()
        assert not ann.rebuild()  # nothing left to do
    finally:
        ann.close()


def test_a_cancelled_rebuild_leaves_the_graph_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _vectors(1_500)
    ann = OrgVectors(32, scratch_dir=tmp_path)
    try:
        ann.add(np.arange(1_500, dtype=np.int64), base)
        ann.flush()
        monkeypatch.setattr(_org_params, "LARGE_GRAPH_FROM", 1_000)
        ann.cancel_rebuild()
        assert not ann.rebuild()
        assert ann.params == SMALL_GRAPH and ann.needs_rebuild
        ann.cancel_rebuild(False)
        assert ann.rebuild() and ann.params == LARGE_GRAPH
    finally:
        ann.close()


def test_a_large_backlog_into_an_empty_graph_is_built_large_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_org_params, "LARGE_GRAPH_FROM", 1_000)
    base = _vectors(1_200)
    ann = OrgVectors(32, scratch_dir=tmp_path)
    try:
        ann.add(np.arange(1_200, dtype=np.int64), base)
        ann.flush()
        assert ann.params == LARGE_GRAPH and not ann.needs_rebuild
        assert ann._ann.connectivity == LARGE_GRAPH.connectivity
        saved = ann.export(tmp_path / "graph")
        assert saved.params == LARGE_GRAPH
        fresh = OrgVectors(32, scratch_dir=tmp_path)
        fresh.scale, fresh.params = saved.scale, saved.params
        fresh.restore((tmp_path / "graph").read_bytes(), saved.center, saved.keys,
                      saved.positions)
        fresh.put_exact(saved.positions, base[saved.positions])
        assert fresh.params == LARGE_GRAPH and not fresh.needs_rebuild
        assert all(_best(fresh, base[i]) == i for i in range(0, 1_200, 31))
        fresh.close()
    finally:
        ann.close()


def test_a_larger_graph_searches_on_its_own_curve() -> None:
    small = search_ef(1_000_000, SMALL_GRAPH.connectivity)
    large = search_ef(1_000_000, LARGE_GRAPH.connectivity)
    assert large < small  # better connected: a narrower search reaches the recall
    assert search_ef(100_000, LARGE_GRAPH.connectivity) == search_ef(100_000)


def _header(path: Path) -> dict[str, object]:
    raw = path.read_bytes()
    (length,) = struct.unpack_from("<I", raw, len(MAGIC))
    start = len(MAGIC) + 4
    header: dict[str, object] = json.loads(raw[start:start + length])
    return header


async def _open(settings: Settings) -> tuple[MemoryEngine, OrgMemory]:
    engine = MemoryEngine(settings)
    await engine.start()
    await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
    org = engine.org.loaded(T, P)
    assert org is not None
    await org.upgraded.wait()
    return engine, org


def _dense(engine: MemoryEngine, org: OrgMemory, texts: list[str]) -> list[str]:
    """The document of each text's nearest chunk."""
    out = []
    for text in texts:
        vec = np.asarray(engine.embedder.embed([text])[0], dtype=np.float32)
        got = org.index.dense(vec, 1)
        out.append(str(org.index.payload_at(int(got.positions[0])).document_id))
    return out


async def test_a_file_saved_with_older_parameters_is_read_then_rebuilt_and_saved(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, org = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", [{"id": f"d{i}", "text": t, "metadata": {}}
                                               for i, t in enumerate(TEXTS)])
        path = org_vector_path(settings.data_path, engine.org.store_id, T, P)
    finally:
        await engine.close()
    header = _header(path)
    assert (header["connectivity"], header["expansionAdd"]) == (
        SMALL_GRAPH.connectivity, SMALL_GRAPH.expansion_add)

    # An upgrade whose threshold this project is past: the saved graph (read as it is,
    # not rebuilt from the store) serves, the upkeep after the load rebuilds and saves.
    monkeypatch.setattr(_org_params, "LARGE_GRAPH_FROM", 50)
    engine, org = await _open(settings)
    try:
        assert org.vectors_from == "file" and org.rows_from == "file"
        ann = org.index.ann
        assert ann is not None and ann.params == LARGE_GRAPH and not ann.viewed
        answers = _dense(engine, org, TEXTS[::9])
        assert answers == [f"d{i}" for i in range(0, len(TEXTS), 9)]
    finally:
        await engine.close()
    header = _header(path)
    assert (header["connectivity"], header["expansionAdd"]) == (
        LARGE_GRAPH.connectivity, LARGE_GRAPH.expansion_add)

    engine, org = await _open(settings)  # the rebuilt graph's file, viewed as saved
    try:
        ann = org.index.ann
        assert ann is not None and ann.viewed and ann.params == LARGE_GRAPH
        assert org.vectors_from == "file" and not ann.needs_rebuild
        assert _dense(engine, org, TEXTS[::9]) == answers
    finally:
        await engine.close()
