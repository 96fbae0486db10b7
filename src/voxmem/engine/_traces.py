"""Stored recall traces: what each recall was asked, what it injected, and how long each
lane took, for the dashboard's call page and latency chart.

Recording costs the turn one append to a bounded in-memory queue; a background task
redacts and writes the queue to the store. Traces are diagnostics, not memory: when the
store is slow the oldest queued ones are dropped rather than held, and stored ones are
pruned after :data:`TRACE_KEEP_S`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from .._exceptions import VoxmemError
from ..extraction import SensitivePolicy, redact
from ..models import Scope, SearchResult
from ..store import RecallTraceRow, Store

__all__ = ["MAX_PENDING_TRACES", "TRACE_BATCH_S", "TRACE_KEEP_S", "RecallTraceLog"]

log = logging.getLogger("voxmem.engine.traces")

#: How long stored traces are kept (the health chart needs one hour, call pages longer).
TRACE_KEEP_S = 7 * 86_400
#: Longest a trace waits in memory before it is written (readers flush first).
TRACE_BATCH_S = 1.0
#: Traces waiting for the store at most; past it the oldest are dropped.
MAX_PENDING_TRACES = 5_000
#: What is kept of the injected context and of each cited hit's text.
MAX_INJECTED_CHARS = 4_000
MAX_SOURCE_CHARS = 240
MAX_QUERY_CHARS = 1_000


class RecallTraceLog:
    """Queues recall traces on the turn's path and stores them in the background."""

    def __init__(self, store: Store, policy: SensitivePolicy,
                 clock: Callable[[], float]) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        self._pending: collections.deque[tuple[Scope, str | None, float, str,
                                               SearchResult]] = collections.deque(
            maxlen=MAX_PENDING_TRACES)
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.dropped = 0

    def record(self, scope: Scope, session_id: str | None, query: str,
               result: SearchResult) -> None:
        """Queue one recall; never blocks and never raises into the turn."""
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append((scope, session_id, self._clock(), query, result))
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Store queued traces about once per :data:`TRACE_BATCH_S`, until ``stop``."""
        while not stop.is_set():
            await self._wake.wait()
            # Gather a second's worth into one write: one transaction per recall would
            # keep the store's writer busy beside the turns it must apply.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TRACE_BATCH_S)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Store everything queued so far (a failed write drops that batch, logged)."""
        async with self._lock:
            if not self._pending:
                return
            queued = list(self._pending)
            self._pending.clear()
            # Redaction is regex work: on a worker thread, so other callers' recalls on
            # the event loop never wait behind a batch of traces.
            rows = await asyncio.get_running_loop().run_in_executor(
                None, lambda: [self._row(*item) for item in queued])
            try:
                await self._store.write_recall_traces(rows, self._clock() - TRACE_KEEP_S)
            except VoxmemError as exc:
                log.warning("storing %d recall traces failed (%s); they are dropped",
                            len(rows), exc)

    @contextlib.asynccontextmanager
    async def withheld(self, scope: Scope) -> AsyncIterator[None]:
        """Store no traces while ``scope``'s caller is erased, and drop theirs still queued.

        A batch being written finishes first, so the erasure that follows removes it.
        """
        async with self._lock:
            self._discard(scope)
            yield
            self._discard(scope)  # recalls that arrived during the erasure

    def _discard(self, scope: Scope) -> None:
        kept = [item for item in self._pending if item[0].caller_key != scope.caller_key]
        self._pending.clear()
        self._pending.extend(kept)

    def _row(self, scope: Scope, session_id: str | None, at: float, query: str,
             result: SearchResult) -> RecallTraceRow:
        # Redacted here, off the turn's path: a query is what the caller just said, and
        # it reaches the disk only through the same detector as every saved turn.
        sources: list[dict[str, Any]] = []
        for lane, hits in (("working", result.working), ("permanent", result.permanent),
                           ("org", result.org)):
            for hit in hits:
                text = str(hit.get("text") or "")[:MAX_SOURCE_CHARS]
                sources.append({"lane": lane, "id": hit.get("id"),
                                "score": hit.get("score"), "kind": hit.get("kind"),
                                "text": redact(text, self._policy)})
        trace = dict(result.trace)
        return RecallTraceRow(
            scope=scope, id=f"rtr_{uuid.uuid4().hex}", session_id=session_id, at=at,
            query=redact(query[:MAX_QUERY_CHARS], self._policy),
            total_ms=float(trace.get("totalMs") or 0.0),
            degraded=bool(trace.get("degraded")), trace=trace,
            injected=redact(result.context_text[:MAX_INJECTED_CHARS], self._policy),
            sources=sources)
