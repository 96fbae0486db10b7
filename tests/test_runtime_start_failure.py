"""A runtime that cannot start is named in the client's log, not only in runtime.log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._runtime import runtime_data_dir
from voxmem import VoiceClient

PORTS = (18850, 18899)  # away from the default range and the other process tests'


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from runtime_data_dir(tmp_path, monkeypatch, PORTS)


class Seen(logging.Handler):
    """Sets ``event`` when the client logs why its runtime could not start."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.event = asyncio.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "voxmem.client":
            self.messages.append(record.getMessage())
            self.event.set()


async def test_searches_alone_still_say_why_the_runtime_cannot_start(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches give up at their deadline while the runtime starts; when it then failed
    (here: the openai embedder with no endpoint), the app saw only missed deadlines."""
    monkeypatch.setenv("VOXMEM_EMBEDDER", "openai")
    seen = Seen()
    logging.getLogger("voxmem.client").addHandler(seen)
    client = VoiceClient(project_id="p", agent_id="a")
    try:
        result = await client.search_memory("hello", user={"id": "u1"})
        assert result.trace["degraded"] is True
        await asyncio.wait_for(seen.event.wait(), timeout=120)
    finally:
        logging.getLogger("voxmem.client").removeHandler(seen)
        await client.aclose()
    assert seen.messages[0].startswith("the voxmem runtime could not be started: ")
    assert "embeddings_base_url" in seen.messages[0]
