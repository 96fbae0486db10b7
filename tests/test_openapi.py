"""The OpenAPI document is real: an OpenAPI validator accepts it, every operation's real
responses validate against the schemas it serves, and the request schemas are what the
runtime enforces (unknown fields refused, both spellings accepted)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate as validate_spec

from voxmem._api import OPERATION_SPECS, python_name

TOKEN = "openapi-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
IDENT = {"projectId": "proj", "agentId": "agent"}
USER = {"id": "caller-1", "name": "Ada"}
#: Stands for the id the preceding merge_callers answered.
MERGE_ID = "<merge id>"


async def served(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/openapi.json", headers=AUTH)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def check(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate ``instance`` against ``schema``, resolving refs in the document."""
    root = {**schema, "components": document["components"]}
    jsonschema.Draft202012Validator(root).validate(instance)


def body_schema(document: dict[str, Any], method: str, path: str, status: str,
                ) -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][path][method.lower()]["responses"][status][
        "content"]["application/json"]["schema"]
    return schema


def request_schema(document: dict[str, Any], op: str) -> dict[str, Any]:
    spec = OPERATION_SPECS[op]
    schema: dict[str, Any] = document["paths"][spec.path][spec.method.lower()][
        "requestBody"]["content"]["application/json"]["schema"]
    return schema


async def test_the_served_document_is_valid_openapi(http: httpx.AsyncClient) -> None:
    document = await served(http)
    validate_spec(document)  # raises on any structural error
    assert document["openapi"].startswith("3.1")
    for name, spec in OPERATION_SPECS.items():
        operation = document["paths"][spec.path][spec.method.lower()]
        assert operation["operationId"] == name
        # Every body names a real schema, not the old catch-all {"type": "object"}.
        assert request_schema(document, name)["$ref"].startswith("#/components/schemas/")
        ok = body_schema(document, spec.method, spec.path, "200")
        assert ok != {} and ("$ref" in ok or "items" in ok), (name, ok)


