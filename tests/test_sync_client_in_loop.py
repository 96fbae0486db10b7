"""The sync client called inside an event loop says once that it blocks that loop."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from voxmem import Settings, VoiceClientSync


def client(tmp_path: Path) -> VoiceClientSync:
    return VoiceClientSync(project_id="p", agent_id="a", embedded=True,
                           settings=Settings(data_dir=str(tmp_path / "vm"), embedder="hashing"))


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "voxmem.client" and "inside a running event loop" in r.getMessage()]


async def test_a_sync_call_inside_an_event_loop_is_named_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """It used to work without a word while the loop (an agent's audio) stood still."""
    sync = client(tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="voxmem.client"):
            sync.save_response(user_text="I'm Dana.", assistant_text="Hi Dana.",
                               user={"id": "dana"})
            result = sync.search_memory("who am I?", user={"id": "dana"})
    finally:
        sync.close()
    assert isinstance(result.contextText, str)  # the call still works
    assert warnings(caplog) == [
        "a sync voxmem client (VoiceClientSync) was called inside a running event loop: "
        "each call blocks that loop until it returns; use VoiceClient and await it"]


def test_a_sync_call_outside_an_event_loop_says_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sync = client(tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="voxmem.client"):
            sync.save_response(user_text="I'm Dana.", assistant_text="Hi Dana.",
                               user={"id": "dana"})
    finally:
        sync.close()
    assert warnings(caplog) == []
