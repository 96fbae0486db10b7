"""Admission control: past capacity, searches give way so the loop catches up.

A runtime past its capacity cannot answer a late search on time by working harder on
it: the search waited in the kernel's socket buffer and in the event loop's queue of
ready callbacks before its handler ran, behind every other request. What keeps that
wait short is less work per turn. A save must be done (it is acknowledged only once
durable, and never dropped); a search may be answered without memory, ``degraded``,
and the agent still speaks. So:

* saves go through a gate of :data:`SAVES_IN_PROGRESS` at a time. Past capacity the
  rest wait at the gate, which costs the loop nothing, instead of each putting its
  redaction, journal hand-off and indexing into the loop's queue ahead of every search.
  They slow down; none is dropped (it is acknowledged once durable, as always). At
  light load the gate is never full and changes nothing.
* while saves queue at that gate or the loop lags, a share of searches is answered at
  once, empty and ``degraded`` with ``trace.errors.overload``, before any recall work.
  The share is the larger of two: one that grows with the saves waiting at the gate
  (none while none wait, every search from :data:`SHED_SAVES_WAITING_ALL` on), and one
  that grows with the loop's lag, from none at :data:`SHED_LAG_START_MS` to every
  search at :data:`SHED_LAG_ALL_MS`. Both are needed: the gate keeps the loop's queue
  short, so past capacity the backlog shows as saves waiting, not as lag; the lag
  catches everything else (a neighbour taking the cores, a long pause).

The lag is how late the loop runs a timer due every :data:`PROBE_INTERVAL_S` (the least
late of the last :data:`SUSTAINED_PROBES`, so one stall does not count): the time any
callback, a new request included, waits for the loop. It is measured in the loop
itself, so it counts what the callers feel whatever the cause (this runtime's own
work, a neighbour on the same cores, a long GC pause).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

__all__ = [
    "PROBE_INTERVAL_S",
    "SAVES_IN_PROGRESS",
    "SHED_LAG_ALL_MS",
    "SHED_LAG_START_MS",
    "SHED_SAVES_WAITING_ALL",
    "SUSTAINED_PROBES",
    "Admission",
    "LoopLag",
]

#: How often the loop is asked to run the lag probe. A probe costs a few microseconds,
#: so 200 a second are noise next to hundreds of requests.
PROBE_INTERVAL_S = 0.005
#: Weight of the newest probe in the moving average. A loop that lags runs few probes
#: (one per pass over its queue), so each counts for a lot.
LAG_EWMA_ALPHA = 0.2
#: A lag counts only when this many probes in a row ran late (see LoopLag.observe).
SUSTAINED_PROBES = 3
#: Below this lag no search is shed: a busy loop that still answers well inside a
#: voice turn's recall budget.
SHED_LAG_START_MS = 20.0
#: From this lag on every search is shed until the loop catches up.
SHED_LAG_ALL_MS = 80.0
#: Moving-average weight of the newest search in the shed share (about the last 20).
SHED_EWMA_ALPHA = 0.05
#: Saves being handled at once. Enough for the journal's group commit to batch many
#: saves per disk sync; few enough that their CPU work between two searches stays a
#: few milliseconds.
SAVES_IN_PROGRESS = 32
#: Saves waiting at the gate at which every search is shed (proportionally fewer below):
#: searches then give the saves their CPU until the queue drains. Measured without it
#: (a loaded 2-core machine, 800 requests/s offered for 30 s) searches kept 40 % of the
#: GIL while saves waited 33 s at p50, past the client's 30 s request timeout.
SHED_SAVES_WAITING_ALL = 2 * SAVES_IN_PROGRESS


class LoopLag:
    """The moving average of how late the event loop runs a periodic timer.

    Example::

        lag = LoopLag()
        lag.start()            # in the running loop
        ...
        lag.lag_ms             # 0.3 on an idle loop, seconds' worth when it is swamped
        lag.stop()
    """

    def __init__(self, interval_s: float = PROBE_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._probed: asyncio.Event | None = None
        self._recent: collections.deque[float] = collections.deque(maxlen=SUSTAINED_PROBES)
        self.lag_ms = 0.0
        self.probes = 0

    def start(self) -> None:
        """Start probing the running loop (a no-op if already started)."""
        if self._handle is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._probed = asyncio.Event()
        self._schedule()

    def stop(self) -> None:
        """Stop probing."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def observe(self, lag_s: float) -> None:
        """Count one probe that ran ``lag_s`` seconds after it was due."""
        self._recent.append(max(0.0, lag_s) * 1000.0)
        # The least late of the last few probes: a loop that cannot keep up runs every
        # probe late, while one stall (the process stopped, a long GC pause, the machine
        # busy elsewhere for a moment) is a single late probe, after which the loop is
        # idle — counting it would shed the next searches of a runtime with nothing
        # to do.
        self.lag_ms += LAG_EWMA_ALPHA * (min(self._recent) - self.lag_ms)
        self.probes += 1

    async def next_probe(self) -> None:
        """Wait until the next probe has been counted (tests and diagnostics)."""
        if self._probed is None:
            raise RuntimeError("LoopLag.start() was not called")
        self._probed.clear()
        await self._probed.wait()

    def _schedule(self) -> None:
        assert self._loop is not None
        self._due = self._clock() + self._interval_s
        self._handle = self._loop.call_later(self._interval_s, self._probe)

    def _probe(self) -> None:
        self.observe(self._clock() - self._due)
        if self._probed is not None:
            self._probed.set()
        self._schedule()


