"""Backups as docs/postgres.md describes them: pg_dump needs a role that row security
does not filter (the owner is filtered too), and a restored dump serves the same rows."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests import _postgres
from voxmem.models import Scope, Turn
from voxmem.store import SessionStart, TurnWrite, WriteBatch
from voxmem.store.postgres import PostgresStore


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120)


async def test_dump_as_backup_role_and_restore(postgres_server: str | None,
                                               tmp_path: Path) -> None:
    dsn = _postgres.require(postgres_server)
    try:
        installation = _postgres.find_installation()
    except _postgres.ProvisionError as exc:
        pytest.skip(f"no pg_dump next to a server here: {exc}")
    url = _postgres.fresh_database(dsn)
    database = _postgres.database_of(url)
    store = PostgresStore(url, journal_id="host-a")
    await store.open()
    scope = Scope(tenant_id="acme", project_id="p", agent_id="a", user_id="u1")
    now = time.time()
    await store.write(WriteBatch(
        sessions_started=[SessionStart(scope=scope, session_id="s1", started_at=now)],
        turns=[TurnWrite(scope=scope, turn=Turn(event_id="e1", session_id="s1", turn_id="t1",
                                                user_text="keep me", assistant_text="ok",
                                                created_at=now))],
        applied_seq=9))
    await store.close()

    refused = await asyncio.to_thread(
        run, installation.tool("pg_dump"), "-Fc", "-d", _postgres.owner_dsn(dsn, database),
        "-f", str(tmp_path / "owner.dump"))
    assert refused.returncode != 0 and "row-level security" in refused.stderr

    password = "backup-" + database
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'voxmem_backup')"
            " THEN CREATE ROLE voxmem_backup LOGIN BYPASSRLS; END IF; END $$"))
        conn.execute(sql.SQL("ALTER ROLE voxmem_backup PASSWORD {}").format(
            sql.Literal(password)))
    with psycopg.connect(_postgres.superuser_dsn(dsn, database), autocommit=True) as conn:
        conn.execute("GRANT USAGE ON SCHEMA public TO voxmem_backup")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO voxmem_backup")
        conn.execute("GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO voxmem_backup")
    backup_url = _postgres.dsn_with(dsn, dbname=database, user="voxmem_backup",
                                    password=password)
    made = await asyncio.to_thread(run, installation.tool("pg_dump"), "-Fc", "-d", backup_url,
                                   "-f", str(tmp_path / "voxmem.dump"))
    assert made.returncode == 0, made.stderr

    restored = f"{database}_restored"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(restored), sql.Identifier(_postgres.OWNER_ROLE)))
    try:
        restore = await asyncio.to_thread(
            run, installation.tool("pg_restore"), "--exit-on-error", "-d",
            _postgres.superuser_dsn(dsn, restored), str(tmp_path / "voxmem.dump"))
        assert restore.returncode == 0, restore.stderr
        back = PostgresStore(_postgres.app_dsn(dsn, restored), journal_id="host-a")
        await back.open()
        try:
            assert [i.id for i in await back.load_items(scope, now + 1)] == ["e1"]
            assert await back.applied_seq() == 9
            other = Scope(tenant_id="globex", project_id="p", agent_id="a", user_id="u1")
            assert await back.load_items(other, now + 1) == []
        finally:
            await back.close()
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(restored)))


async def test_a_restored_dump_serves_the_same_answers(postgres_server: str | None,
                                                       tmp_path: Path) -> None:
    """A whole deployment's path: calls through a client, the runtime stopped (its journal
    applied), `pg_dump`, `pg_restore` into a new database, a new data directory on it:
    every search answers as before."""
    from tests.test_import_user import QUERIES, USER, _answers, _history
    from voxmem import Settings, VoiceClient

    dsn = _postgres.require(postgres_server)
    try:
        installation = _postgres.find_installation()
    except _postgres.ProvisionError as exc:
        pytest.skip(f"no pg_dump next to a server here: {exc}")
    url = _postgres.fresh_database(dsn)
    database = _postgres.database_of(url)
    restored = f"{database}_answers"
    first = Settings(data_dir=str(tmp_path / "a"), embedder="hashing", store_url=url)
    client = VoiceClient(project_id="proj", agent_id="agent", embedded=True, settings=first)
    try:
        await _history(client)
        want = await _answers(client)
    finally:
        await client.aclose()
    assert any("Biscuit" in text for text, _hits in want), QUERIES
    made = await asyncio.to_thread(run, installation.tool("pg_dump"), "-Fc", "-d",
                                   _postgres.superuser_dsn(dsn, database),
                                   "-f", str(tmp_path / "voxmem.dump"))
    assert made.returncode == 0, made.stderr
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(restored), sql.Identifier(_postgres.OWNER_ROLE)))
    try:
        back = await asyncio.to_thread(
            run, installation.tool("pg_restore"), "--exit-on-error", "-d",
            _postgres.superuser_dsn(dsn, restored), str(tmp_path / "voxmem.dump"))
        assert back.returncode == 0, back.stderr
        second = Settings(data_dir=str(tmp_path / "b"), embedder="hashing",
                          store_url=_postgres.app_dsn(dsn, restored))
        client = VoiceClient(project_id="proj", agent_id="agent", embedded=True,
                             settings=second)
        try:
            assert await _answers(client) == want
            assert (await client.export_user(user=USER))["items"]
        finally:
            await client.aclose()
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(restored)))
        _postgres.drop_database(dsn, url)
