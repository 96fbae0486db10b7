"""Memory policies: whether a project or agent keeps memory, and for how long.

Read on the hot path by recall and the write path, so a cached policy is served at
once (and refreshed in the background when stale), and a store that cannot answer
falls back to the settings' defaults instead of blocking a turn.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from .._exceptions import VoxmemError
from ..models import PolicyRecord, Scope
from ..store import Store

__all__ = ["SECONDS_PER_DAY", "Policies", "Policy"]

log = logging.getLogger("voxmem.engine.lifecycle")

SECONDS_PER_DAY = 86_400.0
POLICY_REFRESH_S = 30.0
POLICY_FIRST_READ_S = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Policy:
    """The memory policy in force for one agent."""

    memory_enabled: bool
    retention_days: int

    def cutoff(self, now: float) -> float | None:
        """Oldest creation time recall may see (None: no cap)."""
        if self.retention_days <= 0:
            return None
        return now - self.retention_days * SECONDS_PER_DAY


class Policies:
    """Policies per project and agent, cached; given the store and the defaults."""

    def __init__(self, store: Store, *, memory_enabled: bool, retention_days: int,
                 clock: Callable[[], float]) -> None:
        self._store = store
        self._default = Policy(memory_enabled, retention_days)
        self._clock = clock
        self._policies: dict[tuple[str, str], tuple[float, dict[str, PolicyRecord]]] = {}
        self._refreshing: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def default(self) -> Policy:
        """The settings' policy: what a project without a policy row gets."""
        return self._default

    def known(self, scope: Scope) -> bool:
        """Whether :meth:`policy` answers without reading the store first."""
        return scope.project_key in self._policies

    async def policy(self, scope: Scope) -> Policy:
        """The policy in force for the scope's agent (agent row, project row, settings).

        On the hot path: a stale cached policy is served at once and refreshed in the
        background, and a store that cannot answer never blocks a turn.
        """
        key = scope.project_key
        cached = self._policies.get(key)
        if cached is None:
            try:
                rows = await asyncio.wait_for(self._store.get_policies(*key),
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
        if row is None:
            return self._default
        return Policy(memory_enabled=row.memory_enabled, retention_days=row.retention_days)

    async def _refresh(self, key: tuple[str, str]) -> None:
        try:
            rows = await self._store.get_policies(*key)
            self._policies[key] = (time.monotonic(), rows)
        except VoxmemError as exc:
            log.warning("memory policy refresh failed (%s); keeping the last known one", exc)
        finally:
            self._refreshing.discard(key)

    async def set_policy(self, tenant_id: str, project_id: str, agent_id: str, *,
                         memory_enabled: bool, retention_days: int) -> dict[str, Any]:
        """Store a project (``agent_id=""``) or agent policy; the policies after it."""
        await self._store.set_policy(tenant_id, project_id, agent_id, memory_enabled,
                                     retention_days, self._clock())
        self._policies.pop((tenant_id, project_id), None)
        return await self.policies(tenant_id, project_id)

    async def policies(self, tenant_id: str, project_id: str) -> dict[str, Any]:
        """The project's policy and each agent's: ``{"project": …, "agents": {…}}``."""
        rows = {agent: p.to_wire() for agent, p in
                (await self._store.get_policies(tenant_id, project_id)).items()}
        default = rows.pop("", {"memoryEnabled": self._default.memory_enabled,
                                "retentionDays": self._default.retention_days})
        return {"project": default, "agents": rows}
