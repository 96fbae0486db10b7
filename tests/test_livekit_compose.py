"""Memory for agent classes the user already has, cacheable prompts, recall role, compaction.

A real ``AgentSession`` runs in-process with the fake LLM and fake streaming STT of
tests/livekit_fakes.py; the memory client, engine and store are real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

pytest.importorskip("livekit.agents")

from livekit.agents import Agent, AgentSession, RunContext, RunResult, function_tool, llm
from livekit.agents.llm.chat_context import Instructions
from livekit.agents.voice import ModelSettings

from tests.livekit_fakes import (
    QueuedSTT,
    RecordingRealtimeModel,
    Replies,
    Reply,
    ScriptedLLM,
    by_user_text,
    make_client,
    make_settings,
    speech_session,
)
from voxmem import Settings, VoiceClient
from voxmem.compaction import _tokens
from voxmem.integrations.livekit import (
    COMPACTED_MESSAGE_ID,
    MEMORY_MESSAGE_ID,
    CallMemory,
    CompactionOptions,
    MemoryAgent,
    MemoryMixin,
    attach_memory,
)

CALLER = {"id": "caller-7", "name": "Robin"}
PAST = "My parrot Kiwi needs her wings clipped, afternoons are best for me"
LATER = "I changed my phone number last week, the new one ends in 0182"
QUESTION = "What was my parrot called again?"
PROMPT = "You are Sam, the front desk of Feathers & Co. Short spoken answers."


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


async def past_calls(client: VoiceClient, user: dict[str, str] = CALLER) -> None:
    """Two earlier calls; the parrot is in the first, so only recall can bring it back."""
    for words in (PAST, LATER):
        session: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
        await session.start(MemoryAgent(client=client, user=user, instructions=PROMPT))
        await session.run(user_input=words)
        await session.aclose()
        memory = CallMemory.of(session)
        assert memory is not None and await memory.wait_closed(5)
    await client.flush()


def recall_before(request: llm.ChatContext, text: str) -> llm.ChatMessage:
    """The recall message right before the user message ``text``; fails if absent."""
    index = next(i for i, item in enumerate(request.items)
                 if isinstance(item, llm.ChatMessage) and item.role == "user"
                 and item.text_content == text)
    recall = request.items[index - 1]
    assert isinstance(recall, llm.ChatMessage) and recall.id.startswith("voxmem_recall_")
    return recall


# -- a user's own Agent class -----------------------------------------------------------------
class CompanyAgent(Agent):
    """What a team already has: its own base with its own constructor and hooks."""

    def __init__(self, *, department: str) -> None:
        super().__init__(instructions=PROMPT)
        self.department = department
        self.turns_seen = 0

    async def on_user_turn_completed(self, turn_ctx: llm.ChatContext,
                                     new_message: llm.ChatMessage) -> None:
        self.turns_seen += 1  # no super(): Agent's hook does nothing


class MemoryFirst(MemoryMixin, CompanyAgent):
    pass


class MemoryLast(CompanyAgent, MemoryMixin):
    pass


class OwnLLMNode(CompanyAgent, MemoryMixin):
    """Overrides llm_node and calls Agent.default.llm_node directly (no super())."""

    async def llm_node(self, chat_ctx: llm.ChatContext, tools: list[llm.Tool],
                       model_settings: ModelSettings) -> AsyncGenerator[Any, None]:
        chat_ctx.add_message(role="system", content="Department: " + self.department)
        async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
            yield chunk


@pytest.mark.parametrize("agent_class", [MemoryFirst, MemoryLast, OwnLLMNode])
async def test_users_own_agent_gets_preload_and_recall_on_the_text_path(
        client: VoiceClient, agent_class: type[CompanyAgent]) -> None:
    await past_calls(client)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    await attach_memory(session, client=client, user=CALLER)
    agent = agent_class(department="grooming")
    await session.start(agent)
    await session.run(user_input=QUESTION)

    request = fake.requests[-1]
    assert request.items[0].text_content == PROMPT  # type: ignore[union-attr]
    preload = request.get_by_id(MEMORY_MESSAGE_ID)
    assert isinstance(preload, llm.ChatMessage) and "0182" in (preload.text_content or "")
    assert "Kiwi" in (recall_before(request, QUESTION).text_content or "")
    assert agent.department == "grooming"  # the user's constructor ran untouched
    await session.aclose()


@pytest.mark.parametrize("agent_class", [MemoryFirst, MemoryLast, OwnLLMNode])
async def test_users_own_agent_gets_recall_on_the_speech_path(
        client: VoiceClient, agent_class: type[CompanyAgent]) -> None:
    await past_calls(client)
    fake, stt = ScriptedLLM(), QueuedSTT()
    session = speech_session(fake, stt)
    replies = Replies(session)
    await attach_memory(session, client=client, user=CALLER)
    agent = agent_class(department="grooming")
    await session.start(agent)
    stt.say(QUESTION)
    await replies.wait(1)

    assert "Kiwi" in (recall_before(fake.requests[-1], QUESTION).text_content or "")
    assert agent.turns_seen == 1  # the user's own hook still ran
    memory = CallMemory.of(session)
    assert memory is not None and memory.recalls == 1
    if agent_class is OwnLLMNode:
        assert ("system", "Department: grooming") in fake.texts()
    await session.aclose()


class OverridingMemoryAgent(MemoryAgent):
    """A MemoryAgent subclass whose llm_node skips super() and calls the default node."""

    async def llm_node(self, chat_ctx: llm.ChatContext, tools: list[llm.Tool],
                       model_settings: ModelSettings) -> AsyncGenerator[Any, None]:
        async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
            yield chunk

    async def on_enter(self) -> None:
        await super().on_enter()


async def test_memory_agent_subclass_overriding_llm_node_keeps_recall(
        client: VoiceClient) -> None:
    await past_calls(client)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = OverridingMemoryAgent(client=client, user=CALLER, instructions=PROMPT)
    await session.start(agent)
    await session.run(user_input=QUESTION)
    assert "Kiwi" in (recall_before(fake.requests[-1], QUESTION).text_content or "")
    memory = agent.memory
    assert memory is not None
    # on_enter runs through two wrapped classes; the call's memory was opened once.
    assert len([m for m in fake.requests[-1].items if m.id == MEMORY_MESSAGE_ID]) == 1
    await session.aclose()


class Billing(MemoryMixin, Agent):
    def __init__(self, chat_ctx: llm.ChatContext | None = None) -> None:
        super().__init__(instructions="You are the billing desk.", chat_ctx=chat_ctx)


class Reception(MemoryMixin, Agent):
    def __init__(self, *, pass_history: bool) -> None:
        super().__init__(instructions=PROMPT)
        self.pass_history = pass_history

    @function_tool
    async def transfer_to_billing(self, context: RunContext[Any]) -> Agent:
        """Hand the caller to billing."""
        return Billing(chat_ctx=self.chat_ctx if self.pass_history else None)


@pytest.mark.parametrize("pass_history", [True, False])
async def test_handoff_between_mixin_agents_sends_each_turn_once(
        client: VoiceClient, pass_history: bool) -> None:
    script = by_user_text({"billing please": Reply(tool_calls=[("transfer_to_billing", {})])})
    fake = ScriptedLLM(script)
    session: AgentSession[Any] = AgentSession(llm=fake)
    await attach_memory(session, client=client, user=CALLER)
    await session.start(Reception(pass_history=pass_history))
    await session.run(user_input="My budgie Pip has a sore foot")
    await session.run(user_input="billing please")
    memory = CallMemory.of(session)
    assert memory is not None
    await memory.flush()  # the first turn is written before it is searched for
    await session.run(user_input="what did I say about Pip")

    request = fake.requests[-1]
    assert request.items[0].text_content == "You are the billing desk."  # type: ignore[union-attr]
    # (the fake LLM's replies echo the caller, so only what the caller and memory say)
    everything = "\n".join(item.text_content or "" for item in request.items
                           if isinstance(item, llm.ChatMessage) and item.role != "assistant")
    # With the history passed on, the working lane is not searched again: the turn is
    # sent once. Without it, recall brings this call's turn back (once).
    lines = [line for line in everything.splitlines() if "My budgie Pip has a sore foot" in line]
    assert len(lines) == 1
    assert lines[0].startswith("- Earlier in this call") != pass_history
    await session.aclose()


# -- prompt caching -----------------------------------------------------------------------------
async def test_instructions_are_byte_identical_across_callers(client: VoiceClient) -> None:
    other = {"id": "caller-8", "name": "Alex"}
    await past_calls(client)
    await past_calls(client, other)
    sent: list[tuple[str, str]] = []
    for caller in (CALLER, other):
        fake = ScriptedLLM()
        session: AgentSession[Any] = AgentSession(llm=fake)
        await session.start(MemoryAgent(client=client, user=caller,
                                        instructions=PROMPT + "\n\n{{memory}}"))
        await session.run(user_input="hello")
        instructions, preload = fake.requests[-1].items[:2]
        assert isinstance(instructions, llm.ChatMessage) and isinstance(preload, llm.ChatMessage)
        assert preload.id == MEMORY_MESSAGE_ID
        sent.append((instructions.text_content or "", preload.text_content or ""))
        await session.aclose()
    assert sent[0][0] == sent[1][0] == PROMPT
    assert "Robin" in sent[0][1] and "Alex" in sent[1][1]


async def test_livekit_instructions_objects_are_accepted(client: VoiceClient) -> None:
    await past_calls(client)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    instructions = Instructions(PROMPT + "\n{{memory}}", text="Plain text, no markdown.")
    await session.start(MemoryAgent(client=client, user=CALLER, instructions=instructions))
    await session.run(user_input="hello")
    texts = fake.texts()
    assert texts[0][0] == "system" and texts[0][1].startswith(PROMPT)
    assert "{{memory}}" not in texts[0][1] and "0182" not in texts[0][1]
    preload = fake.requests[-1].get_by_id(MEMORY_MESSAGE_ID)
    assert isinstance(preload, llm.ChatMessage) and "0182" in (preload.text_content or "")
    await session.aclose()


# -- recall role --------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["system", "developer", "assistant"])
async def test_recall_message_role_is_configurable(client: VoiceClient, role: Any) -> None:
    await past_calls(client)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    await session.start(MemoryAgent(client=client, user=CALLER, instructions=PROMPT,
                                    recall_role=role))
    await session.run(user_input=QUESTION)
    assert recall_before(fake.requests[-1], QUESTION).role == role
    await session.aclose()


def test_unknown_recall_role_is_refused() -> None:
    with pytest.raises(ValueError, match="recall_role"):
        MemoryAgent(memory_enabled=False, instructions=PROMPT, recall_role="tool")  # type: ignore[arg-type]


# -- compaction of a long call ------------------------------------------------------------------
async def test_long_call_is_compacted_without_breaking_ids_or_tool_pairs(
        client: VoiceClient) -> None:
    @function_tool
    async def check_slots(context: RunContext[Any]) -> str:
        """Free grooming slots."""
        return "Thursday at two p m is free"

    script = by_user_text({"any slots?": Reply(tool_calls=[("check_slots", {})])})
    fake = ScriptedLLM(script)
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user=CALLER, instructions=PROMPT, tools=[check_slots],
                        compaction=CompactionOptions(after_tokens=120, keep_last_turns=4))
    _tokens._counter.cache_clear()
    await session.start(agent)
    # The tokenizer was loaded as the call opened, not in the caller's first turn.
    assert _tokens._counter.cache_info().currsize == 1
    await session.run(user_input="Hi, um, this is Robin Achterberg, account four four two one.")
    await session.run(user_input="any slots?")
    for _ in range(6):
        await session.run(user_input="Okay, uh-huh, yeah, okay, sure, one moment please.")
    await session.run(user_input="So can you book the Thursday one?")

    request = fake.requests[-1]
    ids = [item.id for item in request.items]
    record = request.get_by_id(COMPACTED_MESSAGE_ID)
    assert isinstance(record, llm.ChatMessage)
    text = record.text_content or ""
    assert "Robin Achterberg" in text and "four four two one" in text
    assert "Thursday at two p m" in text  # the tool's output, folded with its call
    assert "uh-huh" not in text
    # Instructions first, then the preload/record; the last turns verbatim, same ids.
    assert request.items[0].text_content == PROMPT  # type: ignore[union-attr]
    history = [item for item in session.history.items
               if isinstance(item, llm.ChatMessage) and item.role in ("user", "assistant")]
    kept = [item for item in request.items
            if isinstance(item, llm.ChatMessage) and item.role in ("user", "assistant")]
    # (the request was made before the last reply existed)
    assert [m.id for m in kept] == [m.id for m in history[-5:-1]]
    # No tool call without its output, or the other way round.
    calls = {item.call_id for item in request.items if isinstance(item, llm.FunctionCall)}
    outputs = {item.call_id for item in request.items
               if isinstance(item, llm.FunctionCallOutput)}
    assert calls == outputs
    assert len(ids) == len(set(ids))
    # The session's history keeps every turn.
    assert len(history) == 18
    await session.aclose()


async def test_short_call_is_not_compacted(client: VoiceClient) -> None:
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    await session.start(MemoryAgent(client=client, user=CALLER, instructions=PROMPT))
    await session.run(user_input="hello there")
    assert fake.requests[-1].get_by_id(COMPACTED_MESSAGE_ID) is None
    await session.aclose()


# -- realtime (speech-to-speech) models --------------------------------------------------------
async def test_realtime_session_gets_the_preload_in_its_instructions(
        client: VoiceClient) -> None:
    await past_calls(client)
    model = RecordingRealtimeModel()
    session: AgentSession[Any] = AgentSession(llm=model)
    with_memory = model.instructions_matching(lambda text: "0182" in text)
    await session.start(MemoryAgent(client=client, user=CALLER,
                                    instructions=PROMPT + "\n\n{{memory}}"))
    text = await asyncio.wait_for(with_memory, 5)
    # A realtime session takes one instructions string: the preload is in it, after the
    # instructions as written (placeholder removed).
    assert text.startswith(PROMPT + "\n\n## Memory") and "Robin" in text
    await session.aclose()



async def test_instructions_updated_mid_call_send_no_placeholder(client: VoiceClient) -> None:
    """Found walking the agent as a builder: ``update_instructions`` mid-call sent a
    ``{{memory}}`` in the new text to the model literally (the constructor removes it),
    and on a realtime model the new text dropped the caller's preload."""
    await past_calls(client)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user=CALLER, instructions=PROMPT + "\n\n{{memory}}")
    await session.start(agent)
    await session.run(user_input="hello")
    await agent.update_instructions("Habla español.\n\n{{memory}}")
    await session.run(user_input="hola")
    [instructions, memory] = [text for _, text in fake.texts(1)[:2]]
    assert instructions == "Habla español."
    assert memory.startswith("## Memory") and "Robin" in memory
    assert agent.instructions_template == "Habla español.\n\n{{memory}}"
    await session.aclose()

    model = RecordingRealtimeModel()
    session = AgentSession(llm=model)
    agent = MemoryAgent(client=client, user=CALLER, instructions=PROMPT + "\n\n{{memory}}")
    await session.start(agent)
    await asyncio.wait_for(model.instructions_matching(lambda text: "Robin" in text), 5)
    updated = model.instructions_matching(lambda text: text.startswith("Habla"))
    await agent.update_instructions("Habla español.\n\n{{memory}}")
    text = await asyncio.wait_for(updated, 5)
    assert text.startswith("Habla español.\n\n## Memory") and "Robin" in text
    assert "{{memory}}" not in text and text.count("## Memory") == 1
    await session.aclose()


