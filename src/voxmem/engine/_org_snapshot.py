"""A project's org rows persisted next to the store, so a restart does not re-read them.

The vector graph and the exact vectors have their own files (``_org_file.py``); this one
holds the rest of what a warm load would rebuild from the store: the chunk ids, their
creation times and index groups, their payloads (the text a hit shows), and BM25
postings with the vocabulary. Building those from the store means reading every chunk
back and tokenising its text again: ~7 s at 100,000 chunks on a quiet machine, over a
minute at a million. From here the postings are used in place (numpy views of the
mapped file) and the payloads are read where they lie (``FileRecords.adopt``): a load
copies neither.

Layout (the header last, so the body can be streamed out first)::

    body parts | header (JSON) | header length (u32, little endian) | MAGIC (8 bytes)

The header names the format, the embedding model and dimensions, a fingerprint of the
text analyser, each index's version as the rows reflect it, and each part's length and
checksum (:func:`checksum`; zlib's CRC-32 ran at ~320 MB/s here, against a start-up
budget of 2 s at a million chunks). A load checks every part but the payloads (the
largest), whose check runs once the index is serving; a mismatch there makes the owner
load the project again from the store.

Used only when all of that matches, the versions being the store's own at load time:
any write or deletion since the file was written bumps an index's version in the
store, so a file left behind by a killed process (or by another runtime sharing a
Postgres store) is stale and the load reads the store instead. Rows are only captured
after the versions they claim (:func:`write_rows`), so a file can be older than its
versions say (then it is rejected) but never newer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import mmap
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from .._files import PRIVATE_DIR_MODE, create_private_binary
from ._analysis import analyze
from ._id_tables import BytesArray, id_array
from ._index import RowsState
from ._postings import Segment
from ._ranked import BoolArray, FloatArray, IntArray

__all__ = ["PersistedRows", "checksum", "checksum_bytes", "checksum_step", "read_rows",
           "rows_path", "write_rows"]

log = logging.getLogger("voxmem.engine")

MAGIC = b"VXORGROW"
#: 3: chunk ids as one fixed-width array (read with one copy, no object per chunk);
#: 2: ids one per line (still read, and rewritten as 3 after such a load);
#: 1 saved per-process string hashes as document keys (rejected).
FORMAT = 3
_READ_FORMATS = (2, 3)
_HEADER_LEN = struct.Struct("<I")
#: Rows per slice while writing payloads and vectors (bounded transient memory).
_SLICE = 65_536
#: Parts checked after the index is serving (see the module doc).
LARGE_PARTS = ("payloads",)
#: Bytes per checksummed slice (read with ``pread``: through the map, every page would
#: stay resident in this process).
_SUM_BYTES = 16 << 20
_SUM_MIX = 0x100000001B3  # FNV-64 prime: mixes one slice's sum into the next
_MASK64 = (1 << 64) - 1
_ANALYZER_SAMPLE = "The callers' Running invoices were refunded on Mondays, order #4421!"


def analyzer_fingerprint() -> str:
    """Changes when tokenising or stemming changes (the postings would not match)."""
    return hashlib.sha256("\n".join(analyze(_ANALYZER_SAMPLE)).encode()).hexdigest()[:16]


def checksum(fd: int, start: int, length: int) -> int:
    """A checksum of ``length`` bytes of the file from ``start``, at memory speed.

    Per 16 MB slice, the wrapping sum of its little-endian 64-bit words (any flipped bit
    changes it), chained across slices with a multiply so reordered or dropped slices
    change it too. Not a defence against tampering (the directory is private), a check
    against torn and damaged files.
    """
    buf = bytearray(_SUM_BYTES + 8)
    view = memoryview(buf)
    total = 0
    for lo in range(0, length, _SUM_BYTES):
        want = min(_SUM_BYTES, length - lo)
        got = os.preadv(fd, [view[:want]], start + lo)
        if got != want:
            raise OSError("file shorter than its header says")
        total = checksum_step(total, view, want)
    return total


def checksum_step(total: int, buf: memoryview, want: int) -> int:
    """Fold the next slice (``want`` <= 16 MB bytes at the start of ``buf``, which has
    room for 8 more) into a :func:`checksum` being computed."""
    tail = want % 8
    if tail:
        buf[want:want + 8 - tail] = bytes(8 - tail)
    words = np.frombuffer(buf, dtype="<u8", count=(want + 7) // 8)
    part = int(words.sum(dtype=np.uint64))
    return ((total ^ part) * _SUM_MIX + want) & _MASK64


class _Summer:
    """:func:`checksum` of bytes as they are written, in any pieces."""

    __slots__ = ("_buf", "_fill", "_total", "_view")

    def __init__(self) -> None:
        self._buf = bytearray(_SUM_BYTES + 8)
        self._view = memoryview(self._buf)
        self._fill = 0
        self._total = 0

    def add(self, data: bytes | memoryview) -> None:
        data = memoryview(data).cast("B")
        at = 0
        while at < len(data):
            take = min(_SUM_BYTES - self._fill, len(data) - at)
            self._view[self._fill:self._fill + take] = data[at:at + take]
            self._fill += take
            at += take
            if self._fill == _SUM_BYTES:
                self._total = checksum_step(self._total, self._view, _SUM_BYTES)
                self._fill = 0

    def total(self) -> int:
        if self._fill:
            self._total = checksum_step(self._total, self._view, self._fill)
            self._fill = 0
        return self._total


def checksum_bytes(data: bytes | memoryview) -> int:
    """:func:`checksum` of bytes in memory (the same value as for the bytes in a file)."""
    buf = bytearray(_SUM_BYTES + 8)
    view = memoryview(buf)
    total = 0
    for lo in range(0, len(data), _SUM_BYTES):
        want = min(_SUM_BYTES, len(data) - lo)
        view[:want] = data[lo:lo + want]
        total = checksum_step(total, view, want)
    return total


def rows_path(vector_file: Path) -> Path:
    """The rows file beside a project's vector file."""
    return vector_file.with_suffix(".rows")


