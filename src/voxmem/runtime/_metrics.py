"""Prometheus metrics for the runtime, and its saturation signal.

``GET /metrics`` (behind the token) answers the Prometheus text format: request counts
and latency histograms per operation, recall latency per lane, degraded searches by
reason, time spent queued before a request got the event loop, the journal's lag
behind the store and the applier's backlog, quarantined records, resident memory and
whether the runtime is saturated.

Why ``prometheus_client`` rather than a hand-written exposition: histogram buckets,
label escaping and the text format's details are exactly what it gets right, it has no
dependencies of its own, and its process collector reports resident memory on Linux
for free. Each app gets its own :class:`~prometheus_client.CollectorRegistry`, so two
runtimes in one process (tests) never share counters.

Saturation is judged from what the callers feel, not from CPU: a runtime is saturated
when requests wait for the event loop (the moving average of time between arrival and
dispatch passes :data:`SATURATED_QUEUE_MS`, saves queue at admission control's gate,
or the loop runs a timer :data:`~voxmem.runtime._admission.SHED_LAG_START_MS` late) or
when searches go without memory (the moving share of searches degraded by their
deadline or shed passes :data:`SATURATED_DEGRADED_SHARE`).
Both averages move per request rather than per second, so the signal depends on what
happened, not on how fast a loaded test machine runs.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ._admission import SHED_LAG_START_MS, Admission, LoopLag

__all__ = [
    "CONTENT_TYPE",
    "SATURATED_DEGRADED_SHARE",
    "SATURATED_QUEUE_MS",
    "RuntimeMetrics",
    "Saturation",
]

log = logging.getLogger("voxmem.runtime")

#: The Prometheus text exposition format, version 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Request latency buckets (seconds): a voice turn cares about single milliseconds up
#: to its recall budget; anything past a second is an outage, not a distribution.
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
#: Moving-average weight of the newest request (about the last 20 requests count).
EWMA_ALPHA = 0.05
#: Queueing (arrival to dispatch) above this average means requests wait for the loop.
SATURATED_QUEUE_MS = 50.0
#: This share of searches answered degraded at their deadline means callers go without
#: memory because the runtime cannot keep up.
SATURATED_DEGRADED_SHARE = 0.1


@dataclasses.dataclass(frozen=True, slots=True)
class Saturation:
    """Whether the runtime keeps up, with the averages the verdict is drawn from."""

    saturated: bool
    queued_ms: float
    deadline_degraded_share: float
    in_flight: int
    loop_lag_ms: float = 0.0
    shed_share: float = 0.0
    saves_waiting: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON shape for ``/v1/runtime``."""
        return {"saturated": self.saturated, "queuedMs": round(self.queued_ms, 3),
                "deadlineDegradedShare": round(self.deadline_degraded_share, 4),
                "inFlight": self.in_flight, "loopLagMs": round(self.loop_lag_ms, 3),
                "shedShare": round(self.shed_share, 4), "savesWaiting": self.saves_waiting}


class _EngineCollector(Collector):
    """Reads the engine's write-path figures at scrape time (no bookkeeping per write)."""

    def __init__(self, stats: Callable[[], dict[str, Any]],
                 in_flight: Callable[[], int]) -> None:
        self._stats = stats
        self._in_flight = in_flight

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self._stats()
        # What `voxmem status` calls healthy: the journal and the store take writes
        # (0 while Postgres is down or the disk is full; saves then wait in the journal).
        yield GaugeMetricFamily("voxmem_healthy",
                                "1 while the journal and the store take writes, else 0",
                                value=1 if stats.get("healthy", True) else 0)
        yield GaugeMetricFamily("voxmem_journal_lag_records",
                                "Journaled records not yet applied to the store",
                                value=stats["journalSeq"] - stats["appliedSeq"])
        yield GaugeMetricFamily("voxmem_applier_backlog",
                                "Records queued for the store writer",
                                value=stats["backlog"])
        yield GaugeMetricFamily("voxmem_quarantined_records",
                                "Journal records set aside because they cannot be applied",
                                value=stats.get("quarantined", 0))
        yield GaugeMetricFamily("voxmem_requests_in_flight", "Requests being handled",
                                value=self._in_flight())
        yield GaugeMetricFamily("voxmem_cached_callers",
                                "Callers whose memories are warm in this process",
                                value=stats["cachedCallers"])


