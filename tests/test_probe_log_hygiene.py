"""Log lines never name a caller: no phone number, e-mail address or app user id in any
record of a real run (LiveKit and Pipecat calls losing their memory, caller resolution,
a failed warm load), only a keyed ``caller#...`` reference. Logs go to log shippers."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import pytest

from voxmem import Settings, VoiceClient
from voxmem._log_ids import caller_ref
from voxmem.engine import MemoryEngine
from voxmem.integrations._livekit_identity import CallerIdentity, canonical_identity
from voxmem.integrations._pipecat_identity import caller_from_runner_args

PHONE = "+15105550100"
EMAIL = "ann.lee@example.com"
SECRETS = (PHONE, "5105550100", "510 555", EMAIL, "ann.lee", "acct-77120")
PHONE_CALLER = {"id": PHONE, "name": "Ann", "metadata": {"email": EMAIL}}


def leaks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured message (with its arguments rendered) that names the caller."""
    found = []
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        if any(secret.lower() in text.lower() for secret in SECRETS):
            found.append(f"{record.name}: {text}")
    return found


def test_the_reference_is_stable_short_and_keyed() -> None:
    ref = caller_ref(PHONE)
    assert ref == caller_ref(PHONE) != caller_ref("+15105550101")
    assert ref.startswith("caller#") and len(ref) == len("caller#") + 10
    assert caller_ref(None) == "caller#-"
    assert "5105550100" not in ref


async def test_livekit_call_losing_its_memory_logs_no_caller(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("livekit.agents")
    from livekit.agents import AgentSession

    from tests.livekit_fakes import TEMPLATE, ScriptedLLM, make_client, make_settings
    from voxmem.integrations.livekit import MemoryAgent

    client = make_client(make_settings(tmp_path))
    caplog.set_level(logging.DEBUG, logger="voxmem")
    session: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
    agent = MemoryAgent(client=client, user=PHONE_CALLER, instructions=TEMPLATE)
    await session.start(agent)
    await session.run(user_input=f"my account is ACCT-77120, mail me at {EMAIL}")
    await client.aclose()  # the memory goes away mid-call: saves and the end fail
    await session.run(user_input="are you still there?")
    await session.aclose()
    assert agent.memory is not None and await agent.memory.wait_closed(5)
    assert leaks(caplog) == []
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not save a turn of caller#" in m for m in messages), messages
    assert any("could not end the memory session of caller#" in m for m in messages)


async def test_pipecat_call_losing_its_memory_logs_no_caller(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("pipecat")
    from tests.pipecat_fakes import Conversation, ScriptedLLM, make_client, make_settings
    from voxmem.integrations.pipecat import MemoryProcessor

    client = make_client(make_settings(tmp_path))
    caplog.set_level(logging.DEBUG, logger="voxmem")
    async with Conversation(ScriptedLLM(), lambda aggregators: MemoryProcessor(
            client=client, user=PHONE_CALLER, context_aggregator=aggregators,
            close_timeout_s=2.0)) as conversation:
        await conversation.say(f"my account is ACCT-77120, mail me at {EMAIL}")
        await conversation.reply()
        await client.aclose()
        await conversation.say("are you still there?")
        await conversation.reply()
    assert leaks(caplog) == []
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not save a turn of caller#" in m for m in messages), messages
    assert any("could not end the memory session of caller#" in m for m in messages)


def test_an_unusable_dial_in_number_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="voxmem")
    identity = caller_from_runner_args(call_data={"from": "510 555 0100", "call_id": "c1"})
    assert identity.anonymous  # a national number with no country: not guessed
    assert leaks(caplog) == []
    assert any("caller#" in r.getMessage() for r in caplog.records)


async def test_livekit_caller_resolution_logs_no_caller(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = VoiceClient(project_id="proj", agent_id="agent", embedded=True,
                         settings=Settings(data_dir=str(tmp_path / "d"), embedder="hashing"))
    caplog.set_level(logging.DEBUG, logger="voxmem")
    try:
        await client.resolve_caller([{"kind": "email", "value": EMAIL, "source": "crm"},
                                     {"kind": "phone", "value": PHONE, "source": "crm"}],
                                    user_id="acct-77120", name="Ann")
        sip = CallerIdentity(user_id=PHONE, source="sip", phone=PHONE)
        found = await canonical_identity(client, sip)
        assert found.user_id == "acct-77120"
        assert leaks(caplog) == []
        assert any("resolved to caller#" in r.getMessage() for r in caplog.records)
    finally:
        await client.aclose()
    # Resolution failing (the memory is gone) keeps the caller, and says so without a name.
    kept = await canonical_identity(client, sip)
    assert kept.user_id == PHONE
    assert leaks(caplog) == []
    assert any("caller resolution failed" in r.getMessage() for r in caplog.records)


async def test_a_failed_warm_load_logs_no_caller(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "d"), embedder="hashing"))
    await engine.start()
    scope = engine.scope(project_id="proj", agent_id="agent", user_id=PHONE)
    try:
        await engine.store.close()  # the store goes away under the caller's warm load
        caplog.set_level(logging.DEBUG, logger="voxmem")
        mem = engine.callers.get(scope)  # the warm load a call start begins
        await mem.ready.wait()
        assert mem.load_error is not None
        assert leaks(caplog) == []
        assert any("loading memory of caller#" in r.getMessage() for r in caplog.records)
    finally:
        with contextlib.suppress(Exception):  # what it raises is not the point here
            await engine.close()
