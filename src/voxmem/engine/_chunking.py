"""Split org documents into overlapping chunks at paragraph and sentence boundaries."""

from __future__ import annotations

import re

__all__ = ["chunk_text"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n{2,}")


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """Chunks of about ``size`` characters; consecutive chunks share ``overlap``.

    Breaks fall on a paragraph or sentence end when one is within the last third of a
    chunk, so a chunk rarely starts mid-sentence.
    """
    text = text.strip()
    if len(text) <= size:
        return [text] if text else []
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            window = text[start + (2 * size) // 3:end]
            breaks = [m.end() for m in _SENTENCE_END.finditer(window)]
            if breaks:
                end = start + (2 * size) // 3 + breaks[-1]
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
        # Begin the next chunk at a word boundary inside the overlap.
        space = text.find(" ", start, end)
        if space != -1:
            start = space + 1
    return chunks
