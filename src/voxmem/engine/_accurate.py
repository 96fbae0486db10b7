"""``mode="accurate"``: the permanent lane's hits expanded through the caller's entity
graph (SPEC §7), under what is left of the search's deadline (``Recall``)."""

from __future__ import annotations

import time
from typing import Any

from ..entities._directory import CallerDirectory
from ..entities._expand import MAX_GRAPH_ITEMS, rerank
from ._caller_memory import CallerMemory
from ._recall import doc_hit

__all__ = ["accurate"]


async def accurate(directory: CallerDirectory, mem: CallerMemory, query: str,
                   hits: list[dict[str, Any]], k: int, min_created: float | None,
                   now: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The permanent lane expanded through the caller's entity graph, and its trace."""
    started = time.perf_counter()
    view = await directory.graph_view(mem.scope)
    expansion = view.expand(query, now)
    extra = []
    for item_id, _score in sorted(expansion.items.items(), key=lambda kv: -kv[1]):
        doc = mem.index.payload_of(item_id)
        if doc is None or (min_created is not None and doc.created_at < min_created) or (
                doc.kind == "turn" and doc.session_id == mem.session_id):
            continue
        extra.append(doc_hit("permanent", item_id, doc, 0.0))
        if len(extra) >= MAX_GRAPH_ITEMS:
            break
    ranked = rerank(hits, extra, expansion, k) if expansion.items else hits
    return ranked, {**expansion.trace(), "added": len(
        [h for h in ranked if h["id"] not in {x["id"] for x in hits}]),
        "ms": round((time.perf_counter() - started) * 1000, 3)}
