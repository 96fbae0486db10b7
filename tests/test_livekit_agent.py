"""MemoryAgent in a real in-process AgentSession: preload, recall placement, handoff, faults.

The LLM and the STT are fakes of external services (tests/livekit_fakes.py); the memory
client, engine and store are real, on a temporary data directory.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("livekit.agents")

from livekit.agents import Agent, AgentSession, RunContext, RunResult, function_tool, llm

from tests.livekit_fakes import (
    TEMPLATE,
    QueuedSTT,
    Replies,
    Reply,
    ScriptedLLM,
    by_user_text,
    make_client,
    make_settings,
    speech_session,
    stored_calls,
)
from voxmem import Settings, VoiceClient
from voxmem.integrations.livekit import (
    MEMORY_MESSAGE_ID,
    CallMemory,
    MemoryAgent,
    attach_memory,
    memory_tools,
)

CALLER = {"id": "caller-42", "name": "Dana"}
FIRST_CALL = "My dog Biscuit needs a grooming appointment, mornings suit me best"
SECOND_CALL = "What was my dog called again?"


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


BARE = "You are Ava, the front desk of Acme.\n\nKeep answers short."
LATER_CALL = "I moved to Lisbon last month, so please use the new address"


async def earlier_calls(client: VoiceClient) -> None:
    """Two past calls: the dog in the first, so the preload (the last call) lacks it."""
    await one_text_call(client, FIRST_CALL)
    await one_text_call(client, LATER_CALL)
    await client.flush()


async def one_text_call(client: VoiceClient, user_input: str, **agent_kwargs: Any) -> ScriptedLLM:
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE, **agent_kwargs)
    await session.start(agent)
    await session.run(user_input=user_input)
    await session.aclose()
    memory = CallMemory.of(session)
    assert memory is not None and await memory.wait_closed(5)
    return fake


async def test_second_call_is_answered_with_memory_of_the_first(client: VoiceClient) -> None:
    await one_text_call(client, FIRST_CALL)
    await client.flush()

    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE,
                        greeting_instructions="Greet the caller by name.")
    replies = Replies(session)
    await session.start(agent)
    await replies.wait(1)

    # Before the first reply the caller's memory is in its own message after the
    # instructions, which are exactly the template without the placeholder.
    (role, instructions), (memory_role, preload) = fake.texts(0)[:2]
    assert role == "system" and instructions == BARE
    assert memory_role == "system" and "Dana" in preload and "Biscuit" in preload
    assert fake.requests[0].items[1].id == MEMORY_MESSAGE_ID

    result: RunResult[None] = await session.run(user_input=SECOND_CALL)
    texts = fake.texts()
    assert texts[-1] == ("user", SECOND_CALL)
    # The first call is in the preload already: per-turn recall does not send it again.
    assert sum(FIRST_CALL in text for _, text in texts) == 1
    result.expect.next_event().is_message(role="assistant")
    await session.aclose()


async def test_a_turn_racing_on_enter_still_gets_the_preload(client: VoiceClient) -> None:
    await one_text_call(client, FIRST_CALL)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    await session.start(MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE))
    # No wait: on_enter may still be loading memory when the caller's words arrive.
    await session.run(user_input=SECOND_CALL)
    (_, system), (_, preload) = fake.texts(0)[:2]
    assert system == BARE and "Dana" in preload
    await session.aclose()


async def test_first_call_instructions_have_no_placeholder(client: VoiceClient) -> None:
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    await session.start(MemoryAgent(client=client, user="first-timer", instructions=TEMPLATE))
    await session.run(user_input="hello")
    # Nothing known yet: the placeholder's line is gone, the rest intact.
    assert fake.texts(0)[0][1] == "You are Ava, the front desk of Acme.\n\nKeep answers short."
    await session.aclose()


async def test_text_path_puts_recall_immediately_before_the_user_message(
        client: VoiceClient) -> None:
    await earlier_calls(client)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    await session.start(MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE))
    await session.run(user_input="hi there")
    await session.run(user_input=SECOND_CALL)

    texts = fake.texts()
    roles = [role for role, _ in texts]
    # instructions, preload, first exchange (its recall was for that turn only), recall,
    # question
    assert roles == ["system", "system", "user", "assistant", "system", "user"]
    assert texts[-1] == ("user", SECOND_CALL)
    assert texts[-2][1].startswith("## Memory") and "Biscuit" in texts[-2][1]
    assert fake.requests[-1].items[-2].id.startswith("voxmem_recall_")
    # The recall is not kept in the conversation history.
    history = [item for item in session.history.items if isinstance(item, llm.ChatMessage)]
    assert all(not (m.text_content or "").startswith("## Memory") for m in history)
    await session.aclose()


async def test_speech_path_recalls_in_the_hook_before_the_user_message(
        client: VoiceClient) -> None:
    await earlier_calls(client)
    fake, stt = ScriptedLLM(), QueuedSTT()
    session = speech_session(fake, stt, turn_handling={
        "preemptive_generation": {"enabled": False}})
    replies = Replies(session)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE)
    await session.start(agent)

    stt.say(SECOND_CALL)
    await replies.wait(1)

    texts = fake.texts()
    assert texts[-1] == ("user", SECOND_CALL)
    assert texts[-2][0] == "system" and "Biscuit" in texts[-2][1]
    memory = agent.memory
    assert memory is not None and memory.recalls == 1
    # LiveKit timed the hook for this turn: the speech path, not the text path, ran.
    user = [m for m in session.history.items
            if isinstance(m, llm.ChatMessage) and m.role == "user"][-1]
    assert "on_user_turn_completed_delay" in user.metrics
    await session.aclose()


class _EnterSignalling(MemoryAgent):
    """Signals when on_enter is done (memory loads before the class's own on_enter)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entered = asyncio.Event()

    async def on_enter(self) -> None:
        await super().on_enter()
        self.entered.set()


async def test_speech_path_with_preemptive_generation_recalls_once(
        client: VoiceClient, caplog: pytest.LogCaptureFixture) -> None:
    await earlier_calls(client)
    fake, stt = ScriptedLLM(), QueuedSTT()
    session = speech_session(fake, stt, turn_handling={
        "preemptive_generation": {"enabled": True}})
    replies = Replies(session)
    agent = _EnterSignalling(client=client, user=CALLER, instructions=TEMPLATE)
    await session.start(agent)
    await agent.entered.wait()  # the caller speaks once the agent is ready

    with caplog.at_level(logging.DEBUG, logger="livekit.agents"):
        stt.say(SECOND_CALL, preflight=True)
        reply = await replies.wait(1)

    assert reply.text_content == f"you said: {SECOND_CALL}"
    # The draft started before the turn ended was kept: the hook left its context alone.
    assert any("using preemptive generation" in r.getMessage() for r in caplog.records)
    assert len(fake.requests) == 1
    texts = fake.texts()
    assert texts[-1] == ("user", SECOND_CALL)
    assert texts[-2][0] == "system" and "Biscuit" in texts[-2][1]
    assert agent.memory is not None and agent.memory.recalls == 1
    await session.aclose()


async def test_recall_runs_once_per_user_turn_across_tool_steps(client: VoiceClient) -> None:
    await earlier_calls(client)
    script = by_user_text({SECOND_CALL: Reply(tool_calls=[("lookup_hours", {})])})
    fake = ScriptedLLM(script)

    @function_tool
    async def lookup_hours(context: RunContext[Any]) -> str:
        """Opening hours of the grooming salon."""
        return "open 8 to 12"

    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE,
                        tools=[lookup_hours])
    await session.start(agent)
    result: RunResult[None] = await session.run(user_input=SECOND_CALL)
    result.expect.next_event().is_function_call(name="lookup_hours")
    result.expect.next_event().is_function_call_output()
    result.expect.next_event().is_message(role="assistant")

    assert len(fake.requests) == 2  # the turn, then the tool's follow-up step
    for request in range(2):
        texts = fake.texts(request)
        user_at = texts.index(("user", SECOND_CALL))
        assert texts[user_at - 1][0] == "system" and "Biscuit" in texts[user_at - 1][1]
    assert agent.memory is not None and agent.memory.recalls == 1
    await session.aclose()


