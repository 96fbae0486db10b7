"""The maintenance sweep: end idle calls, retry learning that failed, apply retention.
(Freed memory goes back to the OS from ``_malloc.GrowthTrimmer.run``, checked more often.)

Runs every ``maintenance_interval_s`` in the background. Given the store, the caller
cache (a call with activity not stored yet is not idle), how to end a call and how to
learn from one, and the settings it reads (the idle timeout, learning attempts, the
default retention).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._exceptions import VoxmemError
from ..models import Scope
from ..store import Store
from ._caller_memory import CallerCache
from ._idempotency import TURN_RETRY_WINDOW_S
from ._policy import SECONDS_PER_DAY

__all__ = ["Maintenance", "MaintenanceSettings"]

log = logging.getLogger("voxmem.engine.lifecycle")

RETENTION_EVERY_SWEEPS = 10
SWEEP_BATCH = 100


@dataclasses.dataclass(frozen=True, slots=True)
class MaintenanceSettings:
    """The settings the sweep reads."""

    interval_s: float
    session_idle_timeout_s: float
    extraction_max_attempts: int
    retention_days: int


#: Ends an idle call without learning from it now: (caller, call id).
EndIdleCall = Callable[[Scope, str], Awaitable[Any]]
#: Learns from one ended call: (caller, call id) -> the facts written.
LearnCall = Callable[[Scope, str], Awaitable[Any]]
#: Drops what the store has applied from this runtime's journal: records dropped.
CompactJournal = Callable[[], Awaitable[int]]
#: Rewrites this runtime's saved org indexes that still hold deleted documents.
PurgeKnowledgeFiles = Callable[[], Awaitable[int]]


class Maintenance:
    """The periodic sweep and retention of one engine."""

    def __init__(self, store: Store, callers: CallerCache, end_idle_call: EndIdleCall,
                 learn: LearnCall, settings: MaintenanceSettings,
                 clock: Callable[[], float], compact_journal: CompactJournal,
                 purge_knowledge_files: PurgeKnowledgeFiles) -> None:
        self._store = store
        self._callers = callers
        self._end_idle_call = end_idle_call
        self._learn = learn
        self._settings = settings
        self._clock = clock
        self._compact_journal = compact_journal
        self._purge_knowledge_files = purge_knowledge_files
        self._sweeps = 0
        # The org indexes as the last look for traces quoting deleted chunks found them,
        # and whether the look before it found them so too.
        self._org_marks: list[tuple[str, str, str, int, float]] | None = None
        self._org_settled = False

    async def sweep(self) -> dict[str, int]:
        """End idle calls, learn from calls not learned yet, apply retention (sometimes)."""
        s = self._settings
        now = self._clock()
        ended = learned = purged = 0
        for scope, session_id in await self._store.stale_sessions(
                now - s.session_idle_timeout_s, SWEEP_BATCH):
            mem = self._callers.peek(scope)
            if mem is not None and mem.session_id == session_id and (
                    now - mem.last_write < s.session_idle_timeout_s):
                continue  # activity not applied yet: not idle
            await self._end_idle_call(scope, session_id)
            ended += 1
        for scope, session_id in await self._store.pending_extractions(
                SWEEP_BATCH, s.extraction_max_attempts):
            await self._learn(scope, session_id)
            learned += 1
            await asyncio.sleep(0)  # a backlog (bulk import) yields to live calls
        self._sweeps += 1
        if self._sweeps % RETENTION_EVERY_SWEEPS == 1:
            purged = await self.apply_retention()
        return {"ended": ended, "learned": learned, "purged": purged}

    async def apply_retention(self) -> int:
        """Hard-delete expired and soft-deleted memories and purge deleted org chunks'
        words from the store's files, one singleton at a time, then drop what the store
        holds from this runtime's journal and rewrite its saved org indexes that hold a
        deleted document (every runtime its own: each data directory holds what its
        runtime saved)."""
        removed = await self._purge()
        await self._compact_journal()
        await self._purge_knowledge_files()
        return removed

    async def _purge(self) -> int:
        store = self._store
        removed = 0
        async with store.singleton("retention") as mine:
            if not mine:
                return 0
            now = self._clock()
            # A deleted turn stays on disk through the turn-id retry window: a retry of it
            # after a restart is known by its stored row, and would be saved again.
            kept = now - TURN_RETRY_WINDOW_S
            for tenant_id, project_id in await store.list_projects():
                rows = await store.get_policies(tenant_id, project_id)
                default = rows.pop("", None)
                days = int(default.retention_days if default
                           else self._settings.retention_days)
                agents = [a for a in rows if a]
                for agent_id in agents:
                    d = int(rows[agent_id].retention_days)
                    cutoff = now - d * SECONDS_PER_DAY if d > 0 else 0.0
                    removed += await store.purge_items(tenant_id, project_id, cutoff,
                                                       agent_id, (), deleted_turns_before=kept)
                cutoff = now - days * SECONDS_PER_DAY if days > 0 else 0.0
                removed += await store.purge_items(tenant_id, project_id, cutoff, None,
                                                   agents, deleted_turns_before=kept)
            await self._purge_org_traces()
            await store.purge_deleted_chunks()
        if removed:
            log.info("retention removed %d memories", removed)
        return removed

    async def _purge_org_traces(self) -> None:
        """Remove the recall traces quoting a deleted org chunk, when a chunk may have
        been deleted since the last look: that look reads every stored trace (seconds
        at a busy week's, docs/reliability.md), too much for every cleanup. Looked at
        once after any change, once more at the next cleanup (a trace recorded before a
        deletion may be written after the look), and at the first cleanup of a runtime
        (its predecessor may have stopped before looking)."""
        marks = await self._store.org_index_marks()
        if marks == self._org_marks and self._org_settled:
            return
        settled = marks == self._org_marks
        removed = await self._store.purge_org_traces()
        self._org_marks, self._org_settled = marks, settled
        if removed:
            log.info("cleanup removed %d recall traces quoting deleted org documents",
                     removed)

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every interval until ``stop`` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._settings.interval_s)
            if stop.is_set():
                return
            try:
                await self.sweep()
            except VoxmemError as exc:
                log.warning("maintenance sweep failed: %s", exc)
            except Exception:
                log.exception("maintenance sweep failed")
