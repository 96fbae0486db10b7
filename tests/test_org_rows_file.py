"""The org rows file: a restart takes ids, payloads, postings and exact vectors from it
instead of re-reading and re-tokenising the store, and never when the store changed
since it was written (a kill after a write or delete), it is damaged, or it was written
for another model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.engine._org_location import org_vector_path
from voxmem.engine._org_memory import OrgMemory
from voxmem.engine._org_snapshot import read_rows, rows_path

T, P = "default", "p1"
QUERIES = ["which branch lends books on Sunday", "Elm Road library opening hours",
           "how many books a week", "branch 17", "late fees for children"]


def _docs(prefix: str, texts: list[str]) -> list[dict[str, object]]:
    return [{"id": f"{prefix}{i}", "text": t, "metadata": {"n": i}}
            for i, t in enumerate(texts)]


TEXTS = [f"Branch {i} of the library on Elm Road lends {i % 7 + 2} books a week and "
         f"opens at {i % 5 + 7} on {('Monday', 'Sunday', 'Friday')[i % 3]}s; late fees "
         f"for children are {i % 4} pence." for i in range(150)]


def _org(engine: MemoryEngine) -> OrgMemory:
    org = engine.org.loaded(T, P)
    assert org is not None
    return org


async def _open(settings: Settings) -> MemoryEngine:
    engine = MemoryEngine(settings)
    await engine.start()
    await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
    return engine


async def _answers(engine: MemoryEngine) -> list[tuple[list[float], set[tuple[str, str]]]]:
    """Per query: the top scores, and the hits scoring above the last one (hits tied at
    the cut may be either of the tied documents, whatever the load order)."""
    out = []
    for q in QUERIES:
        hits = await engine.search_index(T, P, None, q, 8)
        scores = [round(float(h["score"]), 5) for h in hits]
        out.append((scores, {(h["id"], h["text"]) for h, s in zip(hits, scores, strict=True)
                             if s > scores[-1]}))
    return out


def _paths(settings: Settings, engine: MemoryEngine) -> tuple[Path, Path]:
    vectors = org_vector_path(settings.data_path, engine.org.store_id, T, P)
    return vectors, rows_path(vectors)


async def test_restart_loads_the_rows_file_and_answers_as_a_store_load(
        settings: Settings) -> None:
    engine = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS[:100]))
        await engine.create_index(T, P, "faq", _docs("f", TEXTS[100:]))
        await engine.delete_documents(T, P, "kb", ["d3", "d4"])
        await engine.warm_org(engine.scope(project_id=P, agent_id="x", user_id="u"))
        _, rows = _paths(settings, engine)
    finally:
        await engine.close()  # writes the rows file
    assert rows.exists()
    engine = await _open(settings)
    try:
        org = _org(engine)
        assert (org.rows_from, org.vectors_from) == ("file", "file")
        assert len(org.index) == 148
        from_file = await _answers(engine)
        vec = np.asarray(engine.embedder.embed([TEXTS[10]])[0], dtype=np.float32)
        top = org.index.dense(vec, 1)
        assert org.index.payload_at(int(top.positions[0])).text == TEXTS[10]
    finally:
        await engine.close()
    rows.unlink()
    engine = await _open(settings)  # the same store read the long way
    try:
        assert _org(engine).rows_from == "store"
        from_store = await _answers(engine)
    finally:
        await engine.close()
    # Both loads restore the same graph; answers as the building engine gave them may
    # differ where that one still scanned queued vectors exactly.
    assert from_file == from_store
    assert [scores for scores, _ in from_file] != [[]] * len(QUERIES)
    engine = await _open(settings)
    try:
        assert _org(engine).rows_from == "file"
        # Documents are still replaced and deleted by id after a load from the file.
        await engine.create_index(T, P, "kb", _docs("d", ["Branch zero moved to Oak Lane."]))
        await engine.delete_index(T, P, "faq")
        texts = [h["text"] for h in await engine.search_index(T, P, None, "Branch 0", 100)]
        assert "Branch zero moved to Oak Lane." in texts
        assert TEXTS[0] not in texts
        assert not any(t in texts for t in TEXTS[100:])
        assert len(_org(engine).index) == 98
    finally:
        await engine.close()


@pytest.mark.parametrize("change", ["add", "replace", "delete", "delete_index"])
async def test_a_kill_after_a_write_makes_the_rows_file_stale(
        settings: Settings, tmp_path: Path, change: str) -> None:
    """A write or delete after the file was saved, then a kill (the file is not
    rewritten): the next start sees the store's newer versions and reads the store."""
    engine = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS[:60]))
        await engine.create_index(T, P, "other", _docs("o", TEXTS[60:70]))
    finally:
        await engine.close()
    engine = await _open(settings)
    vectors, rows = _paths(settings, engine)
    kept = tmp_path / "kept"
    kept.mkdir()
    shutil.copy(rows, kept / "rows")
    shutil.copy(vectors, kept / "vectors")
    try:
        assert _org(engine).rows_from == "file"
        if change == "add":
            await engine.create_index(T, P, "kb", _docs("n", ["The ferry leaves pier nine."]))
        elif change == "replace":
            await engine.create_index(T, P, "kb", _docs("d", ["The ferry leaves pier nine."]))
        elif change == "delete":
            await engine.delete_documents(T, P, "kb", ["d0"])
        else:
            await engine.delete_index(T, P, "other")
    finally:
        await engine.close()
    # As if killed right after the change: the files of before it are what remains.
    shutil.copy(kept / "rows", rows)
    shutil.copy(kept / "vectors", vectors)
    engine = await _open(settings)
    try:
        org = _org(engine)
        assert org.rows_from == "store"
        texts = [h["text"] for h in await engine.search_index(T, P, None, "Branch 0 ferry",
                                                               80)]
        if change in ("add", "replace"):
            assert "The ferry leaves pier nine." in texts
        if change in ("replace", "delete"):
            assert TEXTS[0] not in texts
        want = {"add": 71, "replace": 70, "delete": 69, "delete_index": 60}[change]
        assert len(org.index) == want
        if change == "delete_index":
            assert not any(t in texts for t in TEXTS[60:70])
    finally:
        await engine.close()
    engine = await _open(settings)  # the load from the store rewrote the file
    try:
        assert _org(engine).rows_from == "file"
        assert len(_org(engine).index) == want
    finally:
        await engine.close()


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
async def test_damaged_rows_file_is_ignored_and_rewritten(settings: Settings,
                                                          damage: str) -> None:
    engine = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS[:50]))
        _, rows = _paths(settings, engine)
    finally:
        await engine.close()
    raw = bytearray(rows.read_bytes())
    if damage == "flip":
        raw[5] ^= 0x01  # in the ids, checked before the load uses the file
    elif damage == "truncate":
        raw = raw[100:]
    elif damage == "garbage":
        raw = bytearray(b"not a rows file")
    else:
        raw = bytearray()
    rows.write_bytes(bytes(raw))
    engine = await _open(settings)
    try:
        org = _org(engine)
        assert org.rows_from == "store"
        assert len(org.index) == 50
        assert TEXTS[7] in [h["text"] for h in await engine.search_index(
            T, P, None, TEXTS[7], 3)]
    finally:
        await engine.close()
    engine = await _open(settings)
    try:
        assert _org(engine).rows_from == "file"
    finally:
        await engine.close()


