"""Time words in a recall query: "two weeks ago", "last month", "in May", "the first time".

Recall uses them to favour memories from the named time (a boost, never a filter: a
date the caller misremembers must not hide the memory). Hand-written rather than
``dateparser``: parsing has to take microseconds inside the voice turn, and only
the few relative forms callers actually say about past calls matter here; a full
date parser spends milliseconds per query and mostly answers "no date".
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import re

__all__ = ["TimeHint", "parse_when"]

DAY = 86_400.0

_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
            "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
            "couple": 2, "few": 3, "several": 4}
_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4, "year": 365.0}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}

_AGO = re.compile(
    r"\b(\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"couple|few|several)\s+(?:of\s+)?(day|week|month|year)s?\s+ago\b")
_LAST_UNIT = re.compile(r"\b(?:last|past|previous)\s+(week|month|year)\b")
_YESTERDAY = re.compile(r"\byesterday\b")
_MONTH = re.compile(r"\b(?:in|during|since|back in|early|late|mid)\s+(" +
                    "|".join(_MONTHS) + r")\b")
_WEEKDAY = re.compile(r"\blast\s+(" + "|".join(_WEEKDAYS) + r")\b")
_FIRST = re.compile(r"\b(?:first\s+(?:time|call|called)|(?:when|time)\s+i\s+first|"
                    r"very\s+first|originally)\b")
_MONTH_NAMES = "|".join(_MONTHS)
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
# "23 January, 2022", "on 8th December 2023"; "November 6, 2023", "December 1,2023";
# the year is optional ("on 21 May").
_DAY_MONTH = re.compile(r"\b" + _ORDINAL + r"\s+(?:of\s+)?(" + _MONTH_NAMES +
                        r")\b(?:,?\s*(\d{4})\b)?")
_MONTH_DAY = re.compile(r"\b(" + _MONTH_NAMES + r")\s+" + _ORDINAL +
                        r"\b(?:,\s*|\s+)?(\d{4})?\b")
_MONTH_YEAR = re.compile(r"\b(" + _MONTH_NAMES + r"),?\s+(\d{4})\b")
# Not "of 2023": "a total of 2000" is an amount.
_YEAR = re.compile(r"\b(?:in|during|since|back in)\s+((?:19|20)\d\d)\b")
_LATEST = re.compile(r"\b(?:last\s+(?:time|call)|most\s+recent(?:ly)?|latest\s+call|"
                     r"the\s+other\s+day|recently)\b")


@dataclasses.dataclass(frozen=True, slots=True)
class TimeHint:
    """When the query is about: a window of creation times, or the first/latest call."""

    start: float | None = None
    end: float | None = None
    #: "first": the caller's earliest matching call; "latest": the most recent one.
    order: str | None = None

    def in_window(self, created: float) -> bool:
        return (self.start is not None and self.end is not None
                and self.start <= created <= self.end)


def _window(center: float, half_width_days: float) -> TimeHint:
    return TimeHint(start=center - half_width_days * DAY, end=center + half_width_days * DAY)


#: A named day is searched from the day before to this many days after: what happened on
#: a day is often told in the next call ("last Friday"), and the date is a boost anyway.
DAY_AFTER = 7.0


def _past_year(month: int, day: int, now: float) -> int:
    """The year of the latest ``month``/``day`` not after ``now`` (a date said without
    a year is about the past)."""
    today = dt.datetime.fromtimestamp(now, dt.UTC)
    return today.year if (month, day) <= (today.month, today.day) else today.year - 1


def _day(year: int, month: int, day: int) -> TimeHint | None:
    try:
        start = dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp()
    except ValueError:  # "31 February": no such day, so no time named
        return None
    return TimeHint(start=start - DAY, end=start + (1.0 + DAY_AFTER) * DAY)


def _absolute(text: str, lowered: str, now: float) -> TimeHint | None:
    """A calendar date the query names: a day, a month of a year, or a year."""
    for pattern, day_at, month_at in ((_DAY_MONTH, 1, 2), (_MONTH_DAY, 2, 1)):
        if (m := pattern.search(lowered)) is not None:
            month, day = _MONTHS[m.group(month_at)], int(m.group(day_at))
            # "we may 2 of us come" is not a date: the month May is written capitalised.
            modal = m.group(month_at) == "may" and text[m.start(month_at)] != "M"
            if 1 <= day <= 31 and not modal:
                year = int(m.group(3)) if m.group(3) else _past_year(month, day, now)
                return _day(year, month, day)
    if (m := _MONTH_YEAR.search(lowered)) is not None:
        return _month(int(m.group(2)), _MONTHS[m.group(1)])
    if (m := _YEAR.search(lowered)) is not None:
        year = int(m.group(1))
        return TimeHint(start=dt.datetime(year, 1, 1, tzinfo=dt.UTC).timestamp(),
                        end=dt.datetime(year, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp())
    return None


def _month(year: int, month: int) -> TimeHint:
    first = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    last_day = calendar.monthrange(year, month)[1]
    end = dt.datetime(year, month, last_day, 23, 59, 59, tzinfo=dt.UTC)
    return TimeHint(start=first.timestamp(), end=end.timestamp())


def parse_when(text: str, now: float) -> TimeHint | None:
    """The time the query ``text`` asks about, relative to ``now``; None if it names none.

    A calendar date ("on 21 May, 2023", "in November 2022", "in 2023") wins over
    relative words in the same question ("last week, as mentioned on November 6"):
    it is the more precise of the two.
    """
    lowered = text.lower()
    if (absolute := _absolute(text, lowered, now)) is not None:
        return absolute
    if (m := _AGO.search(lowered)) is not None:
        amount = int(m.group(1)) if m.group(1).isdigit() else _NUMBERS[m.group(1)]
        days = amount * _UNIT_DAYS[m.group(2)]
        # People round: "a week ago" is 4-10 days, "two months ago" 6-11 weeks.
        return _window(now - days * DAY, max(2.0, days * 0.35))
    if _YESTERDAY.search(lowered):
        return TimeHint(start=now - 2 * DAY, end=now)
    if (m := _WEEKDAY.search(lowered)) is not None:
        today = dt.datetime.fromtimestamp(now, dt.UTC)
        back = (today.weekday() - _WEEKDAYS[m.group(1)]) % 7 or 7
        return _window(now - back * DAY, 1.0)
    if (m := _LAST_UNIT.search(lowered)) is not None:
        days = _UNIT_DAYS[m.group(1)]
        return TimeHint(start=now - 2 * days * DAY, end=now)
    if (m := _MONTH.search(lowered)) is not None:
        today = dt.datetime.fromtimestamp(now, dt.UTC)
        month = _MONTHS[m.group(1)]
        return _month(today.year if month <= today.month else today.year - 1, month)
    if _FIRST.search(lowered):
        return TimeHint(order="first")
    if _LATEST.search(lowered):
        return TimeHint(order="latest")
    return None
