"""Learned fusion: one logistic model scores every recall candidate from its features.

The hand-set pipeline (reciprocal-rank fusion, then fixed call, neighbour and time
weights) has a constant per signal chosen by ablation. Here the same signals become
columns of a feature matrix and a logistic regression, fitted on the development data
by ``scripts/fit_fusion.py`` (with its cross-validation), weighs them. The weights are
data (``fusion_weights.json`` beside this module), one set per embedder, because the
cosine features mean different things for different models; an embedder without a set
keeps the hand-set pipeline.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import numpy as np

from ._caller_memory import FACT_GROUP
from ._fusion_columns import call_means
from ._fusion_few import FEW_CANDIDATES, few_base_rows
from ._fusion_model import LENGTH_CAP, RANK_OFFSET, BaseRows, FusionModel
from ._index import BoolArray, FloatArray, HybridIndex, IntArray, Ranked
from ._rank import (
    F64,
    SECONDS_PER_DAY,
    RankParams,
    best_neighbours,
    blend,
    expand_neighbours,
    time_mask,
)
from ._ranked import distinct
from ._speakers import speaker_features
from ._time import TimeHint
from ._topic import TopicModel, is_list_question

__all__ = ["FEATURES", "WEIGHTS_FILE", "Candidates", "FusionModel", "base_rows",
           "candidate_features", "learned_rank", "load_fusion", "parse_fusion", "topic_rows"]

log = logging.getLogger("voxmem.recall")

WEIGHTS_FILE = "fusion_weights.json"

#: The feature columns, in order. A weights file must name exactly these.
FEATURES = (
    "keyword_rr",     # keyword rank as reciprocal rank, 1 for the first hit, 0 if absent
    "bm25",           # BM25 score / the query's best BM25 score
    "dense_rr",       # vector rank as reciprocal rank, 0 if absent
    "cosine",         # cosine to the query (every candidate, not only the vector top)
    "fused",          # the reciprocal-rank fusion score with recency and confidence
    "call_fused",     # the mean of the call's best three fused scores
    "call_cosine",    # the mean of the call's best three cosines
    "neighbour",      # the best fused score of the turn before or after
    "recency",        # 0.5 ** (age in days / 30)
    "time_match",     # 1 if the memory is from the time the query names
    "is_fact",        # 1 for a learned fact
    "outside_call",   # 1 for a fact, summary or turn without a call
    "cosine_rel",     # cosine / the query's best candidate cosine
    "call_bm25",      # the mean of the call's best three BM25 features
    "call_best",      # 1 for the candidate with the best fused score of its call
    "neighbour_bm25",  # the best BM25 feature of the turn before or after
    "neighbour_cosine",  # the best cosine of the turn before or after
    "speaker_named",  # the turn's speaker label ("Dana: ...") is a word of the query
    "speaker_other",  # the query names a speaker of the candidates, but not this turn's
    "speaker_self",   # speaker_named, and the turn speaks in the first person ("I", "my")
    "length",         # the turn's indexed words, capped at LENGTH_CAP, / LENGTH_CAP
    "topic_cosine",   # cosine to the question's topic words (no names; _topic.py)
    "topic_match",    # per topic word, its most similar word of the turn, averaged
    "list_call",      # call_fused, for a list question ("what books has ... read?")
    "list_best",      # call_best, for a list question
)
_TOPIC_COSINE = FEATURES.index("topic_cosine")
_TOPIC_MATCH = FEATURES.index("topic_match")
# The columns ``base_rows`` writes, by name, so the order of FEATURES is said once.
(_KEYWORD_RR, _BM25, _DENSE_RR, _COSINE, _FUSED, _CALL_FUSED, _CALL_COSINE, _NEIGHBOUR,
 _RECENCY, _TIME_MATCH, _IS_FACT, _OUTSIDE_CALL, _COSINE_REL, _CALL_BM25, _CALL_BEST,
 _NEIGHBOUR_BM25, _NEIGHBOUR_COSINE, _SPEAKER_NAMED, _SPEAKER_OTHER, _SPEAKER_SELF,
 _LENGTH, _LIST_CALL, _LIST_BEST) = map(FEATURES.index, (
    "keyword_rr", "bm25", "dense_rr", "cosine", "fused", "call_fused", "call_cosine",
    "neighbour", "recency", "time_match", "is_fact", "outside_call", "cosine_rel",
    "call_bm25", "call_best", "neighbour_bm25", "neighbour_cosine", "speaker_named",
    "speaker_other", "speaker_self", "length", "list_call", "list_best"))
#: The call means' columns, and the columns each is the mean of.
_CALL_MEANS, _CALL_SOURCES = [_CALL_FUSED, _CALL_COSINE, _CALL_BM25], [_FUSED, _COSINE, _BM25]
#: The neighbour columns, and the columns each is the neighbours' best of.
_NEIGHBOURS = [_NEIGHBOUR, _NEIGHBOUR_BM25, _NEIGHBOUR_COSINE]
_NEIGHBOUR_SOURCES = [_FUSED, _BM25, _COSINE]
#: The share of recency the model already carries through its ``recency`` feature: the
#: default ``recency_weight`` setting.
LEARNED_RECENCY_WEIGHT = RankParams().recency_weight


def parse_fusion(data: Any, embedder: str) -> FusionModel | None:
    """The model for ``embedder`` from a weights document, or None if it has none.

    Raises ``ValueError`` when the document is malformed: a wrong or missing feature
    name, or a weight that is not a finite number, must not silently rank memories.
    """
    if not isinstance(data, dict) or data.get("features") != list(FEATURES):
        raise ValueError(f"{WEIGHTS_FILE}: 'features' must list exactly {list(FEATURES)}")
    models = data.get("models")
    if not isinstance(models, dict):
        raise ValueError(f"{WEIGHTS_FILE}: 'models' must map embedder names to weights")
    entry = models.get(embedder)
    if entry is None:
        return None
    weights = entry.get("weights") if isinstance(entry, dict) else None
    bias = entry.get("bias") if isinstance(entry, dict) else None
    if (not isinstance(weights, list) or len(weights) != len(FEATURES)
            or not all(isinstance(w, int | float) and math.isfinite(w) for w in weights)
            or not isinstance(bias, int | float) or not math.isfinite(bias)):
        raise ValueError(f"{WEIGHTS_FILE}: model {embedder!r} needs {len(FEATURES)} finite "
                         "'weights' and a finite 'bias'")
    return FusionModel(embedder, np.asarray(weights, dtype=np.float64), float(bias))


def load_fusion(embedder: str) -> FusionModel | None:
    """The shipped model for ``embedder`` (None: that embedder keeps hand-set fusion)."""
    text = resources.files(__package__).joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
    model = parse_fusion(json.loads(text), embedder)
    if model is None:
        log.debug("no learned fusion for embedder %s: hand-set fusion", embedder)
    return model


@dataclasses.dataclass(frozen=True, slots=True)
class Candidates:
    """Recall candidates of one query: index positions and their feature rows."""

    positions: IntArray
    features: F64
    created: F64
    is_fact: BoolArray


def _rank_features(rankings: Sequence[Ranked], ordered: IntArray, order: IntArray,
                   rr: F64, rel: F64 | None) -> None:
    """Into ``rr`` and ``rel`` (0 where a candidate is in no ranking): (reciprocal rank,
    score / best score), the best over ``rankings``, per candidate; ``order`` sorts the
    candidates' positions (stable), ``ordered`` is them in that order."""
    for ranked in rankings:
        if not len(ranked) or not ordered.shape[0]:
            continue
        at = np.minimum(np.searchsorted(ordered, ranked.positions), ordered.shape[0] - 1)
        found = ordered[at] == ranked.positions
        rows = order[at[found]]
        ranks = np.flatnonzero(found)
        np.maximum.at(rr, rows, (RANK_OFFSET + 1) / (RANK_OFFSET + ranks + 1.0))
        if rel is not None:
            best = float(ranked.scores[0]) or 1.0
            np.maximum.at(rel, rows, ranked.scores[found].astype(np.float64) / best)


