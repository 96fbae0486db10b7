"""The search path's speed-ups rank exactly what the plain path ranks.

Recall searches a lane's words while the query is still being embedded on a thread
(the keyword phase), then the vectors (the dense phase); and the permanent lane reads a
candidate's turn id by item id instead of unpacking its payload. Both must leave every
ranking unchanged: checked here against the one-search path and against the old
payload-based lineage lookup, on the project's own call transcripts (``tests/data``)
embedded with the bundled static model.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import math
import random
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

import voxmem.engine._bm25 as bm25_module
import voxmem.engine._postings as postings_module
from voxmem import Settings
from voxmem.embeddings import Vectors
from voxmem.embeddings.static import StaticEmbedder
from voxmem.engine import MemoryEngine
from voxmem.engine._analysis import analyze
from voxmem.engine._bm25 import ascending_union as _ascending_union
from voxmem.engine._caller_memory import CallerMemory, Doc, build_memory
from voxmem.engine._fusion import load_fusion
from voxmem.engine._org_memory import OrgMemory
from voxmem.engine._postings import Postings
from voxmem.engine._rank import RankParams, best_neighbours
from voxmem.engine._recall import (
    SUPERSEDED_TURN_FACTOR,
    KeywordPhase,
    Query,
    _caller_filters,
    _depth,
    caller_keyword_phase,
    org_dense_phase,
    org_keyword_phase,
    prefer_current,
    search_caller_lane,
    search_org_lane,
)
from voxmem.engine._time import TimeHint, parse_when
from voxmem.models import Caller, Chunk, Fact, MemoryItem, Scope

DATA = Path(__file__).parent / "data"
DAY = 86_400.0
NOW = 1_800_000_000.0


def _calls() -> list[list[tuple[str, str]]]:
    """(user, assistant) turns of every call in the project's labelled call sets."""
    calls = []
    for path in sorted(DATA.glob("extraction_*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            turns = [(t.get("user_text") or "", t.get("assistant_text") or "")
                     for t in row.get("turns", [])]
            if turns:
                calls.append(turns)
    return calls


@pytest.fixture(scope="module")
def caller(embedder: StaticEmbedder) -> CallerMemory:
    """A caller with ~1,400 calls over 80 days, facts with superseded lineages."""
    rng = random.Random(20261130)
    calls = _calls()
    items: list[MemoryItem] = []
    texts: list[str] = []
    for c, turns in enumerate(calls):
        at = NOW - (len(calls) - c) * 80 * DAY / len(calls)
        for i, (user, assistant) in enumerate(turns):
            text = f"{user}\n{assistant}"
            texts.append(text)
            items.append(MemoryItem(id=f"evt-{c}-{i}", kind="turn", text=text,
                                    created_at=at + i, session_id=f"ses-{c}",
                                    user_text=user, assistant_text=assistant,
                                    turn_id=f"turn-{c}-{i}"))
    facts: list[Fact] = []
    for f in range(40):
        c = rng.randrange(len(calls) - 1)
        user = calls[c][0][0]
        slot = f"slot{f % 12}"  # repeated slots: later facts supersede earlier ones
        fact_at = NOW - (len(calls) - c) * 80 * DAY / len(calls) + 30
        facts.append(Fact(id=f"fact-{f}", text=f"caller said: {user}", slot_key=slot,
                          confidence=rng.uniform(0.5, 1.0), source_session_id=f"ses-{c}",
                          source_turn_ids=[f"turn-{c}-0"], valid_from=fact_at,
                          created_at=fact_at))
    # Chain each slot's facts: a fact ends when the next one of its slot begins.
    by_slot: dict[str, list[Fact]] = {}
    for fact in sorted(facts, key=lambda f: f.valid_from):
        by_slot.setdefault(str(fact.slot_key), []).append(fact)
    chained = []
    for chain in by_slot.values():
        for old, new in itertools.pairwise(chain):
            chained.append(msgspec.structs.replace(old, valid_to=new.valid_from))
        chained.append(chain[-1])
    for fact in chained:
        if fact.current:
            texts.append(fact.text)
            items.append(MemoryItem(id=fact.id, kind="fact", text=fact.text,
                                    created_at=fact.created_at, confidence=fact.confidence,
                                    slot_key=fact.slot_key, fact_kind="note"))
    vectors = embedder.embed(texts)
    items = [dataclasses.replace(item, embedding=np.ascontiguousarray(vec).tobytes())
             for item, vec in zip(items, vectors, strict=True)]
    scope = Scope(tenant_id="t", project_id="p", agent_id="a", user_id="u", space="")
    mem = build_memory(scope, embedder.dimensions, f"ses-{len(calls) - 1}", items, chained)
    assert mem.lineage_current and any(not cur for _, cur in mem.turn_lineage.values())
    return mem


def _queries(rng: random.Random, calls: list[list[tuple[str, str]]], n: int) -> list[str]:
    """Words from the calls (so keyword search finds them), some naming a time."""
    out = []
    for _ in range(n):
        user = rng.choice(rng.choice(calls))[0].split()
        words = rng.sample(user, min(len(user), rng.randint(1, 5))) if user else ["hello"]
        query = " ".join(words)
        if rng.random() < 0.3:
            query += rng.choice([" two weeks ago", " last month", " the first time",
                                 " in the latest call"])
        out.append(query)
    return out


def _hits(hits: list[dict[str, Any]]) -> list[tuple[str, float]]:
    return [(h["id"], h["score"]) for h in hits]


@pytest.mark.parametrize("fusion", ["learned", "rrf"])
def test_keyword_then_dense_phase_equals_one_search_for_caller_lanes(
        caller: CallerMemory, embedder: StaticEmbedder, fusion: str) -> None:
    rng = random.Random(7)
    params = RankParams(fusion=load_fusion(embedder.name) if fusion == "learned" else None)
    checked = 0
    for text in _queries(rng, _calls(), 120):
        vector = embedder.embed([text])[0]
        base = Query(text=text, terms=analyze(text), vector=None, now=NOW,
                     min_created=NOW - 60 * DAY if rng.random() < 0.5 else None,
                     when=parse_when(text, NOW))
        full = dataclasses.replace(base, vector=vector)
        for lane in ("working", "permanent"):
            k = rng.randint(1, 10)
            words = caller_keyword_phase(caller, lane, base, k, params)
            split = search_caller_lane(caller, lane, full, k, params, words)
            assert _hits(split) == _hits(search_caller_lane(caller, lane, full, k, params))
            checked += bool(split)
    assert checked > 100  # the queries do find memories


def test_keyword_then_dense_phase_equals_one_search_for_the_org_lane(
        embedder: StaticEmbedder) -> None:
    org = OrgMemory("t", "p", embedder.dimensions)
    chunks: list[Chunk] = []
    for c, turns in enumerate(_calls()):
        for i, (user, assistant) in enumerate(turns):
            chunks.append(Chunk(id=f"chk-{c}-{i}", index_name="kb", document_id=f"doc-{c}",
                                ordinal=i, text=f"{user} {assistant}", metadata={},
                                created_at=NOW))
    vectors = list(embedder.embed([chunk.text for chunk in chunks]))
    half = len(chunks) // 2
    # Half the vectors in the graph, half still pending (scanned exactly): both paths.
    org.add_chunks(chunks[:half], vectors[:half], bulk=True)
    org.index.maintain(threads=1)
    org.add_chunks(chunks[half:], vectors[half:], bulk=True)
    assert org.index.ann is not None and org.index.ann.pending == len(chunks) - half
    rng = random.Random(11)
    params = RankParams()
    for text in _queries(rng, _calls(), 80):
        base = Query(text=text, terms=analyze(text), vector=None, now=NOW)
        full = dataclasses.replace(base, vector=embedder.embed([text])[0])
        k = rng.randint(1, 10)
        words = org_keyword_phase(org, base, k)
        one = _hits(search_org_lane(org, full, k, params))
        assert _hits(search_org_lane(org, full, k, params, words)) == one
        # The graph search on its own (on a thread while the caller lanes run).
        dense = org_dense_phase(org, full, k)
        assert _hits(search_org_lane(org, full, k, params, words, dense)) == one
        assert _hits(search_org_lane(org, full, k, params, None, dense)) == one


@pytest.mark.parametrize("fusion", ["learned", "rrf"])
def test_a_time_window_over_every_row_ranks_as_its_second_search_did(
        caller: CallerMemory, embedder: StaticEmbedder, fusion: str) -> None:
    # A window holding every row of the caller ("last year" for a caller of 80 days) is
    # not searched a second time: its rankings would be the lane's own. Checked against
    # the two searches (the lane's filter and the window's, passed as the keyword phase).
    rng = random.Random(11)
    params = RankParams(fusion=load_fusion(embedder.name) if fusion == "learned" else None)
    everything = TimeHint(start=NOW - 400 * DAY, end=NOW + DAY)
    part = TimeHint(start=NOW - 20 * DAY, end=NOW + DAY)
    checked = 0
    for text in _queries(rng, _calls(), 60):
        q = Query(text=text, terms=analyze(text), vector=embedder.embed([text])[0], now=NOW,
                  min_created=NOW - 300 * DAY if rng.random() < 0.5 else None,
                  when=everything)
        for lane in ("working", "permanent"):
            working, wheres = _caller_filters(caller, lane, q, params)
            assert len(wheres) == 1
            assert len(_caller_filters(caller, lane, dataclasses.replace(q, when=part),
                                       params)[1]) == 2
            window = dataclasses.replace(
                wheres[0], min_created=everything.start, max_created=everything.end,
                positions=caller.index.created_between(NOW - 400 * DAY, NOW + DAY))
            both = (wheres[0], window)
            k = rng.randint(1, 10)
            twice = KeywordPhase(both, tuple(caller.index.search(q.terms, None, _depth(k), w)[0]
                                             for w in both), working)
            once = search_caller_lane(caller, lane, q, k, params)
            assert _hits(once) == _hits(search_caller_lane(caller, lane, q, k, params, twice))
            checked += bool(once)
    assert checked > 50


def _prefer_current_by_payload(mem: CallerMemory, scored: list[tuple[int, float]],
                               eligible: Callable[[int], bool]) -> list[tuple[int, float]]:
    """``prefer_current`` as it was written before: each candidate's payload unpacked."""
    index = mem.index
    score = dict(scored)
    linked: dict[str, float] = {}
    docs: list[Doc] = []
    for pos, value in scored:
        doc: Doc = index.payload_at(pos)
        docs.append(doc)
        lineage = None
        if doc.kind == "turn" and doc.turn_id:
            lineage = mem.turn_lineage.get(doc.turn_id, (None, True))[0]
        elif doc.kind == "fact":
            lineage = mem.fact_lineage.get(index.id_at(pos))
        if lineage is not None and lineage in mem.lineage_current:
            linked[lineage] = max(linked.get(lineage, 0.0), value)
    if not linked:
        return scored
    for (pos, value), doc in zip(scored, docs, strict=True):
        if doc.kind == "turn" and doc.turn_id:
            lineage, current = mem.turn_lineage.get(doc.turn_id, (None, True))
            if lineage is not None and not current:
                score[pos] = value * SUPERSEDED_TURN_FACTOR
    for lineage, top in linked.items():
        fact_id = mem.lineage_current[lineage]
        fact_pos = index.position_of(fact_id)
        if fact_pos is None or not eligible(fact_pos):
            continue
        score[fact_pos] = max(score.get(fact_pos, 0.0), top)
        for turn_id in mem.fact_sources.get(fact_id, ()):
            item = mem.turn_items.get(turn_id)
            turn_pos = index.position_of(item) if item is not None else None
            if turn_pos is not None and eligible(turn_pos):
                score[turn_pos] = max(score.get(turn_pos, 0.0), top * 0.99)
    return sorted(score.items(), key=lambda item: -item[1])


def test_lineage_by_item_id_equals_lineage_by_payload(caller: CallerMemory) -> None:
    rng = random.Random(3)
    n = len(caller.index)
    changed = 0
    for _ in range(300):
        scored = [(pos, rng.random()) for pos in rng.sample(range(n), rng.randint(1, 400))]
        scored.sort(key=lambda item: -item[1])
        expected = _prefer_current_by_payload(caller, scored, lambda pos: True)
        assert prefer_current(caller, scored, lambda p: np.ones(p.shape[0], np.bool_)) == expected
        changed += expected != scored
        # Positions a lane may not add (another lane's, past retention): every third one.
        expected = _prefer_current_by_payload(caller, scored, lambda pos: pos % 3 != 0)
        assert prefer_current(caller, scored, lambda p: p % 3 != 0) == expected
    assert changed > 50  # lineages were hit, not just passed through


class _HeldStatic:
    """The static model, presented as cheap (recall embeds the query inline) or not (on
    a lane thread, where ``embed`` holds each query until the test lets it go)."""

    def __init__(self) -> None:
        self._inner = StaticEmbedder()
        self.name = self._inner.name
        self.dimensions = self._inner.dimensions
        self.cheap = True
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not self.cheap and len(texts) == 1:  # a query, held
            self.entered.set()
            assert self.gate.wait(30), "the test never released the query"
        return self._inner.embed(texts)


async def test_search_with_the_embedding_on_a_thread_ranks_as_inline(tmp_path: Path) -> None:
    """The whole engine: a query embedded on a thread (its lanes search the words while
    the vector is held back) answers exactly what the same query embedded inline does."""
    embedder = _HeldStatic()
    settings = Settings(data_dir=str(tmp_path / "data"), embedder="static", extractor="off")
    engine = MemoryEngine(settings, embedder=embedder, clock=lambda: NOW)
    await engine.start()
    try:
        scope = engine.scope(project_id="p", agent_id="a", user_id="u")
        who = Caller("u", "Una")
        await engine.create_index("default", "p", "kb", [
            {"id": f"d{c}", "text": " ".join(u for u, _ in turns), "metadata": {}}
            for c, turns in enumerate(_calls()[:300])])
        await engine.warm_org(scope)
        for c, turns in enumerate(_calls()[:60]):
            for user, assistant in turns:
                await engine.save_response(scope, who, user_text=user,
                                           assistant_text=assistant)
            if c % 20 == 19:
                await engine.end_session(scope)
        assert await engine.flush(60, learning=True)
        await engine.callers.get(scope).ready.wait()
        loop = asyncio.get_running_loop()
        found = 0
        for query in _queries(random.Random(5), _calls(), 25):
            answers = []
            for cheap in (True, False):
                embedder.cheap = cheap
                embedder.gate.clear()
                embedder.entered.clear()
                search = asyncio.ensure_future(engine.search_memory(scope, query,
                                                                    timeout_ms=30_000))
                if not cheap:
                    # Held on its thread: the lanes search the query's words meanwhile.
                    assert await loop.run_in_executor(None, embedder.entered.wait, 30)
                embedder.gate.set()
                result = await search
                assert not result.trace["degraded"], result.trace
                answers.append([(h["id"], h["score"]) for lane in ("working", "permanent",
                                                                   "org")
                                for h in getattr(result, lane)])
            assert answers[0] == answers[1], query
            found += len(answers[0])
        assert found > 100
    finally:
        embedder.gate.set()
        await engine.close()


def test_union_of_postings_is_numpys_unique_for_sparse_terms(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The org lane's candidate union (rare terms in a large index): sorted and marked
    unions both equal ``np.unique``, and the search ranks as direct BM25 does."""
    monkeypatch.setattr(postings_module, "HEAD_POSTINGS", 50)
    rng = np.random.default_rng(9)
    vocabulary = [f"w{i}" for i in range(3_000)]
    n = 6_000
    docs = [[vocabulary[j] for j in rng.integers(0, len(vocabulary), rng.integers(1, 6))]
            for _ in range(n)]
    p = Postings(threading.RLock())
    p.reserve(n, 0)
    for lo in range(0, 4_000, 500):  # several segments, then single adds into the head
        p.add_many(docs[lo:lo + 500], lo, bulk=False)
    for i in range(4_000, n):
        p.add(i, docs[i])
    alive = np.ones(n, dtype=np.bool_)
    for i in rng.choice(n, 40, replace=False).tolist():
        alive[i] = False
        p.remove(i)
    live = int(alive.sum())
    for size in (1, 2, 5, 40):
        query = rng.choice(vocabulary, size, replace=False).tolist()
        touched = [found[0] for term in query if (found := p._term(term)) is not None]
        expected = np.unique(np.concatenate(touched)).astype(np.int64)
        for share in (0, 10**9):  # sorted, then marked
            monkeypatch.setattr(bm25_module, "UNION_SORT_SHARE", share)
            assert np.array_equal(_ascending_union(touched, n), expected)
        ranked = p.search(query, 10_000, n, None, alive, live, alive)
        scores = _bm25_direct(docs, set(np.flatnonzero(alive).tolist()), query)
        assert sorted(ranked.positions.tolist()) == sorted(scores)
        assert ranked.scores.tolist() == pytest.approx(
            [scores[pos] for pos in ranked.positions.tolist()], rel=1e-5)


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


class _FailingQueries:
    """The static model for memories; a query's embedding fails (a broken model file,
    an out-of-memory error) inline or on a thread."""

    def __init__(self, cheap: bool) -> None:
        self._inner = StaticEmbedder()
        self.name = self._inner.name
        self.dimensions = self._inner.dimensions
        self.cheap = cheap
        self.fail = False

    def embed(self, texts: Sequence[str]) -> Vectors:
        if self.fail and len(texts) == 1:
            raise RuntimeError("query embedding failed")
        return self._inner.embed(texts)


@pytest.mark.parametrize("cheap", [True, False])
async def test_a_failing_query_embedding_degrades_the_lanes_not_the_search(
        tmp_path: Path, cheap: bool) -> None:
    embedder = _FailingQueries(cheap)
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "data"), embedder="static",
                                   extractor="off"), embedder=embedder)
    await engine.start()
    try:
        scope = engine.scope(project_id="p", agent_id="a", user_id="u")
        await engine.save_response(scope, Caller("u", "Una"), user_text="my dog is Bruno",
                                   assistant_text="Noted.")
        assert await engine.flush(60)
        embedder.fail = True
        result = await engine.search_memory(scope, "dog", timeout_ms=30_000)
        assert result.trace["degraded"]
        assert result.trace["errors"]["working"] == "query embedding failed"
        assert result.profile == {"name": "Una"}
        embedder.fail = False
        result = await engine.search_memory(scope, "dog", timeout_ms=30_000)
        assert not result.trace["degraded"] and "Bruno" in result.context_text
    finally:
        await engine.close()


def test_best_neighbours_sorted_once_are_each_neighbour_by_definition() -> None:
    rng = np.random.default_rng(8)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        positions = rng.choice(60, n, replace=False).astype(np.int64)
        groups = (positions // 5 - 1).astype(np.int64)  # group <= 0: outside a call
        values = [rng.random(n) for _ in range(3)]
        at = {int(p): i for i, p in enumerate(positions)}
        for value, got in zip(values, best_neighbours(positions, groups, values), strict=True):
            want = np.zeros(n)
            for i, (pos, group) in enumerate(zip(positions.tolist(), groups.tolist(),
                                                 strict=True)):
                near = [at[q] for q in (pos - 1, pos + 1)
                        if q in at and groups[at[q]] == group]
                if group > 0 and near:
                    want[i] = max(value[j] for j in near)
            np.testing.assert_array_equal(got, want)
