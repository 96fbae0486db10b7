"""Memory management through the public clients and the REST API: list, delete,
slots, memories written this call, policies, merges, export and erasure."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from voxmem import BadRequest, NotFound, Settings, VoiceClient, VoiceClientSync
from voxmem._operations import OPERATIONS
from voxmem.engine import MemoryEngine
from voxmem.runtime import create_app

USER = {"id": "caller-7", "name": "Rae"}
TOKEN = "memories-test-token-123"


async def test_memories_lifecycle_through_the_client(client: VoiceClient) -> None:
    started = await client.start_session(user=USER, session_id="call-1")
    assert started["sessionId"] == "call-1"
    await client.save_response(user=USER, user_text="I'm vegetarian, and email is best",
                               assistant_text="Noted: vegetarian, email.")
    await client.remember(user=USER, memory_type="seat", content="aisle seat")
    # wait=True returns when the call's learning is done: no polling against a clock,
    # which a loaded machine can outlast.
    ended = await client.end_session(user=USER, report={"duration_s": 42}, wait=True)
    assert ended["learning"]["status"] == "learned", ended["learning"]
    facts = await client.list_memories(user=USER)
    assert any(f["slotKey"] == "diet" for f in facts)
    this_call = await client.session_memories(user=USER, session_id="call-1")
    assert {f["slotKey"] for f in this_call} >= {"diet", "seat"}
    assert await client.recall(user=USER, memory_type="seat") == "aisle seat"
    diet = next(f for f in facts if f["slotKey"] == "diet")
    await client.delete_memory(diet["id"], user=USER)
    assert all(f["id"] != diet["id"] for f in await client.list_memories(user=USER))
    deleted = [f for f in await client.list_memories(user=USER, include_deleted=True)
               if f["id"] == diet["id"]]
    assert deleted and deleted[0]["deletedAt"]
    with pytest.raises(NotFound):
        await client.delete_memory("fact_nope", user=USER)
    assert await client.forget(user=USER, memory_type="seat") is True
    assert await client.recall(user=USER, memory_type="seat") is None
    exported = await client.export_user(user=USER)
    assert exported["userId"] == "caller-7"
    assert exported["sessions"][0]["report"] == {"duration_s": 42}
    assert any(i["kind"] == "turn" for i in exported["items"])


async def test_policy_merge_and_forget(client: VoiceClient) -> None:
    policy = await client.set_memory_policy(memory_enabled=True, memory_retention_days=30)
    assert policy["project"]["retentionDays"] == 30
    await client.set_memory_policy(memory_enabled=False, level="agent")
    assert (await client.get_memory_policy())["agents"]["agent"]["memoryEnabled"] is False
    assert await client.save_response(user=USER, user_text="hi", assistant_text="hey") is None
    await client.set_memory_policy(memory_enabled=True, memory_retention_days=30,
                                   level="agent")
    with pytest.raises(BadRequest) as err:
        await client.set_memory_policy(memory_retention_days=-1)
    assert err.value.field == "memory_retention_days"

    guest = {"id": "guest-1"}
    await client.save_response(user=guest, user_text="my order is QX-5521",
                               assistant_text="Found it")
    moved = await client.merge_users("guest-1", "caller-7")
    assert moved["itemsMoved"] >= 1
    # The merged caller is loaded afresh here: a generous deadline, so a loaded machine
    # cannot turn this into a degraded (empty) answer. Deadlines have their own tests.
    result = await client.search_memory("order QX-5521", user=USER, timeout_ms=30_000)
    assert "QX-5521" in result.contextText
    erased = await client.forget_user(user=USER)
    assert erased["items"] >= 1
    assert await client.list_memories(user=USER, include_deleted=True) == []
    after = await client.search_memory("order QX-5521", user=USER, timeout_ms=30_000)
    assert not after.trace["degraded"]
    assert "QX-5521" not in after.contextText


def test_sync_client_manages_memories(settings: Settings) -> None:
    with VoiceClientSync(project_id="proj", agent_id="agent", embedded=True,
                         settings=settings) as client:
        client.remember(user=USER, memory_type="language", content="Portuguese")
        assert client.recall(user=USER, memory_type="language") == "Portuguese"
        assert [f["slotKey"] for f in client.list_memories(user=USER)] == ["language"]
        assert client.forget_user(user=USER)["items"] >= 1


async def test_memory_routes_over_rest(settings: Settings) -> None:
    engine = MemoryEngine(settings)
    await engine.start()
    app = create_app(engine, token=TOKEN)
    auth = {"authorization": f"Bearer {TOKEN}"}
    ident = {"project_id": "proj", "agent_id": "agent", "user": USER}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://runtime") as http:
            async def post(op: str, **body: Any) -> httpx.Response:
                return await http.post(OPERATIONS[op].path, json={**ident, **body},
                                       headers=auth)

            assert (await post("remember", memory_type="plan", content="premium")).status_code \
                == 200
            listed = (await post("list_memories")).json()
            assert [f["slotKey"] for f in listed] == ["plan"]
            bad = await post("remember", memory_type="Not A Slot", content="x")
            assert bad.status_code == 400
            assert bad.json()["error"]["details"]["field"] == "memory_type"
            missing = await post("delete_memory", memory_id="fact_missing")
            assert missing.status_code == 404
            gone = await post("forget_user")
            assert gone.status_code == 200 and gone.json()["items"] == 1
            assert (await post("list_memories")).json() == []
    finally:
        await engine.close()
