"""memory_tools in a real AgentSession: the scripted LLM calls them, the real client serves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("livekit.agents")

from livekit.agents import Agent, AgentSession, RunResult, llm

from tests.livekit_fakes import (
    TEMPLATE,
    Reply,
    ScriptedLLM,
    default_script,
    make_client,
    make_settings,
    stored_calls,
)
from voxmem import Settings, VoiceClient
from voxmem.integrations.livekit import (
    CallMemory,
    MemoryAgent,
    attach_memory,
    memory_tools,
    render_memory_instructions,
)

CALLER = {"id": "caller-5", "name": "Lee"}


def tool_script(chat_ctx: llm.ChatContext) -> Reply:
    """``call <tool> <json args>`` from the user makes the LLM call that tool."""
    last = chat_ctx.items[-1]
    if isinstance(last, llm.ChatMessage) and last.role == "user":
        text = last.text_content or ""
        if text.startswith("call "):
            _, name, args = text.split(" ", 2)
            return Reply(tool_calls=[(name, json.loads(args))])
    return default_script(chat_ctx)


async def run_tool(session: AgentSession[Any], name: str, **args: Any) -> llm.FunctionCallOutput:
    result: RunResult[None] = await session.run(user_input=f"call {name} {json.dumps(args)}")
    result.expect.next_event().is_function_call(name=name)
    output = result.expect.next_event().is_function_call_output().event().item
    result.expect.next_event().is_message(role="assistant")
    return output


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[VoiceClient]:
    client = make_client(settings)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def session(client: VoiceClient) -> AsyncIterator[AgentSession[Any]]:
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM(tool_script))
    await session.start(MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE,
                                    tools=memory_tools()))
    try:
        yield session
    finally:
        await session.aclose()


async def test_remember_recall_list_forget_a_detail(session: AgentSession[Any]) -> None:
    out = await run_tool(session, "remember_detail", memory_type="Favorite Color",
                         content="teal")
    assert out.output == "Remembered favorite_color: teal" and not out.is_error
    await run_tool(session, "remember_detail", memory_type="favorite_color", content="blue")

    out = await run_tool(session, "recall_detail", memory_type="favorite color")
    assert out.output == "favorite_color: blue"  # one value per slot: the latest
    out = await run_tool(session, "list_user_memories")
    assert "- favorite_color: blue" in out.output.splitlines()

    out = await run_tool(session, "forget_detail", memory_type="favorite_color")
    assert out.output == "Forgot favorite_color."
    out = await run_tool(session, "forget_detail", memory_type="favorite_color")
    assert out.output == "Nothing was stored under favorite_color."
    out = await run_tool(session, "recall_detail", memory_type="favorite_color")
    assert out.output.startswith("Nothing is stored under favorite_color")
    out = await run_tool(session, "list_user_memories")
    assert "favorite_color" not in out.output


async def test_update_profile_honours_the_allow_list(
        session: AgentSession[Any], client: VoiceClient) -> None:
    out = await run_tool(session, "update_profile", field="email", value="lee@example.com")
    assert out.output == "Updated email to lee@example.com." and not out.is_error
    preload = await client.preload(user=CALLER)
    assert preload.profile is not None and preload.profile["email"] == "lee@example.com"

    out = await run_tool(session, "update_profile", field="credit_limit", value="1000000")
    assert out.is_error
    assert "'credit_limit' cannot be changed" in out.output and "email" in out.output
    preload = await client.preload(user=CALLER)
    assert preload.profile is not None and "credit_limit" not in preload.profile


async def test_search_memories_finds_what_the_caller_said(session: AgentSession[Any]) -> None:
    await session.run(user_input="my router model is the XR500 and it keeps rebooting")
    memory = CallMemory.of(session)
    assert memory is not None
    await memory.flush()  # saves are written off the turn's path; wait for this one
    assert memory.saves == 1
    out = await run_tool(session, "search_memories", query="router model")
    assert "XR500" in out.output


async def test_sensitive_details_are_refused_with_a_reason(session: AgentSession[Any]) -> None:
    out = await run_tool(session, "remember_detail", memory_type="card",
                         content="4111 1111 1111 1111")
    assert out.is_error and out.output.startswith("Could not remember card:")
    assert "sensitive" in out.output


async def test_empty_arguments_are_tool_errors(session: AgentSession[Any]) -> None:
    out = await run_tool(session, "remember_detail", memory_type="  ", content="x")
    assert out.is_error and "memory_type" in out.output
    out = await run_tool(session, "search_memories", query=" ")
    assert out.is_error and "query is empty" in out.output


async def test_search_knowledge_reads_the_org_indexes_without_filler(
        client: VoiceClient) -> None:
    await client.create_index("faq", [
        {"id": "returns", "text": "Returns are accepted within 30 days with a receipt."},
        {"id": "hours", "text": "The shop is open 9am to 6pm, Monday to Saturday."}])
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM(tool_script))
    said: list[str] = []
    session.on("speech_created", lambda ev: said.append(ev.source))
    await session.start(Agent(instructions="x", tools=memory_tools(client=client)))
    out = await run_tool(session, "search_knowledge", query="return policy receipt")
    assert "30 days" in out.output
    assert "say" not in said  # a fast lookup gets no "one moment"
    await session.aclose()


class _SlowKnowledgeClient(VoiceClient):
    """A runtime under load: a search answers only once ``release`` is set."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.release = asyncio.Event()

    async def search_memory(self, query: str, **kwargs: Any) -> Any:
        await self.release.wait()
        return await super().search_memory(query, **kwargs)


