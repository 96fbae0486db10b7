"""Engine-side operator actions on org indexes: delete documents, delete an index, and
search one index the way recall's org lane does.

Kept out of ``_engine.py``: none of it is on the audio path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..models import Scope
from ._org_memory import ORG_SAVE_INTERVAL_S
from ._text import analyze

if TYPE_CHECKING:
    from ._engine import MemoryEngine
    from ._org_memory import OrgMemory

__all__ = ["delete_documents", "delete_index", "search_index"]

#: Org hits fetched per requested hit when one index is searched among several.
_OVERFETCH = 4


def _update_org_cache(engine: MemoryEngine, tenant_id: str, project_id: str,
                      change: Callable[[OrgMemory], None]) -> None:
    """Apply a deletion to the warm org index in place.

    Rebuilding from the store instead would cost a full load (minutes at a million
    chunks). An index still loading is dropped: its load may predate the deletion.
    """
    org = engine._orgs.get((tenant_id, project_id))
    if org is None:
        return
    if not org.ready.is_set() or org.load_error is not None:
        engine._orgs.pop((tenant_id, project_id), None)
        return
    change(org)
    engine._spawn(asyncio.get_running_loop().run_in_executor(
        None, org.upkeep, ORG_SAVE_INTERVAL_S))


async def delete_documents(engine: MemoryEngine, tenant_id: str, project_id: str,
                           index_name: str, doc_ids: Sequence[str]) -> dict[str, Any] | None:
    """Remove documents from an index; None when the index does not exist."""
    lock = engine._index_locks.setdefault((tenant_id, project_id, index_name),
                                          asyncio.Lock())
    async with lock:
        done = await engine.store.delete_documents(tenant_id, project_id, index_name,
                                                   doc_ids, engine.clock())
    if done is None:
        return None
    version, removed = done

    def change(org: OrgMemory) -> None:
        for doc_id in doc_ids:
            org.remove_document(index_name, doc_id)
        org.versions[index_name] = version

    _update_org_cache(engine, tenant_id, project_id, change)
    return {"indexName": index_name, "version": version, "removed": removed}


async def delete_index(engine: MemoryEngine, tenant_id: str, project_id: str,
                       index_name: str) -> dict[str, Any] | None:
    """Remove an index and all its documents; None when it does not exist."""
    lock = engine._index_locks.setdefault((tenant_id, project_id, index_name),
                                          asyncio.Lock())
    async with lock:
        removed = await engine.store.delete_index(tenant_id, project_id, index_name)
    if removed is None:
        return None
    _update_org_cache(engine, tenant_id, project_id,
                      lambda org: org.remove_index(index_name))
    return {"indexName": index_name, "documentsRemoved": removed}


async def search_index(engine: MemoryEngine, tenant_id: str, project_id: str,
                       index_name: str | None, query: str, k: int) -> list[dict[str, Any]]:
    """The chunks recall's org lane would return for ``query``, from one index or all."""
    scope = Scope(tenant_id=tenant_id, project_id=project_id, agent_id="", user_id="",
                  space="")
    org = engine._org_for(tenant_id, project_id)
    await org.ready.wait()  # an operator search may wait for the load; a turn never does
    query_task = asyncio.ensure_future(engine._embed_query(query))
    try:
        hits = await engine._org_lane(scope, query, analyze(query), query_task,
                                      k * _OVERFETCH if index_name else k)
    finally:
        query_task.cancel()
    if index_name:
        hits = [h for h in hits if h.get("index") == index_name]
    return hits[:k]
