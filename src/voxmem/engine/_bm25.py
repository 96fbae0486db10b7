"""Okapi BM25 top-k over term postings: exact, with MaxScore pruning for large indexes.

:class:`~voxmem.engine._postings.Postings` finds each query term's postings (ascending
document positions and term frequencies, in one or more parts) and hands them here.
Scoring every posting of every term costs O(postings): at a million org chunks a
question's words list ~100,000 documents (4.7 ms p50, 12 ms p95 of CPU per query).
MaxScore (Turtle and Flood, 1995), term at a time, skips much of it and still returns
the same top k:

1. Each term has an upper bound on what it adds to one document's score (its idf times
   the largest BM25 term factor among its postings, kept per segment).
2. Terms are scored into a scratch array highest bound first. After each, the k-th best
   partial score among that term's documents is a lower bound of the k-th best full
   score (the threshold). Once the bounds of the terms not yet scored sum below it, no
   document they alone list can reach the top k: they are only looked up.
3. Candidates are the scored terms' documents whose partial score plus those bounds
   reaches the threshold. Each remaining term, highest bound first, is added to the
   candidates still able to reach the threshold: by a binary search per candidate in
   its postings, or, when it lists at most ``SCATTER_SHARE`` postings per candidate,
   by adding all its postings to the scratch array (at a million chunks the slowest
   questions keep ~100,000 candidates against two words of ~90,000 postings each:
   the binary searches were a third of their time). After each, the k-th best of the
   candidates' sums raises the threshold.

Scores are sums of fixed-point contributions (each rounded to a multiple of
``1 / SCALE``, summed in float64), so a sum is exact in any order: the pruned search
and the exhaustive one return the same documents with bit-identical scores, ties broken
by position (``_ranked.top_of``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import numpy.typing as npt

from ._ranked import BoolArray, FloatArray, IntArray, Ranked, distinct, top_of

__all__ = ["BM25_B", "BM25_K1", "SCALE", "TermPostings", "ascending_union", "contributions",
           "dense_scores", "exhaustive", "factor_bound", "length_norms", "term_bound", "top_k"]

BM25_K1 = 1.2
BM25_B = 0.75
#: Contributions are whole multiples of ``1 / SCALE`` (2**-24, ~6e-8: below float32's
#: resolution of a score of 1), so float64 sums of them are exact up to 2**29.
SCALE = float(1 << 24)
#: Below this many postings over the query's terms the exhaustive scoring is cheaper than
#: bounds and candidates (a caller's memories, rare words).
PRUNE_MIN_POSTINGS = 4_096
#: Bounds are raised by this (relative, and one unit of ``1 / SCALE`` per term) before
#: they are compared with a threshold: the float64 arithmetic of a bound and of the
#: contribution it bounds may round apart by an ulp, and contributions are rounded.
BOUND_MARGIN = 1.0 + 1e-9
#: Below ``n // UNION_SORT_SHARE`` postings the union is sorted; above, marked in an
#: array over the index (a sort of 12k postings costs ~3x the marking at 100k rows).
UNION_SORT_SHARE = 64

#: A term that is only looked up is added to the scratch array whole (a random write per
#: posting) rather than searched for each candidate (a binary search per candidate)
#: when it lists at most this many postings per candidate.
SCATTER_SHARE = 4.0

Int32Array = npt.NDArray[np.int32]
Float64Array = npt.NDArray[np.float64]


@dataclasses.dataclass(slots=True)
class TermPostings:
    """One query term: its postings in parts (each ascending, the parts in document
    order and disjoint), its idf, and an upper bound on its contribution to any one
    document's score in units of ``1 / SCALE`` (``math.inf`` until set)."""

    parts: list[tuple[Int32Array, FloatArray]]
    idf: float
    size: int
    bound: float = math.inf


def factor_bound(tfs: FloatArray, lengths: FloatArray, avgdl: float) -> float:
    """The largest BM25 term factor ``tf / (tf + k1 (1 - b + b dl / avgdl))`` among
    postings with frequencies ``tfs`` in documents of ``lengths``.

    Valid at another average length ``a`` once multiplied by ``max(1, a / avgdl)``: the
    length part of the denominator shrinks at most by ``avgdl / a`` and the rest not at
    all, so the factor grows at most by ``a / avgdl``.
    """
    if not tfs.shape[0]:
        return 0.0
    tf = tfs.astype(np.float64)
    norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths.astype(np.float64) / avgdl)
    return float(np.max(tf / (tf + norm)))


