"""The org lane's keyword search in a worker process (``_org_words``): the same answers
as the loop's own search, adds and removals seen, and an answer in time from a worker
that is starting, stale, stopped, killed mid-query or hung.

The reference is ``HybridIndex.search``'s keyword half on the index as it is when the
answer is read, compared bit for bit (positions and float32 scores).
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from voxmem import Settings
from voxmem.engine import MemoryEngine, _org_words
from voxmem.engine._index import HybridIndex
from voxmem.engine._org_words import OrgWords
from voxmem.engine._org_words_worker import (
    ANSWER,
    FORGET,
    LOAD,
    LOADED,
    QUERY,
    STALE,
    serve,
    write_snapshot,
)
from voxmem.engine._ranked import Ranked
from voxmem.engine._worker_process import HEADER, read_frame

VOCAB = [f"w{i}" for i in range(300)]


def _doc(rng: np.random.Generator) -> list[str]:
    # Zipf-like word use: a query over common words lists thousands of postings, so the
    # pruned search (MaxScore) runs, as at 100,000 chunks.
    return [VOCAB[j] for j in (rng.zipf(1.25, int(rng.integers(3, 30))) - 1) % len(VOCAB)]


def _index(rng: np.random.Generator, n: int = 6_000) -> HybridIndex:
    index = HybridIndex(4)
    docs = [_doc(rng) for _ in range(n)]
    docs[10:20] = [docs[5]] * 10  # exact duplicates: ties at the cut go by position
    for start in range(0, n, 1_000):  # several segments
        batch = docs[start:start + 1_000]
        index.add_many([f"d{start + i}" for i in range(len(batch))], batch,
                       created_at=[0.0] * len(batch), payloads=[None] * len(batch))
    for i in range(40):  # postings still in the head
        index.add(f"h{i}", _doc(rng), created_at=0.0)
    for i in range(0, 300, 7):
        index.remove(f"d{i}")
    return index


def _queries(rng: np.random.Generator, count: int) -> list[list[str]]:
    return [[VOCAB[j] for j in (rng.zipf(1.1, int(rng.integers(1, 7))) - 1) % len(VOCAB)]
            + (["unknownword"] if i % 9 == 0 else []) for i in range(count)]


def _same(got: Ranked | None, want: Ranked) -> bool:
    return (got is not None and got.positions.dtype == want.positions.dtype
            and got.scores.dtype == want.scores.dtype
            and np.array_equal(got.positions, want.positions)
            and np.array_equal(got.scores, want.scores))


def _empty(path: Path) -> bool:
    return not any(path.iterdir())


@pytest.fixture
async def words(tmp_path: Path) -> AsyncIterator[OrgWords]:
    work = OrgWords(process=True, base=tmp_path, min_rows=1)
    try:
        yield work
    finally:
        await work.aclose()


async def test_the_worker_answers_what_the_loop_would(words: OrgWords) -> None:
    rng = np.random.default_rng(3)
    index = _index(rng)
    assert await words.warm(index)
    queries = _queries(rng, 240)
    for start in range(0, len(queries), 40):  # many in flight at once
        batch = queries[start:start + 40]
        asked = [words.ask(index, terms, 80) for terms in batch]
        for terms, a in zip(batch, asked, strict=True):
            assert a is not None
            want = index.search(terms, None, 80)[0]
            # (a generous wait: on a loaded machine the worker may wait for a core)
            got = await asyncio.wait_for(asyncio.shield(a.future), 30)
            assert _same(got, want), terms
    # The snapshot's files are gone once the worker mapped them.
    assert _empty(Path(str(words.base)))


async def test_adds_and_removals_are_answered_in_process_until_the_worker_catches_up(
        words: OrgWords) -> None:
    rng = np.random.default_rng(5)
    index = _index(rng)
    assert await words.warm(index)
    terms = ["w1", "w2", "newword"]
    index.add("fresh", ["newword"] * 5 + ["w1"], created_at=0.0)
    # The worker holds the generation before the add: the loop searches itself.
    assert words.ask(index, terms, 80) is None
    assert await words.warm(index)
    asked = words.ask(index, terms, 80)
    assert asked is not None
    got = await asyncio.wait_for(asyncio.shield(asked.future), 30)
    want = index.search(terms, None, 80)[0]
    assert _same(got, want)
    assert index.position_of("fresh") == int(want.positions[0])
    fresh = int(want.positions[0])
    index.remove("fresh")
    assert words.ask(index, terms, 80) is None
    assert await words.warm(index)
    asked = words.ask(index, terms, 80)
    assert asked is not None
    got = await asyncio.wait_for(asyncio.shield(asked.future), 30)
    assert _same(got, index.search(terms, None, 80)[0])
    assert got is not None and fresh not in got.positions.tolist()


async def test_a_write_after_asking_makes_the_loop_search_itself(words: OrgWords) -> None:
    rng = np.random.default_rng(9)
    index = _index(rng)
    assert await words.warm(index)
    terms = ["w3", "w4"]
    asked = words.ask(index, terms, 80)
    assert asked is not None
    await asyncio.wait_for(asyncio.shield(asked.future), 30)  # the old generation's
    index.add("late", ["w3"] * 8 + ["w4"] * 8, created_at=0.0)
    assert await words.answer(asked) is None  # used, it would miss "late"
    assert words.fallbacks == 1


async def test_a_stopped_worker_costs_a_search_at_most_the_reply_wait(
        words: OrgWords) -> None:
    rng = np.random.default_rng(11)
    index = _index(rng)
    assert await words.warm(index)
    pid = words.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        asked = words.ask(index, ["w1", "w7"], 80)
        assert asked is not None
        t = time.monotonic()
        assert await words.answer(asked) is None
        assert time.monotonic() - t < _org_words.REPLY_WAIT_S + 1.0
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_a_hung_worker_is_killed_and_replaced(words: OrgWords,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(13)
    index = _index(rng)
    assert await words.warm(index)
    pid = words.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    asked = words.ask(index, ["w1"], 80)
    assert asked is not None
    monkeypatch.setattr(_org_words, "HUNG_S", 0.0)
    assert words.ask(index, ["w1"], 80) is None  # finds the first unanswered: killed
    assert words.crashes == 1 and words.pid() is None
    assert asked.future.done() and asked.future.result() is None
    monkeypatch.setattr(_org_words, "HUNG_S", 2.0)
    assert await words.warm(index)  # a new worker, after the pause
    assert words.pid() not in (None, pid)
    asked = words.ask(index, ["w1", "w2"], 80)
    assert asked is not None
    got = await asyncio.wait_for(asyncio.shield(asked.future), 30)
    assert _same(got, index.search(["w1", "w2"], None, 80)[0])


async def test_a_worker_killed_mid_query_is_answered_in_process_and_replaced(
        words: OrgWords) -> None:
    rng = np.random.default_rng(17)
    index = _index(rng)
    assert await words.warm(index)
    pid = words.pid()
    assert pid is not None
    pipe = words._pipe
    assert pipe is not None
    os.kill(pid, signal.SIGSTOP)  # the query stays unanswered until the kill
    asked = words.ask(index, ["w2", "w9"], 80)
    assert asked is not None
    os.kill(pid, signal.SIGKILL)
    assert await words.answer(asked) is None  # by the death, or by the reply wait
    await pipe.exited
    assert words.pid() is None and words.ask(index, ["w2"], 80) is None
    assert await words.warm(index)
    assert words.crashes == 1 and words.pid() not in (None, pid)
    asked = words.ask(index, ["w2", "w9"], 80)
    assert asked is not None
    got = await asyncio.wait_for(asyncio.shield(asked.future), 30)
    assert _same(got, index.search(["w2", "w9"], None, 80)[0])


async def test_small_indexes_and_a_closed_worker_are_searched_in_process(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(19)
    index = _index(rng, n=1_000)
    off = OrgWords(process=False, base=tmp_path, min_rows=1)
    assert off.ask(index, ["w1"], 80) is None and not await off.warm(index)
    small = OrgWords(process=True, base=tmp_path, min_rows=len(index) + 100)
    assert small.ask(index, ["w1"], 80) is None and not await small.warm(index)
    on = OrgWords(process=True, base=tmp_path, min_rows=1)
    assert await on.warm(index)
    pid = on.pid()
    assert pid is not None
    await on.aclose()
    assert on.ask(index, ["w1"], 80) is None and on.pid() is None
    with pytest.raises(ProcessLookupError):  # exited and reaped
        os.kill(pid, 0)
    assert _empty(tmp_path)


async def test_the_engine_s_org_lane_answers_the_same_through_the_worker(
        tmp_path: Path) -> None:
    texts = [f"Refund policy {i}: invoices paid by card are refunded within {i % 9 + 2} "
             f"days; shipping to region {i % 13} takes {i % 5 + 1} weeks" for i in range(600)]
    settings = Settings(data_dir=str(tmp_path / "data"), embedder="static",
                        background_processes=0, org_words_worker=True)
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        engine.org.words.min_rows = 1
        await engine.create_index("default", "p", "kb", [
            {"id": f"doc-{i}", "text": t, "metadata": {}} for i, t in enumerate(texts)])
        scope = engine.scope(project_id="p", agent_id="a", user_id="u")
        org = engine.org.memory("default", "p")
        await org.ready.wait()
        assert await engine.org.words.warm(org.index)
        questions = ["how long does a card refund take", "shipping weeks region 4",
                     "invoices refunded days", "nothing about this at all"]
        with_worker = [await engine.search_memory(scope, q, lanes=["org"]) for q in questions]
        assert engine.org.words.answered >= 3
        engine.org.words.process = False
        inline = [await engine.search_memory(scope, q, lanes=["org"]) for q in questions]
        for a, b in zip(with_worker, inline, strict=True):
            assert [(h["id"], h["score"]) for h in a.org] == [
                (h["id"], h["score"]) for h in b.org]
            assert not a.trace["degraded"]
        pid = engine.org.words.pid()
    finally:
        await engine.close()
    assert engine.org.words.pid() is None and pid is not None
    with pytest.raises(ProcessLookupError):  # stopped with the engine
        os.kill(pid, 0)


def test_the_worker_forgets_a_dropped_index_and_reports_a_bad_snapshot(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(23)
    index = _index(rng, n=2_000)
    taken = write_snapshot(index, tmp_path)
    assert taken is not None
    path, generation = taken
    query = b"Q" + QUERY.pack(1, 7, generation, 80) + b"w1\0w2"
    frames = [b"L" + LOAD.pack(7, generation) + str(path).encode(), query,
              b"F" + FORGET.pack(7), query,
              b"L" + LOAD.pack(8, 1) + str(tmp_path / "missing").encode()]
    replies = io.BytesIO()
    serve(io.BytesIO(b"".join(HEADER.pack(len(f)) + f for f in frames)), replies)
    replies.seek(0)
    out = []
    while (frame := read_frame(replies)) is not None:
        out.append(frame)
    assert out[0] == b"A" + LOADED.pack(7, generation)
    want = index.search(["w1", "w2"], None, 80)[0]
    rid, count, _ = ANSWER.unpack_from(out[1], 1)
    assert (rid, count) == (1, len(want)) and count > 0
    assert out[2] == b"R" + ANSWER.pack(1, STALE, b"f")  # forgotten: answered stale
    assert out[3][:1] == b"E" and out[3][1:1 + LOADED.size] == LOADED.pack(8, 1)
