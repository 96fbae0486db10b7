"""The caller pool: at most ``max_concurrent_users`` caller handles, least recently used
out first.

A handle is the client's per-caller state: whether a call (session) is open, how many
operations are in flight, whether a ``client.session()`` block pins it, and when it was
last used. The pool itself is I/O-free bookkeeping; the client does the I/O of retiring
a handle (ending an idle call) and never holds the event loop while doing it.

Why nothing needs flushing on the client side: a turn is on disk in the runtime's
journal before ``save_response`` returns, so an idle handle (nothing in flight) owns no
unacknowledged write. Retiring one only has to wait out its in-flight work, and the
pool only ever retires idle handles.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import Callable

from .._exceptions import BadRequest, PoolError

__all__ = ["CallerHandle", "CallerPool"]


@dataclasses.dataclass(eq=False)
class CallerHandle:
    """Client-side state of one caller."""

    user_id: str
    last_used: float
    inflight: int = 0
    pins: int = 0
    session_id: str | None = None
    #: the client opened (or, by saving, implicitly opened) a call not ended yet
    session_open: bool = False

    @property
    def busy(self) -> bool:
        return self.inflight > 0 or self.pins > 0


class CallerPool:
    """LRU of :class:`CallerHandle` keyed by caller id.

    Example::

        pool = CallerPool(max_handles=20, idle_ttl_s=300)
        handle, evicted = pool.checkout("caller-42")
        try:
            ...  # the call
        finally:
            pool.checkin(handle)
    """

    def __init__(self, max_handles: int, idle_ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(max_handles, bool) or not isinstance(max_handles, int) or \
                max_handles < 1:
            raise BadRequest("max_concurrent_users must be a positive integer",
                             field="max_concurrent_users")
        if isinstance(idle_ttl_s, bool) or not isinstance(idle_ttl_s, int | float) or \
                idle_ttl_s <= 0:
            raise BadRequest("runtime_idle_ttl_s must be a positive number of seconds",
                             field="runtime_idle_ttl_s")
        self.max_handles = max_handles
        self.idle_ttl_s = float(idle_ttl_s)
        self._clock = clock
        self._handles: collections.OrderedDict[str, CallerHandle] = collections.OrderedDict()
        self.closed = False
        self.evictions = 0
        self.reaped = 0
        self._reaped_waiters: list[tuple[int, asyncio.Future[None]]] = []

    def __len__(self) -> int:
        return len(self._handles)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._handles

    def get(self, user_id: str) -> CallerHandle | None:
        return self._handles.get(user_id)

    def checkout(self, user_id: str, *, pin: bool = False) -> tuple[
            CallerHandle, CallerHandle | None]:
        """The caller's handle, marked busy; plus the idle handle evicted to make room.

        The caller must retire the evicted handle before using the new one. Raises
        ``pool.closed`` after :meth:`close` and ``pool.exhausted`` when every handle is
        busy.
        """
        if self.closed:
            raise PoolError("the client is closed; create a new one", code="pool.closed")
        handle = self._handles.get(user_id)
        evicted: CallerHandle | None = None
        if handle is None:
            if len(self._handles) >= self.max_handles:
                evicted = self._pop_least_recent_idle()
            handle = CallerHandle(user_id=user_id, last_used=self._clock())
            self._handles[user_id] = handle
        else:
            self._handles.move_to_end(user_id)
        if pin:
            handle.pins += 1
        else:
            handle.inflight += 1
        return handle, evicted

    def checkin(self, handle: CallerHandle, *, pin: bool = False) -> None:
        """Mark one use of ``handle`` finished."""
        if pin:
            handle.pins = max(0, handle.pins - 1)
        else:
            handle.inflight = max(0, handle.inflight - 1)
        handle.last_used = self._clock()

    def _pop_least_recent_idle(self) -> CallerHandle:
        for user_id, handle in self._handles.items():  # oldest first
            if not handle.busy:
                del self._handles[user_id]
                self.evictions += 1
                return handle
        raise PoolError(
            f"all {self.max_handles} caller handles are busy; raise max_concurrent_users "
            "or end finished calls", code="pool.exhausted",
            details={"maxConcurrentUsers": self.max_handles})

    def expired(self) -> list[CallerHandle]:
        """Remove and return the idle handles unused for longer than the TTL.

        The caller retires each one (ends its open call) and then reports it with
        :meth:`mark_reaped`: a handle counts as reaped only once its call has ended.
        """
        now = self._clock()
        stale = [h for h in self._handles.values()
                 if not h.busy and now - h.last_used > self.idle_ttl_s]
        for handle in stale:
            del self._handles[handle.user_id]
        return stale

    def mark_reaped(self, handle: CallerHandle) -> None:
        """``handle``, returned by :meth:`expired`, is retired."""
        self.reaped += 1
        for count, waiter in list(self._reaped_waiters):
            if self.reaped >= count and not waiter.done():
                waiter.set_result(None)
        self._reaped_waiters = [(c, w) for c, w in self._reaped_waiters if not w.done()]

    async def wait_reaped(self, count: int) -> None:
        """Return once ``count`` handles in all have been reaped (their calls ended)."""
        if self.reaped >= count:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reaped_waiters.append((count, waiter))
        await waiter

    def close(self) -> list[CallerHandle]:
        """Refuse further checkouts; return every handle for the caller to retire."""
        self.closed = True
        handles = list(self._handles.values())
        self._handles.clear()
        return handles

    def stats(self) -> dict[str, int]:
        return {"handles": len(self._handles),
                "busy": sum(1 for h in self._handles.values() if h.busy),
                "maxHandles": self.max_handles, "evictions": self.evictions,
                "reaped": self.reaped}
