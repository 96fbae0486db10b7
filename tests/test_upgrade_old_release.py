"""A data directory an older release really wrote, opened by this one.

``tests/data/old_store_schema8`` is what the release at schema 8 (the last commit
before migration 0009) left: ``voxmem.sql`` is its database (``sqlite3 voxmem.db
.dump``), ``journal/`` its journal with two acknowledged turns the store never applied
(the process ended while its store was held back), and ``answers.json`` what that
release answered. Made with that checkout first on the path::

    PYTHONPATH=<checkout>/src python scripts/write_old_store.py OUT --embedder hashing
    PYTHONPATH=<checkout>/src python scripts/write_old_store.py OUT --embedder hashing \\
        --step unapplied

Opened by this release: migrated, the journal replayed once, the same answers where
ranking did not change, identifiers resolving, the old merge undoable, the org index
rebuilt from the store (its files are not in the fixture), not empty.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from voxmem import Settings, VoiceClient
from voxmem.store._migrations import load_migrations

FIXTURE = Path(__file__).parent / "data" / "old_store_schema8"
VERA, GUEST = "+14155550101", "guest-77"
UNAPPLIED = ("heron card", "blue flowerpot")


def _old_data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "journal").mkdir(parents=True, mode=0o700)
    conn = sqlite3.connect(data / "voxmem.db")
    try:
        conn.executescript((FIXTURE / "voxmem.sql").read_text("utf-8"))
    finally:
        conn.close()
    for segment in (FIXTURE / "journal").iterdir():
        shutil.copyfile(segment, data / "journal" / segment.name)
    return data


def _client(data: Path) -> VoiceClient:
    return VoiceClient(project_id="airline", agent_id="desk", embedded=True,
                       settings=Settings(data_dir=str(data), embedder="hashing"))


async def _ids(client: VoiceClient, query: str, user: str) -> list[str]:
    found = await client.search_memory(query, user_id=user, timeout_ms=60_000)
    return [str(source["id"]) for source in found.sources]


def _unapplied_rows(data: Path) -> int:
    conn = sqlite3.connect(data / "voxmem.db")
    try:
        return int(conn.execute(
            "SELECT count(*) FROM items WHERE kind = 'turn' AND (text LIKE ? OR text LIKE ?)",
            tuple(f"%{words}%" for words in UNAPPLIED)).fetchone()[0])
    finally:
        conn.close()


async def test_a_store_of_the_release_at_schema_8_upgrades_with_the_same_answers(
        tmp_path: Path) -> None:
    old: dict[str, Any] = json.loads((FIXTURE / "answers.json").read_text("utf-8"))
    data = _old_data_dir(tmp_path)
    client = _client(data)
    try:
        assert (await client.flush(60))["backlog"] == 0
        replayed = await _ids(client, "where is the spare house key", VERA)
        for query, before in old["memory"].items():
            now = await _ids(client, query, VERA)
            # The same hits in the same order; the two replayed turns may rank among them.
            assert [i for i in now if i in before] == before, query
            assert {i for i in now if i not in before} <= set(replayed), query
        facts = sorted(str(f["text"]) for f in await client.list_memories(user_id=VERA))
        assert facts == old["facts"]
        for query, documents in old["org"].items():
            assert [c["documentId"] for c in await client.search_index(query, name="faq")
                    ] == documents, query
        resolved = await client.resolve_caller([{"kind": "email",
                                                 "value": "vera.lind@example.com"}])
        assert resolved["userId"] == VERA
        # The guest merged by the older release is answered as Vera until undone.
        assert "wheelchair" in (await client.search_memory(
            "do I need a wheelchair", user_id=GUEST, timeout_ms=60_000)).context_text
        undone = await client.unmerge_callers(old["merge"]["mergeId"])
        assert undone["itemsRestored"] == old["merge"]["itemsMoved"]
        assert "Has reference QX7PLM" not in {
            str(f["text"]) for f in await client.list_memories(user_id=VERA)}
    finally:
        await client.aclose()
    conn = sqlite3.connect(data / "voxmem.db")
    try:
        version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    finally:
        conn.close()
    assert version == len(load_migrations("sqlite"))
    assert _unapplied_rows(data) == 2

    # Opened again: nothing of the old journal is applied a second time.
    client = _client(data)
    try:
        await client.flush(60)
    finally:
        await client.aclose()
    assert _unapplied_rows(data) == 2
