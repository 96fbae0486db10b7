"""Org knowledge: a project's indexes built, held warm, searched, and edited.

:class:`OrgKnowledge` is given the store, the embedder, the lane runner, the chunking
settings and where to run background work. Recall's org lane and the operator's index
actions (``delete_documents``, ``delete_index``, ``search_index``) both go through it,
so an operator search answers what a turn would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings import Embedder
from ..models import Chunk, IndexBuildResult, IndexRecord, Scope
from ..store import DocumentWrite, Store
from ._analysis import STOPWORDS, analyze
from ._caller_memory import chunk_doc
from ._chunking import chunk_text
from ._ids import new_id
from ._index import FloatArray, Ranked
from ._lanes import LaneRunner
from ._org_location import adopt_legacy_files, org_vector_path
from ._org_memory import ORG_SAVE_INTERVAL_S, OrgMemory
from ._org_snapshot import rows_path
from ._org_words import Asked, OrgWords
from ._rank import RankParams
from ._recall import (
    KeywordPhase,
    Query,
    _depth,
    doc_hit,
    org_dense_phase,
    org_keyword_phase,
    search_org_lane,
)

__all__ = ["OrgKnowledge", "fallback_query"]

log = logging.getLogger("voxmem.engine")

ORG_REFRESH_S = 5.0
#: Words of a turn the store's full-text search gets while the warm index loads.
FALLBACK_WORDS = 4
_WORD = re.compile(r"[^\W_]+")
#: Org hits fetched per requested hit when one index is searched among several.
_OVERFETCH = 4


def fallback_query(text: str) -> str:
    """The words of ``text`` the store's full-text search is given while the warm index
    loads: no stopwords, the ``FALLBACK_WORDS`` longest (longer words are mostly the
    rarer ones).

    The store ORs the words and ranks every row matching any of them, so a question's
    "what", "the" and "did" made it rank most of a project: measured on 100,000 chunks
    (30 questions, load average ~17), p50 1.56 s with every word, 0.14 s without
    stopwords, 0.08 s with the 4 longest -- inside a turn's deadline. A stopword-only
    text is passed as it is.
    """
    words = [w for w in dict.fromkeys(m.lower() for m in _WORD.findall(text))
             if w not in STOPWORDS]
    if not words:
        return text
    return " ".join(sorted(words, key=len, reverse=True)[:FALLBACK_WORDS])


class OrgKnowledge:
    """The org indexes of every project one engine serves."""

    def __init__(self, store: Store, embedder: Embedder, lanes: LaneRunner,
                 params: RankParams, *, data_path: Path, chunk_chars: int,
                 chunk_overlap_chars: int,
                 spawn: Callable[[Awaitable[Any]], Any], clock: Callable[[], float],
                 words_worker: bool = False) -> None:
        self._store = store
        self._embedder = embedder
        self._lanes = lanes
        self.params = params
        self._data_path = data_path
        self._chunk_chars = chunk_chars
        self._chunk_overlap_chars = chunk_overlap_chars
        self._spawn = spawn
        self._clock = clock
        self._orgs: dict[tuple[str, str], OrgMemory] = {}
        self._org_checked: dict[tuple[str, str], float] = {}
        #: projects whose damaged org index is being loaded again
        self._replacing: set[tuple[str, str]] = set()
        self._index_locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        #: projects whose warm index lost a document since the cleanup last saved it
        self._removed: set[tuple[str, str]] = set()
        #: the store's identity, which names the org index files (:meth:`open`)
        self.store_id = ""
        #: the org lane's keyword searches in a worker process (``org_words_worker``)
        self.words = OrgWords(process=words_worker, base=data_path)

    async def open(self) -> None:
        """Read the store's identity (the store is open)."""
        self.store_id = await self._store.store_id()

    def memory(self, tenant_id: str, project_id: str) -> OrgMemory:
        """The project's warm org index, starting its load (or refresh) when due."""
        key = (tenant_id, project_id)
        org = self._orgs.get(key)
        if org is None:
            org = self._new(tenant_id, project_id)
            self._orgs[key] = org
            self._org_checked[key] = time.monotonic()
            self._spawn(self._load(org))
        elif org.damaged and key not in self._replacing:
            # Its rows file failed a check after the load: load it again from the store.
            self._replacing.add(key)
            self._spawn(self._refresh(org, force=True))
        elif time.monotonic() - self._org_checked.get(key, 0.0) > ORG_REFRESH_S:
            # Another runtime sharing the store may have changed the indexes.
            self._org_checked[key] = time.monotonic()
            self._spawn(self._refresh(org))
        return org

    async def _load(self, org: OrgMemory) -> None:
        await self._place(org)
        await org.load(self._store)
        if self.words.process and org.load_error is None:
            self._spawn(self.words.warm(org.index))
        await self._upgrade(org)

    async def _place(self, org: OrgMemory) -> None:
        """Name ``org``'s files by the store's identity (read now if this engine was not
        started: it shares an open store) and adopt files of the older names."""
        try:
            if not self.store_id:
                self.store_id = await self._store.store_id()
            if org.vector_file is None:
                org.vector_file = org_vector_path(self._data_path, self.store_id,
                                                  org.tenant_id, org.project_id)
            await adopt_legacy_files(self._data_path, self._store, self.store_id,
                                     org.tenant_id, org.project_id)
        except Exception as exc:  # the load goes on, from the store
            log.warning("placing the saved org index of project %s failed: %s",
                        org.project_id, exc)

    async def _upgrade(self, org: OrgMemory) -> None:
        try:
            ann = org.index.ann
            if org.load_error is None and ann is not None and ann.needs_rebuild:
                # A graph saved with older parameters than its size calls for (an
                # upgrade, or a graph that grew past the threshold before a restart):
                # the upkeep rebuilds it in the background while the saved one serves.
                await asyncio.get_running_loop().run_in_executor(
                    None, org.upkeep, ORG_SAVE_INTERVAL_S)
        finally:
            org.upgraded.set()

    def loaded(self, tenant_id: str, project_id: str) -> OrgMemory | None:
        """The project's warm org index if one exists (loaded or loading), without
        starting a load."""
        return self._orgs.get((tenant_id, project_id))

    def drop(self, tenant_id: str, project_id: str) -> None:
        """Forget the project's warm org index (the next use loads it, as after a
        restart)."""
        self._orgs.pop((tenant_id, project_id), None)

    def _new(self, tenant_id: str, project_id: str) -> OrgMemory:
        # Unknown until the store's identity is read (an engine that shares an open
        # store without being started): the load names the files (_place).
        path = (org_vector_path(self._data_path, self.store_id, tenant_id, project_id)
                if self.store_id else None)
        return OrgMemory(tenant_id, project_id, self._embedder.dimensions, vector_file=path,
                         model=self._embedder.name,
                         scratch_dir=self._data_path / "org-vectors")

    async def save_all(self) -> None:
        """Write every loaded org index's vector file (at close: the next start maps it)."""
        loop = asyncio.get_running_loop()
        for org in self._orgs.values():
            if org.index.ann is not None:
                # A graph rebuild would hold the save up for minutes: it stops (and runs
                # again after the next start).
                org.index.ann.cancel_rebuild()
        for org in list(self._orgs.values()):
            if org.ready.is_set() and org.load_error is None:
                await loop.run_in_executor(None, functools.partial(org.save, wait=True))

    async def reload_loaded(self) -> None:
        """Load every warm org index again from the store (its chunks were re-embedded
        by another model: what it loaded had no vectors it could use)."""
        for key, org in list(self._orgs.items()):
            if key not in self._replacing:
                await org.ready.wait()
                self._replacing.add(key)
                await asyncio.get_running_loop().run_in_executor(None, org.retire)
                await self._refresh(org, force=True)

    async def _refresh(self, org: OrgMemory, *, force: bool = False) -> None:
        key = (org.tenant_id, org.project_id)
        try:
            versions = await self._store.index_versions(org.tenant_id, org.project_id)
            if (force or versions != org.versions) and org.ready.is_set():
                fresh = self._new(org.tenant_id, org.project_id)
                await self._place(fresh)
                await fresh.load(self._store)
                if fresh.load_error is None:
                    self._orgs[key] = fresh
                    self._spawn(self._upgrade(fresh))
        finally:
            self._replacing.discard(key)
            if force:
                org.replaced.set()

    def start_dense(self, scope: Scope, query_task: asyncio.Future[Any],
                    k: int) -> Future[Ranked] | None:
        """Start the org lane's vector search on a lane thread now, to pass to
        :meth:`lane`; None when it has nothing to overlap (the query's vector is not
        ready, the index is not loaded, or its graph is small enough to walk inline:
        ``LaneRunner.walk_on_thread``).

        usearch releases the GIL while it walks the graph (measured: a pure-Python loop
        on the main thread ran at its own speed beside back-to-back graph searches), so
        the search runs beside the caller lanes, which hold the GIL on the event loop,
        instead of after them. The rest of the org lane (BM25, fusion) needs the GIL
        throughout and stays on the loop: on a thread it would contend with the caller
        lanes for it. The future is the executor's own, so :meth:`lane` can take the walk
        back when no thread has started it.
        """
        if not query_task.done() or query_task.cancelled() or query_task.exception():
            return None
        vector = query_task.result()
        org = self.memory(scope.tenant_id, scope.project_id)
        if vector is None or not org.ready.is_set() or org.load_error is not None:
            return None
        q = Query(text="", terms=[], vector=vector, now=0.0)
        if not self._lanes.walk_on_thread(org.index, q):
            return None
        return self._lanes.submit(org_dense_phase, org, q, k)

    def lane_now(self, scope: Scope, text: str, terms: list[str], vector: FloatArray | None,
                 k: int) -> list[dict[str, Any]] | None:
        """The org lane's hits computed right here, when it has nothing to wait for (the
        index loaded, a search small enough to run inline: what :meth:`lane` does then,
        without a task); None when it must run as :meth:`lane`."""
        org = self.memory(scope.tenant_id, scope.project_id)
        if not org.ready.is_set() or org.load_error is not None:
            return None
        q = Query(text=text, terms=terms, vector=vector, now=self._clock())
        if not self._lanes.cheap(org.index, q):
            return None
        return search_org_lane(org, q, k, self.params, None)

    def keyword_now(self, scope: Scope, terms: list[str], k: int) -> KeywordPhase | None:
        """The org lane's keyword ranking computed right here, to pass to :meth:`lane`
        (what it would compute inline itself); None when the index is not loaded or
        its keyword search is too large to run inline.

        Recall calls it while lane threads score the caller's vectors and walk the org
        graph, so the loop's share of the org lane overlaps their work.
        """
        org = self.memory(scope.tenant_id, scope.project_id)
        if not org.ready.is_set() or org.load_error is not None:
            return None
        q = Query(text="", terms=terms, vector=None, now=0.0)
        if not self._lanes.cheap(org.index, q):
            return None
        return org_keyword_phase(org, q, k)

    def keyword_ask(self, scope: Scope, terms: list[str], k: int) -> Asked | None:
        """The org lane's keyword ranking sent to the words worker now, to pass to
        :meth:`lane`; None when the loop searches itself (``OrgWords.ask``)."""
        if not self.words.process:
            return None
        org = self.memory(scope.tenant_id, scope.project_id)
        if not org.ready.is_set() or org.load_error is not None:
            return None
        return self.words.ask(org.index, terms, _depth(k))

    async def lane(self, scope: Scope, text: str, terms: list[str],
                   query_task: asyncio.Future[Any], k: int,
                   dense: Future[Ranked] | None = None,
                   words: KeywordPhase | None = None,
                   asked: Asked | None = None) -> list[dict[str, Any]]:
        """Recall's org lane: the store's text search until the warm index is loaded.

        ``dense``: the vector search :meth:`start_dense` started for this query;
        ``words``: its keyword ranking, from :meth:`keyword_now`; ``asked``: the same
        from the words worker (:meth:`keyword_ask`), searched here if it cannot answer.
        """
        if asked is not None:
            ranked = await self.words.answer(asked)
            if ranked is not None:
                words = KeywordPhase((None,), (ranked,))
        org = self.memory(scope.tenant_id, scope.project_id)
        if not org.ready.is_set():
            rows = await self._store.search_chunks_text(scope.tenant_id, scope.project_id,
                                                        fallback_query(text), k)
            return [doc_hit("org", r.id, chunk_doc(r.chunk), r.score) for r in rows]
        if org.load_error is not None:
            raise org.load_error
        q = Query(text=text, terms=terms, vector=None, now=self._clock())
        if dense is not None:
            keyword = (words if words is not None else
                       await self._lanes.run(org.index, q, org_keyword_phase, org, q, k))
            q = dataclasses.replace(q, vector=await query_task)
            if dense.cancel():
                # No lane thread has started the walk by now (a machine without a free
                # core): walk here rather than wait for a thread to get one. The walk
                # is the same call either way.
                ranked = org_dense_phase(org, q, k)
            else:
                ranked = await asyncio.wrap_future(dense)
            return search_org_lane(org, q, k, self.params, keyword, ranked)
        if words is None and not query_task.done():
            # The embedding is still running on its thread: search the words meanwhile.
            words = await self._lanes.run(org.index, q, org_keyword_phase, org, q, k)
        q = dataclasses.replace(q, vector=await query_task)
        return await self._lanes.run(org.index, q, search_org_lane, org, q, k, self.params,
                                     words)

    async def warm(self, tenant_id: str, project_id: str) -> None:
        """Load a project's org indexes now instead of on its first recall."""
        await self.memory(tenant_id, project_id).ready.wait()

    async def create_index(self, tenant_id: str, project_id: str, name: str,
                           documents: list[dict[str, Any]],
                           metadata: dict[str, Any] | None = None) -> IndexBuildResult:
        """Build or append an org index (documents already validated)."""
        now = self._clock()
        writes: list[DocumentWrite] = []
        all_chunks: list[Chunk] = []
        for doc in documents:
            pieces = chunk_text(doc["text"], self._chunk_chars, self._chunk_overlap_chars)
            chunks = [Chunk(id=new_id("chk"), index_name=name, document_id=doc["id"],
                            ordinal=i, text=piece, metadata={**(metadata or {}),
                                                             **doc["metadata"]},
                            created_at=now)
                      for i, piece in enumerate(pieces)]
            all_chunks.extend(chunks)
            writes.append(DocumentWrite(doc_id=doc["id"], text=doc["text"],
                                        metadata=doc["metadata"], chunks=chunks))
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(
            None, self._embedder.embed, [c.text for c in all_chunks]) if all_chunks else None
        embedded: dict[str, bytes] = {}
        if vectors is not None:
            for chunk, vec in zip(all_chunks, vectors, strict=True):
                embedded[chunk.id] = np.ascontiguousarray(vec).tobytes()
        stored = [DocumentWrite(doc_id=w.doc_id, text=w.text, metadata=w.metadata, chunks=[
            dataclasses.replace(c, embedding=embedded.get(c.id)) for c in w.chunks],
            embedding_model=self._embedder.name) for w in writes]
        async with self._lock(tenant_id, project_id, name):
            version, count = await self._store.write_documents(
                tenant_id, project_id, name, stored, metadata, now)
        org = self._orgs.get((tenant_id, project_id))
        if org is not None:
            org.apply_write(name, [w.doc_id for w in writes], all_chunks,
                            [None if vectors is None else vectors[i]
                             for i in range(len(all_chunks))], version)
            if org.ready.is_set():
                self._spawn(loop.run_in_executor(None, org.upkeep, ORG_SAVE_INTERVAL_S))
        else:
            # A project that is building knowledge will be searched: start loading it
            # now rather than on the first turn that asks.
            self.memory(tenant_id, project_id)
        return IndexBuildResult(index_name=name, chunk_count=count, version=version)

    async def list_indexes(self, tenant_id: str, project_id: str) -> list[IndexRecord]:
        """The project's indexes with their versions and sizes."""
        return await self._store.list_indexes(tenant_id, project_id)

    def _lock(self, tenant_id: str, project_id: str, name: str) -> asyncio.Lock:
        return self._index_locks.setdefault((tenant_id, project_id, name), asyncio.Lock())

    def _update(self, tenant_id: str, project_id: str,
                change: Callable[[OrgMemory], None]) -> None:
        """Apply a deletion to the warm org index in place.

        Rebuilding from the store instead would cost a full load (minutes at a million
        chunks). An index still loading is dropped: its load may predate the deletion.

        The saved rows file holds the deleted documents' text: the cleanup rewrites a
        warm index's (:meth:`purge_deleted_files`); one this engine holds no warm index
        for is removed now (the store's versions moved past it, so no load would use
        it), and a dropped load's own save is stopped first (``OrgMemory.retire``).
        """
        key = (tenant_id, project_id)
        org = self._orgs.get(key)
        if org is None or not org.ready.is_set() or org.load_error is not None:
            self._orgs.pop(key, None)
            self._unlink_rows(tenant_id, project_id)
            if org is not None:
                self._spawn(asyncio.get_running_loop().run_in_executor(
                    None, self._retire_dropped, org))
            return
        change(org)
        self._removed.add(key)
        self._spawn(asyncio.get_running_loop().run_in_executor(
            None, org.upkeep, ORG_SAVE_INTERVAL_S))

    def _unlink_rows(self, tenant_id: str, project_id: str) -> None:
        if self.store_id:
            rows_path(org_vector_path(self._data_path, self.store_id, tenant_id,
                                      project_id)).unlink(missing_ok=True)

    def _retire_dropped(self, org: OrgMemory) -> None:
        # The dropped load may have saved its rows (the deleted text) since the unlink.
        # A load begun after the deletion may have saved good ones meanwhile: removed
        # too, which costs the next start a load from the store, never an answer.
        org.retire()
        self._unlink_rows(org.tenant_id, org.project_id)

    async def purge_deleted_files(self) -> int:
        """The cleanup's part for the org index files: rewrite the saved rows of every
        warm index a document was deleted from since (off the event loop), so that no
        file of the data directory keeps a deleted document's text; returns the
        indexes rewritten."""
        loop = asyncio.get_running_loop()
        rewritten = 0
        for key in list(self._removed):
            self._removed.discard(key)
            org = self._orgs.get(key)
            if org is None or not org.ready.is_set() or org.load_error is not None:
                continue  # replaced by a load from the store, which saved its own
            await loop.run_in_executor(None, functools.partial(org.save, wait=True))
            if org.rows_unsaved:
                self._removed.add(key)  # the save failed (logged): the next cleanup
            else:
                rewritten += 1
        return rewritten

    async def delete_documents(self, tenant_id: str, project_id: str, index_name: str,
                               doc_ids: Sequence[str]) -> dict[str, Any] | None:
        """Remove documents from an index; None when the index does not exist."""
        async with self._lock(tenant_id, project_id, index_name):
            done = await self._store.delete_documents(tenant_id, project_id, index_name,
                                                      doc_ids, self._clock())
        if done is None:
            return None
        version, removed = done
        self._update(tenant_id, project_id,
                     lambda org: org.apply_delete(index_name, doc_ids, version))
        return {"indexName": index_name, "version": version, "removed": removed}

    async def delete_index(self, tenant_id: str, project_id: str,
                           index_name: str) -> dict[str, Any] | None:
        """Remove an index and all its documents; None when it does not exist."""
        async with self._lock(tenant_id, project_id, index_name):
            removed = await self._store.delete_index(tenant_id, project_id, index_name)
        if removed is None:
            return None
        self._update(tenant_id, project_id, lambda org: org.remove_index(index_name))
        return {"indexName": index_name, "documentsRemoved": removed}

    async def search_index(self, tenant_id: str, project_id: str, index_name: str | None,
                           query: str, k: int) -> list[dict[str, Any]]:
        """The chunks recall's org lane would return for ``query``, from one index or all."""
        scope = Scope(tenant_id=tenant_id, project_id=project_id, agent_id="", user_id="",
                      space="")
        # An operator search may wait for the load; a turn never does.
        await self.memory(tenant_id, project_id).ready.wait()
        query_task = self._lanes.start_embedding(query)
        try:
            hits = await self.lane(scope, query, analyze(query), query_task,
                                   k * _OVERFETCH if index_name else k)
        finally:
            query_task.cancel()
        if index_name:
            hits = [h for h in hits if h.get("index") == index_name]
        return hits[:k]