def candidate_features(index: HybridIndex, fused: Sequence[tuple[int, float]],
                       keyword: Sequence[Ranked], dense: Sequence[Ranked],
                       vector: FloatArray | None, now: float, when: TimeHint | None,
                       allowed: Callable[[IntArray], BoolArray],
                       query_text: str = "", topic: TopicModel | None = None, *,
                       params: RankParams | None = None) -> Candidates:
    """Feature rows for ``fused`` candidates and the call neighbours they bring in.

    ``fused`` are (position, score) pairs from ``_rank.fuse``; ``keyword`` and ``dense``
    the rankings they came from (a query with a time window is searched twice);
    ``query_text`` the query as asked (for the speaker, topic and list features);
    ``topic`` the embedder's token vectors (None: the topic features are 0).
    ``params``: with a ``fusion`` model, the topic features are computed only for the
    rows :func:`topic_rows` picks (0 for the rest); without, for every row.
    A query with at most ``_fusion_few.FEW_CANDIDATES`` candidates gets the same rows
    from a plain-Python path (``_fusion_few``), cheaper for a few.
    """
    rows_of = few_base_rows if 0 < len(fused) <= FEW_CANDIDATES else base_rows
    got = rows_of(index, fused, keyword, dense, vector, now, when, allowed, query_text)
    positions, features, created, is_fact = got.positions, got.features, got.created, \
        got.is_fact
    if topic is not None and vector is not None and positions.shape[0]:
        rows = (topic_rows(params.fusion, features, created, is_fact, now, params)
                if params is not None and params.fusion is not None else None)
        if rows is None:
            rows = np.arange(positions.shape[0])
        features[rows, _TOPIC_COSINE], features[rows, _TOPIC_MATCH] = topic.features(
            index, positions[rows], got.vectors[rows], query_text, got.names)
    return Candidates(positions, features, created, is_fact)


