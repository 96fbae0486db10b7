"""Recall lanes: each turns a query into ranked hits from one source.

Lane functions are synchronous and CPU-bound (numpy over the warm indexes); the engine
runs them on worker threads under the turn's deadline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, cast

import numpy as np

from ..models import iso
from ._caller_memory import FACT_GROUP, CallerMemory, Doc
from ._fusion import Candidates, candidate_features, learned_rank
from ._index import BoolArray, FloatArray, HybridIndex, IntArray, Ranked, Where
from ._org_memory import OrgMemory
from ._rank import RankParams, fuse, structure, time_boost
from ._ranked import distinct
from ._speakers import about_the_asker
from ._spread import spread_calls
from ._time import TimeHint
from ._topic import is_list_question
from ._vectors import Scan

__all__ = ["KeywordPhase", "Query", "caller_candidates", "caller_keyword_phase", "doc_hit",
           "org_dense_phase", "org_keyword_phase", "search_caller_lane", "search_org_lane"]

#: Candidates taken from each ranking before fusion, per requested hit.
CANDIDATES_PER_HIT = 8
MIN_CANDIDATES = 40


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: list[str]
    vector: FloatArray | None
    now: float
    min_created: float | None = None
    #: the time the query names, if any (see ``_time.parse_when``)
    when: TimeHint | None = None
    #: the query by the second model (``embedder="static+onnx"``), when it is at hand
    second: FloatArray | None = None
    #: the caller index's rows scored for ``vector`` on a lane thread, if begun
    #: (``LaneRunner.start_scan``); a search of another index ignores it
    scan: Scan | None = None
    #: the same for ``second`` and the index's second matrix (``LaneRunner.start_second``)
    second_scan: Scan | None = None


def doc_hit(lane: str, doc_id: str, doc: Doc, score: float) -> dict[str, Any]:
    """The wire shape of one hit (also what the composer reads)."""
    hit: dict[str, Any] = {
        "id": doc_id,
        "lane": lane,
        "kind": doc.kind,
        "text": doc.text,
        "score": round(score, 6),
        "createdAt": iso(doc.created_at),
        "createdAtTs": doc.created_at,
    }
    if doc.session_id:
        hit["sessionId"] = doc.session_id
    if doc.kind == "turn":
        hit["userText"] = doc.user_text or ""
        hit["assistantText"] = doc.assistant_text or ""
        hit["turnId"] = doc.turn_id
    if doc.kind == "fact":
        hit["confidence"] = doc.confidence
        if doc.slot_key:
            hit["slotKey"] = doc.slot_key
        if doc.fact_kind:
            hit["factKind"] = doc.fact_kind
    if doc.index is not None:
        hit["index"] = doc.index
        hit["documentId"] = doc.document_id
        hit["metadata"] = doc.metadata or {}
    return hit


def _depth(k: int) -> int:
    return max(MIN_CANDIDATES, k * CANDIDATES_PER_HIT)


def _ranked(index: HybridIndex, query: Query, k: int,
            where: Where | None) -> tuple[Ranked, Ranked]:
    return index.search(query.terms, query.vector, _depth(k), where, query.scan)


@dataclasses.dataclass(frozen=True, slots=True)
class KeywordPhase:
    """A lane's filters and their keyword rankings, searched before the query's vector
    is ready (the embedding runs on a thread meanwhile; see ``Recall``).

    The dense phase searches the same filters, so the lane ranks exactly what one
    combined search would have.
    """

    wheres: tuple[Where | None, ...]
    keyword: tuple[Ranked, ...]
    #: the caller's working groups when the filters were made
    working: tuple[int, ...] = ()
    #: the vector rankings too, when the first model's vector was at hand (the second
    #: model's is the one being computed); None: the dense phase searches them
    dense: tuple[Ranked, ...] | None = None


def _searched(index: HybridIndex, query: Query, k: int, wheres: Sequence[Where | None],
              words: KeywordPhase | None) -> list[tuple[Ranked, Ranked]]:
    """(keyword, dense) per filter: in one search each, or the dense half only when the
    keyword half was searched already."""
    if words is None:
        return [_ranked(index, query, k, where) for where in wheres]
    if words.dense is not None:
        return list(zip(words.keyword, words.dense, strict=True))
    return [(keyword, index.search((), query.vector, _depth(k), where, query.scan)[1]
             if query.vector is not None else Ranked.empty())
            for keyword, where in zip(words.keyword, words.wheres, strict=True)]


def _confidence(index: HybridIndex, keyword: Ranked, dense: Ranked,
                second: Ranked | None = None) -> dict[int, float]:
    """Fact confidence of the candidates (a fact's score is scaled by it)."""
    candidates = distinct(np.concatenate([keyword.positions, dense.positions]
                                         + ([] if second is None else [second.positions])))
    facts = candidates[index.groups_at(candidates) == FACT_GROUP]
    return {pos: index.payload_at(pos).confidence for pos in facts.tolist()}


@dataclasses.dataclass(frozen=True, slots=True)
class _Gathered:
    """A caller lane's candidates before the final scoring."""

    fused: list[tuple[int, float]]
    keyword: list[Ranked]
    dense: list[Ranked]
    working: tuple[int, ...]
    allowed: Callable[[IntArray], BoolArray]


def _caller_filters(mem: CallerMemory, lane: str, query: Query,
                    params: RankParams) -> tuple[tuple[int, ...], tuple[Where, ...]]:
    """The caller's working groups and the filters a caller lane searches: the lane's
    rows, then (for a query naming a time) the rows of that time window."""
    working = tuple(mem.working_groups())
    # The working lane reads a handful of positions (this call's turns and summaries);
    # the permanent lane everything else. The index resolves the filter under its lock.
    where = (Where(groups=working, min_created=query.min_created) if lane == "working"
             else Where(exclude_groups=working, min_created=query.min_created))
    when = query.when
    if (when is None or when.start is None or when.end is None
            or params.time_weight <= 0):
        return working, (where,)
    # Memories from the named time may match the words only loosely ("what did I do a
    # week ago?"): rank that window on its own too, so they are candidates at all.
    start = when.start if query.min_created is None else max(when.start, query.min_created)
    # Gathering the window's few rows beats scanning the caller's whole index again.
    window = mem.index.created_between(start, when.end)
    if window.shape[0] == mem.index.rows:
        # Every row is from the named time ("last year" for a caller of a few months):
        # the window's rows are the lane's own, so its rankings would be the lane's
        # again (a second full search, the slowest 5 % of queries on a large caller).
        return working, (where,)
    return working, (where, dataclasses.replace(where, min_created=start,
                                                max_created=when.end, positions=window))


def caller_keyword_phase(mem: CallerMemory, lane: str, query: Query, k: int,
                         params: RankParams) -> KeywordPhase:
    """A caller lane's keyword rankings, searched while the query is still embedded
    (and its vector rankings, when ``query`` has the first model's vector)."""
    working, wheres = _caller_filters(mem, lane, query, params)
    if query.vector is not None:
        pairs = [_ranked(mem.index, query, k, where) for where in wheres]
        return KeywordPhase(wheres, tuple(kw for kw, _ in pairs), working,
                            tuple(dense for _, dense in pairs))
    return KeywordPhase(wheres, tuple(mem.index.search(query.terms, None, _depth(k), where)[0]
                                      for where in wheres), working)


def _gather(mem: CallerMemory, lane: str, query: Query, k: int,
            params: RankParams, words: KeywordPhase | None = None) -> _Gathered:
    working, wheres = ((words.working, words.wheres) if words is not None
                       else _caller_filters(mem, lane, query, params))
    index = mem.index
    pairs = _searched(index, query, k, wheres, words)
    rankings_kw, rankings_dense = [kw for kw, _ in pairs], [dense for _, dense in pairs]

    def allowed(positions: IntArray) -> BoolArray:
        # A neighbour shares its call with a candidate, so only retention can rule it out.
        if query.min_created is None:
            return np.ones(positions.shape[0], dtype=np.bool_)
        ok: BoolArray = index.created_at(positions) >= query.min_created
        return ok

    # The second model's ranking per filter (``_second.py``), when the query has its
    # vector; otherwise the fusion is exactly the two lists'.
    seconds: list[Ranked | None] = (
        [index.search_second(query.second, _depth(k), where, query.second_scan)
         for where in wheres]
        if query.second is not None and params.second_weight > 0 else [None] * len(pairs))
    if not any(len(keyword) or len(dense) or (second is not None and len(second))
               for (keyword, dense), second in zip(pairs, seconds, strict=True)):
        # Nothing ranked (fusing nothing is nothing): a small caller's permanent lane.
        return _Gathered([], rankings_kw, rankings_dense, working, allowed)
    (keyword, dense), second = pairs[0], seconds[0]
    fused = fuse(index, keyword, dense, None, query.now, params,
                 _confidence(index, keyword, dense, second), second)
    if len(pairs) > 1:
        best = dict(fused)
        for (keyword, dense), second in zip(pairs[1:], seconds[1:], strict=True):
            for pos, score in fuse(index, keyword, dense, None, query.now, params,
                                   _confidence(index, keyword, dense, second), second):
                best[pos] = max(best.get(pos, 0.0), score)
        fused = list(best.items())
    return _Gathered(fused, rankings_kw, rankings_dense, working, allowed)


def caller_candidates(mem: CallerMemory, lane: str, query: Query, k: int,
                      params: RankParams) -> Candidates:
    """The feature rows learned fusion scores for one query (``scripts/fit_fusion.py``
    fits the model on these, gathered without ``params.fusion`` so that every row has
    its topic features, and applies ``_fusion.topic_rows`` itself)."""
    got = _gather(mem, lane, query, k, params)
    return candidate_features(mem.index, got.fused, got.keyword, got.dense, query.vector,
                              query.now, query.when, got.allowed, query.text, params.topic,
                              params=params)


def search_caller_lane(
    mem: CallerMemory, lane: str, query: Query, k: int, params: RankParams,
    words: KeywordPhase | None = None,
) -> list[dict[str, Any]]:
    """Working lane: this call and call summaries. Permanent: facts and earlier calls.

    ``words``: the lane's keyword phase, when it ran before the query's vector was ready.
    """
    if k <= 0 or not len(mem.index):
        return []
    index = mem.index
    got = _gather(mem, lane, query, k, params, words)
    if not got.fused:
        # Nothing matched: no hit can come from neighbours or lineages either (both
        # start from a candidate). A small caller's permanent lane is usually empty
        # (all of its turns are this call's), and its features cost ~130 us for nothing.
        return []
    # Only the hand-set ranking spreads a list question over calls (``_spread.py``).
    spread = False
    if params.fusion is not None and (params.learned_for_asker
                                      or not about_the_asker(query.text)):
        fused = learned_rank(params.fusion, candidate_features(
            index, got.fused, got.keyword, got.dense, query.vector, query.now, query.when,
            got.allowed, query.text, params.topic, params=params), query.now, params)
    else:
        hand = params
        listed = is_list_question(query.text)
        if params.list_call_weight != params.call_weight and listed:
            hand = dataclasses.replace(params, call_weight=params.list_call_weight)
        spread = listed and (params.list_call_cap > 0 or params.list_top_cap > 0)
        fused = structure(index, time_boost(index, got.fused, query.when, hand), hand,
                          got.allowed)
    if lane == "permanent" and mem.turn_lineage:
        working, allowed = got.working, got.allowed

        def eligible(positions: IntArray) -> BoolArray:
            # A comparison per working group (one or two), not np.isin's sorts.
            groups = index.groups_at(positions)
            ok: BoolArray = allowed(positions)
            for group in working:
                ok &= groups != group
            return ok

        fused = prefer_current(mem, fused, eligible)
    if spread:
        groups = index.groups_at(np.fromiter((p for p, _ in fused), dtype=np.int64,
                                             count=len(fused))).tolist()
        fused = spread_calls(fused, groups, ((params.list_call_cap, params.list_cap_depth),
                                             (params.list_top_cap, params.list_top_depth)))
    fused = fused[:k]
    return [doc_hit(lane, mem.index.id_at(p), mem.index.payload_at(p), s) for p, s in fused]


#: A turn behind a superseded fact keeps this share of its score.
SUPERSEDED_TURN_FACTOR = 0.5
#: The turns behind a current fact rank just under it.
CURRENT_TURN_FACTOR = 0.99


def prefer_current(mem: CallerMemory, scored: list[tuple[int, float]],
                   eligible: Callable[[IntArray], BoolArray]) -> list[tuple[int, float]]:
    """Rank a current fact and its turns above the turns behind facts it superseded.

    A turn that backs any fact of a lineage (a fact and those it replaced) makes the
    lineage's current fact a hit at that turn's score, the turns behind the current
    fact follow just below it, and turns behind replaced facts are demoted. So "where
    is my package going?" answers with the new address even when the old address's
    turn matches the words better. ``eligible`` says which positions may be added as
    hits (the lane's own rows, within retention).
    """
    if not mem.lineage_current:
        return scored  # no fact has a lineage: nothing to prefer
    index = mem.index
    turn_lineage, lineage_current = mem.turn_lineage, mem.lineage_current
    score = dict(scored)
    linked: dict[str, float] = {}
    # A candidate's lineage comes from its turn id (a turn) or its own id (a fact), both
    # looked up by item id: unpacking every candidate's payload for them was a fifth of
    # the permanent lane (~200 candidates a query). The lookups run as map() over the
    # candidates (C loops); most candidates have no lineage, and only those that have
    # one reach the Python loop below (measured ~300 us a query as one Python loop).
    ids = index.ids_at(map(itemgetter(0), scored))
    turn_ids = list(map(mem.item_turns.get, ids))
    # dict.get takes None (no turn id) and answers None, as it should here.
    lineage_of_turn = cast(Callable[[str | None], tuple[str, bool] | None], turn_lineage.get)
    turn_lineages = list(map(lineage_of_turn, turn_ids))
    fact_lineages = list(map(mem.fact_lineage.get, ids))
    for i in [i for i, (t, f) in enumerate(zip(turn_lineages, fact_lineages, strict=True))
              if t is not None or f is not None]:
        pos, value = scored[i]
        from_turn = turn_lineages[i]
        # An item with a turn id takes its turn's lineage (or none), never its own.
        lineage = (from_turn[0] if from_turn is not None
                   else fact_lineages[i] if turn_ids[i] is None else None)
        if lineage is not None and lineage in lineage_current:
            linked[lineage] = max(linked.get(lineage, 0.0), value)
        if from_turn is not None and not from_turn[1]:
            score[pos] = value * SUPERSEDED_TURN_FACTOR
    if not linked:
        return scored
    # Each linked lineage's current fact and the turns behind it, then whether each may
    # be a hit, checked for all of them in one call (two small arrays per position
    # cost more than the rest of this function).
    plan: list[tuple[int, float, list[int]]] = []
    for lineage, top in linked.items():
        fact_id = lineage_current[lineage]
        fact_pos = index.position_of(fact_id)
        if fact_pos is None:
            continue
        items = [mem.turn_items.get(turn_id) for turn_id in mem.fact_sources.get(fact_id, ())]
        found = [index.position_of(item) for item in items if item is not None]
        plan.append((fact_pos, top, [pos for pos in found if pos is not None]))
    if not plan:
        return _best_first(score)
    flat = np.fromiter(chain.from_iterable([fact_pos, *turns] for fact_pos, _, turns in plan),
                       dtype=np.int64)
    ok = iter(eligible(flat).tolist())
    for fact_pos, top, turns in plan:
        fact_ok = next(ok)
        turns_ok = [next(ok) for _ in turns]
        if not fact_ok:
            continue
        score[fact_pos] = max(score.get(fact_pos, 0.0), top)
        for turn_pos, turn_ok in zip(turns, turns_ok, strict=True):
            if turn_ok:
                score[turn_pos] = max(score.get(turn_pos, 0.0), top * CURRENT_TURN_FACTOR)
    return _best_first(score)


def _best_first(score: dict[int, float]) -> list[tuple[int, float]]:
    """``score``'s items by score, best first, ties in insertion order.

    ``sorted(..., key=lambda item: -item[1])`` called a Python function per candidate
    (~300 of them); a C key with ``reverse`` sorts the same (reversing keeps a sort
    stable), in about a third of the time.
    """
    return sorted(score.items(), key=itemgetter(1), reverse=True)


def org_keyword_phase(org: OrgMemory, query: Query, k: int) -> KeywordPhase:
    """The org lane's keyword ranking, searched while the query is still embedded."""
    return KeywordPhase((None,), (org.index.search(query.terms, None, _depth(k), None)[0],))


def org_dense_phase(org: OrgMemory, query: Query, k: int) -> Ranked:
    """The org lane's vector ranking alone: the graph search releases the GIL, so it
    runs on a lane thread while the caller lanes run on the event loop (``Recall``)."""
    if query.vector is None:
        return Ranked.empty()
    return org.index.search((), query.vector, _depth(k), None)[1]


def search_org_lane(
    org: OrgMemory, query: Query, k: int, params: RankParams,
    words: KeywordPhase | None = None, dense: Ranked | None = None,
) -> list[dict[str, Any]]:
    """Chunks of the project's org indexes; age does not make knowledge less relevant.

    ``words``: the lane's keyword phase, when it ran before the query's vector was ready;
    ``dense``: its vector ranking (:func:`org_dense_phase`), when that ran on a thread.
    """
    if k <= 0 or not len(org.index):
        return []
    if dense is None:
        keyword, dense = _searched(org.index, query, k, (None,), words)[0]
    else:
        keyword = (words.keyword[0] if words is not None
                   else org.index.search(query.terms, None, _depth(k), None)[0])
    fused = fuse(org.index, keyword, dense, k, query.now, _without_recency(params))
    return [doc_hit("org", org.index.id_at(p), org.index.payload_at(p), s) for p, s in fused]


#: The last (params, the same without recency) pair :func:`_without_recency` made.
_no_recency: tuple[RankParams, RankParams] | None = None


def _without_recency(params: RankParams) -> RankParams:
    """``params`` with ``recency_weight`` 0 (the org lane's ranking), kept for the
    engine's one ``params``: ``dataclasses.replace`` cost ~10 us a search."""
    global _no_recency
    last = _no_recency
    if last is not None and last[0] is params:
        return last[1]
    plain = dataclasses.replace(params, recency_weight=0.0)
    _no_recency = (params, plain)
    return plain


def top_facts(mem: CallerMemory, k: int) -> list[dict[str, Any]]:
    """The caller's current facts, most confident and newest first (for preload)."""
    facts = sorted(mem.live_facts(), key=lambda f: (f[2].confidence, f[2].created_at),
                   reverse=True)
    return [doc_hit("permanent", doc_id, d, d.confidence) for _, doc_id, d in facts[:k]]
