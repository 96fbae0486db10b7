"""The session-start block: profile, top facts, the last call, open commitments.

:class:`Preloader` is given the caller cache, the store (a caller not warm yet is
answered from a handful of rows), the policies, the character budget and the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..models import Caller, Preload, Scope
from ..store import Store
from ._caller_memory import CallerCache, fact_doc, turn_doc
from ._compose import compose_preload
from ._policy import Policies
from ._recall import doc_hit, top_facts

__all__ = ["Preloader"]

PRELOAD_FACTS = 8
PRELOAD_COMMITMENTS = 5
PRELOAD_SCAN_FACTS = 200
PRELOAD_LAST_TURNS = 4


class Preloader:
    """Builds the block an agent reads when a call starts."""

    def __init__(self, callers: CallerCache, store: Store, policies: Policies, *,
                 context_char_budget: int, clock: Callable[[], float]) -> None:
        self._callers = callers
        self._store = store
        self._policies = policies
        self._budget = context_char_budget
        self._clock = clock

    async def preload(self, scope: Scope, caller: Caller | None = None) -> Preload:
        """See :meth:`MemoryEngine.preload`."""
        started = time.perf_counter()
        if not (await self._policies.policy(scope)).memory_enabled:
            return Preload(context_text="", profile=None, facts=[], last_session=None,
                           commitments=[], trace={"totalMs": 0.0, "memoryEnabled": False})
        # A caller not cached yet is answered from the store first and warmed after:
        # the warm load is CPU work on a worker thread, and started first it competes
        # with these few reads for the GIL (measured: cold preload ~100-300 ms -> ~10).
        mem = self._callers.get(scope, defer_load=True)
        try:
            if caller is not None and caller.name and not mem.name:
                mem.name = caller.name
            if mem.ready.is_set() and mem.load_error is None:
                profile = {"name": mem.name} if mem.name else {}
                profile.update(mem.profile)
                all_facts = top_facts(mem, PRELOAD_SCAN_FACTS)
            else:
                # Session start must not wait for the warm index of a large caller: the
                # block needs a handful of rows, which the store answers directly.
                stored = await self._store.get_caller(scope)
                name = mem.name or (stored.name if stored else None)
                profile = {"name": name} if name else {}
                profile.update(stored.profile if stored else {})
                profile.update(mem.profile)
                all_facts = [doc_hit("permanent", f.id, fact_doc(f), f.confidence)
                             for f in await self._store.list_facts(scope)]
                all_facts.sort(key=lambda f: (f["confidence"], f["createdAtTs"]), reverse=True)
            cutoff = (await self._policies.policy(scope)).cutoff(self._clock())
            if cutoff is not None:
                all_facts = [f for f in all_facts if f["createdAtTs"] >= cutoff]
            commitments = [f for f in all_facts if f.get("factKind") == "commitment"]
            commitments.sort(key=lambda f: f["createdAtTs"], reverse=True)
            commitments = commitments[:PRELOAD_COMMITMENTS]
            facts = [f for f in all_facts if f.get("factKind") != "commitment"][:PRELOAD_FACTS]
            last: dict[str, Any] | None = None
            sessions = await self._store.recent_sessions(scope, 3)
            previous = next((s for s in sessions if s.id != mem.session_id), None)
            if previous is not None:
                turns = await self._store.session_turns(scope, previous.id,
                                                        last=PRELOAD_LAST_TURNS)
                tail = turns[-PRELOAD_LAST_TURNS:]
                last = {**previous.to_dict(), "startedAtTs": previous.started_at, "turns": [
                    doc_hit("permanent", t.event_id, turn_doc(t), 1.0) for t in tail]}
            text = compose_preload(profile or None, facts, last, commitments, self._budget)
            trace = {"totalMs": round((time.perf_counter() - started) * 1000, 3),
                     "warm": mem.ready.is_set()}
            return Preload(context_text=text, profile=profile or None, facts=facts,
                           last_session=last, commitments=commitments, trace=trace)
        finally:
            self._callers.get(scope)  # starts warming the caller for the first turn

