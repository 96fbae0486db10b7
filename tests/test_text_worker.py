"""A save's text work in a worker process: the same answers as inline, in each call's order,
through a worker that is starting, dies, hangs, fails a batch or is stopped.

The reference is the inline path as it was: the engine's ``Redactor.turn`` on each
session's turns in order, ``analyze`` of the stored turn's text and ``spoken_claims`` of
the redacted caller words.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from voxmem import Settings
from voxmem.engine import MemoryEngine, _text_work
from voxmem.engine._analysis import analyze
from voxmem.engine._text_batch import TurnText
from voxmem.engine._text_work import TextWork
from voxmem.entities._identifiers import spoken_claims
from voxmem.extraction.redaction import Redactor
from voxmem.models import Caller, Scope, Turn

DATA = Path(__file__).parent / "data"
REGION = "US"

#: (session key, user text, assistant text, tool calls, metadata), each session in order.
Step = tuple[tuple[str, str, str], str, str, list[dict[str, Any]] | None, dict[str, Any] | None]


def corpus() -> list[Step]:
    """Every turn of the redaction snippets (answers that only the previous turn makes
    sensitive, read-backs, waits) and of the extraction set (names, numbers, addresses),
    plus identifiers said aloud and tool calls and metadata that carry secrets."""
    steps: list[Step] = []
    for line in (DATA / "redaction_snippets.jsonl").read_text().splitlines():
        case = json.loads(line)
        steps += [(("t", "p", case["id"]), user, agent, None, None)
                  for user, agent in case["turns"]]
    for line in (DATA / "extraction_set.jsonl").read_text().splitlines():
        case = json.loads(line)
        steps += [(("t", "p", case["id"]), turn["user_text"], turn["assistant_text"], None,
                   None) for turn in case["turns"]]
    call = ("t", "p", "ids")
    steps += [
        (call, "hi this is Dana Whitfield", "Hi Dana, can I have your account number?", None,
         None),
        (call, "sure it's four four one seven two two nine", "Thanks. And a phone number?",
         None, {"channel": "sip"}),
        (call, "call me on 415 555 0134 or dana@example.com", "Got it.",
         [{"name": "verify_pin", "arguments": '{"value": "4432"}'}],
         {"cardNumber": "4111 1111 1111 1111", "note": "pin is 4432"}),
        (call, "my son's policy is PX-77120", "What PIN would you like?", None, None),
        (call, "uh nine three one seven", "9 3 1 7, done.", None, {"interrupted": True}),
        (("t", "p", "empty"), "", "Hello, how can I help?", None, None),
        (("t", "p", "empty"), "   ", "", None, None),
    ]
    return steps


def reference(steps: list[Step]) -> tuple[list[TurnText], Redactor]:
    redactor = Redactor()
    out = []
    for key, user, agent, tools, meta in steps:
        clean = redactor.turn(key, user_text=user, assistant_text=agent, tool_calls=tools,
                              metadata=meta)
        stored = Turn(event_id="e", session_id=key[2], turn_id="t", user_text=clean.user_text,
                      assistant_text=clean.assistant_text, created_at=0.0)
        claims = (spoken_claims(clean.user_text, REGION) if clean.user_text.strip()
                  else None)
        out.append(TurnText(clean, redactor.context(key), analyze(stored.text), claims))
    return out, redactor


async def run_all(work: TextWork, steps: list[Step]) -> list[TurnText]:
    """Every turn at once: each session's turns are submitted in order, and interleaved
    with the other sessions' (turn k+1 of a call while its turn k is in the worker)."""
    return await asyncio.gather(*(
        work.turn(key, user_text=user, assistant_text=agent, tool_calls=tools, metadata=meta,
                  scan=True, region=REGION)
        for key, user, agent, tools, meta in steps))


@pytest.fixture(autouse=True)
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker is given up on after a minute, not two seconds: on a loaded machine a
    batch may wait that long for a core, and the tests count who did each turn (the
    answers would be the same either way). The hang test sets its own timeout."""
    monkeypatch.setattr(_text_work, "BATCH_TIMEOUT_S", 60.0)


@pytest.fixture
async def work() -> AsyncIterator[TextWork]:
    text = TextWork(Redactor(), process=True)
    await text.start()
    assert text.ready
    try:
        yield text
    finally:
        await text.aclose()


@pytest.fixture
def stopped() -> Iterator[list[int]]:
    """Worker pids a test stopped (SIGSTOP): continued at the end, whatever happened."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def stop(pid: int | None, stopped: list[int]) -> int:
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    stopped.append(pid)
    return pid


