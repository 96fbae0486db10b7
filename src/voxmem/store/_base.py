"""The store protocol: what the engine needs from a backend (SQLite or Postgres).

The store is the durable source of truth. All writes arrive as one :class:`WriteBatch`
per transaction, produced by the engine's journal applier, so a backend never sees a
half-applied batch and the applied journal position moves in the same transaction as
the rows it covers. All SQL dialect code lives in this package.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

from ..models import (
    CallerExport,
    CallerListing,
    CallerRecord,
    CallRecord,
    CallSummary,
    Chunk,
    DocumentRecord,
    Fact,
    IndexRecord,
    MemoryItem,
    PolicyRecord,
    RecallTrace,
    Scope,
    SessionInfo,
    Turn,
)
from ._entities_sql import EntityOp
from ._org_records import ChunkHit, DocumentWrite
from ._sql import ALL_DELETED

T = TypeVar("T")

#: Chunks per page of :meth:`Store.chunk_pages`: a few MB of rows.
CHUNK_PAGE_ROWS = 2_000

__all__ = [
    "CHUNK_PAGE_ROWS",
    "ChunkHit",
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
    "TurnWrite",
    "WriteBatch",
]


@dataclasses.dataclass(frozen=True, slots=True)
class SessionStart:
    scope: Scope
    session_id: str
    started_at: float
    caller_name: str | None = None
    caller_metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class SessionEnd:
    scope: Scope
    session_id: str
    ended_at: float
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class TurnWrite:
    scope: Scope
    turn: Turn
    embedding: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class FactWrite:
    """A fact to insert; ``supersedes`` lists ids whose ``valid_to`` becomes ``valid_from``.
    ``valid_to`` set writes a fact already superseded (an import's history)."""

    scope: Scope
    id: str
    text: str
    kind: str
    slot_key: str | None
    confidence: float
    source_session_id: str | None
    source_turn_ids: tuple[str, ...]
    valid_from: float
    embedding: bytes | None = None
    supersedes: tuple[str, ...] = ()
    valid_to: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ProfileWrite:
    scope: Scope
    field: str
    value: Any
    at: float


@dataclasses.dataclass(frozen=True, slots=True)
class ItemDelete:
    """Soft-delete one memory item: gone from recall now, hard-deleted by cleanup."""

    scope: Scope
    item_id: str
    at: float


@dataclasses.dataclass(frozen=True, slots=True)
class ExtractionDone:
    """The outcome of learning from one call: success, or the error to retry after."""

    scope: Scope
    session_id: str
    at: float
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SessionReport:
    scope: Scope
    session_id: str
    report: dict[str, Any]


@dataclasses.dataclass(slots=True)
class WriteBatch:
    """Everything one applier step writes, in one transaction, in this order."""

    sessions_started: list[SessionStart] = dataclasses.field(default_factory=list)
    turns: list[TurnWrite] = dataclasses.field(default_factory=list)
    facts: list[FactWrite] = dataclasses.field(default_factory=list)
    profile: list[ProfileWrite] = dataclasses.field(default_factory=list)
    sessions_ended: list[SessionEnd] = dataclasses.field(default_factory=list)
    deletes: list[ItemDelete] = dataclasses.field(default_factory=list)
    extractions: list[ExtractionDone] = dataclasses.field(default_factory=list)
    reports: list[SessionReport] = dataclasses.field(default_factory=list)
    embedding_model: str = ""
    applied_seq: int | None = None

    def __bool__(self) -> bool:
        return bool(self.sessions_started or self.turns or self.facts or self.profile
                    or self.sessions_ended or self.deletes or self.extractions or self.reports
                    or self.applied_seq is not None)


@dataclasses.dataclass(frozen=True, slots=True)
class RecallTraceRow:
    """One recall as an operator inspects it later: what was asked, what was injected,
    how long each lane took. ``sources`` are the cited hits with a short text."""

    scope: Scope
    id: str
    session_id: str | None
    at: float
    query: str
    total_ms: float
    degraded: bool
    trace: dict[str, Any]
    injected: str
    sources: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """A journal record the store refused for a reason that is not an outage.

    ``record`` is the journal record as ASCII JSON, so any text survives (a NUL byte
    included); ``scope`` is the caller it belongs to, when it names one.
    """

    seq: int
    record: str
    error: str
    at: float
    scope: Scope | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "error": self.error, "at": self.at,
                "userId": self.scope.user_id if self.scope else None,
                "projectId": self.scope.project_id if self.scope else None,
                "record": self.record}


