"""Caller identifiers, recorded merges and the per-caller entity graph, for both backends.

Each operation is written once, as a generator that yields :class:`Stmt` (a named SQL
statement and its parameters) and receives each statement's :class:`Result`. A backend
drives it inside one transaction: SQLite on its writer thread, Postgres on a pooled
connection with the tenant setting in force. The logic (what a merge moves, what an
unmerge puts back) therefore exists once, and the SQL once (``?`` placeholders; the
Postgres driver translates them), with a dialect variant only where the column types
differ.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from .._exceptions import NotFound
from ..models import Scope
from ._entities_sql import EntityOp, Result, Stmt, run_postgres, run_sqlite
from ._keys import search_key

__all__ = [
    "EdgeRow",
    "EntityOp",
    "EntityRow",
    "Graph",
    "IdentifierRow",
    "MentionRow",
    "MergeRow",
    "Result",
    "Stmt",
    "active_merges",
    "add_identifiers",
    "caller_identifiers",
    "find_identifier",
    "find_in_project",
    "forget_entities",
    "get_merge",
    "has_anything",
    "list_merges",
    "load_graph",
    "merge",
    "remove_identifier",
    "run_postgres",
    "run_sqlite",
    "unmerge",
    "write_graph",
]

T = TypeVar("T")


# --- records --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class IdentifierRow:
    """One link between an identifier and a caller, with where it came from."""

    kind: str
    value: str
    user_id: str
    raw: str
    source: str
    session_id: str | None
    turn_id: str | None
    strength: float
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "userId": self.user_id,
                "raw": self.raw, "source": self.source, "sessionId": self.session_id,
                "turnId": self.turn_id, "strength": self.strength, "createdAt": self.created_at}


@dataclasses.dataclass(frozen=True, slots=True)
class MergeRow:
    id: str
    from_user: str
    to_user: str
    status: str
    at: float
    evidence: dict[str, Any]
    undone_at: float | None
    items_moved: int
    #: The calls this merge moved (as it ran; not stored, not listed).
    sessions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"mergeId": self.id, "fromUserId": self.from_user, "toUserId": self.to_user,
                "status": self.status, "at": self.at, "evidence": self.evidence,
                "undoneAt": self.undone_at, "itemsMoved": self.items_moved}


@dataclasses.dataclass(frozen=True, slots=True)
class EntityRow:
    id: str
    kind: str
    label: str
    attrs: dict[str, Any]
    confidence: float
    mentions: int
    first_seen: float
    last_seen: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "attrs": self.attrs,
                "confidence": self.confidence, "mentions": self.mentions,
                "firstSeen": self.first_seen, "lastSeen": self.last_seen}


@dataclasses.dataclass(frozen=True, slots=True)
class EdgeRow:
    source_id: str
    relation: str
    target_id: str
    confidence: float
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source_id, "relation": self.relation, "target": self.target_id,
                "confidence": self.confidence, "createdAt": self.created_at}


@dataclasses.dataclass(frozen=True, slots=True)
class MentionRow:
    entity_id: str
    item_id: str
    session_id: str | None
    at: float


@dataclasses.dataclass(slots=True)
class Graph:
    """One caller's entity graph."""

    entities: list[EntityRow] = dataclasses.field(default_factory=list)
    edges: list[EdgeRow] = dataclasses.field(default_factory=list)
    mentions: list[MentionRow] = dataclasses.field(default_factory=list)

    def to_dict(self, *, mentions: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"entities": [e.to_dict() for e in self.entities],
               "edges": [e.to_dict() for e in self.edges]}
        if mentions:  # an export: which memories name which entity (the graph walk's way in)
            out["mentions"] = [{"entityId": m.entity_id, "itemId": m.item_id,
                                "sessionId": m.session_id, "at": m.at}
                               for m in self.mentions]
        return out


def _ident(row: Sequence[Any]) -> IdentifierRow:
    return IdentifierRow(kind=row[0], value=row[1], user_id=row[2], raw=row[3],
                         source=row[4], session_id=row[5], turn_id=row[6],
                         strength=float(row[7]), created_at=float(row[8]))


def _merge(row: Sequence[Any]) -> MergeRow:
    return MergeRow(id=row[0], from_user=row[1], to_user=row[2], status=row[3] or "record",
                    at=float(row[4]), evidence=json.loads(row[5] or "{}"),
                    undone_at=None if row[6] is None else float(row[6]),
                    items_moved=int(row[7]))


def _space(scope: Scope) -> tuple[str, str, str]:
    return (scope.tenant_id, scope.project_id, scope.space)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _load_json(value: Any) -> Any:
    # SQLite hands back TEXT, Postgres jsonb as already-decoded values.
    return json.loads(value) if isinstance(value, str | bytes) else value


