"""Warm, in-memory state per caller and per project, loaded from the store.

A caller's state is created on first touch and filled in the background; writes made
while it loads land in it at once (the index ignores the duplicates the load brings), so
a turn is searchable the moment ``save_response`` returns. The cache is an LRU bounded
by ``caller_cache_size``; evicting a caller only drops the cache, never data.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from ..models import Chunk, MemoryItem, Scope, Turn
from ..store import Store
from ._index import FloatArray, HybridIndex
from ._text import analyze

__all__ = ["CallerCache", "CallerMemory", "Doc", "OrgMemory"]

log = logging.getLogger("voxmem.engine")

#: Index groups: facts and summaries get fixed codes; sessions get codes from 1 up.
FACT_GROUP = -1
SUMMARY_GROUP = -2
NO_SESSION_GROUP = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Doc:
    """What recall shows for one indexed memory or chunk."""

    kind: str
    text: str
    created_at: float
    session_id: str | None = None
    confidence: float = 1.0
    user_text: str | None = None
    assistant_text: str | None = None
    turn_id: str | None = None
    slot_key: str | None = None
    fact_kind: str | None = None
    index: str | None = None
    document_id: str | None = None
    metadata: dict[str, Any] | None = None


def vector_from_blob(blob: bytes | None, dimensions: int) -> FloatArray | None:
    if blob is None or len(blob) != dimensions * 4:
        return None  # a vector from another model: re-embedded in the background
    vec: FloatArray = np.frombuffer(blob, dtype=np.float32)
    return vec


class CallerMemory:
    """One caller's searchable memory, current session and profile."""

    def __init__(self, scope: Scope, dimensions: int) -> None:
        self.scope = scope
        self.index = HybridIndex(dimensions)
        self.profile: dict[str, Any] = {}
        self.name: str | None = None
        self.session_id: str | None = None
        self.session_started_at: float | None = None
        self.ready = asyncio.Event()
        self.load_error: Exception | None = None
        self.last_used = time.monotonic()
        self.last_write = 0.0
        self._session_groups: dict[str, int] = {}

    def group_of(self, session_id: str | None) -> int:
        if not session_id:
            return NO_SESSION_GROUP
        code = self._session_groups.get(session_id)
        if code is None:
            code = len(self._session_groups) + 1
            self._session_groups[session_id] = code
        return code

    def add_turn(self, turn: Turn, vector: FloatArray | None = None) -> None:
        self.index.add(
            turn.event_id,
            analyze(turn.text),
            created_at=turn.created_at,
            group=self.group_of(turn.session_id),
            vector=vector,
            payload=Doc(kind="turn", text=turn.text, created_at=turn.created_at,
                        session_id=turn.session_id, user_text=turn.user_text,
                        assistant_text=turn.assistant_text, turn_id=turn.turn_id),
        )

    def add_item(self, item: MemoryItem) -> None:
        if item.kind == "fact":
            group = FACT_GROUP
        elif item.kind == "summary":
            group = SUMMARY_GROUP
        else:
            group = self.group_of(item.session_id)
        self.index.add(
            item.id,
            analyze(item.text),
            created_at=item.created_at,
            group=group,
            vector=vector_from_blob(item.embedding, self.index.dimensions),
            payload=Doc(kind=item.kind, text=item.text, created_at=item.created_at,
                        session_id=item.session_id, confidence=item.confidence,
                        user_text=item.user_text, assistant_text=item.assistant_text,
                        turn_id=item.turn_id, slot_key=item.slot_key, fact_kind=item.fact_kind),
        )

    def working_groups(self) -> list[int]:
        groups = [SUMMARY_GROUP]
        if self.session_id:
            groups.append(self.group_of(self.session_id))
        return groups


