"""Vectors for rows that have none from the current embedding model (a model change, or
an embedder that was down when the rows were written)."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from .._exceptions import VoxmemError
from ..embeddings import Embedder
from ..store import Store

__all__ = ["reembed_missing"]

log = logging.getLogger("voxmem.engine")

REEMBED_BATCH = 256


async def reembed_missing(store: Store, embedder: Embedder) -> None:
    """Give vectors to rows that have none from the current model, batch by batch."""
    loop = asyncio.get_running_loop()
    for table in ("items", "chunks"):
        while True:
            try:
                rows = await store.missing_embeddings(embedder.name, REEMBED_BATCH,
                                                      table=table)
                if not rows:
                    break
                vectors = await loop.run_in_executor(
                    None, embedder.embed, [text for _, text in rows])
                await store.set_embeddings(
                    [(rid, np.ascontiguousarray(v).tobytes())
                     for (rid, _), v in zip(rows, vectors, strict=True)],
                    embedder.name, table=table)
            except VoxmemError as exc:
                log.warning("re-embedding %s paused: %s", table, exc)
                return
