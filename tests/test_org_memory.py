"""An org index's document bookkeeping: replacing, deleting documents and indexes.

OrgMemory keeps, per (index, document), the positions of its chunks under an int key,
and a group per index name; these tests drive it the way create_index, delete_documents
and delete_index do, including keys that collide.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import voxmem.engine._org_documents as documents_module
import voxmem.engine._org_memory as org_module
from voxmem.engine._org_exact import ExactRows
from voxmem.engine._org_file import read_vectors
from voxmem.engine._org_memory import OrgMemory
from voxmem.engine._org_vectors import OrgVectors
from voxmem.engine._payloads import FileRecords
from voxmem.models import Chunk

DIMS = 8


def _chunks(index: str, doc: str, texts: list[str], tag: str) -> list[Chunk]:
    return [Chunk(id=f"{tag}-{index}-{doc}-{i}", index_name=index, document_id=doc, ordinal=i,
                  text=text, metadata={"n": i}, created_at=float(i)) for i, text in
            enumerate(texts)]


def _vectors(n: int, seed: int) -> list[np.ndarray | None]:
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n, DIMS)).astype(np.float32)
    return list(rows / np.linalg.norm(rows, axis=1, keepdims=True))


def _live(org: OrgMemory) -> set[tuple[str | None, str | None, str]]:
    index = org.index
    positions = np.arange(index.rows, dtype=np.int64)
    out = set()
    for pos in positions[index.alive_at(positions)].tolist():
        doc = index.payload_at(pos)
        out.add((doc.index, doc.document_id, doc.text))
    return out


def _org() -> OrgMemory:
    org = OrgMemory("t", "p", DIMS)
    org.ready.set()
    return org


def _fill(org: OrgMemory) -> None:
    for index in ("kb", "faq"):
        for doc in ("a", "b", "c"):
            chunks = _chunks(index, doc, [f"{index} {doc} one", f"{index} {doc} two"], "v1")
            org.apply_write(index, [doc], chunks, _vectors(2, hash(doc) % 100), 1)


@pytest.mark.parametrize("merge_min", [4_096, 1])
@pytest.mark.parametrize("collide", [False, True])
def test_replace_and_delete_documents_and_indexes(collide: bool, merge_min: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # merge_min 1: every document's positions are in the sorted arrays, not the dict.
    monkeypatch.setattr(documents_module, "MERGE_MIN", merge_min)
    if collide:  # every document under one key: removal must still pick the right ones
        monkeypatch.setattr(org_module, "document_key", lambda index, doc: 7)
    org = _org()
    _fill(org)
    assert len(_live(org)) == 12
    # A new version of kb/b replaces its chunks (one chunk now).
    org.apply_write("kb", ["b"], _chunks("kb", "b", ["kb b new"], "v2"), _vectors(1, 5), 2)
    live = _live(org)
    assert ("kb", "b", "kb b new") in live
    assert not {t for t in live if t[:2] == ("kb", "b") and t[2] != "kb b new"}
    assert len(live) == 11
    # Deleting one document leaves its namesake in the other index alone.
    org.remove_document("faq", "a")
    live = _live(org)
    assert not {t for t in live if t[:2] == ("faq", "a")}
    assert {t for t in live if t[:2] == ("kb", "a")} == {("kb", "a", "kb a one"),
                                                        ("kb", "a", "kb a two")}
    # Deleting an index hides all of its chunks and only those.
    org.remove_index("kb")
    assert {t[:2] for t in _live(org)} == {("faq", "b"), ("faq", "c")}
    assert org.index.search(["kb"], None, 10)[0].positions.tolist() == []
    # The deleted index's documents can come back.
    org.apply_write("kb", ["a"], _chunks("kb", "a", ["kb a again"], "v3"), _vectors(1, 9), 3)
    assert ("kb", "a", "kb a again") in _live(org)
    org.remove_document("kb", "a")
    assert {t[:2] for t in _live(org)} == {("faq", "b"), ("faq", "c")}


def test_payloads_round_trip_through_the_packed_buffer() -> None:
    org = _org()
    chunks = _chunks("kb", "d", ["héllo wörld ✓", "second"], "v1")
    org.add_chunks(chunks, _vectors(2, 1))
    for chunk in chunks:
        doc = org.index.payload_of(chunk.id)
        assert doc is not None
        assert (doc.kind, doc.text, doc.index, doc.document_id, doc.metadata,
                doc.created_at) == ("chunk", chunk.text, "kb", "d", chunk.metadata,
                                    chunk.created_at)


def test_file_records_hold_nothing_but_locations_in_memory(tmp_path: Path) -> None:
    records = FileRecords(tmp_path / "scratch")
    batch = [f"record {i} ".encode() * (i % 5 + 1) for i in range(300)] + [b""]
    records.extend(batch[:100])
    for record in batch[100:]:
        records.append(record)
    assert len(records) == len(batch)
    assert [records[i] for i in range(len(batch))] == batch
    assert records.nbytes < 12 * 1_024  # offsets and lengths only
    with pytest.raises(IndexError):
        records[len(batch)]
    # Unlinked: nothing is left behind in the directory.
    assert list((tmp_path / "scratch").iterdir()) == []
    records.close()


def test_exact_rows_grow_and_read_back_by_position(tmp_path: Path) -> None:
    lock = threading.RLock()
    rows = ExactRows(DIMS, tmp_path, lock)
    data = np.arange(5_000 * DIMS, dtype=np.float32).reshape(5_000, DIMS)
    # Runs of consecutive positions and scattered ones; the file grows past its first
    # size between writes.
    rows.put(np.arange(0, 10, dtype=np.int64), data[:10])
    scattered = np.array([4_999, 2_000, 2_001, 11], dtype=np.int64)
    rows.put(scattered, data[scattered])
    with lock:
        assert np.array_equal(rows.get(scattered), data[scattered])
        assert np.array_equal(rows.get(np.arange(10, dtype=np.int64)), data[:10])
        assert not rows.get(np.array([12], dtype=np.int64)).any()  # never written
        with pytest.raises(IndexError):
            rows.get(np.array([1 << 20], dtype=np.int64))
    assert np.array_equal(rows.get(np.array([9, 10, 11, 2_000], dtype=np.int64)),
                          data[[9, 10, 11, 2_000]] * np.array([1, 0, 1, 1],
                                                               dtype=np.float32)[:, None])
    rows.close()


def test_scratch_files_fall_back_to_the_temp_dir(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    records = FileRecords(blocker / "org-vectors")
    records.append(b"still works")
    assert records[0] == b"still works"
    assert "using the temp dir" in caplog.text
    records.close()


def _mapped_inodes() -> set[int]:
    inodes = set()
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[4] != "0":
            inodes.add(int(fields[4]))
    return inodes


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
def test_exact_rows_are_read_without_mapping_the_file(tmp_path: Path) -> None:
    # A rescoring read through a memory map left every touched page mapped, and the
    # process's resident set grew by most of the file over many searches.
    lock = threading.RLock()
    rows = ExactRows(DIMS, tmp_path, lock)
    data = np.random.default_rng(5).normal(size=(2_000, DIMS)).astype(np.float32)
    rows.put(np.arange(2_000, dtype=np.int64), data)
    picks = np.random.default_rng(6).integers(0, 2_000, size=(10, 50))
    for pick in picks:
        assert np.array_equal(rows.get(pick), data[pick])
    assert os.fstat(rows._fd).st_ino not in _mapped_inodes()
    rows.close()


def _everything(positions: np.ndarray) -> np.ndarray:
    return np.ones(positions.shape[0], dtype=np.bool_)


def test_int8_graph_finds_vectors_added_before_and_after_a_restore(tmp_path: Path) -> None:
    # The graph holds int8 codes of centred vectors; a restored graph must code later
    # vectors with the centre and scale it was saved with, or they land off the scale
    # the graph's earlier codes use.
    dims = 32
    rng = np.random.default_rng(3)
    base = rng.normal(size=(3_000, dims)).astype(np.float32) + 1.5  # a shared direction
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    first = OrgVectors(dims, scratch_dir=tmp_path)
    first.add(np.arange(2_000, dtype=np.int64), base[:2_000])
    first.flush()
    assert first.scale > 0
    center, keys, positions, _, _ = first.export(tmp_path / "graph")
    fresh = OrgVectors(dims, scratch_dir=tmp_path)
    fresh.scale = first.scale
    fresh.restore((tmp_path / "graph").read_bytes(), center, keys, positions)
    fresh.put_exact(positions, base[positions])
    fresh.add(np.arange(2_000, 3_000, dtype=np.int64), base[2_000:])
    fresh.flush()
    assert fresh.pending == 0 and fresh.scale == first.scale
    for i in range(0, 3_000, 37):
        found, scores = fresh.search(base[i], 1, _everything)
        best = int(found[np.argmax(scores)])
        assert best == i
        assert np.isclose(scores.max(), 1.0, atol=1e-5)  # rescored: the exact cosine
    first.close()
    fresh.close()


def test_org_payloads_are_kept_in_the_scratch_file_not_in_memory(tmp_path: Path) -> None:
    # The index was given an empty FileRecords, which is falsy: ``records or
    # PackedRecords()`` replaced it and every chunk's text stayed in memory.
    org = OrgMemory("t", "p", DIMS, vector_file=tmp_path / "org.usearch")
    org.ready.set()
    chunks = _chunks("kb", "d", [f"{i} " + "a long chunk of text " * 20 for i in range(500)],
                     "big")
    org.apply_write("kb", ["d"], chunks, _vectors(500, 1), 1)
    payloads = org.index._payloads
    assert isinstance(payloads, FileRecords)
    assert payloads.nbytes < 500 * 16  # an offset and a length per chunk
    assert {org.index.payload_at(p).text for p in range(500)} == {c.text for c in chunks}


def test_document_positions_agree_with_a_dict_through_merges(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents_module, "MERGE_MIN", 16)
    table = documents_module.DocumentPositions()
    model: dict[int, set[int]] = {}
    rng = np.random.default_rng(8)
    keys = [int(k) for k in rng.integers(-(1 << 63), (1 << 63) - 1, size=60)] + [
        (1 << 63) - 1, -(1 << 63)]
    for step in range(3_000):
        key = keys[int(rng.integers(len(keys)))]
        if rng.random() < 0.7:
            pos = step % 500
            table.add(key, pos)
            model.setdefault(key, set()).add(pos)
        else:
            assert table.pop(key) == sorted(model.pop(key, set()))
    for key in keys:
        assert table.pop(key) == sorted(model.pop(key, set()))
    assert table.nbytes < 3_000 * 12


def test_document_keys_are_the_same_in_every_process() -> None:
    """The org rows file saves document keys for the next process: a key from the
    per-process seeded ``hash()`` made a document deleted after a restart keep its chunks."""
    code = ("from voxmem.engine._org_documents import document_key; "
            "print(document_key('kb', 'doc-7'), document_key('kb2', 'doc-7'))")
    seen = {subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                           text=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2", "random")}
    assert len(seen) == 1
    here = documents_module.document_key
    assert seen.pop().split() == [str(here("kb", "doc-7")), str(here("kb2", "doc-7"))]


def test_a_vector_queued_while_the_file_is_saved_is_in_the_next_save(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A create_index landing while the vector file is being written (the save runs on
    a worker thread): its vectors missed that file, and the save cleared the changed
    mark after them, so engine close saved nothing and a restart read the store."""
    org = OrgMemory("t", "p", DIMS, vector_file=tmp_path / "org.usearch")
    org.ready.set()
    org.apply_write("kb", ["a"], _chunks("kb", "a", ["one", "two"], "v1"), _vectors(2, 1), 1)
    ann = org.index.ann
    assert ann is not None
    real_flush = ann.flush

    def flush_then_a_write_lands(threads: int = 0) -> int:
        done = real_flush(threads)
        monkeypatch.setattr(ann, "flush", real_flush)  # once
        org.apply_write("kb", ["b"], _chunks("kb", "b", ["three"], "v1"), _vectors(1, 2), 2)
        return done

    monkeypatch.setattr(ann, "flush", flush_then_a_write_lands)
    assert org.save()
    assert org.save(wait=True)  # what engine close does
    saved = read_vectors(tmp_path / "org.usearch", org.model, DIMS)
    assert saved is not None
    assert sorted(b.decode() for b in saved.ids.tolist()) == ["v1-kb-a-0", "v1-kb-a-1",
                                                              "v1-kb-b-0"]
    if saved.exact is not None:
        saved.exact.close()
