"""The operation table's wire half: every operation's name, route, request and response type.

This module is what a client needs to talk to a runtime — names, routes and the request
types — and nothing of the engine, so ``import voxmem`` stays light. The runtime binds a
handler to every entry (:mod:`voxmem._operations`) and generates its OpenAPI document
from the same entries (:mod:`voxmem.runtime._app`).

Adding an operation: a request and a response type in :mod:`voxmem._api_types`, one
:class:`OperationSpec` line below, one ``@handles("name")`` function in
``_operations.py``, one client method. An import-time check refuses a table and a handler
set that disagree.

Decoding a body is three steps, in this order (``dispatch`` runs them): :func:`spellings`
maps each field to its two spellings (camelCase on the wire, snake_case accepted as an
alias), the caller's checks run on the snake_case view, and :func:`validate` checks the
camelCase view against the request type — types, required fields and unknown fields,
each refused with ``bad_request`` naming the field.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from typing import Any

import msgspec

from . import _api_callers as c
from . import _api_console as o
from . import _api_restore as r
from . import _api_types as t
from ._exceptions import BadRequest

__all__ = ["OPERATION_SPECS", "OperationSpec", "python_name", "python_spelling", "respell_error",
           "spellings", "validate"]


@dataclasses.dataclass(frozen=True, slots=True)
class OperationSpec:
    """One operation as the wire sees it.

    ``response`` is the type of the JSON result (a Struct, or ``list[Struct]``).
    ``read_path``, when set, is a ``GET`` twin of a read: the request's fields travel as
    query parameters (``GET /v1/indexes?project_id=support``), so a read with a twin
    takes text fields only.
    """

    name: str
    method: str
    path: str
    request: type[t.WireRequest]
    response: Any
    summary: str
    read_path: str | None = None

    def __post_init__(self) -> None:
        if self.read_path is not None and (bad := [
                f.name for f in msgspec.structs.fields(self.request)
                if not set(typing.get_args(f.type) or (f.type,)) <= {str, type(None)}]):
            # A query string carries text only: these fields could not be sent.
            raise TypeError(f"{self.name} has a GET twin but non-text fields {bad}")

    @property
    def query_parameters(self) -> list[tuple[str, bool]]:
        """(wire name, required) of each field, for the ``GET`` twin's query string."""
        return [(f.encode_name, f.required) for f in msgspec.structs.fields(self.request)]

    @property
    def per_caller(self) -> bool:
        """Whether the call is about one caller (and so goes through the caller pool)."""
        return issubclass(self.request, t.CallerRequest)


def _table(*specs: OperationSpec) -> dict[str, OperationSpec]:
    return {spec.name: spec for spec in specs}


