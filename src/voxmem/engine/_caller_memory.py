"""Warm, in-memory state per caller, loaded from the store (org indexes: ``_org_memory``).

A caller's state is created on first touch and filled in the background; writes made
while it loads land in it at once (the index ignores the duplicates the load brings), so
a turn is searchable the moment ``save_response`` returns. The cache is an LRU bounded
by ``caller_cache_size``; evicting a caller only drops the cache, never data.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from .._log_ids import caller_ref
from ..models import CallerRecord, Fact, MemoryItem, Scope, Turn
from ..store import Store
from ._analysis import analyze
from ._docs import Doc, chunk_doc, decode_doc, encode_doc, fact_doc, turn_doc, vector_from_blob
from ._erasures import Erasures
from ._index import FloatArray, HybridIndex
from ._malloc import release_free_memory
from ._pending import PendingWrites
from ._topic import Tokens

# The Doc helpers are re-exported: they lived here before ``_docs``.
__all__ = ["CallerCache", "CallerMemory", "Doc", "build_memory", "chunk_doc", "decode_doc",
           "encode_doc", "fact_doc", "read_caller", "turn_doc", "vector_from_blob"]

log = logging.getLogger("voxmem.engine")

#: Index groups: facts and summaries get fixed codes; sessions get codes from 1 up.
FACT_GROUP = -1
SUMMARY_GROUP = -2
NO_SESSION_GROUP = 0

#: Rows indexed per worker-thread hop while loading (a few ms of work each).
LOAD_SLICE = 256
#: A load of at least this many items hands the allocator's free pages back afterwards,
#: at most once per ``TRIM_INTERVAL_S``. Loading 10,000 items leaves ~60 MB of freed
#: rows (text, embedding blobs, tokens) in glibc's heap, which stays resident until
#: trimmed (measured: RSS 480 -> 415 MB; the trim took ~20 ms on a worker thread).
#: Small loads leave little; and a trim walks the whole heap, so it is not run per call.
TRIM_AFTER_ITEMS = 2_000
TRIM_INTERVAL_S = 30.0

T = TypeVar("T")


class CallerMemory:
    """One caller's searchable memory, current session and profile."""

    def __init__(self, scope: Scope, dimensions: int, second_dimensions: int = 0) -> None:
        """``second_dimensions``: the second model's (embedder "static+onnx"), whose
        vectors the index then keeps beside the first's; 0: none."""
        self.scope = scope
        self.index = HybridIndex(dimensions, encode=encode_doc, decode=decode_doc)
        if second_dimensions:
            self.index.keep_second(second_dimensions)
        self.profile: dict[str, Any] = {}
        self.name: str | None = None
        self.session_id: str | None = None
        self.session_started_at: float | None = None
        self.ready = asyncio.Event()
        #: set once the load's index-time work for recall is done (see ``CallerCache``)
        self.primed = asyncio.Event()
        self.load_error: Exception | None = None
        self.last_used = time.monotonic()
        self.last_write = 0.0
        #: the warm load has been started (see ``CallerCache.get(defer_load=...)``)
        self.loading = False
        #: recall jobs on lane threads not finished yet (a search's deadline leaves them
        #: running, holding the index's locks): recall runs inline only when none are
        self.threads_busy = 0
        self._session_groups: dict[str, int] = {}
        #: turn id -> the id of the item that holds it (facts name their source turns)
        self.turn_items: dict[str, str] = {}
        #: the other way round: item id -> turn id, for turns that have one (recall reads
        #: a candidate's turn id here rather than unpacking its whole payload)
        self.item_turns: dict[str, str] = {}
        #: Fact lineages: a fact and every fact it superseded, transitively, share one
        #: key. turn id -> (lineage, whether the turn backs the lineage's current fact)
        self.turn_lineage: dict[str, tuple[str, bool]] = {}
        #: lineage -> id of its current fact; fact id -> lineage; fact id -> its turns
        self.lineage_current: dict[str, str] = {}
        self.fact_lineage: dict[str, str] = {}
        self.fact_sources: dict[str, tuple[str, ...]] = {}
        #: second-model vectors that arrived while the caller loaded (see ``set_second``)
        self.early_second: dict[str, FloatArray] = {}
        #: first-model vectors the re-embedding sweep stored while the caller loaded
        self.early_first: dict[str, FloatArray] = {}

    def group_of(self, session_id: str | None) -> int:
        if not session_id:
            return NO_SESSION_GROUP
        code = self._session_groups.get(session_id)
        if code is None:
            code = len(self._session_groups) + 1
            self._session_groups[session_id] = code
        return code

    def add_turn(self, turn: Turn, vector: FloatArray | None = None,
                 terms: list[str] | None = None) -> None:
        """Index a saved turn; ``terms``: ``analyze(turn.text)``, if made already."""
        if turn.turn_id:
            self.turn_items[turn.turn_id] = turn.event_id
            self.item_turns[turn.event_id] = turn.turn_id
        self.index.add(
            turn.event_id,
            analyze(turn.text) if terms is None else terms,
            created_at=turn.created_at,
            group=self.group_of(turn.session_id),
            vector=vector,
            payload=turn_doc(turn),
        )

    def live_facts(self) -> list[tuple[int, str, Doc]]:
        """(position, id, doc) of the caller's current facts (superseded/deleted skipped)."""
        out = []
        for pos in self.index.group_positions([FACT_GROUP]).tolist():
            doc_id = self.index.id_at(pos)
            if doc_id in self.index:
                out.append((pos, doc_id, self.index.payload_at(pos)))
        return out

    def _item_group(self, item: MemoryItem) -> int:
        if item.kind == "fact":
            return FACT_GROUP
        if item.kind == "summary":
            return SUMMARY_GROUP
        return self.group_of(item.session_id)

    def add_item(self, item: MemoryItem) -> None:
        self.add_items([item])

    def add_items(self, items: Sequence[MemoryItem], *, bulk: bool = False) -> None:
        """Index stored items in one batch (the warm load; see ``HybridIndex.add_many``)."""
        dims = self.index.dimensions
        for item in items:
            if item.kind == "turn" and item.turn_id:
                self.turn_items[item.turn_id] = item.id
                self.item_turns[item.id] = item.turn_id
        self.index.add_many(
            [item.id for item in items],
            [analyze(item.text) for item in items],
            created_at=[item.created_at for item in items],
            groups=[self._item_group(item) for item in items],
            vectors=[vector_from_blob(item.embedding, dims) for item in items],
            payloads=[Doc(kind=item.kind, text=item.text, created_at=item.created_at,
                          session_id=item.session_id, confidence=item.confidence,
                          user_text=item.user_text, assistant_text=item.assistant_text,
                          turn_id=item.turn_id, slot_key=item.slot_key,
                          fact_kind=item.fact_kind) for item in items],
            bulk=bulk,
        )
        second = self.index.second
        if second is not None:
            for item in items:
                vec = vector_from_blob(item.second_embedding, second.dimensions)
                if vec is not None:
                    self.index.set_second(item.id, vec)

    def note_fact(self, fact_id: str, slot_key: str | None, sources: Sequence[str],
                  supersedes: Sequence[str] = ()) -> None:
        """Record where a fact came from and which facts it replaced.

        Recall uses it to rank a current fact and the turns behind it above the turns
        behind the facts it superseded (a caller who moved is not sent to the old
        address because that turn matches the question's words better).
        """
        lineage = next((self.fact_lineage[old] for old in supersedes
                        if old in self.fact_lineage), slot_key or fact_id)
        for old in supersedes:
            self.fact_lineage.setdefault(old, lineage)
            for turn_id in self.fact_sources.get(old, ()):
                self.turn_lineage[turn_id] = (lineage, False)
        self.fact_lineage[fact_id] = lineage
        self.fact_sources[fact_id] = tuple(sources)
        self.lineage_current[lineage] = fact_id
        for turn_id in sources:
            self.turn_lineage[turn_id] = (lineage, True)

    def add_fact_history(self, facts: Sequence[Fact]) -> None:
        """Rebuild the fact lineages from the store's fact rows, history included.

        A superseded fact's ``validTo`` is the ``validFrom`` of the fact that replaced
        it, which is how the rows link up; deleted facts take no part.
        """
        rows = sorted((f for f in facts if not f.deleted_at),
                      key=lambda f: (_valid_from(f), f.id))
        ended: dict[float, list[str]] = {}
        for fact in rows:
            replaced = ended.pop(_valid_from(fact), [])
            self.note_fact(fact.id, fact.slot_key, [str(t) for t in fact.source_turn_ids],
                           replaced)
            if fact.valid_to is not None:
                ended.setdefault(float(fact.valid_to), []).append(fact.id)
        for lineage, fact_id in list(self.lineage_current.items()):
            if fact_id not in self.index:  # expired or superseded with no successor here
                del self.lineage_current[lineage]

    def working_groups(self) -> list[int]:
        groups = [SUMMARY_GROUP]
        if self.session_id:
            groups.append(self.group_of(self.session_id))
        return groups


