"""Learning from calls on every backend: extraction at call end, updates not duplicates,
sensitive data, retention, deletion, erasure, merges and agentic slots."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from voxmem import BadRequest, NotFound, Settings
from voxmem.engine import MemoryEngine
from voxmem.models import Caller, Fact, Scope

DAY = 86_400.0
CARD = "4111 1111 1111 1111"


def who(engine: MemoryEngine, user: str) -> Scope:
    return engine.scope(project_id="p1", agent_id="a1", user_id=user)


async def call(engine: MemoryEngine, scope: Scope, *turns: tuple[str, str]) -> None:
    await engine.start_session(scope, Caller(scope.user_id))
    for user_text, assistant_text in turns:
        await engine.save_response(scope, Caller(scope.user_id), user_text=user_text,
                                   assistant_text=assistant_text)
    info = await engine.end_session(scope, learn=False)
    assert info is not None
    await engine.learner.learn(scope, info.id)


def files_containing(root: Path, needles: tuple[bytes, ...]) -> list[str]:
    """Names of files under ``root`` holding any of ``needles`` (a raw byte scan)."""
    return [f"{path.name}: {needle!r}" for path in root.rglob("*") if path.is_file()
            for needle in needles if needle in path.read_bytes()]


async def current(engine: MemoryEngine, scope: Scope) -> list[Fact]:
    await engine.flush(30)
    return await engine.store.list_facts(scope)


async def test_call_end_learns_facts_that_recall_returns(engine: MemoryEngine) -> None:
    s = who(engine, "dana")
    await engine.start_session(s, Caller("dana"))
    await engine.save_response(s, Caller("dana"),
                               user_text="hi, my name is Dana Whitfield and I'm vegetarian",
                               assistant_text="Thanks Dana, noted.")
    info = await engine.end_session(s)  # learning runs in the background
    assert info is not None
    # end_session has started the call's learning; wait for it, not for a fixed time.
    assert await engine.learner.wait_idle(120)
    facts = await current(engine, s)
    assert {f.slot_key for f in facts} >= {"diet"}
    assert all(f.source_session_id == info.id for f in facts)
    result = await engine.search_memory(s, "what does she eat, vegetarian?")
    assert any(h["kind"] == "fact" and h.get("slotKey") == "diet" for h in result.permanent)
    pre = await engine.preload(s)
    assert "vegetarian" in pre.context_text.lower()


async def test_same_slot_supersedes_and_keeps_history(engine: MemoryEngine) -> None:
    s = who(engine, "erin")
    await call(engine, s, ("I'm vegetarian", "Noted"))
    await call(engine, s, ("I'm vegan now actually", "Noted, vegan"))
    facts = [f for f in await current(engine, s) if f.slot_key == "diet"]
    assert len(facts) == 1 and "vegan" in facts[0].text.lower()
    history = [f for f in await engine.store.list_facts(s, include_history=True)
               if f.slot_key == "diet"]
    assert len(history) == 2
    old = next(f for f in history if f.id != facts[0].id)
    assert old.valid_to is not None
    result = await engine.search_memory(s, "diet vegetarian vegan")
    diet = [h for h in result.permanent if h.get("slotKey") == "diet"]
    assert [h["id"] for h in diet] == [facts[0].id]


async def test_restated_fact_writes_nothing_new(engine: MemoryEngine) -> None:
    s = who(engine, "finn")
    await call(engine, s, ("I'm vegetarian", "ok"))
    await call(engine, s, ("as I said I'm vegetarian", "ok"))
    history = await engine.store.list_facts(s, include_history=True)
    assert len([f for f in history if f.slot_key == "diet"]) == 1


async def test_two_calls_ending_at_once_write_no_duplicates(engine: MemoryEngine) -> None:
    s = who(engine, "gus")
    sessions = []
    for sid in ("call-a", "call-b"):
        await engine.start_session(s, Caller("gus"), session_id=sid)
        await engine.save_response(s, Caller("gus"), user_text="I prefer email please",
                                   assistant_text="Email it is")
        info = await engine.end_session(s, learn=False)
        assert info is not None
        sessions.append(info.id)
    await engine.flush(30)
    await asyncio.gather(*(engine.learner.learn(s, sid) for sid in sessions))
    facts = await current(engine, s)
    texts = [f.text for f in facts]
    assert len(texts) == len(set(texts)), texts
    slots = [f.slot_key for f in facts if f.slot_key]
    assert len(slots) == len(set(slots)), slots


async def test_sensitive_values_never_reach_disk(engine: MemoryEngine, tmp_path: Path) -> None:
    s = who(engine, "hana")
    await call(engine, s, (f"my card is {CARD} and my pin is 739184", "Thanks"),
               ("my social security number is 123-45-6789", "ok"))
    result = await engine.search_memory(s, "card number")
    assert CARD not in result.context_text
    await engine.flush(30)
    assert CARD.replace(" ", "") not in str(await engine.store.list_facts(s))
    assert files_containing(Path(engine.settings.data_path),
                            (CARD.encode(), b"739184", b"123-45-6789")) == []


async def test_failed_extraction_is_retried_and_keeps_the_transcript(
        engine: MemoryEngine) -> None:
    s = who(engine, "ivan")
    real = engine.learner.extractor
    assert real is not None

    class Down:
        """Stands in for an LLM endpoint that is down (an external service)."""

        name = "down"

        async def extract(self, transcript: object) -> list[object]:
            from voxmem import VoxmemError

            raise VoxmemError("endpoint unreachable", code="extraction.failed", retryable=True)

    engine.learner.extractor = Down()  # type: ignore[assignment]
    await call(engine, s, ("I prefer morning calls before 9am", "Mornings it is"))
    await engine.flush(30)
    assert await engine.store.pending_extractions(10, 5)
    assert await current(engine, s) == []
    engine.learner.extractor = real
    swept = await engine.maintenance.sweep()
    assert swept["learned"] == 1
    assert any(f.slot_key == "preferred_time" for f in await current(engine, s))
    await engine.flush(30)
    assert await engine.store.pending_extractions(10, 5) == []


async def test_idle_call_is_ended_and_learned(settings: Settings) -> None:
    now = [time.time()]
    eng = MemoryEngine(settings.replace(session_idle_timeout_s=60),
                       clock=lambda: now[0])
    await eng.start()
    try:
        s = who(eng, "jade")
        await eng.save_response(s, Caller("jade"), user_text="call me Jade, I'm vegan",
                                assistant_text="Hi Jade")
        await eng.flush(30)
        eng.callers.drop(s)  # the worker that held the call died
        now[0] += 120
        swept = await eng.maintenance.sweep()
        assert swept["ended"] == 1
        await eng.flush(30)
        swept = await eng.maintenance.sweep()
        assert any(f.slot_key == "diet" for f in await current(eng, s))
    finally:
        await eng.close()


async def test_retention_hides_then_cleanup_deletes(settings: Settings) -> None:
    now = [time.time()]
    eng = MemoryEngine(settings, clock=lambda: now[0])
    await eng.start()
    try:
        s = who(eng, "kai")
        await eng.import_history(s, Caller("kai"), [
            {"startedAt": now[0] - 100 * DAY, "turns": [
                {"userText": "my boat is called Seabird", "assistantText": "ok",
                 "createdAt": now[0] - 100 * DAY}]},
            {"startedAt": now[0] - 5 * DAY, "turns": [
                {"userText": "my boat needs a new sail", "assistantText": "ok",
                 "createdAt": now[0] - 5 * DAY}]}])
        result = await eng.search_memory(s, "boat Seabird sail")
        assert [h["text"].split("\n")[0] for h in result.permanent] == [
            "my boat needs a new sail"]
        await eng.flush(30)
        assert await eng.store.count_items(s) == 2
        assert await eng.maintenance.apply_retention() == 1
        assert await eng.store.count_items(s) == 1
        await eng.set_policy("default", "p1", "", memory_enabled=True, retention_days=0)
        eng.callers.drop(s)
        result = await eng.search_memory(s, "sail")
        assert result.permanent
    finally:
        await eng.close()


async def test_memory_disabled_records_and_recalls_nothing(engine: MemoryEngine) -> None:
    s = who(engine, "lia")
    await engine.set_policy("default", "p1", "a1", memory_enabled=False, retention_days=90)
    assert await engine.save_response(s, Caller("lia"), user_text="I love kites",
                                      assistant_text="Nice") is None
    result = await engine.search_memory(s, "kites")
    assert result.context_text == "" and result.profile is None
    policies = await engine.get_policies("default", "p1")
    assert policies["agents"]["a1"]["memoryEnabled"] is False


async def test_delete_memory_is_immediate_for_recall(engine: MemoryEngine) -> None:
    s = who(engine, "max")
    await call(engine, s, ("I'm vegetarian", "ok"))
    (fact,) = [f for f in await current(engine, s) if f.slot_key == "diet"]
    await engine.lifecycle.delete_memory(s, fact.id)
    result = await engine.search_memory(s, "vegetarian")
    assert all(h["id"] != fact.id for h in result.permanent)
    # The delete reaches the store through the journal's applier, asynchronously.
    await engine.flush(30)
    history = await engine.store.list_facts(s, include_history=True)
    assert any(f.id == fact.id and f.deleted_at for f in history)
    await engine.maintenance.apply_retention()
    history = await engine.store.list_facts(s, include_history=True)
    assert all(f.id != fact.id for f in history)
    with pytest.raises(NotFound):
        await engine.lifecycle.delete_memory(s, "fact_does_not_exist")
    with pytest.raises(NotFound):
        await engine.lifecycle.delete_memory(who(engine, "intruder"), fact.id)


async def test_forget_user_leaves_nothing_anywhere(engine: MemoryEngine) -> None:
    s = who(engine, "nico")
    marker = "zanzibarquokka"
    await engine.update_profile(s, "nickname", marker + "nick")
    await call(engine, s, (f"my dog is named {marker}", "cute"), ("I'm vegetarian", "ok"))
    await engine.end_session(s, report={"summary": marker + "report"})
    keep = who(engine, "olive")
    await call(engine, keep, ("I like the word pineapple", "ok"))
    await engine.flush(30)
    kept = await engine.store.count_items(keep)
    counts = await engine.lifecycle.forget_user(s)
    assert counts["items"] >= 2
    assert await engine.store.count_items(s) == 0
    assert await engine.store.get_caller(s) is None
    assert await engine.store.recent_sessions(s, 10) == []
    result = await engine.search_memory(s, marker)
    assert result.context_text == ""
    assert files_containing(Path(engine.settings.data_path), (marker.encode(),)) == []
    assert await engine.store.count_items(keep) == kept


async def test_merge_users_moves_everything(engine: MemoryEngine) -> None:
    guest, account = who(engine, "guest-1"), who(engine, "acct-9")
    await call(engine, guest, ("my parcel tracking code is ZX81", "ok"))
    moved = await engine.lifecycle.merge_users(guest, account)
    assert moved["itemsMoved"] >= 1
    assert await engine.store.count_items(guest) == 0
    result = await engine.search_memory(account, "parcel ZX81")
    assert "ZX81" in result.context_text
    with pytest.raises(BadRequest):
        await engine.lifecycle.merge_users(account, account)


async def test_remember_recall_forget_slots(engine: MemoryEngine) -> None:
    s = who(engine, "pia")
    out = await engine.lifecycle.remember(s, "preferred_store", "the Elm Street branch")
    assert out["content"] == "the Elm Street branch"
    await engine.lifecycle.remember(s, "preferred_store", "the harbour branch")
    assert (await engine.lifecycle.recall(s, "preferred_store"))["content"] == \
        "the harbour branch"
    await engine.flush(30)
    history = await engine.store.list_facts(s, include_history=True)
    assert len([f for f in history if f.slot_key == "preferred_store"]) == 2
    assert (await engine.lifecycle.forget(s, "preferred_store"))["forgotten"]
    assert (await engine.lifecycle.recall(s, "preferred_store"))["content"] is None
    with pytest.raises(BadRequest):
        await engine.lifecycle.remember(s, "card", f"my card is {CARD}")
    with pytest.raises(BadRequest):
        await engine.lifecycle.remember(s, "Bad Type!", "x")


async def test_memories_written_this_call(engine: MemoryEngine) -> None:
    s = who(engine, "quin")
    await engine.start_session(s, Caller("quin"), session_id="call-1")
    await engine.save_response(s, Caller("quin"), user_text="I'm vegetarian",
                               assistant_text="ok")
    await engine.lifecycle.remember(s, "seat", "aisle")
    await engine.end_session(s, learn=False)
    await engine.learner.learn(s, "call-1")
    await engine.flush(30)
    written = await engine.store.list_facts(s, session_id="call-1")
    assert {f.slot_key for f in written} >= {"diet", "seat"}
    assert await engine.store.list_facts(s, session_id="call-2") == []


async def test_import_learns_only_when_asked(engine: MemoryEngine) -> None:
    s = who(engine, "rory")
    past = [{"startedAt": time.time() - DAY, "turns": [
        {"userText": "I'm vegetarian", "assistantText": "ok", "createdAt": time.time() - DAY}]}]
    await engine.import_history(s, Caller("rory"), past)
    await engine.flush(30)
    assert await engine.store.pending_extractions(10, 5) == []
    await engine.import_history(s, Caller("rory"), past, learn=True)
    await engine.flush(30)
    assert len(await engine.store.pending_extractions(10, 5)) == 1
    await engine.maintenance.sweep()
    assert any(f.slot_key == "diet" for f in await current(engine, s))
