"""What ``import_user`` takes on trust from the document it is given, and what it does not.

An export file is a document anyone can write: the caller it names, or whoever handed it
to the operator. Two of its parts act on *other* callers of the store, and are checked:

* **Merges in force** redirect every later request for their source id to the caller the
  file is about. One comes back only inside the imported caller's own chain (a caller
  merged into them, or into a caller merged into them, ...), from an id this store does
  not hold: no memories, calls, row or identifiers under it, and no merge in force of
  it elsewhere. Otherwise the import is refused (``identity_mismatch``) before anything
  is written: a document for ``mallory`` listing ``ann -> mallory`` would hand every
  later call of Ann to its author, Ann's memory left behind where no request reaches.
  The legitimate case passes: export, ``forget-user`` (which erases the chain with the
  caller), import back. A merge record no longer in force (undone, proposed) redirects
  nothing and comes back as history; a merge whose id the store holds is left as it is.
* **Identifier links** decide who a starting call is. From a file they come in as the
  words of a caller do (``docs/callers.md``, rule 7): source ``imported <source>``,
  strength at most that of a link said in a call, so a call start does not resolve to
  them; otherwise a file could claim Ann's number as ``sip`` at strength 1.0 before Ann
  ever called, and Ann's first call would be filed under its author. A link a system
  makes later for the same caller (the app's ``user_id`` with that number) raises it
  to full strength, as it does for a spoken one. The operator who vouches for the file
  (a caller moved between their own stores) passes ``trust_identifiers``: links keep
  their source, at most their kind's strength.

The identifiers inside a merge's undo record (linked back to the source by an unmerge)
are treated the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .._exceptions import IdentityMismatch
from ..entities._identifiers import STRENGTH_SCORE, strength_of
from ..entities._in_call import IMPORTED_SOURCE, SAID_STRENGTH
from ..models import Scope
from ..store import Store
from ..store import _entities as ops
from ..store._entities import IdentifierRow, MergeRow
from ..store._entities_sql import EntityOp, Stmt

__all__ = ["check_merges", "imported_link"]

#: Where source and strength sit in a stored identifier row (an undo record's tuples).
_SOURCE, _STRENGTH = 4, 7


def imported_link(row: IdentifierRow, *, trusted: bool) -> IdentifierRow:
    """``row`` as an import file may link it."""
    strength = min(row.strength, STRENGTH_SCORE[strength_of(row.kind)])
    if trusted:
        return dataclasses.replace(row, strength=strength)
    source = row.source if row.source.startswith(IMPORTED_SOURCE) else \
        IMPORTED_SOURCE + row.source
    return dataclasses.replace(row, source=source, strength=min(strength, SAID_STRENGTH))


def _undo_links(undo: dict[str, Any] | None, trusted: bool) -> dict[str, Any] | None:
    """The undo record with its identifier rows as an import may link them."""
    if not undo or not undo.get("sourceIdentifiers"):
        return undo
    rows = []
    for r in undo["sourceIdentifiers"]:
        if not isinstance(r, list) or len(r) != len(dataclasses.fields(IdentifierRow)):
            continue  # not a stored row: nothing an unmerge could link
        row = imported_link(IdentifierRow(*r), trusted=trusted)
        rows.append([*r[:_SOURCE], row.source, *r[_SOURCE + 1:_STRENGTH], row.strength,
                     *r[_STRENGTH + 1:]])
    return {**undo, "sourceIdentifiers": rows}


async def check_merges(store: Store, scope: Scope,
                       merges: Sequence[tuple[MergeRow, dict[str, Any] | None]],
                       chain: set[str], *, trusted: bool,
                       ) -> list[tuple[MergeRow, dict[str, Any] | None]]:
    """The merges to restore (undo records' links as an import may make them), or
    ``identity_mismatch`` for a merge in force that would redirect a caller of this
    store (see the module's docstring). Asked before the import writes anything."""
    refused: list[MergeRow] = []
    for row, _undo in merges:
        if row.status != "merged":
            continue
        if row.from_user == scope.user_id or row.to_user not in chain or (
                await store.run_entities(scope.tenant_id, _holds(scope, row), write=False)):
            refused.append(row)
    if refused:
        raise IdentityMismatch(
            f"the export would merge {len(refused)} caller(s) of this store into "
            f"{scope.user_id!r} (first: {refused[0].from_user!r}, merge "
            f"{refused[0].id!r}): an import only brings back merges of ids this store "
            "does not hold. Merge them by hand (merge_callers), or remove those merges "
            "from the file", details={"mergeIds": [r.id for r in refused][:20],
                                      "fromIds": [r.from_user for r in refused][:20]})
    return [(row, _undo_links(undo, trusted)) for row, undo in merges]


def _holds(scope: Scope, row: MergeRow) -> EntityOp[bool]:
    """Whether restoring merge ``row`` in force would redirect a caller this store holds:
    the merge is not the store's own (by id), and its source has anything here or is
    merged in force elsewhere."""
    if (yield Stmt("merge.get", (scope.tenant_id, row.id))).rows:
        return False  # the store's own record, left as it is
    source = dataclasses.replace(scope, user_id=row.from_user)
    if (yield from ops.has_anything(source)):
        return True
    active = yield from ops.active_merges(scope.tenant_id)
    return any((p, s, f) == (scope.project_id, scope.space, row.from_user)
               for p, s, f, _t in active)
