"""Scoping tokens shared by the backends' full-text indexes, and FTS5 queries."""

from __future__ import annotations

import hashlib

__all__ = ["erasure_key", "fts_query", "search_key"]


def search_key(*parts: str) -> str:
    """A single token standing for one caller or project (hex, so never stemmed)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10).hexdigest()
    return "k" + digest


def erasure_key(store_id: str, *parts: str) -> str:
    """How an erasure notice names the caller: a BLAKE2b of their key, keyed with the
    store's own random id (``store_identity``).

    Unkeyed (as :func:`search_key`), anyone holding a copy of the notices could confirm
    a guess ("was +15105550100 of tenant acme erased?") by hashing it; keyed, the guess
    needs the store's id too, which a dump of the notices, a log line or a reader of a
    replica's ``erasure_notices`` alone does not have.
    """
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"),
                             key=store_id.encode("utf-8")[:64], digest_size=16)
    return "e" + digest.hexdigest()


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
