"""A caller known only by memories stored outside a call (``remember``, an import of
such a caller) is in the caller list, on every backend. Before, the list read caller
rows and only a call's start made one: such a caller had a page and an export but the
dashboard's list, and its search by id, never showed them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from voxmem import Settings
from voxmem._operations import dispatch
from voxmem.engine import MemoryEngine

BODY = {"project_id": "p", "agent_id": "a"}


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), embedder="hashing", store_url=store_url,
                    extractor="off", postgres_acquire_timeout_s=30.0)


async def op(engine: MemoryEngine, operation: str, /, **fields: Any) -> Any:
    return await dispatch(engine, operation, {**BODY, **fields})


async def listed(engine: MemoryEngine, query: str = "") -> list[str]:
    return [c["userId"] for c in (await op(engine, "list_callers", query=query))["callers"]]


async def test_a_caller_known_only_by_remember_is_listed(engine: MemoryEngine) -> None:
    await op(engine, "start_session", user={"id": "ann", "name": "Ann Lee"})
    await op(engine, "end_session", user_id="ann")
    await op(engine, "remember", user_id="ray", memory_type="pet", content="a hamster")
    # A second remember (and one for a caller with a row) changes nothing of the row.
    await op(engine, "remember", user_id="ray", memory_type="diet", content="vegan")
    await op(engine, "remember", user_id="ann", memory_type="diet", content="vegetarian")

    assert sorted(await listed(engine)) == ["ann", "ray"]
    assert await listed(engine, "ray") == ["ray"]
    [ray] = [c for c in (await op(engine, "list_callers"))["callers"] if c["userId"] == "ray"]
    assert (ray["memoryCount"], ray["callCount"]) == (2, 0)
    [ann] = [c for c in (await op(engine, "list_callers"))["callers"] if c["userId"] == "ann"]
    assert ann["name"] == "Ann Lee"


async def test_export_forget_import_of_a_remember_only_caller_lists_them_again(
        engine: MemoryEngine) -> None:
    await op(engine, "remember", user_id="ray", memory_type="pet", content="a hamster")
    exported = await op(engine, "export_user", user={"id": "ray"})
    await op(engine, "forget_user", user_id="ray")
    assert await listed(engine) == []

    imported = await op(engine, "import_user", **exported)  # names ray
    assert imported["facts"] == 1
    assert await listed(engine) == ["ray"]
    page = await op(engine, "get_caller", user_id="ray")
    assert [m["text"] for m in page["memories"]] == ["pet: a hamster"]
