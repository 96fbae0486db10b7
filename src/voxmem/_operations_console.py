"""Operator views: callers, calls, knowledge indexes, health — the dashboard's data.

The dashboard renders exactly these results and its ``.json`` pages return them
unchanged, so a page and the REST API can never disagree. Declared in ``_api`` like
every operation; bound here with ``@handles``.
"""

from __future__ import annotations

from typing import Any

from ._exceptions import BadRequest, NotFound
from ._handlers import MAX_FIELD_CHARS, handles
from ._handlers import caller_scope as _caller_scope
from ._handlers import ident as _ident
from .engine import MemoryEngine
from .engine import _console as console
from .engine._caller_search import find_callers
from .engine._validate import check_index_name, check_optional_id, check_text
from .models import Scope
from .store import _entities as entity_ops

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


@handles("list_callers")
async def _list_callers(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    query = p.get("query") or ""
    if not isinstance(query, str) or len(query) > MAX_FIELD_CHARS * 4:
        raise BadRequest("query must be a short string", field="query")
    await engine.flush(timeout=30)
    return {"callers": await find_callers(engine, tenant, project, query, _limit(p))}


@handles("get_caller")
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
    live = [f.to_wire() for f in facts if f.current]
    idents = await engine.store.run_entities(scope.tenant_id, entity_ops.caller_identifiers(
        scope), write=False)
    return {"caller": found.to_wire(), "memories": live,
            "history": [f.to_wire() for f in facts if not f.current], "calls": calls,
            "identifiers": [r.to_dict() for r in idents],
            # With evidence and merge id, so a merge can be undone from the caller's page.
            "merges": await engine.directory.merges(scope, scope.user_id)}


@handles("list_calls")
async def _list_calls(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    user_id = check_optional_id(p.get("user_id"), "user_id")
    await engine.flush(timeout=30)
    return {"calls": await engine.store.list_sessions(tenant, project, space=None,
                                                     user_id=user_id, limit=_limit(p))}


@handles("get_call")
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
            "memoriesWritten": [f.to_wire() for f in written]}


@handles("list_documents")
async def _list_documents(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    name = check_index_name(p.get("name"))
    indexes = {i.name: i.to_wire() for i in await engine.store.list_indexes(tenant, project)}
    if name not in indexes:
        raise NotFound(f"no index {name!r} in this project", code="index_not_found")
    return {"index": indexes[name],
            "documents": await engine.store.list_documents(tenant, project, name)}


@handles("delete_documents")
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


@handles("delete_index")
async def _delete_index(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    name = check_index_name(p.get("name"))
    done = await console.delete_index(engine, tenant, project, name)
    if done is None:
        raise NotFound(f"no index {name!r} in this project", code="index_not_found")
    return done


@handles("search_index")
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


@handles("runtime_health")
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
