"""The cleanup's journal compaction on a full disk (no small filesystem to fill here, so
the operating system's answer is injected where a full disk gives it: the write of the
replacement file, and the creation of the next segment). Whatever fails, no record the
store has not applied is lost, no temporary file is left to fill the disk further,
appends go on, a restart reads every record back, and the next compaction, with room
again, does its work."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from voxmem.journal import Journal

_real_write = os.write
_real_open = os.open


def _full(*_: Any, **__: Any) -> int:
    raise OSError(errno.ENOSPC, "No space left on device")


async def _journal(path: Path, records: int) -> Journal:
    journal = Journal(path)
    journal.open()
    for i in range(records):
        await journal.append({"type": "x", "pad": "y" * 50, "i": i})
    return journal


def _seqs(journal: Journal) -> list[int]:
    return [int(r["seq"]) for r in journal.read_after(0)]


async def test_a_replacement_that_cannot_be_written_loses_nothing_and_leaves_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "j"
    journal = await _journal(directory, 12)
    # Nothing appends meanwhile: the compaction holds the journal's lock.
    monkeypatch.setattr(os, "write", _full)
    with pytest.raises(OSError):
        journal.compact(9)
    monkeypatch.setattr(os, "write", _real_write)
    assert list(directory.glob("*.tmp")) == []
    assert _seqs(journal) == list(range(1, 13))  # nothing dropped, nothing cut
    assert await journal.append({"type": "x", "i": 12}) == 13
    journal.close()

    reopened = Journal(directory)
    reopened.open()
    assert _seqs(reopened) == list(range(1, 14))
    assert reopened.compact(9) == 9  # room again: the next cleanup does it
    assert _seqs(reopened) == [10, 11, 12, 13]
    reopened.close()


async def test_a_replacement_written_in_short_pieces_is_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A nearly full disk can accept part of a write and answer how much: no error.
    directory = tmp_path / "j"
    journal = await _journal(directory, 12)
    monkeypatch.setattr(os, "write", lambda fd, data: _real_write(fd, bytes(data)[:7]))
    assert journal.compact(9) == 9
    monkeypatch.setattr(os, "write", _real_write)
    assert _seqs(journal) == [10, 11, 12]
    journal.close()
    reopened = Journal(directory)
    reopened.open()
    assert _seqs(reopened) == [10, 11, 12]
    assert await reopened.append({"type": "x"}) == 13
    reopened.close()


async def test_a_next_segment_that_cannot_be_created_keeps_the_journal_appending(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every record applied: the compaction empties the journal into a new, empty
    # segment named after the next number, and the disk refuses to create it.
    directory = tmp_path / "j"
    journal = await _journal(directory, 12)

    def no_new_files(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and not Path(path).exists():
            return _full()
        return _real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_new_files)
    with pytest.raises(OSError):
        journal.compact(12)
    assert await journal.append({"type": "x", "i": 12}) == 13  # still appending
    monkeypatch.setattr(os, "open", _real_open)
    assert _seqs(journal)[-1] == 13
    journal.close()

    reopened = Journal(directory)
    reopened.open()
    assert _seqs(reopened)[-1] == 13  # the append acknowledged during the failure
    assert await reopened.append({"type": "x"}) == 14  # the numbering goes on
    held = len(_seqs(reopened))
    assert reopened.compact(14) == held
    assert _seqs(reopened) == []
    reopened.close()
