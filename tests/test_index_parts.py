"""The hybrid index's parts on their own: postings, vectors, filter columns.

Each is checked against a direct computation over the same documents (a dict of
postings, a numpy product, a Python filter), so a change inside one part shows up here
before it shows up as a ranking difference in the lanes.
"""

from __future__ import annotations

import gc
import math
import threading
from collections import Counter

import numpy as np
import pytest

import voxmem.engine._payloads as payloads_module
import voxmem.engine._postings as postings_module
from voxmem.embeddings import normalize_rows
from voxmem.engine._analysis import analyze
from voxmem.engine._caller_memory import Doc, decode_doc, encode_doc, turn_doc
from voxmem.engine._filters import NO_GROUP, Columns, IntList, Where
from voxmem.engine._payloads import PackedRecords
from voxmem.engine._postings import Postings, Segment, merge, tier
from voxmem.engine._ranked import top, top_of
from voxmem.engine._vectors import VectorStore
from voxmem.models import Turn

WORDS = ["apple", "pear", "plum", "fig", "kiwi", "yuzu", "nut", "date", "lime", "melon",
         "grape", "peach", "berry", "cherry", "mango", "olive"]


def _docs(n: int, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[WORDS[i] for i in rng.integers(0, len(WORDS), rng.integers(1, 9))]
            for _ in range(n)]


def _bm25_direct(docs: list[list[str]], live: set[int], query: list[str]) -> dict[int, float]:
    lengths = {i: len(docs[i]) for i in live}
    avg = max(sum(lengths.values()) / len(live), 1.0)
    scores: dict[int, float] = {}
    for term in dict.fromkeys(query):
        having = [i for i in live if term in docs[i]]
        if not having:
            continue
        idf = math.log(1 + (len(live) - len(having) + 0.5) / (len(having) + 0.5))
        for i in having:
            tf = docs[i].count(term)
            norm = 1.2 * (0.25 + 0.75 * lengths[i] / avg)
            scores[i] = scores.get(i, 0.0) + idf * tf * 2.2 / (tf + norm)
    return scores


# -- postings ---------------------------------------------------------------------------
def test_segment_lists_each_terms_documents_in_order() -> None:
    # (term, doc) pairs ordered by term then doc, as a batch build produces them.
    pairs = sorted({(t, d) for d in range(40) for t in range(d % 7, 12, 3)})
    seg = Segment(np.array([t for t, _ in pairs]), np.array([d for _, d in pairs]),
                  np.ones(len(pairs)))
    for term in range(12):
        found = seg.find(term)
        expected = [d for t, d in pairs if t == term]
        if not expected:
            assert found is None
        else:
            assert found is not None and found[0].tolist() == expected
    assert seg.find(99) is None
    assert seg.size == len(pairs)


def test_merge_and_tier_keep_every_posting_in_document_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postings_module, "SYNC_MERGE_MAX", 1)  # no merges while adding
    lock = threading.RLock()
    p = Postings(lock)
    p.reserve(600, 0)
    docs = _docs(600)
    for lo in range(0, 600, 37):  # batches of uneven size: several tiers
        p.add_many(docs[lo:lo + 37], lo, bulk=False)
    merged = merge(p.segments)
    assert len(p.segments) == 17
    tiered = tier(p.segments, math.inf)
    assert 1 < len(tiered) < 17
    for w in WORDS:
        tid = p.vocab[w]
        expected = [i for i, d in enumerate(docs) if w in d]
        found = merged.find(tid)
        assert found is not None and found[0].tolist() == expected
        tfs = [docs[i].count(w) for i in expected]
        assert found[1].tolist() == tfs
        parts = [f for s in tiered if (f := s.find(tid)) is not None]
        assert np.concatenate([d for d, _ in parts]).tolist() == expected


