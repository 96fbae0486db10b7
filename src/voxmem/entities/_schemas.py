"""JSON Schemas of the caller operations' requests and responses (for the OpenAPI
document), written once next to the code that produces those shapes."""

from __future__ import annotations

from typing import Any

from ._identifiers import IDENTIFIER_KINDS

__all__ = ["CALLER_SCHEMAS"]

_STR: dict[str, Any] = {"type": "string"}
_NUM: dict[str, Any] = {"type": "number"}
_NULLABLE_STR: dict[str, Any] = {"type": ["string", "null"]}
_USER: dict[str, Any] = {
    "description": "The caller: an id string or {id, name, metadata}",
    "anyOf": [{"type": "string"}, {"type": "object", "properties": {
        "id": _STR, "name": _STR, "metadata": {"type": "object"}}, "required": ["id"]}]}
_SCOPE: dict[str, Any] = {"project_id": _STR, "agent_id": _STR, "tenant_id": _STR}
_KIND: dict[str, Any] = {"type": "string", "enum": list(IDENTIFIER_KINDS)}
_IDENTIFIER: dict[str, Any] = {
    "type": "object", "required": ["kind", "value", "userId", "source", "strength"],
    "properties": {"kind": _KIND, "value": _STR, "userId": _STR, "raw": _STR,
                   "source": _STR, "sessionId": _NULLABLE_STR, "turnId": _NULLABLE_STR,
                   "strength": _NUM, "createdAt": _NUM, "ambiguous": {"type": "boolean"}}}
_MERGE: dict[str, Any] = {
    "type": "object", "required": ["mergeId", "fromUserId", "toUserId", "status"],
    "properties": {"mergeId": _STR, "fromUserId": _STR, "toUserId": _STR,
                   "status": {"type": "string", "enum": ["merged", "proposed", "undone"]},
                   "at": _NUM, "evidence": {"type": "object"},
                   "undoneAt": {"type": ["number", "null"]}, "itemsMoved": {"type": "integer"}}}
_GRAPH: dict[str, Any] = {"type": "object", "properties": {
    "entities": {"type": "array", "items": {"type": "object", "properties": {
        "id": _STR, "kind": _STR, "label": _STR, "attrs": {"type": "object"},
        "confidence": _NUM, "mentions": {"type": "integer"}, "firstSeen": _NUM,
        "lastSeen": _NUM}}},
    "edges": {"type": "array", "items": {"type": "object", "properties": {
        "source": _STR, "relation": _STR, "target": _STR, "confidence": _NUM,
        "createdAt": _NUM}}}}}


def _request(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["project_id", *required],
            "properties": {**_SCOPE, **props}}


#: operation name -> (request schema, response schema)
CALLER_SCHEMAS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "resolve_caller": (
        _request(["identifiers"], identifiers={"type": "array", "items": {
            "type": "object", "required": ["kind", "value"],
            "properties": {"kind": _KIND, "value": _STR, "source": _STR}}},
            user_id={"type": "string", "description": "The app's own id for the caller"},
            name=_STR, default_user_id=_STR, session_id=_STR),
        {"type": "object", "required": ["userId", "linked", "created", "reason"],
         "properties": {"userId": _STR, "linked": {"type": "boolean"},
                        "created": {"type": "boolean"}, "reason": _STR,
                        "evidence": {"type": "array", "items": {"type": "object"}},
                        "ambiguous": {"type": "array", "items": {"type": "object"}}}}),
    "link_identifier": (
        _request(["user", "kind", "value"], user=_USER, kind=_KIND, value=_STR, source=_STR),
        _IDENTIFIER),
    "find_callers": (
        _request(["identifier"], identifier={
            "type": "string", "description": "Any identifier, written or as spoken"}),
        {"type": "array", "items": {"type": "object", "properties": {
            "userId": _STR, "kind": _KIND, "value": _STR, "source": _STR,
            "strength": _NUM}}}),
    "show_caller": (
        _request(["user"], user=_USER),
        {"type": "object", "required": ["userId", "identifiers", "merges", "graph"],
         "properties": {"userId": _STR, "name": _NULLABLE_STR, "profile": {"type": "object"},
                        "identifiers": {"type": "array", "items": _IDENTIFIER},
                        "merges": {"type": "array", "items": _MERGE}, "graph": _GRAPH}}),
    "merge_callers": (
        _request(["from_id", "to_id"], from_id=_STR, to_id=_STR, reason=_STR,
                 status={"type": "string", "enum": ["merged", "proposed"]}),
        _MERGE),
    "unmerge_callers": (
        _request(["merge_id"], merge_id=_STR),
        {"type": "object", "required": ["mergeId", "fromUserId", "toUserId"],
         "properties": {"mergeId": _STR, "fromUserId": _STR, "toUserId": _STR,
                        "itemsRestored": {"type": "integer"},
                        "sessionsRestored": {"type": "integer"}}}),
    "list_merges": (
        _request([], user_id=_STR),
        {"type": "array", "items": _MERGE}),
}
