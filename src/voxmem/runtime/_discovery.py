"""The files that let every process on a host share one runtime per data directory.

Inside the data directory (created 0700)::

    runtime.lock        held with an exclusive flock by the live runtime for its whole life
    runtime.start.lock  held by the one client that is launching a runtime right now
    runtime.json        discovery: pid, url, token path, started_at, instance id
    runtime.token       the bearer token, mode 0600, new for every runtime start
    runtime.log         the detached runtime's stdout and stderr
    runtime.stopping    while a stopping runtime applies its journaled backlog: a
                        heartbeat with how far it got (``voxmem stop`` waits on it)

Why a flock rather than a pid check: the kernel drops a flock the instant its holder
dies, SIGKILL included, so "is a runtime alive for this directory?" has an exact answer
that pid reuse cannot fool. ``runtime.json`` is only ever written by the current holder
of ``runtime.lock``; when the lock is free, whatever discovery file is left is stale.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Any

from .._files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, not_ours

__all__ = [
    "DISCOVERY_FILE",
    "EXIT_ALREADY_RUNNING",
    "EXIT_NO_FREE_PORT",
    "EXIT_START_FAILED",
    "LOG_FILE",
    "RUNTIME_LOCK_FILE",
    "START_LOCK_FILE",
    "STOP_PROGRESS_FILE",
    "TOKEN_FILE",
    "Discovery",
    "FileLock",
    "StopProgress",
    "ensure_data_dir",
    "lock_holder",
    "read_discovery",
    "read_stop_progress",
    "read_token",
    "remove_discovery",
    "remove_stop_progress",
    "runtime_lock_held",
    "write_discovery",
    "write_stop_progress",
    "write_token",
]

RUNTIME_LOCK_FILE = "runtime.lock"
START_LOCK_FILE = "runtime.start.lock"
log = logging.getLogger("voxmem.runtime")

DISCOVERY_FILE = "runtime.json"
TOKEN_FILE = "runtime.token"
LOG_FILE = "runtime.log"
STOP_PROGRESS_FILE = "runtime.stopping"

# Exit codes of `voxmem serve` that a launching client acts on. Distinct from uvicorn's
# own startup-failure code (3) and from argparse's usage error (2).
EXIT_ALREADY_RUNNING = 10
EXIT_NO_FREE_PORT = 11
EXIT_START_FAILED = 12


def ensure_data_dir(path: Path) -> Path:
    """Create the data directory readable by its owner only."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    return path


@dataclasses.dataclass(frozen=True, slots=True)
class Discovery:
    """What a running runtime tells other processes about itself."""

    pid: int
    host: str
    port: int
    token_path: str
    started_at: float
    instance: str
    version: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "host": self.host, "port": self.port, "url": self.url,
                "tokenPath": self.token_path, "startedAt": self.started_at,
                "instance": self.instance, "version": self.version}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Discovery:
        return cls(pid=int(data["pid"]), host=str(data["host"]), port=int(data["port"]),
                   token_path=str(data["tokenPath"]), started_at=float(data["startedAt"]),
                   instance=str(data["instance"]), version=str(data.get("version", "")))


