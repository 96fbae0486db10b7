"""Org knowledge on the approximate vector index: incremental writes, the persisted file
(reloaded, or rebuilt when stale or damaged), and recall against exact search."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests._org import saved_vector_file
from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._org_file import exact_path
from voxmem.engine._org_location import org_vector_path
from voxmem.engine._org_memory import OrgMemory
from voxmem.engine._org_snapshot import rows_path

DATA = Path(__file__).parent / "data"
T, P = "default", "p1"


def _org(engine: MemoryEngine) -> OrgMemory:
    org = engine.org.loaded(T, P)
    assert org is not None
    return org


async def _texts(engine: MemoryEngine, query: str, k: int = 5) -> list[str]:
    return [h["text"] for h in await engine.search_index(T, P, None, query, k)]


def _docs(prefix: str, texts: list[str]) -> list[dict[str, object]]:
    return [{"id": f"{prefix}{i}", "text": t, "metadata": {}} for i, t in enumerate(texts)]


async def test_adds_replaces_and_deletes_are_searchable_without_reload(
        engine: MemoryEngine) -> None:
    await engine.create_index(T, P, "faq", _docs("a", [
        "Refunds are issued within five business days to the original card.",
        "Our lounge in Lisbon opens at six in the morning.",
    ]))
    await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
    org = _org(engine)
    assert "Lisbon" in (await _texts(engine, "when does the Lisbon lounge open"))[0]
    # Replacing a document: the old chunk's vector and postings go, the new one is found.
    await engine.create_index(T, P, "faq", _docs("a", [
        "Refunds are issued within ten business days to the original card.",
    ]))
    texts = await _texts(engine, "how long do refunds take", 10)
    assert any("ten business days" in t for t in texts)
    assert not any("five business days" in t for t in texts)
    await engine.create_index(T, P, "manuals", _docs("m", [
        "To reset the thermostat hold the mode button for ten seconds.",
    ]))
    hits = await engine.search_index(T, P, None, "reset thermostat", 3)
    assert hits[0]["index"] == "manuals"
    # Deletions update the warm index in place: the same object, no reload from the store.
    assert await engine.delete_documents(T, P, "faq", ["a1"]) is not None
    assert _org(engine) is org
    assert not any("Lisbon" in t for t in await _texts(engine, "Lisbon lounge", 10))
    assert await engine.delete_index(T, P, "manuals") is not None
    assert _org(engine) is org
    assert not any("thermostat" in t for t in await _texts(engine, "reset thermostat", 10))
    assert "manuals" not in org.versions
    # The vector side alone agrees (not just BM25): the query's own vector finds nothing
    # of the deleted documents.
    vec = engine.embedder.embed(["To reset the thermostat hold the mode button"])[0]
    dense = org.index.dense(np.asarray(vec, dtype=np.float32), 10)
    assert all(org.index.payload_at(int(p)).index != "manuals" for p in dense.positions)


async def _build(settings: Settings, docs: list[dict[str, object]]) -> None:
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        await engine.create_index(T, P, "kb", docs)
        await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
    finally:
        await engine.close()  # saves the vector file


async def _reopen(settings: Settings) -> MemoryEngine:
    engine = MemoryEngine(settings)
    await engine.start()
    await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
    return engine


async def test_vector_file_is_reloaded_and_reconciled_with_the_store(
        settings: Settings, tmp_path: Path) -> None:
    docs = _docs("d", [f"Store {i} on Harbour Street opens at {i % 12 + 1} o'clock."
                       for i in range(60)])
    await _build(settings, docs)
    engine = await _reopen(settings)
    try:
        path = org_vector_path(settings.data_path, engine.org.store_id, T, P)
        assert path.exists()
        assert _org(engine).vectors_from == "file"
        assert "Store 7 " in (await _texts(engine, "Store 7 on Harbour Street"))[0]
        stale = tmp_path / "stale.usearch"
        shutil.copy(path, stale)
        # Change the store behind the file's back: a new document, a removed one.
        await engine.create_index(T, P, "kb", _docs("new", [
            "The ferry to the island leaves from pier nine every hour."]))
        await engine.delete_documents(T, P, "kb", ["d7"])
    finally:
        await engine.close()
    shutil.copy(stale, path)  # the file no longer matches the store
    rows_path(path).unlink()  # the rows from the store (rows file: test_org_rows_file.py)
    engine = await _reopen(settings)
    try:
        org = _org(engine)
        assert org.vectors_from == "file+store"
        vec = np.asarray(engine.embedder.embed(["ferry to the island from pier nine"])[0],
                         dtype=np.float32)
        top = org.index.dense(vec, 1)
        assert "ferry" in org.index.payload_at(int(top.positions[0])).text
        texts = await _texts(engine, "Store 7 on Harbour Street", 10)
        assert not any(t.startswith("Store 7 ") for t in texts)
    finally:
        await engine.close()


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
async def test_damaged_vector_file_is_rebuilt_from_the_store(
        settings: Settings, damage: str) -> None:
    docs = _docs("d", [f"Invoice {i} is due on the {i % 28 + 1}th of the month."
                       for i in range(40)])
    await _build(settings, docs)
    engine = MemoryEngine(settings)
    path = saved_vector_file(settings.data_path)
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) - 100]
    else:
        raw = bytearray(b"not an index at all")
    path.write_bytes(bytes(raw))
    await engine.start()
    try:
        await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
        org = _org(engine)
        assert org.vectors_from == "store"
        vec = np.asarray(engine.embedder.embed(["Invoice 13 is due"])[0], dtype=np.float32)
        assert len(org.index.dense(vec, 10)) == 10
    finally:
        await engine.close()
    # The rebuilt graph was saved over the damaged file and is used next time.
    engine = await _reopen(settings)
    try:
        assert _org(engine).vectors_from == "file"
    finally:
        await engine.close()


def _real_texts() -> tuple[list[str], list[str]]:
    """(chunks: a caller line and the agent's answer, questions: caller lines alone)."""
    texts: list[str] = []
    questions: list[str] = []
    for name in ("extraction_tune.jsonl", "extraction_set.jsonl"):
        for line in (DATA / name).read_text().splitlines():
            for turn in json.loads(line)["turns"]:
                texts.append(f"{turn['user_text']} {turn.get('assistant_text') or ''}")
                questions.append(turn["user_text"])
    return texts, questions


@pytest.mark.slow
async def test_org_vector_recall_against_exact_on_real_text(tmp_path: Path) -> None:
    """The bundled model's vectors of real utterances, through create_index as a client
    sends them: the approximate top 10 agrees with exact search (single-threaded graph
    builds below the parallel threshold, so the figure is deterministic)."""
    settings = Settings(data_dir=str(tmp_path / "data"), embedder="static")
    texts, questions = _real_texts()
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        for lo in range(0, len(texts), 100):
            await engine.create_index(T, P, "kb", _docs(f"b{lo}-", texts[lo:lo + 100]))
        await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
        org = _org(engine)
        await engine.flush()
        org.index.maintain(threads=1)
        assert org.index.ann is not None and org.index.ann.pending == 0
        n = org.index.rows
        alive = [p for p in range(n) if org.index.position_of(org.index.id_at(p)) == p]
        stored = [org.index.vector_at(p) for p in alive]
        assert all(row is not None for row in stored)
        matrix = np.stack([row for row in stored if row is not None]).astype(np.float32)
        exact_vectors = np.asarray(engine.embedder.embed(
            [org.index.payload_at(p).text for p in alive]), dtype=np.float32)
        queries = np.asarray(engine.embedder.embed(questions[::7][:150]),
                             dtype=np.float32)
        hits = 0
        for q in queries:
            threshold = np.sort(exact_vectors @ q)[-10]
            got = org.index.dense(q, 10).positions
            rows = np.searchsorted(np.asarray(alive), got)
            # Strict: a near-tie within float16 precision counts only when it is one
            # (the candidates are rescored exactly, so the graph's precision is moot).
            hits += int(np.sum(exact_vectors[rows] @ q >= threshold - 1e-6))
        assert len(matrix) == len(alive) >= 1_000
        assert hits / (10 * len(queries)) >= 0.98
    finally:
        await engine.close()


async def test_documents_written_while_the_index_loads_are_not_lost(
        engine: MemoryEngine) -> None:
    await engine.create_index(T, P, "kb", _docs("base", [f"Base fact number {i}."
                                                         for i in range(200)]))
    engine.org.drop(T, P)  # as after a restart: the next use loads it
    org = engine.org.memory(T, P)
    assert not org.ready.is_set()
    for i in range(5):
        await engine.create_index(T, P, "kb", _docs(f"late{i}-", [
            f"Late arrival {i}: the gate code is {4000 + i}."]))
    await org.ready.wait()
    assert len(org.index) == 205
    for i in range(5):
        assert f"gate code is {4000 + i}" in (await _texts(engine, f"gate code {4000 + i}",
                                                            1))[0]
    assert org.versions["kb"] == 6


async def test_deleted_chunks_are_never_returned_also_after_a_restart(
        settings: Settings) -> None:
    texts = [f"Branch {i} of the library on Elm Road lends {i % 7 + 2} books a week."
             for i in range(80)]
    await _build(settings, _docs("d", texts))
    engine = await _reopen(settings)
    try:
        await engine.delete_documents(T, P, "kb", ["d5", "d6"])
        await engine.create_index(T, P, "gone", _docs("g", ["The gone index's only fact."]))
        await engine.delete_index(T, P, "gone")
    finally:
        await engine.close()
    for _ in range(2):  # the restart after the deletes, and once more from its own file
        engine = await _reopen(settings)
        try:
            org = _org(engine)
            for deleted in (texts[5], texts[6], "The gone index's only fact."):
                vec = np.asarray(engine.embedder.embed([deleted])[0], dtype=np.float32)
                dense = org.index.dense(vec, 20)
                assert len(dense) == 20
                shown = {org.index.payload_at(int(p)).text for p in dense.positions}
                assert deleted not in shown
                assert deleted not in await _texts(engine, deleted, 20)
        finally:
            await engine.close()


async def test_dense_scores_are_exact_cosines_of_the_stored_vectors(
        engine: MemoryEngine) -> None:
    """The graph holds int8 codes; a hit's score and vector are the exact float32 ones
    (rescored), so near-ties are ordered as exact search orders them."""
    texts = [f"Platform {i} serves the {i % 9} o'clock train to Dover and Deal."
             for i in range(120)]
    await engine.create_index(T, P, "kb", _docs("p", texts))
    await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
    org = _org(engine)
    org.index.maintain(threads=1)
    assert org.index.ann is not None and org.index.ann.pending == 0
    stored = {c.id: np.frombuffer(c.embedding or b"", dtype=np.float32)
              for c in await engine.store.load_chunks(T, P)}
    query = np.asarray(engine.embedder.embed(["the train to Dover"])[0], dtype=np.float32)
    found = org.index.dense(query, 10)
    for pos, score in zip(found.positions.tolist(), found.scores.tolist(), strict=True):
        exact = stored[org.index.id_at(pos)]
        vec = org.index.vector_at(pos)
        assert vec is not None and np.array_equal(vec, exact)
        assert score == pytest.approx(float(exact @ query), abs=1e-6)
    exact_top = sorted(stored.values(), key=lambda v: -float(v @ query))[:10]
    assert found.scores[-1] >= float(exact_top[-1] @ query) - 1e-6


def _assert_exact_scores(org: OrgMemory, stored: dict[str, np.ndarray],
                         query: np.ndarray) -> None:
    found = org.index.dense(query, 10)
    assert len(found) == 10
    for pos, score in zip(found.positions.tolist(), found.scores.tolist(), strict=True):
        exact = stored[org.index.id_at(pos)]
        vec = org.index.vector_at(pos)
        assert vec is not None and np.array_equal(vec, exact)
        assert score == pytest.approx(float(exact @ query), abs=1e-6)


async def test_exact_vectors_are_saved_with_the_graph_and_read_after_a_restart(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    texts = [f"Gate {i} boards the {i % 11} o'clock flight to Oslo and Bergen."
             for i in range(90)]
    await _build(settings, _docs("g", texts))
    engine = await _reopen(settings)
    try:
        org = _org(engine)
        path = org_vector_path(settings.data_path, engine.org.store_id, T, P)
        assert org.vectors_from == "file" and exact_path(path).exists()
        assert org.index.ann is not None
        # Read from the saved file: nothing was copied into the scratch file.
        assert org.index.ann._exact.scratch_rows == 0
        stored = {c.id: np.frombuffer(c.embedding or b"", dtype=np.float32)
                  for c in await engine.store.load_chunks(T, P)}
        query = np.asarray(engine.embedder.embed(["the flight to Oslo"])[0],
                           dtype=np.float32)
        _assert_exact_scores(org, stored, query)
        # A vector added after the restart is rescored from the scratch file.
        await engine.create_index(T, P, "kb", _docs("new", ["Gate 99 boards last."]))
        org.index.maintain(threads=1)
        stored.update({c.id: np.frombuffer(c.embedding or b"", dtype=np.float32)
                       for c in await engine.store.load_chunks(T, P)})
        _assert_exact_scores(org, stored, np.asarray(
            engine.embedder.embed(["Gate 99 boards last."])[0], dtype=np.float32))
    finally:
        await engine.close()
    # An exact file that does not match (here: cut short) is not used: the vectors come
    # from the store, and the load saves a good file again.
    raw = exact_path(path).read_bytes()
    exact_path(path).write_bytes(raw[:-4])
    engine = await _reopen(settings)
    try:
        org = _org(engine)
        assert "do not match" in caplog.text
        assert org.index.ann is not None and org.index.ann._exact.scratch_rows > 0
        _assert_exact_scores(org, stored, query)
    finally:
        await engine.close()
    engine = await _reopen(settings)
    try:
        org = _org(engine)
        assert org.index.ann is not None and org.index.ann._exact.scratch_rows == 0
        _assert_exact_scores(org, stored, query)
    finally:
        await engine.close()
