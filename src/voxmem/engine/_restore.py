"""Putting one caller back from their export (``import_user``): the way back in for
``export_user``.

The export is turned into the journal records the live write path writes, with the
exported ids and times: calls (start, end, report, learned), turns under their event
ids, facts under theirs, deletions and the profile. So the import is as durable as a
save (nothing is acknowledged before it is on disk), replays after a crash, and is
idempotent: every record is keyed by an id the store already refuses twice, and items
the store holds are not even journaled again.

A superseded fact comes back superseded at the moment the export says (its
``validTo``), whether or not its successor is in the file: the successor may have been
deleted and cleaned up since, or be in another part of a large import. A superseded
fact is history; coming back current would put an old answer ("the aisle seat") back
into recall. Learning is marked done for every imported call: the export carries what
was learned.

From format 2 on, the export also carries the caller's identifiers, merges and entity
graph (with its mentions), written back once the calls and items are in the store: the
same phone number or e-mail finds the caller, a merge in force still redirects the
merged-away id (and can be undone), and accurate recall walks the same graph. What of
it acts on other callers of the store is checked first (``_import_trust``): merges in
force only of ids the store does not hold, identifier links unverified unless the
operator trusts the file.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from .._exceptions import IdentityMismatch
from ..models import Scope, Turn
from ..store import (
    ExtractionDone,
    FactWrite,
    ItemDelete,
    ProfileWrite,
    SessionEnd,
    SessionReport,
    SessionStart,
    Store,
    TurnWrite,
    encode_record,
)
from ..store._entities import (
    EdgeRow,
    EntityRow,
    Graph,
    IdentifierRow,
    MentionRow,
    MergeRow,
)
from ..store._entities_export import restore_entities
from ..store._entities_sql import EntityOp, Stmt
from ._caller_memory import CallerCache
from ._import_trust import check_merges, imported_link
from ._write_path import WritePath, require_applied

__all__ = ["EXPORT_FORMAT", "READ_FORMATS", "restore_caller"]

#: The version of ``export_user``'s shape. 2 added identifiers, merges (with undo
#: records) and the graph's mentions.
EXPORT_FORMAT = 2
#: The formats ``import_user`` reads (a format 1 file imports its calls and items).
READ_FORMATS = (1, 2)
#: How long an import waits for its records to reach the store before it answers (they
#: are durable in the journal either way; ``applied`` says which).
RESTORE_APPLY_S = 120.0
#: Item ids asked about per statement when looking for ids another caller holds.
HELD_BATCH = 500


def _session_records(scope: Scope, data: dict[str, Any], session: dict[str, Any],
                     first: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(records opening the call, records closing it) of one exported call."""
    sid = session["sessionId"]
    opened = [encode_record(SessionStart(
        scope=scope, session_id=sid, started_at=session["startedAt"],
        caller_name=data.get("name") if first else None,
        caller_metadata=(data.get("metadata") or {}) if first else {},
        metadata=session.get("metadata") or {}))]
    closed: list[dict[str, Any]] = []
    if session.get("endedAt") is not None:
        closed.append(encode_record(SessionEnd(scope=scope, session_id=sid,
                                               ended_at=session["endedAt"],
                                               reason=session.get("endReason") or "imported")))
        closed.append(encode_record(ExtractionDone(scope=scope, session_id=sid,
                                                   at=session["endedAt"])))
    if session.get("report") is not None:
        closed.append(encode_record(SessionReport(scope=scope, session_id=sid,
                                                  report=session["report"])))
    return opened, closed


