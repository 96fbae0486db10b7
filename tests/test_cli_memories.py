"""``voxmem memories``: list, delete, export and forget-user from the command line."""

from __future__ import annotations

import json
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
        c.remember(user={"id": "u1"}, memory_type="plan", content="premium")
        c.save_response(user={"id": "u1"}, user_text="my parrot is Kiwi", assistant_text="ok")
    return data


def run(data: Path, *args: str) -> int:
    return main(["memories", args[0], "--data-dir", str(data), "--project", "proj",
                 "--user", "u1", "--embedded", *args[1:]])


def test_list_export_delete_forget(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(data_dir, "list", "--json") == 0
    facts = json.loads(capsys.readouterr().out)
    assert [f["slotKey"] for f in facts] == ["plan"]
    out = data_dir.parent / "export.jsonl"
    assert run(data_dir, "export", "-o", str(out)) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["type"] == "caller" and lines[0]["userId"] == "u1"
    assert {"turn", "fact", "session"} <= {line["type"] for line in lines}
    assert run(data_dir, "delete", facts[0]["id"]) == 0
    capsys.readouterr()
    assert run(data_dir, "list") == 0
    assert capsys.readouterr().out == ""
    assert run(data_dir, "forget-user") == 2, "erasure needs --yes"
    assert run(data_dir, "forget-user", "--yes") == 0
    assert run(data_dir, "export", "-o", str(out)) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["profile"] == {}


def test_listing_a_caller_with_no_memories_says_so(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped caller id printed nothing at all and exited 0 (found following
    docs/operations.md as a new user): the list stays empty for scripts, stderr says why."""
    assert main(["memories", "list", "--data-dir", str(data_dir), "--project", "proj",
                 "--user", "u2", "--embedded"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no memories" in captured.err and "u2" in captured.err and "proj" in captured.err
    assert run(data_dir, "list") == 0
    captured = capsys.readouterr()
    assert "premium" in captured.out and captured.err == ""
