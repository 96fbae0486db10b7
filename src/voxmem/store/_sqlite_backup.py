"""A consistent copy of an embedded SQLite store while it serves, and putting one back.

A backup is a folder: the journal's segments, then the database file copied with
SQLite's online backup API, then ``backup.json`` (what was copied, written last so a
folder without it is an unfinished backup). The order is what makes it consistent with
the runtime writing on: the journal is append-only and a record leaves it (its segment
deleted, or the cleanup's compaction) only once the store has applied it, so whatever
the copied journal lacks was already in the database when the database was copied
after it. At the next start the
engine replays the copied journal past the database's applied position, and replaying
a record the database already holds changes nothing (every write is idempotent).

The database is read from a connection of its own in one backup step, which holds one
read snapshot for the whole copy: in WAL mode that neither blocks nor waits for the
runtime's writer, and the copy is the database as of one committed transaction. Nothing
here writes to the live store.

Restoring copies the backup into a data directory holding no store (the operator moves
the old one aside: a restore never destroys data), under the journal's own lock, so an
engine or runtime starting at the same moment is refused rather than raced; each file is
copied beside its place and synced, then renamed into it, the database first. Only a
backup this user wrote is restored: a folder or file another user owns or can write (a
backup under a shared folder) could hold whatever they put there, and would be served
as the callers' memory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .._exceptions import BadRequest, StoreUnavailable
from .._files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, not_ours, private_dir
from . import _sql as sql

__all__ = ["BACKUP_FORMAT", "MANIFEST", "backup_sqlite", "restore_sqlite"]

#: The layout version ``backup.json`` records; a restore refuses another.
BACKUP_FORMAT = 1
MANIFEST = "backup.json"
DATABASE = "voxmem.db"
JOURNAL = "journal"
#: Suffix of a restored file copied beside its place, before it is put there.
RESTORING = ".restoring"
#: The journal's lock file: held by whichever engine owns the data directory.
JOURNAL_LOCK = "journal.lock"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_folder(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BadRequest(f"{dest} already exists and is not an empty folder: give the "
                         "backup a new path", details={"field": "path"})
    dest.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    dest.chmod(PRIVATE_DIR_MODE)


def _copy_journal(journal: Path, dest: Path) -> tuple[int, int]:
    """Copy every segment, each cut at its last whole line; (segments, bytes)."""
    out = dest / JOURNAL
    out.mkdir(mode=PRIVATE_DIR_MODE)
    copied = size = 0
    if not journal.is_dir():
        return 0, 0
    for path in sorted(journal.iterdir()):
        if path.name == JOURNAL_LOCK or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # applied and dropped since the listing: the database holds it
        if path.suffix == ".jsonl":
            # The newest segment may end in a line being written right now.
            data = data[:data.rfind(b"\n") + 1]
        _write_private(out / path.name, data)
        copied += 1
        size += len(data)
    _fsync_dir(out)
    return copied, size


def backup_sqlite(db_path: Path, journal: Path, dest: Path) -> dict[str, Any]:
    """Copy the store at ``db_path`` and its ``journal`` folder into the new folder
    ``dest``, consistently, whether or not a runtime serves it; what was copied."""
    if not db_path.is_file():
        raise StoreUnavailable(f"no SQLite store at {db_path}: nothing to back up",
                               retryable=False)
    _new_folder(dest)
    segments, journal_bytes = _copy_journal(journal, dest)
    target = dest / DATABASE
    _write_private(target, b"")
    source = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # one step: one read snapshot for the whole copy
            check = copy.execute("PRAGMA quick_check").fetchone()[0]
            schema = int(copy.execute(sql.SCHEMA_VERSION.sqlite).fetchone()[0])
            applied = int(copy.execute("SELECT applied_seq FROM journal_state"
                                       " WHERE id = 1").fetchone()[0])
        finally:
            copy.close()
    finally:
        source.close()
    if check != "ok":
        raise StoreUnavailable(f"the copy of {db_path} failed its check ({check}); the "
                               "backup folder is incomplete", retryable=False)
    with target.open("rb+") as f:
        os.fsync(f.fileno())
    manifest = {"format": BACKUP_FORMAT, "dialect": "sqlite", "createdAt": time.time(),
                "schemaVersion": schema, "appliedSeq": applied,
                "journalSegments": segments, "journalBytes": journal_bytes,
                "databaseBytes": target.stat().st_size}
    _write_private(dest / MANIFEST, json.dumps(manifest, indent=1).encode())
    _fsync_dir(dest)
    return manifest


@contextlib.contextmanager
def _journal_locked(journal: Path) -> Iterator[None]:
    # The data directory first: mkdir(parents=True) makes parents with the umask's mode.
    private_dir(journal.parent)
    journal.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(journal / JOURNAL_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                 PRIVATE_FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreUnavailable(
                "a runtime or an embedded engine is using this data directory: stop it "
                "(voxmem stop) before restoring", retryable=False) from None
        yield
    finally:
        os.close(fd)


def _check_ours(path: Path, st: os.stat_result) -> None:
    why = not_ours(st)
    if why is not None:
        raise BadRequest(
            f"{path} is {why}: a restore takes only a backup this user wrote and nobody "
            "else can change (voxmem backup writes it so). Check what is in it, then "
            "make it yours (chown, chmod go-w) to restore it",
            details={"field": "path"})


def _open_ours(path: Path) -> BinaryIO:
    """``path`` opened for reading, if it is a regular file of this user that nobody else
    can write (checked on the open file: no symbolic link is followed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        _check_ours(path, path.lstat())  # a symbolic link: refused, naming it
        raise
    try:
        st = os.fstat(fd)
        _check_ours(path, st)
        if not stat.S_ISREG(st.st_mode):
            raise BadRequest(f"{path} is not a file: not a backup voxmem wrote",
                             details={"field": "path"})
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _folder_ours(path: Path) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise BadRequest(f"{path} is not a voxmem backup (no such folder)",
                         details={"field": "path"}) from None
    _check_ours(path, st)


def read_manifest(source: Path) -> dict[str, Any]:
    """The backup folder's manifest; a clear refusal for anything else (also for a
    folder another user owns or can write)."""
    _folder_ours(source)
    try:
        with _open_ours(source / MANIFEST) as f:
            manifest = json.loads(f.read())
    except OSError as exc:
        if not isinstance(exc, FileNotFoundError):
            raise BadRequest(f"{source / MANIFEST} cannot be read: {exc.strerror}",
                             details={"field": "path"}) from None
        raise BadRequest(f"{source} is not a voxmem backup (no {MANIFEST}; an unfinished "
                         "backup has none either)", details={"field": "path"}) from None
    except ValueError as exc:
        raise BadRequest(f"{source / MANIFEST} is damaged: {exc}",
                         details={"field": "path"}) from None
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise BadRequest(f"{source} is a backup of format {found!r}; this voxmem restores "
                         f"format {BACKUP_FORMAT}", details={"field": "path"})
    return manifest


def restore_sqlite(source: Path, db_path: Path, journal: Path) -> dict[str, Any]:
    """Put the backup folder ``source`` in place as the store at ``db_path`` with its
    ``journal``; refused while anything serves the directory or a store is there."""
    manifest = read_manifest(source)
    _folder_ours(source / JOURNAL)
    with _journal_locked(journal):
        there = [p for p in (db_path, db_path.with_name(db_path.name + "-wal"))
                 if p.exists()]
        there += [p for p in journal.iterdir() if p.suffix == ".jsonl"]
        if there:
            raise BadRequest(
                f"the data directory already holds a store ({there[0]}): move it aside "
                "first (a restore never overwrites one)", details={"field": "data_dir"})
        # Everything is copied beside its place first, then put in place database first:
        # cut off half-way, a restore leaves either nothing, or the database (a store as
        # of the backup's copy, which a retried restore refuses) - never a journal
        # without its database, which would start as a store holding only that tail.
        db_path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        partial = db_path.with_name(db_path.name + RESTORING)
        partial.unlink(missing_ok=True)
        with _open_ours(source / DATABASE) as db, partial.open("wb") as f:
            partial.chmod(PRIVATE_FILE_MODE)
            shutil.copyfileobj(db, f)
            f.flush()
            os.fsync(f.fileno())
        segments = []
        for path in sorted((source / JOURNAL).iterdir()):
            with _open_ours(path) as segment:
                data = segment.read()
            (journal / (path.name + RESTORING)).unlink(missing_ok=True)
            _write_private(journal / (path.name + RESTORING), data)
            segments.append(path.name)
        _fsync_dir(journal)
        partial.replace(db_path)
        _fsync_dir(db_path.parent)
        for name in segments:
            (journal / (name + RESTORING)).replace(journal / name)
        _fsync_dir(journal)
    return manifest
