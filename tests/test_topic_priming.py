"""The topic features read at load time agree with the features as defined.

A loaded caller's turns are tokenised on a worker thread right after the load
(``TopicModel.prime``) instead of on the first search that has them as candidates, and
the token rows are multiplied block by block. The fusion weights were fitted on the
features as first computed, so each path is checked against a plain per-candidate
computation of the definition.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voxmem import Settings
from voxmem.embeddings.static import StaticEmbedder
from voxmem.engine import MemoryEngine
from voxmem.engine._analysis import STOPWORDS, analyze
from voxmem.engine._caller_memory import Doc
from voxmem.engine._fusion import FEATURES, candidate_features
from voxmem.engine._index import BoolArray, HybridIndex, IntArray, Ranked
from voxmem.engine._speakers import speaker_features, speaker_label
from voxmem.engine._topic import (
    _QUESTION_WORDS,
    TopicModel,
    _token_sims,
    _tokens_of,
    topic_words,
)
from voxmem.models import Caller

NOW = 1_780_000_000.0
DAY = 86_400.0
#: Words the test's turns are made of.
WORD_TEXT = ("violin clarinet guitar piano painting pottery camping hiking swimming running "
             "birthday wedding concert museum library garden kitchen bakery recipe dinner "
             "lunch breakfast coffee tea dog cat turtle horse parrot doctor dentist nurse "
             "appointment invoice parcel order delivery refund account password address "
             "Lisbon Tokyo Paris Berlin mountain beach river forest sunset winter summer "
             "spring autumn school college exam teacher student book novel poem song movie "
             "family mother father sister brother daughter son friend neighbour colleague "
             "support group meeting volunteer charity adoption counseling career job office "
             "vacation flight hotel train bicycle car truck boat lake island festival parade")
WORDS = WORD_TEXT.split()
QUESTIONS = ("What instruments does Melanie play?", "What did Caroline paint last summer?",
             "Where has Melanie camped with her family?", "when is my dentist appointment",
             "What pets does Caroline have?", "which books did I order for my daughter")


def _lines(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        said = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 18)))
        who = rng.choice(("Melanie: I love my ", "Caroline: we went to the ", "my "))
        out.append(who + said)
    return out


def _index(embedder: StaticEmbedder, lines: list[str]) -> HybridIndex:
    index = HybridIndex(embedder.dimensions)
    vectors = embedder.embed(lines)
    for n, text in enumerate(lines):
        index.add(f"t{n}", analyze(text), vector=vectors[n], created_at=NOW - DAY,
                  group=1 + n // 4, payload=Doc(kind="turn", text=text, created_at=NOW - DAY))
    return index


def _everything(positions: IntArray) -> BoolArray:
    return np.ones(positions.shape[0], dtype=np.bool_)


def _computed(index: HybridIndex, embedder: StaticEmbedder, query: str,
              topic: TopicModel) -> dict[int, tuple[float, float]]:
    """(topic_cosine, topic_match) per position, as recall computes them."""
    live = np.flatnonzero(index.alive_at(np.arange(index.rows)))
    n = live.shape[0]
    fused = [(p, 1.0 - i / (2 * n)) for i, p in enumerate(live.tolist())]
    ranked = Ranked(live.astype(np.int64), np.linspace(1.0, 0.5, n).astype(np.float32))
    cands = candidate_features(index, fused, [ranked], [Ranked.empty()],
                               embedder.embed([query])[0], NOW, None, _everything, query,
                               topic)
    cos, match = FEATURES.index("topic_cosine"), FEATURES.index("topic_match")
    return {int(p): (float(row[cos]), float(row[match]))
            for p, row in zip(cands.positions, cands.features, strict=True)}


def _defined(index: HybridIndex, embedder: StaticEmbedder,
             query: str) -> dict[int, tuple[float, float]]:
    """The features' definition, one candidate and one word at a time (no caches)."""
    table = embedder.token_table().astype(np.float64)
    stop = {i for ids in embedder.token_ids(sorted(STOPWORDS | _QUESTION_WORDS)) for i in ids}
    positions = np.arange(len(index), dtype=np.int64)
    *_, names = speaker_features(index, positions, index.groups_at(positions), query)
    said = topic_words(query, names)
    kept = [(w, ids) for w, ids in zip(said, embedder.token_ids(said), strict=True) if ids]

    def unit(ids: list[int]) -> npt.NDArray[np.float64]:
        v: npt.NDArray[np.float64] = table[ids].mean(axis=0)
        return v / float(np.linalg.norm(v))

    topic = unit([i for _, ids in kept for i in ids])
    units = [unit(ids) for _, ids in kept]
    idf = index.idf([(analyze(w) or [""])[0] for w, _ in kept])
    share = np.asarray(idf) / sum(idf)
    out = {}
    for pos in positions.tolist():
        text = index.payload_at(pos).text
        text = text.partition(":")[2] if speaker_label(text) else text
        tokens = sorted(set(embedder.token_ids([text])[0]) - stop)
        rows = table[tokens] / np.linalg.norm(table[tokens], axis=1)[:, None]
        best = [max(0.0, float((rows @ u).max())) for u in units]
        vector = index.vectors_at(np.array([pos]))[0].astype(np.float64)
        out[pos] = (max(0.0, float(vector @ topic)), float(np.dot(best, share)))
    return out


