"""Topic features and the topic search: what a question is about, apart from whom."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from voxmem.embeddings import PairedEmbedder, Vectors
from voxmem.embeddings.hashing import HashingEmbedder
from voxmem.embeddings.static import StaticEmbedder
from voxmem.engine._analysis import analyze
from voxmem.engine._caller_memory import Doc
from voxmem.engine._fusion import FEATURES, candidate_features
from voxmem.engine._index import BoolArray, HybridIndex, IntArray, Ranked
from voxmem.engine._topic import TopicModel, is_list_question, topic_model, topic_words

NOW = 1_780_000_000.0
DAY = 86_400.0


@pytest.mark.parametrize(("question", "listed"), [
    ("What books has Melanie read?", True),
    ("What LGBTQ+ events has Caroline participated in?", True),
    ("Where has Melanie camped?", True),
    ("How many times has Nate taken his turtles on a walk?", True),
    ("What types of pottery have Melanie and her kids made?", True),
    ("What instruments does Melanie play?", True),
    ("What did Caroline research?", False),
    ("When is my appointment?", False),
    ("what did I order last time", False),
    ("Where did Caroline move from 4 years ago?", False),
])
def test_list_questions_are_told_by_their_form(question: str, listed: bool) -> None:
    assert is_list_question(question) is listed


def test_topic_words_leave_out_names_question_words_and_stopwords() -> None:
    assert topic_words("What instruments does Melanie play?", frozenset({"melanie"})) == [
        "instruments", "play"]
    assert topic_words("What are Melanie's pets' names?", frozenset({"melanie"})) == [
        "pets'", "names"]
    # A capitalised word that is no speaker's name stays: it is the topic.
    assert topic_words("Which Marvel films did I watch?", frozenset()) == [
        "Marvel", "films", "watch"]


def _spoken(embedder: StaticEmbedder, lines: list[str]) -> HybridIndex:
    index = HybridIndex(embedder.dimensions)
    vectors = embedder.embed(lines)
    for n, text in enumerate(lines):
        index.add(f"t{n}", analyze(text), vector=vectors[n], created_at=NOW - DAY,
                  group=1 + n // 2, payload=Doc(kind="turn", text=text, created_at=NOW - DAY))
    return index


def _everything(positions: IntArray) -> BoolArray:
    return np.ones(positions.shape[0], dtype=np.bool_)


def _features(index: HybridIndex, embedder: StaticEmbedder, query: str,
              topic: TopicModel | None) -> dict[str, dict[int, float]]:
    fused = [(p, 1.0 - p / 100) for p in range(len(index))]
    ranked = Ranked(np.arange(len(index), dtype=np.int64),
                    np.linspace(1.0, 0.5, len(index)).astype(np.float32))
    cands = candidate_features(index, fused, [ranked], [Ranked.empty()],
                               embedder.embed([query])[0], NOW, None, _everything, query,
                               topic)
    return {name: dict(zip(cands.positions.tolist(),
                           cands.features[:, FEATURES.index(name)].tolist(), strict=True))
            for name in FEATURES}


LINES = ["Melanie: Thanks Caroline, it was so lovely to catch up with you today!",
         "Caroline: Melanie, you are always so kind to me, see you soon",
         "Melanie: I spend my evenings playing my violin, it keeps me sane",
         "Caroline: I went to a support group meeting yesterday"]


def test_the_topic_features_find_the_turn_about_the_topic(
        embedder: StaticEmbedder, topic: TopicModel) -> None:
    index = _spoken(embedder, LINES)
    got = _features(index, embedder, "What instruments does Melanie play?", topic)
    match, cosine = got["topic_match"], got["topic_cosine"]
    # "violin" answers "instruments" though they share no word.
    assert max(match, key=match.__getitem__) == 2
    assert max(cosine, key=cosine.__getitem__) == 2
    assert all(0.0 <= v <= 1.0 + 1e-6 for v in [*match.values(), *cosine.values()])
    # A list question lets the model weigh the call features apart.
    assert got["list_call"] == got["call_fused"]
    assert got["list_best"] == got["call_best"]
    plain = _features(index, embedder, "What did Melanie say about the violin?", topic)
    assert set(plain["list_call"].values()) == {0.0}


def test_topic_features_are_the_same_whichever_positions_were_read_first(
        embedder: StaticEmbedder, topic: TopicModel) -> None:
    # The tokens of each turn are read once and kept: a later query over more (and
    # newer) positions must see exactly what a fresh index computes.
    warm = _spoken(embedder, LINES[:2])
    _features(warm, embedder, "What instruments does Melanie play?", topic)
    vectors = embedder.embed(LINES[2:])
    for n, text in enumerate(LINES[2:], start=2):
        warm.add(f"t{n}", analyze(text), vector=vectors[n - 2], created_at=NOW - DAY,
                 group=1 + n // 2, payload=Doc(kind="turn", text=text, created_at=NOW - DAY))
    fresh = _spoken(embedder, LINES)
    for query in ("What instruments does Melanie play?", "where did Caroline go yesterday"):
        a = _features(warm, embedder, query, topic)
        b = _features(fresh, embedder, query, topic)
        assert a["topic_match"] == pytest.approx(b["topic_match"])
        assert a["topic_cosine"] == pytest.approx(b["topic_cosine"])


def test_without_token_vectors_the_topic_features_are_zero(embedder: StaticEmbedder) -> None:
    assert topic_model(HashingEmbedder()) is None
    got = _features(_spoken(embedder, LINES), embedder, "What instruments does Melanie play?",
                    None)
    assert set(got["topic_match"].values()) == {0.0}
    assert set(got["topic_cosine"].values()) == {0.0}


class _FullModel:
    """Stands in for a model of MiniLM's space without token vectors (the ONNX MiniLM):
    a pairing's memories may come from one."""

    cheap = False

    def __init__(self, like: StaticEmbedder) -> None:
        self._like = like
        self.name = "full-model"
        self.dimensions = like.dimensions
        self.vector_space = like.vector_space

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self._like.embed(texts)