OPERATION_SPECS: dict[str, OperationSpec] = _table(
    OperationSpec("search_memory", "POST", "/v1/memory/search", t.SearchRequest,
                  t.SearchResponse, "Recall for one turn, under a deadline"),
    OperationSpec("save_response", "POST", "/v1/memory/turns", t.TurnRequest, t.TurnSaved,
                  "Save one (user, assistant) turn durably"),
    OperationSpec("preload", "POST", "/v1/memory/preload", t.CallerRequest,
                  t.PreloadResponse, "Session-start memory block"),
    OperationSpec("update_profile", "POST", "/v1/memory/profile", t.UpdateProfileRequest,
                  t.ProfileUpdated, "Set one profile field of a caller"),
    OperationSpec("import_history", "POST", "/v1/memory/import", t.ImportHistoryRequest,
                  t.ImportResult, "Backfill past calls with their real timestamps"),
    OperationSpec("start_session", "POST", "/v1/sessions/start", t.StartSessionRequest,
                  t.SessionRecord, "Open a call for a caller"),
    OperationSpec("end_session", "POST", "/v1/sessions/end", t.EndSessionRequest,
                  t.SessionRecord, "Close the caller's current call"),
    OperationSpec("create_index", "POST", "/v1/indexes", t.CreateIndexRequest, t.IndexBuilt,
                  "Build or append an org index (<= 100 documents, <= 1 MB per call)"),
    OperationSpec("list_indexes", "POST", "/v1/indexes/list", t.ProjectRequest,
                  list[t.IndexInfo], "List the project's org indexes",
                  read_path="/v1/indexes"),
    OperationSpec("list_memories", "POST", "/v1/memories/list", t.ListMemoriesRequest,
                  list[t.MemoryRecord],
                  "The caller's facts (include_deleted adds superseded and deleted ones)"),
    OperationSpec("session_memories", "POST", "/v1/memories/session",
                  t.SessionMemoriesRequest, list[t.MemoryRecord],
                  "Memories written during one call"),
    OperationSpec("delete_memory", "POST", "/v1/memories/delete", t.DeleteMemoryRequest,
                  t.MemoryDeleted,
                  "Delete one memory: gone from recall now, from disk after cleanup"),
    OperationSpec("remember", "POST", "/v1/memories/remember", t.RememberRequest,
                  t.Remembered, "Upsert one value per (caller, memory_type)"),
    OperationSpec("recall", "POST", "/v1/memories/recall", t.RecallRequest, t.Recalled,
                  "The current value of one memory_type"),
    OperationSpec("forget", "POST", "/v1/memories/forget", t.ForgetRequest, t.Forgotten,
                  "Delete the value of one memory_type"),
    OperationSpec("forget_user", "POST", "/v1/callers/forget", t.CallerRequest,
                  t.UserForgotten, "Erase everything about a caller"),
    OperationSpec("export_user", "POST", "/v1/callers/export", t.CallerRequest,
                  t.CallerExport, "Everything stored about a caller (data request)"),
    OperationSpec("import_user", "POST", "/v1/callers/import", r.ImportUserRequest,
                  r.UserImported, "Put a caller back from their export (idempotent)"),
    OperationSpec("merge_users", "POST", "/v1/callers/merge", t.MergeUsersRequest,
                  t.UsersMerged, "Move a caller's memory to another (guest to account)"),
    OperationSpec("get_memory_policy", "POST", "/v1/policy/get", t.ProjectRequest,
                  t.MemoryPolicies,
                  "Memory on/off and retention for the project and its agents",
                  read_path="/v1/policy"),
    OperationSpec("set_memory_policy", "POST", "/v1/policy/set", t.SetPolicyRequest,
                  t.MemoryPolicies,
                  "Set memory on/off and retention for the project or this agent"),
    OperationSpec("flush", "POST", "/v1/admin/flush", t.FlushRequest, t.FlushResult,
                  "Wait until every acknowledged write is in the store"),
    OperationSpec("list_quarantined", "POST", "/v1/admin/quarantine/list", t.ProjectRequest,
                  t.QuarantineList, "Journal records the store refused (bad data), set aside",
                  read_path="/v1/admin/quarantine"),
    OperationSpec("retry_quarantined", "POST", "/v1/admin/quarantine/retry",
                  t.RetryQuarantinedRequest, t.QuarantineRetried,
                  "Send one quarantined record to the store again"),
    # Operator views: the dashboard's data, and its JSON twins.
    OperationSpec("list_callers", "POST", "/v1/callers/list", o.ListCallersRequest,
                  o.CallerList,
                  "Find callers by any identifier, written or spoken, or by name (also by sound)"),
    OperationSpec("get_caller", "POST", "/v1/callers/get", o.GetCallerRequest, o.CallerDetail,
                  "One caller: profile, current and superseded memories, calls, identifiers "
                  "and merges"),
    OperationSpec("list_calls", "POST", "/v1/calls/list", o.ListCallsRequest, o.CallList,
                  "Calls of the project, or of one caller (user_id), newest first"),
    OperationSpec("get_call", "POST", "/v1/calls/get", o.GetCallRequest, o.CallDetail,
                  "One call: transcript, each turn's recall trace, memories written, report"),
    OperationSpec("list_documents", "POST", "/v1/indexes/documents", o.IndexNameRequest,
                  o.DocumentList, "The documents of one org index with their chunk counts",
                  read_path="/v1/indexes/documents"),
    OperationSpec("delete_documents", "POST", "/v1/indexes/documents/delete",
                  o.DeleteDocumentsRequest, o.DocumentsDeleted,
                  "Remove documents (and their chunks) from an org index"),
    OperationSpec("delete_index", "POST", "/v1/indexes/delete", o.IndexNameRequest,
                  o.IndexDeleted, "Remove an org index with all its documents"),
    OperationSpec("search_index", "POST", "/v1/indexes/search", o.SearchIndexRequest,
                  o.IndexSearchResult,
                  "Search org knowledge (one index or all) as recall's org lane does"),
    # Callers and entities (SPEC §7).
    OperationSpec("resolve_caller", "POST", "/v1/callers/resolve", c.ResolveCallerRequest,
                  c.ResolvedCaller,
                  "Resolve a starting call's identifiers to one canonical caller"),
    OperationSpec("link_identifier", "POST", "/v1/callers/identifiers",
                  c.LinkIdentifierRequest, c.LinkedIdentifier,
                  "Link an identifier (phone, e-mail, account, ...) to a caller"),
    OperationSpec("unlink_identifier", "POST", "/v1/callers/identifiers/unlink",
                  c.UnlinkIdentifierRequest, c.LinkedIdentifier,
                  "Remove one identifier from a caller (linked by mistake); 404 if not "
                  "theirs"),
    OperationSpec("find_callers", "POST", "/v1/callers/find", c.FindCallersRequest,
                  list[c.IdentifierMatch],
                  "Callers linked to any identifier, written or as spoken",
                  read_path="/v1/callers/find"),
    OperationSpec("show_caller", "POST", "/v1/callers/show", t.CallerRequest,
                  c.CallerProfile, "A caller's identifiers, merges and entity graph"),
    OperationSpec("merge_callers", "POST", "/v1/callers/merges", c.MergeCallersRequest,
                  c.CallerMerge, "Merge one caller into another, with evidence; undoable"),
    OperationSpec("unmerge_callers", "POST", "/v1/callers/unmerge",
                  c.UnmergeCallersRequest, c.Unmerged,
                  "Undo a merge: both callers get back exactly what they had"),
    OperationSpec("list_merges", "POST", "/v1/callers/merges/list", c.ListMergesRequest,
                  c.CallerMerges, "Recorded merges of the project, or of one caller",
                  read_path="/v1/callers/merges"),
    OperationSpec("runtime_health", "POST", "/v1/admin/health", t.ProjectRequest,
                  o.RuntimeHealth,
                  "Journal vs store, pending learning, recall latency over the last hour"),
)


