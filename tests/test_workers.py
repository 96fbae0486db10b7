"""Background learning runs in worker processes, off the event loop's GIL, on every backend.

The extractors below subclass the real rule extractor and are defined at module level so
a worker process can unpickle them; what they return says which process ran them.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._workers import descendant_pids, process_footprint_mb
from voxmem.extraction import ExtractedFact, RuleExtractor, Transcript, TranscriptTurn
from voxmem.models import Caller, Scope
from voxmem.store import _entities as ops


class PidExtractor(RuleExtractor):
    """Learns one fact naming the process it ran in."""

    def extract_sync(self, transcript: Transcript) -> list[ExtractedFact]:
        # Extraction code that prints must not corrupt the worker's replies.
        print("extracting", transcript.session_id)  # noqa: T201
        return [ExtractedFact(text=f"Learned in process {os.getpid()}", kind="other",
                              slot_key="learned_in", confidence=0.9,
                              source_turn_ids=(transcript.turns[0].turn_id,))]


class CrashingExtractor(RuleExtractor):
    """Kills the process that runs it, as the OOM killer would, unless that is the caller's."""

    def __init__(self, parent_pid: int) -> None:
        super().__init__()
        self.parent_pid = parent_pid

    def extract_sync(self, transcript: Transcript) -> list[ExtractedFact]:
        if os.getpid() == self.parent_pid:
            raise RuntimeError("extraction ran in the engine's own process")
        os._exit(3)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings learn on a thread (conftest); these tests are of the workers."""
    return settings.replace(background_processes=1)


def who(engine: MemoryEngine, user: str) -> Scope:
    return engine.scope(project_id="p1", agent_id="a1", user_id=user)


async def ended_call(engine: MemoryEngine, scope: Scope, *texts: str) -> dict[str, Any]:
    """One call of ``texts``, ended; the outcome of learning from it."""
    await engine.start_session(scope, Caller(scope.user_id))
    for text in texts:
        await engine.save_response(scope, Caller(scope.user_id), user_text=text,
                                   assistant_text="Noted.")
    info = await engine.end_session(scope, wait=True)
    assert info is not None and info.learning is not None
    return info.learning


async def test_rule_extraction_runs_in_a_worker_process(engine: MemoryEngine) -> None:
    engine.learner.extractor = PidExtractor()
    outcome = await ended_call(engine, who(engine, "ana"), "I'm vegetarian")
    assert outcome["status"] == "learned", outcome
    worker_pid = int(outcome["facts"][0]["text"].rsplit(" ", 1)[1])
    assert worker_pid != os.getpid()
    assert worker_pid in engine.workers.pids()
    # Learning yields the CPU to the request path on a busy host.
    assert os.getpriority(os.PRIO_PROCESS, worker_pid) > os.getpriority(os.PRIO_PROCESS, 0)
    # The workers count in the footprint: they are this process's descendants.
    assert set(engine.workers.pids()) <= set(descendant_pids())
    assert process_footprint_mb() > 0


async def test_default_rule_extractor_learns_the_same_facts_in_a_worker(
        engine: MemoryEngine) -> None:
    outcome = await ended_call(engine, who(engine, "bo"),
                               "hi, my name is Bo Lindqvist and I'm vegan",
                               "please call me in the mornings, before 9am")
    assert outcome["status"] == "learned", outcome
    # The same extractor run here, in the engine's process, finds the same facts.
    turns = await engine.store.session_turns(who(engine, "bo"),
                                             outcome["facts"][0]["sourceSessionId"])
    in_process = RuleExtractor(policy=engine.sensitive_policy).extract_sync(Transcript(
        session_id="s", user_id="bo", turns=[
            TranscriptTurn(turn_id=t.turn_id, user_text=t.user_text,
                           assistant_text=t.assistant_text, created_at=t.created_at,
                           interrupted=t.interrupted) for t in turns]))
    assert in_process
    assert sorted(f["text"] for f in outcome["facts"]) == sorted(f.text for f in in_process)
    assert engine.workers.pids()


async def test_a_crashed_worker_fails_the_call_and_the_next_one_learns(
        engine: MemoryEngine) -> None:
    real = engine.learner.extractor
    cy = who(engine, "cy")
    engine.learner.extractor = CrashingExtractor(os.getpid())
    outcome = await ended_call(engine, cy, "I'm vegetarian")
    assert outcome["status"] == "failed"
    assert "worker process died" in outcome["error"]
    assert engine.workers.crashes == 1
    await engine.flush(30)
    # Recorded as failed, so the maintenance sweep retries it, in a fresh worker.
    assert await engine.store.pending_extractions(10, 5)
    engine.learner.extractor = real
    swept = await engine.maintenance.sweep()
    assert swept["learned"] == 1
    await engine.flush(30)
    assert await engine.store.pending_extractions(10, 5) == []
    assert any(f.slot_key == "diet" for f in await engine.store.list_facts(cy))


async def test_entity_graph_is_learned_in_a_worker_process(settings: Settings) -> None:
    engine = MemoryEngine(settings.replace(extractor="off"))
    await engine.start()
    try:
        dee = who(engine, "dee")
        info = await engine.start_session(dee, Caller("dee"))
        await engine.save_response(dee, Caller("dee"),
                                   user_text="my router is broken, ticket number 48213",
                                   assistant_text="Noted.")
        await engine.end_session(dee, learn=False)
        assert await engine.directory.learn_graph(dee, info.id) == 2
        # Facts are off, so only the graph can have started the worker pool.
        assert engine.workers.pids()
        graph = await engine.store.run_entities(dee.tenant_id, ops.load_graph(dee),
                                                write=False)
        assert {e.id for e in graph.entities} == {"device:router", "ticket:48213"}
    finally:
        await engine.close()
    assert engine.workers.pids() == []


async def test_zero_background_processes_learns_on_a_thread(settings: Settings) -> None:
    engine = MemoryEngine(settings.replace(background_processes=0))
    engine.learner.extractor = PidExtractor()
    await engine.start()
    try:
        outcome = await ended_call(engine, who(engine, "eve"), "I'm vegetarian")
        assert outcome["facts"][0]["text"] == f"Learned in process {os.getpid()}"
        assert engine.workers.pids() == []
    finally:
        await engine.close()
