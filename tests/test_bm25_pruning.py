"""The pruned BM25 top-k (MaxScore, ``engine/_bm25.py``) returns exactly what scoring
every posting returns: the same positions in the same order with bit-identical scores,
on random and real text, with ties, removed documents, unflushed (head) postings, bounds
cached before the average length changed, and after a restart from the rows file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import voxmem.engine._bm25 as bm25_module
import voxmem.engine._postings as postings_module
from tests._bm25_counting import (
    CountedContributions,
    counting,
    plain_bm25,
    segmented_postings,
)
from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._analysis import analyze
from voxmem.engine._index import HybridIndex, Ranked
from voxmem.engine._postings import Postings
from voxmem.engine._ranked import top_of

DATA = Path(__file__).parent / "data"


@contextmanager
def _mode(monkeypatch: pytest.MonkeyPatch, prune: bool) -> Iterator[CountedContributions]:
    with counting(monkeypatch, prune=prune) as counted:
        yield counted


def _both(monkeypatch: pytest.MonkeyPatch, search: object) -> tuple[Ranked, Ranked, int, int]:
    assert callable(search)
    with _mode(monkeypatch, prune=True) as pruned_work:
        pruned = search()
    with _mode(monkeypatch, prune=False) as full_work:
        full = search()
    return pruned, full, pruned_work.rows, full_work.rows


def _same(pruned: Ranked, full: Ranked) -> None:
    assert pruned.positions.tolist() == full.positions.tolist()
    assert pruned.scores.tobytes() == full.scores.tobytes()


def _zipf_docs(rng: np.random.Generator, n: int, vocabulary: int) -> list[list[str]]:
    # Word frequencies as in text: a few words in most documents, most words rare.
    weights = 1.0 / np.arange(1, vocabulary + 1) ** 1.1
    weights /= weights.sum()
    docs = [[f"w{j}" for j in rng.choice(vocabulary, int(rng.integers(1, 30)), p=weights)]
            for _ in range(n)]
    for i in range(0, n, 7):  # exact duplicates: equal scores, decided by position
        docs[i] = list(docs[(i * 31) % n])
    return docs


def test_pruned_top_k_equals_scoring_every_posting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postings_module, "HEAD_POSTINGS", 1_000_000)
    # Looked-up words by binary search only, so the postings counted are those the
    # pruning had to score (adding a looked-up word whole is tested in test_bm25_lookups).
    monkeypatch.setattr(bm25_module, "SCATTER_SHARE", 0.0)
    rng = np.random.default_rng(5)
    n = 6_000
    docs = _zipf_docs(rng, n, 400)
    p, alive = segmented_postings(docs, rng, segment=1_000, segmented=4_000, room=2_000,
                                  removed=300, bulk=False)
    pruned_rows = full_rows = 0
    for round_ in range(2):
        rows = n + 2_000 * round_
        ok = alive[:rows]
        live = int(ok.sum())
        for q in range(60):
            size = int(rng.integers(2, 9))
            query = [f"w{j}" for j in rng.integers(0, 120, size)]
            if q % 5 == 0:
                query += [query[0], "never-seen"]  # repeated and unknown words
            for k in (1, 8, 40, 300):
                pruned, full, a, b = _both(monkeypatch, lambda query=query, k=k, rows=rows,
                                           ok=ok, live=live: p.search(
                                               query, k, rows, None, ok, live, ok))
                _same(pruned, full)
                assert len(full) == min(k, len(full)) and len(full) > 0
                pruned_rows, full_rows = pruned_rows + a, full_rows + b
        # Longer documents move the average length past the one the cached bounds were
        # computed at (they are scaled, not recomputed).
        for i in range(n, n + 2_000):
            p.add(i, docs[i - n] * 8)
    assert pruned_rows < 0.7 * full_rows, (pruned_rows, full_rows)


def test_a_filtered_search_prunes_among_the_allowed_documents_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    n = 5_000
    docs = _zipf_docs(rng, n, 300)
    p = Postings(threading.RLock())
    p.reserve(n, 0)
    p.add_many(docs, 0, bulk=True)
    allowed = rng.random(n) < 0.3
    for _ in range(40):
        query = [f"w{j}" for j in rng.integers(0, 60, int(rng.integers(2, 7)))]
        pruned, full, _, _ = _both(monkeypatch, lambda query=query: p.search(
            query, 20, n, None, allowed, n, None))
        _same(pruned, full)
        assert allowed[pruned.positions].all()


def test_ties_are_decided_by_position_as_a_direct_bm25_ranks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Against BM25 written out plainly: the top k by (score, then lower position)."""
    rng = np.random.default_rng(3)
    n = 3_000
    docs = _zipf_docs(rng, n, 150)
    p = Postings(threading.RLock())
    p.reserve(n, 0)
    p.add_many(docs, 0, bulk=True)
    ok = np.ones(n, dtype=np.bool_)
    for q in range(30):
        # One word in five: a single term is ranked by its contributions alone.
        query = list(dict.fromkeys(f"w{j}" for j in rng.integers(0, 40, 4 if q % 5 else 1)))
        scores = plain_bm25(docs, query)
        # Equal documents score exactly equal here and there; others differ by far more
        # than the 2**-24 rounding of a contribution.
        expected = sorted(scores, key=lambda i: (-round(scores[i], 6), i))[:30]
        with _mode(monkeypatch, prune=True):
            got = p.search(query, 30, n, None, ok, n, None)
        assert got.positions.tolist() == expected
        assert got.scores.tolist() == pytest.approx([scores[i] for i in expected], rel=1e-6)


