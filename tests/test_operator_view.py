"""The operator's view of a runtime: what its figures say must match what the store
holds (a quarantine count that never comes down hides the records still set aside)."""

from __future__ import annotations

from tests.test_fault_injection import _turn_record
from voxmem.engine import MemoryEngine


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