class _Receptionist(MemoryAgent):
    def __init__(self, client: VoiceClient, billing: Agent) -> None:
        super().__init__(client=client, user=CALLER, instructions=TEMPLATE)
        self._billing = billing

    @function_tool
    async def transfer_to_billing(self, context: RunContext[Any]) -> Agent:
        """Hand the caller to the billing agent."""
        return self._billing


async def test_handoff_keeps_memory_open_until_the_session_closes(
        client: VoiceClient, settings: Settings) -> None:
    script = by_user_text({"billing please": Reply(tool_calls=[("transfer_to_billing", {})])})
    fake = ScriptedLLM(script)
    billing = MemoryAgent(client=client, user=CALLER,
                          instructions="You are the billing desk.\n{{memory}}")
    receptionist = _Receptionist(client, billing)
    session: AgentSession[Any] = AgentSession(llm=fake)
    await session.start(receptionist)
    memory = receptionist.memory
    assert memory is not None

    await session.run(user_input="I need help with my dog Biscuit")
    result: RunResult[None] = await session.run(user_input="billing please")
    result.expect.contains_agent_handoff(new_agent_type=MemoryAgent)
    assert session.current_agent is billing
    # on_exit of the first agent has run; the call's memory is the same and still open.
    assert billing.memory is memory
    assert not await memory.wait_closed(0.05)

    await session.run(user_input="why was I charged twice for Biscuit")
    texts = fake.texts()
    assert texts[0][1].startswith("You are the billing desk")
    assert texts[-1] == ("user", "why was I charged twice for Biscuit")
    assert texts[-2][0] == "system" and "Biscuit" in texts[-2][1]

    await session.aclose()
    assert await memory.wait_closed(5)
    await client.aclose()
    calls = await stored_calls(settings, CALLER["id"])
    assert len(calls) == 1  # one call, despite two agents
    info, turns = calls[0]
    assert info.end_reason == "user_initiated"
    said = [t.user_text for t in turns]
    assert said == ["I need help with my dog Biscuit", "billing please",
                    "why was I charged twice for Biscuit"]
    assert [call["name"] for call in turns[1].tool_calls] == ["transfer_to_billing"]