class Store(Protocol):
    """A durable backend. Every caller-level call takes a :class:`Scope`.

    ``shared`` is True when other runtimes may write the same data (a database server),
    so a caller's warm state must be reloaded at the start of each call.
    """

    dialect: str
    shared: bool

    async def open(self) -> None:
        """Connect and apply pending migrations."""
        ...

    async def close(self) -> None: ...

    async def schema_version(self) -> int: ...

    async def store_id(self) -> str:
        """The store's own identity: a random id made when its schema was created,
        the same wherever the database is reached from (a moved SQLite file, another
        spelling of a Postgres URL), and carried by a copy or a restored backup.

        Names the files the runtime keeps beside the store (the org vector index)."""
        ...

    # -- writes -------------------------------------------------------------------
    async def write(self, batch: WriteBatch) -> None:
        """Apply a batch atomically. Idempotent: replaying a batch changes nothing."""
        ...

    async def applied_seq(self) -> int:
        """The highest journal sequence number whose effects are stored."""
        ...

    async def quarantine(self, entry: QuarantinedRecord) -> None:
        """Set ``entry`` aside and move the applied position past it, in one transaction."""
        ...

    async def list_quarantined(self, limit: int = 100) -> list[QuarantinedRecord]:
        """Quarantined records, oldest first."""
        ...

    async def count_quarantined(self) -> int:
        """How many records are quarantined (all of them, not a page)."""
        ...

    async def release_quarantined(self, seq: int) -> QuarantinedRecord | None:
        """Remove and return one quarantined record (an operator retries it)."""
        ...

    async def find_turns(self, scope: Scope, turn_ids: Sequence[str], *,
                         since: float | None = None,
                         session_id: str | None = None) -> dict[str, str]:
        """Event ids of the caller's stored turns, by ``turn_id`` (the idempotency key
        within a call): those named in ``turn_ids``, plus every turn created at or after
        ``since``; only the call ``session_id``'s when given."""
        ...

    async def set_embeddings(
        self, rows: Sequence[tuple[str, bytes]], model: str, *, table: str = "items",
        column: str = "embedding",
    ) -> None:
        """Store vectors for existing rows (``table`` is ``items`` or ``chunks``;
        ``column`` is ``embedding``, or ``second_embedding`` of ``items``: the full
        model's vector of embedder "static+onnx")."""
        ...

    async def missing_embeddings(
        self, model: str, limit: int, *, table: str = "items", column: str = "embedding",
    ) -> list[tuple[str, str]]:
        """(id, text) of rows with no vector from ``model`` in ``column`` (new rows, or
        a model change); tables and columns as :meth:`set_embeddings`."""
        ...

    # -- caller reads ---------------------------------------------------------------
    async def get_caller(self, scope: Scope) -> CallerRecord | None:
        """The stored caller, or None for an unknown caller."""
        ...

    async def load_items(self, scope: Scope, now: float) -> list[MemoryItem]:
        """Every live memory item of the caller (turns, current facts, summaries)."""
        ...

    async def list_facts(self, scope: Scope, *, include_history: bool = False,
                         session_id: str | None = None) -> list[Fact]:
        """The caller's facts, newest first; ``session_id`` keeps those learned in that
        call; ``include_history`` adds superseded and deleted ones."""
        ...

    async def export_caller(self, scope: Scope) -> CallerExport:
        """Everything stored about one caller, for a data request."""
        ...

    # -- lifecycle ----------------------------------------------------------------------
    async def pending_extractions(self, limit: int, max_attempts: int) -> list[
        tuple[Scope, str]
    ]:
        """Ended calls not learned from yet (failed ones below ``max_attempts``)."""
        ...

    async def stale_sessions(self, idle_before: float, limit: int) -> list[tuple[Scope, str]]:
        """Open calls with no activity since ``idle_before`` (a killed worker's calls)."""
        ...

    async def get_policies(self, tenant_id: str, project_id: str) -> dict[str, PolicyRecord]:
        """Stored memory policies by agent id (``""`` is the project default)."""
        ...

    async def set_policy(self, tenant_id: str, project_id: str, agent_id: str,
                         memory_enabled: bool, retention_days: int, now: float) -> None: ...

    async def list_projects(self) -> list[tuple[str, str]]: ...

    async def purge_items(self, tenant_id: str, project_id: str, cutoff: float,
                          agent_id: str | None, exclude_agents: Sequence[str], *,
                          deleted_turns_before: float = ALL_DELETED) -> int:
        """Hard-delete items created before ``cutoff`` (of ``agent_id``, or of every agent
        not in ``exclude_agents``) and every soft-deleted item (a soft-deleted turn only
        if created before ``deleted_turns_before``); returns rows removed."""
        ...

    async def forget_caller(self, scope: Scope) -> dict[str, int]:
        """Erase the caller everywhere (rows, search indexes, free pages)."""
        ...

    async def begin_erasures(self, scopes: Sequence[Scope], at: float) -> None:
        """Record that the callers' erasure has begun, before any of their rows goes."""
        ...

    async def pending_erasures(self) -> list[Scope]:
        """Erasures this runtime began and did not finish (it was killed), oldest first."""
        ...

    async def end_erasure(self, scope: Scope, at: float) -> None:
        """The caller is erased everywhere, the journal included: forget the record and
        leave a notice (a hash of the caller's key keyed with the store's id, see
        ``_keys.erasure_key``) for the runtimes sharing the store."""
        ...

    async def erasure_notices(self, since: float) -> list[tuple[str, float]]:
        """(caller hash, erased at) of erasures finished at ``since`` or later."""
        ...

    async def merge_callers(self, source: Scope, target: Scope, at: float) -> int:
        """Move everything of ``source`` to ``target``; returns items moved."""
        ...

    def singleton(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Hold the cluster-wide job lock ``name``; yields False when another holder has it.

        Background jobs that must run once per deployment (retention) take it, so many
        runtimes on one database do not all run them.
        """
        ...

    def caller_lock(self, scope: Scope) -> AbstractAsyncContextManager[None]:
        """Hold the caller's lock across every runtime on this store, waiting for it.

        Learning takes it, so two runtimes never resolve new facts for one caller at
        once. A no-op where one runtime owns the store (SQLite).
        """
        ...

    async def get_session(self, tenant_id: str, project_id: str, session_id: str) -> (
        SessionInfo | None
    ): ...

    async def recent_sessions(self, scope: Scope, limit: int) -> list[SessionInfo]: ...

    async def session_turns(self, scope: Scope, session_id: str, *,
                            last: int | None = None) -> list[Turn]:
        """The call's turns in order (only the final ``last`` ones when given)."""
        ...

    async def count_items(self, scope: Scope) -> int: ...

    # -- org indexes ------------------------------------------------------------------
    async def write_documents(
        self,
        tenant_id: str,
        project_id: str,
        index_name: str,
        documents: Sequence[DocumentWrite],
        index_metadata: dict[str, Any] | None,
        now: float,
    ) -> tuple[int, int]:
        """Create-or-append ``index_name``; a repeated document id replaces that document.

        Returns ``(version, chunks_written)``; the version is bumped once per call.
        """
        ...

    async def list_indexes(self, tenant_id: str, project_id: str) -> list[IndexRecord]: ...

    async def index_versions(self, tenant_id: str, project_id: str) -> dict[str, int]: ...

    async def load_chunks(self, tenant_id: str, project_id: str) -> list[Chunk]: ...

    async def count_chunks(self, tenant_id: str, project_id: str,
                           chunk_ids: Sequence[str]) -> int:
        """How many of ``chunk_ids`` (a few dozen) the project's chunks hold."""
        ...

    def chunk_pages(self, tenant_id: str, project_id: str,
                    page_rows: int = CHUNK_PAGE_ROWS) -> AsyncIterator[list[Chunk]]:
        """The project's chunks in insertion order, ``page_rows`` at a time.

        What a warm load reads: only one page is held at once, where
        :meth:`load_chunks` returns every chunk (~1.4 GB of objects at a million).
        """
        ...

    async def search_chunks_text(
        self, tenant_id: str, project_id: str, query: str, k: int
    ) -> list[ChunkHit]: ...

    # -- operator views (dashboard) --------------------------------------------------------
    async def search_callers(self, tenant_id: str, project_id: str, text: str, digits: str,
                             limit: int, offset: int = 0) -> list[CallerListing]:
        """Callers whose id, name, profile or metadata contain ``text`` (lower case), or
        whose id, profile or metadata contain ``digits`` once punctuation is removed;
        both empty lists the most recently updated callers (``offset`` pages them)."""
        ...

    async def list_sessions(self, tenant_id: str, project_id: str, *, space: str | None,
                            user_id: str | None, limit: int) -> list[CallSummary]:
        """Calls newest first, of one caller or of the whole project."""
        ...

    async def session_record(self, tenant_id: str, project_id: str,
                             session_id: str) -> CallRecord | None:
        """One call with its caller, end reason, report and learning state."""
        ...

    async def list_documents(self, tenant_id: str, project_id: str,
                             index_name: str) -> list[DocumentRecord]:
        """An index's documents by id, with size and chunk count."""
        ...

    async def delete_documents(self, tenant_id: str, project_id: str, index_name: str,
                               doc_ids: Sequence[str], now: float) -> tuple[int, int] | None:
        """Remove documents and their chunks; ``(version, removed)``, None if no index."""
        ...

    async def delete_index(self, tenant_id: str, project_id: str,
                           index_name: str) -> int | None:
        """Remove an index with its documents; documents removed, None if no index."""
        ...

    async def org_index_marks(self) -> list[tuple[str, str, str, int, float]]:
        """Every org index of the store: (tenant, project, name, version, created_at)."""
        ...

    async def purge_org_traces(self) -> int:
        """Delete every project's recall traces citing an org chunk no longer stored
        (they quote a deleted document); returns traces removed."""
        ...

    async def purge_deleted_chunks(self) -> bool:
        """The cleanup's part for org knowledge: rid the store's files of deleted
        chunks' words where deleting a row leaves them (SQLite's full-text index and
        WAL); True when something was purged."""
        ...

    async def write_recall_traces(self, rows: Sequence[RecallTraceRow],
                                  prune_before: float) -> None:
        """Store traces and drop those of the same tenants older than ``prune_before``."""
        ...

    async def recall_traces(self, tenant_id: str, project_id: str, *,
                            session_id: str | None = None, since: float | None = None,
                            limit: int = 500) -> list[RecallTrace]:
        """Stored traces oldest first, of one call or of the project since ``since``."""
    # -- callers and entities (operations in _entities.py) ---------------------------------
    async def run_entities(self, tenant_id: str, op: EntityOp[T], *,
                           write: bool = True) -> T:
        """Run one identifier / merge / entity-graph operation in one transaction."""
        ...

    async def entity_tenants(self) -> list[str]:
        """Tenants whose merges in force must be loaded at start."""
        ...
