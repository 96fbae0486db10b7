"""The first LiveKit call on a cold host: the runtime is not running, the client waits for
a ``voxmem serve`` that is slow to start (held by the test at its import of the server,
as a loaded host holds it for seconds).

What the caller must get: the agent answers at once (no wait for memory once the client
knows the runtime is starting), the caller's memory reaches the next reply once the
runtime answers, and what the caller said meanwhile is saved, in order, in this call.
Found by this test: the first reply waited out the preload deadline, the opening was
cancelled at it (so the call's memory never came), and the turns said meanwhile went out
to a runtime that was not there yet and were lost after their save timeout.

The LLM is a fake of an external service (tests/livekit_fakes.py); the client, the
runtime process and its store are real.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("livekit.agents")
from livekit.agents import AgentSession, llm

from tests._held_serve import WAIT_S, HeldServe
from tests.livekit_fakes import AGENT, PROJECT, TEMPLATE, Replies, ScriptedLLM, make_client
from voxmem import Settings, VoiceClient
from voxmem.integrations.livekit import (
    MEMORY_MESSAGE_ID,
    CallerIdentity,
    CallMemory,
    MemoryAgent,
)
from voxmem.runtime import read_discovery, runtime_lock_held

pytestmark = pytest.mark.slow

CALLER = {"id": "caller-cold", "name": "Dana"}
EARLIER = "My dog Biscuit needs a grooming appointment"
MEANWHILE = "I am calling about the grooming, could it be Tuesday morning"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), embedder="hashing",
                    runtime_start_timeout_s=WAIT_S)


async def _earlier_call(settings: Settings, caller: dict[str, str] = CALLER) -> None:
    """The caller's earlier call, stored before the host goes cold."""
    client = make_client(settings)
    try:
        await client.save_response(user=caller, user_text=EARLIER, assistant_text="Noted.")
        await client.end_session(user=caller)
        await client.flush()
    finally:
        await client.aclose()


# The caller directory is asked first about a SIP caller (canonical_identity): that must
# not hold the greeting either (it waited for the runtime's start; found by the Node
# agent's test).
SIP_CALLER = CallerIdentity(user_id="+15105550123", source="sip", phone="+15105550123")


@pytest.mark.parametrize("caller", [CALLER, SIP_CALLER], ids=["explicit", "sip"])
async def test_the_first_call_on_a_cold_host_answers_at_once_and_loses_nothing(
        settings: Settings, tmp_path: Path, caller: dict[str, str] | CallerIdentity) -> None:
    if isinstance(caller, CallerIdentity):
        await _earlier_call(settings, {"id": caller.user_id or ""})
    else:
        await _earlier_call(settings)
    serve = HeldServe(tmp_path, settings.data_path, "18960-18969")
    client = VoiceClient(project_id=PROJECT, agent_id=AGENT, settings=settings)
    try:
        await asyncio.to_thread(serve.wait_held)
        assert runtime_lock_held(settings.data_path)

        fake = ScriptedLLM()
        session: AgentSession[Any] = AgentSession(llm=fake)
        replies = Replies(session)
        # A preload deadline far longer than the test: only knowing that the runtime is
        # starting can let the greeting go ahead.
        agent = MemoryAgent(client=client, user=caller, instructions=TEMPLATE,
                            greeting_instructions="Greet the caller.",
                            preload_timeout_ms=WAIT_S * 1000)
        await session.start(agent)
        await replies.wait(1, timeout=WAIT_S)
        assert read_discovery(settings.data_path) is None  # still not serving
        assert fake.requests[0].get_by_id(MEMORY_MESSAGE_ID) is None

        # The caller speaks while the runtime is still starting: answered, no memory.
        await session.run(user_input=MEANWHILE)
        assert fake.requests[-1].get_by_id(MEMORY_MESSAGE_ID) is None
        memory = CallMemory.of(session)
        assert memory is not None and memory.opening and memory.saves == 0

        serve.release()
        preload = await asyncio.wait_for(memory.wait_open(), WAIT_S)
        assert preload is not None and "Biscuit" in preload.context_text

        # The next reply has the caller's memory, in its own message.
        await session.run(user_input="What was my dog called again?")
        loaded = fake.requests[-1].get_by_id(MEMORY_MESSAGE_ID)
        assert isinstance(loaded, llm.ChatMessage) and "Biscuit" in (loaded.text_content or "")
        await session.aclose()
        assert await memory.wait_closed(WAIT_S)
        assert memory.save_failures == 0

        # Everything said in this call is stored, in order, in this call's session.
        exported = await client.export_user(user=memory.user)
        turns = sorted((i for i in exported["items"] if i["kind"] == "turn"),
                       key=lambda i: i["createdAt"])
        this_call = [t for t in turns if t["sessionId"] == memory.session_id]
        # The greeting (said to nobody yet), then the caller's two turns.
        assert [t["userText"] for t in this_call] == [
            "", MEANWHILE, "What was my dog called again?"]
        assert this_call[0]["assistantText"]
    finally:
        await client.aclose()
        serve.stop()