def test_postings_search_matches_bm25_with_removals_and_single_adds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postings_module, "HEAD_POSTINGS", 20)
    lock = threading.RLock()
    p = Postings(lock)
    docs = _docs(300, seed=3)
    p.reserve(300, 0)
    p.add_many(docs[:200], 0, bulk=True)
    for i in range(200, 300):  # the write path: head, flushed every few documents
        p.add(i, docs[i])
    removed = {5, 17, 250}
    alive = np.ones(300, dtype=np.bool_)
    for i in removed:
        alive[i] = False
        p.remove(i)
    live = set(range(300)) - removed
    query = ["apple", "plum", "plum", "nosuchword"]
    expected = _bm25_direct(docs, live, query)
    ranked = p.search(query, 300, 300, None, alive, len(live), alive)
    assert set(ranked.positions.tolist()) == set(expected)
    for pos, score in zip(ranked.positions.tolist(), ranked.scores.tolist(), strict=True):
        assert score == pytest.approx(expected[pos], rel=1e-5)
    assert ranked.scores.tolist() == sorted(ranked.scores.tolist(), reverse=True)
    # The same, restricted to explicit members.
    members = np.arange(0, 300, 2, dtype=np.int64)
    sub = p.search(query, 5, 300, members, alive[members], len(live), alive)
    best = sorted((expected[i] for i in expected if i % 2 == 0), reverse=True)[:5]
    assert sub.scores.tolist() == pytest.approx(best, rel=1e-5)  # ties: any order
    assert all(expected[i] == pytest.approx(s, rel=1e-5)
               for i, s in zip(sub.positions.tolist(), sub.scores.tolist(), strict=True))
    assert p.cost(["apple"]) == sum("apple" in d for d in docs)
    assert not len(p.search([], 5, 300, None, alive, len(live), alive))


def test_single_adds_leave_nothing_for_the_cyclic_collector() -> None:
    # Every saved turn is a single add; what it leaves in the head lives until the head
    # becomes a segment. Tracked containers there were ~90 per turn for the collector to
    # scan through every generation (docs/performance.md).
    p = Postings(threading.RLock())
    docs = [[f"term{i}x{j}" for j in range(5)] + ["shared"] for i in range(200)]
    p.reserve(len(docs), 0)
    gc.collect()
    before = len(gc.get_objects())
    for i, doc in enumerate(docs):
        p.add(i, doc)
    assert len(gc.get_objects()) - before < 50  # not ~3 per (term, document)
    assert p.cost(["shared"]) == 200 and p.cost(["term3x1"]) == 1
    found = p._term("shared")
    assert found is not None and found[0].tolist() == list(range(200))
    assert found[1].tolist() == [1.0] * 200


def test_compact_merges_into_one_and_answers_the_same() -> None:
    lock = threading.RLock()
    p = Postings(lock)
    docs = _docs(400, seed=5)
    p.reserve(400, 0)
    for lo in range(0, 400, 25):
        p.add_many(docs[lo:lo + 25], lo, bulk=False)
    alive = np.ones(400, dtype=np.bool_)
    query = analyze("grape mango olive")
    before = p.search(query, 10, 400, None, alive, 400, None)
    assert p.compact()
    assert len(p.segments) == 1
    after = p.search(query, 10, 400, None, alive, 400, None)
    assert after.positions.tolist() == before.positions.tolist()
    assert not p.compact()  # nothing left to merge


