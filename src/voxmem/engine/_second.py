"""Both embeddings side by side (``embedder="static+onnx"``): the second model's vectors
of caller memories, written off the hot path, and what recall ranks by them.

Every caller memory keeps the static table's vector (written by the applier, as with
``embedder="static"``) and the full MiniLM's as well. The full model costs ~4 ms of CPU
a text, so it never runs before a turn is searchable: once the applier has stored a
batch, :class:`SecondVectors` embeds its turns and facts on a worker thread, stores the
vectors in ``items.second_embedding`` and hands them to the warm caller indexes. Until
then a fresh memory is found by its words and the table's vector; it joins the full
model's ranking when its vector lands. A store that is down holds the writer: it keeps
the vectors it made and writes them again, with backoff, until the store takes them.
Rows the writer never reached (the process stopped) are found by their
``second_embedding_model`` at the next start and embedded then
(``_reembed.reembed_missing``), and so is every row after a change of the second model.
Org knowledge stays on the table alone.

At query time the full model embeds the query on a lane thread while the keyword phase
runs; its cosine ranking is a third list of the reciprocal-rank fusion
(``_rank.rrf``). docs/recall.md ("Both embeddings, shipped") has the measurements.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

import numpy as np

from .._config import Settings
from .._exceptions import VoxmemError
from ..embeddings import Embedder
from ..models import Scope
from ..store import Store, WriteBatch
from ._caller_memory import CallerCache
from ._fusion_model import FusionModel
from ._index import FloatArray
from ._rank import RankParams
from ._reembed import reembed_missing
from ._topic import TopicModel
from ._vectors import Scan

__all__ = ["SECOND_COLUMN", "SECOND_FLOOR", "SECOND_SHARE", "SECOND_WAIT_SHARE",
           "TABLE_SHARE", "SecondQuery", "SecondVectors", "fusion_name", "rank_params",
           "side_by_side_params"]

log = logging.getLogger("voxmem.engine.second")

#: The store column of the second model's vectors (its model's name is beside it).
SECOND_COLUMN = "second_embedding"
#: The table's and the full model's weights in fusion, as shares of the ``dense_weight``
#: setting (0.5 by default: 0.25 and 0.75, the pair measured best on the dev data; at
#: an even split the table's ranking outvotes the full model on exactly the questions
#: where the table's word knowledge is the miss; docs/recall.md, "A fifth round").
TABLE_SHARE = 0.5
SECOND_SHARE = 1.5
#: The full model's floor: a hit only its ranking finds needs at least this cosine.
#: Lower than the table's ``dense_floor`` (0.3): MiniLM's cosines run lower.
SECOND_FLOOR = 0.15
#: The share of a search's deadline the caller lanes wait for the full model's query
#: vector; past it they rank without the third list (the trace says ``fullModel:
#: "deadline"``) and keep the rest of the budget for ranking.
SECOND_WAIT_SHARE = 0.5
#: Texts embedded per hop to the worker thread.
WRITE_BATCH = 32
#: Backoff between writes a down store refused: first wait, growth factor, longest wait.
RETRY_FIRST_S, RETRY_FACTOR, RETRY_MAX_S = 0.5, 2.0, 30.0


def side_by_side_params(params: RankParams) -> RankParams:
    """``params`` for recall with both embeddings: the table's list and the full model's
    share ``2 * dense_weight`` as :data:`TABLE_SHARE` and :data:`SECOND_SHARE`."""
    return dataclasses.replace(params, dense_weight=params.dense_weight * TABLE_SHARE,
                               second_weight=params.dense_weight * SECOND_SHARE,
                               second_floor=SECOND_FLOOR)


def rank_params(s: Settings, fusion: FusionModel | None, topic: TopicModel | None,
                side_by_side: bool) -> RankParams:
    """Recall's ranking constants from the settings (both embeddings: see
    :func:`side_by_side_params`)."""
    params = RankParams(rrf_k=s.rrf_k, recency_weight=s.recency_weight,
                        half_life_days=s.recency_half_life_days,
                        dense_weight=s.dense_weight, dense_floor=s.dense_floor,
                        fusion=fusion, topic=topic)
    return side_by_side_params(params) if side_by_side else params


def fusion_name(embedder: Embedder, second: Embedder | None) -> str:
    """The name the learned fusion's weights are kept under: the embedder's, or both
    models' joined by "+" (``fusion_weights.json``; the third list changes ``fused``)."""
    return embedder.name if second is None else f"{embedder.name}+{second.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class _Row:
    scope: Scope
    item_id: str
    text: str


