"""examples/pipecat_agent.py: its call set-up runs in a real pipeline with a scripted LLM."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("pipecat")

from pipecat.runner.types import DailyRunnerArguments

from tests.pipecat_fakes import Conversation, ScriptedLLM, external_turns

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_pipecat_agent",
                                                  EXAMPLES / "pipecat_agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_a_dial_in_caller_is_remembered_on_the_next_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load()
    monkeypatch.setenv("VOXMEM_EMBEDDED", "1")
    monkeypatch.setenv("VOXMEM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    await module.seed()
    dial_in = DailyRunnerArguments(room_url="https://acme.daily.co/r", body={
        "dialin_settings": {"From": "+1 510 555 0100", "call_id": "c1"}})

    client = module.memory_client()
    await client.update_profile(user={"id": "+15105550100"}, field="name", value="Jo")
    parts = module.memory_for_call(client, dial_in, user_params=external_turns())
    tools = [tool.name for tool in parts[0].tools.standard_tools]
    assert "remember_detail" in tools and "search_knowledge" in tools
    llm = ScriptedLLM()
    async with Conversation(llm, parts=parts) as call:
        messages = await call.say("my parcel goes to the back door please")
        await call.reply()
    await client.aclose()
    assert messages[0]["content"] == module.INSTRUCTIONS
    assert "Jo" in messages[1]["content"]

    # The next call from the same number.
    client = module.memory_client()
    second = module.memory_for_call(client, dial_in, user_params=external_turns())
    second[2].search_timeout_ms = 5000.0  # a loaded CI machine; the result matters here
    async with Conversation(ScriptedLLM(), parts=second) as call:
        messages = await call.say("where does my parcel go?")
        await call.reply()
    await client.aclose()
    recall = [m["content"] for m in messages if m["role"] == "system"][-1]
    assert "back door" in recall


def test_serving_without_an_openai_key_says_so(tmp_path: Path) -> None:
    """Every call failed with a KeyError traceback once a client connected."""
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env.update(VOXMEM_DATA_DIR=str(tmp_path / "vm"), VOXMEM_EMBEDDER="hashing")
    out = subprocess.run([sys.executable, str(EXAMPLES / "pipecat_agent.py")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "the bot's speech and language models are OpenAI's: set OPENAI_API_KEY (the memory "
        "needs no key: try --seed first)")