def _item_records(scope: Scope, items: Sequence[dict[str, Any]], stored: set[str],
                  agents: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    records: list[dict[str, Any]] = []
    deletes: list[dict[str, Any]] = []
    counts = {"turns": 0, "facts": 0, "alreadyStored": 0, "skipped": 0}
    for item in items:
        if item["id"] in stored:
            counts["alreadyStored"] += 1
            continue
        sid = item.get("sessionId")
        own = dataclasses.replace(scope, agent_id=agents.get(sid or "", scope.agent_id))
        if item["kind"] == "turn" and sid:
            turn = Turn(event_id=item["id"], session_id=sid,
                        turn_id=item.get("turnId") or item["id"],
                        user_text=item.get("userText") or "",
                        assistant_text=item.get("assistantText") or "",
                        created_at=item["createdAt"], agent_id=own.agent_id)
            records.append(encode_record(TurnWrite(scope=own, turn=turn)))
            counts["turns"] += 1
        elif item["kind"] == "fact":
            records.append(encode_record(FactWrite(
                scope=own, id=item["id"], text=item["text"],
                kind=item.get("factKind") or "note", slot_key=item.get("slotKey"),
                confidence=float(item.get("confidence") or 1.0), source_session_id=sid,
                source_turn_ids=tuple(item.get("sourceTurnIds") or ()),
                valid_from=item["createdAt"], valid_to=item.get("validTo"))))
            counts["facts"] += 1
        else:
            # A summary (compaction keeps them in the caller's context, not the store)
            # or a turn of no call: nothing of this release stores one.
            counts["skipped"] += 1
            continue
        if item.get("deletedAt") is not None:
            deletes.append(encode_record(ItemDelete(scope=own, item_id=item["id"],
                                                    at=item["deletedAt"])))
    return records + deletes, counts


async def restore_caller(store: Store, writes: WritePath, callers: CallerCache,
                         scope: Scope, data: dict[str, Any], now: float) -> dict[str, Any]:
    """See :meth:`MemoryEngine.import_user` (``data`` already validated)."""
    # What the store holds decides what is new, so earlier writes must be in it.
    await require_applied(writes.wait_applied, "imported")
    current = await store.export_caller(scope)
    stored = {item.id for item in current.items}
    known_calls = {s.session_id for s in current.sessions}
    sessions = list(data.get("sessions") or [])
    agents = {s["sessionId"]: s.get("agentId") or scope.agent_id for s in sessions}
    opened: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []
    for i, session in enumerate(sessions):
        own = dataclasses.replace(scope, agent_id=agents[session["sessionId"]])
        head, tail = _session_records(own, data, session, first=i == 0)
        opened += head
        closed += tail
    # Item ids are the tenant's keys: one held by another caller (this caller in
    # another project, the original of an import under a new id) would be skipped by
    # the store, the import answering "imported" for memories it never stored. Another
    # tenant's ids are no obstacle (migration 0012), so they are not asked about.
    held = await store.run_entities(scope.tenant_id, _held_items(
        scope.tenant_id, [i["id"] for i in data.get("items") or [] if i["id"] not in stored]),
        write=False)
    if held:
        raise IdentityMismatch(
            f"{len(held)} of the export's memories belong to another caller of this tenant "
            f"(first: {held[0]!r}); forget that caller first, or import into another "
            "store", details={"itemIds": held[:20]})
    links: list[IdentifierRow] = []
    merges: list[tuple[MergeRow, dict[str, Any] | None]] = []
    if "identifiers" in data:  # what acts on other callers, checked before any write
        trusted = bool(data.get("trustIdentifiers"))
        chain = _chain(scope.user_id, data["merges"])
        merges = await check_merges(store, scope, [
            m for m in (_merge(r, chain) for r in data["merges"]) if m is not None],
            chain, trusted=trusted)
        links = [imported_link(_identifier(r, scope), trusted=trusted)
                 for r in data["identifiers"]]
    items, counts = _item_records(scope, data.get("items") or [], stored, agents)
    profile = [encode_record(ProfileWrite(scope=scope, field=k, value=v, at=now))
               for k, v in (data.get("profile") or {}).items()
               if current.profile.get(k) != v]
    records = opened + items + closed + profile
    applied = True
    if records:
        await writes.append_many(records)  # durable from here on, applied or not
        applied = await writes.wait_applied(RESTORE_APPLY_S)
    entities: dict[str, Any] = {"identifiers": 0, "merges": 0, "entities": 0,
                                "sharedIdentifiers": []}
    if "identifiers" in data:
        if not applied:  # the graph's mentions and merge records name the items
            await require_applied(writes.wait_applied, "imported")
        entities = await store.run_entities(scope.tenant_id, restore_entities(
            scope, links, merges, _graph(data.get("graph") or {})))
    # The caller's warm index predates the import: the next call reads it afresh.
    callers.drop(scope)
    return {"sessions": sum(1 for s in sessions if s["sessionId"] not in known_calls),
            **counts, "profileFields": len(profile), **entities, "applied": applied}


def _held_items(tenant_id: str, ids: list[str]) -> EntityOp[list[str]]:
    held: list[str] = []
    for start in range(0, len(ids), HELD_BATCH):
        res = yield Stmt("items.held", (json.dumps(ids[start:start + HELD_BATCH]), tenant_id))
        held += [str(row[0]) for row in res.rows]
    return held


def _identifier(r: dict[str, Any], scope: Scope) -> IdentifierRow:
    return IdentifierRow(kind=r["kind"], value=r["value"], user_id=scope.user_id,
                         raw=r["raw"], source=r["source"], session_id=r["sessionId"],
                         turn_id=r["turnId"], strength=r["strength"],
                         created_at=r["createdAt"])


def _chain(user_id: str, merges: Sequence[dict[str, Any]]) -> set[str]:
    """The caller and every caller merged (in force) into them, down every chain."""
    chain, grew = {user_id}, True
    while grew:
        grew = False
        for r in merges:
            if r["status"] == "merged" and r["toUserId"] in chain \
                    and r["fromUserId"] not in chain:
                chain.add(r["fromUserId"])
                grew = True
    return chain


def _merge(r: dict[str, Any], chain: set[str],
           ) -> tuple[MergeRow, dict[str, Any] | None] | None:
    """The merge record, or None when it names neither the import's caller nor a caller
    merged into them (an export imported under another caller id: the merge was about
    the old id)."""
    if not chain & {r["fromUserId"], r["toUserId"]}:
        return None
    return MergeRow(id=r["mergeId"], from_user=r["fromUserId"], to_user=r["toUserId"],
                    status=r["status"], at=r["at"], evidence=r["evidence"],
                    undone_at=r["undoneAt"], items_moved=r["itemsMoved"]), r["undo"]


def _graph(data: dict[str, Any]) -> Graph:
    return Graph(
        entities=[EntityRow(id=e["id"], kind=e["kind"], label=e["label"],
                            attrs=e.get("attrs") or {}, confidence=float(e["confidence"]),
                            mentions=int(e["mentions"]), first_seen=float(e["first_seen"]),
                            last_seen=float(e["last_seen"]))
                  for e in data.get("entities") or []],
        edges=[EdgeRow(source_id=e["source"], relation=e["relation"], target_id=e["target"],
                       confidence=float(e["confidence"]), created_at=float(e["created_at"]))
               for e in data.get("edges") or []],
        mentions=[MentionRow(entity_id=m["entity_id"], item_id=m["item_id"],
                             session_id=m.get("session_id"), at=float(m["at"]))
                  for m in data.get("mentions") or []])
