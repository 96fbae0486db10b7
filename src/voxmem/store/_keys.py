"""Scoping tokens shared by the backends' full-text indexes, and FTS5 queries."""

from __future__ import annotations

import hashlib

__all__ = ["fts_query", "search_key"]


def search_key(*parts: str) -> str:
    """A single token standing for one caller or project (hex, so never stemmed)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10).hexdigest()
    return "k" + digest


def fts_query(text: str) -> str | None:
    """An FTS5 OR-query of the words in ``text``, each quoted so user text is never syntax."""
    words = []
    for raw in text.replace('"', " ").split():
        word = "".join(ch for ch in raw if ch.isalnum())
        if word:
            words.append(f'"{word.lower()}"')
    if not words:
        return None
    return " OR ".join(dict.fromkeys(words))
