"""The first Pipecat call on a cold host: the runtime is not running and the client waits
for a ``voxmem serve`` that is slow to start (held by the test, tests/_held_serve.py).

The caller is answered at once without memory, the preload reaches the first context
frame after the runtime answers, and the turns said meanwhile are saved in order in this
call. Found by this test: the opening was cancelled at the preload deadline (the call
never got its memory) and the turns said meanwhile were lost after their save timeout.

The LLM is a fake of an external service (tests/pipecat_fakes.py); the client, the
runtime process and its store are real.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("pipecat")

from tests._held_serve import WAIT_S, HeldServe
from tests.pipecat_fakes import AGENT, PROJECT, Conversation, ScriptedLLM, make_client
from voxmem import Settings, VoiceClient
from voxmem.integrations.pipecat import MemoryProcessor
from voxmem.runtime import read_discovery

pytestmark = pytest.mark.slow

CALLER = {"id": "caller-cold", "name": "Sam"}
MEANWHILE = ["Hello, I am calling about my delivery", "It was meant to come on Tuesday"]
LATER = "What is my dog called?"


def _has_preload(messages: list[dict[str, object]]) -> bool:
    return len(messages) > 1 and messages[1]["role"] == "system" and "Rex" in str(
        messages[1]["content"])


async def test_the_first_call_on_a_cold_host_answers_at_once_and_loses_nothing(
        tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "data"), embedder="hashing",
                        runtime_start_timeout_s=WAIT_S)
    seeding = make_client(settings)
    await seeding.remember(user=CALLER, memory_type="dog", content="The caller's dog is Rex")
    await seeding.aclose()
    serve = HeldServe(tmp_path, settings.data_path, "18970-18979")
    client = VoiceClient(project_id=PROJECT, agent_id=AGENT, settings=settings)
    try:
        await asyncio.to_thread(serve.wait_held)
        llm = ScriptedLLM()
        # A preload deadline far longer than the test: it is not what lets turns go on.
        async with Conversation(llm, lambda aggregators: MemoryProcessor(
                client=client, user=CALLER, context_aggregator=aggregators,
                preload_timeout_ms=WAIT_S * 1000)) as conversation:
            memory = conversation.memory
            for said in MEANWHILE:
                messages = await conversation.say(said)
                await conversation.reply()
                assert not _has_preload(messages)
            assert read_discovery(settings.data_path) is None  # still not serving
            assert memory.saves == 0

            serve.release()
            preload = await memory.open()  # within its (long) deadline: the opening
            assert preload is not None and "Rex" in preload.context_text
            messages = await conversation.say(LATER)
            await conversation.reply()
            assert _has_preload(messages)
        assert await memory.wait_closed(WAIT_S)
        assert memory.save_failures == 0
        exported = await client.export_user(user=CALLER)
        turns = sorted((i for i in exported["items"] if i["kind"] == "turn"),
                       key=lambda i: i["createdAt"])
        assert [t["userText"] for t in turns if t["sessionId"] == memory.session_id] == [
            *MEANWHILE, LATER]
    finally:
        await client.aclose()
        serve.stop()
