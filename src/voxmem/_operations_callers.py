"""Caller operations (SPEC §7): resolution, identifiers, merges; logic in voxmem.entities.

Declared in ``_api`` like every operation; bound here with ``@handles``.
"""

from __future__ import annotations

from typing import Any

from ._exceptions import BadRequest
from ._handlers import caller_scope as _caller_scope
from ._handlers import handles
from ._handlers import ident as _ident
from .engine import MemoryEngine
from .engine._validate import check_optional_id
from .models import Scope

MAX_CALL_IDENTIFIERS = 32
MAX_IDENTIFIER_CHARS = 256


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


@handles("resolve_caller")
async def _resolve_caller(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope = _space_scope(engine, p)
    return await engine.resolve_caller(
        scope, _identifier_list(p.get("identifiers")),
        user_id=_short(p, "user_id", required=False), name=_short(p, "name", required=False),
        default_user_id=_short(p, "default_user_id", required=False),
        session_id=check_optional_id(p.get("session_id"), "session_id"))


@handles("link_identifier")
async def _link_identifier(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    kind, value = _short(p, "kind"), _short(p, "value")
    assert kind is not None and value is not None
    return await engine.link_identifier(scope, kind, value,
                                        source=_short(p, "source", required=False) or "api")


@handles("unlink_identifier")
async def _unlink_identifier(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    kind, value = _short(p, "kind"), _short(p, "value")
    assert kind is not None and value is not None
    return await engine.unlink_identifier(scope, kind, value)


@handles("find_callers")
async def _find_callers(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    text = _short(p, "identifier")
    assert text is not None
    return await engine.find_caller_ids(_space_scope(engine, p), text)


@handles("show_caller")
async def _show_caller(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    scope, _caller = _caller_scope(engine, p)
    return await engine.show_caller(scope)


@handles("merge_callers")
async def _merge_callers(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    ids = [_short(p, "from_id"), _short(p, "to_id")]
    source, target = (_space_scope(engine, p, str(i)) for i in ids)
    status = p.get("status", "merged")
    if status not in ("merged", "proposed"):
        raise BadRequest("status must be merged or proposed", field="status")
    reason = _short(p, "reason", required=False) or "merged by hand"
    return await engine.merge_callers(source, target, reason=reason, status=status)


@handles("unmerge_callers")
async def _unmerge_callers(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    merge_id = _short(p, "merge_id")
    assert merge_id is not None
    return await engine.unmerge_callers(_space_scope(engine, p), merge_id)


@handles("list_merges")
async def _list_merges(engine: MemoryEngine, p: dict[str, Any]) -> Any:
    user_id = _short(p, "user_id", required=False)
    return await engine.list_merges(_space_scope(engine, p), user_id)
