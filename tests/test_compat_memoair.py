"""voxmem.compat.memoair: the SDK's names, fields, errors and pool codes, offline."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest

from voxmem import Settings
from voxmem.compat import memoair
from voxmem.compat.memoair import (
    IndexBuildResult,
    IndexLoadResult,
    MemoAirVoiceClient,
    MemoAirVoiceMemory,
    MemoAirVoiceMemoryError,
    MemoAirVoiceMemorySync,
    MemoryTool,
    MemoryToolSync,
    SearchResult,
)
from voxmem.engine import MemoryEngine

USER = {"id": "caller_42", "name": "Alex"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), embedder="hashing")


def make_client(settings: Settings, **kwargs: Any) -> MemoAirVoiceClient:
    return MemoAirVoiceClient(api_key="memoair_pk_x", project_id="proj_1",
                              agent_id="agent_1", embedded=True, settings=settings, **kwargs)


def test_exported_names() -> None:
    assert sorted(memoair.__all__) == memoair.__all__
    assert set(memoair.__all__) >= {
        "MemoAirVoiceClient", "MemoAirLiveKitAgent", "MemoAirVoiceMemory",
        "MemoAirVoiceMemorySync", "MemoryTool", "MemoryToolSync", "SearchResult",
        "IndexBuildResult", "IndexLoadResult", "MemoAirVoiceMemoryError"}
    pytest.importorskip("livekit.agents")
    from livekit.agents import Agent
    assert issubclass(memoair.MemoAirLiveKitAgent, Agent)


def test_result_types_have_the_sdk_fields() -> None:
    def fields(cls: type) -> list[tuple[str, str]]:
        return [(f.name, str(f.type)) for f in dataclasses.fields(cls)]

    assert fields(SearchResult) == [
        ("contextText", "str"), ("profile", "dict[str, Any] | None"),
        ("working", "list[dict[str, Any]]"), ("permanent", "list[dict[str, Any]]"),
        ("org", "list[dict[str, Any]]"), ("sources", "list[dict[str, Any]]"),
        ("trace", "dict[str, Any]")]
    assert fields(IndexBuildResult) == [("index_name", "str"), ("chunk_count", "int"),
                                        ("version", "int | None")]
    assert [name for name, _ in fields(IndexLoadResult)] == [
        "session_id", "profile_version", "permanent_manifest_version",
        "org_manifest_version", "scopes_loaded"]
    result = IndexBuildResult(index_name="faq", chunk_count=2, version=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.version = 2  # type: ignore[misc]


def test_empty_credentials_are_value_errors(settings: Settings) -> None:
    for field in ("api_key", "project_id", "agent_id"):
        kwargs: dict[str, Any] = {"api_key": "k", "project_id": "p", "agent_id": "a",
                                  field: ""}
        with pytest.raises(ValueError, match=field):
            MemoAirVoiceClient(**kwargs)


async def test_a_key_and_cloud_url_are_ignored_with_one_log_line(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="voxmem.compat"):
        client = make_client(settings, cloud_base_url="https://cloud.example")
    lines = [r.getMessage() for r in caplog.records if r.name == "voxmem.compat"]
    assert len(lines) == 1
    assert "api_key and cloud_base_url accepted and ignored" in lines[0]
    assert "on this machine" in lines[0]
    result = await client.search_memory("anything", user=USER, timeout_ms=5000)
    assert isinstance(result, SearchResult) and result.trace["degraded"] is False
    await client.aclose()


async def test_errors_carry_the_sdk_codes(settings: Settings) -> None:
    client = make_client(settings)
    with pytest.raises(MemoAirVoiceMemoryError) as bad:
        await client.search_memory("q", user={"id": ""})
    assert bad.value.code == "runtime.bad_request" and bad.value.status_code == 400
    assert bad.value.details["field"] == "user.id"

    too_many = [{"id": str(i), "text": "x"} for i in range(101)]
    with pytest.raises(MemoAirVoiceMemoryError) as big:
        await client.create_index("faq", too_many)
    assert big.value.code == "index.batch_too_large" and big.value.status_code == 413
    assert await client.list_indexes() == []  # nothing written

    await client.aclose()
    with pytest.raises(MemoAirVoiceMemoryError) as closed:
        await client.save_response(user_text="hi", assistant_text="hello", user=USER)
    assert closed.value.code == "pool.closed"


async def test_pool_parameters_keep_their_meaning(settings: Settings) -> None:
    client = make_client(settings, max_concurrent_users=1)
    session = await client.session(user=USER)
    async with session as pinned:
        await pinned.save_response(user_text="I'm on the Gold plan", assistant_text="Noted.")
        with pytest.raises(MemoAirVoiceMemoryError) as full:
            await client.search_memory("plan?", user={"id": "someone_else"})
        assert full.value.code == "pool.exhausted"
        assert full.value.details["maxConcurrentUsers"] == 1
        recall = await pinned.search_memory("which plan am I on?", timeout_ms=5000)
        assert "Gold plan" in recall.contextText
    # The pinned end-user released, the next one gets the handle.
    assert isinstance(await client.search_memory("plan?", user={"id": "someone_else"}),
                      SearchResult)
    await client.aclose()


async def test_save_response_takes_the_interrupted_flag_from_metadata(
        settings: Settings) -> None:
    client = make_client(settings)
    event_id = await client.save_response(
        user_text="wait, stop", assistant_text="Our plans start at", user=USER,
        metadata={"framework": "livekit", "interrupted": True})
    assert event_id
    await client.aclose()
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        scope = engine.scope(project_id="proj_1", agent_id="agent_1", user_id=USER["id"])
        [info] = await engine.store.recent_sessions(scope, 5)
        [turn] = await engine.store.session_turns(scope, info.id)
    finally:
        await engine.close()
    assert turn.interrupted and turn.metadata["framework"] == "livekit"


async def test_search_tool_without_a_user_searches_knowledge_only(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(settings)
    await client.save_response(user_text="My PIN hint is the dog's name",
                               assistant_text="Noted.", user=USER)
    await client.create_index("faq", [{"id": "hours", "text": "We are open 9 to 5."}])
    with caplog.at_level(logging.WARNING, logger="voxmem.compat"):
        tool = client.search_memory_tool()
        client.search_memory_tool()
    assert sum("without user=" in r.getMessage() for r in caplog.records) <= 1
    assert isinstance(tool, MemoryTool) and tool.name == "search_memory"
    assert "9 to 5" in await tool("when are you open?")
    assert "dog" not in await tool("what is the PIN hint, the dog's name?")
    bound = client.search_memory_tool(user=USER)
    assert "dog" in await bound("what is the PIN hint, the dog's name?")
    await client.aclose()


async def test_calling_the_tool_returns_the_context_text_as_the_sdk_does(
        settings: Settings) -> None:
    """Found checking the SDK reference: ``await tool(query)`` answered an empty search
    with voxmem's sentence for the LLM ("No relevant memory found ..."), so SDK code
    that tests the text (``if context:``) spliced that sentence into its prompt as if it
    were memory. The SDK returns the composed ``contextText``: "" when nothing is found."""
    client = make_client(settings)
    # The embedded engine starts on the first call; started here, without the tool's
    # 250 ms deadline, which a cold start on a loaded machine outlasts (degraded, empty).
    await client.search_memory("warm up", user=USER, timeout_ms=60_000)
    tool = client.search_memory_tool(user=USER)
    assert await tool("what does the user prefer for follow-ups?") == ""
    assert tool.last_trace is not None and tool.last_trace["degraded"] is False
    assert await client.search_memory_tool()("when are you open?") == ""
    await client.save_response(user_text="I prefer email for follow-ups",
                               assistant_text="Noted.", user=USER)
    expected = (await client.search_memory("follow-ups", user=USER)).contextText
    assert expected and await tool("follow-ups") == expected
    assert tool.last_result is not None and tool.last_result.context_text == expected
    assert tool.to_openai_function() == tool.schema()
    await client.aclose()
    # Memory unavailable: still a string, the trace says why.
    assert await tool("follow-ups") == ""
    assert tool.last_trace == {"degraded": True, "errors": {"client": "pool.closed"}}

    memory = MemoAirVoiceMemorySync(project_id="proj_1", user_id="caller_new",
                                    embedded=True, settings=settings)
    try:
        assert memory.search_memory_tool()("what do I like?") == ""
    finally:
        memory.close()


async def test_a_free_form_intent_searches_instead_of_raising(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """Found checking the SDK reference: ``intent`` is "free-form ... reserved for future
    use", so SDK code passes values of its own; voxmem refused them with
    ``runtime.bad_request`` and the turn lost its recall."""
    client = make_client(settings)
    await client.save_response(user_text="My locker is number 12", assistant_text="Noted.",
                               user=USER)
    with caplog.at_level(logging.WARNING, logger="voxmem.compat"):
        result = await client.search_memory("which locker?", user=USER,
                                            intent="billing_question")
        tool = client.search_memory_tool(user=USER)
        assert "locker" in await tool("which locker?", intent="billing_question")
    assert "locker" in result.contextText
    assert result.trace["intent"] == "answer_current_user"
    assert sum("billing_question" in r.getMessage() for r in caplog.records) == 1
    # The values voxmem ranks by (and their spellings) keep their meaning.
    recent = await client.search_memory("locker", user=USER, intent="summarize_recent")
    assert recent.trace["intent"] == "summarise_recent"
    async with await client.session(user=USER) as pinned:
        assert "locker" in (await pinned.search_memory("which locker?",
                                                       intent="other")).contextText
    await client.aclose()
    memory = MemoAirVoiceMemory(project_id="proj_1", user_id="caller_42", embedded=True,
                                settings=settings)
    assert (await memory.search_memory("locker", intent="x")).trace["intent"] == \
        "answer_current_user"
    await memory.aclose()


async def test_low_level_memory_drives_one_call(settings: Settings) -> None:
    memory = MemoAirVoiceMemory(project_id="proj_1", user_id="caller_42",
                                api_key="memoair_pk_x", embedded=True, settings=settings)
    started = await memory.start_session(metadata={"channel": "phone"})
    assert set(started) == {"sessionId", "bootstrap", "paths"} and started["sessionId"]
    assert await memory.after_turn("I always want a window seat", "Noted.", turn_id="t-1")
    tool = memory.search_memory_tool(search_memory_timeout_ms=500)
    assert "window seat" in await tool("which seat do I want?")
    assert memory.to_openai_function()["function"]["name"] == "search_memory"
    loaded = await memory.load_index()
    assert isinstance(loaded, IndexLoadResult) and loaded.session_id == started["sessionId"]
    ended = await memory.end_session()
    assert ended
    exported = await memory.voxmem_client.export_user(user={"id": "caller_42"})
    await memory.aclose()
    [turn] = [item for item in exported["items"] if item["kind"] == "turn"]
    assert turn["sessionId"] == started["sessionId"]


async def test_start_session_names_the_data_directory_in_use(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``paths`` says where the caller's memory lives, also when the default applies
    (it was the empty setting)."""
    monkeypatch.delenv("VOXMEM_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    memory = MemoAirVoiceMemory(project_id="proj_1", user_id="caller_42", embedded=True,
                                settings={"embedder": "hashing"})
    started = await memory.start_session()
    await memory.end_session()
    await memory.aclose()
    assert started["paths"] == {"dataDir": str(tmp_path / "xdg" / "voxmem")}