# -- decoding -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """How to respell one Struct's fields: any spelling → (snake, camel), and which
    fields hold further Structs (alone or in a list)."""

    fields: dict[str, tuple[str, str]]
    nested: dict[str, tuple[bool, type[msgspec.Struct]]]


def _struct_in(tp: Any) -> tuple[bool, type[msgspec.Struct]] | None:
    """(is a list, the Struct) when ``tp`` holds a Struct, else None."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return False, tp
    origin = typing.get_origin(tp)
    if origin is list:
        inner = _struct_in(typing.get_args(tp)[0])
        return (True, inner[1]) if inner is not None else None
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            found = _struct_in(arg)
            if found is not None:
                return found
    return None


@functools.cache
def _plan(struct: type[msgspec.Struct]) -> _Plan:
    fields: dict[str, tuple[str, str]] = {}
    nested: dict[str, tuple[bool, type[msgspec.Struct]]] = {}
    for info in msgspec.structs.fields(struct):
        fields[info.name] = fields[info.encode_name] = (info.name, info.encode_name)
        found = _struct_in(info.type)
        if found is not None:
            nested[info.name] = found
    return _Plan(fields, nested)


def spellings(request: type[msgspec.Struct], body: Any,
              where: str = "") -> tuple[Any, Any]:
    """``body`` twice: with snake_case keys (for the checks) and camelCase (the wire).

    Free-form objects (``metadata``, ``report``, tool calls) are left as sent. A field
    sent in both spellings is refused: which one should win would be a guess.
    """
    if not isinstance(body, dict):
        return body, body
    plan = _plan(request)
    snake: dict[Any, Any] = {}
    camel: dict[Any, Any] = {}
    fields, nested_fields = plan.fields, plan.nested
    for key, value in body.items():
        names = fields.get(key) if key.__class__ is str else None
        if names is None:  # unknown: validate() names it
            snake[key] = camel[key] = value
            continue
        py, wire = names
        if py in snake:
            field = f"{where}.{py}" if where else py
            raise BadRequest(f"{field} is sent twice ({wire!r} and {py!r}); send one",
                             field=field)
        nested = nested_fields.get(py)
        if nested is None:
            snake[py] = camel[wire] = value
            continue
        field = f"{where}.{py}" if where else py
        if nested[0] and isinstance(value, list):
            pairs = [spellings(nested[1], item, f"{field}[{i}]")
                     for i, item in enumerate(value)]
            snake[py], camel[wire] = [p[0] for p in pairs], [p[1] for p in pairs]
        elif not nested[0]:
            snake[py], camel[wire] = spellings(nested[1], value, field)
        else:
            snake[py] = camel[wire] = value
    return snake, camel


_ERROR = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_QUOTED = re.compile(r"`([^`]*)`")
_SEGMENT = re.compile(r"^([A-Za-z0-9_]+)(.*)$")


def python_name(wire_path: str) -> str:
    """``sessions[0].turns[1].userText`` → ``sessions[0].turns[1].user_text``.

    msgspec writes a free-form object's key as ``[...]``; the field is the object.
    """
    out = []
    for segment in wire_path.replace("[...]", "").split("."):
        match = _SEGMENT.match(segment)
        if match is None:
            out.append(segment)
            continue
        name, rest = match.groups()
        out.append(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower() + rest)
    return ".".join(out)


