"""Wire types of ``import_user``: a caller put back from ``export_user``'s data.

Kept apart from :mod:`voxmem._api_types` only for size; the same conventions hold
(camelCase on the wire, snake_case accepted in requests, unknown fields refused). The
request carries exactly what ``export_user`` answers (its ``format``, the caller's name,
metadata and profile, calls and items, and from format 2 on the caller's identifiers,
merges and entity graph), so an export can be sent back as it is.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ._api_types import CallerRequest, JsonObject, WireRequest, WireResponse

__all__ = [
    "ExportedCall",
    "ExportedEdge",
    "ExportedEntity",
    "ExportedGraph",
    "ExportedIdentifier",
    "ExportedMemory",
    "ExportedMention",
    "ExportedMerge",
    "ImportUserRequest",
    "UserImported",
]


class ExportedCall(WireRequest, kw_only=True):
    """One call as ``export_user`` lists it."""

    session_id: str
    started_at: float
    agent_id: str | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    metadata: JsonObject | None = None
    report: JsonObject | None = None


class ExportedMemory(WireRequest, kw_only=True):
    """One stored item (turn, fact or summary) as ``export_user`` lists it."""

    id: str
    kind: Literal["turn", "fact", "summary"]
    created_at: float
    session_id: str | None = None
    text: str = ""
    user_text: str | None = None
    assistant_text: str | None = None
    turn_id: str | None = None
    fact_kind: str | None = None
    slot_key: str | None = None
    confidence: float | None = None
    valid_to: float | None = None
    deleted_at: float | None = None
    source_turn_ids: list[str] | None = None


class ExportedIdentifier(WireRequest, kw_only=True):
    """One identifier linked to the caller (phone, e-mail, account number, ...)."""

    kind: str
    value: str
    raw: str
    source: str
    strength: float
    created_at: float
    #: The caller it was linked to in the exporting store (the import's caller now).
    user_id: str | None = None
    session_id: str | None = None
    turn_id: str | None = None


class ExportedMerge(WireRequest, kw_only=True):
    """A merge naming the caller: proposed, in force (with ``undo``) or undone."""

    merge_id: str
    from_user_id: str
    to_user_id: str
    status: Literal["merged", "proposed", "undone", "record"]
    at: float
    evidence: JsonObject | None = None
    undone_at: float | None = None
    items_moved: int = 0
    #: What undoing a merge in force puts back (format 2 exports carry it).
    undo: JsonObject | None = None


class ExportedEntity(WireRequest, kw_only=True):
    id: str
    kind: str
    label: str
    attrs: JsonObject | None = None
    confidence: float
    mentions: int
    first_seen: float
    last_seen: float


class ExportedEdge(WireRequest, kw_only=True):
    source: str
    relation: str
    target: str
    confidence: float
    created_at: float


class ExportedMention(WireRequest, kw_only=True):
    entity_id: str
    item_id: str
    session_id: str | None = None
    at: float


class ExportedGraph(WireRequest, kw_only=True):
    """The caller's entity graph: entities, their relations, the memories naming them."""

    entities: list[ExportedEntity] = msgspec.field(default_factory=list)
    edges: list[ExportedEdge] = msgspec.field(default_factory=list)
    mentions: list[ExportedMention] = msgspec.field(default_factory=list)


class ImportUserRequest(CallerRequest, kw_only=True):
    """``export_user``'s answer (or a ``voxmem memories export`` file) to store again."""

    #: The export's format; another than this release's is refused, naming both.
    format: int
    name: str | None = None
    metadata: JsonObject | None = None
    profile: JsonObject | None = None
    sessions: list[ExportedCall] = msgspec.field(default_factory=list)
    items: list[ExportedMemory] = msgspec.field(default_factory=list)
    identifiers: list[ExportedIdentifier] = msgspec.field(default_factory=list)
    merges: list[ExportedMerge] = msgspec.field(default_factory=list)
    graph: ExportedGraph | None = None
    #: Identifier links come in unverified (source ``imported ...``: a call start does
    #: not resolve to them) unless the operator vouches for the file with ``true``.
    trust_identifiers: bool = False


class UserImported(WireResponse, kw_only=True):
    """What was stored; what the store already held is counted, not stored again."""

    sessions: int
    turns: int
    facts: int
    already_stored: int
    skipped: int
    profile_fields: int
    #: Identifier links, merges and graph entities written (format 2 exports).
    identifiers: int = 0
    merges: int = 0
    entities: int = 0
    #: Imported identifiers another caller of this store is linked to as well
    #: (``{kind, value, otherUserIds}``): a call from one of them is no longer linked
    #: to either caller on its own; merge the two or unlink one.
    shared_identifiers: list[JsonObject] = msgspec.field(default_factory=list)
    #: False when the store had not taken the import within two minutes: it is durable
    #: in the journal and reaches the store when the store recovers.
    applied: bool
