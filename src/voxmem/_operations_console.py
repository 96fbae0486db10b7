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
from .engine._validate import check_index_name, check_optional_id, check_text

MAX_LIST_ROWS = 500
DEFAULT_LIST_ROWS = 100
MAX_DELETE_DOCUMENTS = 1000
#: Deepest page of the callers list (a project of ten million callers is searched).
MAX_OFFSET = 10_000_000


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
    offset = p.get("offset") or 0
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise BadRequest(f"offset must be an integer within 0..{MAX_OFFSET}", field="offset")
    return {"callers": await engine.find_callers(tenant, project, query, _limit(p), offset)}


@handles("get_caller")
async def _get_caller(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, caller = _caller_scope(engine, p)
    found = await engine.caller_page(scope, _limit(p))
    if found is None:
        # Erased callers leave no trace to tell them apart (that is the erasure).
        raise NotFound(f"no caller {caller.id!r} in this project (never seen here, merged "
                       "into another caller, or erased)", code="caller_not_found")
    return found


@handles("list_calls")
async def _list_calls(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    user_id = check_optional_id(p.get("user_id"), "user_id")
    return {"calls": await engine.list_calls(tenant, project, user_id, _limit(p))}


@handles("get_call")
async def _get_call(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    return await engine.call_page(tenant, project, _required_id(p, "session_id"))


@handles("list_documents")
async def _list_documents(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    return await engine.index_documents(tenant, project, check_index_name(p.get("name")))


@handles("delete_documents")
async def _delete_documents(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    name = check_index_name(p.get("name"))
    ids = p.get("document_ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_DELETE_DOCUMENTS:
        raise BadRequest(f"document_ids must be a list of 1..{MAX_DELETE_DOCUMENTS} ids",
                         field="document_ids")
    clean = [_required_id({"document_ids[]": d}, "document_ids[]") for d in ids]
    done = await engine.delete_documents(tenant, project, name, clean)
    if done is None:
        raise NotFound(f"no index {name!r} in this project", code="index_not_found")
    return done


@handles("delete_index")
async def _delete_index(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    name = check_index_name(p.get("name"))
    done = await engine.delete_index(tenant, project, name)
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
    return {"chunks": await engine.search_index(tenant, project, name, query, k)}


@handles("runtime_health")
async def _health(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    tenant, project, _agent = _ident(engine, p)
    return await engine.runtime_health(tenant, project)
