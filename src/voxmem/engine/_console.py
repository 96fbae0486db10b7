"""Reads: what callers' memories, calls and the runtime look like, for the memory
operations (``list_memories``, ``export_user``) and the operator views the dashboard
renders. None of it is on the audio path.

:class:`Console` is given the store, the write path's ``wait_applied`` (every read here
sees the caller's own acknowledged writes), the caller directory, the recall trace log,
the engine's stats and the learning attempts setting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from .._exceptions import NotFound
from ..entities._directory import CallerDirectory
from ..models import CallerRecord, Fact, Scope
from ..store import Store
from ..store import _entities as entity_ops
from ..store._entities_export import export_entities
from ._caller_search import find_callers
from ._traces import RecallTraceLog

__all__ = ["Console"]

MAX_LIST_ROWS = 500
DEFAULT_LIST_ROWS = 100
HEALTH_WINDOW_S = 3600.0
HEALTH_BUCKETS = 12
#: How long a read waits for acknowledged writes to reach the store.
READ_YOUR_WRITES_S = 30.0


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


class Console:
    """Read-only views over the store, each after the writes acknowledged before it."""

    def __init__(self, store: Store, wait_applied: Callable[[float | None], Awaitable[bool]],
                 directory: CallerDirectory, traces: RecallTraceLog,
                 stats: Callable[[], dict[str, Any]], *, region: str | None,
                 extraction_max_attempts: int, clock: Callable[[], float]) -> None:
        self._store = store
        self._wait_applied = wait_applied
        self._directory = directory
        self._traces = traces
        self._stats = stats
        self._region = region
        self._extraction_max_attempts = extraction_max_attempts
        self._clock = clock

    async def _settle(self) -> None:
        await self._wait_applied(READ_YOUR_WRITES_S)
        await self._traces.flush()

    # -- a caller's memories ------------------------------------------------------------
    async def list_facts(self, scope: Scope, *, include_history: bool = False,
                         session_id: str | None = None) -> list[Fact]:
        """The caller's facts (with superseded and deleted ones when asked)."""
        await self._settle()
        return await self._store.list_facts(scope, include_history=include_history,
                                            session_id=session_id)

    async def export_caller(self, scope: Scope) -> dict[str, Any]:
        """Everything stored about the caller, for a data request."""
        await self._settle()
        data = await self._store.export_caller(scope)
        # A data request covers what identifies the caller and their entity graph too;
        # an import puts them back, so a merge in force comes with its undo record.
        known = await self._store.run_entities(scope.tenant_id,
                                               export_entities(scope), write=False)
        known["merges"] += await self._chained_merges(scope, known["merges"])
        return {**data.to_wire(), **known}

    async def _chained_merges(self, scope: Scope,
                              merges: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Merges in force into callers merged into this one, down every chain (guest
        into account into ...), with their undo records: the caller's memory holds
        what they moved, an erasure takes them, and an import without them would no
        longer send the chain's first id to the caller."""
        found: list[dict[str, Any]] = []
        chain, seen = {scope.user_id}, {m["mergeId"] for m in merges}
        frontier = [m["fromUserId"] for m in merges
                    if m["status"] == "merged" and m["toUserId"] == scope.user_id]
        while frontier:
            user_id = frontier.pop()
            if user_id in chain:
                continue
            chain.add(user_id)
            theirs = await self._store.run_entities(scope.tenant_id, export_entities(
                dataclasses.replace(scope, user_id=user_id)), write=False)
            for m in theirs["merges"]:
                if m["status"] == "merged" and m["toUserId"] == user_id \
                        and m["mergeId"] not in seen:
                    seen.add(m["mergeId"])
                    found.append(m)
                    frontier.append(m["fromUserId"])
        return found

    async def list_quarantined(self) -> list[dict[str, Any]]:
        """Journal records the store refused, for an operator to fix and retry."""
        return [e.to_dict() for e in await self._store.list_quarantined(1000)]

    # -- operator views -------------------------------------------------------------------
    async def find_callers(self, tenant_id: str, project_id: str, query: str,
                           limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """Callers matching ``query`` (see ``_caller_search``)."""
        await self._settle()
        return await find_callers(self._store, self._directory, self._region, tenant_id,
                                  project_id, query, limit, offset)

    async def caller(self, scope: Scope, limit: int) -> dict[str, Any] | None:
        """One caller's page: profile, memories, history, calls, identifiers, merges;
        None when the project has no such caller."""
        await self._settle()
        found = await self._store.get_caller(scope)
        facts = await self._store.list_facts(scope, include_history=True)
        calls = await self._store.list_sessions(scope.tenant_id, scope.project_id,
                                                space=scope.space, user_id=scope.user_id,
                                                limit=limit)
        if found is None and not facts and not calls:
            return None
        # A caller known only by memories stored outside a call (remember, import)
        # has no caller row; their page answered 404 while their export held them.
        wire = (found or CallerRecord(id=scope.user_id)).to_wire()
        idents = await self._store.run_entities(
            scope.tenant_id, entity_ops.caller_identifiers(scope), write=False)
        return {"caller": wire,
                "memories": [f.to_wire() for f in facts if f.current],
                "history": [f.to_wire() for f in facts if not f.current],
                "calls": [c.to_wire() for c in calls],
                "identifiers": [r.to_dict() for r in idents],
                # With evidence and merge id, so a merge can be undone from the page.
                "merges": await self._directory.merges(scope, scope.user_id)}

    async def calls(self, tenant_id: str, project_id: str, user_id: str | None,
                    limit: int) -> list[dict[str, Any]]:
        """The project's calls, newest first (one caller's when ``user_id`` is given)."""
        await self._settle()
        calls = await self._store.list_sessions(tenant_id, project_id, space=None,
                                                user_id=user_id, limit=limit)
        return [c.to_wire() for c in calls]

    async def call(self, tenant_id: str, project_id: str, session_id: str) -> dict[str, Any]:
        """One call: its turns, each with the recalls that served it, and what it taught."""
        await self._settle()
        record = await self._store.session_record(tenant_id, project_id, session_id)
        if record is None:
            raise NotFound(f"no call {session_id!r} in this project",
                           code="session_not_found")
        scope = Scope(tenant_id=tenant_id, project_id=project_id, agent_id=record.agent_id,
                      user_id=record.user_id, space=record.space)
        turns = await self._store.session_turns(scope, session_id)
        traces = await self._store.recall_traces(tenant_id, project_id,
                                                 session_id=session_id, limit=MAX_LIST_ROWS)
        # A turn is saved after the recall that served it, so each turn's recalls are the
        # ones stored between the previous turn and it.
        out_turns: list[dict[str, Any]] = []
        i = 0
        for turn in turns:
            served: list[dict[str, Any]] = []
            while i < len(traces) and traces[i].at <= turn.created_at:
                served.append(traces[i].to_wire())
                i += 1
            out_turns.append({"eventId": turn.event_id, "turnId": turn.turn_id,
                              "userText": turn.user_text,
                              "assistantText": turn.assistant_text,
                              "createdAt": turn.created_at, "interrupted": turn.interrupted,
                              "toolCalls": turn.tool_calls, "recall": served})
        written = await self._store.list_facts(scope, include_history=True,
                                               session_id=session_id)
        return {"call": record.to_wire(), "turns": out_turns,
                "laterRecall": [t.to_wire() for t in traces[i:]],
                "memoriesWritten": [f.to_wire() for f in written]}

    async def documents(self, tenant_id: str, project_id: str, name: str) -> dict[str, Any]:
        """One org index and its documents."""
        indexes = {i.name: i.to_wire() for i in await self._store.list_indexes(tenant_id,
                                                                                 project_id)}
        if name not in indexes:
            raise NotFound(f"no index {name!r} in this project", code="index_not_found")
        return {"index": indexes[name],
                "documents": [d.to_wire() for d in
                              await self._store.list_documents(tenant_id, project_id, name)]}

    async def health(self, tenant_id: str, project_id: str) -> dict[str, Any]:
        """The runtime's health for one project: journal, learning, recall latency."""
        await self._traces.flush()
        stats = self._stats()
        now = self._clock()
        since = now - HEALTH_WINDOW_S
        traces = await self._store.recall_traces(tenant_id, project_id, since=since,
                                                 limit=MAX_LIST_ROWS * 20)
        width = HEALTH_WINDOW_S / HEALTH_BUCKETS
        buckets: list[list[float]] = [[] for _ in range(HEALTH_BUCKETS)]
        for t in traces:
            buckets[min(HEALTH_BUCKETS - 1, int((t.at - since) // width))].append(t.total_ms)
        pending = await self._store.pending_extractions(MAX_LIST_ROWS,
                                                        self._extraction_max_attempts)
        callers = await find_callers(self._store, self._directory, self._region, tenant_id,
                                     project_id, "", DEFAULT_LIST_ROWS)
        all_ms = [t.total_ms for t in traces]
        return {
            "journal": {"position": stats["journalSeq"], "applied": stats["appliedSeq"],
                        "behind": stats["journalSeq"] - stats["appliedSeq"],
                        "backlog": stats["backlog"], "lastWriteError": stats["lastWriteError"],
                        "quarantined": stats.get("quarantined", 0)},
            "pendingLearning": sum(1 for scope, _sid in pending
                                   if scope.project_id == project_id
                                   and scope.tenant_id == tenant_id),
            "recall": {"windowS": HEALTH_WINDOW_S, "count": len(all_ms),
                       "degraded": sum(1 for t in traces if t.degraded),
                       "p50Ms": _percentile(all_ms, 0.5), "p95Ms": _percentile(all_ms, 0.95),
                       "tracesDropped": self._traces.dropped,
                       "buckets": [{"start": since + i * width, "count": len(b),
                                    "p50Ms": _percentile(b, 0.5),
                                    "p95Ms": _percentile(b, 0.95)}
                                   for i, b in enumerate(buckets)]},
            "memoryPerCaller": sorted(
                ({"userId": c["userId"], "name": c["name"], "memoryCount": c["memoryCount"],
                  "callCount": c["callCount"], "space": c["space"]} for c in callers),
                key=lambda c: (-int(c["memoryCount"]), str(c["userId"]))),
            "engine": stats,
        }
