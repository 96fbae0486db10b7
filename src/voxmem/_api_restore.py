"""Wire types of ``import_user``: a caller put back from ``export_user``'s data.

Kept apart from :mod:`voxmem._api_types` only for size; the same conventions hold
(camelCase on the wire, snake_case accepted in requests, unknown fields refused). The
request carries exactly what ``export_user`` answers (its ``format``, the caller's name,
metadata and profile, calls and items), so an export can be sent back as it is; the
identifiers, merges and entity graph an export also lists are not imported (a
caller's identifiers are linked again by their next calls, or with
``link_identifier``).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ._api_types import CallerRequest, JsonObject, WireRequest, WireResponse

__all__ = ["ExportedCall", "ExportedMemory", "ImportUserRequest", "UserImported"]


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


class ImportUserRequest(CallerRequest, kw_only=True):
    """``export_user``'s answer (or a ``voxmem memories export`` file) to store again."""

    #: The export's format; another than this release's is refused, naming both.
    format: int
    name: str | None = None
    metadata: JsonObject | None = None
    profile: JsonObject | None = None
    sessions: list[ExportedCall] = msgspec.field(default_factory=list)
    items: list[ExportedMemory] = msgspec.field(default_factory=list)


class UserImported(WireResponse, kw_only=True):
    """What was stored; what the store already held is counted, not stored again."""

    sessions: int
    turns: int
    facts: int
    already_stored: int
    skipped: int
    profile_fields: int
    #: False when the store had not taken the import within two minutes: it is durable
    #: in the journal and reaches the store when the store recovers.
    applied: bool
