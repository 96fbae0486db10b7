"""`voxmem backup` / `voxmem restore` of the embedded SQLite store: a copy taken while an
engine writes a burst of saves holds every save acknowledged before the backup began
(the journal tail included), restores into a fresh data directory that serves the same
answers, and is refused where it would destroy or race anything."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

from voxmem import Settings, VoiceClient
from voxmem.cli import main
from voxmem.engine import MemoryEngine

USER = {"id": "caller-backup-1"}
BURST = {"id": "caller-backup-burst"}


async def _answers(client: VoiceClient, queries: list[str]) -> list[str]:
    return [(await client.search_memory(q, user=USER, timeout_ms=20_000)).context_text
            for q in queries]


async def test_a_backup_taken_during_a_burst_of_saves_restores_every_acknowledged_turn(
        tmp_path: Path, sqlite_settings: Settings) -> None:
    client = VoiceClient(project_id="p", agent_id="a", embedded=True,
                         settings=sqlite_settings)
    await client.start_session(user=USER, session_id="call-1")
    acked: list[str] = []
    for i in range(40):
        acked.append(await client.save_response(
            user=USER, user_text=f"order number {i} is a blue kettle",
            assistant_text="Noted.", turn_id=f"t{i}") or "")
    stop = asyncio.Event()
    burst_acked: list[str] = []
    under_way = asyncio.Event()

    async def burst() -> None:
        # Another caller keeps the journal and the applier busy while the copy is
        # taken; USER's memory stays as it was, so both directories must answer alike.
        i = 0
        while not stop.is_set():
            burst_acked.append(await client.save_response(
                user=BURST, user_text=f"later order {i}", assistant_text="Noted.",
                turn_id=f"b{i}") or "")
            i += 1
            if i == 20:
                under_way.set()

    writer = asyncio.create_task(burst())
    await under_way.wait()  # the burst is under way when the copy starts
    acked += burst_acked
    dest = tmp_path / "backup"
    code = await asyncio.to_thread(main, ["backup", str(dest), "--data-dir",
                                          sqlite_settings.data_dir, "--json"])
    stop.set()
    await writer
    assert code == 0
    manifest = json.loads((dest / "backup.json").read_text())
    assert manifest["format"] == 1 and manifest["dialect"] == "sqlite"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in dest.rglob("*")
               if p.is_file())
    queries = ["blue kettle order number 7", "order number 39"]
    await client.aclose()

    restored = Settings(data_dir=str(tmp_path / "restored"), embedder="hashing")
    assert main(["restore", str(dest), "--data-dir", restored.data_dir]) == 0
    engine = MemoryEngine(restored)
    await engine.start()  # replays the copied journal past the copy's applied position
    try:
        assert await engine.flush(60)  # the replayed tail is in the store
        stored = set()
        for who in (USER, BURST):
            scope = engine.scope(project_id="p", agent_id="a", user_id=who["id"])
            stored |= {i.id for i in (await engine.store.export_caller(scope)).items}
    finally:
        await engine.close()
    assert set(acked) <= stored

    # The restored directory answers as the original does for what both hold.
    original = VoiceClient(project_id="p", agent_id="a", embedded=True,
                           settings=sqlite_settings)
    copy = VoiceClient(project_id="p", agent_id="a", embedded=True, settings=restored)
    try:
        want = await _answers(original, queries)
        assert "blue kettle" in want[0]
        assert await _answers(copy, queries) == want
    finally:
        await original.aclose()
        await copy.aclose()


async def test_restore_refuses_a_live_or_occupied_directory_and_a_non_backup(
        tmp_path: Path, sqlite_settings: Settings,
        capsys: pytest.CaptureFixture[str]) -> None:
    engine = MemoryEngine(sqlite_settings)
    await engine.start()
    try:
        dest = tmp_path / "backup"
        assert await asyncio.to_thread(main, ["backup", str(dest), "--data-dir",
                                              sqlite_settings.data_dir]) == 0
        # The same path twice: a backup never overwrites one.
        assert await asyncio.to_thread(main, ["backup", str(dest), "--data-dir",
                                              sqlite_settings.data_dir]) == 1
        assert "not an empty folder" in capsys.readouterr().err
        # Into the directory an engine serves: refused, nothing touched.
        before = sorted(p.name for p in (sqlite_settings.data_path / "journal").iterdir())
        assert main(["restore", str(dest), "--data-dir", sqlite_settings.data_dir]) == 1
        assert "voxmem stop" in capsys.readouterr().err
        assert sorted(p.name for p in (sqlite_settings.data_path / "journal").iterdir()) == before
    finally:
        await engine.close()
    # Stopped, but the store is still there: move it aside first.
    assert main(["restore", str(dest), "--data-dir", sqlite_settings.data_dir]) == 1
    assert "move it aside" in capsys.readouterr().err
    # A folder that is not a (finished) backup.
    (dest / "backup.json").unlink()
    assert main(["restore", str(dest), "--data-dir", str(tmp_path / "new")]) == 1
    assert "not a voxmem backup" in capsys.readouterr().err
    assert not (tmp_path / "new" / "voxmem.db").exists()


def test_backup_of_a_postgres_store_points_at_pg_dump(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOXMEM_STORE_URL", "postgresql://app@db.internal/voxmem")
    assert main(["backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "d")]) == 1
    assert "pg_dump" in capsys.readouterr().err


async def test_restore_refuses_a_backup_another_user_could_have_written(
        tmp_path: Path, sqlite_settings: Settings,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A backup folder (or a file in it) another user owns or can write could hold a
    database or journal they made: refused, as the clients refuse a planted
    runtime.json, with nothing written; once it is the user's own again it restores."""
    engine = MemoryEngine(sqlite_settings)
    await engine.start()
    await engine.close()
    dest = tmp_path / "backup"
    assert main(["backup", str(dest), "--data-dir", sqlite_settings.data_dir]) == 0
    target = tmp_path / "new"
    segment = next((dest / "journal").iterdir())

    def refused(why: str) -> None:
        assert main(["restore", str(dest), "--data-dir", str(target)]) == 1
        err = capsys.readouterr().err
        assert why in err and "chmod go-w" in err, err
        assert not (target / "voxmem.db").exists()
        assert not list((target / "journal").glob("*.jsonl*"))

    for path in (dest, dest / "journal", dest / "backup.json", dest / "voxmem.db", segment):
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(mode | 0o002)
        refused("writable by other users")
        path.chmod(mode | 0o020)
        refused("writable by other users")
        path.chmod(mode)
    database = dest / "voxmem.db"
    database.rename(dest / "elsewhere.db")
    database.symlink_to(dest / "elsewhere.db")
    refused("symbolic link")
    database.unlink()
    (dest / "elsewhere.db").rename(database)
    if os.getuid() == 0:  # only root can give a file to another user
        os.chown(segment, 65534, 65534)
        refused("owned by user id 65534")
        os.chown(segment, 0, 0)
    assert main(["restore", str(dest), "--data-dir", str(target)]) == 0
    assert (target / "voxmem.db").exists()