class CallerCache:
    """LRU of :class:`CallerMemory`, each loaded from the store once."""

    def __init__(
        self,
        store: Store,
        dimensions: int,
        capacity: int,
        pending: Callable[[Scope], list[Turn]],
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._dimensions = dimensions
        self._capacity = capacity
        self._pending = pending
        self._clock = clock
        self._entries: OrderedDict[tuple[str, ...], CallerMemory] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, scope: Scope) -> CallerMemory | None:
        return self._entries.get(scope.caller_key)

    def get(self, scope: Scope) -> CallerMemory:
        """The caller's memory, starting its load if it is not cached."""
        key = scope.caller_key
        mem = self._entries.get(key)
        if mem is not None and mem.load_error is None:
            self._entries.move_to_end(key)
            mem.last_used = time.monotonic()
            return mem
        mem = CallerMemory(scope, self._dimensions)
        self._entries[key] = mem
        self._evict()
        task = asyncio.get_running_loop().create_task(self._load(mem))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return mem

    def drop(self, scope: Scope) -> None:
        self._entries.pop(scope.caller_key, None)

    def _evict(self) -> None:
        while len(self._entries) > self._capacity:
            _key, old = self._entries.popitem(last=False)
            log.debug("caller cache evicted %s", old.scope.user_id)

    async def _load(self, mem: CallerMemory) -> None:
        started = time.perf_counter()
        try:
            caller = await self._store.get_caller(mem.scope)
            items = await self._store.load_items(mem.scope, self._clock())
            if caller is not None:
                mem.name = mem.name or caller.get("name")
                mem.profile = {**caller.get("profile", {}), **mem.profile}
            loop = asyncio.get_running_loop()
            # Tokenising thousands of items is CPU work: keep it off the event loop.
            await loop.run_in_executor(None, _add_all, mem, items)
            for turn in self._pending(mem.scope):
                mem.add_turn(turn)
        except Exception as exc:
            mem.load_error = exc
            log.warning("loading memory of caller %s failed: %s", mem.scope.user_id, exc)
        finally:
            mem.ready.set()
            log.debug("loaded caller %s (%d items) in %.1f ms", mem.scope.user_id,
                      len(mem.index), (time.perf_counter() - started) * 1000)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._entries.clear()


def _add_all(mem: CallerMemory, items: list[MemoryItem]) -> None:
    for item in items:
        mem.add_item(item)


class OrgMemory:
    """A project's org indexes as one searchable in-memory index."""

    def __init__(self, tenant_id: str, project_id: str, dimensions: int) -> None:
        self.tenant_id = tenant_id
        self.project_id = project_id
        self.index = HybridIndex(dimensions)
        self.versions: dict[str, int] = {}
        self.ready = asyncio.Event()
        self.load_error: Exception | None = None
        self._by_document: dict[tuple[str, str], list[str]] = {}

    def add_chunks(self, chunks: list[Chunk], vectors: list[FloatArray | None]) -> None:
        for chunk, vec in zip(chunks, vectors, strict=True):
            self.index.add(
                chunk.id,
                analyze(chunk.text),
                created_at=chunk.created_at,
                vector=vec,
                payload=Doc(kind="chunk", text=chunk.text, created_at=chunk.created_at,
                            index=chunk.index_name, document_id=chunk.document_id,
                            metadata=chunk.metadata),
            )
            self._by_document.setdefault((chunk.index_name, chunk.document_id), []).append(
                chunk.id)

    def remove_document(self, index_name: str, document_id: str) -> None:
        for chunk_id in self._by_document.pop((index_name, document_id), []):
            self.index.remove(chunk_id)

    async def load(self, store: Store) -> None:
        try:
            self.versions = await store.index_versions(self.tenant_id, self.project_id)
            chunks = await store.load_chunks(self.tenant_id, self.project_id)
            dims = self.index.dimensions
            vectors = [vector_from_blob(c.embedding, dims) for c in chunks]
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.add_chunks, chunks, vectors)
            await loop.run_in_executor(None, self.index.maybe_build_ivf)
        except Exception as exc:
            self.load_error = exc
            log.warning("loading org indexes of project %s failed: %s", self.project_id, exc)
        finally:
            self.ready.set()