def term_bound(idf: float, factor: float) -> float:
    """A term's bound in units of ``1 / SCALE`` from its largest term factor."""
    return math.ceil(idf * (BM25_K1 + 1.0) * factor * SCALE * BOUND_MARGIN) + 1.0


def length_norms(doc_len: FloatArray, avgdl: float) -> Float64Array:
    """BM25's length norm ``k1 (1 - b + b dl / avgdl)`` of documents of ``doc_len``
    (float64, element by element: a position's norm is the same computed alone)."""
    norm: Float64Array = BM25_K1 * (1.0 - BM25_B + BM25_B * doc_len.astype(np.float64) / avgdl)
    return norm


def contributions(docs: Int32Array, tfs: FloatArray, idf: float, doc_len: FloatArray,
                  avgdl: float, norms: Float64Array | None = None) -> Float64Array:
    """One term's BM25 contribution to each of ``docs``, in whole units of ``1 / SCALE``
    (float64). Element by element, so any subset of a term's postings gets the same
    values. ``norms``: :func:`length_norms` of every position at ``avgdl``, when kept
    (the same values, gathered instead of computed)."""
    tf = tfs.astype(np.float64)
    norm = norms[docs] if norms is not None else length_norms(doc_len[docs], avgdl)
    out: Float64Array = np.rint(tf * (idf * (BM25_K1 + 1.0) * SCALE) / (tf + norm))
    return out


def top_k(terms: list[TermPostings], k: int, ok: BoolArray, doc_len: FloatArray,
          avgdl: float, scratch: Float64Array, bounds: bool,
          norms: Float64Array | None = None) -> Ranked:
    """Top ``k`` of the positions ``ok`` allows, by BM25 over ``terms``.

    ``scratch``: zeros over every position, left zero on return. ``bounds``: each term's
    :attr:`TermPostings.bound` is set, so the search may prune. ``norms``: see
    :func:`contributions`.
    """
    if not bounds or len(terms) < 2 or k <= 0:
        return exhaustive(terms, k, ok, doc_len, avgdl, scratch, norms)
    order = sorted(range(len(terms)), key=lambda i: terms[i].bound, reverse=True)
    every = bool(ok.all())  # no removed or filtered-out position: skip the checks
    partial = scratch
    threshold = 0.0
    rest = sum(term.bound for term in terms)
    gathered: list[Int32Array] = []
    looked_up: list[TermPostings] = []
    try:
        for i in order:
            term = terms[i]
            if looked_up or (gathered and rest < threshold):
                looked_up.append(term)
                continue
            # This term's documents are distinct, and their partial scores are lower
            # bounds of their full scores: so is the k-th best of them.
            found: list[Float64Array] = []
            for docs, tfs in term.parts:
                # A term lists each document once, so fancy-index accumulation is exact.
                sums = partial[docs]
                sums += contributions(docs, tfs, term.idf, doc_len, avgdl, norms)
                partial[docs] = sums
                gathered.append(docs)
                found.append(sums if every else sums[ok[docs]])
            rest -= term.bound
            threshold = _raised(threshold, found[0] if len(found) == 1
                                else np.concatenate(found), k)
        listed = gathered[0] if len(gathered) == 1 else np.concatenate(gathered)
        near = listed[partial[listed] + rest >= threshold]
        candidates = _distinct_positions(near, partial.shape[0])
        if not every:
            candidates = candidates[ok[candidates]]
        scores = partial[candidates]
        # The remaining terms highest bound first, each for the candidates that can
        # still reach the threshold with the bounds of the terms not yet added.
        synced = True  # partial[candidates] == scores
        for term in looked_up:
            keep = scores + rest >= threshold
            if not keep.all():
                candidates, scores = candidates[keep], scores[keep]
            if term.size <= SCATTER_SHARE * candidates.shape[0]:
                # Many candidates against the term's postings: adding all of them to
                # the scratch array costs less than a binary search per candidate.
                if not synced:
                    partial[candidates] = scores
                for docs, tfs in term.parts:
                    sums = partial[docs]
                    sums += contributions(docs, tfs, term.idf, doc_len, avgdl, norms)
                    partial[docs] = sums
                    gathered.append(docs)
                scores = partial[candidates]
                synced = True
            else:
                _add_at(scores, candidates, term, doc_len, avgdl, norms)
                synced = False
            rest -= term.bound
            # The candidates' sums so far are lower bounds too: a higher threshold
            # drops more of them before the next term.
            threshold = _raised(threshold, scores, k)
    finally:
        for docs in gathered:
            partial[docs] = 0.0
    return _ranked(candidates, scores, k)


