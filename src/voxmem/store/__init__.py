"""Storage backends behind one protocol: embedded SQLite (default) and Postgres."""

from __future__ import annotations

from .._config import Settings
from ._base import (
    DocumentWrite,
    ExtractionDone,
    FactWrite,
    ItemDelete,
    ProfileWrite,
    QuarantinedRecord,
    RecallTraceRow,
    SessionEnd,
    SessionReport,
    SessionStart,
    Store,
    TextHit,
    TurnWrite,
    WriteBatch,
)

__all__ = [
    "DocumentWrite",
    "ExtractionDone",
    "FactWrite",
    "ItemDelete",
    "ProfileWrite",
    "QuarantinedRecord",
    "RecallTraceRow",
    "SessionEnd",
    "SessionReport",
    "SessionStart",
    "Store",
    "TextHit",
    "TurnWrite",
    "WriteBatch",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """The store ``settings.store_url`` selects (not yet opened; call ``await open()``)."""
    url = settings.store_url
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        store: Store = PostgresStore.from_settings(settings)
        return store
    from .sqlite import SQLiteStore

    path = url.removeprefix("sqlite:///") if url else str(settings.data_path / "voxmem.db")
    return SQLiteStore(path)
