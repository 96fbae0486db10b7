"""Setting up a Postgres database for voxmem: migrations, roles, runtime identity.

Kept apart from the store's request path. Migrations are numbered SQL files
(``migrations/postgres/NNNN_name.sql``) recorded in ``schema_version``; each runs in its
own transaction under an advisory lock, so runtimes starting together apply it once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

from .._exceptions import StoreUnavailable
from ._migrations import check_not_newer, load_migrations
from ._sql import RECORD_MIGRATION, SCHEMA_VERSION

__all__ = [
    "application_role_grants",
    "journal_identity",
    "migrate",
    "schema_version_of",
    "version_tuple",
    "warn_if_rls_bypassed",
]

log = logging.getLogger("voxmem.store")

_MIGRATION_LOCK = "voxmem:migrations"
_ID_FILE = "store-id"


def journal_identity(data_dir: Path) -> str:
    """The id this data directory's journal records its applied position under.

    Kept beside the journal segments, so a wiped journal (which restarts at sequence 1)
    also gets a new id instead of inheriting a position it never reached.
    """
    path = data_dir / "journal" / _ID_FILE
    with contextlib.suppress(FileNotFoundError):
        return path.read_text("utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{_ID_FILE}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(uuid.uuid4().hex, "utf-8")
    # link() publishes the complete file atomically and refuses to replace one another
    # process published first; whichever won, everyone reads the same id.
    with contextlib.suppress(FileExistsError):
        os.link(tmp, path)
    tmp.unlink()
    return path.read_text("utf-8").strip()


def application_role_grants(role: str, schema: str = "public") -> list[sql.Composed]:
    """SQL that lets ``role`` use a migrated schema as the application, and no more.

    Run it as the schema owner after migrations. The role gets row access (filtered by
    the tenant policies), never ownership, so it can neither alter nor disable them.
    ``ALTER DEFAULT PRIVILEGES`` covers tables that later migrations add.
    """
    r, s = sql.Identifier(role), sql.Identifier(schema)
    return [
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, r),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}")
        .format(s, r),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} "
                "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}").format(s, r),
    ]


async def migrate(conn: AsyncConnection[tuple[Any, ...]], upto: int | None = None) -> None:
    """Apply pending migrations, each in its own transaction, one runtime at a time.

    ``upto`` stops after that version (an older schema, to test an upgrade from it).
    """
    migrations = [m for m in load_migrations("postgres") if upto is None or m.version <= upto]
    done = await schema_version_of(conn)
    check_not_newer("Postgres", done, len(load_migrations("postgres")), "the Postgres database")
    if done >= migrations[-1].version:
        return
    for migration in migrations:
        if migration.version <= done:
            continue
        try:
            async with conn.transaction():
                # Runtimes starting together: one migrates, the others wait and
                # then find the work done.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                                   (_MIGRATION_LOCK,))
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY"
                    " KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
                if await schema_version_of(conn) >= migration.version:
                    continue
                log.info("applying Postgres migration %04d %s", migration.version,
                         migration.name)
                await conn.execute(migration.sql.encode("utf-8"))
                await conn.execute(RECORD_MIGRATION.postgres,
                                   (migration.version, migration.name, time.time()))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreUnavailable(
                f"the Postgres schema is at version {done} and this voxmem needs "
                f"{migrations[-1].version}, but the connected role may not migrate it "
                f"({exc}). Open the store once with the schema owner's URL (see "
                "docs/postgres.md, 'Roles'), then restart with the application role.",
                retryable=False) from exc


async def schema_version_of(conn: AsyncConnection[tuple[Any, ...]]) -> int:
    # Read before any DDL: the application role may read schema_version but not create it.
    row = await (await conn.execute("SELECT to_regclass('schema_version') IS NOT NULL")
                 ).fetchone()
    if not row or not row[0]:
        return 0
    row = await (await conn.execute(SCHEMA_VERSION.postgres)).fetchone()
    return int(row[0]) if row else 0


async def warn_if_rls_bypassed(conn: AsyncConnection[tuple[Any, ...]]) -> None:
    row = await (await conn.execute(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).fetchone()
    if row and row[0]:
        log.warning("connected to Postgres as a superuser or BYPASSRLS role: row-level "
                    "security is not enforced; use the application role (docs/postgres.md)")


def version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)