# --- identifiers ------------------------------------------------------------------------


def add_identifiers(scope: Scope, rows: Sequence[IdentifierRow]) -> EntityOp[int]:
    """Link identifiers to ``scope``'s caller (a repeated link keeps its first source)."""
    written = 0
    for r in rows:
        res = yield Stmt("ident.insert", (*scope.caller_key, r.kind, r.value, r.raw, r.source,
                                          r.session_id, r.turn_id, r.strength, r.created_at))
        written += max(res.rowcount, 0)
    return written


def find_identifier(scope: Scope, kind: str | None, value: str) -> EntityOp[list[IdentifierRow]]:
    """Every caller of the scope's space linked to ``value`` (of ``kind``, or any kind)."""
    if kind is None:
        res = yield Stmt("ident.by_any_value", (*_space(scope), value))
    else:
        res = yield Stmt("ident.by_value", (*_space(scope), kind, value))
    return [_ident(r) for r in res.rows]


def find_in_project(tenant_id: str, project_id: str, kind: str, value: str | None,
                    limit: int = 10_000) -> EntityOp[list[tuple[str, IdentifierRow]]]:
    """``(space, row)`` of identifiers of ``kind`` (equal to ``value`` unless None) in
    every memory space of a project: the dashboard searches all spaces at once."""
    if value is None:
        res = yield Stmt("ident.kind_in_project", (tenant_id, project_id, kind, limit))
    else:
        res = yield Stmt("ident.in_project", (tenant_id, project_id, kind, value))
    return [(r[0], _ident(r[1:])) for r in res.rows]


def remove_identifier(scope: Scope, kind: str, value: str) -> EntityOp[IdentifierRow | None]:
    """Unlink one identifier from ``scope``'s caller; the link removed, None if none."""
    res = yield Stmt("ident.one", (*scope.caller_key, kind, value))
    if not res.rows:
        return None
    yield Stmt("ident.delete_one", (*scope.caller_key, kind, value))
    return _ident(res.rows[0])


def caller_identifiers(scope: Scope) -> EntityOp[list[IdentifierRow]]:
    res = yield Stmt("ident.of_caller", scope.caller_key)
    return [_ident(r) for r in res.rows]


# --- graph ------------------------------------------------------------------------------


def load_graph(scope: Scope) -> EntityOp[Graph]:
    key = scope.caller_key
    ents = yield Stmt("entity.of_caller", key)
    edges = yield Stmt("edge.of_caller", key)
    mentions = yield Stmt("mention.of_caller", key)
    return Graph(
        entities=[EntityRow(id=r[0], kind=r[1], label=r[2], attrs=_load_json(r[3]) or {},
                            confidence=float(r[4]), mentions=int(r[5]),
                            first_seen=float(r[6]), last_seen=float(r[7])) for r in ents.rows],
        edges=[EdgeRow(source_id=r[0], relation=r[1], target_id=r[2], confidence=float(r[3]),
                       created_at=float(r[4])) for r in edges.rows],
        mentions=[MentionRow(entity_id=r[0], item_id=r[1], session_id=r[2], at=float(r[3]))
                  for r in mentions.rows])


def write_graph(scope: Scope, graph: Graph, *, replace: bool = False) -> EntityOp[int]:
    """Add ``graph`` to the caller's (mentions add up); ``replace`` writes rows as given."""
    key = scope.caller_key
    for e in graph.entities:
        yield Stmt("entity.put" if replace else "entity.upsert",
                   (*key, e.id, e.kind, e.label, _json(e.attrs), e.confidence, e.mentions,
                    e.first_seen, e.last_seen))
    for g in graph.edges:
        yield Stmt("edge.put", (*key, g.source_id, g.relation, g.target_id, g.confidence,
                                g.created_at))
    for m in graph.mentions:
        yield Stmt("mention.put", (*key, m.entity_id, m.item_id, m.session_id, m.at))
    if not replace:
        for e in graph.entities:
            yield Stmt("entity.count_mentions", (*key, e.id))
    return len(graph.entities)


def _delete_graph(scope: Scope) -> EntityOp[int]:
    removed = 0
    for name in ("entity.delete_caller", "edge.delete_caller", "mention.delete_caller"):
        res = yield Stmt(name, scope.caller_key)
        removed += max(res.rowcount, 0)
    return removed


