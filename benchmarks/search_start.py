"""The engine start-up ``search_profile.py run`` and ``search_phases.py`` share: a copy
of a ``search_profile.py build`` directory, the engine on it at a fixed clock, the bench
caller warm and primed, the org indexes loaded (and taken in by the org words worker
when ``org_words_worker`` is on), and 50 warm-up searches.

    async with started(data_dir, embedder, overrides, questions) as (engine, scope, mem):
        ...

Not a script: the two benchmarks import it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

#: The clock every run searches at: recency is part of the score.
FIXED_NOW = 1.8e9
#: The settings ``recall_latency.py`` measures ``embedder="onnx"`` with.
ONNX_SETTINGS = {"dense_floor": 0.15, "dense_weight": 0.75}
#: Searches before any is measured (caches, the first calls' imports, the allocator).
WARM_UP = 50


def settings_for(data_dir: str, embedder: Any, overrides: dict[str, Any] | None = None,
                 ) -> Any:
    """The engine's settings for a run: no worker processes, ``embedder``'s own
    ranking settings, then ``overrides``."""
    from voxmem import Settings

    extra = ONNX_SETTINGS if embedder == "onnx" else {}
    return Settings(data_dir=data_dir, embedder=embedder, background_processes=0,
                    **{**extra, **(overrides or {})})


@contextlib.asynccontextmanager
async def started(data_dir: str, embedder: str, overrides: dict[str, Any] | None,
                  warm_up: Sequence[str]) -> AsyncIterator[tuple[Any, Any, Any]]:
    """(engine, scope, the caller's memory), ready to search; the engine is closed on
    exit. ``warm_up``: questions searched once before (the first :data:`WARM_UP`)."""
    from voxmem.engine import MemoryEngine
    from voxmem.models import Caller

    engine = MemoryEngine(settings_for(data_dir, embedder, overrides),
                          clock=lambda: FIXED_NOW)
    await engine.start()
    try:
        scope = engine.scope(project_id="bench", agent_id="agent", user_id="caller-1")
        await engine.warm_org(scope)
        await engine.preload(scope, Caller("caller-1", "Bench Caller"))
        mem = engine.callers.peek(scope)
        assert mem is not None
        await mem.ready.wait()
        await mem.primed.wait()
        if engine.second is not None:
            await engine.second.swept.wait()  # rows the build left without both vectors
        words = engine.org.words
        org = engine.org.loaded(scope.tenant_id, scope.project_id)
        if words.process and org is not None and not await words.warm(org.index):
            raise RuntimeError("the org words worker did not take the index in")
        for q in warm_up[:WARM_UP]:
            await engine.search_memory(scope, q, timeout_ms=1000)
        yield engine, scope, mem
    finally:
        await engine.close()
