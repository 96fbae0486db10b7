"""``import_user``: a caller put back from their export; checked here, written by
``engine._restore``.

Declared in ``_api`` like every operation; bound here with ``@handles``. Every value is
checked as a live write of the same kind would be (text size, ids, times, metadata),
before anything is written: a refused import stores nothing.
"""

from __future__ import annotations

from typing import Any

from ._exceptions import BadRequest
from ._handlers import caller_scope, handles
from .engine import MemoryEngine
from .engine._restore import READ_FORMATS
from .engine._validate import (
    check_json_size,
    check_optional_dict,
    check_optional_id,
    check_profile_field,
    check_text,
    check_timestamp,
)
from .entities._identifiers import IDENTIFIER_KINDS
from .models import Scope

#: Most calls and items one import takes (``voxmem memories import`` sends more in parts).
MAX_RESTORE_SESSIONS = 1_000
MAX_RESTORE_ITEMS = 10_000
#: Most source turns one imported fact keeps (a fact is learned from a few turns).
MAX_SOURCES = 64
#: Most identifiers, merges and graph rows (each of entities, edges, mentions) one
#: import takes: far above what calls link to one caller.
MAX_RESTORE_ENTITY_ROWS = 50_000


def _time(value: Any, field: str, now: float, *, required: bool = False) -> float | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{field} must be epoch seconds", field=field)
    return check_timestamp(float(value), field, now)


def _id(value: Any, field: str) -> str:
    found = check_optional_id(value, field)
    if found is None:
        raise BadRequest(f"{field} is required", field=field)
    return found


def _sessions(engine: MemoryEngine, p: dict[str, Any], now: float) -> list[dict[str, Any]]:
    sessions = p.get("sessions") or []
    if len(sessions) > MAX_RESTORE_SESSIONS:
        raise BadRequest(f"at most {MAX_RESTORE_SESSIONS} calls per import",
                         field="sessions", status_code=413)
    limit = engine.settings.max_turn_text_bytes
    out = []
    for i, s in enumerate(sessions):
        where = f"sessions[{i}]"
        out.append({
            "sessionId": _id(s.get("session_id"), f"{where}.session_id"),
            "agentId": check_optional_id(s.get("agent_id"), f"{where}.agent_id"),
            "startedAt": _time(s.get("started_at"), f"{where}.started_at", now,
                               required=True),
            "endedAt": _time(s.get("ended_at"), f"{where}.ended_at", now),
            "endReason": (check_text(s["end_reason"], f"{where}.end_reason", 256)
                          if s.get("end_reason") is not None else None),
            "metadata": check_optional_dict(s.get("metadata"), f"{where}.metadata"),
            "report": (check_optional_dict(s["report"], f"{where}.report", limit)
                       if s.get("report") is not None else None),
        })
    return out


def _items(engine: MemoryEngine, p: dict[str, Any], calls: set[str],
           now: float) -> list[dict[str, Any]]:
    items = p.get("items") or []
    if len(items) > MAX_RESTORE_ITEMS:
        raise BadRequest(f"at most {MAX_RESTORE_ITEMS} items per import", field="items",
                         status_code=413)
    limit = engine.settings.max_turn_text_bytes
    out = []
    for i, item in enumerate(items):
        where = f"items[{i}]"
        sid = check_optional_id(item.get("session_id"), f"{where}.session_id")
        if item.get("kind") == "turn" and sid not in calls:
            raise BadRequest(f"{where} is a turn of a call the import does not list "
                             f"({sid!r})", field=f"{where}.session_id")
        sources = item.get("source_turn_ids") or []
        if len(sources) > MAX_SOURCES:
            raise BadRequest(f"{where}.source_turn_ids lists more than {MAX_SOURCES} turns",
                             field=f"{where}.source_turn_ids")
        texts = {name: check_text(item.get(name) or "", f"{where}.{name}", limit)
                 for name in ("text", "user_text", "assistant_text")}
        out.append({
            "id": _id(item.get("id"), f"{where}.id"), "kind": item.get("kind"),
            "sessionId": sid, "text": texts["text"], "userText": texts["user_text"],
            "assistantText": texts["assistant_text"],
            "turnId": check_optional_id(item.get("turn_id"), f"{where}.turn_id"),
            "factKind": check_optional_id(item.get("fact_kind"), f"{where}.fact_kind"),
            "slotKey": check_optional_id(item.get("slot_key"), f"{where}.slot_key"),
            "confidence": item.get("confidence"),
            "createdAt": _time(item.get("created_at"), f"{where}.created_at", now,
                               required=True),
            "validTo": _time(item.get("valid_to"), f"{where}.valid_to", now),
            "deletedAt": _time(item.get("deleted_at"), f"{where}.deleted_at", now),
            "sourceTurnIds": [_id(t, f"{where}.source_turn_ids[{j}]") for j, t in
                              enumerate(sources)],
        })
    return out


