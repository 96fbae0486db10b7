"""Wire types of the caller operations (SPEC §7): resolution, identifiers, merges.

Kept apart from :mod:`voxmem._api_types` only for size; the same conventions hold
(camelCase on the wire, snake_case accepted in requests, unknown fields refused).
Identifier kinds are not an enum here: the list lives with the normalisers in
``voxmem.entities``, which a client must not import (phone-number metadata), and the
runtime refuses an unknown kind naming it.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ._api_types import CallerRequest, JsonObject, ProjectRequest, WireRequest, WireResponse

__all__ = [
    "CallerMerge",
    "CallerMerges",
    "CallerProfile",
    "EntityEdge",
    "EntityGraph",
    "EntityNode",
    "FindCallersRequest",
    "IdentifierInput",
    "IdentifierMatch",
    "LinkIdentifierRequest",
    "LinkedIdentifier",
    "ListMergesRequest",
    "MergeCallersRequest",
    "ResolveCallerRequest",
    "ResolvedCaller",
    "UnlinkIdentifierRequest",
    "UnmergeCallersRequest",
    "Unmerged",
]


class IdentifierInput(WireRequest, kw_only=True):
    #: phone, email, account, policy, external_id, livekit_identity, order, invoice,
    #: ticket, name, sip_call_id.
    kind: str
    value: str
    source: str | None = None


class ResolveCallerRequest(ProjectRequest, kw_only=True):
    identifiers: list[IdentifierInput]
    #: The app's own id for the caller, when it has one.
    user_id: str | None = None
    name: str | None = None
    default_user_id: str | None = None
    session_id: str | None = None


class LinkIdentifierRequest(CallerRequest, kw_only=True):
    kind: str
    value: str
    source: str | None = None


class UnlinkIdentifierRequest(CallerRequest, kw_only=True):
    #: The identifier as written or spoken; it is normalised as when it was linked.
    kind: str
    value: str


class FindCallersRequest(ProjectRequest, kw_only=True):
    #: Any identifier, written or as spoken.
    identifier: str


class MergeCallersRequest(ProjectRequest, kw_only=True):
    from_id: str
    to_id: str
    reason: str | None = None
    status: Literal["merged", "proposed"] = "merged"


class UnmergeCallersRequest(ProjectRequest, kw_only=True):
    merge_id: str


class ListMergesRequest(ProjectRequest, kw_only=True):
    #: Only this caller's merges.
    user_id: str | None = None


class ResolvedCaller(WireResponse, kw_only=True):
    user_id: str
    linked: bool
    created: bool
    reason: str
    evidence: list[JsonObject] = msgspec.field(default_factory=list)
    ambiguous: list[JsonObject] = msgspec.field(default_factory=list)


class LinkedIdentifier(WireResponse, kw_only=True):
    kind: str
    value: str
    user_id: str
    source: str
    strength: float
    raw: str | None = None
    session_id: str | None = None
    turn_id: str | None = None
    created_at: float | None = None
    ambiguous: bool | None = None


class IdentifierMatch(WireResponse, kw_only=True):
    user_id: str
    kind: str
    value: str
    source: str | None = None
    strength: float | None = None


class CallerMerge(WireResponse, kw_only=True):
    merge_id: str
    from_user_id: str
    to_user_id: str
    status: Literal["merged", "proposed", "undone"]
    at: float | None = None
    evidence: JsonObject | None = None
    undone_at: float | None = None
    items_moved: int | None = None


class EntityNode(WireResponse, kw_only=True):
    id: str
    kind: str
    label: str
    attrs: JsonObject = msgspec.field(default_factory=dict)
    confidence: float | None = None
    mentions: int | None = None
    first_seen: float | None = None
    last_seen: float | None = None


class EntityEdge(WireResponse, kw_only=True):
    source: str
    relation: str
    target: str
    confidence: float | None = None
    created_at: float | None = None


class EntityGraph(WireResponse, kw_only=True):
    entities: list[EntityNode] = msgspec.field(default_factory=list)
    edges: list[EntityEdge] = msgspec.field(default_factory=list)


class CallerProfile(WireResponse, kw_only=True):
    user_id: str
    identifiers: list[LinkedIdentifier]
    merges: list[CallerMerge]
    graph: EntityGraph
    name: str | None = None
    profile: JsonObject | None = None


class Unmerged(WireResponse, kw_only=True):
    merge_id: str
    from_user_id: str
    to_user_id: str
    items_restored: int | None = None
    sessions_restored: int | None = None


#: ``list_merges`` answers a list of merges.
CallerMerges = list[CallerMerge]
