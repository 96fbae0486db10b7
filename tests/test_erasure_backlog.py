"""An erasure is never undone by the caller's writes still on their way to the store.

Found by probing: ``forget_user`` waited up to a minute for the applier and then erased
whether or not it had caught up. A turn still queued (a slow or stalled store) was
applied after the erasure had been acknowledged, so the erased caller's words were back
in the store, with no journal record left to explain them.
"""

from __future__ import annotations

import asyncio

import pytest

from voxmem import StoreUnavailable
from voxmem.engine import MemoryEngine, _write_path
from voxmem.models import Caller, Scope
from voxmem.store import WriteBatch


def stall_store(engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Make the store stop answering writes until the returned event is set."""
    stalled = asyncio.Event()
    real_write = engine.store.write

    async def stalled_write(batch: WriteBatch) -> None:
        await stalled.wait()
        await real_write(batch)

    monkeypatch.setattr(engine.store, "write", stalled_write)
    return stalled


async def test_an_erasure_waits_for_queued_writes_or_refuses(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_write_path, "CATCH_UP_S", 0.5)
    s = engine.scope(project_id="p", agent_id="a", user_id="ann")
    await engine.save_response(s, Caller("ann"), user_text="hello", assistant_text="hi")
    assert await engine.flush(30)
    stalled = stall_store(engine, monkeypatch)
    await engine.save_response(s, Caller("ann"), user_text="my secret plan is Zanzibar",
                               assistant_text="noted")
    with pytest.raises(StoreUnavailable):
        await engine.forget_user(s)
    stalled.set()
    assert await engine.flush(30)
    # Nothing was erased, so nothing came back: the caller is whole, and a retry erases.
    assert "Zanzibar" in str(await engine.export_user(s))
    await engine.forget_user(s)
    assert await engine.flush(30)
    assert "Zanzibar" not in str(await engine.export_user(s))


async def merge(engine: MemoryEngine, how: str, guest: Scope, account: Scope) -> None:
    if how == "merge_users":
        await engine.merge_users(guest, account)
    else:
        await engine.merge_callers(guest, account, reason="same phone")


@pytest.mark.parametrize("how", ["merge_users", "merge_callers"])
async def test_a_merge_waits_for_queued_writes_or_refuses(
        engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """The same for a merge: a guest's turn still queued must not be left behind under
    the id merged away, where nothing reads it any more."""
    monkeypatch.setattr(_write_path, "CATCH_UP_S", 0.5)
    guest = engine.scope(project_id="p", agent_id="a", user_id="guest-7")
    account = engine.scope(project_id="p", agent_id="a", user_id="acct-7")
    await engine.save_response(guest, Caller("guest-7"), user_text="hello",
                               assistant_text="hi")
    await engine.end_session(guest)
    assert await engine.flush(30)
    stalled = stall_store(engine, monkeypatch)
    await engine.save_response(guest, Caller("guest-7"), user_text="ship it to Zanzibar",
                               assistant_text="noted")
    with pytest.raises(StoreUnavailable):
        await merge(engine, how, guest, account)
    stalled.set()
    assert await engine.flush(30)
    await merge(engine, how, guest, account)
    assert await engine.flush(30)
    assert "Zanzibar" in str(await engine.export_user(account))
    assert "Zanzibar" not in str(await engine.export_user(guest))