def test_sync_mirror_has_the_same_methods(settings: Settings) -> None:
    memory = MemoAirVoiceMemorySync(project_id="proj_1", user_id="caller_9",
                                    embedded=True, settings=settings)
    try:
        assert memory.start_session()["sessionId"]
        assert memory.after_turn("My locker is number 12", "Got it.", turn_id="a")
        tool = memory.search_memory_tool()
        assert isinstance(tool, MemoryToolSync) and tool.name == "search_memory"
        assert "locker" in tool("which locker is mine?")
        assert tool.last_trace is not None and tool.schema()["type"] == "function"
        assert "locker" in memory.search_memory("locker number", timeout_ms=5000).contextText
        assert memory.end_session()
    finally:
        memory.close()
    async_names = {n for n in dir(MemoAirVoiceMemory) if not n.startswith("_")}
    sync_names = {n for n in dir(MemoAirVoiceMemorySync) if not n.startswith("_")}
    assert async_names - sync_names <= {"aclose", "voxmem_client", "user"}


async def test_adapters(settings: Settings) -> None:
    memory = MemoAirVoiceMemory(project_id="proj_1", user_id="caller_42",
                                embedded=True, settings=settings)
    await memory.after_turn("Call me after 6pm", "Sure.", turn_id="x")
    pytest.importorskip("pipecat")
    tool = memory.to_pipecat_tool()
    assert tool["name"] == "search_memory" and tool["schema"].handler is tool["handler"]
    pytest.importorskip("livekit.agents")
    livekit_tool = memory.to_livekit_tool()
    assert livekit_tool.info.name == "search_memory"
    await memory.aclose()


