"""Learned fusion's feature rows for a query with few candidates, in plain Python.

A small caller (the load test's shape: a few turns each, a dozen candidates or fewer)
pays for ``_fusion.candidate_features`` in numpy calls, not arithmetic: ~40 calls of a
few microseconds each (sorts, ``unique``, ``isin``, ``maximum.at``, a stack of 25
columns) over arrays of a dozen elements. Here the same columns are computed per
candidate over lists; only the steps that read the index's arrays in bulk (groups,
creation times, vectors and their product with the query, term counts) or that must
round exactly as numpy does (the recency power, the float32 length ratio) stay numpy
calls. Written by hand because no library computes these features: the definitions are
``_fusion``'s, and ``tests/test_fusion_few.py`` checks that both paths give identical
rows on random and real candidates.

Floating point: every column is the same operations in the same order as the numpy
path (a call's mean adds its best three values largest first, as ``np.bincount`` does
over the sorted rows), so the values are equal, not merely close.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._caller_memory import FACT_GROUP
from ._fusion_model import CALL_TOP, F64, LENGTH_CAP, RANK_OFFSET, BaseRows
from ._index import BoolArray, FloatArray, HybridIndex, IntArray, Ranked
from ._rank import SECONDS_PER_DAY, time_mask
from ._speakers import speaker_rows
from ._time import TimeHint
from ._topic import is_list_question

__all__ = ["FEW_CANDIDATES", "few_base_rows"]

#: Up to this many fused candidates take the plain-Python path (with their call
#: neighbours, up to three times as many rows). Measured per query on random candidate
#: sets (CPU, loaded machine): numpy ~305 us at 2 fused candidates, 350 at 16, 413 at
#: 32, 428 at 48; plain Python 118, 272, 377 and 469 us.
FEW_CANDIDATES = 32


def _rank_features(rankings: Sequence[Ranked], row_of: dict[int, int],
                   m: int) -> tuple[list[float], list[float]]:
    """``_fusion._rank_features`` over a position -> row map."""
    rr = [0.0] * m
    rel = [0.0] * m
    for ranked in rankings:
        if not len(ranked) or not m:
            continue
        scores = ranked.scores.tolist()
        best = scores[0] or 1.0
        for rank, (pos, score) in enumerate(zip(ranked.positions.tolist(), scores,
                                                strict=True)):
            row = row_of.get(pos)
            if row is None:
                continue
            rr[row] = max(rr[row], (RANK_OFFSET + 1) / (RANK_OFFSET + rank + 1.0))
            rel[row] = max(rel[row], score / best)
    return rr, rel


def _call_mean(members: list[list[int]], slot: list[int], values: list[float]) -> list[float]:
    """``_fusion._call_mean``: per candidate, its call's best ``CALL_TOP`` values summed
    largest first (the order ``np.bincount`` adds them in) / ``CALL_TOP``."""
    sums = []
    for rows in members:
        total = 0.0
        # sorted() is stable, as the numpy path's lexsort: equal values keep row order.
        for value in sorted((values[r] for r in rows), reverse=True)[:CALL_TOP]:
            total += value
        sums.append(total)
    return [sums[s] / CALL_TOP for s in slot]


def _best_neighbours(positions: list[int], groups: list[int], row_of: dict[int, int],
                     values: Sequence[list[float]]) -> list[list[float]]:
    """``_rank.best_neighbours``: the larger value of the candidate just before or after
    in the same call (0 outside calls)."""
    m = len(positions)
    before: list[int | None] = [None] * m
    after: list[int | None] = [None] * m
    for i, (pos, group) in enumerate(zip(positions, groups, strict=True)):
        if group <= 0:
            continue
        prev, nxt = row_of.get(pos - 1), row_of.get(pos + 1)
        before[i] = prev if prev is not None and groups[prev] == group else None
        after[i] = nxt if nxt is not None and groups[nxt] == group else None
    out = []
    for value in values:
        out.append([max(0.0 if b is None else value[b], 0.0 if a is None else value[a])
                    if g > 0 else 0.0
                    for b, a, g in zip(before, after, groups, strict=True)])
    return out


def few_base_rows(index: HybridIndex, fused: Sequence[tuple[int, float]],
                  keyword: Sequence[Ranked], dense: Sequence[Ranked],
                  vector: FloatArray | None, now: float, when: TimeHint | None,
                  allowed: Callable[[IntArray], BoolArray], query_text: str) -> BaseRows:
    """What ``_fusion.candidate_features`` computes before the topic features, for
    ``fused`` of at most :data:`FEW_CANDIDATES` (its arguments, same meaning)."""
    pos = [p for p, _ in fused]
    base = [s for _, s in fused]
    groups: list[int] = index.groups_at(np.asarray(pos, dtype=np.int64)).tolist()
    # _rank.expand_neighbours: the turns before and after each call turn, with score 0.
    taken = set(pos)
    near = sorted({q for p, g in zip(pos, groups, strict=True) if g > 0
                   for q in (p - 1, p + 1)} - taken)
    if near:
        near_at = np.asarray(near, dtype=np.int64)
        near_at = near_at[(index.groups_at(near_at) > 0) & index.alive_at(near_at)]
        if near_at.shape[0]:
            near_at = near_at[allowed(near_at)]
        pos += near_at.tolist()
        base += [0.0] * near_at.shape[0]
        groups += index.groups_at(near_at).tolist()
    m = len(pos)
    positions = np.asarray(pos, dtype=np.int64)
    row_of = {p: i for i, p in enumerate(pos)}
    keyword_rr, bm25 = _rank_features(keyword, row_of, m)
    dense_rr, _ = _rank_features(dense, row_of, m)
    if vector is not None:
        vectors = index.vectors_at(positions)
        cosine: list[float] = np.maximum(vectors @ vector, 0.0).astype(np.float64).tolist()
    else:
        vectors = np.zeros((0, 0), dtype=np.float32)
        cosine = [0.0] * m
    created = index.created_at(positions)
    # numpy's power, not Python's: the two may round a last bit apart.
    recency: list[float] = np.power(
        0.5, np.maximum(now - created, 0.0) / SECONDS_PER_DAY / 30.0).tolist()
    timed: list[float] = (time_mask(index, positions, when).astype(np.float64).tolist()
                          if when is not None else [0.0] * m)
    # The float32 ratio, as the numpy path computes it before widening.
    length: list[float] = (np.minimum(index.term_counts_at(positions), LENGTH_CAP)
                           / LENGTH_CAP).tolist()
    # A fact, summary or turn outside a call is a call of its own (see _fusion).
    top_group = max(0, *groups)
    calls = [g if g > 0 else top_group + 1 + i for i, g in enumerate(groups)]
    slot_of = {c: s for s, c in enumerate(sorted(set(calls)))}
    slot = [slot_of[c] for c in calls]
    members: list[list[int]] = [[] for _ in slot_of]
    for row, s in enumerate(slot):
        members[s].append(row)
    call_top = [max(base[r] for r in rows) for rows in members]
    call_fused = _call_mean(members, slot, base)
    call_cosine = _call_mean(members, slot, cosine)
    call_bm25 = _call_mean(members, slot, bm25)
    call_best = [1.0 if b >= call_top[s] - 1e-12 else 0.0 for b, s in zip(base, slot,
                                                                         strict=True)]
    named, other, self_, names = speaker_rows(index, pos, groups, query_text)
    listed = 1.0 if is_list_question(query_text) else 0.0
    near_base, near_bm25, near_cosine = _best_neighbours(pos, groups, row_of,
                                                         (base, bm25, cosine))
    top_cosine = max(max(cosine, default=0.0), 1e-6)
    is_fact = [g == FACT_GROUP for g in groups]
    columns = [keyword_rr, bm25, dense_rr, cosine, base, call_fused, call_cosine,
               near_base, recency, timed, [1.0 if f else 0.0 for f in is_fact],
               [1.0 if g <= 0 else 0.0 for g in groups], [c / top_cosine for c in cosine],
               call_bm25, call_best, near_bm25, near_cosine, named, other, self_, length,
               [0.0] * m, [0.0] * m,
               [listed * v for v in call_fused], [listed * v for v in call_best]]
    features: F64 = np.array(columns, dtype=np.float64).T.copy()
    return BaseRows(positions, features, created, np.asarray(is_fact, dtype=np.bool_),
                    vectors, names)