def calls() -> list[tuple[str, dict[str, Any]]]:
    """One real camelCase request per operation, in an order where each one works."""
    caller = {**IDENT, "user": USER}
    return [
        ("start_session", {**caller, "sessionId": "call-1", "metadata": {"room": "r1"}}),
        ("save_response", {**caller, "userText": "I'm vegetarian and prefer mornings",
                           "assistantText": "Noted", "turnId": "t-1",
                           "toolCalls": [{"name": "lookup"}]}),
        ("search_memory", {**caller, "query": "vegetarian mornings", "lanes": ["working"],
                           "topK": {"working": 3}, "timeoutMs": 500, "mode": "fast"}),
        ("preload", caller),
        ("update_profile", {**caller, "field": "plan", "value": "gold"}),
        ("remember", {**caller, "memoryType": "diet", "content": "vegetarian"}),
        ("recall", {**caller, "memoryType": "diet"}),
        ("list_memories", {**caller, "includeDeleted": True}),
        ("session_memories", {**caller, "sessionId": "call-1"}),
        ("end_session", {**caller, "reason": "completed", "report": {"turns": 1}}),
        ("create_index", {**IDENT, "name": "kb", "documents": [
            {"id": "d1", "text": "Refunds take five days", "metadata": {"lang": "en"}}]}),
        ("list_indexes", IDENT),
        ("import_history", {**caller, "learn": False, "sessions": [{
            "startedAt": time.time() - 3600, "sessionId": "old-1",
            "turns": [{"userText": "hi", "assistantText": "hello", "turnId": "old-t"}]}]}),
        ("get_memory_policy", IDENT),
        ("set_memory_policy", {**IDENT, "memoryEnabled": True, "memoryRetentionDays": 30}),
        ("flush", {**IDENT, "timeoutS": 30, "learning": True}),
        ("list_quarantined", IDENT),
        ("retry_quarantined", {**IDENT, "seq": 999_999}),  # none: the documented 404
        # Again, now with something in every lane, so the hit schemas are exercised.
        ("search_memory", {**caller, "query": "vegetarian refunds hi", "timeoutMs": 2000}),
        ("list_callers", {**IDENT, "query": "Ada", "limit": 10}),
        ("get_caller", {**caller, "limit": 10}),
        ("list_calls", {**IDENT, "userId": "caller-1"}),
        ("get_call", {**IDENT, "sessionId": "call-1"}),
        ("list_documents", {**IDENT, "name": "kb"}),
        ("search_index", {**IDENT, "query": "refunds", "name": "kb", "topK": 3}),
        ("runtime_health", IDENT),
        ("resolve_caller", {**IDENT, "identifiers": [
            {"kind": "phone", "value": "+1 510 555 0100", "source": "sip"}],
            "defaultUserId": "caller-1"}),
        ("link_identifier", {**caller, "kind": "email", "value": "ada@example.com"}),
        ("find_callers", {**IDENT, "identifier": "ada@example.com"}),
        ("link_identifier", {**caller, "kind": "phone", "value": "+1 510 555 0199"}),
        ("unlink_identifier", {**caller, "kind": "phone", "value": "(510) 555-0199"}),
        ("show_caller", caller),
        ("save_response", {**IDENT, "user": {"id": "guest-9"}, "userText": "hello",
                           "assistantText": "hi"}),
        ("merge_callers", {**IDENT, "fromId": "guest-9", "toId": "caller-1",
                           "reason": "same person"}),
        ("list_merges", {**IDENT, "userId": "caller-1"}),
        ("unmerge_callers", {**IDENT, "mergeId": MERGE_ID}),
        ("forget", {**caller, "memoryType": "diet"}),
        ("export_user", caller),
        ("import_user", {**IDENT, "userId": "caller-3", "format": 1, "name": "Cy",
                         "metadata": {"tier": "gold"}, "profile": {"plan": "gold"},
                         "sessions": [{"sessionId": "old-3", "agentId": "agent",
                                       "startedAt": time.time() - 7200,
                                       "endedAt": time.time() - 7000,
                                       "endReason": "completed", "metadata": {},
                                       "report": {"turns": 1}}],
                         "items": [{"id": "evt-old-3", "kind": "turn", "sessionId": "old-3",
                                    "text": "hi\nhello", "userText": "hi",
                                    "assistantText": "hello", "turnId": "t-1",
                                    "createdAt": time.time() - 7100},
                                   {"id": "fact-old-3", "kind": "fact", "sessionId": "old-3",
                                    "text": "Likes tea", "factKind": "preference",
                                    "slotKey": "drink", "confidence": 0.9,
                                    "createdAt": time.time() - 7000,
                                    "sourceTurnIds": ["t-1"]}]}),
        ("delete_memory", {**caller, "memoryId": "no-such-memory"}),
        ("merge_users", {**IDENT, "fromId": "caller-1", "toId": "caller-2"}),
        ("forget_user", {**IDENT, "user": {"id": "caller-2"}}),
        ("create_index", {**IDENT, "name": "kb", "documents": [{"id": "d2", "text": "x"}]}),
        ("delete_documents", {**IDENT, "name": "kb", "documentIds": ["d2"]}),
        ("delete_index", {**IDENT, "name": "kb"}),
    ]


async def test_every_operation_answers_what_its_schema_says(http: httpx.AsyncClient) -> None:
    document = await served(http)
    seen = set()
    hit_lanes: set[str] = set()
    merge_id = ""
    for name, body in calls():
        spec = OPERATION_SPECS[name]
        body = {k: merge_id if v == MERGE_ID else v for k, v in body.items()}
        check(document, request_schema(document, name), body)  # the request is valid too
        response = await http.request(spec.method, spec.path, json=body, headers=AUTH)
        status = str(response.status_code)
        if status != "200":
            # delete_memory / retry_quarantined of an unknown id: the documented envelope.
            assert status in document["paths"][spec.path][spec.method.lower()]["responses"]
            check(document, {"$ref": "#/components/schemas/Error"}, response.json())
        else:
            check(document, body_schema(document, spec.method, spec.path, "200"),
                  response.json())
        seen.add(name)
        if name == "merge_callers":
            merge_id = response.json()["mergeId"]
        if name == "search_memory":
            hit_lanes.update(lane for lane in ("working", "permanent", "org")
                             if response.json()[lane])
    assert hit_lanes == {"working", "permanent", "org"}, "a hit schema went unexercised"
    assert seen == set(OPERATION_SPECS), "an operation has no schema round trip here"