def forget_entities(scope: Scope) -> EntityOp[dict[str, int]]:
    """Erase the caller's identifiers, graph and merge records (``forget_user``)."""
    ident = yield Stmt("ident.delete_caller", scope.caller_key)
    graph = yield from _delete_graph(scope)
    merges = yield Stmt("merge.delete_caller", (*_space(scope), scope.user_id, scope.user_id))
    return {"identifiers": max(ident.rowcount, 0), "entities": graph,
            "mergeRecords": max(merges.rowcount, 0)}


# --- merges -----------------------------------------------------------------------------


def _caller_row(scope: Scope) -> EntityOp[list[Any] | None]:
    res = yield Stmt("caller.get", scope.caller_key)
    if not res.rows:
        return None
    name, metadata, profile, created, updated = res.rows[0]
    return [name, _load_json(metadata) or {}, _load_json(profile) or {}, float(created),
            float(updated)]


def _move_items(dialect_key: tuple[str, str, str, str], src: tuple[str, str, str, str],
                ids: Sequence[str]) -> EntityOp[int]:
    moved = 0
    new_key = search_key(*dialect_key)
    for item_id in ids:
        res = yield Stmt("items.move", (dialect_key[3], new_key, *src, item_id))
        moved += max(res.rowcount, 0)
    return moved


def merge(source: Scope, target: Scope, at: float, merge_id: str, status: str,
          evidence: dict[str, Any]) -> EntityOp[MergeRow]:
    """Move everything of ``source`` to ``target`` and record how to undo it.

    With ``status="proposed"`` nothing moves: the merge is only recorded for review.
    The undo record lists what moved (items, sessions, identifiers), the source caller's
    row, the target's row before, and both graphs before, so :func:`unmerge` restores
    both callers exactly.
    """
    src, dst = source.caller_key, target.caller_key
    moved = 0
    undo: dict[str, Any] | None = None
    if status == "merged":
        items = [r[0] for r in (yield Stmt("items.ids", src)).rows]
        sessions = [r[0] for r in (yield Stmt("sessions.ids", src)).rows]
        source_row = yield from _caller_row(source)
        target_row = yield from _caller_row(target)
        source_ids = yield from caller_identifiers(source)
        if not (items or sessions or source_ids) and source_row is None:
            # Nothing to move, yet the merge would send every later request for the id
            # to the target: a typo, or a caller not seen yet, would open the target's
            # memory to whoever calls with that id next.
            raise NotFound(f"caller {src[3]!r} has no memories, calls or identifiers to "
                           "merge (is the id right?)", details={"fromId": src[3]})
        target_ids = yield from caller_identifiers(target)
        source_graph = yield from load_graph(source)
        target_graph = yield from load_graph(target)
        moved = yield from _move_items(dst, src, items)
        for sid in sessions:
            yield Stmt("sessions.move", (dst[3], *src, sid))
        if source_row is not None:
            if target_row is None:
                yield Stmt("caller.put", (*dst, source_row[0], _json(source_row[1]),
                                          _json(source_row[2]), source_row[3], at))
            else:
                yield Stmt("caller.merge_into", (source_row[0], _json(source_row[1]),
                                                 _json(source_row[2]), at, *dst))
            yield Stmt("caller.delete", src)
        have = {(r.kind, r.value) for r in target_ids}
        added = [r for r in source_ids if (r.kind, r.value) not in have]
        yield from add_identifiers(target, added)
        yield Stmt("ident.delete_caller", src)
        yield from write_graph(target, source_graph)
        yield from _delete_graph(source)
        undo = {
            "items": items, "sessions": sessions, "sourceCaller": source_row,
            "targetCaller": target_row,
            "sourceIdentifiers": [dataclasses.astuple(r) for r in source_ids],
            "addedIdentifiers": [[r.kind, r.value] for r in added],
            "sourceGraph": _graph_to_json(source_graph),
            "targetGraph": _graph_to_json(target_graph),
        }
    yield Stmt("merge.insert", (*dst[:3], src[3], dst[3], at, moved, merge_id, status,
                                _json(evidence), None if undo is None else _json(undo)))
    return MergeRow(id=merge_id, from_user=src[3], to_user=dst[3], status=status, at=at,
                    evidence=evidence, undone_at=None, items_moved=moved,
                    sessions=tuple(undo["sessions"]) if undo else ())


def has_anything(scope: Scope) -> EntityOp[bool]:
    """Whether a merge of ``scope``'s caller would move anything (as :func:`merge` asks)."""
    for name in ("items.ids", "sessions.ids", "caller.get"):
        if (yield Stmt(name, scope.caller_key)).rows:
            return True
    return bool((yield from caller_identifiers(scope)))