def base_rows(index: HybridIndex, fused: Sequence[tuple[int, float]],
              keyword: Sequence[Ranked], dense: Sequence[Ranked],
              vector: FloatArray | None, now: float, when: TimeHint | None,
              allowed: Callable[[IntArray], BoolArray], query_text: str) -> BaseRows:
    """:func:`candidate_features` before the topic features, in numpy (any number of
    candidates; the topic columns are 0).

    The rows are one preallocated ``(candidates, features)`` array, each column written
    into it where it is computed (25 column arrays and a stack of them before), and a
    column left 0 is not written; the call and neighbour families are computed for all
    their columns at once (``_fusion_columns``). Every value is the same as before.
    """
    positions = np.fromiter((p for p, _ in fused), dtype=np.int64, count=len(fused))
    base = np.fromiter((s for _, s in fused), dtype=np.float64, count=len(fused))
    groups = index.groups_at(positions)
    positions, base, groups = expand_neighbours(index, positions, base, groups, allowed)
    n = positions.shape[0]
    rows = np.zeros((n, len(FEATURES)))
    col = rows.T  # col[j]: feature j's column, written in place
    # One sort of the candidates for the rank and the neighbour features (three before).
    by_pos = np.argsort(positions, kind="stable")
    ordered = positions[by_pos]
    _rank_features(keyword, ordered, by_pos, col[_KEYWORD_RR], col[_BM25])
    _rank_features(dense, ordered, by_pos, col[_DENSE_RR], None)
    vectors = (index.vectors_at(positions) if vector is not None and n
               else np.zeros((0, 0), dtype=np.float32))
    if vector is not None and n:
        np.maximum(vectors @ vector, 0.0, out=col[_COSINE])
    col[_FUSED] = base
    created = index.created_at(positions)
    col[_RECENCY] = np.power(0.5, np.maximum(now - created, 0.0) / SECONDS_PER_DAY / 30.0)
    if when is not None:
        col[_TIME_MATCH] = time_mask(index, positions, when)
    is_fact = groups == FACT_GROUP
    col[_IS_FACT] = is_fact
    col[_OUTSIDE_CALL] = groups <= 0
    # A fact, summary or turn outside a call counts as a call of one for the call
    # features, as in the hand-set ranking; else the call weight would bury every fact
    # (the dev data has no facts to teach the model otherwise).
    calls = np.where(groups > 0, groups,
                     int(groups.max(initial=0)) + 1 + np.arange(groups.shape[0]))
    # np.unique's inverse by a sort and a binary search: the same slots at half the
    # cost (numpy's wrapper and its own sort of the inverse, ~80 against ~40 us here).
    slot = np.searchsorted(distinct(calls), calls)
    means, call_top = call_means(slot, col[_CALL_SOURCES])
    col[_CALL_MEANS] = means
    col[_CALL_BEST] = base >= call_top - 1e-12
    named, other, self_, names = speaker_features(index, positions, groups, query_text)
    col[_SPEAKER_NAMED], col[_SPEAKER_OTHER], col[_SPEAKER_SELF] = named, other, self_
    if is_list_question(query_text):  # 1.0 times a column is the column
        col[_LIST_CALL], col[_LIST_BEST] = col[_CALL_FUSED], col[_CALL_BEST]
    col[_NEIGHBOURS] = best_neighbours(positions, groups, col[_NEIGHBOUR_SOURCES], by_pos)
    if n:
        col[_COSINE_REL] = col[_COSINE] / max(float(col[_COSINE].max()), 1e-6)
    col[_LENGTH] = np.minimum(index.term_counts_at(positions), LENGTH_CAP) / LENGTH_CAP
    return BaseRows(positions, rows, created, is_fact, vectors, names)


