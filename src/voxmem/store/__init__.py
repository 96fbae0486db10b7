"""Storage backends behind one protocol: embedded SQLite (default) and Postgres."""

from __future__ import annotations

from .._config import Settings
from ._base import (
    ChunkHit,
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
    TurnWrite,
    WriteBatch,
)
from ._journal_codec import (
    JOURNAL_FORMAT,
    JournalWrite,
    MalformedRecord,
    add_to_batch,
    decode_record,
    encode_record,
    scope_from_record,
    scope_to_record,
    turn_from_record,
    turn_to_record,
)

__all__ = [
    "JOURNAL_FORMAT",
    "ChunkHit",
    "DocumentWrite",
    "ExtractionDone",
    "FactWrite",
    "ItemDelete",
    "JournalWrite",
    "MalformedRecord",
    "ProfileWrite",
    "QuarantinedRecord",
    "RecallTraceRow",
    "SessionEnd",
    "SessionReport",
    "SessionStart",
    "Store",
    "TurnWrite",
    "WriteBatch",
    "add_to_batch",
    "decode_record",
    "encode_record",
    "open_store",
    "scope_from_record",
    "scope_to_record",
    "turn_from_record",
    "turn_to_record",
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
