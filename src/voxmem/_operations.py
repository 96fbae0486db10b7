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

from ._exceptions import BadRequest, NotFound
from .engine import MemoryEngine
from .engine._lifecycle import slot_key
from .engine._validate import (
    check_caller,
    check_documents,
    check_index_name,
    check_lanes,
    check_mode,
    check_optional_dict,
    check_optional_id,
    check_text,
    check_timeout_ms,
    check_top_k,
)
from .models import Caller, Scope

__all__ = ["OPERATIONS", "Operation", "dispatch"]

MAX_IMPORT_SESSIONS = 1000
MAX_IMPORT_TURNS = 10_000
MAX_FIELD_CHARS = 64

Handler = Callable[[MemoryEngine, dict[str, Any]], Awaitable[Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    name: str
    method: str
    path: str
    handler: Handler
    summary: str


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


def _timestamp(value: Any, field: str) -> float:
    """Epoch seconds from a number or an ISO-8601 string."""
    if isinstance(value, bool):
        raise BadRequest(f"{field} must be a timestamp", field=field)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"{field} is not an ISO-8601 timestamp", field=field) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()
    raise BadRequest(f"{field} must be a timestamp", field=field)


async def _search(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    query = check_text(p.get("query"), "query", engine.settings.max_turn_text_bytes)
    result = await engine.search_memory(
        scope, query, lanes=check_lanes(p.get("lanes")), top_k=check_top_k(p.get("top_k")),
        timeout_ms=check_timeout_ms(p.get("timeout_ms", engine.settings.recall_timeout_ms)),
        mode=check_mode(p.get("mode", "fast")), intent=str(p.get("intent") or
                                                           "answer_current_user"))
    return result.to_dict()


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
    interrupted = p.get("interrupted", False)
    if not isinstance(interrupted, bool):
        raise BadRequest("interrupted must be a boolean", field="interrupted")
    event_id = await engine.save_response(
        scope, caller, user_text=user_text, assistant_text=assistant_text,
        turn_id=check_optional_id(p.get("turn_id"), "turn_id"), tool_calls=tool_calls,
        metadata=check_optional_dict(p.get("metadata"), "metadata"), interrupted=interrupted)
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
        report = check_optional_dict(report, "report")
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
    field = p.get("field")
    if not isinstance(field, str) or not field.strip() or len(field) > MAX_FIELD_CHARS:
        raise BadRequest("field must be a non-empty string", field="field")
    value = p.get("value")
    if value is not None and not isinstance(value, str | int | float | bool):
        raise BadRequest("value must be a string, number, boolean or null", field="value")
    if isinstance(value, str):
        check_text(value, "value", 4096)
    return {"profile": await engine.update_profile(scope, field.strip(), value)}


async def _import_history(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, caller = _caller_scope(engine, p)
    sessions = p.get("sessions")
    if not isinstance(sessions, list) or len(sessions) > MAX_IMPORT_SESSIONS:
        raise BadRequest(f"sessions must be a list of at most {MAX_IMPORT_SESSIONS} calls",
                         field="sessions")
    limit = engine.settings.max_turn_text_bytes
    clean: list[dict[str, Any]] = []
    total = 0
    for i, session in enumerate(sessions):
        where = f"sessions[{i}]"
        if not isinstance(session, dict):
            raise BadRequest(f"{where} must be an object", field=where)
        started = _timestamp(session.get("started_at"), f"{where}.started_at")
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
                "createdAt": _timestamp(turn.get("created_at", started), f"{tw}.created_at"),
                "turnId": check_optional_id(turn.get("turn_id"), f"{tw}.turn_id"),
                "metadata": check_optional_dict(turn.get("metadata"), f"{tw}.metadata"),
            })
        ended = session.get("ended_at")
        clean.append({
            "sessionId": check_optional_id(session.get("session_id"), f"{where}.session_id"),
            "startedAt": started,
            "endedAt": _timestamp(ended, f"{where}.ended_at") if ended is not None else None,
            "metadata": check_optional_dict(session.get("metadata"), f"{where}.metadata"),
            "turns": out_turns,
        })
    learn = p.get("learn", False)
    if not isinstance(learn, bool):
        raise BadRequest("learn must be a boolean", field="learn")
    return await engine.import_history(scope, caller, clean, learn=learn)


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
    return await engine.store.export_caller(scope)


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
    enabled = p.get("memory_enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequest("memory_enabled must be a boolean", field="memory_enabled")
    days = p.get("memory_retention_days", engine.settings.memory_retention_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 36_500:
        raise BadRequest("memory_retention_days must be an integer within 0..36500 "
                         "(0: no cap)", field="memory_retention_days")
    return await engine.lifecycle.set_policy(tenant, project, agent if level == "agent" else "",
                                             memory_enabled=enabled, retention_days=days)


async def _flush(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    timeout = p.get("timeout_s", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise BadRequest("timeout_s must be a positive number", field="timeout_s")
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
    )
}


async def dispatch(engine: MemoryEngine, name: str, payload: dict[str, Any]) -> Any:
    """Validate and run operation ``name``; returns its JSON-ready result."""
    op = OPERATIONS.get(name)
    if op is None:
        raise NotFound(f"unknown operation {name!r}")
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object", field="body")
    return await op.handler(engine, payload)