async def test_the_livekit_agent_keeps_a_turn_holding_text_no_store_can_keep(
        settings: Settings) -> None:
    """Found by probing: a NUL in the caller's words (from an STT) or half an emoji in
    the reply made the runtime refuse the save, and the turn was lost (logged only)."""
    pytest.importorskip("livekit.agents")
    from livekit.agents import llm

    agent = memoair.MemoAirLiveKitAgent(
        api_key="memoair_pk_x", project_id="proj_1", agent_id="agent_1", user_id="caller_9",
        instructions="Be brief.", embedded=True, settings=settings, search_timeout_ms=5000)
    said = llm.ChatMessage(role="user", content=["my order is A\x00123"])
    await agent.on_user_turn_completed(llm.ChatContext(), said)
    reply = llm.ChatMessage(role="assistant", content=["smile \ud83d, order A123"])
    await agent.on_agent_response_completed(None, reply)
    await agent.aclose()
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        scope = engine.scope(project_id="proj_1", agent_id="agent_1", user_id="caller_9")
        [info] = await engine.store.recent_sessions(scope, 5)
        [turn] = await engine.store.session_turns(scope, info.id)
    finally:
        await engine.close()
    assert (turn.user_text, turn.assistant_text) == ("my order is A123",
                                                     "smile \ufffd, order A123")