def test_a_pairing_reads_topics_through_the_query_models_token_vectors(
        embedder: StaticEmbedder, topic: TopicModel) -> None:
    # Memories by a model without token vectors, queries by the static table: the topic
    # features compare the query's words, so they come from the query model.
    paired = topic_model(PairedEmbedder(_FullModel(embedder), embedder))
    assert paired is not None
    index = _spoken(embedder, LINES)
    query = "What instruments does Melanie play?"
    got, want = _features(index, embedder, query, paired), _features(index, embedder, query, topic)
    assert got["topic_match"] == pytest.approx(want["topic_match"])
    assert max(got["topic_match"].values()) > 0.0
    # The other way round the query model has no token vectors: no topic features.
    assert topic_model(PairedEmbedder(embedder, _FullModel(embedder))) is None


def test_rare_topic_words_weigh_more_than_common_ones(
        embedder: StaticEmbedder, topic: TopicModel) -> None:
    # "today" is in every turn but one; "violin" in one. The turn about the violin
    # answers the question, though the others match two of its three topic words.
    lines = [f"Melanie: we went out today, day {n}" for n in range(10)]
    index = _spoken(embedder, [*lines, "Melanie: I love my violin"])
    idf = index.idf(["today", "violin", "absent"])
    assert idf[0] < idf[1] < idf[2]
    match = _features(index, embedder, "Where did Melanie go with the violin today?",
                      topic)["topic_match"]
    assert max(match, key=match.__getitem__) == len(lines)


def test_idf_counts_live_memories_only(embedder: StaticEmbedder) -> None:
    # A deleted memory keeps its postings; the warm index must weigh words as an index
    # rebuilt from the store's rows does, or the first search after a restart differs.
    lines = ["Melanie: my violin is old", "Melanie: the violin again", "Melanie: hello"]
    warm = _spoken(embedder, lines)
    assert warm.remove("t1")
    fresh = _spoken(embedder, [lines[0], lines[2]])
    assert warm.idf(["violin", "hello"]) == pytest.approx(fresh.idf(["violin", "hello"]))
