"""MemoryProcessor in a real Pipecat pipeline: recall placement, saves, deadlines, the end."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pipecat")

from pipecat.frames.frames import LLMContextFrame, LLMMessagesUpdateFrame, LLMRunFrame
from pipecat.processors.aggregators.llm_context import LLMContext

from tests.pipecat_fakes import (
    AGENT,
    PROJECT,
    Conversation,
    Reply,
    ScriptedLLM,
    make_client,
    make_settings,
    plain_messages,
    stored_calls,
)
from voxmem import Settings, VoiceClient
from voxmem.compaction import _tokens
from voxmem.integrations.pipecat import MemoryProcessor

CALLER = {"id": "caller-7", "name": "Sam"}
#: The test template with its {{memory}} placeholder removed, as every caller's LLM sees it.
INSTRUCTIONS = "You are Ava, the front desk of Acme.\n\nKeep replies short."
MEMORY_HEADING = "## Memory"
#: Deadline for tests about what recall does, not how fast: a loaded CI machine can
#: take longer than 250 ms for a search now and then.
GENEROUS_MS = 5000.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def memory_messages(messages: list[dict[str, Any]]) -> list[int]:
    """Indexes of per-turn recall messages: system messages holding recall, after the
    instructions (0) and the caller's preload block (1)."""
    return [i for i, m in enumerate(messages) if i >= 2
            and m["role"] == "system" and m["content"].startswith(MEMORY_HEADING)]


def last_user(messages: list[dict[str, Any]]) -> int:
    return max(i for i, m in enumerate(messages) if m["role"] == "user")


async def seed(client: VoiceClient) -> None:
    """What an earlier call taught: facts each test turn below can find."""
    for slot, content in [("dog", "The caller's dog is called Rex"),
                          ("diet", "The caller eats vegetarian food"),
                          ("delivery", "The caller wants deliveries before noon")]:
        await client.remember(user=CALLER, memory_type=slot, content=content)
    await client.update_profile(user=CALLER, field="name", value="Sam")


QUESTIONS = ["what is my dog called?", "what food do I eat?", "when do I want deliveries?"]


async def test_recall_sits_immediately_before_the_user_message_every_turn(
        settings: Settings) -> None:
    client = make_client(settings)
    await seed(client)
    llm = ScriptedLLM()
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS)) as conversation:
        for question, expected in zip(QUESTIONS, ["Rex", "vegetarian", "noon"], strict=True):
            messages = await conversation.say(question)
            await conversation.reply()
            user_index = last_user(messages)
            assert messages[user_index]["content"] == question
            assert memory_messages(messages) == [user_index - 1]
            assert expected in messages[user_index - 1]["content"]
        # The instructions stay the same for every caller (prompt caching): the
        # placeholder is gone and the preload follows them in its own message.
        assert messages[0]["content"] == INSTRUCTIONS
        assert messages[1]["role"] == "system" and messages[1]["content"].startswith(
            MEMORY_HEADING) and "Sam" in messages[1]["content"]
        assert sum(m["content"] == messages[1]["content"] for m in messages) == 1
    await client.aclose()


async def test_instructions_replaced_mid_call_keep_the_preload_and_no_placeholder(
        settings: Settings) -> None:
    """Found walking the processor as a builder: after the app replaced the context's
    messages mid-call (``LLMMessagesUpdateFrame``, Pipecat's way to change the prompt),
    the preload was gone for the rest of the call and a ``{{memory}}`` in the new
    instructions reached the model literally."""
    client = make_client(settings)
    await seed(client)
    llm = ScriptedLLM()
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS)) as conversation:
        await conversation.say(QUESTIONS[0])
        await conversation.reply()
        spanish = "Habla español.\n\n{{memory}}"
        kept: list[Any] = [m for m in conversation.context.get_messages()
                           if isinstance(m, dict) and m.get("role") != "system"]
        await conversation.worker.queue_frames([LLMMessagesUpdateFrame(
            messages=[{"role": "system", "content": spanish}, *kept], run_llm=False)])
        messages = await conversation.say(QUESTIONS[1])
        await conversation.reply()
        assert messages[0] == {"role": "system", "content": "Habla español."}
        assert messages[1]["role"] == "system" and messages[1]["content"].startswith(
            MEMORY_HEADING) and "Sam" in messages[1]["content"]
        assert not any("{{memory}}" in str(m.get("content")) for m in messages)
        assert sum(m["content"] == messages[1]["content"] for m in messages) == 1
    await client.aclose()