@dataclasses.dataclass(frozen=True, slots=True)
class PersistedRows:
    """A good file's content: small parts and postings as views of the mapped file,
    payloads as a place in ``file`` (read there, never copied)."""

    file: BinaryIO
    payloads_at: int
    #: (offset, length, checksum) of each part :data:`LARGE_PARTS` names
    large: list[tuple[int, int, int]]
    ids: BytesArray
    created: npt.NDArray[np.float64]
    groups: IntArray
    doc_keys: IntArray
    has_vector: BoolArray
    doc_len: FloatArray
    payload_lengths: IntArray
    terms: list[str]
    segments: list[Segment]
    len_sum: float
    group_names: dict[str, int]
    #: the file's format (older ones are read, then rewritten)
    format: int = FORMAT

    def verify_large(self, fd: int) -> bool:
        """Whether the large parts match their checksums (``fd``: the file, open)."""
        return all(checksum(fd, at, n) == want for at, n, want in self.large)


def _live_segments(segments: list[Segment], new_pos: IntArray,
                   all_live: bool) -> list[Segment]:
    """``segments`` with removed positions dropped and the rest renumbered 0..m-1
    (renumbering keeps order, so each term's documents stay ascending)."""
    if all_live:
        return segments
    out: list[Segment] = []
    for seg in segments:
        mapped = new_pos[seg.docs]
        keep = mapped >= 0
        if not keep.any():
            continue
        term_of = np.repeat(seg.tids, np.diff(seg.offsets))[keep]
        out.append(Segment(term_of, mapped[keep], seg.tfs[keep]))
    return out