# -- vectors ----------------------------------------------------------------------------
def _unit(n: int, dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return normalize_rows(rng.normal(size=(n, dims))).astype(np.float32)


def test_exact_vectors_rank_by_cosine_and_skip_rows_without_one() -> None:
    store = VectorStore(16, threading.RLock(), ann=False)
    data = _unit(200, 16, 1)
    store.reserve(200, 0)
    given: list[np.ndarray | None] = [None if i % 10 == 0 else data[i] for i in range(200)]
    store.add_rows(0, 200, given)
    q = data[3]
    ok = np.ones(200, dtype=np.bool_)
    ok[7] = False
    got = store.search(q, 5, 200, None, ok)
    scores = data @ q
    candidates = [i for i in range(200) if i % 10 and i != 7]
    assert got.positions.tolist() == sorted(candidates, key=lambda i: -scores[i])[:5]
    # The matrix holds float16 (MATRIX_DTYPE): a cosine is within ~1e-3 of float32's.
    assert np.allclose(got.scores, scores[got.positions], rtol=0, atol=1e-3)
    rows = store.vectors_at(np.array([0, 3], dtype=np.int64))
    assert not rows[0].any() and np.allclose(rows[1], data[3], rtol=0, atol=1e-3)
    assert store.vector_at(10) is None
    store.set(10, data[10])  # embedded after it was indexed
    assert store.search(data[10], 1, 200, None, np.ones(200, np.bool_)).positions.tolist() == [10]
    members = np.array([1, 2, 10], dtype=np.int64)
    sub = store.search(q, 2, 200, members, np.array([True, False, True]))
    assert set(sub.positions.tolist()) <= {1, 10}
    assert store.cost(200) == 200


def test_vectors_at_are_the_stored_half_precision_rows_widened_exactly() -> None:
    # Widened by numkong, not numpy: the learned fusion's cosine features were fitted on
    # numpy's widening, so the values must be the same bit for bit.
    store = VectorStore(256, threading.RLock(), ann=False)
    data = _unit(300, 256, 2)
    store.reserve(300, 0)
    store.add_rows(0, 300, [None if i % 7 == 0 else data[i] for i in range(300)])
    positions = np.array([299, 0, 5, 7, 150, 5, 42], dtype=np.int64)
    want = data[positions].astype(np.float16).astype(np.float32)
    want[positions % 7 == 0] = 0.0
    got = store.vectors_at(positions)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)
    assert store.vectors_at(np.zeros(0, dtype=np.int64)).shape == (0, 256)


def test_ann_vectors_follow_sets_and_removes() -> None:
    store = VectorStore(16, threading.RLock(), ann=True)
    data = _unit(300, 16, 2)
    store.reserve(300, 0)
    store.add_rows(0, 300, list(data))
    assert store.ann is not None
    store.ann.flush(1)
    ok = np.ones(300, dtype=np.bool_)
    assert store.search(data[42], 1, 300, None, ok).positions.tolist() == [42]
    store.remove(42)
    assert 42 not in store.search(data[42], 10, 300, None, ok).positions.tolist()
    store.set(43, data[42])  # a new vector replaces the old one
    assert store.search(data[42], 1, 300, None, ok).positions.tolist() == [43]
    vec = store.vector_at(43)
    assert vec is not None and float(vec @ data[42]) > 0.99  # float16 inside the graph


# -- filter columns ---------------------------------------------------------------------
def test_columns_resolve_every_kind_of_filter_like_a_direct_check() -> None:
    rng = np.random.default_rng(4)
    cols = Columns(threading.RLock())
    n = 3_000  # more than GATHER_MAX members in a group of a few, so both paths run
    created = rng.random(n) * 100
    groups = rng.integers(0, 3, n)
    cols.reserve(n)
    cols.extend(created[:1000].tolist(), groups[:1000].tolist())
    for i in range(1000, n):
        cols.append(float(created[i]), int(groups[i]))
    for pos in rng.choice(n, 200, replace=False).tolist():
        assert cols.remove(pos)
        assert not cols.remove(pos)
    assert cols.live == n - 200 and cols.removed == 200
    wheres = [None, Where(groups=(1,)), Where(groups=(0, 2), min_created=30.0),
              Where(exclude_groups=(1,), max_created=70.0),
              Where(positions=np.arange(0, n, 7, dtype=np.int64), groups=(2,)),
              Where(positions=np.arange(0, n, 2, dtype=np.int64), exclude_groups=(0,),
                    min_created=10.0, max_created=90.0)]
    for where in wheres:
        members, ok = cols.resolve(where, n)
        chosen = set((members[ok] if members is not None else np.flatnonzero(ok)).tolist())
        expected = set()
        for i in range(n):
            if not cols.alive[i]:
                continue
            if where is not None:
                if where.groups is not None and groups[i] not in where.groups:
                    continue
                if groups[i] in where.exclude_groups:
                    continue
                if where.positions is not None and i not in set(where.positions.tolist()):
                    continue
                if where.min_created is not None and created[i] < where.min_created:
                    continue
                if where.max_created is not None and created[i] > where.max_created:
                    continue
            expected.add(i)
        assert chosen == expected, where