async def test_exactly_one_memory_message_after_many_turns(settings: Settings) -> None:
    client = make_client(settings)
    await seed(client)
    llm = ScriptedLLM()
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS)) as conversation:
        for turn in range(12):
            messages = await conversation.say(QUESTIONS[turn % len(QUESTIONS)])
            await conversation.reply()
            assert len(memory_messages(messages)) == 1
        # The conversation's own context holds one too, not one per turn.
        assert len(memory_messages(plain_messages(conversation.context))) == 1
        assert len([m for m in messages if m["role"] == "user"]) == 12
    await client.aclose()


async def test_a_caller_known_only_once_the_client_connects(settings: Settings) -> None:
    client = make_client(settings)
    await seed(client)
    llm = ScriptedLLM()
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS)) as conversation:
        # What a transport's on_client_connected handler does once it knows the caller.
        preload = await conversation.memory.open(user=CALLER)
        assert preload is not None and "Sam" in preload.context_text
        messages = await conversation.say("what is my dog called?")
        await conversation.reply()
        memory = conversation.memory
    await client.aclose()
    assert messages[0]["content"] == INSTRUCTIONS and "Sam" in messages[1]["content"]
    assert "Rex" in messages[last_user(messages) - 1]["content"]
    assert memory.saves == 1


@pytest.mark.parametrize("role", ["developer", "assistant"])
async def test_the_recall_role_is_configurable(settings: Settings, role: str) -> None:
    client = make_client(settings)
    await seed(client)
    llm = ScriptedLLM()
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS,
            recall_role=role)) as conversation:
        for question in QUESTIONS:
            messages = await conversation.say(question)
            await conversation.reply()
    await client.aclose()
    recalls = [m for m in messages if m["role"] == role
               and m["content"].startswith(MEMORY_HEADING)]
    assert recalls == [messages[last_user(messages) - 1]]
    with pytest.raises(ValueError, match="recall_role"):
        MemoryProcessor(client=client, user=CALLER, recall_role="user")


async def test_a_context_sent_again_for_the_same_message_reuses_its_recall(
        settings: Settings) -> None:
    client = make_client(settings)
    await seed(client)
    llm = ScriptedLLM()
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS)) as conversation:
        await conversation.say("what is my dog called?")
        await conversation.reply()
        await conversation.worker.queue_frame(LLMRunFrame())  # e.g. a re-run after a tool
        messages = await llm.wait_contexts(2)
        assert conversation.memory.recalls == 1
        assert memory_messages(messages) == [last_user(messages) - 1]
        assert "Rex" in messages[last_user(messages) - 1]["content"]
    await client.aclose()


async def test_turns_are_saved_with_barge_in_flagged_and_the_call_ended(
        settings: Settings) -> None:
    client = make_client(settings)

    def script(text: str) -> Reply:
        if text.startswith("tell me about"):
            return Reply("Our plans start at ten dollars and go up to", hold=True)
        return Reply(f"Sure: {text}")

    llm = ScriptedLLM(script)
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS)) as conversation:
        await conversation.say("hi, my name is Sam and I'm vegetarian")
        await conversation.reply_started()
        assert not (await conversation.reply()).interrupted
        await conversation.say("tell me about your plans")
        await conversation.reply_started()  # the bot is talking...
        await conversation.say("sorry, just the cheapest one")  # barges in
        barged = await conversation.reply()
        assert barged.interrupted
        assert not (await conversation.reply()).interrupted
        memory = conversation.memory
    await client.aclose()
    assert memory.saves == 3 and memory.save_failures == 0

    calls = await stored_calls(settings, CALLER["id"])
    assert len(calls) == 1
    info, turns = calls[0]
    assert info.ended_at is not None and info.end_reason == "completed"
    assert [(t.user_text, t.interrupted) for t in turns] == [
        ("hi, my name is Sam and I'm vegetarian", False),
        ("tell me about your plans", True),
        ("sorry, just the cheapest one", False)]
    assert turns[1].assistant_text == "Our plans start at ten dollars and go up to"
    assert turns[0].metadata.get("source") == "pipecat"


