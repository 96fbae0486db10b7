"""Learned fusion: the shipped weights file, its validation, and what the features do."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._caller_memory import Doc
from voxmem.engine._fusion import (
    FEATURES,
    WEIGHTS_FILE,
    Candidates,
    FusionModel,
    candidate_features,
    learned_rank,
    load_fusion,
    parse_fusion,
)
from voxmem.engine._index import BoolArray, HybridIndex, IntArray, Ranked
from voxmem.engine._rank import RankParams
from voxmem.engine._speakers import about_the_asker
from voxmem.engine._time import DAY, TimeHint, parse_when
from voxmem.models import Caller

NOW = dt.datetime(2026, 6, 22, 18, 0, tzinfo=dt.UTC).timestamp()


def shipped() -> dict[str, Any]:
    text = resources.files("voxmem.engine").joinpath(WEIGHTS_FILE).read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def only(feature: str, weight: float = 1.0) -> FusionModel:
    """A model that looks at one feature (plus a tiny keyword tie-breaker)."""
    weights = np.zeros(len(FEATURES))
    weights[FEATURES.index(feature)] = weight
    weights[FEATURES.index("keyword_rr")] += 0.01
    return FusionModel("test", weights, 0.0)


def test_every_shipped_model_loads_and_names_the_features() -> None:
    doc = shipped()
    assert doc["features"] == list(FEATURES)
    assert doc["models"], "no learned model shipped"
    for name, entry in doc["models"].items():
        model = load_fusion(name)
        assert model is not None
        assert model.weights.shape == (len(FEATURES),)
        assert np.all(np.isfinite(model.weights))
        # The cross-validation the weights were chosen by travels with them.
        assert entry["cv"]


def test_an_embedder_without_weights_keeps_hand_set_fusion() -> None:
    assert load_fusion("hashing-256d@0000") is None


@pytest.mark.parametrize("broken", [
    {"features": list(FEATURES)[:-1], "models": {}},
    {"features": list(reversed(FEATURES)), "models": {}},
    {"features": list(FEATURES), "models": []},
    {"features": list(FEATURES), "models": {"m": {"weights": [1.0] * 3, "bias": 0.0}}},
    {"features": list(FEATURES), "models": {"m": {"weights": [float("nan")] * len(FEATURES),
                                                   "bias": 0.0}}},
    {"features": list(FEATURES), "models": {"m": {"weights": [1.0] * len(FEATURES)}}},
    {"features": list(FEATURES), "models": {"m": {"weights": ["1"] * len(FEATURES),
                                                   "bias": 0.0}}},
    [],
])
def test_a_malformed_weights_file_is_refused(broken: Any) -> None:
    with pytest.raises(ValueError, match=WEIGHTS_FILE):
        parse_fusion(broken, "m")


def _index(calls: list[tuple[int, int, float]]) -> HybridIndex:
    """An index of turns: (group, how many turns, created) per call, in order."""
    index = HybridIndex(4)
    n = 0
    for group, turns, created in calls:
        for _ in range(turns):
            vec = np.zeros(4, dtype=np.float32)
            vec[n % 4] = 1.0
            index.add(f"d{n}", ["w"], vector=vec, created_at=created + n, group=group,
                      payload=None)
            n += 1
    return index


def _everything(positions: IntArray) -> BoolArray:
    return np.ones(positions.shape[0], dtype=np.bool_)


def _ranked(pairs: list[tuple[int, float]]) -> Ranked:
    return Ranked(np.array([p for p, _ in pairs], dtype=np.int64),
                  np.array([s for _, s in pairs], dtype=np.float32))


def features(index: HybridIndex, fused: list[tuple[int, float]],
             when: TimeHint | None = None,
             vector: Any = None) -> Candidates:
    return candidate_features(index, fused, [_ranked(fused)], [Ranked.empty()], vector, NOW,
                              when, _everything)


def column(cands: Candidates, name: str) -> dict[int, float]:
    return dict(zip(cands.positions.tolist(),
                    cands.features[:, FEATURES.index(name)].tolist(), strict=True))


def test_features_of_calls_neighbours_and_ranks() -> None:
    # call 1: positions 0-3, call 2: positions 4-7
    index = _index([(1, 4, NOW - 30 * DAY), (2, 4, NOW - 10 * DAY)])
    cands = features(index, [(7, 0.6), (0, 0.5), (1, 0.4), (2, 0.3)])
    # The turn after call 1's hits and the turn before position 7 join as neighbours.
    assert set(cands.positions.tolist()) == {7, 0, 1, 2, 3, 6}
    assert column(cands, "keyword_rr")[7] == 1.0
    assert column(cands, "keyword_rr")[6] == 0.0
    assert column(cands, "bm25")[0] == pytest.approx(0.5 / 0.6)
    # Call 1's best three turns average 0.4; call 2 has one hit (0.6 / 3).
    assert column(cands, "call_fused")[3] == pytest.approx(0.4)
    assert column(cands, "call_fused")[7] == pytest.approx(0.2)
    assert column(cands, "neighbour")[3] == pytest.approx(0.3)
    assert column(cands, "neighbour")[6] == pytest.approx(0.6)
    assert column(cands, "recency")[7] > column(cands, "recency")[0]
    assert column(cands, "cosine") == dict.fromkeys(cands.positions.tolist(), 0.0)


def test_cosine_is_computed_for_every_candidate() -> None:
    index = _index([(1, 4, NOW - DAY)])
    query = np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32)
    cands = features(index, [(0, 0.9)], vector=query)
    # Position 1 came in as a neighbour, not from the vector ranking, and still has it.
    assert column(cands, "cosine") == {0: 0.0, 1: 1.0}


def test_a_strong_call_lifts_its_turns_when_the_model_says_so() -> None:
    index = _index([(1, 4, NOW - 30 * DAY), (2, 4, NOW - 10 * DAY)])
    fused = [(7, 0.6), (0, 0.55), (1, 0.5), (2, 0.45)]
    by_call = [p for p, _ in learned_rank(only("call_fused"), features(index, fused), NOW,
                                          RankParams())]
    assert by_call[0] in {0, 1, 2, 3} and by_call.index(7) > 3
    alone = [p for p, _ in learned_rank(only("fused"), features(index, fused), NOW,
                                        RankParams())]
    assert alone[0] == 7


def test_time_match_favours_the_named_window_and_the_first_call() -> None:
    index = _index([(1, 2, NOW - 60 * DAY), (2, 2, NOW - 7 * DAY), (3, 2, NOW - DAY)])
    fused = [(5, 0.8), (2, 0.7), (0, 0.6)]
    week = parse_when("a week ago", NOW)
    ranked = learned_rank(only("time_match"), features(index, fused, week), NOW, RankParams())
    assert ranked[0][0] in {2, 3}
    assert column(features(index, fused, week), "time_match")[5] == 0.0
    first = learned_rank(only("time_match"), features(index, fused, TimeHint(order="first")),
                         NOW, RankParams())
    assert first[0][0] in {0, 1}


def test_scores_stay_in_unit_range_and_intents_still_apply() -> None:
    index = _index([(1, 2, NOW - 90 * DAY), (2, 2, NOW - DAY)])
    fused = [(0, 0.9), (2, 0.3)]
    model = only("fused", 8.0)
    ranked = learned_rank(model, features(index, fused), NOW, RankParams())
    assert ranked[0][0] == 0
    assert all(0.0 < s < 1.0 for _, s in ranked)
    # summarise_recent's recency prior still puts the last call first.
    recent = dataclasses.replace(RankParams(), recency_weight=0.6, half_life_days=7.0)
    assert learned_rank(model, features(index, fused), NOW, recent)[0][0] in {2, 3}


def test_no_candidates_rank_nothing() -> None:
    index = _index([(1, 2, NOW)])
    assert learned_rank(only("fused"), features(index, []), NOW, RankParams()) == []


DAY_S = 86_400.0


async def test_the_engine_ranks_with_the_shipped_model(tmp_path: Path, store_url: str) -> None:
    """End to end with the real default embedder and its shipped weights."""
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "d"), embedder="static",
                                   store_url=store_url))
    await engine.start()
    try:
        assert engine.params.fusion is not None
        assert engine.params.fusion.embedder == engine.embedder.name
        s = engine.scope(project_id="p", agent_id="a", user_id="kenji")
        now = time.time()
        calls = [
            (40, "my dog Bruno needs his vaccinations, can the vet see him on Friday",
             "Dr. Alvarez can see Bruno on Friday at 10"),
            (20, "I want to change the billing address on my account",
             "Done, the new address is on file"),
            (2, "the invoice from last month looks too high", "I'll send a corrected invoice"),
        ]
        await engine.import_history(s, Caller("kenji"), [
            {"startedAt": now - age * DAY_S, "turns": [
                {"userText": user, "assistantText": agent, "createdAt": now - age * DAY_S}]}
            for age, user, agent in calls])
        assert await engine.flush(60)

        async def top(query: str, intent: str = "answer_current_user") -> str:
            result = await engine.search_memory(s, query, lanes=["permanent"],
                                                intent=intent, timeout_ms=5000)
            return str(result.permanent[0]["text"])

        assert "Bruno" in await top("when is the vet appointment for my dog?")
        assert "billing address" in await top("did I update my address?")
        # Words of all three calls (a query of no content matches nothing: the bundled
        # table, like MiniLM, puts unrelated text below the dense floor); the most recent wins.
        assert "invoice" in await top("what did I say about my dog, my billing address or "
                                      "the invoice?", "summarise_recent")
        # personalize: what was learned comes before the turn that matches better.
        await engine.lifecycle.remember(s, "pet_vet", "Bruno sees Dr. Alvarez")
        assert await engine.flush(60)
        assert "vaccinations" in await top("vet appointment for Bruno on Friday")
        assert "Bruno sees" in await top("vet appointment for Bruno on Friday", "personalize")
    finally:
        await engine.close()


async def test_fusion_rrf_setting_keeps_the_hand_set_ranking(tmp_path: Path) -> None:
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "d"), embedder="static",
                                   fusion="rrf"))
    try:
        assert engine.params.fusion is None
    finally:
        await engine.close()


def test_a_fact_counts_as_a_call_of_one() -> None:
    index = _index([(1, 3, NOW - DAY)])
    index.add("fact", ["w"], created_at=NOW, group=-1, payload=None)
    cands = features(index, [(3, 0.9), (0, 0.9), (1, 0.9), (2, 0.9)])
    # The fact's call features are its own (a third of a three-turn call's), not zero.
    assert column(cands, "call_fused")[3] == pytest.approx(0.3)
    assert column(cands, "call_fused")[0] == pytest.approx(0.9)
    assert column(cands, "call_best")[3] == 1.0
    assert column(cands, "is_fact")[3] == 1.0 and column(cands, "outside_call")[3] == 1.0
    assert column(cands, "neighbour")[3] == 0.0


def test_personalize_puts_candidate_facts_first() -> None:
    index = _index([(1, 2, NOW - DAY)])
    index.add("fact", ["w"], created_at=NOW, group=-1, payload=None)
    fused = [(0, 0.9), (1, 0.8), (2, 0.1)]
    model = only("fused", 8.0)
    plain = learned_rank(model, features(index, fused), NOW, RankParams())
    assert plain[-1][0] == 2
    personal = learned_rank(model, features(index, fused), NOW,
                            RankParams(fact_weight=2.0))
    assert personal[0][0] == 2
    assert [p for p, _ in personal[1:]] == [p for p, _ in plain[:-1]]
    assert all(0.0 < s <= 1.0 for _, s in personal)


def _spoken(lines: list[str]) -> HybridIndex:
    """One call whose turns are ``lines`` (each may open with a speaker label)."""
    index = HybridIndex(4)
    for n, text in enumerate(lines):
        index.add(f"t{n}", ["w"], created_at=NOW - DAY, group=1,
                  payload=Doc(kind="turn", text=text, created_at=NOW - DAY))
    return index


def speaker_features(index: HybridIndex, query: str) -> Candidates:
    fused = [(p, 1.0 - p / 10) for p in range(len(index))]
    return candidate_features(index, fused, [_ranked(fused)], [Ranked.empty()], None, NOW,
                              None, _everything, query)


def test_speaker_features_tell_who_said_it_from_who_was_mentioned() -> None:
    index = _spoken(["Caroline: Melanie told me she loves to paint",
                     "Melanie: I painted a sunrise over the lake",
                     "Dr. Alvarez: Bruno is due for his shots",
                     "no label on this one: it has a colon later"])
    cands = speaker_features(index, "What did Melanie paint?")
    assert column(cands, "speaker_named") == {0: 0.0, 1: 1.0, 2: 0.0, 3: 0.0}
    # Another speaker's turn is marked; the unlabelled turn is not.
    assert column(cands, "speaker_other") == {0: 1.0, 1: 0.0, 2: 1.0, 3: 0.0}
    ranked = learned_rank(only("speaker_named"), cands, NOW, RankParams())
    assert ranked[0][0] == 1
    # A label of several words is named by all of them.
    both = speaker_features(index, "What did Dr. Alvarez say about Bruno?")
    assert column(both, "speaker_named")[2] == 1.0
    assert column(speaker_features(index, "What did Alvarez say?"), "speaker_named")[2] == 0.0


@pytest.mark.parametrize("query", ["what did Caroline", "What did I paint?",
                                   "Caroline said what?", ""])
def test_speaker_features_need_a_name_past_the_first_word(query: str) -> None:
    index = _spoken(["Caroline: I paint", "Melanie: me too"])
    cands = speaker_features(index, query)
    named = column(cands, "speaker_named")
    # "what did Caroline" names her; a bare "I" or a capitalised first word does not
    # count as a name (no payload is read for the usual first-person question).
    assert named[0] == (1.0 if query == "what did Caroline" else 0.0)


def test_the_named_speaker_talking_about_themself_and_turn_length() -> None:
    index = HybridIndex(4)
    lines = [("Melanie: I painted a sunrise over the lake", ["paint", "sunris", "lake"]),
             ("Melanie: Caroline painted a mural", ["carolin", "paint", "mural"]),
             ("Caroline: my kids love it", ["kid", "love"]),
             ("Melanie: thanks!", ["thank"])]
    long_terms = ["w"] * 45
    for n, (text, terms) in enumerate(lines):
        index.add(f"t{n}", long_terms if n == 0 else terms, created_at=NOW - DAY, group=1,
                  payload=Doc(kind="turn", text=text, created_at=NOW - DAY))
    cands = speaker_features(index, "What did Melanie paint?")
    # Only the named speaker's own first-person turns count (Caroline's "my" does not).
    assert column(cands, "speaker_self") == {0: 1.0, 1: 0.0, 2: 0.0, 3: 0.0}
    # Length is the indexed terms, capped: a long turn and a one-word "thanks".
    length = column(cands, "length")
    assert length[0] == 1.0
    assert length[1] == pytest.approx(3 / 30)
    assert length[3] == pytest.approx(1 / 30)


def test_learned_scores_are_not_blended_with_the_default_recency_again() -> None:
    index = _index([(1, 2, NOW - 90 * DAY), (2, 2, NOW - DAY)])
    cands = features(index, [(0, 0.9), (2, 0.3)])
    model = only("fused", 8.0)
    ranked = dict(learned_rank(model, cands, NOW, RankParams()))
    expected = dict(zip(cands.positions.tolist(), model.score(cands.features).tolist(),
                        strict=True))
    # The model has a recency feature: with the default recency weight its score stands.
    assert ranked == pytest.approx(expected)
    # A larger weight blends in the part above the default.
    heavier = dict(learned_rank(model, cands, NOW, RankParams(recency_weight=0.55)))
    assert heavier[2] == pytest.approx(0.5 * expected[2] + 0.5 * 0.5 ** (1 / 30))


async def test_the_engine_answers_from_the_named_speaker_and_the_named_date(
        tmp_path: Path, store_url: str) -> None:
    """Speaker labels and calendar dates, end to end with the shipped weights."""
    def at(day: int) -> float:
        return dt.datetime(2026, 3, day, 15, tzinfo=dt.UTC).timestamp()

    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "d"), embedder="static",
                                   store_url=store_url), clock=lambda: at(28))
    await engine.start()
    try:
        s = engine.scope(project_id="p", agent_id="a", user_id="pair")

        calls = [
            (2, ["Caroline: the adoption agency called me back today",
                 "Melanie: that is great news"]),
            # The same words from each of the two, a day apart: only who spoke differs.
            (9, ["Caroline: Melanie, I painted the lake at sunrise"]),
            (10, ["Melanie: Caroline, I painted the lake at sunrise"]),
            (23, ["Caroline: the adoption agency wants more papers",
                  "Melanie: good luck with it"]),
        ]
        await engine.import_history(s, Caller("pair"), [
            {"startedAt": at(day), "turns": [
                {"userText": text, "assistantText": "", "createdAt": at(day) + n}
                for n, text in enumerate(turns)]}
            for day, turns in calls])
        assert await engine.flush(60)

        async def top(query: str) -> str:
            result = await engine.search_memory(s, query, lanes=["permanent"],
                                                timeout_ms=5000)
            return str(result.permanent[0]["text"])

        # Both turns name both people; each question finds its speaker's own words
        # (recency cannot explain both).
        assert (await top("What did Melanie paint?")).startswith("Melanie: Caroline, I")
        assert (await top("What did Caroline paint?")).startswith("Caroline: Melanie, I")
        # Two calls about the agency; the same question with another date finds the other.
        assert "more papers" in await top("What about the adoption agency on 23 March, 2026?")
        assert "called me back" in await top("What about the adoption agency on March 2, 2026?")
    finally:
        await engine.close()


@pytest.mark.parametrize(("query", "asks"), [
    ("what did I order last time?", True),
    ("Where do we usually stay in May?", True),
    ("I'm thinking of baking for my colleagues, any tips?", True),
    ("where\u2019s the place I\u2019ve been to twice", True),
    ("What did Melanie paint?", False),
    # "US" lower-cases to "us", which is not on the list for this reason.
    ("Which US cities does John mention visiting to Tim?", False),
    ("when is the vet appointment", False),
])
def test_a_query_about_the_asker_is_told_by_its_first_person_words(
        query: str, asks: bool) -> None:
    assert about_the_asker(query) is asks


async def test_the_learned_model_ranks_third_person_queries_only(tmp_path: Path) -> None:
    """A query about the asker keeps the hand-set ranking; the rest the learned one
    (and ``learned_for_asker`` hands the asker's queries to the model too)."""
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "d"), embedder="static"),
                          clock=lambda: NOW)
    await engine.start()
    try:
        s = engine.scope(project_id="p", agent_id="a", user_id="dana")
        # Three calls about the garden, oldest to newest; the newest matches the words best.
        calls = [(30, "Dana: the roses in the garden need pruning, I think"),
                 (20, "Dana: my garden tomatoes are ripe now"),
                 (2, "Dana: I planted basil and mint in my garden, my garden is my joy")]
        await engine.import_history(s, Caller("dana"), [
            {"startedAt": NOW - age * DAY_S, "turns": [
                {"userText": text, "assistantText": "", "createdAt": NOW - age * DAY_S}]}
            for age, text in calls])
        assert await engine.flush(60)

        async def first(query: str, params: RankParams) -> str:
            engine.params = params
            result = await engine.search_memory(s, query, lanes=["permanent"],
                                                timeout_ms=5000)
            return str(result.permanent[0]["text"])

        # A model that ranks by age alone, oldest first: no ranking built for recall
        # would put the roses first for these words.
        oldest_first = dataclasses.replace(engine.params, fusion=only("recency", -50.0))
        hand = dataclasses.replace(engine.params, fusion=None)
        about_me = "what did I say about my garden?"
        about_dana = "what did Dana say about the garden?"
        assert "roses" not in await first(about_me, hand)
        assert await first(about_me, oldest_first) == await first(about_me, hand)
        assert "roses" in await first(about_dana, oldest_first)
        every = dataclasses.replace(oldest_first, learned_for_asker=True)
        assert "roses" in await first(about_me, every)
    finally:
        await engine.close()
