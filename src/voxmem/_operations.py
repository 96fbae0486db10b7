"""The operation table's engine half: one handler per operation of :mod:`voxmem._api`.

The embedded client and the runtime's REST API both dispatch through :func:`dispatch`,
so a call validated, executed and serialised in-process is byte-for-byte the call the
runtime serves. The wire half (names, routes, request and response types) lives in
``_api`` so that clients can import it without the engine; a handler is bound to its
entry with ``@handles("name")``.

Handlers read the body in its snake_case spelling (``p.get("user_text")``) after
:func:`dispatch` has checked it against the operation's request type, and return the
JSON-ready shape of the operation's response type (``contextText``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import (  # noqa: F401 (register handlers)
    _operations_callers,
    _operations_console,
    _operations_restore,
)
from ._api import OPERATION_SPECS, respell_error, spellings, validate
from ._config import MAX_RETENTION_DAYS, mask_secrets
from ._deadline import (
    budget_left_ms,
    expired_search,
    request_arrived,
    shed_reason,
    shed_search,
)
from ._exceptions import BadRequest, NotFound, VoxmemError
from ._handlers import HANDLERS, MAX_FIELD_CHARS, Operation, bind_tenant, handles
from ._handlers import caller_scope as _caller_scope
from ._handlers import ident as _ident
from .engine import MemoryEngine
from .engine._lifecycle import slot_key
from .engine._validate import (
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
from .models import Scope

__all__ = ["OPERATIONS", "Operation", "dispatch", "handles"]

MAX_IMPORT_SESSIONS = 1000
MAX_IMPORT_TURNS = 10_000
#: Longest a flush may wait (a day): a bulk backfill takes minutes, never days.
MAX_FLUSH_TIMEOUT_S = 86_400.0
#: What import_history does with turns older than the retention window.
OUTSIDE_RETENTION = ("refuse", "skip")

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


@handles("search_memory")
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
    shed = shed_reason()
    if shed is not None:
        return shed_search(timeout_ms, shed, mode, intent)
    result = (await engine.search_memory(scope, query, lanes=lanes, top_k=top_k,
                                         timeout_ms=left_ms, mode=mode,
                                         intent=intent)).to_dict()
    # The caller asked for timeout_ms; what the engine had left is an implementation
    # detail, the time spent queued is not.
    result["trace"] = {**result["trace"], "timeoutMs": timeout_ms,
                       "queuedMs": round(queued_ms, 3)}
    return result


@handles("save_response")
async def _save(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, caller = _caller_scope(engine, p)
    limit = engine.settings.max_turn_text_bytes
    # Refused whole, never cut: a turn stored cut would be recalled as what was said.
    user_text = check_text(p.get("user_text"), "user_text", limit,
                           setting="max_turn_text_bytes")
    assistant_text = check_text(p.get("assistant_text"), "assistant_text", limit,
                                setting="max_turn_text_bytes")
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


@handles("preload")
async def _preload(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, caller = _caller_scope(engine, p)
    return (await engine.preload(scope, caller)).to_dict()


@handles("start_session")
async def _start_session(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, caller = _caller_scope(engine, p)
    info = await engine.start_session(
        scope, caller, session_id=check_optional_id(p.get("session_id"), "session_id"),
        metadata=check_optional_dict(p.get("metadata"), "metadata"))
    return info.to_dict()


@handles("end_session")
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


@handles("create_index")
async def _create_index(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    name = check_index_name(p.get("name"))
    s = engine.settings
    documents = check_documents(p.get("documents"), max_documents=s.index_max_documents,
                                max_bytes=s.index_max_bytes, max_text_bytes=s.index_max_bytes)
    metadata = check_optional_dict(p.get("metadata"), "metadata")
    result = await engine.create_index(tenant, project, name, documents, metadata)
    return result.to_dict()


@handles("list_indexes")
async def _list_indexes(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    return [index.to_wire() for index in await engine.list_indexes(tenant, project)]


@handles("update_profile")
async def _update_profile(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    field = check_profile_field(p.get("field"))
    value = p.get("value")
    if value is not None and not isinstance(value, str | int | float | bool):
        raise BadRequest("value must be a string, number, boolean or null", field="value")
    if isinstance(value, str):
        check_text(value, "value", 4096)
    return {"profile": await engine.update_profile(scope, field, value)}


@handles("import_history")
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
    policy = await engine.policy(scope)
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


@handles("list_memories")
async def _list_memories(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    history = p.get("include_deleted", False)
    if not isinstance(history, bool):
        raise BadRequest("include_deleted must be a boolean", field="include_deleted")
    return [f.to_wire() for f in  # reads your writes
            await engine.list_facts(scope, include_history=history)]


@handles("session_memories")
async def _session_memories(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    session_id = check_optional_id(p.get("session_id"), "session_id")
    if session_id is None:
        raise BadRequest("session_id is required", field="session_id")
    await engine.check_session_owner(scope, session_id)
    return [f.to_wire() for f in
            await engine.list_facts(scope, include_history=True, session_id=session_id)]


@handles("delete_memory")
async def _delete_memory(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    memory_id = check_optional_id(p.get("memory_id"), "memory_id")
    if memory_id is None:
        raise BadRequest("memory_id is required", field="memory_id")
    return await engine.delete_memory(scope, memory_id)


@handles("remember")
async def _remember(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    content = check_text(p.get("content"), "content", 2048, allow_empty=False)
    return await engine.remember(scope, slot_key(p.get("memory_type")), content)


@handles("recall")
async def _recall(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    return await engine.recall_slot(scope, slot_key(p.get("memory_type")))


@handles("forget")
async def _forget(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    return await engine.forget_slot(scope, slot_key(p.get("memory_type")))


@handles("forget_user")
async def _forget_user(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    return await engine.forget_user(scope)


@handles("export_user")
async def _export_user(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    return await engine.export_user(scope)


@handles("merge_users")
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
    return await engine.merge_users(source, target)


@handles("get_memory_policy")
async def _get_policy(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    return await engine.get_policies(tenant, project)


@handles("set_memory_policy")
async def _set_policy(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, agent = _ident(engine, p)
    level = p.get("level", "project")
    if level not in ("project", "agent"):
        raise BadRequest("level must be project or agent", field="level")
    # A field not sent keeps what is in force at that level (the level's row, else the
    # project's, else the settings): "not given" never overwrites a value.
    current = await engine.get_policies(tenant, project)
    row = (current["agents"].get(agent) if level == "agent" else None) or current["project"]
    enabled = p.get("memory_enabled", row["memoryEnabled"])
    if not isinstance(enabled, bool):
        raise BadRequest("memory_enabled must be a boolean", field="memory_enabled")
    days = p.get("memory_retention_days", row["retentionDays"])
    if isinstance(days, bool) or not isinstance(days, int) or not (
            0 <= days <= MAX_RETENTION_DAYS):
        raise BadRequest(f"memory_retention_days must be an integer within "
                         f"0..{MAX_RETENTION_DAYS} (0: no cap)", field="memory_retention_days")
    return await engine.set_policy(tenant, project, agent if level == "agent" else "",
                                   memory_enabled=enabled, retention_days=days)


@handles("flush")
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


@handles("list_quarantined")
async def _list_quarantined(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    _ident(engine, p)
    return {"records": await engine.list_quarantined()}


@handles("retry_quarantined")
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


async def dispatch(engine: MemoryEngine, name: str, payload: dict[str, Any], *,
                   received_at: float | None = None, shed: str | None = None,
                   tenant: str | None = None) -> Any:
    """Validate and run operation ``name``; returns its JSON-ready result.

    ``received_at`` (epoch seconds) is when the request reached the runtime; deadlines
    count from it, so time spent queued is part of a search's budget. ``shed`` (a
    reason): an overloaded runtime answers a valid search at once, empty and degraded.
    ``tenant``: the request came with that tenant's API key (:func:`bind_tenant`).
    """
    op = OPERATIONS.get(name)
    if op is None:
        raise NotFound(f"unknown operation {name!r}")
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object", field="body")
    sent = payload
    try:
        snake, camel = spellings(op.spec.request, payload)
        if tenant is not None:  # before the content checks: another tenant learns nothing
            bind_tenant(name, snake, tenant)
            camel["tenantId"] = snake["tenant_id"]
        # The content checks first: they name a NUL or a 5,000-digit number exactly where
        # it is, which the type check would only call "not a string" or "not an integer".
        check_payload(snake)
        validate(op.spec.request, camel)
        payload = snake
        with request_arrived(received_at, shed):
            return await op.handler(engine, payload)
    except VoxmemError as exc:
        if isinstance(exc, BadRequest):
            # The checks speak snake_case; the caller hears the field as it spelled it.
            respell_error(op.spec.request, sent, exc)
        # A driver error may quote a connection string: no secret leaves, in-process
        # or over HTTP.
        exc.message = mask_secrets(exc.message, engine.settings.secret_values())
        exc.args = (exc.message,)
        raise


_missing = set(OPERATION_SPECS) - set(HANDLERS)
if _missing:  # a declared operation nobody can serve is a bug, caught at import
    raise RuntimeError(f"operations without a handler: {sorted(_missing)}")

OPERATIONS: dict[str, Operation] = {
    name: Operation(spec, HANDLERS[name]) for name, spec in OPERATION_SPECS.items()}
