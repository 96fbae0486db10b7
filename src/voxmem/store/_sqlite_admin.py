"""The SQLite database file and its schema: created owner-only, migrated in order.

The Postgres store's ``_pg_admin``, for one file owned by one runtime.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from pathlib import Path

from .._files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE
from . import _sql as sql
from ._migrations import check_not_newer, load_migrations

__all__ = ["create_private", "migrate", "split_statements"]

log = logging.getLogger("voxmem.store")


def create_private(path: Path) -> None:
    """Create the database file 0600 whatever the umask.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, so making
    this one owner-only covers them too.
    """
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):  # left by an older version with a wider mode
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            side.chmod(PRIVATE_FILE_MODE)


def migrate(conn: sqlite3.Connection, upto: int | None = None) -> None:
    """Apply every migration newer than the file's schema, each in its own transaction.

    ``upto`` stops after that version (an older schema, to test an upgrade from it).
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    done = int(conn.execute(sql.SCHEMA_VERSION.sqlite).fetchone()[0])
    migrations = load_migrations("sqlite")
    check_not_newer("SQLite", done, migrations[-1].version, "the SQLite store")
    for migration in migrations:
        if migration.version <= done or (upto is not None and migration.version > upto):
            continue
        log.info("applying SQLite migration %04d %s", migration.version, migration.name)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(sql.RECORD_MIGRATION.sqlite,
                         (migration.version, migration.name, time.time()))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def split_statements(script: str) -> list[str]:
    """Split a migration into statements; triggers hold ``;`` inside ``BEGIN ... END``."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending[:80]!r}")
    return statements
