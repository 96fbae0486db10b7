"""The CLI probed as an attacker: a caller's export is caller data, so it is written
owner-only and never through a symlink someone left at its path; ``voxmem keys`` and
``voxmem settings`` never print a secret they were not asked for."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from voxmem import Settings, VoiceClientSync
from voxmem.cli import main


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    data = tmp_path / "data"
    with VoiceClientSync(project_id="proj", agent_id="agent", embedded=True,
                         settings=Settings(data_dir=str(data), embedder="hashing")) as c:
        c.save_response(user={"id": "u1"}, user_text="my parrot is Kiwi", assistant_text="ok")
    return data


def export(data: Path, out: Path) -> int:
    return main(["memories", "export", "--data-dir", str(data), "--project", "proj",
                 "--user", "u1", "--embedded", "-o", str(out)])


def test_an_export_file_is_owner_only_whatever_the_umask(data_dir: Path,
                                                        tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = tmp_path / "u1.jsonl"
        assert export(data_dir, out) == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert "Kiwi" in out.read_text()
        # A file that was there, readable by all, is narrowed as it is overwritten.
        again = tmp_path / "old.jsonl"
        again.write_text("old")
        again.chmod(0o644)
        assert export(data_dir, again) == 0
        assert stat.S_IMODE(again.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_an_export_is_never_written_through_a_symlink(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    trap = tmp_path / "shared" / "u1.jsonl"
    trap.parent.mkdir()
    trap.symlink_to(victim)
    assert export(data_dir, trap) != 0
    assert victim.read_text() == "precious"
    err = capsys.readouterr().err
    assert "cannot write" in err and "symbolic link" in err


def test_settings_and_status_mask_the_store_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VOXMEM_STORE_URL", "postgresql://app:hunter2secret@db.internal/vm")
    monkeypatch.setenv("VOXMEM_OPENAI_API_KEY", "sk-test-0123456789abcdef")
    assert main(["settings", "--json"]) == 0
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "hunter2secret" not in out and "sk-test-0123456789abcdef" not in out
    json.loads(out[:out.rindex("]") + 1])  # still the JSON table
