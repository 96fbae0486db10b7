"""A store read cancelled part-way (a turn-id lookup past its 0.2 s deadline, a recall
lane past the search's) leaves nothing behind that a later read could see.

Found in a whole-suite run on Postgres: a merge was refused with "caller 'guest' has no
memories" while the caller had 41 stored turns. The turn-id lookups of the saves around
it had been cancelled at their deadline in the middle of a pipelined transaction; psycopg
left that connection in pipeline mode with the abandoned statements' results still
queued, the pool handed it on, and the merge's ``SELECT`` read a reply meant for another
statement: an empty one. Any later read on that connection could get another read's
rows, another tenant's included.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import numpy as np

from voxmem.models import Scope, Turn
from voxmem.store import SessionStart, Store, TurnWrite, WriteBatch
from voxmem.store import _entities as ops

TENANTS = ("acme", "globex")
TURNS = {"acme": 3, "globex": 5}


def caller(tenant: str) -> Scope:
    return Scope(tenant_id=tenant, project_id="p", agent_id="a", user_id="ann")


async def _write(store: Store) -> None:
    now = time.time()
    vec = (np.ones(8) / np.sqrt(8)).astype(np.float32).tobytes()
    for tenant in TENANTS:
        scope = caller(tenant)
        await store.write(WriteBatch(
            sessions_started=[SessionStart(scope=scope, session_id=f"s-{tenant}",
                                           started_at=now, caller_name="Ann")],
            turns=[TurnWrite(scope=scope, embedding=vec, turn=Turn(
                event_id=f"e-{tenant}-{i}", session_id=f"s-{tenant}", turn_id=f"t{i}",
                user_text=f"{tenant} turn {i}", assistant_text="ok", created_at=now))
                for i in range(TURNS[tenant])],
            embedding_model="m"))


async def test_reads_cancelled_midway_leave_later_reads_their_own_answers(
        store: Store) -> None:
    await _write(store)
    expected = {t: {f"t{i}": f"e-{t}-{i}" for i in range(TURNS[t])} for t in TENANTS}
    began = time.perf_counter()
    for _ in range(20):
        await store.recent_sessions(caller("acme"), 4)
    took = (time.perf_counter() - began) / 20
    for attempt in range(400):
        tenant = TENANTS[attempt % 2]
        # As the write path's turn-id lookups do: a deadline that cancels the read
        # wherever it is (sending, waiting for the reply, reading it), swept over the
        # time a whole read takes.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(store.recent_sessions(caller(tenant), 4),
                                   took * (attempt % 40) / 40)
        for other in TENANTS:
            assert await store.find_turns(caller(other), list(expected[other])) == \
                expected[other], (attempt, other)
            sessions = await store.recent_sessions(caller(other), 4)
            assert [s.id for s in sessions] == [f"s-{other}"], (attempt, other)
            # One statement at a time (no pipeline), as a merge reads the caller's rows.
            assert await store.run_entities(other, ops.has_anything(caller(other)),
                                            write=False), (attempt, other)
