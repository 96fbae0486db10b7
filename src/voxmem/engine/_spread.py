"""Spreading a list question's top hits over calls.

"How many bikes did I service?" is answered by a turn in each of three or four calls.
The ranking scores each turn on its own, and the call that talks about bikes the most
fills the top ten with its other turns (the question's words are in all of them) while
the fourth call's one turn ranks 12th. A cap lets at most ``cap`` turns of one call into
the first ``depth`` places; the turns it holds back follow right after them, in their
order, so nothing is dropped, only moved down (docs/recall.md, "A call's share of a list
question's top ten"). :func:`spread_calls` applies such caps one after another: three of
the first ten, then one of the first three, so that the first answers come from
different calls ("The first three places from three calls").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

__all__ = ["spread_calls"]

T = TypeVar("T")


def spread_calls(ranked: Sequence[T], groups: Sequence[int],
                 caps: Sequence[tuple[int, int]]) -> list[T]:
    """``ranked`` (best first) capped once per ``(cap, depth)`` of ``caps``, in order:
    at most ``cap`` items of any one call among the first ``depth``; the items held back
    follow those ``depth``, in their order, then the rest. Widest first: each later cap
    only reorders a prefix of what the one before left, so a narrower cap never undoes
    a wider one's; a cap or depth of 0 is no cap.

    ``groups[i]`` is the call of ``ranked[i]``: facts, summaries and turns outside calls
    (group ≤ 0) are never held back. Scores are left as they are, so a held-back turn
    can score higher than the one before it.
    """
    out, calls = list(ranked), list(groups)
    for cap, depth in caps:
        if cap <= 0 or depth <= 0:
            continue
        # Only the scanned prefix moves: reordering it alone keeps a pass at a few
        # microseconds however long the list (pairs of the whole list cost 5x more).
        order = _capped(calls, cap, depth)
        out[:len(order)] = [out[i] for i in order]
        calls[:len(order)] = [calls[i] for i in order]
    return out


def _capped(groups: Sequence[int], cap: int, depth: int) -> list[int]:
    """The positions one cap scans, in its order: the first ``depth`` it takes, then
    those it holds back. Every position past them keeps its place."""
    taken: list[int] = []
    held: list[int] = []
    per_call: dict[int, int] = {}
    for i, group in enumerate(groups):
        if len(taken) >= depth:
            break
        if group > 0:
            seen = per_call.get(group, 0)
            if seen >= cap:
                held.append(i)
                continue
            per_call[group] = seen + 1
        taken.append(i)
    return taken + held
