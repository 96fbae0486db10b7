"""The LiveKit examples import, seed, and their agents run in an in-process session.

``console`` and ``dev`` need a terminal with audio or a LiveKit server; what can run here
is the examples' own code: the seed step and the agent classes with a scripted LLM.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("livekit.agents")

from livekit.agents import AgentSession, RunResult, llm

from tests.livekit_fakes import Reply, ScriptedLLM, by_user_text, make_client, make_settings
from voxmem import VoiceClient
from voxmem.integrations.livekit import (
    MEMORY_MESSAGE_ID,
    CallerIdentity,
    MemoryAgent,
    attach_memory,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_mixin_example_recalls_for_a_users_own_agent_class(tmp_path: Path) -> None:
    module = load("livekit_plain_agent")
    client = make_client(make_settings(tmp_path))
    caller = CallerIdentity.explicit({"id": "console-caller", "name": "Jo"})
    for words in ("My cat Miso loves the sunny window seat", "I moved to room 12"):
        past: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
        memory = await attach_memory(past, client=client, user=caller)
        await past.start(module.Concierge(brand="Harbor Hotel"))
        await past.run(user_input=words)
        await past.aclose()
        # The call's memory closes after the session does (saves drained, then the voxmem
        # session ended). A save still queued when the next call starts would be filed
        # under that next call, and the preload and the recall would then differ from run
        # to run: each call is over before the next one begins, as with a real caller.
        assert await memory.wait_closed(5)
    await client.flush()

    fake = ScriptedLLM()
    session: AgentSession[Any] = AgentSession(llm=fake)
    await attach_memory(session, client=client, user=caller)
    await session.start(module.Concierge(brand="Harbor Hotel"))
    await session.run(user_input="which seat does my cat Miso love?")
    await session.aclose()
    # The greeting (the class's own on_enter) and the answer are separate requests.
    request = next(r for r in fake.requests
                   if r.messages()[-1].text_content == "which seat does my cat Miso love?")
    assert request.items[0].text_content == module.INSTRUCTIONS  # type: ignore[union-attr]
    assert "room 12" in (request.get_by_id(MEMORY_MESSAGE_ID).text_content or "")  # type: ignore[union-attr]
    messages = [m for m in request.items if isinstance(m, llm.ChatMessage)]
    assert messages[-1].text_content == "which seat does my cat Miso love?"
    # The window seat reaches the model once: from the preload, or from the turn's recall.
    said = [m for m in messages
            if m.role != "assistant" and "window seat" in (m.text_content or "")]
    assert len(said) == 1
    await client.aclose()


def test_examples_share_one_client_per_process() -> None:
    class Process:
        def __init__(self) -> None:
            self.userdata: dict[str, Any] = {}

    for name in ("livekit_agent", "livekit_plain_agent"):
        module = load(name)
        assert module.server.setup_fnc is module.prewarm
        process = Process()
        module.prewarm(process)
        assert isinstance(process.userdata["voxmem"], VoiceClient)


async def test_seed_builds_the_knowledge_base(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    module = load("livekit_agent")
    monkeypatch.setenv("VOXMEM_EMBEDDED", "1")
    monkeypatch.setenv("VOXMEM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    await module.seed()
    client = module.memory_client()
    indexes = await client.list_indexes()
    await client.aclose()
    assert [index["name"] for index in indexes] == ["faq"]


async def test_front_desk_remembers_and_hands_off_to_billing(tmp_path: Path) -> None:
    module = load("livekit_agent")
    client = make_client(make_settings(tmp_path))
    caller = CallerIdentity.explicit({"id": "console-caller", "name": "Jo"})
    fake = ScriptedLLM(by_user_text({
        "my dog is Rex": Reply(tool_calls=[("remember_detail", {
            "memory_type": "dog_name", "content": "Rex"})]),
        "question about my bill": Reply(tool_calls=[("transfer_to_billing", {})]),
    }))
    session: AgentSession[Any] = AgentSession(llm=fake)
    front_desk = module.FrontDesk(client, caller)
    await session.start(front_desk)
    await session.run(user_input="my dog is Rex")
    result: RunResult[None] = await session.run(user_input="question about my bill")
    result.expect.contains_agent_handoff(new_agent_type=MemoryAgent)
    assert session.current_agent is not front_desk
    await session.aclose()
    memory = front_desk.memory
    assert memory is not None and await memory.wait_closed(5)

    (role, front_prompt), (_, front_memory) = fake.texts(0)[:2]
    assert role == "system" and front_prompt.startswith("You are Ava")
    assert "Jo" not in front_prompt and "Jo" in front_memory  # instructions stay cacheable
    # The billing desk is preloaded again: the detail learnt earlier in the call is in.
    billing_prompt = fake.requests[-1].items[0]
    assert isinstance(billing_prompt, llm.ChatMessage)
    assert (billing_prompt.text_content or "").startswith("You are the billing desk")
    billing_memory = fake.requests[-1].get_by_id(MEMORY_MESSAGE_ID)
    assert isinstance(billing_memory, llm.ChatMessage)
    assert "Rex" in (billing_memory.text_content or "")
    await client.aclose()


@pytest.mark.parametrize("example", ["livekit_agent", "livekit_plain_agent"])
def test_serving_without_a_livekit_server_says_what_is_missing(example: str,
                                                                tmp_path: Path) -> None:
    """LiveKit itself failed with a traceback, and exit status 0, once it had started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env.update(VOXMEM_DATA_DIR=str(tmp_path / "vm"), VOXMEM_EMBEDDER="hashing",
               LIVEKIT_URL="ws://127.0.0.1:7880")
    out = subprocess.run([sys.executable, str(EXAMPLES / f"{example}.py"), "dev"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith(
        "dev needs LIVEKIT_API_KEY, LIVEKIT_API_SECRET (your LiveKit server")
