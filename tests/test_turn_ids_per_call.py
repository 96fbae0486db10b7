"""A turn id names a turn of one call: a later call may number its turns the same way.

Found by probing from outside: a client that numbers each call's turns from ``t1`` (a
transcript ledger per call, as the MemoAir SDK's ``after_turn(turn_id=...)`` invites) had
every turn of its caller's second call acknowledged with the first call's event ids and
silently dropped; an import of two calls numbered the same way kept only the first. A
retry (the same turn id in the same call, or after a restart) still stores nothing new.
"""

from __future__ import annotations

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.models import Caller, Scope, Turn
from voxmem.store import TurnWrite, WriteBatch


def who(engine: MemoryEngine, user: str = "u") -> Scope:
    return engine.scope(project_id="p", agent_id="a", user_id=user)


async def call_turns(engine: MemoryEngine, s: Scope, session_id: str) -> list[str]:
    return [t.user_text for t in await engine.store.session_turns(s, session_id)]


async def test_a_second_call_numbering_its_turns_alike_keeps_them(
        engine: MemoryEngine) -> None:
    s = who(engine)
    await engine.start_session(s, Caller("u"), session_id="call-1")
    first = await engine.save_response(s, Caller("u"), user_text="I live on Elm Road",
                                       assistant_text="noted", turn_id="t1")
    await engine.end_session(s)
    await engine.start_session(s, Caller("u"), session_id="call-2")
    second = await engine.save_response(s, Caller("u"), user_text="I moved to Oslo",
                                        assistant_text="noted", turn_id="t1")
    assert second != first
    # A retry inside call 2 is still a retry.
    assert await engine.save_response(s, Caller("u"), user_text="I moved to Oslo",
                                      assistant_text="noted", turn_id="t1") == second
    assert await engine.flush(30)
    assert await call_turns(engine, s, "call-1") == ["I live on Elm Road"]
    assert await call_turns(engine, s, "call-2") == ["I moved to Oslo"]
    found = await engine.search_memory(s, "where did I move Oslo", timeout_ms=5000)
    assert any("Oslo" in h["text"] for h in found.working + found.permanent)


async def test_after_a_restart_a_new_call_numbering_its_turns_alike_keeps_them(
        settings: Settings) -> None:
    engine = MemoryEngine(settings)
    await engine.start()
    s = who(engine)
    try:
        await engine.start_session(s, Caller("u"), session_id="call-1")
        await engine.save_response(s, Caller("u"), user_text="call one", assistant_text="ok",
                                   turn_id="t1")
        await engine.end_session(s)
    finally:
        await engine.close()
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        await engine.start_session(s, Caller("u"), session_id="call-2")
        await engine.save_response(s, Caller("u"), user_text="call two", assistant_text="ok",
                                   turn_id="t1")
        assert await engine.flush(30)
        assert await call_turns(engine, s, "call-2") == ["call two"]
    finally:
        await engine.close()


async def test_an_import_of_calls_numbered_alike_keeps_every_turn(
        engine: MemoryEngine) -> None:
    s = who(engine)
    now = engine.clock()
    calls = [{"sessionId": f"old-{n}", "startedAt": now - 86400 * (3 - n), "turns": [
        {"userText": f"call {n} first", "assistantText": "ok", "turnId": "t1"},
        {"userText": f"call {n} second", "assistantText": "ok", "turnId": "t2"}]}
        for n in range(2)]
    assert (await engine.import_history(s, Caller("u"), calls))["turns"] == 4
    assert (await engine.import_history(s, Caller("u"), calls))["turns"] == 0
    assert await engine.flush(30)
    assert await call_turns(engine, s, "old-0") == ["call 0 first", "call 0 second"]
    assert await call_turns(engine, s, "old-1") == ["call 1 first", "call 1 second"]


async def test_the_store_keeps_one_turn_per_turn_id_and_call(engine: MemoryEngine) -> None:
    s = who(engine)
    for sid in ("call-a", "call-b"):
        await engine.start_session(s, Caller("u"), session_id=sid)
    assert await engine.flush(30)
    turns = [Turn(event_id=f"evt_{sid}_{i}", session_id=sid, turn_id="same", user_text=sid,
                  assistant_text="ok", created_at=float(i), agent_id="a")
             for sid in ("call-a", "call-b") for i in (1, 2)]
    await engine.store.write(WriteBatch(turns=[TurnWrite(scope=s, turn=t) for t in turns]))
    assert [t.event_id for t in await engine.store.session_turns(s, "call-a")] == [
        "evt_call-a_1"]
    assert [t.event_id for t in await engine.store.session_turns(s, "call-b")] == [
        "evt_call-b_1"]
