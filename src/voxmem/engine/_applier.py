"""The write path behind the journal: embed, then apply to the store, in order.

Records reach the applier right after they are durable in the journal. It takes what is
waiting (up to ``index_batch_size`` turns), embeds the texts on a worker thread, hands
the vectors to the warm caller indexes, and writes one :class:`WriteBatch` to the store
together with the journal position it covers. If the store is unavailable the batch is
retried with backoff, in order; nothing is dropped, and on restart the journal tail past
the store's position is replayed. A record the store refuses for a reason that is not an
outage (bad data) is found by applying the batch one record at a time and quarantined:
kept in the store's quarantine table, logged, counted in the engine's stats, and
retryable by an operator, while later records go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .._exceptions import VoxmemError
from ..embeddings import Embedder
from ..models import Scope, Turn
from ..store import (
    JournalWrite,
    QuarantinedRecord,
    Store,
    TurnWrite,
    WriteBatch,
    add_to_batch,
    decode_record,
    scope_from_record,
    scope_to_record,
    turn_from_record,
    turn_to_record,
)
from ._index import FloatArray
from ._pending import PendingWrites
from ._topic import Tokens, TopicModel, TurnEmbedding

__all__ = ["Applier", "scope_from_record", "scope_to_record", "turn_from_record",
           "turn_to_record"]

log = logging.getLogger("voxmem.engine.writer")

RETRY_MIN_S = 0.05
RETRY_MAX_S = 5.0
#: On close, how long the applier may go without storing a record before it leaves the
#: rest to the journal (replayed at the next start). A long backlog that keeps moving is
#: drained whatever its size; only a store that stopped taking writes ends the wait.
DRAIN_STALL_S = 30.0


def _caller_and_turn(record: dict[str, Any]) -> tuple[Scope, Turn | None] | None:
    """The record's caller and (for a turn record) turn; None for a malformed record."""
    try:
        scope = scope_from_record(record["scope"])
        turn = turn_from_record(record["turn"]) if record.get("type") == "turn" else None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return scope, turn


#: Told the vector of a turn once it is embedded: (caller, event id, vector, the turn's
#: text, its topic tokens when the embedding read them).
VectorSink = Callable[[Scope, str, FloatArray, str, Tokens | None], None]


@dataclasses.dataclass(frozen=True, slots=True)
class _Queued:
    """A durable record on its way to the store, with what it says already decoded.

    A record journaled by this process arrives with the typed write it was encoded
    from, so the applier neither decodes it again nor re-reads its caller (three passes
    over every saved turn before); a replayed record is decoded once, here.
    """

    record: dict[str, Any]
    #: The typed write, or None for a record that does not decode (quarantined).
    write: JournalWrite | None
    #: (caller, turn) as noted in the pending writes; None when the record has none.
    caller: tuple[Scope, Turn | None] | None
    #: Why ``write`` is None: the decode error, raised again when the batch is prepared.
    error: Exception | None = None

    @property
    def seq(self) -> int:
        return int(self.record["seq"])


def _queued(record: dict[str, Any], write: JournalWrite | None) -> _Queued:
    if write is None:
        try:
            write = decode_record(record)
        except Exception as exc:  # MalformedRecord and worse: isolated and quarantined
            return _Queued(record, None, _caller_and_turn(record), exc)
    turn = write.turn if isinstance(write, TurnWrite) else None
    return _Queued(record, write, (write.scope, turn))