def get_merge(tenant_id: str, merge_id: str) -> EntityOp[tuple[MergeRow, str, str] | None]:
    """The merge and its (project_id, space), or None."""
    res = yield Stmt("merge.get", (tenant_id, merge_id))
    if not res.rows:
        return None
    row = res.rows[0]
    return _merge(row), row[8], row[9]


def unmerge(source: Scope, target: Scope, merge_id: str,
            at: float) -> EntityOp[tuple[dict[str, int], list[str]]]:
    """Put back what merge ``merge_id`` moved from ``source`` to ``target``: the counts,
    and the calls given back.

    What the target gained after the merge (new calls, new identifiers) stays with it;
    a call given back takes every turn said in it, also those saved while it went on as
    the target's (the source's words, in the source's call: left behind, they were the
    target's memory in a call the target does not have, and outlived its erasure).
    """
    res = yield Stmt("merge.get", (source.tenant_id, merge_id))
    undo = json.loads(res.rows[0][10] or "{}") if res.rows else {}
    src, dst = source.caller_key, target.caller_key
    sessions = list(undo.get("sessions", []))
    items = list(undo.get("items", []))
    listed = set(items)
    for sid in sessions:
        items += [r[0] for r in (yield Stmt("items.in_session", (*dst, sid))).rows
                  if r[0] not in listed]
    moved = yield from _move_items(src, dst, items)
    for sid in sessions:
        yield Stmt("sessions.move", (src[3], *dst, sid))
    source_row, target_row = undo.get("sourceCaller"), undo.get("targetCaller")
    if source_row is not None:
        yield Stmt("caller.put", (*src, source_row[0], _json(source_row[1]),
                                  _json(source_row[2]), source_row[3], source_row[4]))
    if target_row is not None:
        yield Stmt("caller.put", (*dst, target_row[0], _json(target_row[1]),
                                  _json(target_row[2]), target_row[3], target_row[4]))
    elif source_row is not None and not (yield Stmt("items.ids", dst)).rows \
            and not (yield Stmt("sessions.ids", dst)).rows:
        # The merge made the target's row; it goes unless the target gained since.
        yield Stmt("caller.delete", dst)
    for kind, value in undo.get("addedIdentifiers", []):
        yield Stmt("ident.delete_one", (*dst, kind, value))
    yield from add_identifiers(source, [IdentifierRow(*r) for r in
                                        undo.get("sourceIdentifiers", [])])
    source_graph = _graph_from_json(undo.get("sourceGraph") or {})
    target_graph = _graph_from_json(undo.get("targetGraph") or {})
    # The target's graph goes back to what it was, plus what was learned since the merge
    # about entities the source never had.
    current = yield from load_graph(target)
    before = {e.id for e in target_graph.entities}
    source_only = {e.id for e in source_graph.entities} - before
    moved_items = set(items)
    kept = Graph(entities=[e for e in current.entities
                           if e.id not in source_only and e.id not in before],
                 edges=[e for e in current.edges if e.source_id not in source_only
                        and e.target_id not in source_only],
                 mentions=[m for m in current.mentions if m.entity_id not in source_only
                           and m.item_id not in moved_items])
    yield from _delete_graph(target)
    yield from write_graph(target, target_graph, replace=True)
    yield from write_graph(target, kept, replace=True)
    yield from write_graph(source, source_graph, replace=True)
    yield Stmt("merge.set_status", ("undone", at, source.tenant_id, merge_id))
    return {"itemsRestored": moved, "sessionsRestored": len(sessions)}, sessions


def list_merges(scope: Scope, user_id: str | None) -> EntityOp[list[MergeRow]]:
    if user_id is None:
        res = yield Stmt("merge.of_space", _space(scope))
    else:
        res = yield Stmt("merge.of_caller", (*_space(scope), user_id, user_id))
    return [_merge(r) for r in res.rows]


def active_merges(tenant_id: str) -> EntityOp[list[tuple[str, str, str, str]]]:
    """(project_id, space, from_user, to_user) of merges in force, oldest first."""
    res = yield Stmt("merge.active", (tenant_id,))
    return [(r[0], r[1], r[2], r[3]) for r in res.rows]


def _graph_to_json(graph: Graph) -> dict[str, Any]:
    return {"entities": [dataclasses.astuple(e) for e in graph.entities],
            "edges": [dataclasses.astuple(e) for e in graph.edges],
            "mentions": [dataclasses.astuple(m) for m in graph.mentions]}


def _graph_from_json(data: dict[str, Any]) -> Graph:
    return Graph(entities=[EntityRow(*e) for e in data.get("entities", [])],
                 edges=[EdgeRow(*e) for e in data.get("edges", [])],
                 mentions=[MentionRow(*m) for m in data.get("mentions", [])])