def _rows(p: dict[str, Any], field: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = p.get(field) or []
    if len(rows) > MAX_RESTORE_ENTITY_ROWS:
        raise BadRequest(f"at most {MAX_RESTORE_ENTITY_ROWS} {field} per import",
                         field=field, status_code=413)
    return rows


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise BadRequest(f"{field} must be a number", field=field)
    return float(value)


def _entities(p: dict[str, Any], now: float) -> dict[str, Any]:
    """The export's identifiers, merges and graph, checked (format 2 on)."""
    idents = []
    for i, r in enumerate(_rows(p, "identifiers")):
        where = f"identifiers[{i}]"
        if r.get("kind") not in IDENTIFIER_KINDS:
            raise BadRequest(f"{where}.kind must be one of {', '.join(IDENTIFIER_KINDS)}",
                             field=f"{where}.kind")
        idents.append({
            "kind": r["kind"], "value": _id(r.get("value"), f"{where}.value"),
            "raw": check_text(r.get("raw") or "", f"{where}.raw", 1024),
            "source": _id(r.get("source"), f"{where}.source"),
            "sessionId": check_optional_id(r.get("session_id"), f"{where}.session_id"),
            "turnId": check_optional_id(r.get("turn_id"), f"{where}.turn_id"),
            "strength": min(max(_number(r.get("strength"), f"{where}.strength"), 0.0), 1.0),
            "createdAt": _time(r.get("created_at"), f"{where}.created_at", now,
                               required=True)})
    merges = []
    for i, m in enumerate(_rows(p, "merges")):
        where = f"merges[{i}]"
        merges.append({
            "mergeId": _id(m.get("merge_id"), f"{where}.merge_id"),
            "fromUserId": _id(m.get("from_user_id"), f"{where}.from_user_id"),
            "toUserId": _id(m.get("to_user_id"), f"{where}.to_user_id"),
            "status": m.get("status"),
            "at": _time(m.get("at"), f"{where}.at", now, required=True),
            "undoneAt": _time(m.get("undone_at"), f"{where}.undone_at", now),
            "itemsMoved": int(m.get("items_moved") or 0),
            "evidence": check_optional_dict(m.get("evidence"), f"{where}.evidence"),
            # What an undo moves back names this caller's own items, calls and links.
            "undo": (check_optional_dict(m["undo"], f"{where}.undo", 64 * 1024 * 1024)
                     if m.get("undo") is not None else None)})
    graph = p.get("graph") or {}
    for part in ("entities", "edges", "mentions"):
        _rows(graph, part)
    check_json_size(graph, "graph", 64 * 1024 * 1024)
    return {"identifiers": idents, "merges": merges, "graph": graph}


async def _check_retention(engine: MemoryEngine, scope: Scope, items: list[dict[str, Any]],
                           now: float) -> None:
    """Refuse memories older than this project's retention window, as ``import_history``
    does: an import keeps their times, so the next cleanup would delete what the import
    acknowledged (a caller moved to a store that keeps fewer days lost their history
    silently)."""
    cutoff = (await engine.policy(scope)).cutoff(now)
    if cutoff is None:
        return
    old = sum(1 for i in items if i["deletedAt"] is None and i["createdAt"] < cutoff)
    if old:
        days = (await engine.policy(scope)).retention_days
        raise BadRequest(
            f"{old} imported memories are older than the memory_retention_days window "
            f"({days} days): cleanup would delete them. Raise memory_retention_days for the "
            "project (set_memory_policy, 0 = no cap) and import again",
            field="memory_retention_days",
            details={"outsideRetention": old, "retentionDays": days})


@handles("import_user")
async def _import_user(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    if p.get("format") not in READ_FORMATS:
        raise BadRequest(f"this export is of format {p.get('format')!r}; this voxmem "
                         f"imports formats {', '.join(map(str, READ_FORMATS))} (export it "
                         "again with the release that will import it)", field="format")
    scope, _caller = caller_scope(engine, p)
    now = engine.clock()
    sessions = _sessions(engine, p, now)
    for s in sessions:
        await engine.check_session_owner(scope, s["sessionId"])
    items = _items(engine, p, {s["sessionId"] for s in sessions}, now)
    await _check_retention(engine, scope, items, now)
    profile = check_optional_dict(p.get("profile"), "profile")
    for field in profile:
        check_profile_field(field)
    name = p.get("name")
    trust = p.get("trust_identifiers", False)
    if not isinstance(trust, bool):
        raise BadRequest("trust_identifiers must be true or false", field="trust_identifiers")
    data = {"name": check_text(name, "name", 256) if name is not None else None,
            "trustIdentifiers": trust,
            "metadata": check_optional_dict(p.get("metadata"), "metadata"),
            "profile": profile, "sessions": sessions, "items": items,
            # Format 1 carried no undo for a merge: its identifiers, merges and graph
            # were never imported, and are not now.
            **(_entities(p, now) if p["format"] >= 2 else {})}
    return await engine.import_user(scope, data)
