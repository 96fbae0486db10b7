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

A call the engine opens for a save that arrived with none open (after a restart, say)
is the one case where a turn id seen in another call of the caller is taken as that turn
again: the caller's calls that never ended may be the one the client is still in. Not
only for the save that opened it: a save with no turn id may open it, and the retry
follows (:meth:`TurnClaims.recent` for turn ids claimed in this process, the calls
:meth:`TurnClaims.follow` records for those in the store).
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
        #: (caller, turn id) -> the key of its latest claim, whatever the call, and when
        #: (a count of claims and ends, see ``_tick``).
        self._latest: dict[tuple[str, ...], tuple[_Key, int]] = {}
        #: caller -> when a call of theirs last ended: a turn id claimed before that is
        #: never a retry into a call opened since (the client moved on to a new call).
        self._last_end: collections.OrderedDict[tuple[str, ...], int] = \
            collections.OrderedDict()
        self._tick = 0
        #: Calls known to have ended: a new call's save never retries their turns.
        self._ended: collections.OrderedDict[tuple[str, ...], None] = \
            collections.OrderedDict()
        #: (caller, call) -> how many of its turn ids ``_known`` holds: a merge moves
        #: every call of a caller, and most have none here to carry (no scan for them).
        self._per_call: collections.Counter[tuple[str, ...]] = collections.Counter()
        #: (caller, call) opened for a save -> the caller's earlier calls that never
        #: ended, their recent turn ids seeded here (None: not looked up yet).
        self._for_save: collections.OrderedDict[tuple[str, ...], tuple[str, ...] | None] = \
            collections.OrderedDict()
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
        ended, made since the caller's last call ended (a save into a call opened for
        a save may be a retry of that call's turn)."""
        latest = self._latest.get((*scope.caller_key, turn_id))
        if latest is None:
            return None
        key, at = latest
        if key[:5] in self._ended or at < self._last_end.get(scope.caller_key, -1):
            return None
        return self._known.get(key)

    def opened_for_save(self, scope: Scope, session_id: str) -> None:
        """The engine opened this call for a save that found none open: the client may
        still be in an earlier call of the caller, one this process no longer holds."""
        self._for_save[(*scope.caller_key, session_id)] = None
        while len(self._for_save) > SEEDED_CALLERS_KEPT:
            self._for_save.popitem(last=False)

    def for_save(self, scope: Scope, session_id: str) -> bool:
        """Whether the engine opened this call for a save (see :meth:`opened_for_save`)."""
        return (*scope.caller_key, session_id) in self._for_save

    def followed(self, scope: Scope, session_id: str) -> tuple[str, ...] | None:
        """The earlier calls recorded by :meth:`follow` (None: not looked up yet)."""
        return self._for_save.get((*scope.caller_key, session_id))

    def follow(self, scope: Scope, session_id: str, earlier: tuple[str, ...]) -> None:
        """Record the caller's earlier calls that never ended, their turn ids seeded."""
        key = (*scope.caller_key, session_id)
        if key in self._for_save:
            self._for_save[key] = earlier

    def earlier(self, scope: Scope, session_id: str,
                turn_id: str) -> str | asyncio.Future[str] | None:
        """``turn_id``'s claim in one of the earlier calls :meth:`follow` recorded, if
        that call has not ended since."""
        for call in self._for_save.get((*scope.caller_key, session_id)) or ():
            if (*scope.caller_key, call) not in self._ended:
                found = self._known.get(self.key(scope, call, turn_id))
                if found is not None:
                    return found
        return None

    def ended(self, scope: Scope, session_id: str) -> None:
        """The call ended: a later call reusing its turn ids saves new turns."""
        self._tick += 1
        self._last_end[scope.caller_key] = self._tick
        self._last_end.move_to_end(scope.caller_key)
        while len(self._last_end) > SEEDED_CALLERS_KEPT:
            self._last_end.popitem(last=False)
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
            self._unlatest(key)
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
        for call in [k for k in self._for_save if k[:4] == prefix]:
            del self._for_save[call]
        self.unseed_caller(scope)

    def _counted(self, key: _Key, change: int) -> None:
        call = key[:5]
        self._per_call[call] += change
        if self._per_call[call] <= 0:
            del self._per_call[call]

    def _unlatest(self, key: _Key) -> None:
        """``key`` is gone: no longer the latest claim of its turn id."""
        latest = self._latest.get((*key[:4], key[5]))
        if latest is not None and latest[0] == key:
            del self._latest[(*key[:4], key[5])]

    def _remember(self, key: _Key, value: str | asyncio.Future[str]) -> None:
        if key not in self._known:
            self._counted(key, 1)
        self._known[key] = value
        self._known.move_to_end(key)
        self._tick += 1
        self._latest[(*key[:4], key[5])] = (key, self._tick)
        while len(self._known) > self._kept:
            evicted, _ = self._known.popitem(last=False)
            self._counted(evicted, -1)
            calls = self._seeded.get(evicted[:4])
            if calls is not None and evicted[4] in calls:
                calls.remove(evicted[4])  # that call's map is incomplete now
            self._unlatest(evicted)
