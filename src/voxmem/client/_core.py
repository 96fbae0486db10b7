"""The I/O-free half of the clients: typed requests in, typed results out.

Every argument default, wire encoding and result parse lives here once; the transports
only move bytes (in-process engine or loopback HTTP) and the clients only wire a
builder, a transport and a parser together. Requests are the Structs of
:mod:`voxmem._api_types`, encoded camelCase as the operation table declares; the
runtime validates them (the client checks only what it needs before any I/O: the caller
and the recall timeout).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

import msgspec

from .._api import OPERATION_SPECS
from .._config import UNSET
from .._exceptions import BadRequest, VoxmemError, error_from_envelope
from ..engine._validate import check_caller, check_timeout_ms
from ..models import DEFAULT_TENANT, Caller, IndexBuildResult, Preload, SearchResult

__all__ = ["ClientCore", "HttpRequest", "OperationCall", "UserArg"]

UserArg = dict[str, Any] | None


@dataclasses.dataclass(frozen=True, slots=True)
class OperationCall:
    """One operation to run (an RPC request, not a phone call): its name in the
    operation table and its JSON body, camelCase as on the wire."""

    op: str
    payload: dict[str, Any]

    @property
    def caller(self) -> Caller | None:
        """The validated caller of a per-caller call; ``None`` for project-level calls.

        Raises ``bad_request`` (naming the field) before any I/O when the caller is
        missing or empty: voxmem never files memory under a shared namespace.
        """
        if not OPERATION_SPECS[self.op].per_caller:
            return None
        return check_caller(self.payload.get("user"), self.payload.get("userId"))


@dataclasses.dataclass(frozen=True, slots=True)
class HttpRequest:
    """An :class:`OperationCall` as the runtime's REST API wants it."""

    method: str
    path: str
    body: bytes


@functools.cache
def _required(request: type[msgspec.Struct]) -> frozenset[str]:
    return frozenset(f.name for f in msgspec.structs.fields(request) if f.required)


def _unset(value: Any) -> Any:
    """voxmem's "not given" as msgspec's, so the field is left out of the body."""
    return msgspec.UNSET if value is UNSET else value


