"""Where recall's CPU work runs: inline on the event loop when cheap, on lane threads
otherwise; and the query's embedding."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from ..embeddings import Embedder, query_side
from ._index import FloatArray, HybridIndex
from ._recall import Query
from ._vectors import Scan

__all__ = ["INLINE_LANE_ROWS", "THREADED_GRAPH_MIN", "THREADED_SCAN_MIN", "LaneRunner"]

LANE_THREADS = 4
#: Lanes whose search touches at most this many rows (vectors + postings; ~2 ms of numpy
#: on a slow core) run inline on the event loop; see :meth:`LaneRunner.run`.
INLINE_LANE_ROWS = 60_000
#: An approximate (graph) index of at least this many vectors has its graph walked on a
#: lane thread, beside the caller lanes, even when its search is cheap enough to run
#: inline: the walk releases the GIL, so it costs the event loop nothing there. Measured
#: (ef 512, M 16, 384 dimensions, CPU per walk): 500 vectors ~110 us, 2,000 ~200 us,
#: 10,000 and more ~330 us on random clustered vectors, ~800 us on the 100,000 real
#: chunks of ``benchmarks/search_profile.py``; the hop to a thread and the org lane's
#: task cost the loop ~80 us. Below this size the walk is left inline (a small
#: project's org lane answers in one go, without a task).
THREADED_GRAPH_MIN = 5_000
#: A caller index of at least this many rows has its vectors scored on a lane thread
#: (``_vectors.Scan``) while the loop does the search's other work. Measured, CPU: the
#: hand-off costs the loop ~20 us (submit and result), the scan ~0.05-0.09 us a row at
#: 384 dimensions (0.5-0.9 ms at 10,000 rows), so from this size it is ~5x the hop.
THREADED_SCAN_MIN = 2_000

T = TypeVar("T")


class LaneRunner:
    """The lane threads of one engine, and the embedder queries are embedded with."""

    def __init__(self, embedder: Embedder, second: Embedder | None = None) -> None:
        """``second``: the second model of ``embedder="static+onnx"``, which embeds
        the query as well (:meth:`start_second`)."""
        # Only the query is embedded here; a pairing embeds it with its query model.
        self._embedder = query_side(embedder)
        self._second = second
        self._threads = ThreadPoolExecutor(LANE_THREADS, thread_name_prefix="voxmem-lane")

    @property
    def has_second(self) -> bool:
        """Whether queries are embedded by a second model too (:meth:`start_second`)."""
        return self._second is not None

    async def embed_query(self, text: str) -> FloatArray | None:
        """The query's vector (None for a blank query)."""
        return await self.start_embedding(text)

    def start_embedding(self, text: str) -> asyncio.Future[FloatArray | None]:
        """Start embedding the query now; the future holds its vector (None if blank).

        A cheap embedder runs inline (a thread hop would cost more than the work). Any
        other goes to a lane thread at once, before the lanes are even set up:
        onnxruntime releases the GIL while it computes, so the lanes' keyword searches
        run on the event loop meanwhile (see ``Recall``) and the embedding's
        milliseconds overlap them instead of adding to them.
        """
        loop = asyncio.get_running_loop()
        if not text.strip() or self._embedder.cheap:
            done: asyncio.Future[FloatArray | None] = loop.create_future()
            try:
                done.set_result(self._first_vector(text) if text.strip() else None)
            except Exception as exc:  # reported by the lanes that wait for the vector
                done.set_exception(exc)
            return done
        return loop.run_in_executor(self._threads, self._first_vector, text)

    def start_second(self, text: str, index: HybridIndex | None = None,
                     ) -> asyncio.Future[tuple[FloatArray, Scan | None]] | None:
        """Start embedding the query by the second model on a lane thread (as
        :meth:`start_embedding` does for a model that is not cheap); None when there is
        no second model or the query is blank. The future holds the vector and, for an
        ``index`` of at least :data:`THREADED_SCAN_MIN` rows, the scan of its second
        matrix for it (``HybridIndex.start_second_scan``), which the same thread runs
        right after handing the vector over: the loop ranks the working lane and the
        org lane meanwhile, and the permanent lane takes the scores (``Scan.scores``
        scores itself what the thread has not reached).
        """
        if self._second is None or not text.strip():
            return None
        loop = asyncio.get_running_loop()
        got: asyncio.Future[tuple[FloatArray, Scan | None]] = loop.create_future()
        second = self._second
        scan_it = index is not None and index.rows >= THREADED_SCAN_MIN

        def deliver(vector: FloatArray | None, scan: Scan | None,
                    exc: BaseException | None) -> None:
            if got.done():  # the search is over (it cancelled the future)
                if scan is not None:
                    scan.cancel()
            elif exc is not None:
                got.set_exception(exc)
            else:
                assert vector is not None
                got.set_result((vector, scan))

        def work() -> None:
            vector: FloatArray | None
            scan: Scan | None
            failed: BaseException | None
            try:
                vector = second.embed([text])[0]
                scan = (index.start_second_scan(vector)
                        if scan_it and index is not None else None)
            except BaseException as exc:  # reported by the lanes that wait for it
                vector, scan, failed = None, None, exc
            else:
                failed = None
            try:
                loop.call_soon_threadsafe(deliver, vector, scan, failed)
            except RuntimeError:  # the engine closed its loop: no search waits
                return
            if scan is not None:
                scan.run()  # stops at its next block once taken over or cancelled

        job = self._threads.submit(work)
        # A search over before a thread took the job drops it (as run_in_executor does).
        got.add_done_callback(lambda fut: job.cancel() if fut.cancelled() else None)
        return got

    def _first_vector(self, text: str) -> FloatArray:
        first: FloatArray = self._embedder.embed([text])[0]
        return first

    async def run(self, index: HybridIndex, q: Query, fn: Callable[..., T],
                  *args: Any) -> T:
        """Run a lane function inline when it is cheap, on a lane thread otherwise.

        A warm lane costs well under a millisecond or two of numpy. Handing it to a
        thread costs more than that under load: the loop and up to four lane threads
        then contend for the GIL (a waiter can sit out a whole switch interval, 5 ms by
        default) on a host with few cores; measured, search_memory p50 fell from ~8 to
        ~3 ms running inline. Only a search large enough to matter against the deadline
        (an unusually large caller index) still goes to a thread, so the deadline can
        drop it.
        """
        if self.cheap(index, q):
            return fn(*args)
        return await self.on_thread(fn, *args)

    @staticmethod
    def cheap(index: HybridIndex, q: Query) -> bool:
        """Whether a search of ``index`` for ``q`` runs inline (see :meth:`run`)."""
        return index.search_cost(q.terms, q.vector is not None) <= INLINE_LANE_ROWS

    @staticmethod
    def walk_on_thread(index: HybridIndex, q: Query) -> bool:
        """Whether a graph index's vector search for ``q`` should run on a lane thread
        while the loop does other work (see :data:`THREADED_GRAPH_MIN`)."""
        ann = index.vectors.ann
        if ann is None:
            return False
        return len(ann) >= THREADED_GRAPH_MIN or not LaneRunner.cheap(index, q)

    def start_scan(self, index: HybridIndex, q: Query) -> Scan | None:
        """Start scoring ``index``'s vectors for ``q`` on a lane thread, to hand to its
        search as ``Query.scan``; None when there is nothing to gain (no vector, a
        graph index, or fewer than :data:`THREADED_SCAN_MIN` rows).

        numkong's kernel releases the GIL, so the scan runs beside the event loop; a
        search that needs the scores before a thread has taken the scan computes them
        itself (``Scan.scores``), so a busy pool costs no wait.
        """
        if q.vector is None or index.rows < THREADED_SCAN_MIN:
            return None
        scan = index.start_scan(q.vector)
        if scan is not None:
            scan.future = self._threads.submit(scan.run)
        return scan

    async def on_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on a lane thread."""
        return await self.start(fn, *args)

    def start(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Start ``fn`` on a lane thread now; the future holds its result."""
        return asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Start ``fn`` on a lane thread now, as the executor's own future: unlike the
        loop's (:meth:`start`), its ``cancel()`` says whether the work was dropped, so
        a caller can do the work itself when no thread has started it yet."""
        return self._threads.submit(fn, *args)

    def shutdown(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