class Primer(Protocol):
    """Index-time work for recall over a loaded caller's rows (``TopicModel``)."""

    def prime(self, index: HybridIndex, positions: Sequence[int]) -> None:
        """Read what recall's features need from ``positions`` of ``index``."""

    def keep_turn(self, index: HybridIndex, position: int, text: str, tokens: Tokens) -> None:
        """Keep what the write path read of a saved turn (``TopicModel.embed_turns``)."""


class CallerCache:
    """LRU of :class:`CallerMemory`, each loaded from the store once."""

    def __init__(self, store: Store, dimensions: int, capacity: int, pending: PendingWrites,
                 clock: Callable[[], float], primer: Primer | None = None,
                 second_dimensions: int = 0) -> None:
        """``primer``: index-time work for recall's ranking features (the topic
        features' tokens), run on a worker thread over each loaded caller's rows once
        the caller is ready, so recall does not do it on its first searches.
        ``second_dimensions``: see :class:`CallerMemory`."""
        self._store = store
        self._dimensions = dimensions
        self.second_dimensions = second_dimensions
        self._capacity = capacity
        self._pending = pending
        self._clock = clock
        self._entries: OrderedDict[tuple[str, ...], CallerMemory] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._primer = primer
        self._trimmed_at = -TRIM_INTERVAL_S
        #: keeps background writes (learning, the entity graph) off an erased caller
        self.erasures = Erasures()
        #: the trim due at the end of the interval, after a large load inside it
        self.trim_later: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, scope: Scope) -> CallerMemory | None:
        return self._entries.get(scope.caller_key)

    def get(self, scope: Scope, *, defer_load: bool = False) -> CallerMemory:
        """The caller's memory, starting its load if it is not cached.

        ``defer_load`` creates the entry without starting the load yet; the next
        ``get`` without it starts it. Preload uses this to read its few rows from the
        store before the load's CPU work competes with those reads for the GIL.
        """
        key = scope.caller_key
        mem = self._entries.get(key)
        if mem is None or mem.load_error is not None:
            mem = CallerMemory(scope, self._dimensions, self.second_dimensions)
            self._entries[key] = mem
            self._evict()
        else:
            self._entries.move_to_end(key)
            mem.last_used = time.monotonic()
        if not defer_load and not mem.loading:
            mem.loading = True
            task = asyncio.get_running_loop().create_task(self._load(mem))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return mem

    def scopes(self) -> list[Scope]:
        """The scope of every cached caller."""
        return [mem.scope for mem in self._entries.values()]

    def drop(self, scope: Scope) -> None:
        self._entries.pop(scope.caller_key, None)

    def set_vector(self, scope: Scope, event_id: str, vector: FloatArray,
                   text: str = "", tokens: Tokens | None = None) -> None:
        """Give a cached caller's turn its vector (embedded after the turn was saved),
        and the topic features' ``tokens`` of its ``text`` when the embedding read them."""
        mem = self._entries.get(scope.caller_key)
        if mem is not None and (pos := mem.index.set_vector(event_id, vector)) is not None and (
                tokens is not None and self._primer is not None):
            self._primer.keep_turn(mem.index, pos, text, tokens)

    def set_second(self, scope: Scope, item_id: str, vector: FloatArray) -> None:
        """Give a cached caller's memory its second model's vector (written after it).

        A caller still loading may have read its rows before this vector was stored,
        and not indexed the row yet: kept for the load to apply once it is done.
        """
        mem = self._entries.get(scope.caller_key)
        if mem is None:
            return
        if mem.ready.is_set():
            mem.index.set_second(item_id, vector)
        else:
            mem.early_second[item_id] = vector

    def set_second_anywhere(self, item_id: str, vector: FloatArray) -> None:
        """:meth:`set_second` for a row whose caller is not known (the re-embed sweep):
        every cached caller is asked, and the one that holds it takes it."""
        self._anywhere(item_id, vector, second=True)

    def set_vector_anywhere(self, item_id: str, vector: FloatArray) -> None:
        """A row's vector from the engine's own model, stored by the re-embedding sweep
        (a model change): the cached caller holding the row takes it, or it stayed
        without one until evicted (the store's vector was another model's)."""
        self._anywhere(item_id, vector, second=False)

    def _anywhere(self, item_id: str, vector: FloatArray, *, second: bool) -> None:
        for mem in list(self._entries.values()):
            if not mem.ready.is_set():
                # Its load may have read the row before this vector was stored.
                (mem.early_second if second else mem.early_first)[item_id] = vector
            elif (mem.index.set_second if second else mem.index.set_vector)(
                    item_id, vector) is not None:
                return

    def _evict(self) -> None:
        while len(self._entries) > self._capacity:
            _key, old = self._entries.popitem(last=False)
            log.debug("caller cache evicted %s", caller_ref(old.scope.user_id))

    async def _load(self, mem: CallerMemory) -> None:
        started = time.perf_counter()
        try:
            # Snapshot the turns still on their way from the journal *before* reading
            # the store: a turn applied in between is then in the store's answer, and
            # none can fall between the two.
            pending = self._pending.turns(mem.scope)
            caller, items, facts = await read_caller(self._store, mem.scope, self._clock())
            if caller is not None:
                mem.name = mem.name or caller.name
                mem.profile = {**caller.profile, **mem.profile}
            # Tokenising thousands of items is CPU work: keep it off the event loop.
            mem.index.reserve(len(items))
            await load_in_slices(functools.partial(mem.add_items, bulk=True), items)
            await asyncio.get_running_loop().run_in_executor(None, mem.index.compact)
            mem.add_fact_history(facts)
            for turn in pending:
                mem.add_turn(turn)
            for item_id, vector in mem.early_second.items():
                mem.index.set_second(item_id, vector)
            for item_id, vector in mem.early_first.items():
                mem.index.set_vector(item_id, vector)
            mem.early_second.clear()
            mem.early_first.clear()
            del caller, facts, pending
            await self._trim_after(items)
        except Exception as exc:
            mem.load_error = exc
            log.warning("loading memory of %s failed: %s", caller_ref(mem.scope.user_id), exc)
        finally:
            mem.ready.set()
            log.debug("loaded %s (%d items) in %.1f ms", caller_ref(mem.scope.user_id),
                      len(mem.index), (time.perf_counter() - started) * 1000)
        if mem.load_error is None:
            # After ready: recall needs none of it to answer (a search reads what is
            # not primed yet itself), so the caller is searchable that much sooner.
            await self._prime(mem, range(mem.index.rows))
        mem.primed.set()

    def prime_added(self, mem: CallerMemory, start: int) -> None:
        """Run the index-time work over rows ``start:`` of a primed caller, added in
        bulk (an import), on a worker thread instead of on their first searches.

        ``mem.primed`` is clear until it is done. A caller still loading is left alone:
        its load primes every row it has once it is ready.
        """
        if self._primer is None or not mem.primed.is_set() or mem.index.rows <= start:
            return
        mem.primed.clear()
        task = asyncio.get_running_loop().create_task(
            self._prime(mem, range(start, mem.index.rows)))
        task.add_done_callback(lambda _task: mem.primed.set())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _prime(self, mem: CallerMemory, positions: range) -> None:
        if self._primer is None:
            return
        try:
            await load_in_slices(functools.partial(self._primer.prime, mem.index), positions)
        except Exception as exc:  # recall still works, reading on first search
            log.warning("priming recall features of %s failed: %s",
                        caller_ref(mem.scope.user_id), exc)

    async def _trim_after(self, items: list[MemoryItem]) -> None:
        """Return the freed rows of a large load to the OS (see ``TRIM_AFTER_ITEMS``)."""
        loaded = len(items)
        items.clear()  # the rows are indexed: free them before the trim, not after
        if loaded < TRIM_AFTER_ITEMS:
            return
        if time.monotonic() - self._trimmed_at >= TRIM_INTERVAL_S:
            self._trimmed_at = time.monotonic()
            await asyncio.get_running_loop().run_in_executor(None, release_free_memory)
        elif self.trim_later is None:
            # Inside the interval: trimmed at its end instead, once for every large load
            # meanwhile. Skipped, a burst of reloads left the last ones' freed rows
            # resident until some later large load (measured: +63 MB after five reloads
            # of a 10,000-turn caller).
            self.trim_later = asyncio.get_running_loop().create_task(self._trim_at_end())
            self._tasks.add(self.trim_later)
            self.trim_later.add_done_callback(self._tasks.discard)

    def _trim_due_in(self) -> float:
        return self._trimmed_at + TRIM_INTERVAL_S - time.monotonic()

    async def _trim_at_end(self) -> None:
        try:
            # Re-read each second rather than slept in one go: the interval's end moves
            # when another load trims meanwhile, and no event marks that.
            while (wait := self._trim_due_in()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(min(wait, 1.0))
            self._trimmed_at = time.monotonic()
            await asyncio.get_running_loop().run_in_executor(None, release_free_memory)
        finally:
            self.trim_later = None

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._entries.clear()


def _valid_from(fact: Fact) -> float:
    # A row written before valid_from existed has none: it was valid from creation.
    value: float | None = fact.valid_from
    return float(value if value is not None else fact.created_at)


async def read_caller(store: Store, scope: Scope, now: float) -> tuple[
        CallerRecord | None, list[MemoryItem], list[Fact]]:
    """What a caller's warm memory is built from: caller row, live items, fact history."""
    # Three independent reads: side by side, the load takes as long as the longest.
    caller, items, facts = await asyncio.gather(
        store.get_caller(scope), store.load_items(scope, now),
        store.list_facts(scope, include_history=True))
    return caller, items, facts


def build_memory(scope: Scope, dimensions: int, session_id: str | None,
                 items: Sequence[MemoryItem], facts: Sequence[Fact],
                 second_dimensions: int = 0) -> CallerMemory:
    """A caller's memory built in one go, as the warm load builds it in slices.

    The cold path ranks on this, so a search gives the same answer before and after
    the warm index is ready.
    """
    mem = CallerMemory(scope, dimensions, second_dimensions)
    mem.session_id = session_id
    mem.index.reserve(len(items))
    for lo in range(0, len(items), LOAD_SLICE):  # the same batches as the warm load
        mem.add_items(items[lo:lo + LOAD_SLICE], bulk=True)
    mem.index.compact()
    mem.add_fact_history(facts)
    return mem


async def load_in_slices(add: Callable[[Sequence[T]], None], rows: Sequence[T]) -> None:
    """Run ``add`` over ``rows`` on a worker thread, one slice at a time.

    A loading thread holds the GIL (and the index lock) while it works; recall on other
    threads and on the event loop only gets either between slices or when the
    interpreter forces a switch. Slices of ``LOAD_SLICE`` rows take a couple of
    milliseconds, and the hop back through the event loop between them lets waiting
    work run, so a large load cannot stall another caller's recall by tens of ms.
    """
    loop = asyncio.get_running_loop()
    for lo in range(0, len(rows), LOAD_SLICE):
        await loop.run_in_executor(None, add, rows[lo:lo + LOAD_SLICE])
