"""A project's org knowledge in memory: BM25 postings and an approximate vector index.

Loaded from the store (the vector graph from its saved file when that is good), kept
current by create_index and deletions, and saved back off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from ..models import Chunk
from ..store import Store
from ._analysis import analyze
from ._caller_memory import chunk_doc, decode_doc, encode_doc, load_in_slices, vector_from_blob
from ._id_tables import CompactIds
from ._index import FloatArray, HybridIndex
from ._malloc import release_free_memory
from ._org_documents import DocumentPositions, document_key
from ._org_file import FORMAT as VECTOR_FORMAT
from ._org_file import SavedVectors, adopt_saved, read_vectors, save_graph
from ._org_snapshot import FORMAT as ROWS_FORMAT
from ._org_snapshot import (
    PersistedRows,
    checksum,
    read_rows,
    rows_path,
    write_rows,
)
from ._org_vectors import REBUILD_THREADS, OrgVectors
from ._payloads import FileRecords

__all__ = ["ORG_SAVE_INTERVAL_S", "OrgMemory"]

log = logging.getLogger("voxmem.engine")

#: A stream of create_index calls rewrites the org vector file at most this often (a
#: full write: ~0.5 GB at 1M chunks); engine close writes whatever is left.
ORG_SAVE_INTERVAL_S = 60.0
#: The rows file (payloads, postings, exact vectors: ~2 GB at a million chunks) is
#: rewritten at most this often under a stream of writes; a load from the store and
#: engine close write it at once. Between writes it is stale, and a restart after a kill
#: then loads from the store.
ROWS_SAVE_INTERVAL_S = 600.0
#: Rows installed from the rows file per lock hold (searches wait meanwhile).
_INSTALL_SLICE = 65_536
#: Index group of an org index's chunks: ``INDEX_GROUP_BASE - n`` for the n-th index
#: name seen. Negative, so ranking that reads groups above 0 as calls never applies.
INDEX_GROUP_BASE = -(1 << 40)


class OrgMemory:
    """A project's org indexes as one searchable in-memory index.

    Text side: BM25 postings as for callers. Vector side: an approximate index
    (usearch HNSW, ``_org_vectors.py``) persisted at ``vector_file`` when one is given
    (``_org_file.py``): a restart loads it and reconciles it with the store by chunk id
    instead of rebuilding the graph.
    """

    def __init__(self, tenant_id: str, project_id: str, dimensions: int, *,
                 vector_file: Path | None = None, model: str = "",
                 scratch_dir: Path | None = None) -> None:
        self.tenant_id = tenant_id
        self.project_id = project_id
        # Payloads and exact vectors in scratch files next to the vector file (not on a
        # tmpfs, where they would be as resident as arrays): ~1.5 GB at a million
        # chunks that need not be in anonymous memory (docs/performance.md).
        self._scratch = scratch_dir or (vector_file.parent if vector_file is not None
                                        else None)
        self.index = self._empty_index(dimensions)
        self.versions: dict[str, int] = {}
        self.ready = asyncio.Event()
        self.load_error: Exception | None = None
        self.vector_file = vector_file
        self.model = model
        #: document_key(index, document) -> index positions of its chunks. Two documents whose
        #: keys collide share a key; removal checks each chunk's own payload, so a
        #: collision costs a decode, never a wrong removal.
        self._by_document = DocumentPositions()
        #: document keys of positions 0.. from the rows file, not yet in _by_document
        #: (folded in on the first write or deletion: a start-up need not wait for it)
        self._doc_keys: npt.NDArray[np.int64] | None = None
        #: index name -> the index group its chunks carry (removing an index walks only
        #: its own chunks)
        self._groups: dict[str, int] = {}
        self._save_lock = threading.Lock()
        self._upkeep_lock = threading.Lock()
        self._saved_at = 0.0
        self._rows_saved_at = 0.0
        #: set when rows changed since the rows file was written (or it never was)
        self._rows_dirty = False
        #: where the last load got its rows: "file" (the rows file) or "store"
        self.rows_from = ""
        #: the rows file's large parts still to check (after the load), and its file
        self._unverified: tuple[list[tuple[int, int, int]], BinaryIO] | None = None
        #: set once those checks ran (at once for a load from the store)
        self.verified = asyncio.Event()
        #: the rows file turned out damaged after the load: the owner loads afresh
        self.damaged = False
        #: set when a damaged index's replacement load ended (OrgKnowledge)
        self.replaced = asyncio.Event()
        #: set when the work after the load ended: the graph's rebuild when its saved
        #: parameters were older than its size calls for (OrgKnowledge)
        self.upgraded = asyncio.Event()
        #: how the last load got its vectors: "file", "file+store" or "store"
        self.vectors_from = ""
        #: create_index writes that arrived while loading, applied when the load ends
        self._during_load: list[tuple[str, list[str], list[Chunk],
                                      list[FloatArray | None], int]] = []

    def _empty_index(self, dimensions: int) -> HybridIndex:
        # Chunk ids in arrays, not a list and a dict: ~100 MB less at a million chunks,
        # and a start from the rows file copies them in at once.
        return HybridIndex(dimensions, encode=encode_doc, decode=decode_doc, ann=True,
                           records=FileRecords(self._scratch), scratch_dir=self._scratch,
                           ids=CompactIds())

    def apply_write(self, index_name: str, document_ids: list[str], chunks: list[Chunk],
                    vectors: list[FloatArray | None], version: int) -> None:
        """A stored create_index batch: replace those documents' chunks.

        While the index loads, the batch waits and is applied as the load ends: the
        load's read of the store may or may not have seen it, and replacing is right
        either way. Applied straight away, a write during the load would be lost.
        """
        if not self.ready.is_set():
            self._during_load.append((index_name, document_ids, chunks, vectors, version))
            return
        self._rows_dirty = True
        for doc_id in document_ids:
            self.remove_document(index_name, doc_id)
        self.add_chunks(chunks, vectors)
        self.versions[index_name] = max(version, self.versions.get(index_name, 0))
        # Again after the version: a save on another thread in between cleared the mark
        # and wrote the old versions, and no later save would write this one.
        self._rows_dirty = True

    def add_chunks(self, chunks: Sequence[Chunk], vectors: Sequence[FloatArray | None],
                   *, bulk: bool = False) -> None:
        index = self.index
        groups = self._groups
        index.add_many(
            [chunk.id for chunk in chunks],
            [analyze(chunk.text) for chunk in chunks],
            created_at=[chunk.created_at for chunk in chunks],
            vectors=vectors,
            payloads=[chunk_doc(chunk) for chunk in chunks],
            groups=[groups.setdefault(chunk.index_name, INDEX_GROUP_BASE - len(groups))
                    for chunk in chunks],
            bulk=bulk,
        )
        by_document = self._documents()
        for chunk in chunks:
            pos = index.position_of(chunk.id)
            if pos is not None:
                by_document.add(document_key(chunk.index_name, chunk.document_id), pos)

    def _add_stored(self, chunks: Sequence[Chunk], covered: set[str], *,
                    exact_saved: bool) -> None:
        dims = self.index.dimensions
        # A chunk the saved graph covers gets no graph insert, only its exact copy for
        # rescoring (written once its position exists), unless that was saved too: then
        # its stored vector is not even decoded.
        vectors = [None if exact_saved and c.id in covered
                   else vector_from_blob(c.embedding, dims) for c in chunks]
        self.add_chunks(chunks, [None if c.id in covered else v
                                 for c, v in zip(chunks, vectors, strict=True)], bulk=True)
        ann = self.index.ann
        if ann is None or not covered or exact_saved:
            return
        index = self.index
        found = [(pos, v) for c, v in zip(chunks, vectors, strict=True)
                 if v is not None and c.id in covered
                 and (pos := index.position_of(c.id)) is not None]
        if found:
            ann.put_exact(np.array([p for p, _ in found], dtype=np.int64),
                          np.stack([v for _, v in found]))

    def _documents(self) -> DocumentPositions:
        """The document index (see ``_by_document``), completed from the rows file's
        keys on first use (writes run on the event loop, one at a time)."""
        keys, self._doc_keys = self._doc_keys, None
        if keys is not None:
            self._by_document.add_many(keys, np.arange(keys.shape[0], dtype=np.int64))
        return self._by_document

    def remove_document(self, index_name: str, document_id: str) -> None:
        self._rows_dirty = True
        key = document_key(index_name, document_id)
        held = self._documents().pop(key)
        if not held:
            return
        index = self.index
        others: list[int] = []  # chunks of another document whose key collides
        for pos in held:
            doc = index.payload_at(pos)
            if doc.index == index_name and doc.document_id == document_id:
                index.remove(index.id_at(pos))
            elif index.alive_at(np.array([pos], dtype=np.int64))[0]:
                others.append(pos)
        for pos in others:
            self._by_document.add(key, pos)

    def apply_delete(self, index_name: str, document_ids: Sequence[str],
                     version: int) -> None:
        """A stored delete of documents: hide their chunks and record the index's version."""
        for doc_id in document_ids:
            self.remove_document(index_name, doc_id)
        self.versions[index_name] = max(version, self.versions.get(index_name, 0))
        self._rows_dirty = True  # again after the version, as in apply_write

    def remove_index(self, index_name: str) -> None:
        """Hide every chunk of ``index_name`` (the index was deleted)."""
        self._rows_dirty = True
        group = self._groups.get(index_name)
        if group is not None:
            index = self.index
            positions = index.group_positions([group])
            for pos in positions[index.alive_at(positions)].tolist():
                # A document's earlier chunk took this one with it.
                if index.alive_at(np.array([pos], dtype=np.int64))[0]:
                    self.remove_document(index_name, index.payload_at(pos).document_id)
        self.versions.pop(index_name, None)
        self._rows_dirty = True  # again after the versions change, as in apply_write

    async def load(self, store: Store) -> None:
        """Load the project's org indexes: from the rows and vector files when they match
        the store, else from the store (the vector graph from its file when good)."""
        try:
            loop = asyncio.get_running_loop()
            saved = None
            if self.vector_file is not None:
                saved = await loop.run_in_executor(None, read_vectors, self.vector_file,
                                                   self.model, self.index.dimensions)
            self.versions = await store.index_versions(self.tenant_id, self.project_id)
            rows = None
            if self.vector_file is not None:
                rows = await loop.run_in_executor(None, functools.partial(
                    read_rows, rows_path(self.vector_file), model=self.model,
                    dimensions=self.index.dimensions, versions=dict(self.versions)))
            # The rows file holds no vectors: it is used with a vector file (and its
            # exact vectors) that covers its rows, else the store is read.
            installed = (rows is not None and saved is not None and saved.exact is not None
                         and await loop.run_in_executor(None, self._install_rows, rows,
                                                        saved))
            del rows
            if not installed:
                await self._load_from_store(store, saved)
            del saved
            self._replay_writes()
            await loop.run_in_executor(None, self.index.compact)
            await loop.run_in_executor(None, self.index.maintain)
            await loop.run_in_executor(None, release_free_memory)
        except Exception as exc:
            self.load_error = exc
            log.warning("loading org indexes of project %s failed: %s", self.project_id, exc)
        finally:
            self._replay_writes()  # no await since the last one: nothing can slip in
            self.ready.set()
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._verify_rows)
        finally:
            self.verified.set()
        if self.load_error is None and not self.damaged:
            await loop.run_in_executor(None, self.save, 0.0)

    def _verify_rows(self) -> None:
        """Check the rows file's large parts, now that the index serves (module doc of
        ``_org_snapshot.py``); a damaged file is removed and :attr:`damaged` set."""
        # The chunk ids' lookup by id is built here, off the start's critical path,
        # rather than by the first write or deletion.
        self.index.id_table.prepare()
        pending, self._unverified = self._unverified, None
        if pending is None:
            return
        large, file = pending
        with file:
            good = all(checksum(file.fileno(), at, n) == want for at, n, want in large)
        if not good and self.vector_file is not None:
            log.warning("org rows file of project %s is damaged: reloading from the store",
                        self.project_id)
            self.damaged = True
            rows_path(self.vector_file).unlink(missing_ok=True)

    async def _load_from_store(self, store: Store, saved: SavedVectors | None) -> None:
        loop = asyncio.get_running_loop()
        self.rows_from = "store"
        self._rows_dirty = True  # the next save writes the rows file
        covered: set[str] = ({b.decode() for b in saved.ids.tolist()} if saved is not None
                             else set())
        saved_count = len(covered)
        listed = await store.list_indexes(self.tenant_id, self.project_id)
        self.index.reserve(sum(i.chunk_count for i in listed))
        exact_saved = saved is not None and saved.exact is not None
        add = functools.partial(self._add_stored, covered=covered, exact_saved=exact_saved)
        # Page by page: the whole project read at once was ~1.4 GB of transient
        # objects at a million chunks.
        async for page in store.chunk_pages(self.tenant_id, self.project_id):
            await load_in_slices(add, page)
            del page  # not kept alive through the rest of the load
        missing = len(self.index) - len(covered)
        # ``add`` holds the set too: a million ids, ~100 MB, freed before the
        # graph is restored (and before malloc_trim, which can only return what
        # is free).
        del covered, add
        if saved is not None:
            ann = self.index.ann
            if ann is not None:
                adopt_saved(ann, saved)
            got = await loop.run_in_executor(
                None, self.index.restore_vectors, saved.graph, saved.center, saved.keys,
                saved.ids)
            missing = len(self.index) - int(got.shape[0])
            if ann is not None and (not exact_saved or saved.format < VECTOR_FORMAT):
                # The save after the load writes the exact vectors, or the file in
                # the current format.
                ann.dirty = True
        self.vectors_from = ("store" if saved_count == 0 else
                             "file" if missing <= 0 else "file+store")

    def _install_rows(self, rows: PersistedRows, saved: SavedVectors) -> bool:
        """Fill the (empty) index from the rows file and its graph and exact vectors from
        the vector file (off the event loop). False, with the index empty again, when
        the graph lacks a vector some row has (then the store is read)."""
        index = self.index
        records = index.payload_records
        if not isinstance(records, FileRecords):
            raise TypeError("org payloads are file records")
        index.install_rows(
            rows.ids, rows.created, rows.groups,
            # The reader closes its own descriptor.
            lambda: records.adopt(os.fdopen(os.dup(rows.file.fileno()), "rb"),
                                  rows.payloads_at, rows.payload_lengths),
            (rows.terms, rows.segments, rows.doc_len, rows.len_sum))
        ann = index.ann
        if ann is None:
            raise TypeError("an org index has an approximate vector index")
        adopt_saved(ann, saved)
        # Viewed in place: the index serves at once, and the graph's pages are the
        # file's (page cache) until the first vector is added (OrgVectors.settle).
        got = index.restore_vectors(saved.graph, saved.center, saved.keys, saved.ids,
                                    view=True)
        covered = np.zeros(rows.ids.shape[0], dtype=np.bool_)
        covered[got] = True
        if (rows.has_vector & ~covered).any():
            # The vector file is older than the rows (it failed to save): start again
            # (the discarded index's scratch files are unlinked already).
            self.index = self._empty_index(index.dimensions)
            rows.file.close()
            return False
        self._groups = dict(rows.group_names)
        self._doc_keys = rows.doc_keys
        # Files of an older format are rewritten by the save after the load.
        if rows.format < ROWS_FORMAT:
            self._rows_dirty = True
        if saved.format < VECTOR_FORMAT:
            ann.dirty = True
        self._unverified = (rows.large, os.fdopen(os.dup(rows.file.fileno()), "rb"))
        rows.file.close()
        self.vectors_from = "file"
        self.rows_from = "file"
        return True

    def _replay_writes(self) -> None:
        queued, self._during_load = self._during_load, []
        for index_name, document_ids, chunks, vectors, version in queued:
            for doc_id in document_ids:
                self.remove_document(index_name, doc_id)
            self.add_chunks(chunks, vectors)
            self.versions[index_name] = max(version, self.versions.get(index_name, 0))

    def upkeep(self, save_every_s: float) -> None:
        """After writes and after the load (off the event loop): merge postings, index
        queued vectors, rebuild the graph when its size calls for better parameters
        (``OrgVectors.rebuild``), and save the vector file when it changed and the last
        save is ``save_every_s`` old.

        One at a time: a call that finds another running returns at once (the running
        one indexes every vector queued until it ends). Queued behind each other, they
        filled the shared executor during a bulk upload and create_index's own
        embedding waited for a thread: measured, the last tenth of a 100k-chunk build's
        calls took twice as long as the first.
        """
        ann = self.index.ann
        while self._upkeep_lock.acquire(blocking=False):
            try:
                self.index.maintain()
                # A graph grown past its parameters is rebuilt once (minutes at a
                # million chunks, on one core) and saved at once: a restart would
                # otherwise pay for it again.
                rebuilt = (ann is not None and ann.needs_rebuild
                           and ann.rebuild(REBUILD_THREADS))
                self.save(0.0 if rebuilt else save_every_s)
            finally:
                self._upkeep_lock.release()
            # Vectors queued by a call that found this one running (and returned) after
            # its flush ended are this one's to index.
            if ann is None or not ann.pending:
                return

    def retire(self) -> None:
        """Never save again (an instance loaded anew owns the files now, and two
        writers would remove each other's temporary files); waits for a save under way,
        so off the event loop."""
        with self._save_lock:
            self.vector_file = None

    def save(self, min_interval_s: float = 0.0, *, wait: bool = False) -> bool:
        """Write the vector file if the vectors changed since the last save.

        A full write of the graph (~0.5 GB at 1M chunks): ``min_interval_s`` bounds how
        often a stream of appends pays it; :meth:`MemoryEngine.close` saves the rest,
        with ``wait`` (a save already running may have missed the latest writes).
        Returns True when a file was written.
        """
        ann = self.index.ann
        if self.vector_file is None or ann is None or not self._save_lock.acquire(
                blocking=wait):
            return False
        try:
            rows_due = self._rows_dirty and (
                min_interval_s <= 0.0
                or time.monotonic() - self._rows_saved_at >= ROWS_SAVE_INTERVAL_S)
            wrote = self._save_vectors(ann, min_interval_s)
            if rows_due and self.ready.is_set() and self.load_error is None:
                wrote = self._save_rows(ann) or wrote
            return wrote
        finally:
            self._save_lock.release()

    @property
    def rows_unsaved(self) -> bool:
        """Rows changed since the rows file was last written."""
        return self._rows_dirty

    def _save_rows(self, ann: OrgVectors) -> bool:
        assert self.vector_file is not None
        self._rows_dirty = False  # a write racing the export marks it dirty again
        # Versions first, rows second: a write between the two makes the file older
        # than the store (rejected on load), never newer (_org_snapshot.py).
        versions = dict(self.versions)
        groups = dict(self._groups)
        state = self.index.export_rows()
        records = self.index.payload_records

        def key_of(raw: bytes) -> int:
            doc = decode_doc(raw)
            return document_key(doc.index or "", doc.document_id or "")

        try:
            write_rows(rows_path(self.vector_file), model=self.model,
                       dimensions=self.index.dimensions, versions=versions,
                       group_names=groups, state=state, payload_at=records.__getitem__,
                       doc_key_of=key_of)
        except (OSError, ValueError) as exc:
            self._rows_dirty = True
            log.warning("saving org rows of project %s failed: %s", self.project_id, exc)
            return False
        self._rows_saved_at = time.monotonic()
        return True

    def _save_vectors(self, ann: OrgVectors, min_interval_s: float) -> bool:
        assert self.vector_file is not None
        if time.monotonic() - self._saved_at < min_interval_s:
            return False
        try:
            if not ann.dirty:
                return False
            # Cleared before the flush, not after: a vector queued between the two was
            # neither flushed into this file nor left marked, so it was missing from
            # every later save (a restart then read the store) until the next write.
            ann.dirty = False
            save_graph(self.vector_file, ann, self.model, self.index.dimensions,
                       self.index.id_table.array_at)
            self._saved_at = time.monotonic()
            return True
        except OSError as exc:
            ann.dirty = True
            log.warning("saving org vector index %s failed: %s", self.vector_file, exc)
            return False