class _Histogram:
    """One histogram series, counted in plain Python on the event loop's thread.

    prometheus_client's own takes a lock for its sum and for the bucket it walks to, per
    observation; a search makes three to eight of them, about 10 µs per request under
    load (docs/performance.md, "A fifth round"). Every observation here happens on the
    loop, and a scrape reads the counts on the loop too, so no lock is needed.
    """

    __slots__ = ("counts", "created", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)  # the last one is +Inf
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float, bounds: tuple[float, ...]) -> None:
        # bisect_left: a value equal to a bound belongs to that bound's bucket (le).
        self.counts[bisect_left(bounds, value)] += 1
        self.sum += value


class _Family:
    """A labelled histogram or counter, exposed at scrape time as prometheus_client's
    own would expose it (the same names, samples and ``_created`` series)."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...],
                 buckets: tuple[float, ...] | None = None) -> None:
        self.name, self.documentation, self.labels = name, documentation, labels
        self.bounds = buckets
        self.histograms: dict[tuple[str, ...], _Histogram] = {}
        #: Counters: label values -> [count, created].
        self.counters: dict[tuple[str, ...], list[float]] = {}

    def histogram(self, *values: str) -> _Histogram:
        series = self.histograms.get(values)
        if series is None:
            assert self.bounds is not None
            series = self.histograms[values] = _Histogram(len(self.bounds))
        return series

    def inc(self, *values: str) -> None:
        series = self.counters.get(values)
        if series is None:
            series = self.counters[values] = [0.0, time.time()]
        series[0] += 1

    def collect(self) -> Iterator[Metric]:
        if self.bounds is None:
            counter = Metric(self.name, self.documentation, "counter")
            for values, (count, created) in list(self.counters.items()):
                labels = dict(zip(self.labels, values, strict=True))
                counter.add_sample(self.name + "_total", labels, count)
                counter.add_sample(self.name + "_created", labels, created)
            yield counter
            return
        histogram = Metric(self.name, self.documentation, "histogram")
        bounds = [*map(floatToGoString, self.bounds), "+Inf"]
        for values, series in list(self.histograms.items()):
            labels = dict(zip(self.labels, values, strict=True))
            total = 0
            for bound, count in zip(bounds, series.counts, strict=True):
                total += count
                histogram.add_sample(self.name + "_bucket", {**labels, "le": bound},
                                     float(total))
            histogram.add_sample(self.name + "_count", labels, float(total))
            histogram.add_sample(self.name + "_sum", labels, series.sum)
            histogram.add_sample(self.name + "_created", labels, series.created)
        yield histogram


class _RequestCollector(Collector):
    """The per-request families, read at scrape time."""

    def __init__(self, families: tuple[_Family, ...]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield from family.collect()


class RuntimeMetrics:
    """The runtime's counters, histograms and saturation signal.

    Example::

        metrics = RuntimeMetrics(engine.stats)
        arrived = metrics.started(received_at)
        result = await dispatch(engine, "search_memory", payload)
        metrics.finished("search_memory", arrived, 200, result)
        body = metrics.exposition()
    """

    def __init__(self, engine_stats: Callable[[], dict[str, Any]],
                 admission: Admission | None = None) -> None:
        self.admission = admission or Admission(LoopLag())
        self._queued_avg_ms = 0.0
        self._deadline_share = 0.0
        self._in_flight = 0
        self._was_saturated = False
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = _Family("voxmem_requests", "Requests answered, by operation and "
                                "status class", ("operation", "status"))
        self.latency = _Family("voxmem_request_seconds", "Time from arrival to answer",
                               ("operation",), LATENCY_BUCKETS)
        self.queued = _Family("voxmem_request_queued_seconds", "Time from arrival to "
                              "dispatch (waiting for the event loop)", (), LATENCY_BUCKETS)
        self._queued = self.queued.histogram()  # unlabelled: exposed from the start
        self.lane_latency = _Family("voxmem_recall_lane_seconds", "Recall time per lane",
                                    ("lane",), LATENCY_BUCKETS)
        self.degraded = _Family("voxmem_search_degraded", "Searches answered degraded, by "
                                "reason (deadline, overload or lane_error)", ("reason",))
        r.register(_RequestCollector(
            (self.requests, self.latency, self.queued, self.lane_latency, self.degraded)))
        self.saturated_gauge = Gauge("voxmem_saturated", "1 while the runtime cannot keep "
                                     "up (requests queue or searches hit their deadline)",
                                     registry=r)
        self.queued_avg_gauge = Gauge("voxmem_queued_avg_seconds", "Moving average of "
                                      "time spent queued before dispatch", registry=r)
        self.loop_lag_gauge = Gauge("voxmem_loop_lag_seconds", "Moving average of how "
                                    "late the event loop runs a timer", registry=r)
        self._status_classes = {status: f"{status}xx" for status in range(1, 6)}
        ProcessCollector(registry=r)  # process_resident_memory_bytes, cpu, open fds
        # Read at scrape time: a gauge set twice per request costs two locked updates on
        # the hot path for a figure only a scrape looks at.
        r.register(_EngineCollector(engine_stats, lambda: self._in_flight))

    # -- recording ---------------------------------------------------------------------
    def started(self, received_at: float | None) -> float:
        """A request reached its handler; returns its arrival (epoch seconds)."""
        now = time.time()
        arrived = now if received_at is None else min(received_at, now)
        waited = now - arrived
        self._queued.observe(waited, LATENCY_BUCKETS)
        self._queued_avg_ms += EWMA_ALPHA * (waited * 1000.0 - self._queued_avg_ms)
        self._in_flight += 1
        return arrived

    def finished(self, operation: str, arrived: float, status: int,
                 result: Any = None) -> None:
        """A request was answered with ``status`` (and ``result`` when it succeeded)."""
        self._in_flight -= 1
        status_class = status // 100
        self.requests.inc(operation, self._status_classes.get(status_class)
                          or f"{status_class}xx")
        self.latency.histogram(operation).observe(max(0.0, time.time() - arrived),
                                                  LATENCY_BUCKETS)
        trace = result.get("trace") if isinstance(result, dict) else None
        if isinstance(trace, dict):
            self._search_outcome(trace)
        if self._saturated() != self._was_saturated:
            state = self.saturation()
            # Once per change, not per request: an operator greps for these lines.
            self._was_saturated = state.saturated
            if state.saturated:
                # Every reason it can be saturated for: a line naming only two of them
                # read "queue 0 ms, 0% of searches" when the event loop lagged.
                log.warning("runtime saturated: requests queue %.0f ms on average, the "
                            "event loop runs %.0f ms late, %d saves wait, %.0f%% of "
                            "searches hit their deadline", state.queued_ms,
                            state.loop_lag_ms, state.saves_waiting,
                            state.deadline_degraded_share * 100)
            else:
                log.info("runtime keeps up again")

    def _search_outcome(self, trace: dict[str, Any]) -> None:
        lanes = self.lane_latency
        for lane, ms in (trace.get("lanes") or {}).items():
            lanes.histogram(lane).observe(float(ms) / 1000.0, LATENCY_BUCKETS)
        errors = trace.get("errors") or {}
        by_deadline = "deadline" in errors or "deadline" in errors.values()
        shed = "overload" in errors
        if trace.get("degraded"):
            self.degraded.inc("overload" if shed else "deadline" if by_deadline
                              else "lane_error")
        self._deadline_share += EWMA_ALPHA * (float(by_deadline or shed)
                                              - self._deadline_share)

    # -- reading -----------------------------------------------------------------------
    def _saturated(self) -> bool:
        return (self._queued_avg_ms >= SATURATED_QUEUE_MS
                or self.admission.lag.lag_ms >= SHED_LAG_START_MS
                or self.admission.saves_waiting > 0
                or self._deadline_share >= SATURATED_DEGRADED_SHARE)

    def saturation(self) -> Saturation:
        """The current verdict (also kept in the ``voxmem_saturated`` gauge)."""
        return Saturation(saturated=self._saturated(), queued_ms=self._queued_avg_ms,
                          deadline_degraded_share=self._deadline_share,
                          in_flight=self._in_flight,
                          loop_lag_ms=self.admission.lag.lag_ms,
                          shed_share=self.admission.shed_share,
                          saves_waiting=self.admission.saves_waiting)

    def exposition(self) -> bytes:
        """Everything in the Prometheus text format."""
        state = self.saturation()
        self.saturated_gauge.set(1 if state.saturated else 0)
        self.queued_avg_gauge.set(state.queued_ms / 1000.0)
        self.loop_lag_gauge.set(state.loop_lag_ms / 1000.0)
        return generate_latest(self.registry)
