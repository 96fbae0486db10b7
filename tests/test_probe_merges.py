"""Merges probed from outside: merging a caller id that names nobody (a typo on the
dashboard's Merge form, a caller who has not called yet) must not create a redirect that
hands the target's memory to whoever calls with that id later."""

from __future__ import annotations

import pytest

from voxmem import NotFound
from voxmem.engine import MemoryEngine
from voxmem.models import Caller, Scope


def who(engine: MemoryEngine, user: str) -> Scope:
    return engine.scope(project_id="p1", agent_id="a1", user_id=user)


async def test_merging_a_caller_id_that_names_nobody_is_refused(engine: MemoryEngine) -> None:
    ann, typo = who(engine, "ann"), who(engine, "+14155550124")
    await engine.save_response(ann, Caller("ann"), user_text="my dog Rex is my PIN hint",
                               assistant_text="noted")
    await engine.flush(30)

    with pytest.raises(NotFound, match="14155550124"):
        await engine.merge_callers(typo, ann, reason="merged on the dashboard")
    with pytest.raises(NotFound):
        await engine.merge_users(typo, ann)

    assert await engine.list_merges(ann, None) == []
    # A stranger who later calls from that number is not Ann.
    stranger = await engine.search_memory(typo, "dog")
    assert "Rex" not in stranger.context_text


async def test_a_caller_known_only_by_an_identifier_can_be_merged(
        engine: MemoryEngine) -> None:
    ann, guest = who(engine, "ann"), who(engine, "guest-7")
    await engine.link_identifier(guest, "email", "guest7@example.com")
    row = await engine.merge_callers(guest, ann, reason="signed in")
    assert row["status"] == "merged"
    assert [m["fromUserId"] for m in await engine.list_merges(ann, None)] == ["guest-7"]
