"""Memory policy defaults and history imports against retention: "not given" never
overwrites a value, and history that retention would hide is never accepted silently."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from voxmem import Settings, VoiceClient
from voxmem._exceptions import BadRequest
from voxmem._operations import dispatch
from voxmem.engine import MemoryEngine

DAY = 86_400.0
IDENT = {"project_id": "proj", "agent_id": "agent"}
CALLER = {"id": "caller-import"}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[VoiceClient]:
    vc = VoiceClient(project_id="proj", agent_id="agent", embedded=True,
                     settings=settings.replace(memory_retention_days=0))
    try:
        yield vc
    finally:
        await vc.aclose()


async def test_toggling_memory_keeps_the_retention_in_force(client: VoiceClient) -> None:
    # The runtime's setting is 0 (no cap); turning memory on must not impose 90 days.
    policy = await client.set_memory_policy(memory_enabled=True)
    assert (policy["project"]["memoryEnabled"], policy["project"]["retentionDays"]) == (
        True, 0)
    policy = await client.set_memory_policy(memory_retention_days=30)
    assert policy["project"]["retentionDays"] == 30
    policy = await client.set_memory_policy(memory_enabled=False)
    assert (policy["project"]["memoryEnabled"], policy["project"]["retentionDays"]) == (
        False, 30)


async def test_agent_policy_not_given_falls_back_to_the_project_row(
        client: VoiceClient) -> None:
    await client.set_memory_policy(memory_retention_days=14)
    policy = await client.set_memory_policy(memory_enabled=False, level="agent")
    agent = policy["agents"]["agent"]
    assert (agent["memoryEnabled"], agent["retentionDays"]) == (False, 14)


def sessions(*ages_days: float, now: float) -> list[dict[str, Any]]:
    return [{"session_id": f"ses-{i}", "started_at": now - age * DAY,
             "turns": [{"user_text": f"call {i}: my account is 77{i}",
                        "assistant_text": "noted"}]}
            for i, age in enumerate(ages_days)]


def import_body(*ages_days: float, now: float, **extra: Any) -> dict[str, Any]:
    return {**IDENT, "user": CALLER, "sessions": sessions(*ages_days, now=now), **extra}


async def test_import_older_than_retention_is_refused_naming_the_setting(
        engine: MemoryEngine) -> None:
    assert engine.settings.memory_retention_days == 90
    before = engine.stats()["journalSeq"]
    with pytest.raises(BadRequest) as caught:
        await dispatch(engine, "import_history", import_body(200, 2, now=engine.clock()))
    assert caught.value.details["field"] == "memory_retention_days"
    assert caught.value.details["outsideRetention"] == 1
    assert "outside_retention" in caught.value.message
    assert engine.stats()["journalSeq"] == before  # nothing written


async def test_import_can_skip_what_retention_would_hide_and_says_so(
        engine: MemoryEngine) -> None:
    result = await dispatch(engine, "import_history", import_body(
        200, 120, 2, now=engine.clock(), outside_retention="skip"))
    assert result["turns"] == 1
    assert result["outsideRetention"] == 2 and result["skipped"] == 2
    found = await dispatch(engine, "search_memory", {**IDENT, "user": CALLER,
                                                     "query": "account 772"})
    assert "772" in found["contextText"]


async def test_import_with_no_retention_cap_takes_everything(engine: MemoryEngine) -> None:
    await dispatch(engine, "set_memory_policy", {**IDENT, "memory_retention_days": 0})
    result = await dispatch(engine, "import_history", import_body(2000, 2,
                                                                  now=engine.clock()))
    assert result["turns"] == 2 and result["outsideRetention"] == 0


async def test_unknown_outside_retention_choice_is_refused(engine: MemoryEngine) -> None:
    with pytest.raises(BadRequest) as caught:
        await dispatch(engine, "import_history", {**IDENT, "user": CALLER, "sessions": [],
                                                  "outside_retention": "keep"})
    assert caught.value.details["field"] == "outside_retention"
