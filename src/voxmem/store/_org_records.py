"""The org knowledge records the store protocol passes: a document to write with its
chunks, and a chunk found by the store's own search. Apart from :mod:`._base` only to
keep that module's size down; imported from there."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..models import Chunk

__all__ = ["ChunkHit", "DocumentWrite"]


@dataclasses.dataclass(frozen=True, slots=True)
class DocumentWrite:
    """One org document with its chunks (already embedded)."""

    doc_id: str
    text: str
    metadata: dict[str, Any]
    chunks: list[Chunk]
    embedding_model: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class ChunkHit:
    """An org chunk found by the store's own search, with its score (higher is better).

    The stored chunk itself (its embedding left out), so the engine shows a hit found
    here exactly as one found in its warm index.
    """

    chunk: Chunk
    score: float

    @property
    def id(self) -> str:
        return self.chunk.id
