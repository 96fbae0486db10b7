"""Owner-only files and directories.

The data directory holds transcripts, the journal and the runtime's bearer token, so
everything voxmem creates there is readable by its owner only, whatever the umask.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "private_dir"]

#: Mode of every directory voxmem creates.
PRIVATE_DIR_MODE = 0o700
#: Mode of every file voxmem creates.
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (with its parents) owner-only; one that exists with a wider mode
    (an older version, a permissive umask) is narrowed too."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR_MODE)
    return path