def test_real_text_in_an_index_with_removals_and_pending_documents(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25_module, "SCATTER_SHARE", 0.0)  # count what pruning scored
    texts = []
    for line in (DATA / "extraction_set.jsonl").read_text().splitlines():
        for turn in json.loads(line)["turns"]:
            texts.extend([turn["user_text"], turn["assistant_text"]])
    assert len(texts) > 200
    index = HybridIndex(8)
    ids = [f"c{i}" for i in range(len(texts) * 6)]
    body = [texts[i % len(texts)] + " " + texts[(i * 7) % len(texts)] for i in range(len(ids))]
    half = len(ids) // 2
    index.add_many(ids[:half], [analyze(t) for t in body[:half]],
                   created_at=[0.0] * half, payloads=[None] * half, bulk=True)
    for doc_id, text in zip(ids[half:], body[half:], strict=True):
        index.add(doc_id, analyze(text), created_at=0.0)  # one at a time, partly unflushed
    for doc_id in ids[::13]:
        index.remove(doc_id)
    pruned_rows = full_rows = 0
    for question in texts[::9]:
        terms = analyze(question)
        pruned, full, a, b = _both(monkeypatch, lambda terms=terms: index.search(
            terms, None, 80)[0])
        _same(pruned, full)
        assert not set(pruned.positions.tolist()) & {index.position_of(d) for d in ids[::13]}
        pruned_rows, full_rows = pruned_rows + a, full_rows + b
    assert pruned_rows < full_rows


def test_top_of_keeps_input_order_among_ties_at_the_cut() -> None:
    scores = np.array([1.0, 3.0, 2.0, 2.0, 3.0, 2.0, 2.0], dtype=np.float32)
    positions = np.arange(7, dtype=np.int64) * 10
    got = top_of(positions, scores, 4)
    assert got.positions.tolist() == [10, 40, 20, 30]
    assert top_of(positions, scores, 3).positions.tolist() == [10, 40, 20]
    # Past the size sorted whole: partitioned, ties at the cut still in input order.
    rng = np.random.default_rng(8)
    many = rng.integers(0, 50, 5_000).astype(np.float32)
    order = rng.permutation(5_000).astype(np.int64)
    for k in (1, 37, 100, 4_999):
        want = sorted(range(5_000), key=lambda i: (-many[i], i))[:k]
        got = top_of(order, many, k)
        assert got.positions.tolist() == order[want].tolist()
        assert got.scores.tolist() == many[want].tolist()


