"""The operator's view of a runtime: what its figures say must match what the store
holds (a quarantine count that never comes down hides the records still set aside)."""

from __future__ import annotations

import logging

import pytest

from tests.test_fault_injection import _turn_record
from voxmem.engine import MemoryEngine
from voxmem.models import Caller


async def test_forgetting_a_caller_takes_their_quarantined_records_off_the_count(
        engine: MemoryEngine) -> None:
    gone = engine.scope(project_id="p", agent_id="a", user_id="gone")
    stays = engine.scope(project_id="p", agent_id="a", user_id="stays")
    for who in (gone, stays):
        broken = _turn_record(engine, who, f"words of {who.user_id}")
        del broken["turn"]["sessionId"]  # type: ignore[attr-defined]
        await engine.journal_append(broken)
    assert await engine.flush(30)
    assert engine.stats()["quarantined"] == 2
    await engine.lifecycle.forget_user(gone)
    assert len(await engine.store.list_quarantined()) == 1
    # What /metrics (voxmem_quarantined_records) and `voxmem status` report.
    assert engine.stats()["quarantined"] == 1


async def test_info_logs_of_a_whole_call_hold_none_of_the_callers_words(
        engine: MemoryEngine, caplog: pytest.LogCaptureFixture) -> None:
    """runtime.log runs at INFO: a call saved, recalled, learned from, merged and erased
    writes lines an operator can read, none with what the caller said or their number
    (a merge logged both callers' ids, here phone numbers)."""
    phone, other = "+14155550187", "+14155550188"
    words = ("Hi, I'm Zephyrine Quallsworth, call me on 415 555 0187 after six, my "
             "account is 99817 and I'm allergic to penicillin")
    secrets = ("Zephyrine", "Quallsworth", "0187", "0188", "99817", "penicillin",
               "after six")
    scope = engine.scope(project_id="p", agent_id="a", user_id=phone)
    moved = engine.scope(project_id="p", agent_id="a", user_id=other)
    with caplog.at_level(logging.INFO, logger="voxmem"):
        await engine.save_response(scope, Caller(phone, name="Zephyrine"), user_text=words,
                                   assistant_text="Noted, Zephyrine: after six on 0187.",
                                   turn_id="t1")
        await engine.end_session(scope, wait=True)
        assert await engine.flush(30, learning=True)
        found = await engine.search_memory(scope, "when to call Zephyrine back",
                                           timeout_ms=5000)
        assert "after six" in found.context_text
        await engine.save_response(moved, Caller(other), user_text="same person, "
                                   "Zephyrine Quallsworth", assistant_text="ok", turn_id="t2")
        await engine.merge_users(moved, scope)
        await engine.forget_user(scope)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert lines, "the call logged nothing at INFO (the check would prove nothing)"
    for line in lines:
        assert not any(s.lower() in line.lower() for s in secrets), line


async def test_the_quarantine_count_is_true_past_a_thousand(engine: MemoryEngine) -> None:
    """`voxmem status` and voxmem_quarantined_records read 1,000 when more were set aside
    (the count was the length of a list capped at 1,000)."""
    from voxmem.store import QuarantinedRecord

    who = engine.scope(project_id="p", agent_id="a", user_id="many")
    base = engine.stats()["journalSeq"] + 1
    for i in range(1_003):
        await engine.store.quarantine(QuarantinedRecord(
            seq=base + i, record='{"type": "turn"}', error="refused", at=1.0e9, scope=who))
    await engine.writes.recount_quarantined()  # as at every start and after an erasure
    assert engine.stats()["quarantined"] == 1_003
    assert await engine.store.count_quarantined() == 1_003