def _bad_request(request: type[msgspec.Struct], exc: msgspec.ValidationError) -> BadRequest:
    match = _ERROR.match(str(exc))
    what = match["what"] if match else str(exc)
    at = python_name((match["path"] or "").lstrip(".")) if match else ""
    quoted = _QUOTED.findall(what)
    if what.startswith("Object contains unknown field") and quoted:
        field = f"{at}.{quoted[0]}" if at else quoted[0]
        known = "" if at else "; known fields: " + ", ".join(sorted(
            f.name for f in msgspec.structs.fields(request)))
        return BadRequest(f"unknown field {field!r}{known}", field=field)
    if what.startswith("Object missing required field") and quoted:
        field = python_name(f"{at}.{quoted[0]}" if at else quoted[0])
        return BadRequest(f"{field} is required", field=field)
    field = at or "body"
    if what.startswith("Expected") and len(quoted) == 2:
        return BadRequest(f"{field} must be {quoted[0]}, got {quoted[1]}", field=field)
    return BadRequest(f"{field}: {what[:1].lower()}{what[1:]}", field=field)


def validate(request: type[msgspec.Struct], camel: Any) -> None:
    """Check a camelCase body against ``request``; ``bad_request`` names the field."""
    try:
        msgspec.convert(camel, request)
    except msgspec.ValidationError as exc:
        raise _bad_request(request, exc) from None


_INDEX = re.compile(r"\[(\d+)\]")


def _names(struct: type[msgspec.Struct]) -> dict[str, str]:
    """snake_case → camelCase of every field of ``struct`` and of the Structs in it whose
    two spellings differ."""
    found: dict[str, str] = {}
    todo, seen = [struct], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        plan = _plan(current)
        found.update({py: wire for py, wire in plan.fields.values() if py != wire})
        todo.extend(nested for _is_list, nested in plan.nested.values())
    return found


def _camel_body(request: type[msgspec.Struct], body: Any) -> bool:
    """Whether ``body`` spells its fields in camelCase (the wire's; the default when it
    says neither way), rather than in snake_case."""
    if not isinstance(body, dict):
        return True
    fields = _plan(request).fields
    votes = [key == fields[key][1] for key in body
             if key.__class__ is str and key in fields and fields[key][0] != fields[key][1]]
    return not votes or votes.count(True) >= votes.count(False)


def _respell_path(request: type[msgspec.Struct], body: Any, field: str, camel: bool) -> str:
    """``field`` (a snake_case path such as ``sessions[0].started_at``) in the spelling
    the body used for each of its fields; a field it did not send in its style."""
    out: list[str] = []
    struct: type[msgspec.Struct] | None = request
    level = body
    for segment in field.split("."):
        match = _SEGMENT.match(segment)
        names = _plan(struct).fields.get(match[1]) if struct and match else None
        if names is None or match is None:  # past the Structs: free-form keys as sent
            out.append(segment)
            struct, level = None, None
            continue
        py, wire = names
        sent = level if isinstance(level, dict) else {}
        spelled = wire if wire in sent else py if py in sent else (wire if camel else py)
        out.append(spelled + match[2])
        value = sent.get(spelled)
        for index in _INDEX.findall(match[2]):
            value = value[int(index)] if isinstance(value, list) and int(index) < len(
                value) else None
        nested = _plan(struct).nested.get(py)
        struct, level = (nested[1] if nested else None), value
    return ".".join(out)


def respell_error(request: type[msgspec.Struct], body: Any, exc: BadRequest) -> None:
    """Name the field of ``exc`` (and the request's fields in its message) as ``body``
    spells them: the checks name fields in snake_case, and a camelCase caller (the
    TypeScript client, any HTTP caller of the documented wire) was told ``user_text``
    of a field it knows as ``userText``."""
    field = exc.field
    camel = _camel_body(request, body)
    if field is not None:
        exc.details["field"] = _respell_path(request, body, field, camel)
    sent = body if isinstance(body, dict) else {}
    for py, wire in _names(request).items():
        if wire in sent or (camel and py not in sent):
            exc.message = re.sub(rf"(?<![A-Za-z0-9_]){py}(?![A-Za-z0-9_])", wire, exc.message)
    exc.args = (exc.message,)


def python_spelling(request: type[msgspec.Struct], exc: BadRequest) -> None:
    """The reverse of :func:`respell_error`, for the Python client, whose callers name
    fields by their parameter names (``user_text``) while it sends the wire's spelling."""
    field = exc.field
    if field is not None:
        exc.details["field"] = _respell_path(request, {}, field, False)
    for py, wire in _names(request).items():
        exc.message = re.sub(rf"(?<![A-Za-z0-9_]){wire}(?![A-Za-z0-9_])", py, exc.message)
    exc.args = (exc.message,)
