"""``/metrics`` (Prometheus text, behind the token) and the runtime under forced overload:
searches answer degraded at their deadline, every acknowledged save is stored, and the
runtime says it is saturated."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from voxmem._config import Settings
from voxmem.embeddings import Vectors
from voxmem.embeddings.hashing import HashingEmbedder
from voxmem.engine import MemoryEngine
from voxmem.runtime import create_app

TOKEN = "metrics-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
IDENT = {"project_id": "proj", "agent_id": "agent"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, keyed by name and sorted labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_metrics_need_the_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/metrics")
    assert response.status_code == 401
    assert "voxmem_" not in response.text


async def test_metrics_count_requests_lanes_and_write_path(http: httpx.AsyncClient) -> None:
    user = {"id": "caller-metrics"}
    saved = await http.post("/v1/memory/turns", headers=AUTH, json={
        **IDENT, "user": user, "user_text": "my parcel goes to 27 Elm Road",
        "assistant_text": "noted"})
    assert saved.status_code == 200, saved.text
    found = await http.post("/v1/memory/search", headers=AUTH, json={
        **IDENT, "user": user, "query": "where does my parcel go", "timeout_ms": 5000})
    assert found.status_code == 200, found.text
    bad = await http.post("/v1/memory/search", headers=AUTH, json={**IDENT, "user": user})
    assert bad.status_code == 400

    response = await http.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(response.text)
    assert got[("voxmem_requests_total", (("operation", "save_response"),
                                          ("status", "2xx")))] == 1
    assert got[("voxmem_requests_total", (("operation", "search_memory"),
                                          ("status", "2xx")))] == 1
    assert got[("voxmem_requests_total", (("operation", "search_memory"),
                                          ("status", "4xx")))] == 1
    assert got[("voxmem_request_seconds_count", (("operation", "search_memory"),))] == 2
    lanes = found.json()["trace"]["lanes"]
    assert lanes, "the search ran lanes"
    for lane in lanes:
        assert got[("voxmem_recall_lane_seconds_count", (("lane", lane),))] == 1
    assert got[("process_resident_memory_bytes", ())] > 0
    assert ("voxmem_journal_lag_records", ()) in got
    assert ("voxmem_applier_backlog", ()) in got
    assert ("voxmem_quarantined_records", ()) in got
    assert got[("voxmem_saturated", ())] == 0
    info = (await http.get("/v1/runtime", headers=AUTH)).json()
    assert info["saturation"]["saturated"] is False


class PausedEmbedder:
    """An embedding model that hangs until released, as a remote embedding endpoint
    does when it is overloaded (an external service): every search's query embedding
    waits, so the runtime has more work than it can finish in any deadline."""

    cheap = False

    def __init__(self) -> None:
        self._inner = HashingEmbedder()
        self.name = self._inner.name
        self.dimensions = self._inner.dimensions
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.release.wait()
        return self._inner.embed(texts)


SEARCHES = 12
SAVES = 12


async def test_forced_overload_degrades_searches_keeps_saves_and_reports_saturation(
        settings: Settings) -> None:
    embedder = PausedEmbedder()
    engine = MemoryEngine(settings, embedder=embedder)
    await engine.start()
    try:
        app = create_app(engine, token=TOKEN)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://runtime") as http:
            def search(n: int) -> asyncio.Future[httpx.Response]:
                return asyncio.ensure_future(http.post("/v1/memory/search", headers=AUTH, json={
                    **IDENT, "user": {"id": f"caller-{n % 3}"}, "query": "parcel address",
                    "lanes": ["working", "permanent", "org"], "timeout_ms": 50}))

            def save(n: int) -> asyncio.Future[httpx.Response]:
                return asyncio.ensure_future(http.post("/v1/memory/turns", headers=AUTH, json={
                    **IDENT, "user": {"id": f"caller-{n % 3}"},
                    "user_text": f"turn number {n} about my parcel",
                    "assistant_text": "noted"}))

            answers = await asyncio.gather(*(search(n) for n in range(SEARCHES)),
                                           *(save(n) for n in range(SAVES)))
            searches, saves = answers[:SEARCHES], answers[SEARCHES:]
            for response in searches:
                assert response.status_code == 200, response.text
                trace = response.json()["trace"]
                assert trace["degraded"] is True
                assert "deadline" in trace["errors"] or "deadline" in trace["errors"].values()
            assert all(r.status_code == 200 for r in saves), [r.text for r in saves]

            got = samples((await http.get("/metrics", headers=AUTH)).text)
            assert got[("voxmem_search_degraded_total", (("reason", "deadline"),))] == SEARCHES
            assert got[("voxmem_saturated", ())] == 1
            info = (await http.get("/v1/runtime", headers=AUTH)).json()
            assert info["saturation"]["saturated"] is True

        # The embedding model recovers: every acknowledged turn reaches the store.
        embedder.release.set()
        assert await engine.flush(timeout=60)
        stored = 0
        for n in range(3):
            scope = engine.scope(project_id="proj", agent_id="agent", user_id=f"caller-{n}")
            items = await engine.store.load_items(scope, engine.clock())
            stored += sum(1 for item in items if item.kind == "turn")
        assert stored == SAVES
    finally:
        embedder.release.set()
        await engine.close()


async def test_concurrent_first_saves_of_a_caller_open_one_call(engine: MemoryEngine) -> None:
    """Found under load: a caller's first turns arriving together each opened a call of
    their own, and on a shared store (Postgres) a save failed with an internal error."""
    scope = engine.scope(project_id="proj", agent_id="agent", user_id="caller-burst")
    from voxmem.models import Caller

    ids = await asyncio.gather(*(engine.save_response(
        scope, Caller("caller-burst"), user_text=f"turn {n}", assistant_text="ok")
        for n in range(6)))
    assert all(ids)
    assert await engine.flush(timeout=60)
    sessions = await engine.store.recent_sessions(scope, 10)
    assert len(sessions) == 1
    items = await engine.store.load_items(scope, engine.clock())
    assert sum(1 for item in items if item.kind == "turn") == 6


def test_request_families_expose_what_prometheus_client_would() -> None:
    """The runtime counts requests in plain Python; a scrape must read the very samples
    prometheus_client's own Counter and Histogram give for the same observations
    (bucket bounds inclusive, cumulative counts, ``_total``, ``_count``, ``_sum``)."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from voxmem.runtime._metrics import LATENCY_BUCKETS, RuntimeMetrics

    ours = RuntimeMetrics(lambda: {"journalSeq": 0, "appliedSeq": 0, "backlog": 0,
                                   "cachedCallers": 0})
    reference = CollectorRegistry()
    requests = Counter("voxmem_requests", "x", ["operation", "status"], registry=reference)
    lanes = Histogram("voxmem_recall_lane_seconds", "x", ["lane"], buckets=LATENCY_BUCKETS,
                      registry=reference)
    degraded = Counter("voxmem_search_degraded", "x", ["reason"], registry=reference)
    # Values on and either side of bucket bounds, and past the last one.
    for ms in (0.5, 1.0, 1.5, 2.0, 5.0, 20.0, 20.5, 999.0, 10_000.0, 12_000.0):
        arrived = ours.started(None)
        trace = {"lanes": {"caller": ms}, "degraded": ms > 100,
                 "errors": {"caller": "deadline"} if ms > 100 else {}}
        ours.finished("search_memory", arrived, 200, {"trace": trace})
        requests.labels("search_memory", "2xx").inc()
        lanes.labels("caller").observe(ms / 1000.0)
        if ms > 100:
            degraded.labels("deadline").inc()
    ours.finished("save_response", ours.started(None), 400)
    requests.labels("save_response", "4xx").inc()

    got, want = (samples(text) for text in (ours.exposition().decode(),
                                             generate_latest(reference).decode()))
    compared = [key for key in want
                if not key[0].endswith(("_created", "_sum"))
                and not key[0].startswith("voxmem_request_seconds")]
    assert len(compared) == 17  # 13 buckets and a count, 2 + 1 counters
    assert {key: got[key] for key in compared} == {key: want[key] for key in compared}
    for key in want:  # every series is there, with its creation time
        assert key in got
    lane_sum = ("voxmem_recall_lane_seconds_sum", (("lane", "caller"),))
    assert abs(got[lane_sum] - want[lane_sum]) < 1e-9
    # Arrival-to-answer times differ run to run: their counts only.
    assert got[("voxmem_request_seconds_count", (("operation", "search_memory"),))] == 10
    assert got[("voxmem_request_seconds_count", (("operation", "save_response"),))] == 1


def test_the_saturation_warning_names_the_lagging_event_loop(
        caplog: pytest.LogCaptureFixture) -> None:
    """Saturated by a late event loop alone, the warning used to read "requests queue
    0 ms on average, 0% of searches hit their deadline": it named only the other causes
    (seen in a real runtime's log on a loaded host)."""
    from voxmem.runtime._admission import Admission, LoopLag
    from voxmem.runtime._metrics import RuntimeMetrics

    lag = LoopLag()
    metrics = RuntimeMetrics(lambda: {}, Admission(lag))
    lag.lag_ms = 480.0
    with caplog.at_level(logging.WARNING, logger="voxmem.runtime"):
        metrics.finished("save_response", metrics.started(None), 200)
    [line] = [r.getMessage() for r in caplog.records if "saturated" in r.getMessage()]
    assert "event loop runs 480 ms late" in line