async def until_sent(work: TextWork) -> None:
    """Yield to the loop until a batch is on its way to the worker (passes of the loop,
    no time: the batch leaves in the pass after its turns arrive)."""
    while work._sent is None:  # noqa: ASYNC110 (nothing to wait on but the next pass)
        await asyncio.sleep(0)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_the_worker_gives_the_inline_answers_on_a_corpus(work: TextWork) -> None:
    steps = corpus()
    expected, after = reference(steps)
    assert any("[redacted:password_pin]" in e.clean.user_text for e in expected)
    assert any(e.claims and e.claims.identifiers for e in expected)
    got = await run_all(work, steps)
    assert work.offloaded == len(steps) and work.inline == 0
    assert work.batches < len(steps)  # batched, not one message per turn
    assert got == expected
    for key in {step[0] for step in steps}:
        assert work._redactor.context(key) == after.context(key)
    # And the same inline, with the worker off.
    inline = TextWork(Redactor(), process=False)
    assert await run_all(inline, steps) == expected
    assert inline.inline == len(steps) and inline.pid() is None


async def test_a_session_s_turns_are_redacted_in_order_while_in_flight(
        work: TextWork) -> None:
    key = ("t", "p", "call-1")
    asked = asyncio.ensure_future(work.turn(
        key, user_text="I'd like a new card", assistant_text="What PIN would you like?",
        tool_calls=None, metadata=None, scan=True, region=REGION))
    await until_sent(work)  # the question is in the worker, its context not kept yet
    answer = await work.turn(key, user_text="let's do uh nine three one seven",
                             assistant_text="Done, 9 3 1 7.", tool_calls=None,
                             metadata=None, scan=True, region=REGION)
    assert (await asked).clean.user_text == "I'd like a new card"
    assert answer.clean.user_text == "let's do uh [redacted:password_pin]"
    assert answer.clean.assistant_text == "Done, [redacted:password_pin]."