async def test_get_twins_answer_the_same_read(http: httpx.AsyncClient) -> None:
    document = await served(http)
    await http.post(OPERATION_SPECS["create_index"].path, headers=AUTH, json={
        **IDENT, "name": "kb", "documents": [{"id": "d1", "text": "hello"}]})
    #: What each twin's read needs beyond the identity fields.
    extra = {"list_documents": {"name": "kb"}, "find_callers": {"identifier": "kb"},
             "list_merges": {"userId": "caller-1"}}
    twins = [spec for spec in OPERATION_SPECS.values() if spec.read_path]
    assert {spec.name for spec in twins} >= {"list_indexes", "get_memory_policy",
                                             "list_quarantined", "list_documents",
                                             "find_callers", "list_merges"}
    for spec in twins:
        params = {**IDENT, **extra.get(spec.name, {})}
        read = await http.get(spec.read_path or "", headers=AUTH, params=params)
        alias = await http.get(spec.read_path or "", headers=AUTH,
                               params={"project_id": "proj", "agent_id": "agent",
                                       **extra.get(spec.name, {})})
        assert alias.json() == read.json()
        posted = await http.post(spec.path, headers=AUTH, json=params)
        assert read.status_code == 200, read.text
        assert read.json() == posted.json()
        check(document, body_schema(document, "GET", spec.read_path or "", "200"),
              read.json())
    unknown = await http.get("/v1/indexes", headers=AUTH,
                             params={"project_id": "proj", "colour": "red"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"]["field"] == "colour"
    # The document lists each twin's query parameters: the request's fields.
    documents = document["paths"]["/v1/indexes/documents"]["get"]["parameters"]
    assert {(p["name"], p["required"]) for p in documents} == {
        ("projectId", True), ("tenantId", False), ("agentId", False), ("name", True)}
    missing = await http.get("/v1/indexes/documents", headers=AUTH, params=IDENT)
    assert missing.status_code == 400
    assert missing.json()["error"]["details"]["field"] == "name"


def test_a_twin_of_a_read_with_non_text_fields_is_refused_at_definition() -> None:
    from voxmem._api import OperationSpec
    from voxmem._api_console import SearchIndexRequest

    with pytest.raises(TypeError, match="top_k"):
        OperationSpec("search_index", "POST", "/v1/indexes/search", SearchIndexRequest,
                      dict, "search", read_path="/v1/indexes/search")


@pytest.mark.parametrize(("op", "body", "field"), [
    ("save_response", {**IDENT, "user": USER, "userText": "a", "assistantText": "b",
                       "colour": "red"}, "colour"),
    ("search_memory", {**IDENT, "user": {**USER, "phone": "+15105550100"}, "query": "x"},
     "user.phone"),
    ("import_history", {**IDENT, "user": USER, "sessions": [{
        "startedAt": 1_700_000_000, "turns": [{"userText": "a", "when": 1}]}]},
     "sessions[0].turns[0].when"),
    ("create_index", {**IDENT, "name": "kb", "documents": [{"id": "d", "text": "t",
                                                           "body": "x"}]},
     "documents[0].body"),
])
async def test_unknown_fields_are_refused_naming_them(http: httpx.AsyncClient, op: str,
                                                      body: dict[str, Any],
                                                      field: str) -> None:
    before = (await http.get("/v1/runtime", headers=AUTH)).json()["stats"]["journalSeq"]
    response = await http.post(OPERATION_SPECS[op].path, json=body, headers=AUTH)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert error["details"]["field"] == field
    assert field.rsplit(".", 1)[-1] in error["message"]
    after = (await http.get("/v1/runtime", headers=AUTH)).json()["stats"]["journalSeq"]
    assert after == before


async def test_every_operation_refuses_an_unknown_field_by_name(
        http: httpx.AsyncClient) -> None:
    first: dict[str, dict[str, Any]] = {}
    for name, body in calls():
        first.setdefault(name, body)
    assert set(first) == set(OPERATION_SPECS)
    for name, spec in OPERATION_SPECS.items():
        body = {**first[name], "favouriteColour": "red"}
        response = await http.request(spec.method, spec.path, json=body, headers=AUTH)
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"]["details"]["field"] == "favouriteColour", name
        if spec.read_path:
            read = await http.get(spec.read_path, headers=AUTH,
                                  params={**IDENT, "favouriteColour": "red"})
            assert read.status_code == 400, (name, read.text)
            assert read.json()["error"]["details"]["field"] == "favouriteColour", name


async def test_snake_case_is_an_alias_and_both_spellings_at_once_are_refused(
        http: httpx.AsyncClient) -> None:
    path = OPERATION_SPECS["save_response"].path
    snake = {"project_id": "proj", "agent_id": "agent", "user": USER, "user_text": "a",
             "assistant_text": "b"}
    camel = {**IDENT, "user": USER, "userText": "a", "assistantText": "b"}
    for body in (snake, camel):
        response = await http.post(path, json=body, headers=AUTH)
        assert response.status_code == 200, response.text
    both = await http.post(path, json={**camel, "user_text": "c"}, headers=AUTH)
    assert both.status_code == 400
    assert both.json()["error"]["details"]["field"] == "userText"  # the wire's of the two


@pytest.mark.parametrize(("body", "field"), [
    ({"userText": 5, "assistantText": "b"}, "userText"),
    ({"assistantText": "b"}, "userText"),  # not sent: the wire's spelling
    ({"userText": "a", "assistantText": "b", "interrupted": "yes"}, "interrupted"),
    ({"userText": "a", "assistantText": "b", "toolCalls": [1]}, "toolCalls[0]"),
    ({"userText": "\u0000", "assistantText": "b"}, "userText"),  # the content checks
    ({"userText": "", "assistantText": ""}, "userText"),  # the operation's own checks
    ({"user_text": 5, "assistant_text": "b"}, "user_text"),
    ({"assistant_text": "b"}, "user_text"),
    ({"user_text": "a", "assistant_text": "b", "tool_calls": [1]}, "tool_calls[0]"),
])
async def test_errors_name_the_field_as_the_caller_spelled_it(
        http: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    # The OpenAPI document promises it (_COMMON_FIELDS); the runtime named every field
    # in snake_case, so a TypeScript caller sending userText was told of user_text.
    ident = IDENT if "userText" in body or "assistantText" in body else {
        "project_id": IDENT["projectId"], "agent_id": IDENT["agentId"]}
    response = await http.post(OPERATION_SPECS["save_response"].path, headers=AUTH,
                               json={**ident, "user": USER, **body})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["details"]["field"] == field
    other = python_name(field) if field != python_name(field) else None
    assert field.split("[")[0] in error["message"], error["message"]
    assert other is None or other.split("[")[0] not in error["message"], error["message"]


def test_a_response_missing_a_field_fails_its_schema() -> None:
    # The round trip above would pass vacuously if the schemas accepted anything.
    from voxmem.runtime._app import openapi_document

    document = openapi_document("test")
    ref = {"$ref": "#/components/schemas/SearchResponse"}
    good: dict[str, Any] = {"contextText": "", "profile": None, "working": [],
                            "permanent": [], "org": [], "sources": [],
                            "trace": {"degraded": False}}
    check(document, ref, good)
    for broken in ({k: v for k, v in good.items() if k != "contextText"},
                   {**good, "trace": {}}, {**good, "working": "none"}):
        with pytest.raises(jsonschema.ValidationError):
            check(document, ref, broken)
