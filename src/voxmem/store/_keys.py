"""Scoping tokens shared by the backends' full-text indexes."""

from __future__ import annotations

import hashlib

__all__ = ["search_key"]


def search_key(*parts: str) -> str:
    """A single token standing for one caller or project (hex, so never stemmed)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10).hexdigest()
    return "k" + digest
