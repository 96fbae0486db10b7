"""The embedded clients: bad input per SPEC §12, async/sync parity, index batches."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import inspect
from typing import Any

import pytest

from voxmem import BadRequest, Settings, VoiceClient, VoiceClientSync

USER = {"id": "caller-1", "name": "Ada"}


async def stored_items(client: VoiceClient) -> int:
    await client.flush()
    engine = await client._transport.engine()  # type: ignore[attr-defined]
    scope = engine.scope(project_id="proj", agent_id="agent", user_id="caller-1")
    return int(await engine.store.count_items(scope))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"user": {"id": ""}}, "user.id"),
    ({"user": {"name": "no id"}}, "user.id"),
    ({"user": None}, "user"),
    ({"user": {"id": 42}}, "user.id"),
    ({"user": USER, "lanes": ["profile", "gossip"]}, "lanes"),
    ({"user": USER, "lanes": "org"}, "lanes"),
    ({"user": USER, "timeout_ms": -5}, "timeout_ms"),
    ({"user": USER, "timeout_ms": True}, "timeout_ms"),
    ({"user": USER, "top_k": {"org": 500}}, "top_k"),
    ({"user": USER, "mode": "turbo"}, "mode"),
])
async def test_search_rejects_bad_input_naming_the_field(client: VoiceClient,
                                                         kwargs: dict[str, Any],
                                                         field: str) -> None:
    with pytest.raises(BadRequest) as err:
        await client.search_memory("hello", **kwargs)
    assert err.value.code == "bad_request"
    assert err.value.field == field
    assert err.value.status_code == 400


@pytest.mark.parametrize(("kwargs", "field", "status"), [
    ({"user_text": 12, "assistant_text": "x"}, "user_text", 400),
    ({"user_text": "x", "assistant_text": None}, "assistant_text", 400),
    ({"user_text": "x" * 70_000, "assistant_text": "x"}, "user_text", 413),
    ({"user_text": "", "assistant_text": ""}, "user_text", 400),
    ({"user_text": "x", "assistant_text": "y", "tool_calls": "nope"}, "tool_calls", 400),
    ({"user_text": "x", "assistant_text": "y", "metadata": [1]}, "metadata", 400),
    ({"user_text": "bad \udcff surrogate", "assistant_text": "y"}, "user_text", 400),
])
async def test_save_rejects_bad_input_and_writes_nothing(
        client: VoiceClient, kwargs: dict[str, Any], field: str, status: int) -> None:
    with pytest.raises(BadRequest) as err:
        await client.save_response(user=USER, **kwargs)
    # Named as this client's caller knows it (the parameter), though it went out as the
    # wire's camelCase and the runtime names a field as it was sent.
    assert err.value.field == field
    assert field in err.value.message and "Text" not in err.value.message, err.value.message
    assert err.value.status_code == status
    assert await stored_items(client) == 0


async def test_index_batch_limits_refuse_and_write_nothing(client: VoiceClient) -> None:
    too_many = [{"id": f"d{i}", "text": "x"} for i in range(101)]
    with pytest.raises(BadRequest) as err:
        await client.create_index("kb", too_many)
    assert (err.value.code, err.value.status_code) == ("index.batch_too_large", 413)
    too_big = [{"id": f"d{i}", "text": "y" * 20_000} for i in range(60)]
    with pytest.raises(BadRequest) as err:
        await client.create_index("kb", too_big)
    assert (err.value.code, err.value.status_code) == ("index.batch_too_large", 413)
    with pytest.raises(BadRequest) as err:
        await client.create_index("kb", [{"id": "a", "text": "ok"}, {"id": "a", "text": "b"}])
    assert err.value.field == "documents[1].id"
    with pytest.raises(BadRequest) as err:
        await client.create_index("bad name!", [{"id": "a", "text": "ok"}])
    assert err.value.field == "name"
    assert await client.list_indexes() == []


async def test_index_build_append_replace_and_list(client: VoiceClient) -> None:
    r1 = await client.create_index("kb", [{"id": "a", "text": "Alpha policy text."},
                                          {"id": "b", "text": "Beta policy text."}])
    r2 = await client.create_index("kb", [{"id": "a", "text": "Alpha policy, revised."}])
    assert (r1.version, r2.version, r1.chunk_count, r2.chunk_count) == (1, 2, 2, 1)
    (listing,) = await client.list_indexes()
    assert (listing["name"], listing["version"], listing["documentCount"]) == ("kb", 2, 2)


async def test_user_id_alias_and_round_trip(client: VoiceClient) -> None:
    event = await client.save_response(user_text="I bank with Northwind",
                                       assistant_text="Thanks", user_id="caller-1")
    assert event and event.startswith("evt_")
    result = await client.search_memory("which bank", user={"id": "caller-1"})
    assert "Northwind" in result.contextText
    with pytest.raises(BadRequest):
        await client.search_memory("x", user={"id": "a"}, user_id="b")


async def test_import_history_validates_timestamps(client: VoiceClient) -> None:
    with pytest.raises(BadRequest) as err:
        await client.import_history(user=USER, sessions=[{"started_at": "yesterday",
                                                          "turns": []}])
    assert err.value.field == "sessions[0].started_at"
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=10)
    out = await client.import_history(user=USER, sessions=[{
        "started_at": when.isoformat(),
        "turns": [{"user_text": "I moved to Lisbon", "assistant_text": "Noted"}]}])
    assert out == {"sessions": 1, "turns": 1, "outsideRetention": 0, "skipped": 0}
    result = await client.search_memory("when did I move to Lisbon", user=USER)
    assert f"On {when.date().isoformat()} the caller said" in result.contextText


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in inspect.getmembers(cls)
            if callable(fn) and not name.startswith("_")}


#: Methods that do no I/O (they build context managers and tool objects), so they are
#: plain functions on both clients.
NO_IO_METHODS = {"session", "search_memory_tool", "to_openai_function", "to_livekit_tool",
                 "to_pipecat_tool"}


def test_sync_and_async_clients_have_the_same_surface() -> None:
    async_api = public_methods(VoiceClient)
    sync_api = public_methods(VoiceClientSync)
    async_api.pop("aclose")
    sync_api.pop("close")
    assert async_api.keys() == sync_api.keys()
    assert async_api.keys() >= NO_IO_METHODS
    for name, sig in async_api.items():
        assert sig.parameters == sync_api[name].parameters, name
        if name != "session":  # CallerSession vs CallerSessionSync
            assert sig.return_annotation == sync_api[name].return_annotation, name
        is_async = name not in NO_IO_METHODS
        assert inspect.iscoroutinefunction(getattr(VoiceClient, name)) is is_async, name
        assert not inspect.iscoroutinefunction(getattr(VoiceClientSync, name)), name
    assert inspect.signature(VoiceClient.__init__) == inspect.signature(
        VoiceClientSync.__init__)


def test_sync_client_gives_the_same_results(settings: Settings) -> None:
    with VoiceClientSync(project_id="proj", agent_id="agent", embedded=True,
                         settings=settings) as client:
        client.save_response(user_text="My favourite colour is teal",
                             assistant_text="Teal, lovely", user=USER)
        result = client.search_memory("favourite colour", user=USER)
        assert "teal" in result.contextText
        with pytest.raises(BadRequest):
            client.search_memory("x", user={"id": ""})


@pytest.mark.parametrize("deadline_s", [0.002, 0.005, 0.01, 0.02, 0.05])
async def test_a_first_call_cut_off_by_its_deadline_leaves_the_client_working(
        tmp_path: Any, deadline_s: float) -> None:
    """Found by probing (a LiveKit handoff test failing on a loaded machine): the first
    call's deadline (the preload's) cancelled the engine's start half-way, its executors
    were shut, and every later call of the client failed with "cannot schedule new
    futures after shutdown". Several deadlines, so one lands inside the start."""
    c = VoiceClient(project_id="proj", agent_id="agent", embedded=True,
                    settings=Settings(data_dir=str(tmp_path / "data"), embedder="hashing"))
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(c.preload(user=USER), deadline_s)
        assert await c.save_response(user=USER, user_text="hello", assistant_text="hi")
        assert (await c.preload(user=USER)).profile is not None
    finally:
        await c.aclose()
