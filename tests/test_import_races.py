"""An import lets other callers in between the turns it redacts (test_hostile_turns.py):
an erasure of its caller, or a merge of them into another, can then begin while it
redacts. The import checks both before its journal append, as a save does after its
text work: it waits for the erasure and imports afterwards, or imports into the caller
they are now, so that what it acknowledged is what recall and an export find."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from voxmem.engine import MemoryEngine
from voxmem.models import Caller, Scope

OLD = "marzipanglacier"  # said before the erasure
IMPORTED = "tangerinebasilica"  # in the imported call
TURNS = 40


def _call() -> dict[str, Any]:
    turns = [{"turnId": f"t{i}", "userText": f"Turn {i}: my locker code word is {IMPORTED}.",
              "assistantText": "Noted."} for i in range(TURNS)]
    # An hour ago: inside the retention, so recall sees it.
    return {"sessionId": "old-call", "startedAt": time.time() - 3600, "turns": turns}


def _who(engine: MemoryEngine, user: str) -> Scope:
    return engine.scope(project_id="p1", agent_id="a1", user_id=user)


async def _exported_texts(engine: MemoryEngine, scope: Scope) -> str:
    return repr(await engine.export_user(scope))


async def test_an_import_begun_during_an_erasure_waits_for_it_and_is_kept(
        engine: MemoryEngine) -> None:
    ann = _who(engine, "ann")
    await engine.start_session(ann, Caller("ann"))
    await engine.save_response(ann, Caller("ann"), user_text=f"My code is {OLD}.",
                               assistant_text="Noted.")
    await engine.end_session(ann, learn=False)
    assert await engine.flush(30)
    erasures = engine.callers.erasures
    eraser = asyncio.create_task(engine.forget_user(ann))
    while erasures.count(ann) % 2 == 0:  # until the erasure holds the caller
        assert not eraser.done()
        await asyncio.sleep(0)
    # Begun while the caller's rows and journal records are being erased: the import
    # redacts (letting the erasure go on), then waits for it and writes afterwards.
    result = await engine.import_history(ann, Caller("ann"), [_call()])
    await eraser
    assert result["turns"] == TURNS
    assert await engine.flush(30)
    exported = await _exported_texts(engine, ann)
    assert OLD not in exported  # the erasure stands
    assert exported.count(IMPORTED) >= TURNS  # the acknowledged import is stored
    found = await engine.search_memory(ann, "locker code word")
    assert IMPORTED in found.context_text and OLD not in found.context_text


async def test_an_import_into_a_caller_merged_away_goes_where_they_are_now(
        engine: MemoryEngine) -> None:
    guest, account = _who(engine, "guest"), _who(engine, "account")
    for scope in (guest, account):
        await engine.start_session(scope, Caller(scope.user_id))
        await engine.save_response(scope, Caller(scope.user_id), assistant_text="Hi.",
                                   user_text=f"Hello, I am {scope.user_id}.")
        await engine.end_session(scope, learn=False)
    assert await engine.flush(30)
    await engine.merge_users(guest, account)
    # As a save to the guest goes to the account now (the import checks it after its
    # redaction, so a merge made meanwhile is followed too).
    result = await engine.import_history(guest, Caller("guest"), [_call()])
    assert result["turns"] == TURNS
    assert await engine.flush(30)
    assert (await _exported_texts(engine, account)).count(IMPORTED) >= TURNS
    assert IMPORTED not in await _exported_texts(engine, guest)
    found = await engine.search_memory(account, "locker code word")
    assert IMPORTED in found.context_text