async def test_slow_knowledge_search_says_one_moment_first(settings: Settings) -> None:
    client = _SlowKnowledgeClient(project_id="proj", agent_id="front-desk", embedded=True,
                                  settings=settings)
    await client.create_index("faq", [
        {"id": "returns", "text": "Returns are accepted within 30 days with a receipt."}])
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM(tool_script))
    spoken: list[str] = []

    def on_speech(ev: Any) -> None:
        spoken.append(ev.source)
        if ev.source == "say":
            client.release.set()  # the search answers once the filler is out, not before

    session.on("speech_created", on_speech)
    # A deadline far off: the filler is under test here, not the search's deadline.
    await session.start(Agent(instructions="x", tools=memory_tools(
        client=client, knowledge_timeout_ms=60_000)))
    out = await run_tool(session, "search_knowledge", query="return policy")
    assert "30 days" in out.output
    assert "say" in spoken
    # Spoken, not kept: the filler is no answer and must not be saved as one.
    history = [m.text_content for m in session.history.items
               if isinstance(m, llm.ChatMessage) and m.role == "assistant"]
    assert all("One moment" not in (text or "") for text in history)
    await session.aclose()
    await client.aclose()


async def test_anonymous_caller_gets_tool_errors_but_knowledge_works(
        client: VoiceClient) -> None:
    await client.create_index("faq", [{"id": "hours", "text": "Open 9am to 6pm."}])
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM(tool_script))
    await session.start(MemoryAgent(client=client, instructions=TEMPLATE,
                                    tools=memory_tools()))
    out = await run_tool(session, "remember_detail", memory_type="name", content="Lee")
    assert out.is_error and "not identified" in out.output
    out = await run_tool(session, "search_knowledge", query="opening hours")
    assert not out.is_error and "9am" in out.output
    await session.aclose()


async def test_memory_outage_becomes_a_tool_error_the_llm_can_use(
        client: VoiceClient) -> None:
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM(tool_script))
    await session.start(MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE,
                                    tools=memory_tools()))
    await client.aclose()
    out = await run_tool(session, "remember_detail", memory_type="diet", content="vegan")
    assert out.is_error
    assert out.output.startswith("Memory is unavailable right now (pool.closed)")
    assert "do not promise to remember" in out.output
    await session.aclose()


async def test_plain_agent_with_attach_memory_and_pinned_tools(
        client: VoiceClient, settings: Settings) -> None:
    await client.update_profile(user=CALLER, field="name", value="Lee")
    fake = ScriptedLLM(tool_script)
    session: AgentSession[Any] = AgentSession(llm=fake)
    memory = await attach_memory(session, client=client, user=CALLER)
    preload_text = memory.preload.context_text if memory.preload else None
    agent = Agent(instructions=render_memory_instructions(TEMPLATE, preload_text),
                  tools=memory_tools(client=client, user=CALLER))
    await session.start(agent)
    await run_tool(session, "remember_detail", memory_type="diet", content="vegetarian")
    await session.run(user_input="book me a table for Friday")
    await session.aclose()
    assert await memory.wait_closed(5)

    assert "Lee" in fake.texts(0)[0][1]  # preloaded into the plain agent's instructions
    await client.aclose()
    (info, turns), = await stored_calls(settings, CALLER["id"])
    assert info.ended_at is not None
    assert turns[-1].user_text == "book me a table for Friday"
    assert turns[0].tool_calls[0]["name"] == "remember_detail"


def test_unknown_tool_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown memory tools"):
        memory_tools(include=["remember_everything"])
    names = [tool.id for tool in memory_tools()]
    assert names == ["remember_detail", "recall_detail", "forget_detail", "search_memories",
                     "list_user_memories", "update_profile", "search_knowledge"]

