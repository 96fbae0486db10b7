"""The journal codec: one encoding of the store's write records, versioned.

``data/journal_v1/`` is a journal segment written by voxmem before the codec existed
(format 1: two calls with turns, tool calls, a profile update, a report, learned facts,
a superseded fact, a deleted memory). It must keep replaying into every backend, and the
codec must write exactly that format.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.models import Caller
from voxmem.store import (
    JOURNAL_FORMAT,
    FactWrite,
    MalformedRecord,
    SessionStart,
    TurnWrite,
    WriteBatch,
    add_to_batch,
    decode_record,
    encode_record,
)

JOURNAL_V1 = Path(__file__).parent / "data" / "journal_v1"
USER = "+15105550100"


def v1_records() -> list[dict[str, Any]]:
    return [json.loads(line)
            for path in sorted(JOURNAL_V1.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_codec_writes_format_1_exactly() -> None:
    records = v1_records()
    assert {r["type"] for r in records} == {
        "session_start", "turn", "profile", "report", "session_end", "fact", "extraction",
        "delete"}, "the sample journal covers every record type"
    for record in records:
        stored = {k: v for k, v in record.items() if k != "seq"}
        assert encode_record(decode_record(record)) == {"v": JOURNAL_FORMAT, **stored}


def test_decoded_records_are_the_store_write_records() -> None:
    records = v1_records()
    start = decode_record(records[0])
    assert isinstance(start, SessionStart)
    assert start.caller_name == "Dana Whitfield" and start.caller_metadata == {"plan": "gold"}
    turn = decode_record(records[2])
    assert isinstance(turn, TurnWrite) and turn.turn.interrupted
    assert turn.turn.tool_calls == [{"name": "schedule", "arguments": {"at": "09:00"}}]
    batch = WriteBatch()
    for record in records:
        add_to_batch(batch, decode_record(record))
    assert (len(batch.sessions_started), len(batch.turns), len(batch.facts),
            len(batch.sessions_ended), len(batch.deletes)) == (2, 3, 4, 2, 1)
    vegan = next(f for f in batch.facts if f.text == "Is vegan")
    assert isinstance(vegan, FactWrite) and vegan.supersedes  # replaced "Is vegetarian"


@pytest.mark.parametrize("record, complaint", [
    ({"v": JOURNAL_FORMAT + 1, "type": "turn"}, "newer than this voxmem reads"),
    ({"type": "teleport", "scope": {}}, "unknown journal record type"),
    ({"type": "delete", "scope": {"t": "t", "p": "p", "a": "a", "u": "u", "s": "*"}},
     "malformed delete record"),
])
def test_records_it_cannot_read_are_refused(record: dict[str, Any], complaint: str) -> None:
    with pytest.raises(MalformedRecord, match=complaint):
        decode_record(record)


async def test_a_format_1_journal_replays_into_the_store(settings: Settings) -> None:
    # Retention off: the sample's calls are dated, and this is about replay, not expiry.
    settings = Settings(data_dir=str(settings.data_path), embedder="hashing",
                        store_url=settings.store_url, memory_retention_days=0)
    journal = settings.data_path / "journal"
    journal.mkdir(parents=True, mode=0o700)
    for segment in JOURNAL_V1.glob("*.jsonl"):
        shutil.copy(segment, journal / segment.name)
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        assert await engine.flush(60)
        store = engine.store
        assert await store.applied_seq() == len(v1_records())
        scope = engine.scope(project_id="p1", agent_id="a1", user_id=USER)
        caller = await store.get_caller(scope)
        assert caller is not None and caller.name == "Dana Whitfield"
        assert caller.metadata == {"plan": "gold"}
        assert caller.profile == {"preferred_name": "Dana"}
        call = await store.session_record("default", "p1", "call-1")
        assert call is not None
        assert call.end_reason == "hangup" and call.report == {"outcome": "resolved"}
        assert call.extracted_at is not None and call.metadata == {"room": "r1"}
        turns = await store.session_turns(scope, "call-1")
        assert [t.turn_id for t in turns] == ["t1", "t2"]
        assert turns[1].interrupted and turns[1].metadata == {"lang": "en"}
        current = {f.text for f in await store.list_facts(scope)}
        assert current == {"Is vegan", "Agent promised to call tomorrow at 9"}
        history = {f.text: f for f in await store.list_facts(scope, include_history=True)}
        assert history["Is vegetarian"].valid_to is not None  # superseded, kept
        assert history["Lives in Oakland"].deleted_at is not None  # deleted
        result = await engine.search_memory(scope, "is the caller vegan?",
                                            timeout_ms=5000)
        assert "vegan" in result.context_text.lower()
    finally:
        await engine.close()


async def test_what_the_engine_journals_is_what_the_codec_writes(engine: MemoryEngine) -> None:
    """Every line the engine appends decodes, and encodes back to the same line."""
    scope = engine.scope(project_id="p1", agent_id="a1", user_id="caller-1")
    caller = Caller("caller-1", name="Ann", metadata={"tier": "gold"})
    await engine.start_session(scope, caller, metadata={"room": "r"})
    await engine.save_response(scope, caller, user_text="I'm vegetarian, I live in Oslo",
                               assistant_text="Noted.", tool_calls=[{"name": "note"}])
    await engine.update_profile(scope, "preferred_name", "Ann")
    await engine.end_session(scope, report={"ok": True}, wait=True)
    assert await engine.flush(60)
    facts = await engine.store.list_facts(scope)
    assert facts, "learning wrote facts"
    await engine.lifecycle.delete_memory(scope, facts[0].id)
    imported = engine.scope(project_id="p1", agent_id="a1", user_id="caller-2")
    await engine.import_history(imported, Caller("caller-2", name="Bo"), [
        {"sessionId": "old-call", "startedAt": 1_700_000_000, "metadata": {"src": "crm"},
         "turns": [{"userText": "I moved to Bergen", "assistantText": "Noted."}]}])
    assert await engine.flush(60)
    lines = [json.loads(line) for path in sorted((engine.settings.data_path / "journal")
                                                 .glob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines()]
    assert {r["type"] for r in lines} >= {"session_start", "turn", "profile", "report",
                                          "session_end", "fact", "extraction", "delete"}
    assert sum(r["type"] == "session_start" and bool(r["metadata"].get("imported"))
               for r in lines) == 1, "the import's records are among them"
    for record in lines:
        # Written by the codec: the format field is on every line, not filled in by the reader.
        assert record["v"] == JOURNAL_FORMAT
        stored = {k: v for k, v in record.items() if k != "seq"}
        assert encode_record(decode_record(record)) == stored