def _used_terms(terms: list[str],
                segments: list[Segment]) -> tuple[list[str], list[Segment]]:
    """The terms some kept posting holds, renumbered in order, and ``segments`` with
    their term ids renumbered so: the vocabulary grows with every document and never
    forgets a removed one's words, which the file would otherwise keep (a deleted
    document's text, word by word, docs/memories.md)."""
    used = np.zeros(len(terms), dtype=np.bool_)
    for seg in segments:
        used[seg.tids] = True
    if used.all():
        return terms, segments
    new_tid = np.cumsum(used, dtype=np.int64) - 1
    return ([t for t, keep in zip(terms, used.tolist(), strict=True) if keep],
            [Segment.of_parts(new_tid[seg.tids], seg.offsets, seg.docs, seg.tfs)
             for seg in segments])


def write_rows(path: Path, *, model: str, dimensions: int, versions: dict[str, int],
               group_names: dict[str, int], state: RowsState,
               payload_at: Callable[[int], bytes], doc_key_of: Callable[[bytes], int]) -> None:
    """Write the rows of ``state`` (see :meth:`HybridIndex.export_rows`) atomically:
    temporary file, fsync, rename.

    ``versions`` must have been read before ``state`` was exported (module doc).
    ``payload_at`` reads a position's stored payload, ``doc_key_of`` gives its document
    key.
    """
    positions = state.positions
    m = int(positions.shape[0])
    new_pos = np.full(state.rows, -1, dtype=np.int64)
    new_pos[positions] = np.arange(m, dtype=np.int64)
    terms, segments = _used_terms(
        state.terms, _live_segments(state.segments, new_pos, m == state.rows))
    doc_len = state.doc_len[positions].astype(np.float32)
    if any("\n" in t for t in terms):
        raise ValueError("a term holds a line break")  # never made by analyze
    parts: list[tuple[str, int, _Summer]] = []
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with create_private_binary(tmp) as out:
            def put(name: str, data: bytes | memoryview) -> None:
                out.write(data)
                if not parts or parts[-1][0] != name:
                    parts.append((name, 0, _Summer()))
                _, n, summer = parts[-1]
                summer.add(data)  # as written: no read-back (~0.9 GB at a million)
                parts[-1] = (name, n + len(data), summer)

            put("ids", np.ascontiguousarray(state.ids).tobytes())
            put("created", state.created.astype(np.float64).tobytes())
            put("groups", state.groups.astype(np.int64).tobytes())
            put("has_vector", state.has_vector.astype(np.bool_).tobytes())
            put("doc_len", doc_len.tobytes())
            lengths = np.zeros(m, dtype=np.int64)
            keys = np.zeros(m, dtype=np.int64)
            put("payloads", b"")
            for lo in range(0, m, _SLICE):
                records = [payload_at(p) for p in positions[lo:lo + _SLICE].tolist()]
                lengths[lo:lo + len(records)] = [len(r) for r in records]
                keys[lo:lo + len(records)] = [doc_key_of(r) for r in records]
                put("payloads", b"".join(records))
            put("payload_lengths", lengths.tobytes())
            put("doc_keys", keys.tobytes())
            put("terms", "\n".join(terms).encode())
            for i, seg in enumerate(segments):
                put(f"seg{i}.tids", seg.tids.astype(np.int64).tobytes())
                put(f"seg{i}.offsets", seg.offsets.astype(np.int64).tobytes())
                put(f"seg{i}.docs", seg.docs.astype(np.int32).tobytes())
                put(f"seg{i}.tfs", seg.tfs.astype(np.float32).tobytes())
            sums = [[name, n, summer.total()] for name, n, summer in parts]
            header = json.dumps({
                "format": FORMAT, "model": model, "dimensions": dimensions,
                "analyzer": analyzer_fingerprint(), "versions": versions,
                "groups": group_names, "count": m, "segments": len(segments),
                "id_width": state.ids.dtype.itemsize,
                "len_sum": float(doc_len.sum(dtype=np.float64)),
                "parts": sums}).encode()
            out.write(header + _HEADER_LEN.pack(len(header)) + MAGIC)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_rows(path: Path, *, model: str, dimensions: int,
              versions: dict[str, int]) -> PersistedRows | None:
    """The file's rows, or None when it is missing, damaged, for another model or
    analyser, or stale (its index versions are not ``versions``, the store's)."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("org rows file %s unreadable (%s): loading from the store", path.name,
                    exc)
        return None
    try:
        data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
        got = _check(f, data, model, dimensions, versions)
    except (OSError, ValueError) as exc:  # ValueError: an empty file cannot be mapped
        got = f"unreadable: {exc}"
    if isinstance(got, str):
        f.close()
        log.info("org rows file %s not used (%s): loading from the store", path.name, got)
        return None
    return got


def _check(f: BinaryIO, data: memoryview, model: str, dimensions: int,
           versions: dict[str, int]) -> PersistedRows | str:
    tail = len(MAGIC) + _HEADER_LEN.size
    if len(data) < tail or data[len(data) - len(MAGIC):] != MAGIC:
        return "not an org rows file"
    (header_len,) = _HEADER_LEN.unpack_from(data, len(data) - tail)
    body_len = len(data) - tail - header_len
    if body_len < 0:
        return "truncated"
    try:
        header: dict[str, Any] = json.loads(bytes(data[body_len:body_len + header_len]))
        parts = [(str(name), int(n), int(want)) for name, n, want in header["parts"]]
        count = int(header["count"])
        file_format = int(header["format"])
        expected = (header["model"], int(header["dimensions"]), header["analyzer"])
        id_width = int(header.get("id_width", 0))
        stored_versions = {str(k): int(v) for k, v in header["versions"].items()}
        group_names = {str(k): int(v) for k, v in header["groups"].items()}
        n_segments = int(header["segments"])
        len_sum = float(header["len_sum"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return "header unreadable"
    if (file_format not in _READ_FORMATS
            or expected != (model, dimensions, analyzer_fingerprint())):
        return "written for another model, analyser or format"
    if stored_versions != versions:
        return "stale: the indexes changed since it was written"
    if sum(n for _, n, _ in parts) != body_len:
        return "truncated"
    views: dict[str, memoryview] = {}
    starts: dict[str, int] = {}
    large: list[tuple[int, int, int]] = []
    offset = 0
    for name, n, want in parts:
        views[name] = data[offset:offset + n]
        starts[name] = offset
        if name in LARGE_PARTS:
            large.append((offset, n, want))
        elif checksum(f.fileno(), offset, n) != want:
            return f"checksum mismatch ({name})"
        offset += n

    def arr(name: str, dtype: type[Any]) -> Any:
        return np.frombuffer(views[name], dtype=dtype)

    try:
        if file_format >= 3:
            ids = np.frombuffer(views["ids"], dtype=f"S{id_width}")
        else:
            ids = id_array(bytes(views["ids"]).decode().split("\n") if count else [])
        terms_raw = bytes(views["terms"]).decode()
        segments = [Segment.of_parts(arr(f"seg{i}.tids", np.int64),
                                     arr(f"seg{i}.offsets", np.int64),
                                     arr(f"seg{i}.docs", np.int32),
                                     arr(f"seg{i}.tfs", np.float32))
                    for i in range(n_segments)]
        rows = PersistedRows(
            file=f, payloads_at=starts["payloads"], large=large,
            ids=ids,
            created=arr("created", np.float64), groups=arr("groups", np.int64),
            doc_keys=arr("doc_keys", np.int64), has_vector=arr("has_vector", np.bool_),
            doc_len=arr("doc_len", np.float32),
            payload_lengths=arr("payload_lengths", np.int64),
            terms=terms_raw.split("\n") if terms_raw else [], segments=segments,
            len_sum=len_sum, group_names=group_names, format=file_format)
    except (KeyError, ValueError, TypeError, UnicodeDecodeError):
        return "parts unreadable"
    sizes = {rows.ids.shape[0], rows.created.shape[0], rows.groups.shape[0],
             rows.doc_keys.shape[0], rows.has_vector.shape[0], rows.doc_len.shape[0],
             rows.payload_lengths.shape[0], count}
    if len(sizes) != 1 or int(rows.payload_lengths.sum()) != len(views["payloads"]):
        return "inconsistent lengths"
    return rows
