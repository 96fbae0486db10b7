"""Vectors for rows that have none from the current embedding model (a model change, or
an embedder that was down when the rows were written).

Each vector column is re-embedded by its own model: ``embedding`` of items and chunks by
the engine's embedder, ``second_embedding`` of items by the second model of
``embedder="static+onnx"`` (``_second.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from .._exceptions import VoxmemError
from ..embeddings import Embedder
from ..store import Store
from ._index import FloatArray

__all__ = ["FIRST_COLUMNS", "reembed_missing", "reembed_own_model"]

log = logging.getLogger("voxmem.engine")

REEMBED_BATCH = 256
#: The (table, column) pairs the engine's own embedder fills.
FIRST_COLUMNS = (("items", "embedding"), ("chunks", "embedding"))


async def reembed_missing(store: Store, embedder: Embedder,
                          columns: Sequence[tuple[str, str]] = FIRST_COLUMNS,
                          on_vector: Callable[[str, FloatArray], None] | None = None,
                          ) -> None:
    """Give vectors to rows that have none from ``embedder`` in ``columns``, batch by
    batch; ``on_vector(row id, vector)`` is told each one once it is stored."""
    loop = asyncio.get_running_loop()
    for table, column in columns:
        while True:
            try:
                rows = await store.missing_embeddings(embedder.name, REEMBED_BATCH,
                                                      table=table, column=column)
                if not rows:
                    break
                vectors = await loop.run_in_executor(
                    None, embedder.embed, [text for _, text in rows])
                await store.set_embeddings(
                    [(rid, np.ascontiguousarray(v).tobytes())
                     for (rid, _), v in zip(rows, vectors, strict=True)],
                    embedder.name, table=table, column=column)
            except VoxmemError as exc:
                log.warning("re-embedding %s.%s paused: %s", table, column, exc)
                return
            if on_vector is not None:
                for (rid, _), vec in zip(rows, vectors, strict=True):
                    on_vector(rid, vec)


async def reembed_own_model(store: Store, embedder: Embedder,
                            on_item: Callable[[str, FloatArray], None],
                            reload_orgs: Callable[[], Awaitable[None]]) -> None:
    """The start's sweep of ``embedder``'s columns (after a model change, e.g. an upgrade
    whose default model is another). What loaded meanwhile read the other model's
    vectors, which it cannot use: a cached caller takes each item's new vector as it is
    stored (``on_item``), and the loaded org indexes are loaded again once their chunks
    are re-embedded (``reload_orgs``); before, both stayed without vectors until a
    restart."""
    await reembed_missing(store, embedder, FIRST_COLUMNS[:1], on_item)
    chunks = 0

    def count(_chunk_id: str, _vector: FloatArray) -> None:
        nonlocal chunks
        chunks += 1

    await reembed_missing(store, embedder, FIRST_COLUMNS[1:], count)
    if chunks:
        log.info("re-embedded %d org chunks by %s: reloading the org indexes", chunks,
                 embedder.name)
        await reload_orgs()
