"""The operation table: every client call, as name → (HTTP route, handler).

The embedded client and the runtime's REST API both dispatch through this table, so a
call validated, executed and serialised in-process is byte-for-byte the call the runtime
serves. Request bodies use the Python parameter names (``user_text``); responses are
the JSON shapes of the result records (``contextText``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from ._config import MAX_RETENTION_DAYS, mask_secrets
from ._deadline import budget_left_ms, expired_search, request_arrived
from ._exceptions import BadRequest, NotFound, VoxmemError
from .engine import MemoryEngine
from .engine import _console as console
from .engine._caller_search import find_callers
from .engine._lifecycle import slot_key
from .engine._validate import (
    check_caller,
    check_documents,
    check_index_name,
    check_json_size,
    check_lanes,
    check_mode,
    check_optional_dict,
    check_optional_id,
    check_payload,
    check_profile_field,
    check_text,
    check_timeout_ms,
    check_timestamp,
    check_top_k,
)
from .entities._schemas import CALLER_SCHEMAS
from .models import Caller, Scope
from .store import _entities as entity_ops

__all__ = ["OPERATIONS", "Operation", "dispatch"]

MAX_IMPORT_SESSIONS = 1000
MAX_IMPORT_TURNS = 10_000
MAX_FIELD_CHARS = 64
MAX_CALL_IDENTIFIERS = 32
MAX_IDENTIFIER_CHARS = 256
#: Longest a flush may wait (a day): a bulk backfill takes minutes, never days.
MAX_FLUSH_TIMEOUT_S = 86_400.0
#: What import_history does with turns older than the retention window.
OUTSIDE_RETENTION = ("refuse", "skip")

Handler = Callable[[MemoryEngine, dict[str, Any]], Awaitable[Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    """One client call: its REST route and the handler that validates and runs it."""

    name: str
    method: str
    path: str
    handler: Handler
    summary: str
    #: JSON Schemas of the request body and the result, for the OpenAPI document
    request_schema: dict[str, Any] | None = None
    response_schema: dict[str, Any] | None = None


def _ident(engine: MemoryEngine, p: dict[str, Any]) -> tuple[str, str, str]:
    tenant = p.get("tenant_id") or "default"
    project = p.get("project_id")
    agent = p.get("agent_id") or ""
    for name, value in (("tenant_id", tenant), ("project_id", project)):
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{name} must be a non-empty string", field=name)
    if not isinstance(agent, str):
        raise BadRequest("agent_id must be a string", field="agent_id")
    return tenant, str(project), agent


def _caller_scope(engine: MemoryEngine, p: dict[str, Any]) -> tuple[Scope, Caller]:
    tenant, project, agent = _ident(engine, p)
    caller = check_caller(p.get("user"), p.get("user_id"))
    return engine.scope(project_id=project, agent_id=agent, user_id=caller.id,
                        tenant_id=tenant), caller


def _timestamp(value: Any, field: str, now: float) -> float:
    """Epoch seconds from a number or an ISO-8601 string, within a sane range."""
    if isinstance(value, bool):
        raise BadRequest(f"{field} must be a timestamp", field=field)
    if isinstance(value, int | float):
        return check_timestamp(float(value), field, now)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"{field} is not an ISO-8601 timestamp", field=field) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return check_timestamp(parsed.timestamp(), field, now)
    raise BadRequest(f"{field} must be a timestamp", field=field)


async def _search(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    query = check_text(p.get("query"), "query", engine.settings.max_turn_text_bytes)
    lanes = check_lanes(p.get("lanes"))
    top_k = check_top_k(p.get("top_k"))
    timeout_ms = check_timeout_ms(p.get("timeout_ms", engine.settings.recall_timeout_ms))
    mode = check_mode(p.get("mode", "fast"))
    intent = p.get("intent") or "answer_current_user"
    if not isinstance(intent, str) or len(intent) > MAX_FIELD_CHARS:
        raise BadRequest("intent must be a short string", field="intent")
    left_ms, queued_ms = budget_left_ms(timeout_ms, p.get("deadline_at"))
    if left_ms <= 0:
        return expired_search(timeout_ms, -left_ms, mode, intent)
    result = (await engine.search_memory(scope, query, lanes=lanes, top_k=top_k,
                                         timeout_ms=left_ms, mode=mode,
                                         intent=intent)).to_dict()
    # The caller asked for timeout_ms; what the engine had left is an implementation
    # detail, the time spent queued is not.
    result["trace"] = {**result["trace"], "timeoutMs": timeout_ms,
                       "queuedMs": round(queued_ms, 3)}
    return result


async def _save(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, caller = _caller_scope(engine, p)
    limit = engine.settings.max_turn_text_bytes
    user_text = check_text(p.get("user_text"), "user_text", limit)
    assistant_text = check_text(p.get("assistant_text"), "assistant_text", limit)
    if not user_text.strip() and not assistant_text.strip():
        raise BadRequest("user_text and assistant_text are both empty", field="user_text")
    tool_calls = p.get("tool_calls")
    if tool_calls is not None and (not isinstance(tool_calls, list) or not all(
            isinstance(t, dict) for t in tool_calls)):
        raise BadRequest("tool_calls must be a list of objects", field="tool_calls")
    if tool_calls is not None:
        check_json_size(tool_calls, "tool_calls", limit)
    interrupted = p.get("interrupted", False)
    if not isinstance(interrupted, bool):
        raise BadRequest("interrupted must be a boolean", field="interrupted")
    event_id = await engine.save_response(
        scope, caller, user_text=user_text, assistant_text=assistant_text,
        turn_id=check_optional_id(p.get("turn_id"), "turn_id"), tool_calls=tool_calls,
        metadata=check_optional_dict(p.get("metadata"), "metadata", limit),
        interrupted=interrupted)
    return {"eventId": event_id}


async def _preload(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, caller = _caller_scope(engine, p)
    return (await engine.preload(scope, caller)).to_dict()


async def _start_session(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, caller = _caller_scope(engine, p)
    info = await engine.start_session(
        scope, caller, session_id=check_optional_id(p.get("session_id"), "session_id"),
        metadata=check_optional_dict(p.get("metadata"), "metadata"))
    return info.to_dict()


async def _end_session(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    reason = p.get("reason", "completed")
    if not isinstance(reason, str) or not reason or len(reason) > MAX_FIELD_CHARS:
        raise BadRequest("reason must be a short string", field="reason")
    report = p.get("report")
    if report is not None:
        report = check_optional_dict(report, "report", engine.settings.max_turn_text_bytes)
    wait = p.get("wait", False)
    if not isinstance(wait, bool):
        raise BadRequest("wait must be true or false", field="wait")
    info = await engine.end_session(scope, reason=reason, session_id=check_optional_id(
        p.get("session_id"), "session_id"), report=report, wait=wait)
    if info is None:
        raise NotFound("the caller has no open session", code="session_not_found")
    return info.to_dict()


async def _create_index(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    name = check_index_name(p.get("name"))
    s = engine.settings
    documents = check_documents(p.get("documents"), max_documents=s.index_max_documents,
                                max_bytes=s.index_max_bytes, max_text_bytes=s.index_max_bytes)
    metadata = check_optional_dict(p.get("metadata"), "metadata")
    result = await engine.create_index(tenant, project, name, documents, metadata)
    return result.to_dict()


async def _list_indexes(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    return await engine.list_indexes(tenant, project)


async def _update_profile(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    field = check_profile_field(p.get("field"))
    value = p.get("value")
    if value is not None and not isinstance(value, str | int | float | bool):
        raise BadRequest("value must be a string, number, boolean or null", field="value")
    if isinstance(value, str):
        check_text(value, "value", 4096)
    return {"profile": await engine.update_profile(scope, field, value)}


async def _import_history(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, caller = _caller_scope(engine, p)
    sessions = p.get("sessions")
    if not isinstance(sessions, list) or len(sessions) > MAX_IMPORT_SESSIONS:
        raise BadRequest(f"sessions must be a list of at most {MAX_IMPORT_SESSIONS} calls",
                         field="sessions")
    outside = p.get("outside_retention", "refuse")
    if outside not in OUTSIDE_RETENTION:
        raise BadRequest(f"outside_retention must be one of {', '.join(OUTSIDE_RETENTION)}",
                         field="outside_retention")
    limit = engine.settings.max_turn_text_bytes
    now = engine.clock()
    clean: list[dict[str, Any]] = []
    total = 0
    for i, session in enumerate(sessions):
        where = f"sessions[{i}]"
        if not isinstance(session, dict):
            raise BadRequest(f"{where} must be an object", field=where)
        started = _timestamp(session.get("started_at"), f"{where}.started_at", now)
        turns = session.get("turns")
        if not isinstance(turns, list):
            raise BadRequest(f"{where}.turns must be a list", field=f"{where}.turns")
        total += len(turns)
        if total > MAX_IMPORT_TURNS:
            raise BadRequest(f"at most {MAX_IMPORT_TURNS} turns per import call",
                             field="sessions", status_code=413)
        out_turns = []
        for j, turn in enumerate(turns):
            tw = f"{where}.turns[{j}]"
            if not isinstance(turn, dict):
                raise BadRequest(f"{tw} must be an object", field=tw)
            out_turns.append({
                "userText": check_text(turn.get("user_text", ""), f"{tw}.user_text", limit),
                "assistantText": check_text(turn.get("assistant_text", ""),
                                            f"{tw}.assistant_text", limit),
                "createdAt": _timestamp(turn.get("created_at", started), f"{tw}.created_at",
                                        now),
                "turnId": check_optional_id(turn.get("turn_id"), f"{tw}.turn_id"),
                "metadata": check_optional_dict(turn.get("metadata"), f"{tw}.metadata"),
            })
        ended = session.get("ended_at")
        session_id = check_optional_id(session.get("session_id"), f"{where}.session_id")
        if session_id is not None:
            await engine.check_session_owner(scope, session_id)
        clean.append({
            "sessionId": session_id,
            "startedAt": started,
            "endedAt": (_timestamp(ended, f"{where}.ended_at", now) if ended is not None
                        else None),
            "metadata": check_optional_dict(session.get("metadata"), f"{where}.metadata"),
            "turns": out_turns,
        })
    learn = p.get("learn", False)
    if not isinstance(learn, bool):
        raise BadRequest("learn must be a boolean", field="learn")
    clean, outside_count = await _apply_retention(engine, scope, clean, outside)
    result = await engine.import_history(scope, caller, clean, learn=learn)
    return {**result, "outsideRetention": outside_count,
            "skipped": outside_count if outside == "skip" else 0}


async def _apply_retention(engine: MemoryEngine, scope: Scope, sessions: list[dict[str, Any]],
                           outside: str) -> tuple[list[dict[str, Any]], int]:
    """Refuse (default) or drop the turns recall could never see and cleanup would delete.

    Accepting them silently would acknowledge history that every search then hides and
    the next cleanup erases.
    """
    policy = await engine.lifecycle.policy(scope)
    cutoff = policy.cutoff(engine.clock())
    if cutoff is None:
        return sessions, 0
    old = sum(1 for s in sessions for t in s["turns"] if t["createdAt"] < cutoff)
    if old == 0:
        return sessions, 0
    if outside == "refuse":
        raise BadRequest(
            f"{old} imported turns are older than the memory_retention_days window "
            f"({policy.retention_days} days): recall would never see them and cleanup would "
            "delete them. Raise memory_retention_days (set_memory_policy, 0 = no cap) or "
            "pass outside_retention='skip' to import only the recent turns",
            field="memory_retention_days",
            details={"outsideRetention": old, "retentionDays": policy.retention_days})
    kept: list[dict[str, Any]] = []
    for session in sessions:
        turns = [t for t in session["turns"] if t["createdAt"] >= cutoff]
        if turns:
            kept.append({**session, "turns": turns})
    return kept, old


async def _list_memories(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    history = p.get("include_deleted", False)
    if not isinstance(history, bool):
        raise BadRequest("include_deleted must be a boolean", field="include_deleted")
    await engine.flush(timeout=30)  # read your own writes
    return await engine.store.list_facts(scope, include_history=history)


async def _session_memories(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    session_id = check_optional_id(p.get("session_id"), "session_id")
    if session_id is None:
        raise BadRequest("session_id is required", field="session_id")
    await engine.check_session_owner(scope, session_id)
    await engine.flush(timeout=30)
    return await engine.store.list_facts(scope, include_history=True, session_id=session_id)


async def _delete_memory(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    memory_id = check_optional_id(p.get("memory_id"), "memory_id")
    if memory_id is None:
        raise BadRequest("memory_id is required", field="memory_id")
    return await engine.lifecycle.delete_memory(scope, memory_id)


async def _remember(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    content = check_text(p.get("content"), "content", 2048, allow_empty=False)
    return await engine.lifecycle.remember(scope, slot_key(p.get("memory_type")), content)


async def _recall(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    return await engine.lifecycle.recall(scope, slot_key(p.get("memory_type")))


async def _forget(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    return await engine.lifecycle.forget(scope, slot_key(p.get("memory_type")))


async def _forget_user(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    return await engine.lifecycle.forget_user(scope)


async def _export_user(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    await engine.flush(timeout=30)
    data = await engine.store.export_caller(scope)
    # A data request covers what identifies the caller and their entity graph too.
    known = await engine.directory.show(scope)
    return {**data, **{key: known[key] for key in ("identifiers", "merges", "graph")}}


async def _merge_users(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, agent = _ident(engine, p)
    ids = []
    for name in ("from_id", "to_id"):
        value = check_optional_id(p.get(name), name)
        if value is None:
            raise BadRequest(f"{name} is required", field=name)
        ids.append(value)
    source, target = (engine.scope(project_id=project, agent_id=agent, user_id=i,
                                   tenant_id=tenant) for i in ids)
    return await engine.lifecycle.merge_users(source, target)


async def _get_policy(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    return await engine.lifecycle.policies(tenant, project)


async def _set_policy(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, agent = _ident(engine, p)
    level = p.get("level", "project")
    if level not in ("project", "agent"):
        raise BadRequest("level must be project or agent", field="level")
    # A field not sent keeps what is in force at that level (the level's row, else the
    # project's, else the settings): "not given" never overwrites a value.
    current = await engine.lifecycle.policies(tenant, project)
    row = (current["agents"].get(agent) if level == "agent" else None) or current["project"]
    enabled = p.get("memory_enabled", row["memoryEnabled"])
    if not isinstance(enabled, bool):
        raise BadRequest("memory_enabled must be a boolean", field="memory_enabled")
    days = p.get("memory_retention_days", row["retentionDays"])
    if isinstance(days, bool) or not isinstance(days, int) or not (
            0 <= days <= MAX_RETENTION_DAYS):
        raise BadRequest(f"memory_retention_days must be an integer within "
                         f"0..{MAX_RETENTION_DAYS} (0: no cap)", field="memory_retention_days")
    return await engine.lifecycle.set_policy(tenant, project, agent if level == "agent" else "",
                                             memory_enabled=enabled, retention_days=days)


async def _flush(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    timeout = p.get("timeout_s", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            0 < timeout <= MAX_FLUSH_TIMEOUT_S):
        raise BadRequest(f"timeout_s must be a number of seconds within (0, "
                         f"{MAX_FLUSH_TIMEOUT_S:.0f}]", field="timeout_s")
    learning = p.get("learning", False)
    if not isinstance(learning, bool):
        raise BadRequest("learning must be true or false", field="learning")
    return {"flushed": await engine.flush(timeout=float(timeout), learning=learning),
            **engine.stats()}


async def _list_quarantined(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    _ident(engine, p)
    entries = await engine.store.list_quarantined(1000)
    return {"records": [e.to_dict() for e in entries]}


async def _retry_quarantined(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    _ident(engine, p)
    seq = p.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq < 2**63:
        raise BadRequest("seq must be the positive journal sequence number of a "
                         "quarantined record", field="seq")
    new_seq = await engine.retry_quarantined(seq)
    if new_seq is None:
        raise NotFound(f"no quarantined record has seq {seq}")
    return {"seq": seq, "journaledAs": new_seq}


# -- callers and entities (SPEC §7; logic in voxmem.entities) ---------------------------


def _identifier_list(value: Any) -> list[tuple[str, str, str]]:
    if not isinstance(value, list) or len(value) > MAX_CALL_IDENTIFIERS:
        raise BadRequest(f"identifiers must be a list of at most {MAX_CALL_IDENTIFIERS} "
                         "{kind, value, source} objects", field="identifiers")
    out = []
    for i, item in enumerate(value):
        where = f"identifiers[{i}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where} must be an object", field=where)
        kind, raw, source = item.get("kind"), item.get("value"), item.get("source", "api")
        for name, v in (("kind", kind), ("value", raw), ("source", source)):
            if not isinstance(v, str) or not v.strip() or len(v) > MAX_IDENTIFIER_CHARS:
                raise BadRequest(f"{where}.{name} must be a short non-empty string",
                                 field=f"{where}.{name}")
        out.append((str(kind), str(raw), str(source)))
    return out


def _short(p: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = p.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_IDENTIFIER_CHARS:
        raise BadRequest(f"{name} must be a non-empty string of at most "
                         f"{MAX_IDENTIFIER_CHARS} characters", field=name)
    return value.strip()


def _space_scope(engine: MemoryEngine, p: dict[str, Any], user_id: str = "-") -> Scope:
    tenant, project, agent = _ident(engine, p)
    return engine.scope(project_id=project, agent_id=agent, user_id=user_id, tenant_id=tenant)


async def _resolve_caller(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope = _space_scope(engine, p)
    return await engine.directory.resolve(
        scope, _identifier_list(p.get("identifiers")),
        user_id=_short(p, "user_id", required=False), name=_short(p, "name", required=False),
        default_user_id=_short(p, "default_user_id", required=False),
        session_id=check_optional_id(p.get("session_id"), "session_id"))


async def _link_identifier(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    kind, value = _short(p, "kind"), _short(p, "value")
    assert kind is not None and value is not None
    return await engine.directory.link(scope, kind, value,
                                       source=_short(p, "source", required=False) or "api")


async def _find_callers(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    text = _short(p, "identifier")
    assert text is not None
    return await engine.directory.find(_space_scope(engine, p), text)


async def _show_caller(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    return await engine.directory.show(scope)


async def _merge_callers(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    ids = [_short(p, "from_id"), _short(p, "to_id")]
    source, target = (_space_scope(engine, p, str(i)) for i in ids)
    status = p.get("status", "merged")
    if status not in ("merged", "proposed"):
        raise BadRequest("status must be merged or proposed", field="status")
    reason = _short(p, "reason", required=False) or "merged by hand"
    row = await engine.directory.merge(source, target, evidence={"reason": reason},
                                       status=status)
    return row.to_dict()


async def _unmerge_callers(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    merge_id = _short(p, "merge_id")
    assert merge_id is not None
    return await engine.directory.unmerge(_space_scope(engine, p), merge_id)


async def _list_merges(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    user_id = _short(p, "user_id", required=False)
    return await engine.directory.merges(_space_scope(engine, p), user_id)


def _caller_operation(name: str, path: str, handler: Handler, summary: str) -> Operation:
    request, response = CALLER_SCHEMAS[name]
    return Operation(name, "POST", path, handler, summary, request, response)


CALLER_OPERATIONS = (
    _caller_operation("resolve_caller", "/v1/callers/resolve", _resolve_caller,
                      "Resolve a starting call's identifiers to one canonical caller"),
    _caller_operation("link_identifier", "/v1/callers/identifiers", _link_identifier,
                      "Link an identifier (phone, e-mail, account, ...) to a caller"),
    _caller_operation("find_callers", "/v1/callers/find", _find_callers,
                      "Callers linked to any identifier, written or as spoken"),
    _caller_operation("show_caller", "/v1/callers/show", _show_caller,
                      "A caller's identifiers, merges and entity graph"),
    _caller_operation("merge_callers", "/v1/callers/merges", _merge_callers,
                      "Merge one caller into another, with evidence; undoable"),
    _caller_operation("unmerge_callers", "/v1/callers/unmerge", _unmerge_callers,
                      "Undo a merge: both callers get back exactly what they had"),
    _caller_operation("list_merges", "/v1/callers/merges/list", _list_merges,
                      "Recorded merges of the project, or of one caller"),
)

# -- end of callers and entities ------------------------------------------------------


OPERATIONS: dict[str, Operation] = {
    op.name: op for op in (
        Operation("search_memory", "POST", "/v1/memory/search", _search,
                  "Recall for one turn, under a deadline"),
        Operation("save_response", "POST", "/v1/memory/turns", _save,
                  "Save one (user, assistant) turn durably"),
        Operation("preload", "POST", "/v1/memory/preload", _preload,
                  "Session-start memory block"),
        Operation("update_profile", "POST", "/v1/memory/profile", _update_profile,
                  "Set one profile field of a caller"),
        Operation("import_history", "POST", "/v1/memory/import", _import_history,
                  "Backfill past calls with their real timestamps"),
        Operation("start_session", "POST", "/v1/sessions/start", _start_session,
                  "Open a call for a caller"),
        Operation("end_session", "POST", "/v1/sessions/end", _end_session,
                  "Close the caller's current call"),
        Operation("create_index", "POST", "/v1/indexes", _create_index,
                  "Build or append an org index (<= 100 documents, <= 1 MB per call)"),
        Operation("list_indexes", "POST", "/v1/indexes/list", _list_indexes,
                  "List the project's org indexes"),
        Operation("list_memories", "POST", "/v1/memories/list", _list_memories,
                  "The caller's facts (include_deleted adds superseded and deleted ones)"),
        Operation("session_memories", "POST", "/v1/memories/session", _session_memories,
                  "Memories written during one call"),
        Operation("delete_memory", "POST", "/v1/memories/delete", _delete_memory,
                  "Delete one memory: gone from recall now, from disk after cleanup"),
        Operation("remember", "POST", "/v1/memories/remember", _remember,
                  "Upsert one value per (caller, memory_type)"),
        Operation("recall", "POST", "/v1/memories/recall", _recall,
                  "The current value of one memory_type"),
        Operation("forget", "POST", "/v1/memories/forget", _forget,
                  "Delete the value of one memory_type"),
        Operation("forget_user", "POST", "/v1/callers/forget", _forget_user,
                  "Erase everything about a caller"),
        Operation("export_user", "POST", "/v1/callers/export", _export_user,
                  "Everything stored about a caller (data request)"),
        Operation("merge_users", "POST", "/v1/callers/merge", _merge_users,
                  "Move a caller's memory to another (guest to account)"),
        Operation("get_memory_policy", "POST", "/v1/policy/get", _get_policy,
                  "Memory on/off and retention for the project and its agents"),
        Operation("set_memory_policy", "POST", "/v1/policy/set", _set_policy,
                  "Set memory on/off and retention for the project or this agent"),
        Operation("flush", "POST", "/v1/admin/flush", _flush,
                  "Wait until every acknowledged write is in the store"),
        Operation("list_quarantined", "POST", "/v1/admin/quarantine/list", _list_quarantined,
                  "Journal records the store refused (bad data), set aside"),
        Operation("retry_quarantined", "POST", "/v1/admin/quarantine/retry",
                  _retry_quarantined, "Send one quarantined record to the store again"),
        *CALLER_OPERATIONS,
    )
}


async def dispatch(engine: MemoryEngine, name: str, payload: dict[str, Any], *,
                   received_at: float | None = None) -> Any:
    """Validate and run operation ``name``; returns its JSON-ready result.

    ``received_at`` (epoch seconds) is when the request reached the runtime; deadlines
    count from it, so time spent queued is part of a search's budget.
    """
    op = OPERATIONS.get(name)
    if op is None:
        raise NotFound(f"unknown operation {name!r}")
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object", field="body")
    check_payload(payload)
    try:
        with request_arrived(received_at):
            return await op.handler(engine, payload)
    except VoxmemError as exc:
        # A driver error may quote a connection string: no secret leaves, in-process
        # or over HTTP.
        exc.message = mask_secrets(exc.message, engine.settings.secret_values())
        exc.args = (exc.message,)
        raise


# -- operator views: callers, calls, knowledge, health (the dashboard's JSON twins) -------
# Kept as one block: the dashboard renders exactly these results, and its `.json` pages
# return them unchanged, so a page and the REST API can never disagree.

MAX_LIST_ROWS = 500
DEFAULT_LIST_ROWS = 100
MAX_DELETE_DOCUMENTS = 1000
HEALTH_WINDOW_S = 3600.0
HEALTH_BUCKETS = 12


def _limit(p: dict[str, Any]) -> int:
    value = p.get("limit", DEFAULT_LIST_ROWS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIST_ROWS:
        raise BadRequest(f"limit must be an integer within 1..{MAX_LIST_ROWS}", field="limit")
    return value


def _required_id(p: dict[str, Any], name: str) -> str:
    value = check_optional_id(p.get(name), name)
    if value is None:
        raise BadRequest(f"{name} is required", field=name)
    return value


async def _list_callers(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    query = p.get("query") or ""
    if not isinstance(query, str) or len(query) > MAX_FIELD_CHARS * 4:
        raise BadRequest("query must be a short string", field="query")
    await engine.flush(timeout=30)
    return {"callers": await find_callers(engine, tenant, project, query, _limit(p))}


async def _get_caller(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, caller = _caller_scope(engine, p)
    await engine.flush(timeout=30)
    found = await engine.store.get_caller(scope)
    if found is None:
        raise NotFound(f"no caller {caller.id!r} in this project", code="caller_not_found")
    facts = await engine.store.list_facts(scope, include_history=True)
    calls = await engine.store.list_sessions(scope.tenant_id, scope.project_id,
                                             space=scope.space, user_id=scope.user_id,
                                             limit=_limit(p))
    live = [f for f in facts if f["validTo"] is None and f["deletedAt"] is None]
    idents = await engine.store.run_entities(scope.tenant_id, entity_ops.caller_identifiers(
        scope), write=False)
    return {"caller": found, "memories": live,
            "history": [f for f in facts if f not in live], "calls": calls,
            "identifiers": [r.to_dict() for r in idents],
            # With evidence and merge id, so a merge can be undone from the caller's page.
            "merges": await engine.directory.merges(scope, scope.user_id)}


async def _list_calls(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    user_id = check_optional_id(p.get("user_id"), "user_id")
    await engine.flush(timeout=30)
    return {"calls": await engine.store.list_sessions(tenant, project, space=None,
                                                     user_id=user_id, limit=_limit(p))}


async def _get_call(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    session_id = _required_id(p, "session_id")
    await engine.flush(timeout=30)
    record = await engine.store.session_record(tenant, project, session_id)
    if record is None:
        raise NotFound(f"no call {session_id!r} in this project", code="session_not_found")
    scope = Scope(tenant_id=tenant, project_id=project, agent_id=record["agentId"],
                  user_id=record["userId"], space=record["space"])
    turns = await engine.store.session_turns(scope, session_id)
    traces = await engine.store.recall_traces(tenant, project, session_id=session_id,
                                              limit=MAX_LIST_ROWS)
    # A turn is saved after the recall that served it, so each turn's recalls are the
    # ones stored between the previous turn and it.
    out_turns: list[dict[str, Any]] = []
    i = 0
    for turn in turns:
        served: list[dict[str, Any]] = []
        while i < len(traces) and traces[i]["at"] <= turn.created_at:
            served.append(traces[i])
            i += 1
        out_turns.append({"eventId": turn.event_id, "turnId": turn.turn_id,
                          "userText": turn.user_text, "assistantText": turn.assistant_text,
                          "createdAt": turn.created_at, "interrupted": turn.interrupted,
                          "toolCalls": turn.tool_calls, "recall": served})
    written = await engine.store.list_facts(scope, include_history=True, session_id=session_id)
    return {"call": record, "turns": out_turns, "laterRecall": traces[i:],
            "memoriesWritten": written}


async def _list_documents(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    name = check_index_name(p.get("name"))
    indexes = {i["name"]: i for i in await engine.store.list_indexes(tenant, project)}
    if name not in indexes:
        raise NotFound(f"no index {name!r} in this project", code="index_not_found")
    return {"index": indexes[name],
            "documents": await engine.store.list_documents(tenant, project, name)}


async def _delete_documents(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    name = check_index_name(p.get("name"))
    ids = p.get("document_ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_DELETE_DOCUMENTS:
        raise BadRequest(f"document_ids must be a list of 1..{MAX_DELETE_DOCUMENTS} ids",
                         field="document_ids")
    clean = [_required_id({"document_ids[]": d}, "document_ids[]") for d in ids]
    done = await console.delete_documents(engine, tenant, project, name, clean)
    if done is None:
        raise NotFound(f"no index {name!r} in this project", code="index_not_found")
    return done


async def _delete_index(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    name = check_index_name(p.get("name"))
    done = await console.delete_index(engine, tenant, project, name)
    if done is None:
        raise NotFound(f"no index {name!r} in this project", code="index_not_found")
    return done


async def _search_index(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    name = check_index_name(p["name"]) if p.get("name") is not None else None
    query = check_text(p.get("query"), "query", engine.settings.max_turn_text_bytes,
                       allow_empty=False)
    k = p.get("top_k", engine.settings.top_k_org)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_LIST_ROWS:
        raise BadRequest(f"top_k must be an integer within 1..{MAX_LIST_ROWS}", field="top_k")
    return {"chunks": await console.search_index(engine, tenant, project, name, query, k)}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def _health(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    await engine.traces.flush()
    stats = engine.stats()
    now = engine.clock()
    since = now - HEALTH_WINDOW_S
    traces = await engine.store.recall_traces(tenant, project, since=since,
                                              limit=MAX_LIST_ROWS * 20)
    width = HEALTH_WINDOW_S / HEALTH_BUCKETS
    buckets: list[list[float]] = [[] for _ in range(HEALTH_BUCKETS)]
    for t in traces:
        buckets[min(HEALTH_BUCKETS - 1, int((t["at"] - since) // width))].append(t["totalMs"])
    pending = await engine.store.pending_extractions(MAX_LIST_ROWS,
                                                     engine.settings.extraction_max_attempts)
    callers = await find_callers(engine, tenant, project, "", DEFAULT_LIST_ROWS)
    all_ms = [t["totalMs"] for t in traces]
    return {
        "journal": {"position": stats["journalSeq"], "applied": stats["appliedSeq"],
                    "behind": stats["journalSeq"] - stats["appliedSeq"],
                    "backlog": stats["backlog"], "lastWriteError": stats["lastWriteError"],
                    "quarantined": stats.get("quarantined", 0)},
        "pendingLearning": sum(1 for scope, _sid in pending
                               if scope.project_id == project and scope.tenant_id == tenant),
        "recall": {"windowS": HEALTH_WINDOW_S, "count": len(all_ms),
                   "degraded": sum(1 for t in traces if t["degraded"]),
                   "p50Ms": _percentile(all_ms, 0.5), "p95Ms": _percentile(all_ms, 0.95),
                   "tracesDropped": engine.traces.dropped,
                   "buckets": [{"start": since + i * width, "count": len(b),
                                "p50Ms": _percentile(b, 0.5), "p95Ms": _percentile(b, 0.95)}
                               for i, b in enumerate(buckets)]},
        "memoryPerCaller": sorted(
            ({"userId": c["userId"], "name": c["name"], "memoryCount": c["memoryCount"],
              "callCount": c["callCount"], "space": c["space"]} for c in callers),
            key=lambda c: (-int(c["memoryCount"]), str(c["userId"]))),
        "engine": stats,
    }


OPERATIONS.update({op.name: op for op in (
    Operation("list_callers", "POST", "/v1/callers/list", _list_callers,
              "Find callers by any identifier, written or spoken, or by name (also by sound)"),
    Operation("get_caller", "POST", "/v1/callers/get", _get_caller,
              "One caller: profile, current and superseded memories, calls, identifiers and "
              "merges"),
    Operation("list_calls", "POST", "/v1/calls/list", _list_calls,
              "Calls of the project, or of one caller (user_id), newest first"),
    Operation("get_call", "POST", "/v1/calls/get", _get_call,
              "One call: transcript, each turn's recall trace, memories written, report"),
    Operation("list_documents", "POST", "/v1/indexes/documents", _list_documents,
              "The documents of one org index with their chunk counts"),
    Operation("delete_documents", "POST", "/v1/indexes/documents/delete", _delete_documents,
              "Remove documents (and their chunks) from an org index"),
    Operation("delete_index", "POST", "/v1/indexes/delete", _delete_index,
              "Remove an org index with all its documents"),
    Operation("search_index", "POST", "/v1/indexes/search", _search_index,
              "Search org knowledge (one index or all) as recall's org lane does"),
    Operation("runtime_health", "POST", "/v1/admin/health", _health,
              "Journal vs store, pending learning, recall latency over the last hour"),
)})