async def test_memory_failure_mid_call_is_logged_and_the_agent_still_replies(
        client: VoiceClient, caplog: pytest.LogCaptureFixture) -> None:
    await one_text_call(client, FIRST_CALL)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE)
    await session.start(agent)
    await session.run(user_input="first question")

    await client.aclose()  # the memory goes away mid-call
    with caplog.at_level(logging.WARNING, logger="voxmem.livekit"):
        result: RunResult[None] = await session.run(user_input=SECOND_CALL)
        result.expect.next_event().is_message(role="assistant")
        assert fake.texts()[-1] == ("user", SECOND_CALL)
        assert not any(item.id.startswith("voxmem_recall_") for item in fake.requests[-1].items)
        await session.aclose()
        memory = agent.memory
        assert memory is not None and await memory.wait_closed(5)
    messages = [r.getMessage() for r in caplog.records]
    assert any("memory recall failed" in m for m in messages)
    assert any("could not save a turn" in m for m in messages)
    assert any("could not end the memory session" in m for m in messages)


class _SlowSearchClient(VoiceClient):
    """A client whose runtime stops answering searches (a hung process, say)."""

    async def search_memory(self, query: str, **kwargs: Any) -> Any:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")


async def test_recall_that_misses_its_deadline_does_not_hold_the_turn(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    client = _SlowSearchClient(project_id="proj", agent_id="front-desk", embedded=True,
                               settings=settings)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    await session.start(MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE,
                                    search_timeout_ms=50))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.WARNING, logger="voxmem.livekit"):
        result: RunResult[None] = await session.run(user_input="anything new?")
    assert loop.time() - started < 2.0
    result.expect.next_event().is_message(role="assistant")
    assert any("missed its 50 ms deadline" in r.getMessage() for r in caplog.records)
    await session.aclose()
    await client.aclose()


async def test_anonymous_caller_is_neither_recorded_nor_recalled(
        client: VoiceClient, settings: Settings) -> None:
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, instructions=TEMPLATE)  # no user, no LiveKit job
    await session.start(agent)
    await session.run(user_input=FIRST_CALL)
    await session.aclose()

    memory = agent.memory
    assert memory is not None and not memory.enabled and memory.identity.anonymous
    assert fake.texts(0)[0][1] == "You are Ava, the front desk of Acme.\n\nKeep answers short."
    assert memory.recalls == 0 and memory.saves == 0


async def test_memory_disabled_removes_the_placeholder() -> None:
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    await session.start(MemoryAgent(memory_enabled=False, instructions=TEMPLATE))
    await session.run(user_input="hello")
    assert fake.texts(0)[0][1] == "You are Ava, the front desk of Acme.\n\nKeep answers short."
    await session.aclose()