def _final_score(model: FusionModel, features: F64, created: F64, is_fact: BoolArray,
                 now: float, params: RankParams) -> F64:
    """What :func:`learned_rank` sorts by (see there)."""
    # The model has a recency feature, so it already weighs the default share of recency
    # it was fitted with; blending that share in again double-counts it (measured: LoCoMo
    # recall@10 -0.007 in sample). Only a weight above the default (``summarise_recent``,
    # or a larger ``recency_weight`` setting) adds the difference.
    score = model.score(features)
    if params.recency_weight > LEARNED_RECENCY_WEIGHT:
        # dataclasses.replace only when it matters: it costs ~10 us, twice a query.
        score = blend(score, created, now, dataclasses.replace(
            params, recency_weight=params.recency_weight - LEARNED_RECENCY_WEIGHT))
    if params.fact_weight > 1.0:
        score = np.where(is_fact, 0.5 + score / 2, score / 2)
    elif params.fact_weight < 1.0:
        score = np.where(is_fact, score * params.fact_weight, score)
    return score


def topic_rows(model: FusionModel, features: F64, created: F64, is_fact: BoolArray,
               now: float, params: RankParams) -> IntArray | None:
    """The rows that get topic features: the ``params.topic_candidates`` best by the
    model's final score with the topic columns left at 0 (None: every row).

    The topic features are the dearest columns by far (a product of the query's topic
    words with every distinct token of every candidate, ~1.5 ms for a query's ~340
    candidates at 10,000 turns), and only the best few candidates can reach the hits.
    The model is fitted on every row's full features; ``scripts/fit_fusion.py`` applies
    this same cut when it ranks (held-out rows), since fitting on the cut rows held out
    worse. ``features`` must have the topic columns at 0.
    """
    top = params.topic_candidates
    if top <= 0 or features.shape[0] <= top:
        return None
    score = _final_score(model, features, created, is_fact, now, params)
    rows: IntArray = np.sort(np.argsort(-score, kind="stable")[:top])
    return rows


def learned_rank(model: FusionModel, cands: Candidates, now: float,
                 params: RankParams) -> list[tuple[int, float]]:
    """``(position, score)`` best first: the model's score, then the intent's recency
    prior and fact weight (so ``intent`` means the same with either fusion).

    The recency prior is the part of ``params.recency_weight`` above
    :data:`LEARNED_RECENCY_WEIGHT` (see below).

    A fact weight above 1 (``intent="personalize"``) ranks every candidate fact before
    every turn: facts score within (0.5, 1], the rest within (0, 0.5]. Multiplying the
    score, as hand-set fusion does, is not enough here: the model's scores spread far
    wider than reciprocal-rank scores, so a doubled fact still trailed the turn that
    matched its words better.
    """
    if not cands.positions.shape[0]:
        return []
    score = _final_score(model, cands.features, cands.created, cands.is_fact, now, params)
    order = np.argsort(-score, kind="stable")
    # tolist() converts in C: a Python loop over numpy scalars cost ~2 us a candidate.
    return list(zip(cands.positions[order].tolist(), score[order].tolist(), strict=True))
