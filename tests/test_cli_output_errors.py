"""A CLI output file that cannot be written is named as such, not blamed on the data
directory (found probing ``voxmem memories export -o`` into a folder that is not there:
the one-line error told the user to check the data directory, which was fine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxmem.cli import main


def test_an_unwritable_output_file_is_named_without_blaming_the_data_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    data = tmp_path / "data"
    assert main(["memories", "list", "--embedded", "--data-dir", str(data),
                 "--project", "p", "--user", "ann"]) == 0
    capsys.readouterr()
    target = tmp_path / "no-such-folder" / "ann.jsonl"
    code = main(["memories", "export", "--embedded", "--data-dir", str(data),
                 "--project", "p", "--user", "ann", "-o", str(target)])
    assert code != 0
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert line.startswith("voxmem: cannot write ") and str(target) in line
    assert "data directory" not in line and "DATA_DIR" not in line


@pytest.mark.parametrize("name", ["voxmem.db", "runtime.token", "journal/000000000001.jsonl",
                                  "ann.jsonl"])
def test_an_export_is_never_written_into_the_data_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # `-o voxmem.db` run from the data directory (or `-o runtime.token`) overwrote the live
    # store, or the token every client reads (each then failed until a restart): the data
    # directory holds the store, its journal and the token, and nothing of the user's.
    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    data = tmp_path / "data"
    assert main(["memories", "list", "--embedded", "--data-dir", str(data),
                 "--project", "p", "--user", "ann"]) == 0
    capsys.readouterr()
    target = data / name
    before = target.read_bytes() if target.exists() else None
    monkeypatch.chdir(data)  # spelled relative to it, as an operator in it would
    code = main(["memories", "export", "--embedded", "--data-dir", str(data),
                 "--project", "p", "--user", "ann", "-o", name])
    assert code != 0
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "data directory" in line and name in line
    assert (target.read_bytes() if target.exists() else None) == before


def test_importing_a_file_that_is_no_text_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The store itself given by mistake: "unexpected UnicodeDecodeError" before.
    monkeypatch.setenv("VOXMEM_EMBEDDER", "hashing")
    data = tmp_path / "data"
    assert main(["memories", "list", "--embedded", "--data-dir", str(data),
                 "--project", "p", "--user", "ann"]) == 0
    capsys.readouterr()
    code = main(["memories", "import", str(data / "voxmem.db"), "--embedded",
                 "--data-dir", str(data), "--project", "p"])
    assert code != 0
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "not UTF-8 text" in line and "voxmem.db" in line and "unexpected" not in line
