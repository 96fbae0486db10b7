"""Ranking pieces that need no store: time words in queries, call and neighbour scores."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from voxmem.engine._index import BoolArray, HybridIndex, IntArray
from voxmem.engine._rank import RankParams, structure, time_boost
from voxmem.engine._time import DAY, TimeHint, parse_when

NOW = dt.datetime(2026, 6, 22, 18, 0, tzinfo=dt.UTC).timestamp()


def days_ago(n: float) -> float:
    return NOW - n * DAY


@pytest.mark.parametrize(("query", "inside", "outside"), [
    ("what did I do a week ago?", days_ago(7), days_ago(20)),
    ("the wedding two weeks ago", days_ago(13), days_ago(3)),
    ("I called 3 days ago about it", days_ago(3), days_ago(8)),
    ("what did I order a couple of months ago", days_ago(60), days_ago(5)),
    ("what did I ask yesterday", days_ago(1), days_ago(4)),
    ("my order from last month", days_ago(40), days_ago(90)),
    ("what did I buy in May", dt.datetime(2026, 5, 17, tzinfo=dt.UTC).timestamp(),
     dt.datetime(2026, 6, 2, tzinfo=dt.UTC).timestamp()),
    # A month later than today's is last year's.
    ("back in November", dt.datetime(2025, 11, 3, tzinfo=dt.UTC).timestamp(),
     dt.datetime(2026, 11, 3, tzinfo=dt.UTC).timestamp()),
    ("the plumber came last Monday", days_ago(7), days_ago(3)),
])
def test_time_words_name_a_window(query: str, inside: float, outside: float) -> None:
    hint = parse_when(query, NOW)
    assert hint is not None
    assert hint.in_window(inside)
    assert not hint.in_window(outside)


def _utc(year: int, month: int, day: int) -> float:
    return dt.datetime(year, month, day, 12, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(("query", "inside", "outside"), [
    # A named day: from the day before to a week after (it is often told in a later call).
    ("What did Joanna finish last Friday on 23 January, 2022?", _utc(2022, 1, 23),
     _utc(2022, 1, 20)),
    ("What did Tim say on November 6, 2023?", _utc(2023, 11, 12), _utc(2023, 11, 16)),
    ("the forest picture shared on December 1,2023", _utc(2023, 11, 30), _utc(2024, 12, 1)),
    ("What book did Tim finish on 8th December, 2023?", _utc(2023, 12, 8), _utc(2022, 12, 8)),
    # Without a year: the latest such day not after today (2026-06-22).
    ("what did I book on 21 May", _utc(2026, 5, 21), _utc(2025, 5, 21)),
    ("the call on July 3", _utc(2025, 7, 3), _utc(2026, 7, 3)),
    ("the call on May 5", _utc(2026, 5, 5), _utc(2025, 5, 5)),
    # A month of a year, a year.
    ("What did Nate share in November 2022?", _utc(2022, 11, 30), _utc(2025, 11, 15)),
    ("When did John get an ankle injury in 2023?", _utc(2023, 2, 1), _utc(2024, 1, 2)),
    # A calendar date wins over relative words in the same question.
    ("his writing issue last week, as mentioned on November 6, 2023", _utc(2023, 11, 6),
     days_ago(7)),
])
def test_calendar_dates_name_a_window(query: str, inside: float, outside: float) -> None:
    hint = parse_when(query, NOW)
    assert hint is not None
    assert hint.in_window(inside)
    assert not hint.in_window(outside)


@pytest.mark.parametrize("query", ["we may 2 of us come", "on 31 February",
                                   "is 2023 the year I joined", "a total of 2000 points",
                                   "order 2012 may ship"])
def test_not_a_date(query: str) -> None:
    assert parse_when(query, NOW) is None


@pytest.mark.parametrize(("query", "order"), [
    ("what did I say the first time I called?", "first"),
    ("when I first got in touch", "first"),
    ("what did we talk about last time", "latest"),
    ("what did I mention most recently", "latest"),
])
def test_first_and_latest_call(query: str, order: str) -> None:
    assert parse_when(query, NOW) == TimeHint(order=order)


@pytest.mark.parametrize("query", ["where is my package going?", "a week of rain",
                                   "may I change my address", "last name please", ""])
def test_no_time_words_no_hint(query: str) -> None:
    assert parse_when(query, NOW) is None


def _index(calls: list[tuple[int, int, float]]) -> HybridIndex:
    """An index of turns: (group, how many turns, created) per call, in order."""
    index = HybridIndex(4)
    n = 0
    for group, turns, created in calls:
        for _ in range(turns):
            index.add(f"d{n}", ["w"], created_at=created + n, group=group, payload=None)
            n += 1
    return index


def _everything(positions: IntArray) -> BoolArray:
    return np.ones(positions.shape[0], dtype=np.bool_)


def test_a_strong_call_lifts_its_turns_over_a_lone_match() -> None:
    # call 1: positions 0-3, call 2: positions 4-7
    index = _index([(1, 4, days_ago(30)), (2, 4, days_ago(10))])
    scored = [(7, 0.60), (0, 0.55), (1, 0.50), (2, 0.45)]
    params = RankParams(call_weight=1.0, neighbour_weight=0.0)
    ranked = [pos for pos, _ in structure(index, scored, params, _everything)]
    assert ranked[:3] == [0, 1, 2]
    assert ranked[3] == 7
    plain = [pos for pos, _ in structure(index, scored, RankParams(call_weight=0.0,
                                                                   neighbour_weight=0.0),
                                         _everything)]
    assert plain[0] == 7


def test_neighbours_join_and_stay_inside_their_call() -> None:
    index = _index([(1, 3, days_ago(30)), (2, 3, days_ago(10))])
    # position 2 ends call 1; 3 starts call 2 and must not count as its neighbour
    scored = [(2, 0.9)]
    params = RankParams(call_weight=0.0, neighbour_weight=0.5)
    ranked = dict(structure(index, scored, params, _everything))
    assert set(ranked) == {1, 2}
    assert ranked[2] > ranked[1] > 0
    assert all(0 < s <= 1 for s in ranked.values())
    # a neighbour the lane may not show (retention) is not added
    ranked = dict(structure(index, scored, params,
                            lambda p: np.zeros(p.shape[0], dtype=np.bool_)))
    assert set(ranked) == {2}


def test_time_boost_favours_the_named_window_and_the_first_call() -> None:
    index = _index([(1, 2, days_ago(60)), (2, 2, days_ago(7)), (3, 2, days_ago(1))])
    scored = [(5, 0.8), (2, 0.7), (0, 0.6)]
    params = RankParams(time_weight=0.5)
    week = parse_when("a week ago", NOW)
    boosted = sorted(time_boost(index, scored, week, params), key=lambda x: -x[1])
    assert boosted[0][0] == 2
    first = sorted(time_boost(index, scored, TimeHint(order="first"), params),
                   key=lambda x: -x[1])
    assert first[0][0] == 0
    assert time_boost(index, scored, None, params) == scored