def test_bounds_hold_for_every_posting_at_any_average_length() -> None:
    rng = np.random.default_rng(2)
    tfs = rng.integers(1, 9, 500).astype(np.float32)
    lengths = rng.integers(1, 200, 500).astype(np.float32)
    docs = np.arange(500, dtype=np.int32)
    at = 40.0
    factor = bm25_module.factor_bound(tfs, lengths, at)
    for avgdl in (5.0, 39.0, 40.0, 41.0, 400.0):
        bound = bm25_module.term_bound(2.5, factor * max(1.0, avgdl / at))
        got = bm25_module.contributions(docs, tfs, 2.5, lengths, avgdl)
        assert got.max() <= bound
    assert bm25_module.factor_bound(tfs[:0], lengths[:0], at) == 0.0


def test_a_segments_kept_bound_is_scaled_when_the_average_length_grows() -> None:
    rng = np.random.default_rng(4)
    docs = [[f"w{j}" for j in rng.integers(0, 20, int(rng.integers(1, 40)))]
            for _ in range(2_000)]
    p = Postings(threading.RLock())
    p.reserve(2_000, 0)
    p.add_many(docs, 0, bulk=True)
    (segment,) = p.segments
    row = segment.locate(p.vocab["w3"])
    lo, hi = int(segment.offsets[row]), int(segment.offsets[row + 1])
    tfs, lengths = segment.tfs[lo:hi], p.doc_len[segment.docs[lo:hi]]
    first = segment.factor_bound(row, p.doc_len, 20.0)  # kept at this average
    assert first == bm25_module.factor_bound(tfs, lengths, 20.0)
    for avgdl in (10.0, 25.0, 60.0, 200.0):
        assert segment.factor_bound(row, p.doc_len, avgdl) >= bm25_module.factor_bound(
            tfs, lengths, avgdl)


T, P = "default", "p1"


async def test_org_keyword_search_is_exact_after_a_restart(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the engine on both stores: the org lane's keyword ranking, pruned, equals
    the exhaustive one before and after a restart from the rows file, and the two runs
    agree with each other."""
    texts = [f"Branch {i} of the library on Elm Road lends {i % 7 + 2} books a week and "
             f"opens at {i % 5 + 7} on {('Monday', 'Sunday', 'Friday')[i % 3]}s; late fees "
             f"for children are {i % 4} pence." for i in range(300)]
    queries = [analyze(q) for q in ("which branch lends books on Sunday",
                                    "Elm Road library opening hours", "late fees children",
                                    "branch 17 books a week", "Friday opens at 9")]

    async def answers(engine: MemoryEngine) -> list[list[tuple[str, float]]]:
        org = engine.org.loaded(T, P)
        assert org is not None
        out = []
        for terms in queries:
            pruned, full, _, _ = _both(monkeypatch, lambda terms=terms: org.index.search(
                terms, None, 40)[0])
            _same(pruned, full)
            out.append([(org.index.id_at(p), s) for p, s in
                        zip(pruned.positions.tolist(), pruned.scores.tolist(), strict=True)])
        return out

    engine = MemoryEngine(settings)
    await engine.start()
    scope = engine.scope(project_id=P, agent_id="x", user_id="u")
    try:
        await engine.warm_org(scope)
        await engine.create_index(T, P, "kb", [{"id": f"d{i}", "text": t, "metadata": {}}
                                               for i, t in enumerate(texts)])
        await engine.delete_documents(T, P, "kb", ["d3", "d17", "d40"])
        before = await answers(engine)
    finally:
        await engine.close()
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
        org = engine.org.loaded(T, P)
        assert org is not None and org.rows_from == "file"
        after = await answers(engine)
    finally:
        await engine.close()
    # Chunk ids are the same across the restart; positions are renumbered without the
    # deleted ones, which keeps their order, so ties fall the same way.
    assert after == before
    assert all(hits for hits in before)
