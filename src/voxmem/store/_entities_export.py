"""A caller's identifiers, merges and entity graph as ``export_user`` lists them, and
written back by ``import_user`` (operations of ``_entities``, for both backends)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..models import Scope
from ._entities import (
    Graph,
    IdentifierRow,
    MergeRow,
    _json,
    _load_json,
    _space,
    add_identifiers,
    caller_identifiers,
    find_identifier,
    list_merges,
    load_graph,
    write_graph,
)
from ._entities_sql import EntityOp, Stmt

__all__ = ["export_entities", "restore_entities"]


def export_entities(scope: Scope) -> EntityOp[dict[str, Any]]:
    """The caller's identifiers, merges (with the record that undoes a merge in force)
    and whole entity graph, as ``export_user`` lists them."""
    idents = yield from caller_identifiers(scope)
    merges = []
    for row in (yield from list_merges(scope, scope.user_id)):
        undo = None
        # Only a merge into this caller: its undo record lists what moved into them and
        # their own rows before it, never another caller's.
        if row.status == "merged" and row.to_user == scope.user_id:
            full = yield Stmt("merge.get", (scope.tenant_id, row.id))
            undo = full.rows[0][10] if full.rows else None
        merges.append({**row.to_dict(), "undo": _load_json(undo) if undo else None})
    graph = yield from load_graph(scope)
    return {"identifiers": [r.to_dict() for r in idents], "merges": merges,
            "graph": graph.to_dict(mentions=True)}


def restore_entities(scope: Scope, identifiers: Sequence[IdentifierRow],
                     merges: Sequence[tuple[MergeRow, dict[str, Any] | None]],
                     graph: Graph) -> EntityOp[dict[str, Any]]:
    """Write an export's identifiers, merges and graph back for ``scope``'s caller.

    Idempotent: a link already there keeps its stronger strength, a merge whose id the
    tenant holds is left as it is, graph rows are written as given. ``shared`` lists the
    identifiers (names aside) that another caller of the store is linked to as well:
    they no longer pick one caller out on their own.
    """
    linked = yield from add_identifiers(scope, identifiers)
    shared = []
    for r in identifiers:
        if r.kind in ("name", "sip_call_id"):
            continue
        others = sorted({o.user_id for o in (yield from find_identifier(scope, r.kind, r.value))
                         if o.user_id != scope.user_id})
        if others:
            shared.append({"kind": r.kind, "value": r.value, "otherUserIds": others})
    restored = 0
    for row, undo in merges:
        if (yield Stmt("merge.get", (scope.tenant_id, row.id))).rows:
            continue
        yield Stmt("merge.insert", (*_space(scope), row.from_user, row.to_user, row.at,
                                    row.items_moved, row.id, row.status, _json(row.evidence),
                                    None if undo is None else _json(undo)))
        if row.undone_at is not None:
            yield Stmt("merge.set_status", (row.status, row.undone_at, scope.tenant_id,
                                            row.id))
        restored += 1
    yield from write_graph(scope, graph, replace=True)
    return {"identifiers": linked, "merges": restored, "entities": len(graph.entities),
            "sharedIdentifiers": shared}