def test_token_sims_are_the_plain_product(embedder: StaticEmbedder,
                                          topic: TopicModel) -> None:
    # Enough tokens for several blocks, in the order recall passes them (ascending).
    table = embedder.token_table()
    tokens = np.sort(np.random.default_rng(3).choice(table.shape[0], 3000, replace=False))
    units = np.random.default_rng(4).standard_normal((table.shape[1], 3)).astype(np.float32)
    norms = np.linalg.norm(table, axis=1)
    inv = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0).astype(np.float32)
    got = _token_sims(table, inv, tokens, units)
    want = (table[tokens].astype(np.float64) @ units) * inv[tokens][:, None]
    assert got.shape == (3000, 3)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)


@pytest.mark.parametrize("primed", [True, False])
def test_features_read_at_load_or_on_search_are_the_defined_ones(
        embedder: StaticEmbedder, topic: TopicModel, primed: bool) -> None:
    index = _index(embedder, _lines(160))
    if primed:
        topic.prime(index, range(index.rows))
        assert (_tokens_of(index).length[:index.rows] >= 0).all()
    for query in QUESTIONS:
        got = _computed(index, embedder, query, topic)
        want = _defined(index, embedder, query)
        assert set(got) == set(want)
        assert max(v[1] for v in want.values()) > 0.3  # the queries have topic matches
        for pos, (cosine, match) in want.items():
            assert got[pos][0] == pytest.approx(cosine, abs=1e-5)
            assert got[pos][1] == pytest.approx(match, abs=1e-5)


def test_priming_skips_removed_rows_and_later_rows_are_read_on_search(
        embedder: StaticEmbedder, topic: TopicModel) -> None:
    lines = _lines(20)
    index = _index(embedder, lines[:10])
    assert index.remove("t3")
    topic.prime(index, range(index.rows))
    tokens = _tokens_of(index)
    assert tokens.length[3] == -1 and (np.delete(tokens.length[:10], 3) >= 0).all()
    vectors = embedder.embed(lines[10:])
    for n, text in enumerate(lines[10:], start=10):
        index.add(f"t{n}", analyze(text), vector=vectors[n - 10], created_at=NOW - DAY,
                  group=1 + n // 4, payload=Doc(kind="turn", text=text, created_at=NOW - DAY))
    fresh = _index(embedder, [t for n, t in enumerate(lines) if n != 3])
    query = "What instruments does Melanie play?"
    got, want = _computed(index, embedder, query, topic), _computed(fresh, embedder, query,
                                                                     topic)
    # Positions after the removed row shift by one in the fresh index.
    assert len(got) == len(want) == 19
    np.testing.assert_allclose([v for _, v in sorted(got.items())],
                               [v for _, v in sorted(want.items())], rtol=0, atol=1e-6)


async def test_a_loaded_caller_is_primed_and_answers_as_before(
        tmp_path: Path, store_url: str) -> None:
    # Learning off: facts learned from the call in the background would land between
    # the two searches compared (the turns' features are what is checked).
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "data"), embedder="static",
                                   store_url=store_url, extractor="off"))
    await engine.start()
    try:
        scope = engine.scope(project_id="p", agent_id="a", user_id="mel")
        who = Caller("mel", "Melanie")
        for text in _lines(40):
            await engine.save_response(scope, who, user_text=text, assistant_text="Noted.")
        await engine.end_session(scope)
        assert await engine.flush(60)
        query = "What instruments does Melanie play?"
        before = await engine.search_memory(scope, query, timeout_ms=5000)
        engine.callers.drop(scope)
        mem = engine.callers.get(scope)
        await mem.primed.wait()
        assert mem.ready.is_set() and mem.load_error is None
        length = _tokens_of(mem.index).length[:mem.index.rows]
        assert length.shape[0] == mem.index.rows and (length >= 0).all()
        after = await engine.search_memory(scope, query, timeout_ms=5000)
        assert not after.trace["degraded"]
        assert [(h["id"], h["score"]) for h in after.permanent] == [
            (h["id"], h["score"]) for h in before.permanent]
    finally:
        await engine.close()


async def test_an_import_into_a_loaded_caller_is_primed(
        tmp_path: Path, store_url: str) -> None:
    """A history imported into a caller already in memory is read for the ranking
    features in the background, like a load, not on its first searches."""
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "data"), embedder="static",
                                   store_url=store_url))
    await engine.start()
    try:
        scope = engine.scope(project_id="p", agent_id="a", user_id="mel")
        who = Caller("mel", "Melanie")
        mem = engine.callers.get(scope)
        await mem.primed.wait()
        await engine.import_history(scope, who, [
            {"startedAt": NOW - 3 * DAY,
             "turns": [{"userText": text, "assistantText": "Noted.", "createdAt": NOW - DAY}
                       for text in _lines(60)]}])
        await mem.primed.wait()
        length = _tokens_of(mem.index).length[:mem.index.rows]
        assert mem.index.rows >= 60
        assert length.shape[0] == mem.index.rows and (length >= 0).all()
    finally:
        await engine.close()