def test_columns_answers_outside_the_index_and_stale_masks() -> None:
    cols = Columns(threading.RLock())
    cols.reserve(4)
    cols.extend([1.0, 2.0, 3.0], [5, 6, 5])
    out = cols.groups_at(np.array([0, 1, 3, -1], dtype=np.int64))
    assert out.tolist() == [5, 6, NO_GROUP, NO_GROUP]
    # Every position inside (one gather), a reserved row past the end alone, none.
    assert cols.groups_at(np.array([2, 0, 2], dtype=np.int64)).tolist() == [5, 5, 5]
    assert cols.groups_at(np.array([3], dtype=np.int64)).tolist() == [NO_GROUP]
    assert cols.groups_at(np.zeros(0, dtype=np.int64)).tolist() == []
    assert cols.alive_at(np.array([2, 3], dtype=np.int64)).tolist() == [True, False]
    assert cols.alive_at(np.array([1, 2], dtype=np.int64)).tolist() == [True, True]
    assert cols.alive_at(np.array([3], dtype=np.int64)).tolist() == [False]
    assert cols.group_positions([5]).tolist() == [0, 2]
    assert cols.group_positions([5, 6, 5]).tolist() == [0, 1, 2]
    assert cols.group_mask([6], include=False).tolist() == [True, False, True]
    assert cols.created_between(1.5, 3.0).tolist() == [1, 2]
    stale = cols.group_mask([5])
    cols.append(4.0, 5)  # lands after the mask was built: not selected by it
    assert cols.with_mask(stale, 4).tolist() == [True, False, True, False]


def test_int_list_grows_past_its_capacity() -> None:
    members = IntList()
    for i in range(20):
        members.append(i)
    members.extend(np.arange(20, 100, dtype=np.int64))
    assert members.view().tolist() == list(range(100))


def test_top_picks_the_best_k_best_first() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.3], dtype=np.float32)
    valid = np.array([True, True, True, False, True])
    got = top(scores, valid, 2)
    assert got.positions.tolist() == [1, 2]
    assert len(top_of(np.arange(5, dtype=np.int64), scores, 0)) == 0
    counts = Counter(top_of(np.arange(5, dtype=np.int64), scores, 5).positions.tolist())
    assert all(c == 1 for c in counts.values()) and len(counts) == 5


# -- packed payloads --------------------------------------------------------------------
@pytest.mark.parametrize("block", [64, 1 << 20])
def test_packed_records_hold_every_record_across_growth(
        block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small blocks: many blocks, and records larger than a block get one of their own.
    monkeypatch.setattr(payloads_module, "BLOCK_BYTES", block)
    monkeypatch.setattr(payloads_module, "FIRST_BLOCK_BYTES", min(block, 4_096))
    records = PackedRecords()
    expected = [f"record {i} ".encode() * (i % 7) for i in range(3_000)]
    records.append(expected[0])
    for lo in range(1, 3_000, 97):  # uneven batches: both arrays grow several times
        records.extend(expected[lo:lo + 97])
    records.extend([])
    assert len(records) == 3_000
    assert [records[i] for i in range(3_000)] == expected
    with pytest.raises(IndexError):
        records[3_000]


def test_docs_round_trip_through_their_encoding() -> None:
    turn = Turn(event_id="e1", user_text="I'm allergic to peanuts",
                assistant_text="Noted, no peanuts.",
                session_id="s1", turn_id="t1", created_at=12.5)
    docs = [turn_doc(turn),
            Doc(kind="turn", text="only the caller spoke", created_at=1.0,
                user_text="only the caller spoke", assistant_text=""),
            Doc(kind="fact", text="likes tea", created_at=2.0, confidence=0.75,
                slot_key="drink", fact_kind="preference", metadata={"a": [1, "x"]}),
            Doc(kind="turn", text="edited text", created_at=3.0, user_text="u",
                assistant_text="a")]
    for doc in docs:
        assert decode_doc(encode_doc(doc)) == doc
    # A turn's joined text is not stored twice.
    assert len(encode_doc(docs[0])) < len(turn.text) * 2
