"""Vectors for rows that have none from the current embedding model (a model change, or
an embedder that was down when the rows were written).

Each vector column is re-embedded by its own model: ``embedding`` of items and chunks by
the engine's embedder, ``second_embedding`` of items by the second model of
``embedder="static+onnx"`` (``_second.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import numpy as np

from .._exceptions import VoxmemError
from ..embeddings import Embedder
from ..store import Store
from ._index import FloatArray

__all__ = ["FIRST_COLUMNS", "reembed_missing"]

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
