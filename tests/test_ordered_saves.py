"""The integrations' ordered save worker: order, flush, close with and without time."""

from __future__ import annotations

import asyncio

from voxmem.integrations._ordered import OrderedSaves


async def test_items_are_saved_in_order_and_flush_waits_for_them() -> None:
    saved: list[int] = []

    async def save(item: int) -> None:
        await asyncio.sleep(0)  # let later puts overtake, if order were not kept
        saved.append(item)

    saves: OrderedSaves[int] = OrderedSaves(save)
    for i in range(20):
        saves.put(i)
    await saves.flush()
    assert saved == list(range(20))
    assert await saves.close(5.0)


async def test_close_without_items_returns_at_once() -> None:
    async def save(item: int) -> None:
        raise AssertionError("nothing was queued")

    assert await OrderedSaves(save).close(0.0)


async def test_close_reports_a_timeout_and_the_save_still_finishes() -> None:
    gate = asyncio.Event()
    saved: list[str] = []

    async def save(item: str) -> None:
        await gate.wait()
        saved.append(item)

    saves: OrderedSaves[str] = OrderedSaves(save)
    saves.put("late")
    assert not await saves.close(0.01)
    gate.set()
    await saves.flush()
    assert saved == ["late"]
