"""The memory lifecycle: policies, retention, deletion, erasure, merges, agentic slots,
and the maintenance sweep that ends idle calls and retries failed learning."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._exceptions import BadRequest, NotFound, VoxmemError
from ..extraction import ExtractedFact, is_sensitive
from ..models import PolicyRecord, Scope
from ._writer import scope_to_record

if TYPE_CHECKING:
    from ._engine import MemoryEngine

__all__ = ["Lifecycle", "Policy"]

log = logging.getLogger("voxmem.engine.lifecycle")

SECONDS_PER_DAY = 86_400.0
POLICY_REFRESH_S = 30.0
POLICY_FIRST_READ_S = 1.0
RETENTION_EVERY_SWEEPS = 10
SWEEP_BATCH = 100
_SLOT = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


@dataclasses.dataclass(frozen=True, slots=True)
class Policy:
    memory_enabled: bool
    retention_days: int

    def cutoff(self, now: float) -> float | None:
        """Oldest creation time recall may see (None: no cap)."""
        if self.retention_days <= 0:
            return None
        return now - self.retention_days * SECONDS_PER_DAY


def slot_key(memory_type: Any) -> str:
    if not isinstance(memory_type, str) or not _SLOT.match(memory_type.strip().lower()):
        raise BadRequest("memory_type must be a short snake_case name like 'diet' or "
                         "'preferred_time'", field="memory_type")
    return memory_type.strip().lower()


class Lifecycle:
    """Policies, deletion and erasure for one engine."""

    def __init__(self, engine: MemoryEngine, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._clock = clock
        self._policies: dict[tuple[str, str], tuple[float, dict[str, PolicyRecord]]] = {}
        self._refreshing: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeps = 0

    # -- policies ----------------------------------------------------------------------
    async def policy(self, scope: Scope) -> Policy:
        """The policy in force for the scope's agent (agent row, project row, settings).

        On the hot path: a stale cached policy is served at once and refreshed in the
        background, and a store that cannot answer never blocks a turn.
        """
        key = scope.project_key
        cached = self._policies.get(key)
        if cached is None:
            try:
                rows = await asyncio.wait_for(self._engine.store.get_policies(*key),
                                              POLICY_FIRST_READ_S)
                cached = (time.monotonic(), rows)
                self._policies[key] = cached
            except (VoxmemError, TimeoutError) as exc:
                log.warning("memory policy unavailable (%s); using the settings' defaults",
                            exc)
                rows = {}
        else:
            rows = cached[1]
            if time.monotonic() - cached[0] > POLICY_REFRESH_S and key not in self._refreshing:
                self._refreshing.add(key)
                task = asyncio.ensure_future(self._refresh(key))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        row = rows.get(scope.agent_id) or rows.get("")
        s = self._engine.settings
        if row is None:
            return Policy(memory_enabled=s.memory_enabled,
                          retention_days=s.memory_retention_days)
        return Policy(memory_enabled=row.memory_enabled, retention_days=row.retention_days)

    async def _refresh(self, key: tuple[str, str]) -> None:
        try:
            rows = await self._engine.store.get_policies(*key)
            self._policies[key] = (time.monotonic(), rows)
        except VoxmemError as exc:
            log.warning("memory policy refresh failed (%s); keeping the last known one", exc)
        finally:
            self._refreshing.discard(key)

    async def set_policy(self, tenant_id: str, project_id: str, agent_id: str, *,
                         memory_enabled: bool, retention_days: int) -> dict[str, Any]:
        await self._engine.store.set_policy(tenant_id, project_id, agent_id, memory_enabled,
                                            retention_days, self._clock())
        self._policies.pop((tenant_id, project_id), None)
        return await self.policies(tenant_id, project_id)

    async def policies(self, tenant_id: str, project_id: str) -> dict[str, Any]:
        rows = {agent: p.to_wire() for agent, p in
                (await self._engine.store.get_policies(tenant_id, project_id)).items()}
        s = self._engine.settings
        default = rows.pop("", {"memoryEnabled": s.memory_enabled,
                                "retentionDays": s.memory_retention_days})
        return {"project": default, "agents": rows}

    # -- deletion --------------------------------------------------------------------------
    async def delete_memory(self, scope: Scope, memory_id: str) -> dict[str, Any]:
        """Hide a memory from recall now; cleanup deletes it for good."""
        engine = self._engine
        mem = engine.callers.get(scope)
        await mem.ready.wait()
        if memory_id not in mem.index:
            await engine.flush(timeout=30)
            facts = await engine.store.list_facts(scope)
            if not any(f.id == memory_id for f in facts):
                raise NotFound(f"memory {memory_id!r} does not exist for this caller",
                               details={"memoryId": memory_id})
        await engine.journal_append({"type": "delete", "scope": scope_to_record(scope),
                                     "itemId": memory_id, "at": self._clock()})
        mem.index.remove(memory_id)
        return {"deleted": memory_id}

    async def forget_user(self, scope: Scope) -> dict[str, int]:
        """Erase the caller everywhere: rows, search indexes, journal, caches."""
        engine = self._engine
        await engine.flush(timeout=60)
        counts = await engine.store.forget_caller(scope)
        key = scope_to_record(scope)

        def other_caller(record: dict[str, Any]) -> bool:
            rec = record.get("scope") or {}
            return not all(rec.get(f) == key[f] for f in ("t", "p", "s", "u"))

        loop = asyncio.get_running_loop()
        counts["journalRecords"] = await loop.run_in_executor(
            None, engine.journal.rewrite, other_caller)
        engine.callers.drop(scope)
        engine.directory.forget(scope)
        engine.turn_claims.forget_caller(scope)  # a new turn may reuse an erased turn id
        return counts

    async def merge_users(self, source: Scope, target: Scope) -> dict[str, Any]:
        """Move everything of one caller (a guest) to another (the account)."""
        # Recorded, redirecting and undoable like every merge (see voxmem.entities).
        row = await self._engine.directory.merge(source, target,
                                                 evidence={"reason": "merge_users"})
        return {"itemsMoved": row.items_moved, "mergeId": row.id}

    # -- agentic slots -----------------------------------------------------------------------
    async def remember(self, scope: Scope, memory_type: str, content: str) -> dict[str, Any]:
        """Upsert one value per (caller, memory_type)."""
        slot = slot_key(memory_type)
        if not isinstance(content, str) or not content.strip():
            raise BadRequest("content must be a non-empty string", field="content")
        if is_sensitive(content, self._engine.sensitive_policy, about_caller=True):
            raise BadRequest("content looks like sensitive data (card, password, government "
                             "id or health detail) and is not stored", field="content")
        mem = self._engine.callers.get(scope)
        text = f"{slot.replace('_', ' ')}: {content.strip()}"
        written = await self._engine.learner.write_facts(
            scope, [ExtractedFact(text=text[:200], kind="note", slot_key=slot, confidence=1.0,
                                  source_turn_ids=())], session_id=mem.session_id)
        current = await self.recall(scope, slot)
        return {"memoryType": slot, "content": current.get("content"),
                "changed": bool(written)}

    async def recall(self, scope: Scope, memory_type: str) -> dict[str, Any]:
        slot = slot_key(memory_type)
        mem = self._engine.callers.get(scope)
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

    # -- maintenance ------------------------------------------------------------------------
    async def sweep(self) -> dict[str, int]:
        """End idle calls, learn from calls not learned yet, apply retention (sometimes)."""
        engine = self._engine
        s = engine.settings
        now = self._clock()
        ended = learned = purged = 0
        for scope, session_id in await engine.store.stale_sessions(
                now - s.session_idle_timeout_s, SWEEP_BATCH):
            mem = engine.callers.peek(scope)
            if mem is not None and mem.session_id == session_id and (
                    now - mem.last_write < s.session_idle_timeout_s):
                continue  # activity not applied yet: not idle
            await engine.end_session(scope, reason="idle_timeout", session_id=session_id,
                                     learn=False)
            ended += 1
        for scope, session_id in await engine.store.pending_extractions(
                SWEEP_BATCH, s.extraction_max_attempts):
            await engine.learner.learn(scope, session_id)
            learned += 1
            await asyncio.sleep(0)  # a backlog (bulk import) yields to live calls
        self._sweeps += 1
        if self._sweeps % RETENTION_EVERY_SWEEPS == 1:
            purged = await self.apply_retention()
        return {"ended": ended, "learned": learned, "purged": purged}

    async def apply_retention(self) -> int:
        """Hard-delete expired and soft-deleted memories, one singleton at a time."""
        engine = self._engine
        removed = 0
        async with engine.store.singleton("retention") as mine:
            if not mine:
                return 0
            now = self._clock()
            for tenant_id, project_id in await engine.store.list_projects():
                rows = await engine.store.get_policies(tenant_id, project_id)
                default = rows.pop("", None)
                days = (default.retention_days if default
                        else engine.settings.memory_retention_days)
                agents = [a for a in rows if a]
                for agent_id in agents:
                    d = rows[agent_id].retention_days
                    cutoff = now - d * SECONDS_PER_DAY if d > 0 else 0.0
                    removed += await engine.store.purge_items(tenant_id, project_id, cutoff,
                                                              agent_id, ())
                cutoff = now - days * SECONDS_PER_DAY if days > 0 else 0.0
                removed += await engine.store.purge_items(tenant_id, project_id, cutoff, None,
                                                          agents)
        if removed:
            log.info("retention removed %d memories", removed)
        return removed

    async def run(self, stop: asyncio.Event) -> None:
        interval = self._engine.settings.maintenance_interval_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            if stop.is_set():
                return
            try:
                await self.sweep()
            except VoxmemError as exc:
                log.warning("maintenance sweep failed: %s", exc)
            except Exception:
                log.exception("maintenance sweep failed")