async def test_damaged_payloads_are_found_after_the_load_and_reloaded(
        settings: Settings) -> None:
    """Payloads are checked once the index serves; damage there makes the engine load
    the project again from the store."""
    engine = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS[:50]))
        _, rows = _paths(settings, engine)
    finally:
        await engine.close()
    raw = bytearray(rows.read_bytes())
    raw[raw.index(b"Branch 25")] ^= 0x10
    rows.write_bytes(bytes(raw))
    engine = await _open(settings)
    try:
        org = _org(engine)
        assert org.rows_from == "file"
        await org.verified.wait()
        assert org.damaged and not rows.exists()
        engine.org.memory(T, P)  # the next use starts the reload
        await org.replaced.wait()
        fresh = _org(engine)
        assert fresh is not org and fresh.rows_from == "store" and not fresh.damaged
        assert TEXTS[25] in [h["text"] for h in await engine.search_index(
            T, P, None, TEXTS[25], 3)]
    finally:
        await engine.close()
    assert rows.exists()


async def test_a_save_between_a_write_and_its_version_leaves_no_stale_rows_file(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A save on another thread may run while a write is applied, after its chunks and
    before its version; the close must still write a rows file a restart can use."""
    engine = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS[:20]))
        org = _org(engine)
        add_chunks = org.add_chunks

        def add_then_save(*args: object, **kwargs: object) -> None:
            add_chunks(*args, **kwargs)  # type: ignore[arg-type]
            org.save(0.0, wait=True)  # what the load's or an upkeep's save can do here

        monkeypatch.setattr(org, "add_chunks", add_then_save)
        await engine.create_index(T, P, "kb", _docs("e", TEXTS[20:40]))
    finally:
        await engine.close()
    engine = await _open(settings)
    try:
        assert _org(engine).rows_from == "file"
        assert TEXTS[30] in [h["text"] for h in await engine.search_index(
            T, P, None, TEXTS[30], 3)]
    finally:
        await engine.close()


@pytest.mark.parametrize("removal", ["documents", "index"])
async def test_a_save_during_a_removal_leaves_no_stale_rows_file(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, removal: str) -> None:
    """As above for deletes: a save that runs while documents or a whole index are
    removed, before the new versions are recorded, must not leave the close with a
    rows file a restart rejects."""
    engine = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS[:20]))
        await engine.create_index(T, P, "gone", _docs("g", TEXTS[20:30]))
        org = _org(engine)
        remove_document = org.remove_document

        def remove_then_save(index_name: str, document_id: str) -> None:
            remove_document(index_name, document_id)
            # What the load's or an upkeep's save can do at this point (waiting for
            # one already running, so the race happens on every run).
            org.save(0.0, wait=True)

        monkeypatch.setattr(org, "remove_document", remove_then_save)
        if removal == "documents":
            assert await engine.delete_documents(T, P, "kb", ["d0", "d1"]) is not None
        else:
            assert await engine.delete_index(T, P, "gone") is not None
    finally:
        await engine.close()
    engine = await _open(settings)
    try:
        assert _org(engine).rows_from == "file"
        texts = [h["text"] for h in await engine.search_index(T, P, None, TEXTS[5], 3)]
        assert TEXTS[5] in texts
    finally:
        await engine.close()


async def test_rows_file_for_another_model_or_versions_is_not_used(
        settings: Settings) -> None:
    engine = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS[:20]))
        _, rows = _paths(settings, engine)
        model, dims = engine.embedder.name, engine.embedder.dimensions
    finally:
        await engine.close()
    good = read_rows(rows, model=model, dimensions=dims, versions={"kb": 1})
    assert good is not None and len(good.ids) == 20
    assert read_rows(rows, model=model + "-other", dimensions=dims, versions={"kb": 1}) is None
    assert read_rows(rows, model=model, dimensions=dims, versions={"kb": 2}) is None
    assert read_rows(rows, model=model, dimensions=dims, versions={"kb": 1, "x": 1}) is None


async def test_writes_while_loading_from_the_rows_file_are_kept(settings: Settings) -> None:
    engine = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS[:80]))
    finally:
        await engine.close()
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        org = engine.org.memory(T, P)  # the load starts
        for i in range(3):
            await engine.create_index(T, P, "kb", _docs(f"late{i}-", [
                f"Late arrival {i}: the gate code is {4000 + i}."]))
        await org.ready.wait()
        assert len(org.index) == 83
        for i in range(3):
            hits = await engine.search_index(T, P, None, f"gate code {4000 + i}", 1)
            assert f"gate code is {4000 + i}" in hits[0]["text"]
    finally:
        await engine.close()
    engine = await _open(settings)
    try:
        assert (_org(engine).rows_from, len(_org(engine).index)) == ("file", 83)
    finally:
        await engine.close()


def test_adopted_records_read_from_the_file_and_later_ones_from_scratch(
        tmp_path: Path) -> None:
    from voxmem.engine._payloads import FileRecords

    records = [b"alpha", b"", b"gamma-ray", b"d", b"epsilon"]
    path = tmp_path / "persisted"
    path.write_bytes(b"header" + b"".join(records))
    stored = FileRecords(tmp_path)
    stored.adopt(path.open("rb"), 6, np.array([len(r) for r in records], dtype=np.int64))
    stored.extend([b"zeta", b"eta"])
    path.unlink()  # replaced on disk by a later save: the open file still reads
    assert [stored[i] for i in range(7)] == [*records, b"zeta", b"eta"]
    stored.close()


async def test_a_project_whose_documents_were_all_deleted_restarts_empty(
        settings: Settings) -> None:
    engine = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS[:5]))
        await engine.create_index(T, P, "old", _docs("o", TEXTS[5:8]))
        await engine.delete_documents(T, P, "kb", [f"d{i}" for i in range(5)])
        await engine.delete_index(T, P, "old")
    finally:
        await engine.close()
    for _ in range(2):
        engine = await _open(settings)
        try:
            assert len(_org(engine).index) == 0
            assert await engine.search_index(T, P, None, "Branch library", 5) == []
            await engine.create_index(T, P, "kb", _docs("n", ["A new branch opened."]))
            assert len(_org(engine).index) == 1
            await engine.delete_documents(T, P, "kb", ["n0"])
        finally:
            await engine.close()


async def test_the_loading_fallback_searches_the_store_without_stopwords(
        engine: MemoryEngine) -> None:
    from voxmem.engine._org_knowledge import fallback_query

    question = "When did the Elm Road branch that is on the corner open, and what is it?"
    assert fallback_query(question) == "branch corner road open"
    assert fallback_query("what is it?") == "what is it?"
    await engine.create_index(T, P, "kb", _docs("d", [
        "The corner branch on Elm Road opened in 1998.",
        "What is it that you want, and when did you say it?"]))
    hits = await engine.store.search_chunks_text(T, P, fallback_query(question), 5)
    assert [h.chunk.text for h in hits][:1] == ["The corner branch on Elm Road opened in 1998."]


def _to_format_2(vectors: Path, rows: Path) -> None:
    """Rewrite both files as the previous release wrote them: ids one per line, the
    vector file checked by a CRC-32 of its body."""
    import json
    import struct
    import zlib

    from voxmem.engine._org_snapshot import checksum_bytes

    data = vectors.read_bytes()
    (hlen,) = struct.unpack_from("<I", data, 8)
    header = json.loads(data[12:12 + hlen])
    parts, at = [], 12 + hlen
    for n in header["lengths"]:
        parts.append(data[at:at + n])
        at += n
    ids = np.frombuffer(parts[2], dtype=f"S{header.pop('id_width')}")
    parts[2] = b"\n".join(ids.tolist())
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    del header["sums"]
    header.update(format=2, crc32=crc, lengths=[len(p) for p in parts])
    head = json.dumps(header).encode()
    vectors.write_bytes(data[:8] + struct.pack("<I", len(head)) + head + b"".join(parts))

    data = rows.read_bytes()
    (hlen,) = struct.unpack_from("<I", data, len(data) - 12)
    header = json.loads(data[len(data) - 12 - hlen:len(data) - 12])
    body, at = [], 0
    for entry in header["parts"]:
        name, n = entry[0], entry[1]
        part = data[at:at + n]
        at += n
        if name == "ids":
            width = header.pop("id_width")
            part = b"\n".join(np.frombuffer(part, dtype=f"S{width}").tolist())
            entry[1:] = [len(part), checksum_bytes(part)]
        body.append(part)
    header["format"] = 2
    head = json.dumps(header).encode()
    rows.write_bytes(b"".join(body) + head + struct.pack("<I", len(head)) + data[-8:])


async def test_files_of_the_previous_format_are_read_then_rewritten(
        settings: Settings) -> None:
    from voxmem.engine._org_file import FORMAT as VECTOR_FORMAT
    from voxmem.engine._org_file import read_vectors

    engine = await _open(settings)
    try:
        await engine.create_index(T, P, "kb", _docs("d", TEXTS[:120]))
        await engine.delete_documents(T, P, "kb", ["d5"])
        vectors, rows = _paths(settings, engine)
    finally:
        await engine.close()
    engine = await _open(settings)
    try:
        current = await _answers(engine)
    finally:
        await engine.close()
    _to_format_2(vectors, rows)
    old = read_vectors(vectors, _org(engine).model, _org(engine).index.dimensions)
    assert old is not None and old.format == 2 and old.ids.shape[0] == 119
    engine = await _open(settings)
    try:
        org = _org(engine)
        assert (org.rows_from, org.vectors_from) == ("file", "file")
        assert await _answers(engine) == current
    finally:
        await engine.close()
    # Rewritten in the current format (by the save after the load, or at close: old
    # files mark the index changed).
    new = read_vectors(vectors, org.model, org.index.dimensions)
    assert new is not None and new.format == VECTOR_FORMAT
    read = read_rows(rows, model=org.model, dimensions=org.index.dimensions,
                     versions=dict(org.versions))
    assert read is not None and read.format == 3
    engine = await _open(settings)
    try:
        org = _org(engine)
        assert (org.rows_from, org.vectors_from) == ("file", "file")
        assert await _answers(engine) == current
        # Ids by id still work after a start from old files: replace and delete.
        await engine.create_index(T, P, "kb", _docs("d", ["Branch zero moved to Oak Lane."]))
        await engine.delete_documents(T, P, "kb", ["d7"])
        texts = [h["text"] for h in await engine.search_index(T, P, None, "Branch", 200)]
        assert "Branch zero moved to Oak Lane." in texts
        assert TEXTS[0] not in texts and TEXTS[7] not in texts and TEXTS[5] not in texts
        assert len(org.index) == 118
    finally:
        await engine.close()
    engine = await _open(settings)
    try:
        org = _org(engine)
        assert (org.rows_from, org.vectors_from) == ("file", "file")
        assert len(org.index) == 118
    finally:
        await engine.close()


@pytest.mark.parametrize("size", [0, 5, 1_000, (16 << 20) - 3, 16 << 20, (32 << 20) + 13])
def test_checksums_of_pieces_in_memory_equal_the_files(tmp_path: Path, size: int) -> None:
    """The rows file's sums are computed as it is written, in pieces of any size; a
    load checks them with ``pread``: the two must agree at every slice boundary."""
    from voxmem.engine._org_snapshot import _Summer, checksum, checksum_bytes

    rng = np.random.default_rng(size)
    data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    summer, at = _Summer(), 0
    while at < size:
        n = int(rng.integers(1, 6_000_000))
        summer.add(data[at:at + n])
        at += n
    (tmp_path / "f").write_bytes(data)
    with (tmp_path / "f").open("rb") as f:
        assert summer.total() == checksum(f.fileno(), 0, size) == checksum_bytes(data)