def exhaustive(terms: list[TermPostings], k: int, ok: BoolArray, doc_len: FloatArray,
               avgdl: float, scratch: Float64Array,
               norms: Float64Array | None = None) -> Ranked:
    """Top ``k`` by scoring every posting (what the pruned search must equal)."""
    if len(terms) == 1:
        # One term lists each document once: its contributions are the scores.
        (term,) = terms
        listed = np.concatenate([d for d, _ in term.parts]).astype(np.int64)
        units = np.concatenate([contributions(d, t, term.idf, doc_len, avgdl, norms)
                                for d, t in term.parts])
        keep = ok[listed]
        return _ranked(listed[keep], units[keep], k)
    touched = [docs for term in terms for docs, _ in term.parts]
    try:
        for term in terms:
            for docs, tfs in term.parts:
                scratch[docs] += contributions(docs, tfs, term.idf, doc_len, avgdl, norms)
        candidates = ascending_union(touched, scratch.shape[0])
        candidates = candidates[ok[candidates]]
        scores = scratch[candidates]
    finally:
        for docs in touched:
            scratch[docs] = 0.0
    return _ranked(candidates, scores, k)


def dense_scores(terms: list[TermPostings], n: int, doc_len: FloatArray,
                 avgdl: float, norms: Float64Array | None = None) -> FloatArray:
    """Every position's BM25 score (0 where no term matches)."""
    scores = np.zeros(n, dtype=np.float64)
    for term in terms:
        for docs, tfs in term.parts:
            scores[docs] += contributions(docs, tfs, term.idf, doc_len, avgdl, norms)
    out: FloatArray = (scores / SCALE).astype(np.float32)
    return out


def _add_at(scores: Float64Array, candidates: IntArray, term: TermPostings,
            doc_len: FloatArray, avgdl: float, norms: Float64Array | None) -> None:
    """Add ``term``'s contributions to the ``candidates`` (ascending) it lists."""
    for docs, tfs in term.parts:
        if not docs.shape[0] or not candidates.shape[0]:
            continue
        at = np.searchsorted(docs, candidates)
        np.minimum(at, docs.shape[0] - 1, out=at)
        hit = docs[at] == candidates
        at = at[hit]
        scores[hit] += contributions(docs[at], tfs[at], term.idf, doc_len, avgdl, norms)


def _ranked(candidates: IntArray, units: Float64Array, k: int) -> Ranked:
    # Scaled by a power of two: exact, so equal sums stay equal and order is kept.
    return top_of(candidates, units / SCALE, k)


def _distinct_positions(values: Int32Array, n: int) -> IntArray:
    """The distinct ``values`` (positions below ``n``), ascending: sorted when they are
    few, else marked in an array over the positions."""
    if values.shape[0] * UNION_SORT_SHARE < n:
        return distinct(values).astype(np.int64)
    marked = np.zeros(n, dtype=np.bool_)
    marked[values] = True
    return np.flatnonzero(marked)


def _raised(threshold: float, values: Float64Array, k: int) -> float:
    """``threshold``, or the k-th largest of ``values`` when that is higher.

    Only the values above ``threshold`` are partitioned (usually a small share): the
    k-th largest is above it exactly when k of them are.
    """
    if values.shape[0] < k:
        return threshold
    above = values[values > threshold] if threshold > 0.0 else values
    m = above.shape[0]
    if m < k:
        return threshold
    return float(np.partition(above, m - k)[m - k])


def ascending_union(touched: list[Int32Array], n: int) -> IntArray:
    """The distinct documents of the terms' postings, ascending.

    What ``np.unique(np.concatenate(touched))`` returns, without it: numpy 2's
    ``unique`` hashes, which measured 25x slower than a sort for a few thousand
    postings (1 ms per org query at 100k chunks). A term's own postings are ascending
    and distinct already (segments hold consecutive documents, in order).
    """
    if not touched:
        return np.zeros(0, dtype=np.int64)
    if len(touched) == 1:
        return touched[0].astype(np.int64)
    return _distinct_positions(np.concatenate(touched), n)
