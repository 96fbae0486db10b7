"""Outside-in probes: learning from an ended call runs in the background, and the caller
may be erased or merged meanwhile. An erased caller stays erased — no fact comes back, in
recall, in the store, or after a restart; a merged-away caller's facts go to the caller
they were merged into.

Found from outside: ``end_session`` starts learning in the background; ``forget_user``
right after it erased the caller, then the learner (which had read the call before the
erasure) wrote its facts, and the erased caller's dog, ticket and diet were recalled again.
And a guest merged into an account while their call was being learned from had the facts
filed under the guest id, which nothing reads after the merge: the account never had them.
The extractor here is a real implementation of the extractor protocol that holds its
answer until the test has erased the caller, so the order is fixed by events, not time.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._erasures import Erasures
from voxmem.extraction import ExtractedFact, Transcript
from voxmem.models import Caller, Scope

SAID = "my dog Quokka needs grooming and I'm vegetarian"


class HeldExtractor:
    """Answers with one fact per turn once ``release`` is set; ``reading`` tells the test
    the call's transcript has been read."""

    name = "held"

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def extract(self, transcript: Transcript) -> list[ExtractedFact]:
        self.reading.set()
        await self.release.wait()
        return [ExtractedFact(text="Has a dog named Quokka", kind="relationship",
                              slot_key=None, confidence=0.9,
                              source_turn_ids=tuple(t.turn_id for t in transcript.turns))]


async def test_facts_learned_from_a_call_erased_meanwhile_are_not_kept(
        settings: Settings) -> None:
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        held = HeldExtractor()
        engine.learner.extractor = held
        scope = engine.scope(project_id="p1", agent_id="a1", user_id="dana")
        await engine.start_session(scope, Caller("dana"))
        await engine.save_response(scope, Caller("dana"), user_text=SAID,
                                   assistant_text="Noted.")
        await engine.end_session(scope)  # learning starts in the background
        await held.reading.wait()
        await engine.forget_user(scope)
        held.release.set()
        assert await engine.flush(60, learning=True)
        assert await engine.store.list_facts(scope, include_history=True) == []
        journal = Path(settings.data_path) / "journal"
        assert [p.name for p in journal.rglob("*") if p.is_file() and b"dana" in p.read_bytes()
                ] == []  # not even a record that learning from the call finished
        result = await engine.search_memory(scope, "what is my dog called?")
        assert "Quokka" not in result.context_text
        assert (await engine.export_user(scope))["items"] == []
    finally:
        await engine.close()
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        assert await engine.store.list_facts(scope, include_history=True) == []
    finally:
        await engine.close()


async def test_facts_learned_from_a_call_merged_meanwhile_go_to_the_target(
        engine: MemoryEngine) -> None:
    held = HeldExtractor()
    engine.learner.extractor = held
    guest = engine.scope(project_id="p1", agent_id="a1", user_id="guest-7")
    account = engine.scope(project_id="p1", agent_id="a1", user_id="acct-7")
    await engine.start_session(guest, Caller("guest-7"))
    await engine.save_response(guest, Caller("guest-7"), user_text=SAID,
                               assistant_text="Noted.")
    await engine.end_session(guest)
    await held.reading.wait()
    await engine.merge_users(guest, account)
    held.release.set()
    assert await engine.flush(60, learning=True)
    assert [f.text for f in await engine.store.list_facts(account)] == [
        "Has a dog named Quokka"]
    assert await engine.store.list_facts(guest, include_history=True) == []
    result = await engine.search_memory(account, "what is my dog called?")
    assert "Has a dog named Quokka" in result.context_text


async def test_a_caller_erased_later_learns_again(engine: MemoryEngine) -> None:
    held = HeldExtractor()
    held.release.set()
    engine.learner.extractor = held
    scope = engine.scope(project_id="p1", agent_id="a1", user_id="eli")
    await engine.forget_user(scope)  # nothing yet: the erasure is over before the call
    await engine.start_session(scope, Caller("eli"))
    await engine.save_response(scope, Caller("eli"), user_text=SAID, assistant_text="Noted.")
    info = await engine.end_session(scope, learn=False)
    assert info is not None
    assert [f["text"] for f in await engine.learner.learn(scope, info.id)] == [
        "Has a dog named Quokka"]


async def test_a_write_read_before_or_during_an_erasure_is_refused() -> None:
    erasures = Erasures()
    scope = Scope(tenant_id="t", project_id="p", agent_id="a", user_id="u")
    other = Scope(tenant_id="t", project_id="p", agent_id="a", user_id="v")
    before = erasures.count(scope)
    async with erasures.erasing(scope):
        during = erasures.count(scope)
        assert erasures.unchanged(other, erasures.count(other))
    assert not erasures.unchanged(scope, before)
    assert not erasures.unchanged(scope, during)
    assert erasures.unchanged(scope, erasures.count(scope))
    assert erasures.unchanged(scope, None)


async def test_a_callers_erasure_lock_is_not_kept_once_nobody_holds_it() -> None:
    # One lock per caller ever learned from would grow without bound on a busy host.
    erasures = Erasures()
    scope = Scope(tenant_id="t", project_id="p", agent_id="a", user_id="kept-lock")
    async with erasures.lock(scope):
        assert erasures.lock(scope) is erasures.lock(scope)  # shared while held
        async with erasures.erasing(Scope(tenant_id="t", project_id="p", agent_id="a",
                                          user_id="other")):
            pass
    gc.collect()
    assert len(erasures._locks) == 0
    assert erasures.count(scope) == 0 and not erasures.unchanged(
        Scope(tenant_id="t", project_id="p", agent_id="a", user_id="other"), 0)