class SecondVectors:
    """Embeds stored caller memories with the second model, in the background."""

    def __init__(self, store: Store, embedder: Embedder, callers: CallerCache) -> None:
        self._store = store
        self.embedder = embedder
        self._callers = callers
        self._queue: asyncio.Queue[_Row] = asyncio.Queue()
        #: rows queued and not written yet (in the queue or being embedded)
        self._open = 0
        self._idle = asyncio.Condition()
        self.written = 0
        self.failed = 0
        #: writes a down store refused and the writer made again
        self.retries = 0
        #: set once the start's sweep has embedded every row it found (or paused)
        self.swept = asyncio.Event()

    def stored(self, batch: WriteBatch) -> None:
        """The applier stored ``batch``: queue its turns and facts (on the event loop)."""
        rows = [_Row(w.scope, w.turn.event_id, w.turn.text) for w in batch.turns]
        rows += [_Row(f.scope, f.id, f.text) for f in batch.facts]
        self._open += len(rows)
        for row in rows:
            self._queue.put_nowait(row)

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued row is written (or failed); False if ``timeout`` ran
        out. For tests and benchmarks: the applier's rows first (``flush``), then this."""
        async with self._idle:
            try:
                await asyncio.wait_for(self._idle.wait_for(lambda: self._open == 0), timeout)
            except TimeoutError:
                return False
        return True

    def start(self, spawn: Callable[[Awaitable[None]], object]) -> None:
        """Start the writer and the sweep as background tasks (``Background.spawn``)."""
        spawn(self.run())
        spawn(self.sweep())

    async def sweep(self) -> None:
        """Embed the rows with no vector from the second model (a restart after rows
        were stored but not embedded, or a change of model); cached callers get them."""
        try:
            await reembed_missing(self._store, self.embedder, (("items", SECOND_COLUMN),),
                                  self._callers.set_second_anywhere)
        finally:
            self.swept.set()

    async def run(self) -> None:
        """Write queued rows' vectors until cancelled."""
        while True:
            rows = [await self._queue.get()]
            while len(rows) < WRITE_BATCH and not self._queue.empty():
                rows.append(self._queue.get_nowait())
            try:
                await self._write(rows)
            finally:
                self._open -= len(rows)
                async with self._idle:
                    self._idle.notify_all()

    async def _write(self, rows: list[_Row]) -> None:
        started = time.perf_counter()
        try:
            vectors = await asyncio.get_running_loop().run_in_executor(
                None, self.embedder.embed, [row.text for row in rows])
        except VoxmemError as exc:
            self.failed += len(rows)
            log.warning("second vectors of %d memories not made (%s); the next start "
                        "embeds them", len(rows), exc)
            return
        blobs = [(row.item_id, np.ascontiguousarray(vec).tobytes())
                 for row, vec in zip(rows, vectors, strict=True)]
        wait = RETRY_FIRST_S
        while True:
            try:
                await self._store.set_embeddings(blobs, self.embedder.name,
                                                 column=SECOND_COLUMN)
                break
            except VoxmemError as exc:
                if not exc.retryable:
                    # Refused for good: only the next start's sweep tries these rows.
                    # Search meanwhile ranks them by words and the table.
                    self.failed += len(rows)
                    log.warning("second vectors of %d memories not written (%s); the "
                                "next start embeds them", len(rows), exc)
                    return
                # The store is down: rows queued behind these wait too (they would fail
                # the same way), and every vector is written once it is back.
                self.retries += 1
                log.warning("second vectors of %d memories not written (%s); retrying "
                            "in %.1f s", len(rows), exc, wait)
                await asyncio.sleep(wait)
                wait = min(RETRY_MAX_S, wait * RETRY_FACTOR)
        for row, vec in zip(rows, vectors, strict=True):
            self._callers.set_second(row.scope, row.item_id, vec)
        self.written += len(rows)
        log.debug("second vectors of %d memories in %.1f ms", len(rows),
                  (time.perf_counter() - started) * 1000)


class SecondQuery:
    """The query's vector by the second model, waited for until a point of the
    search's deadline (:data:`SECOND_WAIT_SHARE`); what each caller lane got goes into
    the search's trace as ``fullModel``."""

    def __init__(self, task: asyncio.Future[tuple[FloatArray, Scan | None]] | None,
                 until: float) -> None:
        """``task``: ``LaneRunner.start_second``'s future (None: no second model or a
        blank query); ``until``: a ``time.perf_counter`` time."""
        self.task = task
        self.until = until
        #: lane -> "ranked" (with the third list), "deadline" or "failed" (without)
        self.lanes: dict[str, str] = {}

    def pending(self) -> bool:
        """Whether the vector is still being computed."""
        return self.task is not None and not self.task.done()

    def _got(self) -> tuple[FloatArray, Scan | None] | None:
        task = self.task
        if task is None or not task.done() or task.cancelled() or task.exception():
            return None
        return task.result()

    def now(self, lane: str) -> FloatArray | None:
        """The vector if it is at hand (never waits)."""
        task = self.task
        if task is None:
            return None
        if not task.done():
            self.lanes[lane] = "deadline"
            return None
        got = self._got()
        if got is None:
            self.lanes[lane] = "failed"
            return None
        self.lanes[lane] = "ranked"
        return got[0]

    @property
    def scan(self) -> Scan | None:
        """The caller index's second matrix scored for the vector on the thread that
        computed it, if it was begun (``LaneRunner.start_second``)."""
        got = self._got()
        return None if got is None else got[1]

    async def vector(self, lane: str) -> FloatArray | None:
        """The vector, waited for until ``until`` at most; None past it."""
        if self.task is not None and not self.task.done():
            await asyncio.wait([self.task], timeout=max(0.0, self.until - time.perf_counter()))
        return self.now(lane)

    def finish(self) -> dict[str, str] | None:
        """Cancel a computation no lane waits for any more (and a scan no lane used);
        the trace's ``fullModel``."""
        task = self.task
        if task is not None:
            if not task.done():
                task.cancel()
            elif (scan := self.scan) is not None:
                scan.cancel()
        return dict(self.lanes) if task is not None else None
