"""A store closed under a running engine answers ``store.unavailable``, never a raw
``RuntimeError`` (SQLite's reader and writer pools are shut down by ``close``), on both
backends: through the operations a client calls and through the store itself."""

from __future__ import annotations

import pytest

from voxmem import StoreUnavailable
from voxmem._operations import dispatch
from voxmem.engine import MemoryEngine

IDENT = {"project_id": "proj", "agent_id": "agent", "user": {"id": "caller-1"}}


async def test_reads_and_writes_of_a_closed_store_are_store_unavailable(
        engine: MemoryEngine) -> None:
    await dispatch(engine, "remember", {**IDENT, "memory_type": "diet", "content": "vegan"})
    await engine.flush(timeout=30)
    await engine.store.close()
    for name, body in (("list_memories", IDENT), ("export_user", IDENT),
                       ("list_callers", {"project_id": "proj"})):
        with pytest.raises(StoreUnavailable) as failed:
            await dispatch(engine, name, body)
        assert failed.value.code == "store.unavailable"
    with pytest.raises(StoreUnavailable):
        await engine.store.store_id()
    with pytest.raises(StoreUnavailable):
        await engine.store.operator_change(  # type: ignore[attr-defined]
            _touch(), (1.0, "000000000000"))


def _touch() -> object:
    from voxmem.store import _sql as sql

    return sql.shared("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?")