class ClientCore:
    """Builds calls for one (tenant, project, agent) and parses their results."""

    def __init__(self, *, project_id: str, agent_id: str,
                 tenant_id: str | None = None) -> None:
        for name, value in (("project_id", project_id), ("agent_id", agent_id)):
            if not isinstance(value, str) or not value.strip():
                raise BadRequest(f"{name} must be a non-empty string", field=name)
        self.project_id = project_id
        self.agent_id = agent_id
        self.tenant_id = tenant_id or DEFAULT_TENANT
        # Not given: sent as no tenant at all, so the runtime applies the default tenant,
        # or the tenant of the API key the client signs in with (a key of tenant "acme"
        # naming "default" would be refused with 403).
        self._wire_tenant = tenant_id or None

    @property
    def wire_tenant(self) -> str | None:
        """The tenant sent with each call: only one the client was given."""
        return self._wire_tenant

    def _call(self, op: str, **fields: Any) -> OperationCall:
        """The call of ``op``: its request type built from ``fields`` and this client's
        identity, encoded as the wire wants it (camelCase, defaults left out)."""
        request_type = OPERATION_SPECS[op].request
        # None means "not given" in the Python API: an optional field is left out (the
        # runtime applies its default); a required one is sent as null so the runtime
        # refuses it naming the field.
        required = _required(request_type)
        request = request_type(
            tenant_id=self._wire_tenant, project_id=self.project_id, agent_id=self.agent_id,
            **{k: _unset(v) for k, v in fields.items() if v is not None or k in required})
        body = msgspec.to_builtins(request)
        if not isinstance(body, dict):  # a Struct always encodes to an object
            raise TypeError(f"{op} request did not encode to an object")
        return OperationCall(op, body)

    @staticmethod
    def check_caller(user: UserArg, user_id: str | None) -> Caller:
        """The validated caller; ``bad_request`` naming the field when it is missing."""
        return check_caller(user, user_id)

    # -- builders --------------------------------------------------------------------------
    def call(self, op: str, **fields: Any) -> OperationCall:
        """The call of operation ``op`` with the client method's arguments as ``fields``.

        The client methods declare the arguments (once, in ``VoiceClient``); what
        some operations do to them before they go out is in ``_PREPARE``.
        """
        prepare = _PREPARE.get(op)
        if prepare is not None:
            fields = prepare(fields)
        keep_none = _NONE_IS_A_VALUE.get(op, ())
        call = self._call(op, **fields)
        for name in keep_none:
            if name in fields and fields[name] is None:
                call.payload[name] = None
        return call

    # -- wire ------------------------------------------------------------------------------
    @staticmethod
    def http_request(call: OperationCall) -> HttpRequest:
        """The REST request for ``call``: the route comes from the operation table."""
        op = OPERATION_SPECS[call.op]
        body = json.dumps(call.payload, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")
        return HttpRequest(op.method, op.path, body)

    @staticmethod
    def parse_http(status_code: int, content: bytes) -> Any:
        """The result of a REST response, or the matching :class:`VoxmemError` raised."""
        try:
            data = json.loads(content) if content else None
        except ValueError:
            data = None
        if 200 <= status_code < 300:
            if data is None:
                raise VoxmemError(f"runtime answered {status_code} with a body that is not "
                                  "JSON", code="internal", status_code=502)
            return data
        raise error_from_envelope(data, status_code)

    @staticmethod
    def recall_budget_s(timeout_ms: float, grace_ms: float) -> float:
        """How long the client lets a recall take before answering without memory."""
        return (timeout_ms + grace_ms) / 1000.0

    @staticmethod
    def degraded_search(reason: str, timeout_ms: float) -> dict[str, Any]:
        """The result of a recall that could not reach memory in time: empty, flagged.

        Principle 1 of the spec: a read that misses its deadline returns what it has and
        the agent answers without it.
        """
        return {"contextText": "", "profile": None, "working": [], "permanent": [],
                "org": [], "sources": [],
                "trace": {"lanes": {}, "lanesUsed": [], "totalMs": None, "degraded": True,
                          "errors": {"runtime": reason}, "timeoutMs": timeout_ms}}

    # -- parsers ---------------------------------------------------------------------------
    @staticmethod
    def parse_search(data: Any) -> SearchResult:
        return SearchResult.from_dict(data)

    @staticmethod
    def parse_event_id(data: Any) -> str | None:
        value = data.get("eventId") if isinstance(data, dict) else None
        return str(value) if value else None

    @staticmethod
    def parse_preload(data: Any) -> Preload:
        return Preload.from_dict(data)

    @staticmethod
    def parse_index_build(data: Any) -> IndexBuildResult:
        return IndexBuildResult.from_dict(data)

    @staticmethod
    def parse_dict(data: Any) -> dict[str, Any]:
        return dict(data) if isinstance(data, dict) else {}

    @staticmethod
    def parse_list(data: Any) -> list[dict[str, Any]]:
        return list(data) if isinstance(data, list) else []


def _search_memory(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("timeout_ms") is not None:
        # Checked here too: the client derives its own transport deadline from it.
        check_timeout_ms(fields["timeout_ms"])
    lanes = fields.get("lanes")
    return {**fields, "lanes": list(lanes) if lanes is not None else None}


def _save_response(fields: dict[str, Any]) -> dict[str, Any]:
    # A turn id fixed here, before the first attempt, travels unchanged with a retry
    # after a lost connection, so the two attempts are recognisably one turn.
    return {**fields, "turn_id": fields.get("turn_id") or f"turn_{uuid.uuid4().hex}"}


def _false_is_default(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def prepare(fields: dict[str, Any]) -> dict[str, Any]:
        return {**fields, name: fields.get(name) or None}  # left out: the default
    return prepare


#: What an operation does to the client method's arguments before they are encoded.
_PREPARE: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "search_memory": _search_memory,
    "save_response": _save_response,
    "end_session": _false_is_default("wait"),
    "flush": _false_is_default("learning"),
}
#: Fields where None is a value to send, not "not given" (it clears a profile field).
_NONE_IS_A_VALUE: dict[str, tuple[str, ...]] = {"update_profile": ("value",)}
