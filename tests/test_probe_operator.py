"""The operator's probes against a real `voxmem serve`: SIGTERM in the middle of a burst
of saves stores every acknowledged turn (a save either is acknowledged and stored, or
fails; none is acknowledged and lost)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_runtime_process import _serve
from voxmem import VoiceClient, VoxmemError

from ._runtime import runtime_data_dir

pytestmark = pytest.mark.slow
PORTS = (18900, 18949)  # away from the default range and the other process tests'
USER = {"id": "caller-burst"}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from runtime_data_dir(tmp_path, monkeypatch, PORTS)


async def test_sigterm_during_a_burst_of_saves_stores_every_acknowledged_turn(
        data_dir: Path) -> None:
    serve, found = await asyncio.to_thread(_serve, data_dir)
    said: list[str] = []
    # Drained all along: a full stderr pipe would stall the runtime's logging mid-burst.
    drain = threading.Thread(target=lambda: said.extend(serve.stderr or ()), daemon=True)
    drain.start()
    token = await asyncio.to_thread(Path(found.token_path).read_text)
    acked: list[str] = []
    refused: list[str] = []
    enough = asyncio.Event()
    client = VoiceClient(project_id="proj", agent_id="agent", runtime_url=found.url,
                         api_key=token)

    async def saver(k: int) -> None:
        for i in range(10_000):
            try:
                event_id = await client.save_response(
                    user=USER, user_text=f"burst {k} line {i}", assistant_text="ok",
                    turn_id=f"k{k}-{i}")
            except VoxmemError as exc:  # stopping or gone: not acknowledged
                refused.append(exc.code)
                return
            assert event_id
            acked.append(event_id)
            if len(acked) >= 60:
                enough.set()

    try:
        await client.start_session(user=USER, session_id="burst-call")
        savers = [asyncio.create_task(saver(k)) for k in range(8)]
        await asyncio.wait_for(enough.wait(), timeout=600)
        serve.send_signal(signal.SIGTERM)  # saves are in flight right now
        await asyncio.gather(*savers)
        await asyncio.to_thread(serve.wait, timeout=120)
    finally:
        await client.aclose()
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    # A clean stop ends by the signal it was given (the server re-raises it on exit).
    assert serve.returncode in (0, -signal.SIGTERM), "".join(said[-20:])
    assert any("engine flushed and closed" in line for line in said), "".join(said[-20:])
    assert refused, "the burst never saw the runtime stop"
    with sqlite3.connect(f"file:{data_dir / 'voxmem.db'}?mode=ro", uri=True) as db:
        stored = {r[0] for r in db.execute(
            "SELECT id FROM items WHERE kind = 'turn' AND user_id = ?", (USER["id"],))}
    assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged turns lost"
