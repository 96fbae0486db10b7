"""Owner-only files and directories.

The data directory holds transcripts, the journal and the runtime's bearer token, so
everything voxmem creates there is readable by its owner only, whatever the umask.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "create_private_binary", "not_ours",
           "private_dir", "write_private_text"]

#: Mode of every directory voxmem creates.
PRIVATE_DIR_MODE = 0o700
#: Mode of every file voxmem creates.
PRIVATE_FILE_MODE = 0o600


def not_ours(st: os.stat_result) -> str | None:
    """Why a file or folder with status ``st`` (from ``lstat``/``fstat``, never following
    a link) is not one this user wrote and nobody else can change, or ``None`` if it is.
    Whatever fails this could hold what another user put there."""
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return "a symbolic link or special file"
    if st.st_uid != os.getuid():
        return f"owned by user id {st.st_uid}"
    if st.st_mode & 0o022:
        return "writable by other users"
    return None


def private_dir(path: Path) -> Path:
    """Create ``path`` (with its parents) owner-only; one that exists with a wider mode
    (an older version, a permissive umask) is narrowed too."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR_MODE)
    return path


def create_private_binary(path: Path) -> BinaryIO:
    """``path`` opened for writing from empty (a file of the data directory voxmem
    replaces whole: a temporary file renamed over the org index files), owner-only
    whatever the umask: the org rows file holds the knowledge documents' text."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                 PRIVATE_FILE_MODE)
    os.fchmod(fd, PRIVATE_FILE_MODE)  # an older file of the same name kept its mode
    return os.fdopen(fd, "wb")


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (a file the user named: an export, caller data) readable
    by its owner only, whatever the umask; never through a symbolic link.

    A link at the path could have been left by another user of a shared folder (``/tmp``)
    to make us overwrite a file of ours; a file written with the umask's 0644 would let
    every user of the machine read the callers in it. An existing file of ours is
    narrowed to 0600 as it is overwritten.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                     | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "it is a symbolic link; name the file itself",
                          str(path)) from None
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        f.write(text)
