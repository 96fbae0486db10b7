"""A list question's top ten spread over calls (``_spread.spread_calls``)."""

from __future__ import annotations

import dataclasses
import time

from voxmem.engine import MemoryEngine
from voxmem.engine._rank import RankParams
from voxmem.engine._spread import spread_calls
from voxmem.models import Caller

DAY = 86_400.0


def test_a_call_gets_at_most_cap_places_in_the_first_depth() -> None:
    ranked = ["a1", "a2", "a3", "a4", "b1", "a5", "c1", "b2"]
    groups = [1, 1, 1, 1, 2, 1, 3, 2]
    assert spread_calls(ranked, groups, [(2, 4)]) == ["a1", "a2", "b1", "c1",
                                                      "a3", "a4", "a5", "b2"]


def test_held_back_items_follow_the_first_depth_in_their_order() -> None:
    ranked = list(range(10))
    groups = [1, 1, 1, 2, 1, 2, 2, 2, 3, 3]
    # Three places: 0 and 1 of call 1, then 3 of call 2; 2 is held back until after them.
    assert spread_calls(ranked, groups, [(2, 3)]) == [0, 1, 3, 2, 4, 5, 6, 7, 8, 9]


def test_items_outside_calls_are_never_held_back() -> None:
    ranked = ["f1", "f2", "f3", "t1", "t2"]
    groups = [-1, 0, -1, 5, 5]
    assert spread_calls(ranked, groups, [(1, 4)]) == ["f1", "f2", "f3", "t1", "t2"]


def test_no_cap_and_short_lists_are_unchanged() -> None:
    assert spread_calls(["a", "b", "c"], [1, 1, 1], [(0, 10)]) == ["a", "b", "c"]
    assert spread_calls(["a", "b", "c"], [1, 1, 1], [(3, 10)]) == ["a", "b", "c"]
    assert spread_calls([], [], [(3, 10)]) == []
    # Fewer items than places: the held-back ones still come, after the rest.
    assert spread_calls(["a", "b", "c", "d"], [1, 1, 2, 1], [(1, 10)]) == ["a", "c", "b", "d"]


def test_the_default_caps_a_call_at_three_of_the_top_ten() -> None:
    params = RankParams()
    assert (params.list_call_cap, params.list_cap_depth) == (3, 10)
    assert (params.list_top_cap, params.list_top_depth) == (1, 3)


def test_caps_apply_one_after_another() -> None:
    ranked = ["a1", "a2", "a3", "a4", "b1", "b2", "a5", "c1", "b3", "b4", "c2", "d1"]
    groups = [1, 1, 1, 1, 2, 2, 1, 3, 2, 2, 3, 4]
    # Three of call 1 in the first ten, then one call each in the first three.
    assert spread_calls(ranked, groups, [(3, 10), (1, 3)]) == [
        "a1", "b1", "c1", "a2", "a3", "b2", "b3", "c2", "d1", "a4", "a5", "b4"]
    # The narrower cap only reorders the wider one's first ten.
    wide = spread_calls(ranked, groups, [(3, 10)])
    assert set(spread_calls(ranked, groups, [(3, 10), (1, 3)])[:10]) == set(wide[:10])
    assert spread_calls(ranked, groups, []) == ranked
    assert spread_calls(ranked, groups, [(0, 10), (0, 3)]) == ranked


async def test_a_list_question_reaches_the_later_calls(engine: MemoryEngine) -> None:
    # "How many hikes have I done?": the first call talks about hikes in every turn and
    # would fill the top ten; the hike told once in a later call must get in.
    s = engine.scope(project_id="p1", agent_id="a1", user_id="hiker")
    now = time.time()
    chatty = [f"hikes and more hikes, hiking boots for hikes number {i}" for i in range(12)]
    calls = [(30, chatty), (10, ["I did one hike at Rainier with my sister"])]
    await engine.import_history(s, Caller("hiker"), [
        {"startedAt": now - ago * DAY, "turns": [
            {"userText": text, "assistantText": "ok", "createdAt": now - ago * DAY + i}
            for i, text in enumerate(texts)]} for ago, texts in calls])
    assert await engine.flush(60)

    async def rainier_at(query: str) -> int:
        result = await engine.search_memory(s, query, lanes=["permanent"],
                                            top_k={"permanent": 20}, timeout_ms=5000)
        texts = [str(h["userText"]) for h in result.permanent]
        return next(i for i, t in enumerate(texts) if "Rainier" in t)

    question = "How many hikes have I done?"
    # The first three places go to different calls: the first call's best turn, then
    # the hike of the later call.
    assert await rainier_at(question) == 1
    # With the cap of three in the first ten alone: after the first call's best three.
    engine.params = dataclasses.replace(engine.params, list_top_cap=0)
    assert await rainier_at(question) == 3
    # Without either cap, the first call's twelve turns all come first.
    engine.params = dataclasses.replace(engine.params, list_call_cap=0)
    assert await rainier_at(question) == 12
    # A question that is not a list is never capped.
    engine.params = dataclasses.replace(engine.params, list_call_cap=3, list_top_cap=1)
    assert await rainier_at("Tell me about the hikes I did") == 12
