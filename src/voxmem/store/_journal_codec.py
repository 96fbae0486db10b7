"""Journal records: the store's write records as JSON objects, encoded and decoded here.

Every durable write is one journal line: :func:`encode_record` turns a write record
(:class:`SessionStart`, :class:`TurnWrite`, :class:`FactWrite`, ...) into that line's
object and :func:`decode_record` turns it back, so the record shapes are written once and the
applier never parses JSON by hand.

Format 1 is every record voxmem has written so far::

    {"v": 1, "type": "turn", "scope": {"t", "p", "a", "u", "s"}, "turn": {...}}

A record without ``"v"`` is format 1 (journals written before the field existed). A
record of a newer format than this code reads is refused with :class:`MalformedRecord`
(the applier sets it aside rather than guess), so a downgrade never misapplies data.
When the format changes, bump :data:`JOURNAL_FORMAT` and teach :func:`decode_record` the old
one: a journal on disk must replay after an upgrade (``tests/test_journal_codec.py``
replays a format-1 journal file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..models import Scope, Turn
from ._base import (
    ExtractionDone,
    FactWrite,
    ItemDelete,
    ProfileWrite,
    SessionEnd,
    SessionReport,
    SessionStart,
    TurnWrite,
    WriteBatch,
)

__all__ = [
    "JOURNAL_FORMAT",
    "JournalWrite",
    "MalformedRecord",
    "add_to_batch",
    "decode_record",
    "encode_record",
    "scope_from_record",
    "scope_to_record",
    "turn_from_record",
    "turn_to_record",
]

#: The format :func:`encode_record` writes.
JOURNAL_FORMAT = 1

#: A write record that travels through the journal.
JournalWrite = (SessionStart | TurnWrite | FactWrite | ProfileWrite | SessionEnd
                | ItemDelete | ExtractionDone | SessionReport)


class MalformedRecord(ValueError):
    """A journal record this code cannot decode (damaged, or of a newer format)."""


def scope_to_record(scope: Scope) -> dict[str, str]:
    return {"t": scope.tenant_id, "p": scope.project_id, "a": scope.agent_id,
            "u": scope.user_id, "s": scope.space}


def scope_from_record(data: dict[str, str]) -> Scope:
    return Scope(tenant_id=data["t"], project_id=data["p"], agent_id=data["a"],
                 user_id=data["u"], space=data["s"])


def turn_to_record(turn: Turn) -> dict[str, Any]:
    return {"eventId": turn.event_id, "sessionId": turn.session_id, "turnId": turn.turn_id,
            "userText": turn.user_text, "assistantText": turn.assistant_text,
            "createdAt": turn.created_at, "agentId": turn.agent_id,
            "interrupted": turn.interrupted, "toolCalls": turn.tool_calls,
            "metadata": turn.metadata}


def turn_from_record(data: dict[str, Any]) -> Turn:
    return Turn(event_id=data["eventId"], session_id=data["sessionId"], turn_id=data["turnId"],
                user_text=data["userText"], assistant_text=data["assistantText"],
                created_at=data["createdAt"], agent_id=data.get("agentId", ""),
                interrupted=bool(data.get("interrupted")),
                tool_calls=list(data.get("toolCalls") or []),
                metadata=dict(data.get("metadata") or {}))


# -- encode -----------------------------------------------------------------------------------
def encode_record(write: JournalWrite) -> dict[str, Any]:
    """The journal object of ``write`` (vectors are not journaled: they are recomputed)."""
    head: dict[str, Any] = {"v": JOURNAL_FORMAT, "type": _TYPE_OF[type(write)],
                            "scope": scope_to_record(write.scope)}
    match write:
        case SessionStart():
            body: dict[str, Any] = {
                "sessionId": write.session_id, "at": write.started_at,
                "caller": {"name": write.caller_name, "metadata": write.caller_metadata},
                "metadata": write.metadata}
        case TurnWrite():
            body = {"turn": turn_to_record(write.turn)}
        case FactWrite():
            body = {"fact": {
                "id": write.id, "text": write.text, "kind": write.kind,
                "slotKey": write.slot_key, "confidence": write.confidence,
                "sourceSessionId": write.source_session_id,
                "sourceTurnIds": list(write.source_turn_ids), "validFrom": write.valid_from,
                "supersedes": list(write.supersedes),
                # Only when set: journals written before it existed read the same.
                **({"validTo": write.valid_to} if write.valid_to is not None else {})}}
        case ProfileWrite():
            body = {"field": write.field, "value": write.value, "at": write.at}
        case SessionEnd():
            body = {"sessionId": write.session_id, "at": write.ended_at,
                    "reason": write.reason}
        case ItemDelete():
            body = {"itemId": write.item_id, "at": write.at}
        case ExtractionDone():
            body = {"sessionId": write.session_id, "at": write.at, "error": write.error}
        case SessionReport():
            body = {"sessionId": write.session_id, "report": write.report}
    return {**head, **body}


# -- decode -----------------------------------------------------------------------------------
def _session_start(scope: Scope, r: dict[str, Any]) -> SessionStart:
    caller = r.get("caller") or {}
    return SessionStart(scope=scope, session_id=r["sessionId"], started_at=r["at"],
                        caller_name=caller.get("name"),
                        caller_metadata=caller.get("metadata") or {},
                        metadata=r.get("metadata") or {})


def _fact(scope: Scope, r: dict[str, Any]) -> FactWrite:
    f = r["fact"]
    return FactWrite(scope=scope, id=f["id"], text=f["text"], kind=f["kind"],
                     slot_key=f.get("slotKey"), confidence=f["confidence"],
                     source_session_id=f.get("sourceSessionId"),
                     source_turn_ids=tuple(f.get("sourceTurnIds") or ()),
                     valid_from=f["validFrom"], supersedes=tuple(f.get("supersedes") or ()),
                     valid_to=f.get("validTo"))


_DECODERS: dict[str, Callable[[Scope, dict[str, Any]], JournalWrite]] = {
    "session_start": _session_start,
    "turn": lambda scope, r: TurnWrite(scope=scope, turn=turn_from_record(r["turn"])),
    "fact": _fact,
    "profile": lambda scope, r: ProfileWrite(scope=scope, field=r["field"], value=r["value"],
                                             at=r["at"]),
    "session_end": lambda scope, r: SessionEnd(scope=scope, session_id=r["sessionId"],
                                               ended_at=r["at"], reason=r["reason"]),
    "delete": lambda scope, r: ItemDelete(scope=scope, item_id=r["itemId"], at=r["at"]),
    "extraction": lambda scope, r: ExtractionDone(scope=scope, session_id=r["sessionId"],
                                                  at=r["at"], error=r.get("error")),
    "report": lambda scope, r: SessionReport(scope=scope, session_id=r["sessionId"],
                                             report=r["report"]),
}
_TYPE_OF: dict[type, str] = {
    SessionStart: "session_start", TurnWrite: "turn", FactWrite: "fact",
    ProfileWrite: "profile", SessionEnd: "session_end", ItemDelete: "delete",
    ExtractionDone: "extraction", SessionReport: "report",
}


def decode_record(record: dict[str, Any]) -> JournalWrite:
    """The write record of a journal object; :class:`MalformedRecord` if it has none."""
    version = record.get("v", 1)
    if not isinstance(version, int) or version > JOURNAL_FORMAT:
        raise MalformedRecord(f"journal record format {version!r} is newer than this "
                              f"voxmem reads ({JOURNAL_FORMAT}); upgrade voxmem to replay it")
    decoder = _DECODERS.get(str(record.get("type")))
    if decoder is None:
        raise MalformedRecord(f"unknown journal record type {record.get('type')!r}")
    try:
        return decoder(scope_from_record(record["scope"]), record)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedRecord(f"malformed {record.get('type')} record: {exc!r}") from exc


def add_to_batch(batch: WriteBatch, write: JournalWrite) -> None:
    """Put ``write`` in its place in ``batch`` (which orders the kinds when applied)."""
    match write:
        case SessionStart():
            batch.sessions_started.append(write)
        case TurnWrite():
            batch.turns.append(write)
        case FactWrite():
            batch.facts.append(write)
        case ProfileWrite():
            batch.profile.append(write)
        case SessionEnd():
            batch.sessions_ended.append(write)
        case ItemDelete():
            batch.deletes.append(write)
        case ExtractionDone():
            batch.extractions.append(write)
        case SessionReport():
            batch.reports.append(write)
