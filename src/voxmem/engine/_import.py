"""Backfilling past calls: idempotent by turn id, durable with one disk sync.

A bulk import used to sync the journal once per record, which was most of its time. The
whole import now goes to the journal as one write and one sync: nothing is acknowledged
before it is on disk, the same promise at a fraction of the cost.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from ..extraction.redaction import Redactor
from ..models import Caller, Scope, Turn
from ..store import ExtractionDone, SessionEnd, SessionStart, TurnWrite, encode_record
from ._caller_memory import CallerCache
from ._idempotency import TurnClaims
from ._ids import new_id
from ._write_path import WritePath

__all__ = ["import_history"]


async def import_history(writes: WritePath, callers: CallerCache, redactor: Redactor,
                         scope: Scope, caller: Caller, sessions: Sequence[dict[str, Any]],
                         *, learn: bool, moved: Callable[[Scope], str | None]) -> dict[str, int]:
    """See :meth:`MemoryEngine.import_history`. ``moved``: the caller ``scope``'s caller
    was merged into, if it was merged away (``Calls._moved``)."""
    erasures = callers.erasures
    seen = erasures.count(scope)
    mem = callers.get(scope)
    # A turn id is the idempotency key: re-importing a call stores nothing new. Turns
    # without one get a stable id from the call's id and their position.
    sids = [session.get("sessionId") or new_id("ses") for session in sessions]
    turn_ids = [[t.get("turnId") or (f"{sid}#{i}" if session.get("sessionId")
                                      else new_id("turn"))
                 for i, t in enumerate(session["turns"])]
                for sid, session in zip(sids, sessions, strict=True)]
    # Keyed by (call, turn id): calls that number their turns alike keep every turn.
    known: dict[tuple[str, str], str] = {}
    for sid, ids in zip(sids, turn_ids, strict=True):
        for tid, event_id in (await writes.stored_turn_ids(scope, sid, ids)).items():
            known[(sid, tid)] = event_id
        for tid in ids:
            claimed = writes.turn_claims.lookup(TurnClaims.key(scope, sid, tid))
            if isinstance(claimed, str):
                known.setdefault((sid, tid), claimed)
    records: list[dict[str, Any]] = []
    new_turns: list[Turn] = []
    for sid, session, ids in zip(sids, sessions, turn_ids, strict=True):
        started = float(session["startedAt"])
        records.append(encode_record(SessionStart(
            scope=scope, session_id=sid, started_at=started, caller_name=caller.name,
            caller_metadata=redactor.value(caller.metadata),
            metadata=redactor.value({**(session.get("metadata") or {}), "imported": True}))))
        for t, tid in zip(session["turns"], ids, strict=True):
            if (sid, tid) in known:
                continue
            clean = redactor.turn((scope.tenant_id, scope.project_id, sid),
                                         user_text=t.get("userText", ""),
                                         assistant_text=t.get("assistantText", ""),
                                         metadata=t.get("metadata"))
            turn = Turn(event_id=new_id("evt"), session_id=sid, turn_id=tid,
                        user_text=clean.user_text, assistant_text=clean.assistant_text,
                        created_at=float(t.get("createdAt", started)),
                        agent_id=scope.agent_id, metadata=clean.metadata)
            known[(sid, tid)] = turn.event_id
            records.append(encode_record(TurnWrite(scope=scope, turn=turn)))
            new_turns.append(turn)
            # Redaction is milliseconds of CPU per turn on the event loop: a call of 500
            # long turns held it for seconds, and every live caller's search waited past
            # its deadline. Let them in between turns.
            await asyncio.sleep(0)
        redactor.forget((scope.tenant_id, scope.project_id, sid))
        ended = float(session.get("endedAt") or started)
        records.append(encode_record(SessionEnd(scope=scope, session_id=sid, ended_at=ended,
                                                reason="imported")))
        if not learn:
            records.append(encode_record(ExtractionDone(scope=scope, session_id=sid,
                                                        at=ended)))
    # Checked as a save checks them after its text work, since the import let other
    # callers in while it redacted: an erasure of the caller, or a merge of them into
    # another, while it did is not undone by filing what it read before under the old
    # caller. It waits for the erasure, or follows the merge, and imports again. No
    # await from here to the journal append (an erasure or merge starting later waits
    # for this write).
    if erasures.count(scope) != seen or seen % 2:
        async with erasures.lock(scope):
            pass
        return await import_history(writes, callers, redactor, scope, caller, sessions,
                                    learn=learn, moved=moved)
    if (now := moved(scope)) is not None:
        return await import_history(writes, callers, redactor,
                                    dataclasses.replace(scope, user_id=now), caller,
                                    sessions, learn=learn, moved=moved)
    mem = callers.get(scope)  # the entry searched now (evicted and loaded meanwhile?)
    # One write and one disk sync for the whole import: the same promise (nothing
    # is acknowledged before it is on disk) at a fraction of the cost.
    await writes.append_many(records)
    first_row = mem.index.rows
    for turn in new_turns:
        mem.add_turn(turn)
        writes.turn_claims.remember(scope, turn.session_id, turn.turn_id, turn.event_id)
    # Thousands of turns at once: their ranking-feature tokens are read now, off the
    # event loop, not one candidate at a time on the next searches.
    callers.prime_added(mem, first_row)
    turns_written = len(new_turns)
    return {"sessions": len(sessions), "turns": turns_written}
