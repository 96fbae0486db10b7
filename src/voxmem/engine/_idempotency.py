"""Turn ids as idempotency keys: a retried save stores nothing new.

A client that retries ``save_response`` after a timeout, or imports the same call twice,
sends turn ids the engine has seen. The first write of a turn id claims it before any
``await``, so a concurrent retry waits for that write and answers with its event id.

Asking the store on every save would put a thread hop on the hot path (measured: about
+1-2 ms per save on a loaded 2-core host). Instead the engine asks once per caller per
process, for the caller's turns of the last ``TURN_RETRY_WINDOW_S`` (a retry comes
seconds or minutes after the first attempt, possibly across a restart), and seeds this
map; that caller's later saves are answered from memory. Anything else (a retry older
than the window, two runtimes racing) is caught by the store, whose insert skips a turn
id the caller already has.
"""

from __future__ import annotations

import asyncio
import collections

from ..models import Scope

__all__ = ["TURN_RETRY_WINDOW_S", "TurnClaims"]

#: Recent turn ids kept in memory.
TURN_IDS_KEPT = 100_000
#: How far back a caller's stored turn ids are loaded when the caller is first seen.
TURN_RETRY_WINDOW_S = 3600.0

_Key = tuple[str, str, str, str, str]


class TurnClaims:
    """Which event id each recent (caller, turn id) was stored under."""

    def __init__(self, kept: int = TURN_IDS_KEPT) -> None:
        self._kept = kept
        self._known: collections.OrderedDict[_Key, str | asyncio.Future[str]] = \
            collections.OrderedDict()
        #: Callers whose recent stored turn ids are all in ``_known``.
        self._seeded: set[tuple[str, str, str, str]] = set()

    def seeded(self, scope: Scope) -> bool:
        """Whether this caller's recent stored turn ids are known (no store lookup needed)."""
        return scope.caller_key in self._seeded

    def unseed(self, scope: Scope) -> None:
        """Another runtime may have stored turns of this caller: ask the store again."""
        self._seeded.discard(scope.caller_key)

    def seed(self, scope: Scope, stored: dict[str, str]) -> None:
        """Record the caller's recent stored turns (turn id -> event id) from the store."""
        for turn_id, event_id in stored.items():
            key = self.key(scope, turn_id)
            if key not in self._known:  # an in-flight claim stays authoritative
                self._remember(key, event_id)
        self._seeded.add(scope.caller_key)

    @staticmethod
    def key(scope: Scope, turn_id: str) -> _Key:
        return (*scope.caller_key, turn_id)

    def lookup(self, key: _Key) -> str | asyncio.Future[str] | None:
        """The event id (or the in-flight first write's future) for ``key``."""
        return self._known.get(key)

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
        if not future.done():
            future.set_exception(error)
            future.exception()  # retrieved here: having no waiter is normal

    def remember(self, scope: Scope, turn_id: str, event_id: str) -> None:
        """Record a turn written elsewhere (replayed from the journal)."""
        self._remember(self.key(scope, turn_id), event_id)

    def forget_caller(self, scope: Scope) -> None:
        """Drop a caller's turn ids (their memory was erased)."""
        prefix = scope.caller_key
        for key in [k for k in self._known if k[:4] == prefix]:
            del self._known[key]
        self._seeded.discard(prefix)

    def _remember(self, key: _Key, value: str | asyncio.Future[str]) -> None:
        self._known[key] = value
        self._known.move_to_end(key)
        while len(self._known) > self._kept:
            evicted, _ = self._known.popitem(last=False)
            self._seeded.discard(evicted[:4])  # its caller's map is incomplete now