class Admission:
    """Gates saves, and decides which searches are answered at once, degraded, because
    the loop lags.

    The decision is deterministic for a given lag: a share ``s`` sheds every search for
    which a running sum of ``s`` crosses a whole number, so at 50 % exactly every
    second search is shed, with no random number per request.

    Example::

        admission = Admission(LoopLag())
        reason = admission.shed_search()   # None, or why this search gets no recall
    """

    def __init__(self, lag: LoopLag, start_ms: float = SHED_LAG_START_MS,
                 all_ms: float = SHED_LAG_ALL_MS,
                 saves_in_progress: int = SAVES_IN_PROGRESS) -> None:
        if not 0 <= start_ms < all_ms:
            raise ValueError("need 0 <= start_ms < all_ms")
        self.lag = lag
        self._saves = asyncio.Semaphore(saves_in_progress)
        # SHED_SAVES_WAITING_ALL for the default gate: twice the gate's size.
        self._saves_all = 2 * saves_in_progress
        #: saves waiting at the gate right now
        self.saves_waiting = 0
        self._start_ms = start_ms
        self._all_ms = all_ms
        self._owed = 0.0
        #: moving share of recent searches that were shed
        self.shed_share = 0.0
        self.shed_total = 0

    def shed_share_now(self) -> float:
        """The share of searches shed now (0..1), from the saves waiting and the lag."""
        over = self.lag.lag_ms - self._start_ms
        by_lag = over / (self._all_ms - self._start_ms)
        by_saves = self.saves_waiting / self._saves_all
        return min(1.0, max(0.0, by_lag, by_saves))

    async def enter_save(self) -> None:
        """Pass the save gate (wait while ``saves_in_progress`` saves are being handled);
        pair with :meth:`leave_save`."""
        if not self._saves.locked():
            await self._saves.acquire()
            return
        self.saves_waiting += 1
        try:
            await self._saves.acquire()
        finally:
            self.saves_waiting -= 1

    def leave_save(self) -> None:
        """A save that passed the gate is done."""
        self._saves.release()

    def shed_search(self) -> str | None:
        """None to run this search; otherwise the reason it is answered without recall."""
        share = self.shed_share_now()
        self._owed += share
        shed = self._owed >= 1.0
        if shed:
            self._owed -= 1.0
            self.shed_total += 1
        elif share == 0.0:
            # Left over from a busier moment must not shed a search once the loop is idle.
            self._owed = 0.0
        self.shed_share += SHED_EWMA_ALPHA * (float(shed) - self.shed_share)
        if not shed:
            return None
        return (f"runtime overloaded: {self.saves_waiting} saves wait and the event loop "
                f"lags {self.lag.lag_ms:.0f} ms, so {share:.0%} of searches are answered "
                "without recall")
