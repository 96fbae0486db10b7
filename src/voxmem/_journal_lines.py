"""Reading and replacing the journal's segment files, line by line (``journal.py`` holds
the writer; these are the helpers its recovery, erasure and compaction share)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ._files import PRIVATE_FILE_MODE

__all__ = ["applied_prefix", "last_line", "parse_seq", "replace_file"]

#: How every line starts: ``Journal.append_many`` puts the number first.
_SEQ_PREFIX = b'{"seq":'


def parse_seq(raw: bytes) -> int | None:
    """The sequence number of one complete journal line, or None if it is damaged."""
    if not raw.endswith(b"\n"):
        return None
    try:
        record = json.loads(raw)
        return int(record["seq"])
    except (ValueError, KeyError, TypeError):
        return None


def last_line(path: Path) -> bytes:
    with path.open("rb") as fh:
        last = b""
        for raw in fh:
            last = raw
        return last


def replace_file(path: Path, lines: list[bytes]) -> None:
    """Atomically replace ``path`` with ``lines`` (mode 0600, synced)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
            data = memoryview(b"".join(lines))
            while data:  # a short write on a nearly full disk is no error of its own
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        tmp.unlink(missing_ok=True)  # not left to fill a disk that is already full
        raise
    tmp.replace(path)



def applied_prefix(path: Path, applied_seq: int) -> tuple[int, int]:
    """(bytes, lines) of the complete lines at the start of ``path`` numbered at most
    ``applied_seq``: what a compaction may drop. Stops at a damaged or torn line (the
    next open repairs it) and at the first line not applied."""
    offset = count = 0
    with path.open("rb") as fh:
        for raw in fh:
            seq = _quick_seq(raw)
            if seq is None or seq > applied_seq:
                break
            offset += len(raw)
            count += 1
    return offset, count


def _quick_seq(raw: bytes) -> int | None:
    """:func:`parse_seq` without decoding the whole line (a compaction reads minutes of
    saves): the number is the line's first member."""
    if raw.startswith(_SEQ_PREFIX) and raw.endswith(b"}\n"):
        comma = raw.find(b",", len(_SEQ_PREFIX))
        if comma > len(_SEQ_PREFIX):
            try:
                return int(raw[len(_SEQ_PREFIX):comma])
            except ValueError:
                pass
    return parse_seq(raw)
