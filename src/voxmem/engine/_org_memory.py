"""A project's org indexes held warm in memory: one searchable index per project."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from ..models import Chunk
from ..store import Store
from ._caller_memory import (
    Doc,
    load_in_slices,
    pack_doc,
    release_free_memory,
    unpack_doc,
    vector_from_blob,
)
from ._index import FloatArray, HybridIndex
from ._text import analyze

__all__ = ["OrgMemory"]

log = logging.getLogger("voxmem.engine")


class OrgMemory:
    """A project's org indexes as one searchable in-memory index."""

    def __init__(self, tenant_id: str, project_id: str, dimensions: int) -> None:
        self.tenant_id = tenant_id
        self.project_id = project_id
        self.index = HybridIndex(dimensions, pack=pack_doc, unpack=unpack_doc)
        self.versions: dict[str, int] = {}
        self.ready = asyncio.Event()
        self.load_error: Exception | None = None
        #: (index, document) -> chunk ids; tuples, not lists, so that the garbage
        #: collector stops tracking them (one per document: 100k objects otherwise)
        self._by_document: dict[tuple[str, str], tuple[str, ...]] = {}

    def add_chunks(self, chunks: Sequence[Chunk], vectors: Sequence[FloatArray | None],
                   *, bulk: bool = False) -> None:
        self.index.add_many(
            [chunk.id for chunk in chunks],
            [analyze(chunk.text) for chunk in chunks],
            created_at=[chunk.created_at for chunk in chunks],
            vectors=vectors,
            payloads=[Doc(kind="chunk", text=chunk.text, created_at=chunk.created_at,
                          index=chunk.index_name, document_id=chunk.document_id,
                          metadata=chunk.metadata) for chunk in chunks],
            bulk=bulk,
        )
        for chunk in chunks:
            key = (chunk.index_name, chunk.document_id)
            self._by_document[key] = (*self._by_document.get(key, ()), chunk.id)

    def _add_stored(self, chunks: Sequence[Chunk]) -> None:
        dims = self.index.dimensions
        self.add_chunks(chunks, [vector_from_blob(c.embedding, dims) for c in chunks],
                        bulk=True)

    def remove_document(self, index_name: str, document_id: str) -> None:
        for chunk_id in self._by_document.pop((index_name, document_id), ()):
            self.index.remove(chunk_id)

    async def load(self, store: Store) -> None:
        try:
            self.versions = await store.index_versions(self.tenant_id, self.project_id)
            chunks = await store.load_chunks(self.tenant_id, self.project_id)
            self.index.reserve(len(chunks))
            await load_in_slices(self._add_stored, chunks)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.index.compact)
            await loop.run_in_executor(None, self.index.maybe_build_ivf)
            del chunks
            await loop.run_in_executor(None, release_free_memory)
        except Exception as exc:
            self.load_error = exc
            log.warning("loading org indexes of project %s failed: %s", self.project_id, exc)
        finally:
            self.ready.set()
