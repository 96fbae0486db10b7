"""Fusion of keyword and vector rankings, then recency and confidence weighting."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from .._config import setting_default
from ._index import BoolArray, HybridIndex, IntArray, Ranked
from ._ranked import distinct
from ._time import TimeHint

if TYPE_CHECKING:
    from ._fusion_model import FusionModel
    from ._topic import TopicModel

__all__ = ["INTENTS", "INTENT_ALIASES", "RankParams", "best_neighbour", "best_neighbours",
           "blend", "call_scores",
           "expand_neighbours", "fuse", "intent_params", "rrf", "structure", "time_boost",
           "time_mask"]

K = TypeVar("K", bound=Hashable)

SECONDS_PER_DAY = 86_400.0
#: Default ``RankParams.topic_candidates``: a query has ~340 caller candidates at
#: 10,000 turns, and its hits come from the first few dozen (docs/performance.md,
#: "Search latency at size").
TOPIC_CANDIDATES = 64
F64 = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True, slots=True)
class RankParams:
    # The settings-backed constants take their defaults from the settings table, so a
    # RankParams() built without settings ranks exactly as a default engine does.
    rrf_k: int = setting_default("rrf_k")
    recency_weight: float = setting_default("recency_weight")
    half_life_days: float = setting_default("recency_half_life_days")
    #: Vector hits below this cosine are ignored unless keyword search found them too,
    #: so an unrelated query yields nothing rather than the least-unrelated memories.
    dense_floor: float = setting_default("dense_floor")
    keyword_weight: float = 1.0
    dense_weight: float = setting_default("dense_weight")
    #: A call's score (the mean of its best ``call_top`` turn scores) is added to each
    #: of its turns with this weight, so one strongly matching call lifts its turns.
    call_weight: float = 1.0
    call_top: int = 3
    #: ``call_weight`` for a list question ("how many bikes did I service?", "what
    #: books have I read?": ``_topic.is_list_question``) ranked by the hand-set
    #: ranking. Such a question collects what was said across calls, and the call lift
    #: crowds its top five with the one call that matches best; the learned model
    #: weighs calls less for list questions too (``list_call``). 0: LongMemEval turn
    #: recall@5 0.798 -> 0.855, 5 of 16 list questions better, none worse, recall@10
    #: and session recall level (docs/recall.md, "List questions about the asker").
    list_call_weight: float = 0.0
    #: A list question ranked by the hand-set ranking lets at most this many turns of
    #: one call into its first ``list_cap_depth`` hits (``_spread.spread_calls``), so the
    #: later calls' turns get in; 0: no cap. 3: LongMemEval turn recall@10 0.940 ->
    #: 0.948 with ``static+onnx``, ``static`` level, nothing lower; 1 and 2 push a
    #: call's second and third answer turns out (docs/recall.md,
    #: "A call's share of a list question's top ten"). The learned ranking is not
    #: capped: on LoCoMo the cap moved it either way by embedder.
    list_call_cap: int = 3
    list_cap_depth: int = 10
    #: Then at most ``list_top_cap`` turns of one call among its first
    #: ``list_top_depth`` hits: a list question's first answers come from different
    #: calls. Only reorders inside the capped top ten (its set of ten is unchanged).
    #: 1 in 3: LongMemEval turn recall@3 0.662 -> 0.702 and NDCG@10 0.752 -> 0.767,
    #: recall@1, @5, @10 and the session figures level (docs/recall.md, "The first
    #: three places from three calls"). 0: no such cap.
    list_top_cap: int = 1
    list_top_depth: int = 3
    #: A turn also takes this share of its best-scoring neighbour's score (the turn
    #: before or after it in the same call), and such neighbours become candidates.
    #: 0.2 rather than 0.5: the larger share crowds LongMemEval's top five with
    #: neighbours (turn recall@5 0.683 vs 0.769) for +0.009 LoCoMo recall@10
    #: (docs/recall.md, "Neighbour weight").
    neighbour_weight: float = 0.2
    #: Memories from the time a query names ("two weeks ago", "in May", "the first
    #: time I called") have their score multiplied by ``1 + time_weight``.
    time_weight: float = 0.5
    #: Fact scores are multiplied by this (capped at 1); ``intent="personalize"``
    #: raises it so what was learned about the caller comes before raw turns.
    fact_weight: float = 1.0
    #: Learned fusion (``_fusion.py``): when set, a logistic model over per-candidate
    #: features replaces the hand-set call, neighbour and time constants above.
    fusion: FusionModel | None = None
    #: Whether ``fusion`` ranks a query about the asker too ("what did I order?",
    #: ``_speakers.about_the_asker``). Off: the model's weights come from questions
    #: about a named third person, and on the callers' questions about themselves the
    #: hand-set ranking above did better held out (LongMemEval turn recall@10 0.926 vs
    #: 0.840; docs/recall.md, "Who is asked about").
    learned_for_asker: bool = False
    #: The token vectors the learned fusion's topic features compare words through
    #: (``_topic.py``); None for an embedder without them (the features are then 0).
    topic: TopicModel | None = None
    #: Learned fusion computes the topic features only for this many candidates, the
    #: best by the model without them (``_fusion.topic_rows``); 0: for every candidate.
    topic_candidates: int = TOPIC_CANDIDATES
    #: With both embeddings (``embedder="static+onnx"``, ``_second.py``): the weight of
    #: the second model's cosine ranking, a third list of the fusion, and its floor (a
    #: hit only that list finds needs this cosine). 0: no third list.
    second_weight: float = 0.0
    second_floor: float = 0.15


#: What ``search_memory(intent=...)`` accepts (see ``intent_params`` and docs/recall.md).
INTENTS = frozenset({"answer_current_user", "personalize", "summarise_recent", "knowledge"})
INTENT_ALIASES = {"summarize_recent": "summarise_recent", "personalise": "personalize"}


def intent_params(params: RankParams, intent: str) -> RankParams:
    """The ranking constants for one ``intent``."""
    if intent == "personalize":
        return dataclasses.replace(params, fact_weight=2.0)
    if intent == "summarise_recent":
        # Recency dominates: last week's calls first, whatever matches the words best.
        return dataclasses.replace(params, recency_weight=0.6, half_life_days=7.0)
    return params


def rrf(keyword: Sequence[K], dense: Sequence[tuple[K, float]],
        params: RankParams, second: Sequence[tuple[K, float]] | None = None,
        ) -> dict[K, float]:
    """Reciprocal-rank fusion, normalised so a document first in every list scores 1.

    ``dense`` pairs carry the cosine: vector-only hits under ``dense_floor`` are dropped.
    ``second``: the second model's ranking (``params.second_weight``, floor
    ``params.second_floor``), or None when there is none for this query.
    """
    fused: dict[K, float] = {}
    for rank, key in enumerate(keyword):
        fused[key] = fused.get(key, 0.0) + params.keyword_weight / (params.rrf_k + rank + 1)
    for rank, (key, cos) in enumerate(dense):
        if cos < params.dense_floor and key not in fused:
            continue
        fused[key] = fused.get(key, 0.0) + params.dense_weight / (params.rrf_k + rank + 1)
    best = params.keyword_weight + params.dense_weight
    if second is not None and params.second_weight > 0:
        for rank, (key, cos) in enumerate(second):
            if cos < params.second_floor and key not in fused:
                continue
            fused[key] = fused.get(key, 0.0) + params.second_weight / (params.rrf_k + rank + 1)
        best += params.second_weight
    best /= params.rrf_k + 1
    return {key: value / best for key, value in fused.items()}


def blend(relevance: npt.NDArray[np.float64], created: npt.NDArray[np.float64], now: float,
          params: RankParams) -> npt.NDArray[np.float64]:
    """Mix relevance with an exponential recency prior (half-life in days)."""
    if params.recency_weight <= 0:
        return relevance
    age_days = np.maximum(now - created, 0.0) / SECONDS_PER_DAY
    recency = np.power(0.5, age_days / params.half_life_days)
    return (1.0 - params.recency_weight) * relevance + params.recency_weight * recency


def fuse(
    index: HybridIndex,
    keyword: Ranked,
    dense: Ranked,
    k: int | None,
    now: float,
    params: RankParams,
    confidence: dict[int, float] | None = None,
    second: Ranked | None = None,
) -> list[tuple[int, float]]:
    """Fuse two rankings of ``index`` positions (three with the second model's,
    ``second``), reweighted by age and confidence.

    Returns ``(position, score)`` best first, at most ``k`` (every candidate with
    ``None``); scores are within ``(0, 1]``.
    """
    fused = rrf(keyword.positions.tolist(),
                list(zip(dense.positions.tolist(), dense.scores.tolist(), strict=True)), params,
                None if second is None else
                list(zip(second.positions.tolist(), second.scores.tolist(), strict=True)))
    if not fused:
        return []
    positions = np.fromiter(fused.keys(), dtype=np.int64, count=len(fused))
    relevance = np.fromiter(fused.values(), dtype=np.float64, count=len(fused))
    score = blend(relevance, index.created_at(positions), now, params)
    if confidence:
        # Over the dict's own ints, not the array's: iterating a numpy array makes a
        # scalar object per candidate (~300 of them a query).
        factor = np.fromiter(map(confidence.get, fused, repeat(1.0)), dtype=np.float64,
                             count=len(fused))
        score = score * factor
        if params.fact_weight != 1.0:
            is_fact = np.fromiter(map(confidence.__contains__, fused), dtype=np.bool_,
                                  count=len(fused))
            score = np.where(is_fact, np.minimum(score * params.fact_weight, 1.0), score)
    order = np.argsort(-score, kind="stable")[:k]  # k=None: every candidate
    return list(zip(positions[order].tolist(), score[order].tolist(), strict=True))


def structure(index: HybridIndex, scored: Sequence[tuple[int, float]], params: RankParams,
              allowed: Callable[[IntArray], BoolArray]) -> list[tuple[int, float]]:
    """Rescore turns with their call and their neighbours, best first.

    ``scored`` are (position, score) pairs from :func:`fuse`. Calls are index groups
    from 1 up (facts, summaries and turns without a call are left as they are).
    ``allowed`` says which neighbour positions may be added (same lane, retention).
    Scores stay within ``(0, 1]``.
    """
    if not scored or (params.call_weight <= 0 and params.neighbour_weight <= 0):
        return sorted(scored, key=lambda item: -item[1])  # stable: ties keep their order
    positions = np.fromiter((p for p, _ in scored), dtype=np.int64, count=len(scored))
    base = np.fromiter((s for _, s in scored), dtype=np.float64, count=len(scored))
    groups = index.groups_at(positions)
    if params.neighbour_weight > 0:
        positions, base, groups = expand_neighbours(index, positions, base, groups, allowed)
    final = base.copy()
    in_call = groups > 0
    if params.call_weight > 0 and in_call.any():
        final += params.call_weight * call_scores(groups, base, params.call_top)
    if params.neighbour_weight > 0:
        final += params.neighbour_weight * best_neighbour(positions, groups, base)
    # Facts, summaries and turns outside calls score as a call of one turn would, rather
    # than lose to every call turn for having no call to lift them.
    final[~in_call] = base[~in_call] * (1.0 + params.call_weight / params.call_top)
    final /= 1.0 + params.call_weight + params.neighbour_weight
    keep = final > 0
    positions, final = positions[keep], final[keep]
    order = np.argsort(-final, kind="stable")
    return list(zip(positions[order].tolist(), final[order].tolist(), strict=True))


def time_boost(index: HybridIndex, scored: list[tuple[int, float]], when: TimeHint | None,
               params: RankParams) -> list[tuple[int, float]]:
    """Favour the memories from the time the query names (see :mod:`._time`).

    A window boosts what was created inside it; "first"/"latest" boosts the earliest or
    the newest call among the candidates. Order of the result: unchanged positions,
    rescored (the caller sorts).
    """
    if when is None or params.time_weight <= 0 or not scored:
        return scored
    positions = np.fromiter((p for p, _ in scored), dtype=np.int64, count=len(scored))
    boosted = time_mask(index, positions, when)
    if when.order is not None and not boosted.any():
        return scored  # no call among the candidates to call first or latest
    factor = np.where(boosted, 1.0 + params.time_weight, 1.0)
    top = 1.0 + params.time_weight
    return [(p, s * float(f) / top) for (p, s), f in zip(scored, factor.tolist(), strict=True)]


def expand_neighbours(index: HybridIndex, positions: IntArray, base: F64,
                      groups: IntArray, allowed: Callable[[IntArray], BoolArray],
                      ) -> tuple[IntArray, F64, IntArray]:
    """Add the turns just before and after each call turn, with a score of 0."""
    near = np.concatenate([positions[groups > 0] - 1, positions[groups > 0] + 1])
    # np.setdiff1d without numpy 2's slow hashing unique (both sides are distinct).
    near = distinct(near)
    if near.shape[0]:
        # Not np.isin, which sorts both sides on every call: the candidates sorted once
        # and a binary search, 5 us against 15 for ~200 neighbours of ~100 candidates.
        ordered = np.sort(positions)
        at = np.minimum(np.searchsorted(ordered, near), ordered.shape[0] - 1)
        near = near[ordered[at] != near]
    near = near[(index.groups_at(near) > 0) & index.alive_at(near)]
    near = near[allowed(near)] if near.shape[0] else near
    return (np.concatenate([positions, near]), np.concatenate([base, np.zeros(near.shape[0])]),
            np.concatenate([groups, index.groups_at(near)]))


def call_scores(groups: IntArray, values: F64, top: int) -> F64:
    """For each candidate in a call (group > 0): the sum of its call's best ``top``
    values / ``top``; 0 for candidates outside calls."""
    n = groups.shape[0]
    by_group = np.lexsort((-values, groups))
    g_sorted = groups[by_group]
    first = np.r_[True, g_sorted[1:] != g_sorted[:-1]]
    rank_in_call = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
    counted = (rank_in_call < top) & (g_sorted > 0)
    _, slot = np.unique(g_sorted, return_inverse=True)
    sums = np.bincount(slot, weights=np.where(counted, values[by_group], 0.0))
    call = np.empty(n)
    call[by_group] = sums[slot] / top
    out: F64 = np.where(groups > 0, call, 0.0)
    return out


def best_neighbour(positions: IntArray, groups: IntArray, values: F64) -> F64:
    """The larger value of the turn just before or after, within the same call (0 for
    candidates outside calls or without a candidate neighbour)."""
    out: F64 = best_neighbours(positions, groups, values[None])[0]
    return out


def best_neighbours(positions: IntArray, groups: IntArray, values: F64 | Sequence[F64],
                    by_pos: IntArray | None = None) -> F64:
    """:func:`best_neighbour` of each row of ``values`` (``(columns, candidates)``, or
    the columns), all rows at once: the candidates sorted once and each step one numpy
    call for every column (the learned fusion reads three; per column, the calls were
    most of their cost). ``by_pos``: that stable sort of ``positions``, when the caller
    has it."""
    values = np.asarray(values, dtype=np.float64)
    k, n = values.shape
    if by_pos is None:
        by_pos = np.argsort(positions, kind="stable")
    p_sorted, g_sorted = positions[by_pos], groups[by_pos]
    adjacent = (p_sorted[1:] == p_sorted[:-1] + 1) & (g_sorted[1:] == g_sorted[:-1])
    b_sorted = values[:, by_pos]
    near = np.zeros((k, n))
    near[:, 1:] = np.where(adjacent, b_sorted[:, :-1], 0.0)
    np.maximum(near[:, :-1], np.where(adjacent, b_sorted[:, 1:], 0.0), out=near[:, :-1])
    best = np.empty((k, n))
    best[:, by_pos] = near
    out: F64 = np.where(groups > 0, best, 0.0)
    return out


def time_mask(index: HybridIndex, positions: IntArray, when: TimeHint) -> BoolArray:
    """Which ``positions`` belong to the time ``when`` names: created inside its window,
    or (for "first"/"latest") in the earliest or newest call among them."""
    created = index.created_at(positions)
    if when.order is None:
        assert when.start is not None and when.end is not None
        inside: BoolArray = (created >= when.start) & (created <= when.end)
        return inside
    groups = index.groups_at(positions)
    in_call = groups > 0
    if not in_call.any():
        return np.zeros(positions.shape[0], dtype=np.bool_)
    pick = np.argmin if when.order == "first" else np.argmax
    chosen = np.flatnonzero(in_call)[pick(created[in_call])]
    same: BoolArray = groups == groups[chosen]
    return same
