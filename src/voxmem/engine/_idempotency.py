"""Turn ids as idempotency keys: a retried save stores nothing new.

A turn id names one turn of one call: the key is (caller, call, turn id), so a client
that numbers each call's turns from ``t1`` keeps every call. A client that retries
``save_response`` after a timeout, or imports the same call twice, sends turn ids the
engine has seen in that call. The first write of a turn id claims it before any
``await``, so a concurrent retry waits for that write and answers with its event id.

Asking the store on every save would put a thread hop on the hot path (measured: about
+1-2 ms per save on a loaded 2-core host). A call opened by this process has all its
turns claimed here, so its saves are answered from memory; for a call opened elsewhere
(another runtime, before a restart) the engine asks the store once, for that call's turns
of the last ``TURN_RETRY_WINDOW_S``, and seeds this map. Anything else (a retry older
than the window, two runtimes racing) is caught by the store, whose insert skips a turn
id the call already has.

A save that arrives with no call open (a retry after a restart, say, which opens a new
call) is the one case where a turn id seen in another recent call of the caller is taken
as that turn again: :meth:`TurnClaims.recent` finds it.
"""

from __future__ import annotations

import asyncio
import collections

from ..models import Scope

__all__ = ["TURN_RETRY_WINDOW_S", "TurnClaims"]

#: Recent turn ids kept in memory.
TURN_IDS_KEPT = 100_000
#: How far back stored turn ids are loaded when a call is first seen in this process.
TURN_RETRY_WINDOW_S = 3600.0

#: Callers whose seeded calls are remembered (a forgotten one costs one store lookup).
SEEDED_CALLERS_KEPT = 10_000
#: Seeded calls remembered per caller.
SEEDED_CALLS_PER_CALLER = 16

#: (tenant, project, space, user, call id, turn id)
_Key = tuple[str, str, str, str, str, str]