async def test_the_call_is_ended_by_the_time_the_pipeline_is_down(
        settings: Settings) -> None:
    client = make_client(settings)
    llm = ScriptedLLM()
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS)) as conversation:
        await conversation.say("my name is Sam and I'm vegetarian")
        await conversation.reply()
        await conversation.end()
        # Nothing left running: saves drained and end_session (which starts learning)
        # returned before the runner did.
        assert conversation.memory.closed
        assert conversation.memory.saves == 1
        session_id = conversation.memory.session_id
    await client.aclose()
    [(info, turns)] = await stored_calls(settings, CALLER["id"])
    assert info.id == session_id and info.end_reason == "completed"
    assert info.ended_at is not None and len(turns) == 1


async def test_words_left_unanswered_by_a_cancelled_pipeline_are_saved(
        settings: Settings) -> None:
    client = make_client(settings)
    llm = ScriptedLLM(lambda text: Reply("", hold=True))
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS)) as conversation:
        await conversation.say("my order 4421 never arrived")
        await conversation.end(cancel=True)
    await client.aclose()
    [(info, turns)] = await stored_calls(settings, CALLER["id"])
    assert info.end_reason == "cancelled"
    assert [(t.user_text, t.assistant_text) for t in turns] == [
        ("my order 4421 never arrived", "")]


async def test_speculative_frames_get_recall_and_save_nothing(settings: Settings) -> None:
    client = make_client(settings)
    await seed(client)
    llm = ScriptedLLM()
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS)) as conversation:
        provisional = LLMContext([*conversation.context.get_messages(),
                                  {"role": "user", "content": "what is my dog called?"}])
        await conversation.worker.queue_frame(
            LLMContextFrame(context=provisional, speculation=True))
        messages = await llm.wait_contexts(1)
        assert llm.speculative == [True]
        assert memory_messages(messages) == [last_user(messages) - 1]
        assert "Rex" in messages[last_user(messages) - 1]["content"]
        # The conversation itself was not touched: the speculated turn is not in it.
        assert [m["role"] for m in plain_messages(conversation.context)] == ["system"]
        memory = conversation.memory
    await client.aclose()
    assert memory.saves == 0
    [(_info, turns)] = await stored_calls(settings, CALLER["id"])
    assert turns == []


async def test_an_anonymous_caller_is_neither_recalled_nor_recorded(
        settings: Settings) -> None:
    client = make_client(settings)
    await seed(client)
    llm = ScriptedLLM()
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=None, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS)) as conversation:
        messages = await conversation.say("what is my dog called?")
        await conversation.reply()
        memory = conversation.memory
    assert memory_messages(messages) == []
    assert messages[0]["content"] == INSTRUCTIONS
    assert messages[1]["role"] == "user"  # no preload block for nobody
    assert memory.recalls == 0 and memory.saves == 0 and memory.session_id is None
    # Only the seeding call exists for the known caller; nobody else was written.
    sessions = await client.export_user(user=CALLER)
    await client.aclose()
    assert "what is my dog called?" not in str(sessions)


async def test_a_long_call_is_sent_compacted_and_kept_whole(settings: Settings) -> None:
    client = make_client(settings)
    await seed(client)
    llm = ScriptedLLM()
    _tokens._counter.cache_clear()
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=GENEROUS_MS,
            compact_after_tokens=60, keep_last_turns=2)) as conversation:
        await conversation.memory.open()
        # The tokenizer was loaded as the call opened, not in the caller's first turn.
        assert _tokens._counter.cache_info().currsize == 1
        await conversation.say("my order number is 4421 and it never arrived")
        await conversation.reply()
        for filler in range(8):
            await conversation.say(f"uh-huh, okay, go on {filler}")
            await conversation.reply()
        await conversation.memory.wait_compacted()  # compaction runs off the frame path
        messages = await conversation.say("what is my dog called?")
        await conversation.reply()
        memory = conversation.memory
        whole = plain_messages(conversation.context)
    await client.aclose()
    assert memory.compactions >= 1
    # The LLM got the compact record and the last messages, not ten turns verbatim...
    assert len(messages) < 2 * 10 + 1
    assert "4421" in " ".join(m["content"] for m in messages)
    assert memory_messages(messages) == [last_user(messages) - 1]
    assert "Rex" in messages[last_user(messages) - 1]["content"]
    assert messages[0]["content"] == INSTRUCTIONS
    # ...while the conversation itself keeps every message.
    assert sum(m["role"] == "user" for m in whole) == 10
    assert "uh-huh, okay, go on 0" in [m["content"] for m in whole]