async def test_restore_into_the_default_data_directory_names_it(
        tmp_path: Path, sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """operations.md's restore runs without --data-dir: the line names the directory it
    restored into (it said "into ;")."""
    engine = MemoryEngine(sqlite_settings)
    await engine.start()
    await engine.close()
    dest = tmp_path / "backup"
    assert main(["backup", str(dest), "--data-dir", sqlite_settings.data_dir]) == 0
    monkeypatch.delenv("VOXMEM_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    capsys.readouterr()
    assert main(["restore", str(dest)]) == 0
    out = capsys.readouterr().out
    assert f"into {tmp_path / 'xdg' / 'voxmem'};" in out, out
    assert (tmp_path / "xdg" / "voxmem" / "voxmem.db").exists()


async def test_restore_makes_the_data_directory_owner_only(
        tmp_path: Path, sqlite_settings: Settings) -> None:
    """operations.md's restore goes into a directory that does not exist yet (the old one
    moved aside). It was made with the umask's mode (0755: any user could list it) until
    a runtime started there and narrowed it; every other directory voxmem makes is 0700."""
    engine = MemoryEngine(sqlite_settings)
    await engine.start()
    await engine.close()
    dest = tmp_path / "backup"
    assert main(["backup", str(dest), "--data-dir", sqlite_settings.data_dir]) == 0
    target = tmp_path / "moved-aside" / "voxmem"
    old = os.umask(0o022)
    try:
        assert main(["restore", str(dest), "--data-dir", str(target)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "journal").stat().st_mode) == 0o700
