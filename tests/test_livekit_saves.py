"""Turns saved from session events: grouping, barge-in, unanswered words, tools, reports."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("livekit.agents")

from livekit.agents import AgentSession, RunContext, function_tool
from livekit.agents.testing import fake_job_context

from tests.livekit_fakes import (
    TEMPLATE,
    QueuedSTT,
    Replies,
    Reply,
    ScriptedLLM,
    by_user_text,
    expect_event,
    make_client,
    make_settings,
    speech_session,
    stored_calls,
)
from voxmem import Settings
from voxmem.integrations.livekit import CallMemory, MemoryAgent, store_session_report

CALLER = {"id": "caller-7", "name": "Sam"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def quiet_speech_session(fake: ScriptedLLM, stt: QueuedSTT) -> AgentSession[Any]:
    # Preemptive drafts would race the scripted timings; this is about what gets saved.
    return speech_session(fake, stt, turn_handling={
        "preemptive_generation": {"enabled": False}})


async def test_several_user_turns_before_one_reply_are_saved_together(
        settings: Settings) -> None:
    client = make_client(settings)
    # Held before its first word until the test ends: still a draft when the caller goes on.
    slow_hello = Reply(text="Hello Sam", hold=asyncio.Event())
    fake, stt = ScriptedLLM(by_user_text({"hi, it's Sam": slow_hello})), QueuedSTT()
    session = quiet_speech_session(fake, stt)
    replies = Replies(session)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE)
    await session.start(agent)

    stt.say("hi, it's Sam")
    await asyncio.wait_for(slow_hello.holding.wait(), 10)  # the first reply is being drafted
    stt.say("I'm calling about my order 4421")
    reply = await replies.wait(1)
    assert reply.text_content == "you said: I'm calling about my order 4421"

    await session.aclose()
    memory = agent.memory
    assert memory is not None and await memory.wait_closed(5)
    await client.aclose()
    (_info, turns), = await stored_calls(settings, CALLER["id"])
    assert len(turns) == 1
    assert turns[0].user_text == "hi, it's Sam\nI'm calling about my order 4421"
    assert turns[0].assistant_text == "you said: I'm calling about my order 4421"
    assert len(turns[0].metadata["user_item_ids"]) == 2


async def test_barge_in_reply_is_saved_flagged_interrupted(settings: Settings) -> None:
    client = make_client(settings)
    # Five words out, then held: the caller barges in while the answer is mid-stream.
    long_answer = Reply(text=" ".join(f"word{i}" for i in range(40)), hold=asyncio.Event(),
                        hold_after_words=5)
    fake, stt = ScriptedLLM(by_user_text({"tell me about plans": long_answer})), QueuedSTT()
    session = quiet_speech_session(fake, stt)
    replies = Replies(session)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE)
    await session.start(agent)

    speaking = expect_event(session, "agent_state_changed",
                            lambda ev: ev.new_state == "speaking")
    stt.say("tell me about plans")
    await asyncio.wait_for(speaking, 5)
    await asyncio.wait_for(long_answer.holding.wait(), 10)  # part of the long answer is out
    stt.say("sorry, just the cheapest one")
    first = await replies.wait(1)
    await replies.wait(2)
    assert first.interrupted

    await session.aclose()
    memory = agent.memory
    assert memory is not None and await memory.wait_closed(5)
    await client.aclose()
    (_info, turns), = await stored_calls(settings, CALLER["id"])
    assert [(t.user_text, t.interrupted) for t in turns] == [
        ("tell me about plans", True), ("sorry, just the cheapest one", False)]
    assert turns[0].assistant_text.startswith("word0")
    assert len(turns[0].assistant_text) < len(long_answer.text)


async def test_words_never_answered_are_saved_at_session_end(settings: Settings) -> None:
    client = make_client(settings)
    fake = ScriptedLLM(by_user_text({"are you there?": Reply(text="yes", hold=asyncio.Event())}))
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE)
    await session.start(agent)
    await session.run(user_input="hello")
    asked = expect_event(session, "conversation_item_added",
                         lambda ev: getattr(ev.item, "role", None) == "user"
                         and ev.item.text_content == "are you there?")
    session.generate_reply(user_input="are you there?")
    await asyncio.wait_for(asked, 5)
    await session.aclose()  # the caller hangs up before the answer
    memory = agent.memory
    assert memory is not None and await memory.wait_closed(5)
    await client.aclose()

    (info, turns), = await stored_calls(settings, CALLER["id"])
    assert [t.user_text for t in turns] == ["hello", "are you there?"]
    assert turns[1].assistant_text == "" and turns[1].metadata["unanswered"] is True
    assert info.ended_at is not None


async def test_tool_calls_are_saved_with_the_turn_they_answered(settings: Settings) -> None:
    client = make_client(settings)

    @function_tool
    async def order_status(context: RunContext[Any], order_id: str) -> str:
        """Status of an order.

        Args:
            order_id: the order number.
        """
        return f"order {order_id} ships tomorrow"

    fake = ScriptedLLM(by_user_text({
        "where is order 4421?": Reply(tool_calls=[("order_status", {"order_id": "4421"})])}))
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE,
                        tools=[order_status])
    await session.start(agent)
    await session.run(user_input="where is order 4421?")
    await session.aclose()
    memory = agent.memory
    assert memory is not None and await memory.wait_closed(5)
    await client.aclose()

    (_info, turns), = await stored_calls(settings, CALLER["id"])
    assert len(turns) == 1
    turn = turns[0]
    assert turn.user_text == "where is order 4421?"
    assert turn.assistant_text == "tool said: order 4421 ships tomorrow"
    assert turn.tool_calls == [{
        "name": "order_status", "arguments": '{"order_id": "4421"}',
        "call_id": "call_0_order_status", "output": "order 4421 ships tomorrow",
        "is_error": False}]


async def test_caller_from_job_metadata_and_session_report_stored_with_the_call(
        settings: Settings) -> None:
    client = make_client(settings)
    metadata = json.dumps({"user_id": "caller-77", "name": "Priya"})
    fake = ScriptedLLM()
    with fake_job_context(job_metadata=metadata) as ctx:
        session: AgentSession[Any] = AgentSession(llm=fake)
        agent = MemoryAgent(client=client, instructions=TEMPLATE)
        await session.start(agent, record=False)
        await session.run(user_input="I'd like to move my appointment")
        await session.aclose()
        where = await store_session_report(ctx, session=session)

    memory = CallMemory.of(session)
    assert memory is not None
    assert memory.identity.user_id == "caller-77" and memory.identity.source == "job_metadata"
    assert where == f"voxmem:session/{memory.session_id}"

    # The report is filed with the call itself.
    exported = await client.export_user(user={"id": "caller-77"})
    (call,) = [s for s in exported["sessions"] if s["sessionId"] == memory.session_id]
    report = call["report"]
    assert report["job_id"] == "fake-job" and report["close_reason"] == "CR_USER_INITIATED"
    said = [item.get("content") for item in report["chat_history"]["items"]
            if item.get("type") == "message"]
    assert ["I'd like to move my appointment"] in said

    await client.aclose()
    (info, turns), = await stored_calls(settings, "caller-77")
    assert info.metadata["identity_source"] == "job_metadata"
    assert info.metadata["livekit_job_id"] == "fake-job"
    assert info.end_reason == "user_initiated"
    assert [t.user_text for t in turns] == ["I'd like to move my appointment"]


async def test_no_report_for_an_anonymous_caller(settings: Settings) -> None:
    client = make_client(settings)
    with fake_job_context() as ctx:
        session: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
        await session.start(MemoryAgent(client=client, instructions=TEMPLATE,
                                        participant_timeout_s=0.05), record=False)
        await session.run(user_input="hello")
        await session.aclose()
        assert await store_session_report(ctx, session=session) is None
    await client.aclose()


async def test_no_report_outside_a_livekit_job(settings: Settings) -> None:
    client = make_client(settings)
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE)
    await session.start(agent)
    await session.run(user_input="hello")
    await session.aclose()
    memory = agent.memory
    assert memory is not None and await memory.wait_closed(5)
    assert memory.report_stored() is None  # no job: no report to build
    await client.aclose()


async def test_text_no_store_can_keep_costs_neither_the_turn_nor_the_reply(
        settings: Settings) -> None:
    """Found by probing: a NUL in the caller's words (from an STT) made recall and the
    save of the whole turn fail; a lone surrogate (half an emoji, from a reply streamed
    in pieces) made compaction's token count raise inside llm_node, so the agent stopped
    answering for the rest of the call."""
    client = make_client(settings)
    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE)
    replies = Replies(session)
    await session.start(agent)
    for count, words in enumerate(["my order is A\x00123", "smile \ud83d please",
                                   "thanks"], start=1):
        await session.run(user_input=words)
        assert (await replies.wait(count)).text_content == f"you said: {words}"
    await session.aclose()
    memory = agent.memory
    assert memory is not None and await memory.wait_closed(5)
    assert memory.save_failures == 0 and memory.recalls == 3
    await client.aclose()

    (_, turns), = await stored_calls(settings, CALLER["id"])
    assert [(t.user_text, t.assistant_text) for t in turns] == [
        ("my order is A123", "you said: my order is A123"),
        ("smile \ufffd please", "you said: smile \ufffd please"),
        ("thanks", "you said: thanks")]
