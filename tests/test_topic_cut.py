"""Learned fusion computes the topic features only for its best candidates.

``candidate_features`` with a fusion model picks ``RankParams.topic_candidates`` rows by
the model's score without the topic columns (``_fusion.topic_rows``) and computes the
topic features for those alone. The fit (``scripts/fit_fusion.py``) applies the same cut
to features gathered in full, so the two must agree exactly: the rows picked get the
values the full computation gives, the others 0.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from voxmem.embeddings.static import StaticEmbedder
from voxmem.engine._fusion import FEATURES, Candidates, candidate_features, load_fusion, topic_rows
from voxmem.engine._index import HybridIndex, Ranked
from voxmem.engine._rank import RankParams
from voxmem.engine._topic import TopicModel, topic_model

from .test_topic_priming import NOW, QUESTIONS, _everything, _index, _lines

TOPIC = [FEATURES.index("topic_cosine"), FEATURES.index("topic_match")]


@pytest.fixture(scope="module")
def index(embedder: StaticEmbedder) -> HybridIndex:
    return _index(embedder, _lines(300, seed=11))


def _features(index: HybridIndex, embedder: StaticEmbedder, topic: TopicModel, query: str,
              params: RankParams | None) -> Candidates:
    # Every third row a candidate (so neighbours are added as well), ranked in order.
    picked = np.arange(0, len(index), 3, dtype=np.int64)
    n = picked.shape[0]
    fused = [(p, 1.0 - i / (2 * n)) for i, p in enumerate(picked.tolist())]
    ranked = Ranked(picked, np.linspace(1.0, 0.5, n).astype(np.float32))
    return candidate_features(index, fused, [ranked], [Ranked.empty()],
                              embedder.embed([query])[0], NOW, None, _everything, query,
                              topic, params=params)


def _params(embedder: StaticEmbedder, top: int) -> RankParams:
    model = load_fusion(embedder.name)
    assert model is not None, "the static embedder ships learned fusion weights"
    return RankParams(fusion=model, topic_candidates=top)


@pytest.mark.parametrize("query", QUESTIONS)
def test_cut_rows_have_the_full_values_and_the_rest_zero(
        index: HybridIndex, embedder: StaticEmbedder, topic: TopicModel, query: str) -> None:
    params = _params(embedder, 16)
    assert params.fusion is not None
    full = _features(index, embedder, topic, query, None)
    cut = _features(index, embedder, topic, query, params)
    assert full.features.shape[0] > 16
    np.testing.assert_array_equal(cut.positions, full.positions)
    rest = [c for c in range(len(FEATURES)) if c not in TOPIC]
    np.testing.assert_array_equal(cut.features[:, rest], full.features[:, rest])
    # The script's way: the full rows with the topic columns zeroed pick the rows.
    without = full.features.copy()
    without[:, TOPIC] = 0.0
    rows = topic_rows(params.fusion, without, full.created, full.is_fact, NOW, params)
    assert rows is not None and rows.shape[0] == 16
    expected = without.copy()
    expected[rows[:, None], TOPIC] = full.features[rows[:, None], TOPIC]
    np.testing.assert_array_equal(cut.features, expected)
    if full.features[:, TOPIC].any():
        # The cut does cut something for a question with a topic.
        assert np.count_nonzero(cut.features[:, TOPIC[1]]) <= 16


def test_rows_picked_are_the_best_without_topic(embedder: StaticEmbedder) -> None:
    params = _params(embedder, 3)
    assert params.fusion is not None
    rng = np.random.default_rng(5)
    features = rng.random((10, len(FEATURES)))
    features[:, TOPIC] = 0.0
    created = np.full(10, NOW - 86_400.0)
    is_fact = np.zeros(10, dtype=np.bool_)
    rows = topic_rows(params.fusion, features, created, is_fact, NOW, params)
    score = params.fusion.score(features)
    assert rows is not None
    assert sorted(rows.tolist()) == sorted(np.argsort(-score)[:3].tolist())
    # Few enough rows, or the cut switched off: every row.
    assert topic_rows(params.fusion, features[:3], created[:3], is_fact[:3], NOW,
                      params) is None
    off = dataclasses.replace(params, topic_candidates=0)
    assert topic_rows(params.fusion, features, created, is_fact, NOW, off) is None


def test_no_cut_under_the_limit(index: HybridIndex, embedder: StaticEmbedder,
                                topic: TopicModel) -> None:
    query = QUESTIONS[0]
    full = _features(index, embedder, topic, query, None)
    wide = _features(index, embedder, topic, query,
                     _params(embedder, full.features.shape[0]))
    np.testing.assert_array_equal(wide.features, full.features)


def test_topic_words_kept_between_queries_give_the_same_features(
        index: HybridIndex, embedder: StaticEmbedder) -> None:
    # A topic word's mean vector is kept after its first query: a model that has seen
    # every question answers exactly what a fresh model answers.
    seasoned = topic_model(embedder)
    assert seasoned is not None
    for query in QUESTIONS:
        _features(index, embedder, seasoned, query, None)
    for query in QUESTIONS:
        fresh = topic_model(embedder)
        assert fresh is not None
        np.testing.assert_array_equal(
            _features(index, embedder, seasoned, query, None).features,
            _features(index, embedder, fresh, query, None).features)
