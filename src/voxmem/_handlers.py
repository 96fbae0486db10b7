"""What every operation handler is built from: the registry and the identity checks.

A handler is bound to an operation declared in :mod:`voxmem._api` with
``@handles("name")``; :mod:`voxmem._operations` builds the table from the registry.
``ident`` and ``caller_scope`` read who is asking (tenant, project, agent, caller) from a
body, refusing what is missing with ``bad_request`` naming the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from ._api import OPERATION_SPECS, OperationSpec
from ._exceptions import BadRequest, Unauthorized
from .engine import MemoryEngine
from .engine._validate import MAX_ID_CHARS, check_caller
from .models import DEFAULT_TENANT, Caller, Scope

__all__ = ["ADMIN_OPERATIONS", "HANDLERS", "MAX_FIELD_CHARS", "Handler", "Operation",
           "bind_tenant", "caller_scope", "handles", "ident"]

#: Longest free-text identifier field (intent, end reason, caller search).
MAX_FIELD_CHARS = 64

#: Operations about the whole runtime rather than one tenant (the journal, its
#: quarantine, the health view's journal and engine counters, which move with every
#: tenant's saves): the admin token only, never a tenant's API key.
ADMIN_OPERATIONS = frozenset({"flush", "list_quarantined", "retry_quarantined",
                              "runtime_health"})

Handler = Callable[[MemoryEngine, dict[str, Any]], Awaitable[Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    """One client call: its wire declaration and the handler that runs it."""

    spec: OperationSpec
    handler: Handler

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def method(self) -> str:
        return self.spec.method

    @property
    def path(self) -> str:
        return self.spec.path

    @property
    def summary(self) -> str:
        return self.spec.summary


HANDLERS: dict[str, Handler] = {}


def handles(name: str) -> Callable[[Handler], Handler]:
    """Bind the decorated function as the handler of operation ``name`` in ``_api``."""
    if name not in OPERATION_SPECS:
        raise KeyError(f"operation {name!r} is not declared in voxmem._api.OPERATION_SPECS")

    def bind(handler: Handler) -> Handler:
        if name in HANDLERS:
            raise KeyError(f"operation {name!r} has two handlers")
        HANDLERS[name] = handler
        return handler

    return bind


def ident(engine: MemoryEngine, p: dict[str, Any]) -> tuple[str, str, str]:
    """(tenant, project, agent) of a body; the tenant defaults to ``"default"``."""
    tenant = p.get("tenant_id") or DEFAULT_TENANT
    project = p.get("project_id")
    agent = p.get("agent_id") or ""
    for name, value in (("tenant_id", tenant), ("project_id", project)):
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{name} must be a non-empty string", field=name)
        # Bounded like every other id: each is stored on every row of the caller.
        if len(value) > MAX_ID_CHARS:
            raise BadRequest(f"{name} is longer than {MAX_ID_CHARS} characters", field=name)
    if not isinstance(agent, str):
        raise BadRequest("agent_id must be a string", field="agent_id")
    if len(agent) > MAX_ID_CHARS:
        raise BadRequest(f"agent_id is longer than {MAX_ID_CHARS} characters",
                         field="agent_id")
    return tenant, str(project), agent


def caller_scope(engine: MemoryEngine, p: dict[str, Any]) -> tuple[Scope, Caller]:
    """The caller of a body (``user`` or ``user_id``) and the scope their rows live in."""
    tenant, project, agent = ident(engine, p)
    caller = check_caller(p.get("user"), p.get("user_id"))
    return engine.scope(project_id=project, agent_id=agent, user_id=caller.id,
                        tenant_id=tenant), caller


def bind_tenant(name: str, p: dict[str, Any], tenant: str) -> None:
    """Bind operation ``name`` with body ``p`` (snake_case) to an API key's ``tenant``.

    A body naming no tenant is run in the key's; one naming another is refused with 403
    ``forbidden`` rather than quietly run in the key's, so a client sent to the wrong
    tenant learns it at once instead of reading and writing somewhere it did not mean.
    """
    if name in ADMIN_OPERATIONS:
        raise Unauthorized(f"{name} is about the whole runtime: it needs the runtime "
                           "token, not a tenant's API key", code="forbidden",
                           status_code=403)
    named = p.get("tenant_id")
    if named is None or named == "":
        p["tenant_id"] = tenant
    elif named != tenant:
        raise Unauthorized("this API key is bound to another tenant than tenant_id names",
                           code="forbidden", status_code=403, details={"field": "tenant_id"})
