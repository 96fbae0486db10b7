"""The memory lifecycle: deletion, erasure, merges and agentic slots.

Policies live in ``_policy``; the maintenance sweep (idle calls, learning retries,
retention) in ``_maintenance``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any

from .._exceptions import BadRequest, NotFound, VoxmemError
from ..entities._directory import CallerDirectory
from ..entities._identifiers import checked_identifier
from ..extraction import ExtractedFact, SensitivePolicy, is_sensitive
from ..extraction._select import ALLERGY_FACT
from ..models import Scope
from ..store import ItemDelete, Store, encode_record
from ..store import _entities as entity_ops
from ..store._keys import erasure_key
from ._caller_memory import CallerCache
from ._learning import Learner
from ._policy import Policy
from ._traces import RecallTraceLog
from ._write_path import WritePath, require_applied

__all__ = ["Lifecycle", "Policy", "slot_key"]

log = logging.getLogger("voxmem.engine.lifecycle")

#: How often a runtime sharing its store looks for callers other runtimes erased.
ERASURE_POLL_S = 5.0
#: Notices are read again this far back: the runtimes' clocks may differ a little.
ERASURE_CLOCK_SKEW_S = 60.0

_SLOT = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def slot_key(memory_type: Any) -> str:
    if not isinstance(memory_type, str) or not _SLOT.match(memory_type.strip().lower()):
        raise BadRequest("memory_type must be a short snake_case name like 'diet' or "
                         "'preferred_time'", field="memory_type")
    return memory_type.strip().lower()


class Lifecycle:
    """Deletion, erasure, merges and agentic slots of callers' memories.

    Given the store, the write path (appends, erasing the journal), the caller cache,
    the caller directory (merges, identifiers), the learner (slots are facts), the recall
    trace log (erased with the caller) and the sensitive-data policy.
    """

    def __init__(self, store: Store, writes: WritePath, callers: CallerCache,
                 directory: CallerDirectory, learner: Learner, traces: RecallTraceLog,
                 sensitive: SensitivePolicy, clock: Callable[[], float]) -> None:
        self._store = store
        self._traces = traces
        self._writes = writes
        self._callers = callers
        self._directory = directory
        self._learner = learner
        self._sensitive = sensitive
        self._clock = clock
        #: erasure notices already acted on (see ``drop_erased_elsewhere``)
        self._noticed: set[tuple[str, float]] = set()

    # -- deletion --------------------------------------------------------------------------
    async def delete_memory(self, scope: Scope, memory_id: str) -> dict[str, Any]:
        """Hide a memory from recall now; cleanup deletes it for good."""
        mem = self._callers.get(scope)
        await mem.ready.wait()
        if memory_id not in mem.index:
            await self._writes.wait_applied(30)
            facts = await self._store.list_facts(scope)
            if not any(f.id == memory_id for f in facts):
                raise NotFound(f"memory {memory_id!r} does not exist for this caller",
                               details={"memoryId": memory_id})
        await self._writes.append(encode_record(ItemDelete(scope=scope, item_id=memory_id,
                                                           at=self._clock())))
        mem.index.remove(memory_id)
        return {"deleted": memory_id}

    async def forget_user(self, scope: Scope) -> dict[str, int]:
        """Erase the caller everywhere: rows, search indexes, journal, caches.

        Callers merged into this one are erased too: their journal records, recall traces
        and the undo records of their merges still hold what they said.
        """
        erased = [scope, *await self._merged_into(scope)]
        # Recorded before the first row goes (erasing the caller drops the merge records
        # that lead to the others): a runtime killed half-way finishes it at start-up.
        await self._store.begin_erasures(erased, self._clock())
        counts: dict[str, int] = {}
        for one in erased:
            for key, n in (await self._erase(one)).items():
                counts[key] = counts.get(key, 0) + n
        return counts

    async def resume_erasures(self) -> int:
        """Finish the erasures a killed runtime began; how many callers it erased.

        Run at start-up, after the journal replay is handed to the applier and before
        anything is served, so a caller told "erased" (or whose request was accepted)
        never finds their data back after a crash.
        """
        pending = await self._store.pending_erasures()
        for scope in pending:
            log.warning("finishing the erasure of a caller begun before a restart "
                        "(project %r)", scope.project_id)
            await self._erase(scope)
        return len(pending)

    async def _merged_into(self, scope: Scope) -> list[Scope]:
        """The callers merged (in force) into ``scope``'s caller, down every chain."""
        found: list[Scope] = []
        frontier, seen = [scope.user_id], {scope.user_id}
        while frontier:
            user_id = frontier.pop()
            rows = await self._store.run_entities(
                scope.tenant_id, entity_ops.list_merges(scope, user_id), write=False)
            for row in rows:
                if row.status == "merged" and row.to_user == user_id \
                        and row.from_user not in seen:
                    seen.add(row.from_user)
                    frontier.append(row.from_user)
                    found.append(dataclasses.replace(scope, user_id=row.from_user))
        return found

    async def _erase(self, scope: Scope) -> dict[str, int]:
        # Learning still running from one of the caller's calls writes nothing afterwards,
        # and a recall still queued for the trace log is dropped, not stored after the rows
        # are gone.
        async with self._callers.erasures.erasing(scope), self._traces.withheld(scope):
            await require_applied(self._writes.wait_applied, "erased")
            counts = await self._store.forget_caller(scope)
            counts["journalRecords"] = await self._writes.erase_caller(scope)
            self._callers.drop(scope)
            self._directory.forget(scope)
            await self._store.end_erasure(scope, self._clock())
        return counts

    async def unlink_identifier(self, scope: Scope, kind: str, raw: str) -> dict[str, Any]:
        """Remove one identifier from the caller (a phone linked by mistake): the link
        removed. ``not_found`` when the caller has no such identifier."""
        value = checked_identifier(kind, raw, self._directory.region)
        # A link still being made in the background (call metadata, said in a call)
        # would land after the removal and bring the identifier back.
        await self._directory.idle()
        row = await self._store.run_entities(
            scope.tenant_id, entity_ops.remove_identifier(scope, kind, value))
        if row is None:
            raise NotFound(f"caller {scope.user_id!r} has no {kind} {value!r}",
                           details={"kind": kind, "value": value})
        log.info("unlinked a %s identifier from a caller (project %r)", kind,
                 scope.project_id)
        return row.to_dict()

    async def watch_erasures(self, stop: asyncio.Event) -> None:
        """On a store other runtimes share: every ERASURE_POLL_S, drop from this
        runtime's caches the callers another runtime erased, so their words are not
        served from a warm index after the erasure."""
        if not self._store.shared:
            return
        since = self._clock() - ERASURE_CLOCK_SKEW_S
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=ERASURE_POLL_S)
            if stop.is_set():
                return
            try:
                since = await self.drop_erased_elsewhere(since)
            except VoxmemError as exc:
                log.warning("reading erasure notices failed: %s", exc)

    async def drop_erased_elsewhere(self, since: float) -> float:
        """Drop cached callers erased (by any runtime) at ``since`` or later; the
        ``since`` of the next look."""
        notices = await self._store.erasure_notices(since)
        # A notice is acted on once: the caller may call again after it and be cached.
        erased = {caller_hash for caller_hash, at in notices
                  if (caller_hash, at) not in self._noticed}
        self._noticed = set(notices)
        # Most looks find nothing new: hashing every cached caller's key then would cost
        # the loop ~1 us a caller every few seconds for nothing.
        if erased:
            store_id = await self._store.store_id()
            for scope in self._callers.scopes():
                if erasure_key(store_id, *scope.caller_key) in erased:
                    # The redirects are left to the merges' reload from the store
                    # (every few seconds): this notice may be older than a merge into
                    # the caller since, which dropping them would undo here.
                    self._callers.drop(scope)
                    self._directory.forget(scope, redirects=False)
        return max([since, *(at - ERASURE_CLOCK_SKEW_S for _hash, at in notices)])

    async def merge_users(self, source: Scope, target: Scope) -> dict[str, Any]:
        """Move everything of one caller (a guest) to another (the account)."""
        # Recorded, redirecting and undoable like every merge (see voxmem.entities). A
        # write of the guest still queued would be left behind: merge nothing instead.
        await require_applied(self._writes.wait_applied, "merged")
        row = await self._directory.merge(source, target, evidence={"reason": "merge_users"})
        return {"itemsMoved": row.items_moved, "mergeId": row.id}

    # -- agentic slots -----------------------------------------------------------------------
    async def remember(self, scope: Scope, memory_type: str, content: str) -> dict[str, Any]:
        """Upsert one value per (caller, memory_type)."""
        slot = slot_key(memory_type)
        if not isinstance(content, str) or not content.strip():
            raise BadRequest("content must be a non-empty string", field="content")
        policy, said = self._sensitive, content.strip()
        if (policy.health and policy.allergy_constraints
                and ALLERGY_FACT.fullmatch(said[:1].upper() + said[1:])):
            # A declared allergy is the one health detail the policy keeps, as the learner
            # does; every other category is still checked.
            policy = dataclasses.replace(policy, health=False)
        if is_sensitive(content, policy, about_caller=True):
            raise BadRequest("content looks like sensitive data (card, password, government "
                             "id or health detail) and is not stored", field="content")
        mem = self._callers.get(scope)
        text = f"{slot.replace('_', ' ')}: {content.strip()}"
        written = await self._learner.write_facts(
            scope, [ExtractedFact(text=text[:200], kind="note", slot_key=slot, confidence=1.0,
                                  source_turn_ids=())], session_id=mem.session_id)
        current = await self.recall(scope, slot)
        return {"memoryType": slot, "content": current.get("content"),
                "changed": bool(written)}

    async def recall(self, scope: Scope, memory_type: str) -> dict[str, Any]:
        slot = slot_key(memory_type)
        mem = self._callers.get(scope)
        await mem.ready.wait()
        for _pos, doc_id, doc in mem.live_facts():
            if doc.slot_key == slot:
                prefix = f"{slot.replace('_', ' ')}: "
                content = doc.text[len(prefix):] if doc.text.startswith(prefix) else doc.text
                return {"memoryType": slot, "content": content, "id": doc_id}
        return {"memoryType": slot, "content": None}

    async def forget(self, scope: Scope, memory_type: str) -> dict[str, Any]:
        found = await self.recall(scope, memory_type)
        if found.get("id"):
            await self.delete_memory(scope, found["id"])
        return {"memoryType": found["memoryType"], "forgotten": bool(found.get("id"))}
