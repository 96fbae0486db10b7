"""A moved data directory (or a Postgres store reached by another URL) keeps its org
index: the files are named by the store's own identity, not by where it was reached.
Files saved under the older location names are adopted once, and only when they are
this store's."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests._org import saved_vector_file
from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._org_location import legacy_store_key, org_vector_path
from voxmem.engine._org_memory import OrgMemory
from voxmem.store import open_store

T, P = "default", "p1"
TEXTS = [f"Branch {i} on {street} Street opens at {i % 5 + 7} am and lends {i % 9 + 2} "
         "books a week." for i, street in enumerate(["Elm", "Harbour", "Mill", "Oak"] * 10)]
QUESTION = "when does the Harbour Street branch open"


def _org(engine: MemoryEngine) -> OrgMemory:
    org = engine.org.loaded(T, P)
    assert org is not None
    return org


async def _build(settings: Settings, texts: list[str] = TEXTS,
                 project: str = P) -> list[str]:
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        await engine.create_index(T, project, "kb", [
            {"id": f"d{i}", "text": t, "metadata": {}} for i, t in enumerate(texts)])
        await engine.warm_org(engine.scope(project_id=project, agent_id="x", user_id="u"))
        return [h["id"] for h in await engine.search_index(T, project, None, QUESTION, 5)]
    finally:
        await engine.close()  # saves the vector and rows files


async def _reopen(settings: Settings) -> tuple[MemoryEngine, list[str]]:
    engine = MemoryEngine(settings)
    await engine.start()
    await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
    return engine, [h["id"] for h in await engine.search_index(T, P, None, QUESTION, 5)]


def _moved(settings: Settings, tmp_path: Path) -> Settings:
    """The data directory moved elsewhere; a Postgres store reached by another spelling
    of its URL as well."""
    target = tmp_path / "moved" / "data"
    target.parent.mkdir()
    shutil.move(settings.data_path, target)
    url = settings.store_url
    if url:
        url += "&" if "?" in url else "?"
        url += "application_name=voxmem-elsewhere"
    return Settings(data_dir=str(target), embedder=settings.embedder, store_url=url)


async def test_a_moved_data_directory_starts_from_its_saved_index(
        settings: Settings, tmp_path: Path) -> None:
    before = await _build(settings)
    engine, after = await _reopen(_moved(settings, tmp_path))
    try:
        org = _org(engine)
        # Before the files were named by the store's identity, the new location's name
        # found nothing and both came from the store (a rebuild of the graph).
        assert (org.vectors_from, org.rows_from) == ("file", "file")
        assert after == before
    finally:
        await engine.close()


def _rename_to_legacy(data_dir: Path, key: str) -> Path:
    """Rename the saved files as an older release named them (by location ``key``)."""
    vector_file = saved_vector_file(data_dir)
    stem = f"{key}-{vector_file.stem.split('-')[1]}"
    for path in list(vector_file.parent.iterdir()):
        if path.name.startswith(vector_file.stem):
            path.rename(path.with_name(path.name.replace(vector_file.stem, stem)))
    return vector_file.with_name(f"{stem}.usearch")


async def test_files_of_an_older_release_are_adopted_after_a_move(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    before = await _build(sqlite_settings)
    # Saved by an older release while the store was at another path.
    legacy = _rename_to_legacy(sqlite_settings.data_path, "0123456789abcdef")
    assert legacy.exists()
    moved = _moved(sqlite_settings, tmp_path)
    engine, after = await _reopen(moved)
    try:
        org = _org(engine)
        assert (org.vectors_from, org.rows_from) == ("file", "file")
        assert after == before
        named = org_vector_path(moved.data_path, engine.org.store_id, T, P)
        assert org.vector_file == named and named.exists()
        assert not (moved.data_path / "org-vectors" / legacy.name).exists()
    finally:
        await engine.close()


async def test_files_named_for_the_present_location_are_adopted(
        sqlite_settings: Settings) -> None:
    before = await _build(sqlite_settings)
    store = open_store(sqlite_settings)
    _rename_to_legacy(sqlite_settings.data_path, legacy_store_key(store))
    engine, after = await _reopen(sqlite_settings)
    try:
        assert (_org(engine).vectors_from, _org(engine).rows_from) == ("file", "file")
        assert after == before
    finally:
        await engine.close()


async def test_another_stores_files_are_not_adopted(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    # Another store's index of a project with the same name, left in this directory by
    # an older release: its chunk ids are not this store's.
    other = Settings(data_dir=str(tmp_path / "other"), embedder="hashing")
    await _build(other, [t.replace("Branch", "Depot") for t in TEXTS])
    await _build(sqlite_settings)
    ours = saved_vector_file(sqlite_settings.data_path)
    for path in list(ours.parent.iterdir()):
        path.unlink()
    foreign = _rename_to_legacy(other.data_path, "fedcba9876543210")
    for path in foreign.parent.iterdir():
        shutil.copy(path, ours.parent / path.name)
    engine, _ = await _reopen(sqlite_settings)
    try:
        org = _org(engine)
        assert (org.vectors_from, org.rows_from) == ("store", "store")
        # The other store's rows file has the same index versions: adopted, it would
        # have answered with its texts.
        texts = [h["text"] for h in await engine.search_index(T, P, None, QUESTION, 5)]
        assert texts and all(t.startswith("Branch") for t in texts)
        assert (ours.parent / foreign.name).exists()  # left alone
    finally:
        await engine.close()


async def test_the_store_keeps_its_id_and_counts_chunks(settings: Settings) -> None:
    await _build(settings)
    store = open_store(settings)
    await store.open()
    try:
        store_id = await store.store_id()
        ids = [c.id for c in await store.load_chunks(T, P)]
        assert len(ids) == len(TEXTS)
        assert await store.count_chunks(T, P, [*ids[:5], "chk_elsewhere", ids[0]]) == 5
        assert await store.count_chunks(T, "another", ids[:5]) == 0
        assert await store.count_chunks(T, P, []) == 0
    finally:
        await store.close()
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        assert len(store_id) == 32 and engine.org.store_id == store_id
    finally:
        await engine.close()


async def test_each_sqlite_store_has_its_own_id(tmp_path: Path) -> None:
    ids = []
    for name in ("a", "b"):
        store = open_store(Settings(data_dir=str(tmp_path / name), embedder="hashing"))
        await store.open()
        try:
            ids.append(await store.store_id())
        finally:
            await store.close()
    assert ids[0] != ids[1]


async def test_an_engine_sharing_an_open_store_names_the_files_by_its_id(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    before = await _build(sqlite_settings)
    engine = MemoryEngine(sqlite_settings)
    await engine.start()
    try:
        # Not started: it shares the first engine's open store (as a test or an
        # embedding application may), and reads the store's id on its first load.
        other = MemoryEngine(sqlite_settings.replace(data_dir=str(tmp_path / "second")),
                             store=engine.store, embedder=engine.embedder)
        hits = await other.search_index(T, P, None, QUESTION, 5)
        assert [h["id"] for h in hits] == before
        org = other.org.loaded(T, P)
        assert org is not None and org.vector_file is not None
        assert org.vector_file.name.startswith(await engine.store.store_id())
    finally:
        await engine.close()