async def test_tenant_of_the_caller_must_match_the_client(
        client: VoiceClient, caplog: pytest.LogCaptureFixture) -> None:
    from voxmem.integrations.livekit import CallerIdentity

    identity = CallerIdentity(user_id="caller-9", source="job_metadata", tenant_id="acme")
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
    agent = MemoryAgent(client=client, user=identity, instructions=TEMPLATE)
    with caplog.at_level(logging.ERROR, logger="voxmem.livekit"):
        await session.start(agent)
    assert agent.memory is not None and not agent.memory.enabled
    assert any("tenant 'acme'" in r.getMessage() for r in caplog.records)
    await session.aclose()


async def test_agent_built_from_settings_owns_its_client(settings: Settings) -> None:
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
    agent = MemoryAgent(settings=settings, project_id="proj", agent_id="front-desk",
                        user=CALLER, instructions=TEMPLATE,
                        client_kwargs={"embedded": True})
    await session.start(agent)
    await session.run(user_input=FIRST_CALL)
    await session.aclose()
    memory = agent.memory
    assert memory is not None and await memory.wait_closed(5)
    calls = await stored_calls(settings, CALLER["id"])
    assert [t.user_text for t in calls[-1][1]] == [FIRST_CALL]


def test_constructor_is_keyword_only_and_checks_its_arguments() -> None:
    with pytest.raises(TypeError):
        MemoryAgent("instructions")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="client="):
        MemoryAgent(instructions=TEMPLATE)
    with pytest.raises(ValueError, match="project_id"):
        MemoryAgent(instructions=TEMPLATE, settings=Settings(embedder="hashing"))
    agent = MemoryAgent(memory_enabled=False, instructions=TEMPLATE,
                        tools=memory_tools(include=["search_knowledge"]))
    assert [tool.id for tool in agent.tools] == ["search_knowledge"]


BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"lanes": "permanent"}, "not the string 'permanent'"),
    ({"lanes": ("permanent", "memories")}, "unknown lane 'memories'"),
    ({"search_timeout_ms": float("nan")}, "search_timeout_ms"),
    ({"search_timeout_ms": "250"}, "search_timeout_ms"),
    ({"preload_timeout_ms": float("inf")}, "preload_timeout_ms"),
    ({"user": ""}, "non-empty user id"),
    ({"user": 42}, "non-empty user id"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
async def test_a_mistake_in_the_options_is_refused_when_the_agent_is_built(
        client: VoiceClient, options: dict[str, Any], message: str) -> None:
    """Found by probing: each of these was accepted, and then every turn's recall of every
    call failed (or memory was off for the call) with a warning only."""
    options = {"user": CALLER, **options}
    with pytest.raises(ValueError, match=re.escape(message)):
        MemoryAgent(client=client, instructions=TEMPLATE, **options)
    if "user" not in options or options["user"] is CALLER:
        with pytest.raises(ValueError, match=re.escape(message)):
            await attach_memory(AgentSession(llm=ScriptedLLM()), client=client, **options)


async def test_agent_built_from_settings_files_the_caller_under_their_tenant(
        settings: Settings) -> None:
    from voxmem.integrations.livekit import CallerIdentity

    identity = CallerIdentity(user_id="caller-t", source="job_metadata", tenant_id="acme")
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
    agent = MemoryAgent(settings=settings, project_id="proj", agent_id="front-desk",
                        user=identity, instructions=TEMPLATE, client_kwargs={"embedded": True})
    await session.start(agent)
    await session.run(user_input="my tenant is acme")
    await session.aclose()
    memory = agent.memory
    assert memory is not None and await memory.wait_closed(5)
    (_info, turns), = await stored_calls(settings, "caller-t", tenant_id="acme")
    assert [t.user_text for t in turns] == ["my tenant is acme"]
    assert await stored_calls(settings, "caller-t") == []  # nothing in the default tenant


async def test_memory_switched_off_by_policy_is_honoured(
        client: VoiceClient, settings: Settings) -> None:
    await one_text_call(client, FIRST_CALL)
    await client.flush()
    await client.set_memory_policy(memory_enabled=False)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user={"id": CALLER["id"]}, instructions=TEMPLATE)
    await session.start(agent)
    await session.run(user_input=SECOND_CALL)
    await session.aclose()
    memory = agent.memory
    assert memory is not None and await memory.wait_closed(5)

    # Nothing preloaded, nothing recalled: the placeholder is gone, no recall message.
    assert fake.texts()[0][1] == "You are Ava, the front desk of Acme.\n\nKeep answers short."
    assert [role for role, _ in fake.texts()] == ["system", "user"]
    await client.aclose()
    said = [t.user_text for _info, turns in await stored_calls(settings, CALLER["id"])
            for t in turns]
    assert SECOND_CALL not in said  # and nothing saved