@pytest.fixture
def hung_runtime() -> Iterator[str]:
    """A runtime address that accepts connections and never answers (a hung process)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # the kernel completes the handshakes; nobody ever reads
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


async def test_a_hung_memory_never_holds_a_frame_past_its_deadline(
        hung_runtime: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = VoiceClient(project_id=PROJECT, agent_id=AGENT, runtime_url=hung_runtime,
                         api_key="token", settings=Settings(data_dir=str(tmp_path / "d")))
    deadline_ms = 150.0
    llm = ScriptedLLM()
    caplog.set_level(logging.WARNING, logger="voxmem.pipecat")
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators,
            search_timeout_ms=deadline_ms, close_timeout_s=0.2)) as conversation:
        for question in QUESTIONS:
            messages = await conversation.say(question)
            await conversation.reply()
            assert memory_messages(messages) == []
        memory = conversation.memory
    await client.aclose()
    assert len(memory.frame_ms) == len(QUESTIONS)
    # The deadline and the transport's grace, plus scheduling noise on a loaded machine
    # (seconds at load 10-20: 600 ms of it was a bound on the host's speed), far below
    # the 30 s request timeout a frame held by the hung call would wait out.
    grace_ms = client.settings.runtime_recall_grace_ms
    assert max(memory.frame_ms) < deadline_ms + grace_ms + 5000
    assert memory.preload is None
    # An operator reading the log learns why the call's end was lost (a timeout has no
    # message of its own: the line used to end in "()").
    ended = [r.getMessage() for r in caplog.records if "could not end" in r.getMessage()]
    assert ended and all("no answer within 0.2 s" in message for message in ended), ended


async def test_text_no_store_can_keep_costs_neither_the_turn_nor_its_recall(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """Found by probing: a NUL in the caller's words (from an STT) made recall and the
    save of the whole turn fail; a lone surrogate (half an emoji) did the same."""
    client = make_client(settings)
    llm = ScriptedLLM(lambda text: Reply(f"Sure: {text}"))
    with caplog.at_level(logging.WARNING, logger="voxmem.pipecat"):
        async with Conversation(llm, lambda aggregators: MemoryProcessor(
                client=client, user=CALLER, context_aggregator=aggregators,
                search_timeout_ms=GENEROUS_MS)) as conversation:
            for words in ["my order is A\x00123", "smile \ud83d please"]:
                await conversation.say(words)
                await conversation.reply()
            memory = conversation.memory
    await client.aclose()
    assert not [r for r in caplog.records if "failed" in r.getMessage()]
    assert memory.saves == 2 and memory.save_failures == 0
    (_, turns), = await stored_calls(settings, CALLER["id"])
    assert [t.user_text for t in turns] == ["my order is A123", "smile \ufffd please"]
    assert turns[1].assistant_text == "Sure: smile \ufffd please"


@pytest.mark.parametrize(("options", "message"), [
    ({"lanes": "permanent"}, "not the string 'permanent'"),
    ({"lanes": ("permanent", "memories")}, "unknown lane 'memories'"),
    ({"search_timeout_ms": float("nan")}, "search_timeout_ms"),
    ({"preload_timeout_ms": "1500"}, "preload_timeout_ms"),
])
async def test_a_mistake_in_the_options_is_refused_when_the_processor_is_built(
        settings: Settings, options: dict[str, Any], message: str) -> None:
    """Found by probing: each of these was accepted, and then every turn's recall of every
    call failed with a warning only."""
    client = make_client(settings)
    try:
        with pytest.raises(ValueError, match=re.escape(message)):
            MemoryProcessor(client=client, user=CALLER, **options)
    finally:
        await client.aclose()