def _write_private(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (never world-readable).

    ``durable=False`` skips the fsync, for a file that means nothing after a crash.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    try:
        # The umask cannot widen it, an old file cannot keep its mode.
        os.fchmod(fd, PRIVATE_FILE_MODE)
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def write_discovery(data_dir: Path, discovery: Discovery) -> None:
    _write_private(data_dir / DISCOVERY_FILE,
                   json.dumps(discovery.to_dict(), indent=2).encode("utf-8"))


def _read_ours(path: Path) -> bytes | None:
    """``path``'s bytes if this user wrote it: a regular file (no symlink), ours, and
    writable by nobody else; else None (logged)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not_ours(st) is not None:
            # Another user (a data directory under /tmp made by someone else) could
            # point clients at their own server, with a "token path" naming one of our
            # files, which would then be sent to it as the bearer token.
            log.warning("ignoring %s: not a file of this user that only this user can "
                        "write", path)
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    finally:
        os.close(fd)


def read_discovery(data_dir: Path) -> Discovery | None:
    """The discovery file, or ``None`` when it is missing, unreadable or not ours.

    Trusted only when this user wrote it, and only with a token file inside ``data_dir``
    (a runtime writes nothing else): see :func:`_read_ours`.
    """
    raw = _read_ours(data_dir / DISCOVERY_FILE)
    if raw is None:
        return None
    try:
        found = Discovery.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return None
    if Path(found.token_path).parent != data_dir and Path(
            found.token_path).parent.resolve() != data_dir.resolve():
        log.warning("ignoring %s: its token file is outside the data directory",
                    data_dir / DISCOVERY_FILE)
        return None
    holder = lock_holder(data_dir)
    if holder is not None and holder != found.pid:
        # Left by a runtime that died, while the next one holds the lock and has not
        # published itself yet: its pid may be another process's by now, never to signal.
        return None
    return found


def lock_holder(data_dir: Path) -> int | None:
    """The pid the runtime lock's last taker wrote into it (see :meth:`FileLock.try_acquire`);
    None when unknown (a lock file of an older release, or one being written)."""
    try:
        fd = os.open(data_dir / RUNTIME_LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        raw = os.read(fd, 32)
    finally:
        os.close(fd)
    try:
        return int(raw.decode("ascii").strip())
    except ValueError:
        return None


def remove_discovery(data_dir: Path, instance: str | None = None) -> None:
    """Delete the discovery file; with ``instance``, only if it is that runtime's."""
    if instance is not None:
        current = read_discovery(data_dir)
        if current is not None and current.instance != instance:
            return
    with contextlib.suppress(FileNotFoundError):
        (data_dir / DISCOVERY_FILE).unlink()


@dataclasses.dataclass(frozen=True, slots=True)
class StopProgress:
    """A stopping runtime's heartbeat: it is alive and how far its drain got.

    ``beat`` grows with every report; a reader that sees it change knows the runtime
    is still working even when no record was stored meanwhile (a slow store).
    """

    pid: int
    instance: str
    beat: int
    journal_seq: int
    applied_seq: int

    @property
    def left(self) -> int:
        """Journaled records not yet in the store."""
        return max(0, self.journal_seq - self.applied_seq)

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "instance": self.instance, "beat": self.beat,
                "journalSeq": self.journal_seq, "appliedSeq": self.applied_seq}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StopProgress:
        return cls(pid=int(data["pid"]), instance=str(data["instance"]),
                   beat=int(data["beat"]), journal_seq=int(data["journalSeq"]),
                   applied_seq=int(data["appliedSeq"]))


def write_stop_progress(data_dir: Path, progress: StopProgress) -> None:
    _write_private(data_dir / STOP_PROGRESS_FILE,
                   json.dumps(progress.to_dict()).encode("utf-8"), durable=False)


def read_stop_progress(data_dir: Path) -> StopProgress | None:
    """The stopping runtime's last heartbeat, or ``None`` when there is none."""
    try:
        return StopProgress.from_dict(json.loads((data_dir / STOP_PROGRESS_FILE).read_bytes()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_stop_progress(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / STOP_PROGRESS_FILE).unlink()


def write_token(data_dir: Path) -> tuple[Path, str]:
    """A fresh random bearer token in a 0600 file; returns (path, token)."""
    token = secrets.token_urlsafe(32)
    path = data_dir / TOKEN_FILE
    _write_private(path, token.encode("ascii"))
    return path, token


def read_token(path: str | Path) -> str | None:
    """The bearer token in ``path``, if the file is this user's own (see
    :func:`_read_ours`)."""
    raw = _read_ours(Path(path))
    if raw is None:
        return None
    try:
        return raw.decode("ascii").strip() or None
    except UnicodeDecodeError:
        return None


class FileLock:
    """An advisory ``flock`` on a file in the data directory.

    Example::

        lock = FileLock(data_dir / RUNTIME_LOCK_FILE)
        if lock.try_acquire():
            ...  # we are the runtime for this directory
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock exclusively without waiting; ``False`` if another holds it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        # Who holds it, for a reader to tell a runtime.json of this holder from one a dead
        # runtime left behind (read_discovery): the pid in it may be reused since.
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            pass  # a full disk: readers then trust runtime.json as before
        self._fd = fd
        return True

    def acquire(self, timeout_s: float, poll_s: float = 0.01) -> bool:
        """Blocking variant with a deadline (for the runtime process, not event loops)."""
        deadline = time.monotonic() + timeout_s
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def runtime_lock_held(data_dir: Path) -> bool:
    """Whether a live runtime holds this data directory's lock.

    Probes with a *shared* non-blocking lock so that concurrent probes never make each
    other see a runtime that is not there; a runtime taking the lock at that instant
    retries briefly (see :func:`voxmem.runtime.serve`).
    """
    path = data_dir / RUNTIME_LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
