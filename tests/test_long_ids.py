"""Ids and names of any length at the door: a tenant, project or agent id, or a caller's
name, of 10,000 characters is refused naming the field and nothing is written, like a
caller id, over REST and in-process, on both store backends.

Found from outside: a 10,000-character project, agent or tenant id was accepted and
stored on every row of the call, and a 10,000-character caller name went into the
session-start block, while the same length of caller id was refused.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from voxmem._exceptions import BadRequest
from voxmem._operations import OPERATIONS, dispatch
from voxmem.engine import MemoryEngine

TOKEN = "long-ids-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
LONG = "z" * 10_000
USER = {"id": "caller-1", "name": "Ada"}


def save(**over: Any) -> dict[str, Any]:
    return {"project_id": "proj", "agent_id": "agent", "user": USER, "user_text": "hello",
            "assistant_text": "hi", **over}


@pytest.mark.parametrize(("op", "body", "field"), [
    ("save_response", save(project_id=LONG), "project_id"),
    ("save_response", save(tenant_id=LONG), "tenant_id"),
    ("save_response", save(agent_id=LONG), "agent_id"),
    ("save_response", save(user={"id": "caller-2", "name": LONG}), "user.name"),
    ("start_session", {"project_id": "proj", "user": {"id": "caller-3", "name": LONG}},
     "user.name"),
    ("create_index", {"project_id": LONG, "name": "kb",
                      "documents": [{"id": "d1", "text": "opening hours"}]}, "project_id"),
    ("search_memory", {"project_id": LONG, "user": USER, "query": "hello"}, "project_id"),
])
async def test_overlong_ids_and_names_are_refused_and_nothing_is_written(
        http: httpx.AsyncClient, engine: MemoryEngine, op: str, body: dict[str, Any],
        field: str) -> None:
    response = await http.post(OPERATIONS[op].path, json=body, headers=AUTH)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_request" and error["details"]["field"] == field
    await engine.flush(30)
    assert engine.writes.journal.last_seq == 0
    assert await engine.list_projects() == []


async def test_overlong_project_id_is_refused_in_process_too(engine: MemoryEngine) -> None:
    with pytest.raises(BadRequest) as raised:
        await dispatch(engine, "save_response", save(project_id=LONG))
    assert raised.value.details["field"] == "project_id"


async def test_ids_at_the_limit_are_accepted(http: httpx.AsyncClient,
                                             engine: MemoryEngine) -> None:
    at_limit = "p" * 256
    body = save(project_id=at_limit, agent_id="a" * 256,
                user={"id": "u" * 256, "name": "N" * 256})
    response = await http.post(OPERATIONS["save_response"].path, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    await engine.flush(30)
    assert await engine.list_projects() == [("default", at_limit)]


async def test_overlong_document_id_message_names_the_limit(http: httpx.AsyncClient) -> None:
    body = {"project_id": "proj", "name": "kb", "documents": [{"id": LONG, "text": "t"}]}
    response = await http.post(OPERATIONS["create_index"].path, json=body, headers=AUTH)
    assert response.status_code == 400
    assert "256" in response.json()["error"]["message"]