class Applier:
    """Moves journal records into the store, in sequence order, in batches.

    Given the store, the embedder, the :class:`PendingWrites` it keeps up to date and
    where to hand each turn's vector (the warm caller indexes); it knows nothing else
    of the engine.
    """

    def __init__(self, store: Store, embedder: Embedder, pending: PendingWrites,
                 on_vector: VectorSink, batch_size: int,
                 clock: Callable[[], float], *, topic: TopicModel | None = None,
                 on_stored: Callable[[WriteBatch], None] | None = None) -> None:
        """``topic``: the topic features' model; when it reads the embedder's tokens, a
        batch of turns is embedded and their topic tokens read in one tokenizer pass
        (``TopicModel.turn_embedding``), otherwise the turns are embedded alone.
        ``on_stored``: told each batch once it is in the store (the second model's
        writer of ``embedder="static+onnx"``, ``_second.py``)."""
        self._on_stored = on_stored
        self._store = store
        self._embedder = embedder
        self._embed_turns: TurnEmbedding | None = (
            None if topic is None else topic.turn_embedding(embedder))
        self._pending = pending
        self._on_vector = on_vector
        self._batch_size = batch_size
        self._clock = clock
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._applied_seq = 0
        self._enqueued_seq = 0
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.turns_applied = 0
        #: Records set aside because the store refused them (not an outage).
        self.quarantined = 0
        self.last_error: str | None = None

    @property
    def applied_seq(self) -> int:
        return self._applied_seq

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def start(self, applied_seq: int) -> None:
        self._applied_seq = applied_seq
        self._enqueued_seq = max(self._enqueued_seq, applied_seq)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="voxmem-applier")

    def submit(self, record: dict[str, Any], write: JournalWrite | None = None) -> None:
        """Queue a durable record (it must carry its journal ``seq``).

        ``write`` is the typed write ``record`` was encoded from, when the caller has it
        (a fresh write rather than a replayed one); it saves decoding the record again.
        """
        entry = _queued(record, write)
        if entry.caller is not None:  # else malformed: the applier quarantines it
            self._pending.add(*entry.caller)
        self._enqueued_seq = max(self._enqueued_seq, entry.seq)
        self._queue.put_nowait(entry)

    async def wait_applied(self, seq: int | None = None, timeout: float | None = None) -> bool:
        """Wait until every record up to ``seq`` (default: all submitted) is stored."""
        target = self._enqueued_seq if seq is None else seq

        async def waiter() -> None:
            async with self._progress:
                await self._progress.wait_for(lambda: self._applied_seq >= target)

        try:
            await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            return False
        return True

    async def aclose(self, stall_timeout: float = DRAIN_STALL_S) -> None:
        """Store everything queued while it keeps moving, then stop.

        Gives up only after ``stall_timeout`` seconds in which no record was stored;
        what is left stays in the journal.
        """
        if self._task is None:
            return
        mark = self._applied_seq
        while not await self.wait_applied(timeout=stall_timeout):
            if self._applied_seq == mark:
                log.warning("closing with %d journaled records not stored: the store took "
                            "none in %.0f s; the next start replays them",
                            self._enqueued_seq - self._applied_seq, stall_timeout)
                break
            mark = self._applied_seq
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            records = [await self._queue.get()]
            turns = 1 if isinstance(records[0].write, TurnWrite) else 0
            while not self._queue.empty() and turns < self._batch_size:
                record = self._queue.get_nowait()
                records.append(record)
                turns += isinstance(record.write, TurnWrite)
            await self._apply(records)

    async def _apply(self, records: list[_Queued]) -> None:
        """Store ``records`` in order: wait out outages, set poison records aside."""
        delay = RETRY_MIN_S
        try:
            batch, _vectors = await self._prepare(records)
        except Exception as exc:  # a malformed record: it will never prepare
            await self._isolate(records, exc)
            return
        while True:
            try:
                await self._store.write(batch)
                break
            except VoxmemError as exc:
                if not exc.retryable:
                    await self._isolate(records, exc)
                    return
                # The records are durable in the journal; keep them in order and wait
                # for the store to come back rather than skip ahead.
                self.last_error = str(exc)
                log.warning("store write failed (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            except Exception as exc:  # the same input fails the same way: isolate it
                log.exception("applying journal records failed")
                await self._isolate(records, exc)
                return
        self.last_error = None
        await self._applied(records, batch)

    async def _isolate(self, records: list[_Queued], exc: BaseException) -> None:
        """Find the record(s) the store refuses by applying one at a time.

        Only a refusal that is not an outage gets here (bad data, a constraint), so the
        same record would fail forever and hold back every later write of every caller.
        """
        if len(records) > 1:
            for record in records:
                await self._apply([record])
            return
        await self._quarantine(records[0], exc)

    async def _quarantine(self, entry: _Queued, exc: BaseException) -> None:
        """Keep the record in the store's quarantine (retryable by an operator), move on."""
        record = entry.record
        reason = exc.message if isinstance(exc, VoxmemError) else repr(exc)
        scope: Scope | None
        try:
            scope = scope_from_record(record["scope"])
        except (KeyError, TypeError):
            scope = None
        kept = QuarantinedRecord(seq=entry.seq, error=reason[:2000],
                                 record=json.dumps(record, ensure_ascii=True),
                                 at=self._clock(), scope=scope)
        delay = RETRY_MIN_S
        while True:
            try:
                await self._store.quarantine(kept)
                break
            except VoxmemError as err:
                # Only an outage can stop this write; wait for the store like any other.
                self.last_error = str(err)
                log.warning("quarantining journal record %d failed (%s); retrying",
                            kept.seq, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        log.error("journal record %d (%s) quarantined: the store refused it: %s. Later "
                  "writes go on; retry it with MemoryEngine.retry_quarantined(%d)",
                  kept.seq, record.get("type"), reason, kept.seq)
        self.quarantined += 1
        self.last_error = None
        await self._applied([entry], WriteBatch())

    async def _applied(self, records: list[_Queued], batch: WriteBatch) -> None:
        for entry in records:
            if entry.caller is not None:  # noted in submit() exactly then
                self._pending.settle(*entry.caller)
        self.turns_applied += len(batch.turns)
        if self._on_stored is not None and (batch.turns or batch.facts):
            self._on_stored(batch)
        async with self._progress:
            self._applied_seq = max(self._applied_seq, records[-1].seq)
            self._progress.notify_all()

    async def _prepare(self, records: list[_Queued]) -> tuple[WriteBatch, Any]:
        batch = WriteBatch(embedding_model=self._embedder.name,
                           applied_seq=records[-1].seq)
        turn_scopes: list[Scope] = []
        turns: list[Turn] = []
        for entry in records:
            write = entry.write
            if write is None:  # did not decode: isolated and quarantined
                assert entry.error is not None
                raise entry.error
            if isinstance(write, TurnWrite):
                # Embedded below, all of the batch's turns in one call.
                turn_scopes.append(write.scope)
                turns.append(write.turn)
            else:
                add_to_batch(batch, write)
        vectors = None
        tokens: list[Tokens] | None = None
        if turns:
            loop = asyncio.get_running_loop()
            started = time.perf_counter()
            texts = [t.text for t in turns]
            try:
                if self._embed_turns is not None:
                    vectors, tokens = await loop.run_in_executor(None, self._embed_turns, texts)
                else:
                    vectors = await loop.run_in_executor(None, self._embedder.embed, texts)
            except VoxmemError as exc:
                # A remote embedder being down must not hold up durability: store the
                # text now, the vector is filled in later by the re-embed sweep.
                log.warning("embedding %d turns failed (%s); storing without vectors",
                            len(turns), exc)
            log.debug("embedded %d turns in %.1f ms", len(turns),
                      (time.perf_counter() - started) * 1000)
        for i, (scope, turn) in enumerate(zip(turn_scopes, turns, strict=True)):
            vec = None if vectors is None else np.ascontiguousarray(vectors[i])
            batch.turns.append(TurnWrite(scope=scope, turn=turn,
                                         embedding=None if vec is None else vec.tobytes()))
            if vec is not None:
                self._on_vector(scope, turn.event_id, vec, turn.text,
                                None if tokens is None else tokens[i])
        await self._embed_facts(batch)
        return batch, vectors

    async def _embed_facts(self, batch: WriteBatch) -> None:
        """Store the batch's facts with their vectors, as the learning that wrote them
        indexed them in the caller's warm memory.

        Stored without, a fact reloaded from the store (the caller evicted, dropped on
        opening a call, a restart before the re-embed sweep) had no vector: it left the
        vector ranking, which shifted every hit's score (0.064354 warm, 0.065761
        reloaded for the same hits). The same embedder over the same text gives the
        warm vector: the journal record need not carry 384 floats per fact.
        """
        missing = [i for i, fact in enumerate(batch.facts) if fact.embedding is None]
        if not missing:
            return
        try:
            vectors = await asyncio.get_running_loop().run_in_executor(
                None, self._embedder.embed, [batch.facts[i].text for i in missing])
        except VoxmemError as exc:  # as for turns: the re-embed sweep fills them later
            log.warning("embedding %d facts failed (%s); storing without vectors",
                        len(missing), exc)
            return
        for i, vec in zip(missing, vectors, strict=True):
            batch.facts[i] = dataclasses.replace(
                batch.facts[i],
                embedding=np.ascontiguousarray(vec, dtype=np.float32).tobytes())
