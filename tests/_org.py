"""Helpers for tests of the org index files."""

from __future__ import annotations

from pathlib import Path


def saved_vector_file(data_dir: Path) -> Path:
    """The one org vector file saved in ``data_dir`` (named by the store's identity)."""
    found = sorted((data_dir / "org-vectors").glob("*.usearch"))
    assert len(found) == 1, found
    return found[0]
