"""What is durable in the journal but not in the store yet, per caller.

Written by the applier (a record is noted when it is submitted and settled once the
store has it) and read by the caller cache (a caller loading from the store adds the
turns still on their way) and the write path (a caller with records in flight must not
be reloaded from the store). Kept apart from both so neither calls into the other.
"""

from __future__ import annotations

import collections

from ..models import Scope, Turn

__all__ = ["PendingWrites"]


class PendingWrites:
    """Per caller: records not stored yet, and the turns among them."""

    def __init__(self) -> None:
        self._turns: dict[tuple[str, ...], dict[str, Turn]] = {}
        self._unapplied: collections.Counter[tuple[str, ...]] = collections.Counter()

    def add(self, scope: Scope, turn: Turn | None) -> None:
        """A record of ``scope`` (a turn record when ``turn`` is given) was submitted."""
        self._unapplied[scope.caller_key] += 1
        if turn is not None:
            self._turns.setdefault(scope.caller_key, {})[turn.event_id] = turn

    def settle(self, scope: Scope, turn: Turn | None) -> None:
        """A record noted by :meth:`add` is in the store (or quarantined)."""
        key = scope.caller_key
        self._unapplied[key] -= 1
        if self._unapplied[key] <= 0:
            del self._unapplied[key]
        waiting = self._turns.get(key)
        if turn is not None and waiting is not None:
            waiting.pop(turn.event_id, None)
            if not waiting:
                del self._turns[key]

    def turns(self, scope: Scope) -> list[Turn]:
        """The caller's turns that are durable but not stored yet."""
        return list(self._turns.get(scope.caller_key, {}).values())

    def any(self, scope: Scope) -> bool:
        """Whether any record of this caller (a turn, a fact, ...) is not stored yet.

        Reloading such a caller from the store would lose what the store has not got.
        """
        return self._unapplied.get(scope.caller_key, 0) > 0
