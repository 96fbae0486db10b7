"""The few-candidate path of learned fusion gives the numpy path's feature rows exactly.

``candidate_features`` computes a query with at most ``FEW_CANDIDATES`` candidates in
plain Python (``_fusion_few``), any other in numpy (``_fusion.base_rows``). The model
was fitted on the numpy path's values, so the two must agree to the last bit: on random
candidate sets over an index with calls, facts, summaries, removed rows and rows without
vectors, and on the candidates a caller's lanes really gather.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from voxmem.embeddings.static import StaticEmbedder
from voxmem.engine._analysis import analyze
from voxmem.engine._caller_memory import FACT_GROUP, SUMMARY_GROUP, CallerMemory, Doc
from voxmem.engine._fusion import FEATURES, base_rows, candidate_features, load_fusion
from voxmem.engine._fusion_few import FEW_CANDIDATES, few_base_rows
from voxmem.engine._fusion_model import BaseRows
from voxmem.engine._index import BoolArray, HybridIndex, IntArray, Ranked
from voxmem.engine._rank import RankParams
from voxmem.engine._recall import Query, _gather
from voxmem.engine._time import TimeHint
from voxmem.engine._topic import TopicModel, distinct_tokens
from voxmem.models import Scope, Turn

from .test_topic_priming import DAY, NOW, QUESTIONS, _lines

#: Queries that name no one, name a speaker, ask for a list, or have no topic at all.
QUERIES = (*QUESTIONS, "what books has Melanie read?", "Caroline", "how many dogs",
           "what did we talk about", "")


def _assert_same(got: BaseRows, want: BaseRows) -> None:
    np.testing.assert_array_equal(got.positions, want.positions)
    assert got.features.shape == want.features.shape == (want.positions.shape[0],
                                                          len(FEATURES))
    np.testing.assert_array_equal(got.features, want.features)
    np.testing.assert_array_equal(got.created, want.created)
    np.testing.assert_array_equal(got.is_fact, want.is_fact)
    np.testing.assert_array_equal(got.vectors, want.vectors)
    assert got.names == want.names


def _random_index(embedder: StaticEmbedder, rng: random.Random) -> HybridIndex:
    """Calls of a few turns, facts, summaries and turns outside calls; a few rows
    removed and a few without a vector; creation times spread over a year."""
    lines = _lines(120, seed=rng.randrange(1000))
    vectors = embedder.embed(lines)
    index = HybridIndex(embedder.dimensions)
    group, left = 1, rng.randint(1, 6)
    for n, text in enumerate(lines):
        kind = rng.random()
        if kind < 0.1:
            code = FACT_GROUP
        elif kind < 0.15:
            code = SUMMARY_GROUP
        elif kind < 0.2:
            code = 0
        else:
            code, left = group, left - 1
            if not left:
                group, left = group + 1, rng.randint(1, 6)
        created = NOW - rng.uniform(0, 365) * DAY
        index.add(f"t{n}", analyze(text), created_at=created, group=code,
                  vector=vectors[n] if rng.random() > 0.05 else None,
                  payload=Doc(kind="fact" if code == FACT_GROUP else "turn", text=text,
                              created_at=created))
    for n in rng.sample(range(len(lines)), 6):
        index.remove(f"t{n}")
    return index


def _ranking(rng: random.Random, pool: list[int]) -> Ranked:
    picked = rng.sample(pool, rng.randint(0, min(len(pool), 24)))
    scores = sorted((rng.uniform(0.1, 9.0) for _ in picked), reverse=True)
    return Ranked(np.asarray(picked, dtype=np.int64), np.asarray(scores, dtype=np.float32))


@pytest.mark.parametrize("seed", range(40))
def test_random_candidates_get_the_numpy_rows(embedder: StaticEmbedder, seed: int) -> None:
    rng = random.Random(seed)
    index = _random_index(embedder, rng)
    live = np.flatnonzero(index.alive_at(np.arange(index.rows))).tolist()
    query = rng.choice(QUERIES)
    for _ in range(10):
        fused = [(p, rng.uniform(0.0, 1.0))
                 for p in rng.sample(live, rng.randint(1, FEW_CANDIDATES))]
        fused.sort(key=lambda item: -item[1])
        # Rankings hold candidates and positions that are not candidates; a query with
        # a time window has two of each.
        keyword = [_ranking(rng, live) for _ in range(rng.randint(1, 2))]
        dense = [_ranking(rng, live) for _ in range(len(keyword))]
        when = rng.choice([None, TimeHint(start=NOW - 90 * DAY, end=NOW - 30 * DAY),
                           TimeHint(order="first"), TimeHint(order="latest")])
        vector = embedder.embed([query or "anything"])[0] if rng.random() > 0.1 else None
        banned = np.zeros(index.rows, dtype=np.bool_)
        banned[rng.sample(live, 20)] = True

        def allowed(positions: IntArray, banned: BoolArray = banned) -> BoolArray:
            ok: BoolArray = ~banned[positions]
            return ok

        args = (index, fused, keyword, dense, vector, NOW, when, allowed, query)
        _assert_same(few_base_rows(*args), base_rows(*args))


@pytest.mark.parametrize("seed", range(12))
def test_many_candidates_get_the_plain_rows(embedder: StaticEmbedder, seed: int) -> None:
    # The numpy path computes the call and neighbour columns several at a time
    # (``_fusion_columns``) into one preallocated array: at the sizes it serves (a
    # large caller's ~340 rows; here up to every live row, calls of up to six turns
    # with ties among their values) it gives the plain definitions' rows bit for bit.
    rng = random.Random(1000 + seed)
    index = _random_index(embedder, rng)
    live = np.flatnonzero(index.alive_at(np.arange(index.rows))).tolist()
    for _ in range(6):
        picked = rng.sample(live, rng.randint(FEW_CANDIDATES + 1, len(live)))
        # Repeated scores: equal values inside a call must be added as the plain path does.
        fused = [(p, rng.choice([0.25, 0.5, rng.uniform(0.0, 1.0)])) for p in picked]
        fused.sort(key=lambda item: -item[1])
        keyword = [_ranking(rng, live) for _ in range(rng.randint(1, 2))]
        dense = [_ranking(rng, live) for _ in range(len(keyword))]
        when = rng.choice([None, TimeHint(start=NOW - 90 * DAY, end=NOW - 30 * DAY),
                           TimeHint(order="latest")])
        query = rng.choice(QUERIES)
        vector = embedder.embed([query or "anything"])[0] if rng.random() > 0.1 else None

        def allowed(positions: IntArray) -> BoolArray:
            return np.ones(positions.shape[0], dtype=np.bool_)

        args = (index, fused, keyword, dense, vector, NOW, when, allowed, query)
        _assert_same(few_base_rows(*args), base_rows(*args))


def _caller(embedder: StaticEmbedder) -> CallerMemory:
    """A small caller: three calls of five turns, and a fact that superseded another."""
    scope = Scope(tenant_id="t", project_id="p", agent_id="a", user_id="u")
    mem = CallerMemory(scope, embedder.dimensions)
    lines = _lines(15, seed=21)
    vectors = embedder.embed(lines)
    for n, text in enumerate(lines):
        turn = Turn(event_id=f"e{n}", session_id=f"s{n // 5}", turn_id=f"turn{n}",
                    user_text=text, assistant_text="Okay, noted.",
                    created_at=NOW - (15 - n) * DAY)
        mem.add_turn(turn, vectors[n])
    mem.session_id = "s2"  # the last call is this one: the working lane's
    # A fact superseded by another (facts are a call of their own for the features).
    for n, text in enumerate(["Caroline has a dog named Rex", "Caroline has a cat named Rex"]):
        created = NOW - (30 - n) * DAY
        mem.index.add(f"f{n}", analyze(text), created_at=created, group=FACT_GROUP,
                      vector=embedder.embed([text])[0],
                      payload=Doc(kind="fact", text=text, created_at=created))
        mem.note_fact(f"f{n}", "pet", [f"turn{n}"], [f"f{n - 1}"] if n else [])
    return mem


@pytest.mark.parametrize("lane", ["working", "permanent"])
def test_a_small_callers_real_candidates_get_the_numpy_rows(
        embedder: StaticEmbedder, topic: TopicModel, lane: str) -> None:
    mem = _caller(embedder)
    params = RankParams(fusion=load_fusion(embedder.name), topic=topic)
    compared = 0
    for query in QUERIES:
        q = Query(text=query, terms=analyze(query), vector=embedder.embed([query])[0]
                  if query else None, now=NOW)
        got = _gather(mem, lane, q, 6, params)
        if not got.fused:  # some questions find nothing in one of the lanes
            continue
        compared += 1
        assert len(got.fused) <= FEW_CANDIDATES
        args = (mem.index, got.fused, got.keyword, got.dense, q.vector, q.now, q.when,
                got.allowed, query)
        few, numpy_rows = few_base_rows(*args), base_rows(*args)
        _assert_same(few, numpy_rows)
        # And through the entry point the lanes call, topic features included: the rows
        # it returns are the few path's plus the topic columns.
        cands = candidate_features(*args[:8], query, topic, params=params)
        rest = [c for c, name in enumerate(FEATURES) if not name.startswith("topic_")]
        np.testing.assert_array_equal(cands.positions, numpy_rows.positions)
        np.testing.assert_array_equal(cands.features[:, rest],
                                      numpy_rows.features[:, rest])
    # Most questions reach candidates in each lane: the comparison is not vacuous.
    assert compared >= len(QUERIES) // 2, compared


@pytest.mark.parametrize("size", [1, 7, 120, 400, 401, 3000])
def test_distinct_tokens_by_sorting_or_by_table_agree(size: int) -> None:
    # A few candidates' tokens are sorted, many go through a vocabulary table: the topic
    # features read the same distinct tokens, in the same order, either way.
    rng = np.random.default_rng(size)
    flat = rng.choice(rng.integers(0, 30_000, max(2, size // 3)), size).astype(np.uint16)
    by_sort = distinct_tokens(flat, 30_000, sort_max=size)
    by_table = distinct_tokens(flat, 30_000, sort_max=0)
    np.testing.assert_array_equal(by_sort[0], by_table[0])
    np.testing.assert_array_equal(by_sort[0], np.unique(flat))
    np.testing.assert_array_equal(by_sort[0][by_sort[1]], flat)
    np.testing.assert_array_equal(by_table[0][by_table[1]], flat)
