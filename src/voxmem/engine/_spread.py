"""Spreading a list question's top hits over calls.

"How many bikes did I service?" is answered by a turn in each of three or four calls.
The ranking scores each turn on its own, and the call that talks about bikes the most
fills the top ten with its other turns (the question's words are in all of them) while
the fourth call's one turn ranks 12th. :func:`cap_calls` lets at most ``cap`` turns of
one call into the first ``depth`` places; the turns it holds back follow right after
them, in their order, so nothing is dropped, only moved down (docs/recall.md, "A call's
share of a list question's top ten").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

__all__ = ["cap_calls"]

T = TypeVar("T")


def cap_calls(ranked: Sequence[T], groups: Sequence[int], cap: int, depth: int) -> list[T]:
    """``ranked`` (best first) with at most ``cap`` items of any one call among the first
    ``depth``; the items held back follow those ``depth``, in their order, then the rest.

    ``groups[i]`` is the call of ``ranked[i]``: facts, summaries and turns outside calls
    (group ≤ 0) are never held back. Scores are left as they are, so a held-back turn
    can score higher than the one before it.
    """
    if cap <= 0 or depth <= 0:
        return list(ranked)
    taken: list[T] = []
    held: list[T] = []
    per_call: dict[int, int] = {}
    end = len(ranked)
    for i, (item, group) in enumerate(zip(ranked, groups, strict=True)):
        if len(taken) >= depth:
            end = i
            break
        if group > 0:
            seen = per_call.get(group, 0)
            if seen >= cap:
                held.append(item)
                continue
            per_call[group] = seen + 1
        taken.append(item)
    return taken + held + list(ranked[end:])