class TurnClaims:
    """Which event id each recent (caller, call, turn id) was stored under."""

    def __init__(self, kept: int = TURN_IDS_KEPT) -> None:
        self._kept = kept
        self._known: collections.OrderedDict[_Key, str | asyncio.Future[str]] = \
            collections.OrderedDict()
        #: (caller, turn id) -> the key of its latest claim, whatever the call.
        self._latest: dict[tuple[str, ...], _Key] = {}
        #: Calls known to have ended: a new call's save never retries their turns.
        self._ended: collections.OrderedDict[tuple[str, ...], None] = \
            collections.OrderedDict()
        #: (caller, call) -> how many of its turn ids ``_known`` holds: a merge moves
        #: every call of a caller, and most have none here to carry (no scan for them).
        self._per_call: collections.Counter[tuple[str, ...]] = collections.Counter()
        #: caller -> calls whose recent stored turn ids are all in ``_known``.
        self._seeded: collections.OrderedDict[tuple[str, str, str, str], list[str]] = \
            collections.OrderedDict()

    def seeded(self, scope: Scope, session_id: str) -> bool:
        """Whether this call's stored turn ids are known (no store lookup needed)."""
        return session_id in self._seeded.get(scope.caller_key, ())

    def opened(self, scope: Scope, session_id: str) -> None:
        """This process opened the call (or read its turn ids): all of them are here."""
        calls = self._seeded.setdefault(scope.caller_key, [])
        self._seeded.move_to_end(scope.caller_key)
        if session_id not in calls:
            calls.append(session_id)
            del calls[:-SEEDED_CALLS_PER_CALLER]
        while len(self._seeded) > SEEDED_CALLERS_KEPT:
            self._seeded.popitem(last=False)

    def unseed_caller(self, scope: Scope) -> None:
        """Another runtime may have stored turns of this caller: ask the store again."""
        self._seeded.pop(scope.caller_key, None)

    def seed(self, scope: Scope, session_id: str, stored: dict[str, str]) -> None:
        """Record the call's stored turns (turn id -> event id) from the store."""
        for turn_id, event_id in stored.items():
            key = self.key(scope, session_id, turn_id)
            if key not in self._known:  # an in-flight claim stays authoritative
                self._remember(key, event_id)
        self.opened(scope, session_id)

    @staticmethod
    def key(scope: Scope, session_id: str, turn_id: str) -> _Key:
        return (*scope.caller_key, session_id, turn_id)

    def lookup(self, key: _Key) -> str | asyncio.Future[str] | None:
        """The event id (or the in-flight first write's future) for ``key``."""
        return self._known.get(key)

    def recent(self, scope: Scope, turn_id: str) -> str | asyncio.Future[str] | None:
        """The latest claim of ``turn_id`` in a call of the caller not known to have
        ended (a save that found no call open may be a retry of that call's turn)."""
        key = self._latest.get((*scope.caller_key, turn_id))
        if key is None or key[:5] in self._ended:
            return None
        return self._known.get(key)

    def ended(self, scope: Scope, session_id: str) -> None:
        """The call ended: a later call reusing its turn ids saves new turns."""
        self._ended[(*scope.caller_key, session_id)] = None
        self._ended.move_to_end((*scope.caller_key, session_id))
        while len(self._ended) > self._kept:
            self._ended.popitem(last=False)

    def claim(self, key: _Key) -> asyncio.Future[str]:
        """Mark ``key`` as being written now; settle it with :meth:`settle` or :meth:`drop`."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._remember(key, future)
        return future

    def settle(self, key: _Key, future: asyncio.Future[str], event_id: str) -> None:
        if not future.done():
            future.set_result(event_id)
        self._remember(key, event_id)

    def drop(self, key: _Key, future: asyncio.Future[str], error: BaseException) -> None:
        """The first write failed: waiters get its error, the next retry tries afresh."""
        if self._known.get(key) is future:
            del self._known[key]
            self._counted(key, -1)
            if self._latest.get((*key[:4], key[5])) == key:
                del self._latest[(*key[:4], key[5])]
        if not future.done():
            future.set_exception(error)
            future.exception()  # retrieved here: having no waiter is normal

    def remember(self, scope: Scope, session_id: str, turn_id: str, event_id: str) -> None:
        """Record a turn written elsewhere (replayed from the journal, imported)."""
        self._remember(self.key(scope, session_id, turn_id), event_id)

    def carry(self, source: Scope, target: Scope, session_id: str) -> None:
        """The call ``session_id`` goes on as ``target``'s (a merge, or its undo): its
        turn ids go with it. Read from the store instead, they would miss the turns not
        moved yet, and a retry of one would be saved a second time."""
        prefix = (*source.caller_key, session_id)
        held = [] if not self._per_call[prefix] else [
            (k, v) for k, v in self._known.items() if k[:5] == prefix]
        for key, value in held:
            moved = self.key(target, session_id, key[5])
            if moved not in self._known:
                self._remember(moved, value)
        if self.seeded(source, session_id):
            self.opened(target, session_id)

    def forget_caller(self, scope: Scope) -> None:
        """Drop a caller's turn ids (their memory was erased)."""
        prefix = scope.caller_key
        for key in [k for k in self._known if k[:4] == prefix]:
            del self._known[key]
            self._counted(key, -1)
        for latest in [k for k in self._latest if k[:4] == prefix]:
            del self._latest[latest]
        self.unseed_caller(scope)

    def _counted(self, key: _Key, change: int) -> None:
        call = key[:5]
        self._per_call[call] += change
        if self._per_call[call] <= 0:
            del self._per_call[call]

    def _remember(self, key: _Key, value: str | asyncio.Future[str]) -> None:
        if key not in self._known:
            self._counted(key, 1)
        self._known[key] = value
        self._known.move_to_end(key)
        self._latest[(*key[:4], key[5])] = key
        while len(self._known) > self._kept:
            evicted, _ = self._known.popitem(last=False)
            self._counted(evicted, -1)
            calls = self._seeded.get(evicted[:4])
            if calls is not None and evicted[4] in calls:
                calls.remove(evicted[4])  # that call's map is incomplete now
            if self._latest.get((*evicted[:4], evicted[5])) == evicted:
                del self._latest[(*evicted[:4], evicted[5])]
