"""Outside-in probes: a runtime that accepts connections and never answers (a hung
process) must not hold a LiveKit or Pipecat call past the integration's own deadlines:
the call starts, the turn is answered, the call ends, and each memory tool answers.

Found from outside: the memory tools other than the searches (``remember_detail``,
``recall_detail``, ``forget_detail``, ``list_user_memories``, ``update_profile``) waited
for the client's general request timeout (30 s by default) while the model's tool step,
and so the caller's turn, waited with them.

The hung runtime is a real TCP server on loopback that reads requests and never writes a
byte back. The tests' outer ``asyncio.wait_for`` bounds are guards far above the tools'
deadline and far below the client's 30 s, so they fail only if a tool waits for the latter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from voxmem import VoiceClient

CALLER = {"id": "caller-hung", "name": "Hana"}
#: Far above a tool's 1 s deadline, far below the client's 30 s request timeout.
GUARD_S = 12.0


@pytest.fixture
async def hung_runtime() -> AsyncIterator[str]:
    release = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        release.set()
        server.close()
        await server.wait_closed()


@pytest.fixture
async def client(hung_runtime: str) -> AsyncIterator[VoiceClient]:
    client = VoiceClient(project_id="proj", agent_id="desk", runtime_url=hung_runtime,
                         api_key="token")
    try:
        yield client
    finally:
        await client.aclose()


TOOL_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("remember_detail", {"memory_type": "pet", "content": "a cat called Miso"}),
    ("recall_detail", {"memory_type": "pet"}),
    ("forget_detail", {"memory_type": "pet"}),
    ("list_user_memories", {}),
    ("update_profile", {"field": "timezone", "value": "Europe/Lisbon"}),
]


@pytest.mark.parametrize(("name", "args"), TOOL_CALLS)
async def test_pipecat_tools_answer_within_their_deadline(
        client: VoiceClient, name: str, args: dict[str, Any]) -> None:
    pytest.importorskip("pipecat")
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.services.llm_service import FunctionCallParams

    from voxmem.integrations.pipecat import memory_tools

    (tool,) = [t for t in memory_tools(client=client, user=CALLER, timeout_ms=200)
               if t.name == name]
    answers: list[Any] = []

    async def result_callback(result: Any, **_: Any) -> None:
        answers.append(result)

    assert tool.handler is not None
    await asyncio.wait_for(tool.handler(FunctionCallParams(
        function_name=name, tool_call_id="call-1", arguments=args,
        llm=cast(Any, None), pipeline_worker=cast(Any, None), context=LLMContext(),
        result_callback=result_callback)), GUARD_S)
    (answer,) = answers
    assert "unavailable" in answer and "timeout" in answer.lower()


@pytest.mark.parametrize(("name", "args"), TOOL_CALLS)
async def test_livekit_tools_answer_within_their_deadline(
        client: VoiceClient, name: str, args: dict[str, Any]) -> None:
    pytest.importorskip("livekit.agents")
    from livekit.agents import Agent, AgentSession, RunResult, llm

    from tests.livekit_fakes import Reply, ScriptedLLM, default_script
    from voxmem.integrations.livekit import memory_tools

    def script(chat_ctx: llm.ChatContext) -> Reply:
        last = chat_ctx.items[-1]
        if isinstance(last, llm.ChatMessage) and last.role == "user":
            return Reply(tool_calls=[(name, args)])
        return default_script(chat_ctx)

    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM(script))
    await session.start(Agent(instructions="Be brief.",
                              tools=memory_tools(client=client, user=CALLER, timeout_ms=200)))
    try:
        result: RunResult[None] = await asyncio.wait_for(
            session.run(user_input=json.dumps(args)), GUARD_S)
        result.expect.next_event().is_function_call(name=name)
        output = result.expect.next_event().is_function_call_output().event().item
        assert output.is_error and "unavailable" in output.output
        result.expect.next_event().is_message(role="assistant")
    finally:
        await session.aclose()


async def test_a_livekit_call_goes_on_against_a_hung_runtime(client: VoiceClient) -> None:
    pytest.importorskip("livekit.agents")
    from livekit.agents import AgentSession, RunResult

    from tests.livekit_fakes import TEMPLATE, ScriptedLLM
    from voxmem.integrations.livekit import MemoryAgent

    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE,
                        search_timeout_ms=100, preload_timeout_ms=200)
    await asyncio.wait_for(session.start(agent), GUARD_S)
    result: RunResult[None] = await asyncio.wait_for(
        session.run(user_input="when do you open?"), GUARD_S)
    result.expect.next_event().is_message(role="assistant")
    assert fake.texts()[-1] == ("user", "when do you open?")
    await asyncio.wait_for(session.aclose(), GUARD_S)


async def test_a_pipecat_call_goes_on_against_a_hung_runtime(client: VoiceClient) -> None:
    pytest.importorskip("pipecat")
    from voxmem.integrations.pipecat import MemoryProcessor

    processor = MemoryProcessor(client=client, user=CALLER, search_timeout_ms=100,
                                preload_timeout_ms=200, close_timeout_s=1.0)
    await asyncio.wait_for(processor.open(user=CALLER), GUARD_S)
    await asyncio.wait_for(processor.aclose(), GUARD_S)


async def test_a_livekit_call_ends_within_its_close_budget_on_a_hung_runtime(
        client: VoiceClient) -> None:
    # The opening (start_session, preload) never answers; the end of the call waits for
    # it at most close_timeout_s, as Pipecat's does, instead of the client's request
    # timeouts (30 s each for the session's start and the preload).
    pytest.importorskip("livekit.agents")
    from livekit.agents import AgentSession, RunResult

    from tests.livekit_fakes import TEMPLATE, ScriptedLLM
    from voxmem.integrations.livekit import MemoryAgent

    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE,
                        search_timeout_ms=100, preload_timeout_ms=200, close_timeout_s=0.5)
    await asyncio.wait_for(session.start(agent), GUARD_S)
    result: RunResult[None] = await asyncio.wait_for(
        session.run(user_input="when do you open?"), GUARD_S)
    result.expect.next_event().is_message(role="assistant")
    memory = agent.memory
    assert memory is not None and memory.opening
    await asyncio.wait_for(session.aclose(), GUARD_S)
    # Saves (0.5 s), the opening (0.5 s) and end_session (0.5 s): far inside the guard.
    assert await memory.wait_closed(GUARD_S)
    assert not memory.opening
