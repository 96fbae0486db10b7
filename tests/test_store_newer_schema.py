"""A store written by a newer release, opened by this one: refused with a clear message
naming both versions, and left as it was (no migration run, no row written), on both
backends."""

from __future__ import annotations

import time

import pytest

from voxmem import Settings, StoreUnavailable
from voxmem.engine import MemoryEngine
from voxmem.store import open_store
from voxmem.store._migrations import load_migrations

LATEST = len(load_migrations("sqlite"))
NEWER = LATEST + 3


def _record_newer(settings: Settings, request: pytest.FixtureRequest) -> None:
    """Write a schema_version row of a release this code does not know, as a newer
    voxmem would have when it migrated the store."""
    if settings.store_url:
        import psycopg

        from tests import _postgres

        server = _postgres.require(request.getfixturevalue("postgres_server"))
        owner = _postgres.owner_dsn(server, _postgres.database_of(settings.store_url))
        with psycopg.connect(owner, autocommit=True) as c:
            c.execute("INSERT INTO schema_version (version, name, applied_at)"
                      " VALUES (%s, 'from_the_future', %s)", (NEWER, time.time()))
        return
    import sqlite3

    with sqlite3.connect(settings.data_path / "voxmem.db") as conn:
        conn.execute("INSERT INTO schema_version (version, name, applied_at)"
                     " VALUES (?, 'from_the_future', ?)", (NEWER, time.time()))


async def test_a_store_of_a_newer_release_is_refused_and_left_alone(
        settings: Settings, request: pytest.FixtureRequest) -> None:
    store = open_store(settings)
    await store.open()
    await store.close()
    _record_newer(settings, request)

    store = open_store(settings)
    with pytest.raises(StoreUnavailable) as caught:
        await store.open()
    await store.close()
    message = str(caught.value)
    assert f"version {NEWER}" in message and str(LATEST) in message
    assert "Upgrade voxmem" in message
    assert not caught.value.retryable

    # Through the engine (what `voxmem serve` opens) too, and nothing changed after.
    engine = MemoryEngine(settings)
    with pytest.raises(StoreUnavailable, match="newer"):
        await engine.start()
    await engine.close()
    store = open_store(settings)
    with pytest.raises(StoreUnavailable):
        await store.open()
    await store.close()
