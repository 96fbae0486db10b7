"""Shared fixtures. Store and engine tests run once per backend through ``store_url``.

The Postgres leg needs a server: ``tests/_postgres.py`` provisions a throwaway one on
loopback when it can (and says why not, as a skip reason, when it cannot).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from voxmem import Settings, VoiceClient
from voxmem._config import MAX_TIMEOUT_MS
from voxmem.embeddings.static import StaticEmbedder
from voxmem.engine import MemoryEngine
from voxmem.engine._topic import TopicModel, topic_model
from voxmem.runtime import create_app
from voxmem.store import Store, open_store

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """DSN of a superuser connection to a throwaway Postgres, or None (skip reason set)."""
    try:
        from tests import _postgres
    except ImportError:
        os.environ.setdefault("VOXMEM_PG_SKIP_REASON", "the Postgres backend is not built yet")
        os.environ.setdefault("VOXMEM_ALLOW_PG_SKIP", "1")
        yield None
        return
    from tests import _pg_pool

    with _postgres.server() as dsn:
        try:
            yield dsn
        finally:
            if dsn is not None:
                _pg_pool.drop_all(dsn)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """'' for SQLite (a file in the data dir) or the DSN of a Postgres database of the
    test's own: empty, migrated, reused from an earlier test (``tests/_pg_pool.py`` says
    what makes that as good as a fresh copy)."""
    if request.param == "sqlite":
        yield ""
        return
    dsn = request.getfixturevalue("postgres_server")
    if dsn is None:
        reason = os.environ.get("VOXMEM_PG_SKIP_REASON", "no PostgreSQL with pgvector here")
        if os.environ.get("CI") and not os.environ.get("VOXMEM_ALLOW_PG_SKIP"):
            pytest.fail(f"Postgres backend required in CI: {reason}")
        pytest.skip(f"Postgres backend not tested: {reason}")
    from tests import _pg_pool

    url = _pg_pool.acquire(dsn)
    yield url
    _pg_pool.release(dsn, url)  # after the engine and store fixtures closed


def unhurried_settings(tmp_path: Path, store_url: str = "") -> Settings:
    """The shared tests' settings: the defaults, except two timings that would make a
    test's outcome depend on how loaded the machine is (tests of them set their own).

    - The background sweep (every 30 s by default) hard-deletes soft-deleted memories,
      ends idle calls and counts its runs: a test that outlives 30 s on a loaded machine
      would have it run between two of its steps. Tests of the sweep call it themselves.
    - Recall's default deadline (250 ms) drops a lane that a loaded machine makes late:
      a test of what recall finds would then see a degraded, empty answer.

    And one cost: learning runs on a thread, not in a worker process
    (``background_processes=0``). Each engine starts its own worker on the first call
    it learns from, which imports the extractor again (~1.4 s of CPU, at a lower
    priority: 5-15 s at load 15) and was most of the time of every test that ends a
    call. The worker path is tested where it is the point: ``tests/test_workers.py``
    (both backends, the default extractor's facts the same in a worker), and the
    runtime process tests, which run ``voxmem serve`` with the defaults.
    """
    return Settings(data_dir=str(tmp_path / "data"), embedder="hashing", store_url=store_url,
                    maintenance_interval_s=86_400.0, recall_timeout_ms=MAX_TIMEOUT_MS,
                    background_processes=0)


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return unhurried_settings(tmp_path, store_url)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return unhurried_settings(tmp_path)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    """The backend's store, opened (migrated) and closed after the test."""
    s = open_store(settings)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[MemoryEngine]:
    eng = MemoryEngine(settings)
    await eng.start()
    try:
        yield eng
    finally:
        await eng.close()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[VoiceClient]:
    """An embedded `VoiceClient` (project "proj", agent "agent") on the test's store."""
    c = VoiceClient(project_id="proj", agent_id="agent", embedded=True, settings=settings)
    try:
        yield c
    finally:
        await c.aclose()


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    """The bundled static embedder, loaded once per test module."""
    return StaticEmbedder()


@pytest.fixture(scope="module")
def topic(embedder: StaticEmbedder) -> TopicModel:
    """The topic-feature model over the static embedder's table."""
    model = topic_model(embedder)
    assert model is not None
    return model


@pytest.fixture
async def http(engine: MemoryEngine, request: pytest.FixtureRequest,
               ) -> AsyncIterator[httpx.AsyncClient]:
    """The runtime's app over ASGI, serving ``engine`` behind the test module's ``TOKEN``."""
    app = create_app(engine, token=request.module.TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://runtime") as client:
        yield client