class ExplodesElsewhere:
    """Unpickles only in the process that pickled it: the worker fails the batch."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return (_rebuild, (self.pid,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExplodesElsewhere)

    __hash__ = object.__hash__


def _rebuild(pid: int) -> ExplodesElsewhere:
    if os.getpid() != pid:
        raise RuntimeError("not in the process that made me")
    return ExplodesElsewhere(pid)


async def test_a_batch_the_worker_fails_or_that_does_not_pickle_is_done_inline(
        work: TextWork) -> None:
    steps: list[Step] = [
        (("t", "p", "a"), "my pin is 4432", "Thanks.", None, {"odd": ExplodesElsewhere()}),
        (("t", "p", "b"), "card 4111 1111 1111 1111", "Thanks.", None, None),
        (("t", "p", "c"), "hi", "What PIN would you like?", None,
         {"lock": asyncio.Lock()}),  # does not pickle at all
        (("t", "p", "c"), "nine three one seven", "Done.", None, None),
    ]
    expected, _ = reference(steps)
    assert await run_all(work, steps) == expected
    assert work.inline == len(steps) - 1 and work.offloaded == 1  # the last: a later batch
    assert work.ready  # an error is not a dead worker


async def test_a_worker_killed_mid_batch_leaves_every_turn_answered_in_order(
        work: TextWork, stopped: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_text_work, "RESTART_DELAY_S", 3600.0)  # restarted by hand below
    steps = corpus()[:40]
    expected, _ = reference(steps)
    pid = stop(work.pid(), stopped)
    running = asyncio.ensure_future(run_all(work, steps))
    await until_sent(work)
    os.kill(pid, signal.SIGKILL)
    assert await running == expected
    assert work.crashes == 1 and not work.ready and work.pid() is None
    await work.start()
    assert work.ready and work.pid() not in (None, pid)
    assert await run_all(work, steps[:5]) == reference(steps[:5])[0]
    assert work.offloaded == 5


async def test_a_worker_that_stops_answering_is_killed_and_its_batch_done_inline(
        work: TextWork, stopped: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_text_work, "BATCH_TIMEOUT_S", 0.2)
    monkeypatch.setattr(_text_work, "RESTART_DELAY_S", 3600.0)
    pipe = work._pipe
    assert pipe is not None
    stop(work.pid(), stopped)
    steps = corpus()[:10]
    assert await run_all(work, steps) == reference(steps)[0]
    assert work.crashes == 1 and work.offloaded == 0
    await pipe.exited  # killed, and reaped


async def test_turns_run_inline_until_the_worker_is_ready(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_text_work, "START_AFTER_SAVES", 2)
    steps = corpus()
    expected, _ = reference(steps)
    work = TextWork(Redactor(), process=True)
    try:
        got = [await run_all(work, steps[:1])]
        assert work.inline == 1 and work._starting is None  # one save: no worker
        got.append(await run_all(work, steps[1:2]))
        assert work._starting is not None and not work.ready  # started, not ready
        got.append(await run_all(work, steps[2:30]))
        assert work.inline == 30 and work.offloaded == 0
        await work.start()
        assert work.ready
        got.append(await run_all(work, steps[30:]))
        assert work.offloaded == len(steps) - 30
        assert [t for part in got for t in part] == expected
    finally:
        await work.aclose()


async def test_closing_does_queued_and_sent_turns_inline_and_stops_the_worker(
        work: TextWork, stopped: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_text_work, "STOP_TIMEOUT_S", 0.2)
    steps = corpus()[:20]
    expected, _ = reference(steps)
    pipe = work._pipe
    assert pipe is not None
    stop(work.pid(), stopped)  # it will not exit on its own: killed after the timeout
    first = asyncio.ensure_future(run_all(work, steps[:10]))
    await until_sent(work)
    rest = asyncio.ensure_future(run_all(work, steps[10:]))
    await asyncio.sleep(0)  # queued behind the batch in flight
    await work.aclose()
    assert await first + await rest == expected
    assert pipe.exited.done() and work.pid() is None
    # Closed: later turns are done inline, and no worker is started again.
    assert await run_all(work, steps[:2]) == reference(steps[:2])[0]
    assert work._starting is None


async def test_a_worker_exits_on_close_without_being_killed(work: TextWork) -> None:
    pid = work.pid()
    assert pid is not None
    await work.aclose()
    assert gone(pid)


# -- through the engine, on both stores ----------------------------------------------------
def who(engine: MemoryEngine, user: str) -> Scope:
    return engine.scope(project_id="p1", agent_id="a1", user_id=user)


async def test_concurrent_saves_of_one_call_are_redacted_stored_and_found_in_order(
        settings: Settings) -> None:
    engine = MemoryEngine(settings.replace(text_worker=True))
    await engine.start()
    try:
        text = engine.calls.text
        await text.start()
        assert text.ready
        scope, caller = who(engine, "ana"), Caller("ana")
        # The call's first save reads the memory policy from the store; later saves find
        # it cached and reach the text work in the order they were sent, as here.
        await engine.save_response(scope, caller, user_text="hello", assistant_text="Hi!")
        turns = [("I'd like a new card please", "Sure. What PIN would you like on it?"),
                 ("let's do uh nine three one seven", "Done, 9 3 1 7. Anything else?"),
                 ("my number is 415 555 0134", "Thanks, noted.")]
        ids = await asyncio.gather(*(
            engine.save_response(scope, caller, user_text=user, assistant_text=agent)
            for user, agent in turns))
        assert text.offloaded == 4
        # Read-your-writes: in the caller's warm index at once, found, redacted. (The
        # query's words are the answer turn's own: how the lane ranks turns whose
        # vectors are still being made is not what this test is about.)
        mem = engine.callers.peek(scope)
        assert mem is not None and all(event is not None and event in mem.index
                                       for event in ids)
        found = json.dumps((await engine.search_memory(scope, "PIN anything else",
                                                       lanes=["working"])).working)
        assert "let's do uh [redacted:password_pin]" in found
        assert "nine three one seven" not in found
        await engine.flush()
        session = (await engine.store.recent_sessions(scope, 1))[0]
        stored = await engine.store.session_turns(scope, session.id)
        assert [t.event_id for t in stored][1:] == ids
        assert [t.user_text for t in stored][1:] == [
            "I'd like a new card please", "let's do uh [redacted:password_pin]",
            "my number is 415 555 0134"]
        assert stored[2].assistant_text == "Done, [redacted:password_pin]. Anything else?"
        # The claim scan made in the worker linked the phone number said aloud.
        await engine.directory.idle()
        profile = await engine.directory.show(scope)
        assert any(i["value"] == "+14155550134" for i in profile["identifiers"]), profile
    finally:
        await engine.close()
    assert text.pid() is None


async def test_the_engine_saves_the_same_turns_with_the_worker_and_without(
        settings: Settings) -> None:
    steps = corpus()[:60]
    stored: list[list[tuple[str, str, Any, Any]]] = []
    for on in (True, False):
        engine = MemoryEngine(settings.replace(text_worker=on,
                                               data_dir=f"{settings.data_dir}-{on}"))
        await engine.start()
        try:
            if on:
                await engine.calls.text.start()
            scope, caller = who(engine, f"bo-{on}"), Caller("bo")
            for key, user, agent, tools, meta in steps:
                await engine.start_session(scope, caller, session_id=f"{key[2]}-{on}")
                await engine.save_response(scope, caller, user_text=user,
                                           assistant_text=agent, tool_calls=tools,
                                           metadata=meta)
            assert engine.calls.text.offloaded == (len(steps) if on else 0)
            await engine.flush()
            rows = []
            for session in await engine.store.recent_sessions(scope, 1000):
                rows += [(t.user_text, t.assistant_text, t.tool_calls, t.metadata)
                         for t in await engine.store.session_turns(scope, session.id)]
            stored.append(sorted(rows, key=json.dumps))
        finally:
            await engine.close()
    assert stored[0] == stored[1]
    assert len(stored[0]) == len(steps)


def test_the_worker_takes_turns_on_uvloop_as_the_runtime_runs() -> None:
    uvloop = pytest.importorskip("uvloop")
    steps = corpus()[:30]

    async def run() -> list[TurnText]:
        text = TextWork(Redactor(), process=True)
        try:
            await text.start()
            assert text.ready, "the worker did not start on uvloop"
            got = await run_all(text, steps)
            assert text.offloaded == len(steps)
            return got
        finally:
            await text.aclose()

    assert uvloop.run(run()) == reference(steps)[0]


async def test_a_worker_that_cannot_start_is_tried_again_after_a_pause_not_per_save(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_text_work, "START_AFTER_SAVES", 1)
    monkeypatch.setattr(_text_work, "RESTART_DELAY_S", 3600.0)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")  # no such program
    steps = corpus()[:20]
    text = TextWork(Redactor(), process=True)
    try:
        await text.start()
        assert not text.ready and text.crashes == 1 and text._restart is not None
        assert await run_all(text, steps) == reference(steps)[0]
        assert text.inline == len(steps) and text.crashes == 1 and text._starting is None
    finally:
        await text.aclose()


async def test_a_turn_whose_caller_is_merged_away_while_in_the_worker_is_redacted_once(
        settings: Settings, stopped: list[int]) -> None:
    engine = MemoryEngine(settings.replace(text_worker=True))
    await engine.start()
    try:
        text = engine.calls.text
        await text.start()
        guest, ann = who(engine, "guest"), who(engine, "ann")
        await engine.save_response(guest, Caller("guest"), user_text="hi",
                                   assistant_text="What PIN would you like?")
        await engine.flush(30)
        pid = stop(text.pid(), stopped)
        saving = asyncio.ensure_future(engine.save_response(
            guest, Caller("guest"), turn_id="t-pin", user_text="nine three one seven",
            assistant_text="Done."))
        await until_sent(text)  # the answer is in the worker, the caller still the guest
        await engine.merge_callers(guest, ann, reason="test")
        os.kill(pid, signal.SIGCONT)
        event_id = await saving
        await engine.flush(30)
        # Filed under the caller it is now, redacted with the call's context (the
        # question), not a second time after it (which would read the answer's own).
        exported = await engine.store.export_caller(ann)
        turns = sorted(i.user_text or "" for i in exported.items if i.kind == "turn")
        assert turns == ["[redacted:password_pin]", "hi"]
        assert await engine.store.count_items(guest) == 0
        assert event_id in {i.id for i in exported.items}
    finally:
        await engine.close()