class SuperCallingAgent(MemoryAgent):
    """An override that calls super().llm_node: both classes' wrappers see the request."""

    async def llm_node(self, chat_ctx: llm.ChatContext, tools: list[llm.Tool],
                       model_settings: ModelSettings) -> AsyncGenerator[Any, None]:
        # The pattern LiveKit's docs show for extending a node.
        async for chunk in cast(AsyncIterable[Any],
                                super().llm_node(chat_ctx, tools, model_settings)):
            yield chunk


async def test_memory_step_runs_once_per_request_through_a_super_chain(
        client: VoiceClient) -> None:
    await past_calls(client)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    await session.start(SuperCallingAgent(
        client=client, user=CALLER, instructions=PROMPT,
        compaction=CompactionOptions(after_tokens=40, keep_last_turns=2)))
    for words in ("Hi, this is Robin, account four four two one.", "Okay, sure, uh-huh.",
                  QUESTION):
        await session.run(user_input=words)
    request = fake.requests[-1]
    ids = [item.id for item in request.items]
    assert len(ids) == len(set(ids))
    assert ids.count(COMPACTED_MESSAGE_ID) == 1
    assert sum(1 for i in ids if i.startswith("voxmem_recall_")) == 1
    await session.aclose()


@pytest.mark.parametrize("role", ["system", "assistant"])
async def test_speech_path_keeps_the_cacheable_layout_role_and_no_repeats(
        client: VoiceClient, role: Any) -> None:
    await past_calls(client)
    fake, stt = ScriptedLLM(), QueuedSTT()
    session = speech_session(fake, stt)
    replies = Replies(session)
    await session.start(MemoryAgent(client=client, user=CALLER, instructions=PROMPT,
                                    recall_role=role))
    stt.say(QUESTION)
    await replies.wait(1)
    stt.say("and what did I say about my phone number?")
    await replies.wait(2)

    first = recall_before(fake.requests[-2], QUESTION)
    assert first.role == role and "Kiwi" in (first.text_content or "")
    request = fake.requests[-1]
    assert request.items[0].text_content == PROMPT  # type: ignore[union-attr]
    preload = request.get_by_id(MEMORY_MESSAGE_ID)
    assert isinstance(preload, llm.ChatMessage) and LATER in (preload.text_content or "")
    # The first question's recall was for its turn only; this turn's recall has the role
    # asked for, and leaves out the later call, which the preload already carries.
    recalls = [item for item in request.items if item.id.startswith("voxmem_recall_")]
    assert len(recalls) <= 1
    for recall in recalls:
        assert isinstance(recall, llm.ChatMessage) and recall.role == role
        assert LATER not in (recall.text_content or "")
    caller_and_memory = "\n".join(item.text_content or "" for item in request.items
                                  if isinstance(item, llm.ChatMessage)
                                  and not (item.role == "assistant"
                                           and not item.id.startswith("voxmem_recall_")))
    # (one line: the preload's line for the later call, which also quotes the echo reply)
    assert sum(LATER in line for line in caller_and_memory.splitlines()) == 1
    await session.aclose()


class CannedAnswer(MemoryMixin, Agent):
    """A node that returns text instead of streaming (LiveKit accepts a coroutine)."""

    def __init__(self) -> None:
        super().__init__(instructions=PROMPT)
        self.seen: list[llm.ChatContext] = []

    async def llm_node(self, chat_ctx: llm.ChatContext, tools: list[llm.Tool],
                       model_settings: ModelSettings) -> str:
        self.seen.append(chat_ctx.copy())
        return "We open at nine."


async def test_a_node_returning_text_still_gets_recall_and_its_answer_spoken(
        client: VoiceClient) -> None:
    await past_calls(client)
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
    await attach_memory(session, client=client, user=CALLER)
    agent = CannedAnswer()
    await session.start(agent)
    result: RunResult[None] = await session.run(user_input=QUESTION)
    reply = result.expect.next_event().is_message(role="assistant").event().item
    assert reply.text_content == "We open at nine."
    assert "Kiwi" in (recall_before(agent.seen[-1], QUESTION).text_content or "")
    await session.aclose()
