"""The org vector index persisted next to the store, so a restart does not rebuild it.

One file per (store, project) in the runtime's data directory, also for Postgres (the
graph is a cache of vectors the store holds), named by the store's identity
(``_org_location.py``). Layout::

    MAGIC (8 bytes) | header length (u32, little endian) | header (JSON) | body

The body holds the centre (float32), the keys (int64), the chunk ids (UTF-8, one
fixed-width array) and usearch's serialised graph. The header names the format, the
embedding model and dimensions, the parameters the graph was built with (M and
efConstruction: a graph built with older ones is read as it is, and the upkeep rebuilds
it when its size calls for better ones, ``_org_vectors.py``), the scale of the graph's
int8 codes, and each part's length and checksum (``_org_snapshot.checksum``: a word sum at
memory speed; format 2 files, with a CRC-32 of the body and ids one per line, are still
read and rewritten in this format after the load).

Next to it, ``<file>.exact`` holds the exact float32 vector of each saved key, in the
order of the keys (for rescoring, ``_org_exact.py``): a 64-byte header (magic, a random
token, dimensions, row count) and the rows. The vector file's header names the token;
an exact file whose token, dimensions or size do not match is ignored, and the load
copies the vectors from the store instead, as it did before the file existed. It is
written and renamed into place before the vector file, so a crash between the two
leaves a token mismatch, never a wrong pairing.

Never trusted blindly: a file whose magic, lengths, checksum, model or parameters do
not match is ignored (and later overwritten), and a good file is reconciled with the
store by chunk id — vectors of chunks the store no longer has are dropped, chunks the
file does not cover get their vectors from the store. Chunk ids are unique and a chunk's
text never changes under its id (a replaced document gets new chunks), so a vector found
under a live chunk id is that chunk's vector for the recorded model.

Neither side holds the whole file in memory (~650 MB at a million chunks, where a
bytes copy or two would be the process's peak): usearch saves the graph to a temporary
file that is streamed into place, and a read maps the file and hands usearch a view of
the graph's part.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import mmap
import os
import secrets
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, create_private_binary
from ._id_tables import BytesArray, id_array
from ._org_codes import ANN_DTYPE
from ._org_params import SMALL_GRAPH, GraphParams
from ._org_snapshot import checksum, checksum_bytes, checksum_step
from ._org_vectors import FloatArray, IntArray, OrgVectors

__all__ = ["SavedVectors", "adopt_saved", "exact_path", "read_vectors", "save_graph",
           "write_exact", "write_vectors"]

log = logging.getLogger("voxmem.engine")

MAGIC = b"VXORGVEC"
#: 3: per-part checksums, ids as a fixed-width array; 2: int8 codes with a scale, a
#: CRC-32 of the body (read still); 1: float16 vectors (rebuilt).
FORMAT = 3
_READ_FORMATS = (2, 3)
_HEADER_LEN = struct.Struct("<I")
#: Bytes per read while checksumming or copying the graph.
_COPY_BYTES = 16 << 20
EXACT_MAGIC = b"VXORGF32"
#: magic, token (16 bytes), dimensions (u32), rows (u64), padded to EXACT_FIRST
_EXACT_HEADER = struct.Struct("<8s16sIQ")
EXACT_FIRST = 64
#: Rows copied per read while saving the exact vectors (6 MB at 384 dimensions).
_EXACT_SLICE = 4_096


@dataclasses.dataclass(frozen=True, slots=True)
class SavedVectors:
    """What a good file holds; ``graph`` is a view of the mapped file."""

    graph: memoryview
    center: FloatArray
    keys: IntArray
    ids: BytesArray
    #: the scale of the graph's int8 codes
    scale: float
    #: the saved exact vectors (open, rows from byte ``EXACT_FIRST``, in the order of
    #: ``keys``), when their file matches
    exact: IO[bytes] | None = None
    exact_token: str = ""
    #: the file's format (an older one is rewritten after the load)
    format: int = FORMAT
    #: the parameters the graph was built with
    params: GraphParams = SMALL_GRAPH


def exact_path(vector_file: Path) -> Path:
    """Where the exact vectors of ``vector_file``'s keys are saved."""
    return vector_file.with_name(vector_file.name + ".exact")


def write_exact(path: Path, dimensions: int, count: int,
                rows: Callable[[int, int], FloatArray]) -> str:
    """Write ``count`` exact vectors (``rows(lo, hi)`` returns rows lo..hi-1 in the
    keys' order) atomically, a slice at a time; returns the file's token."""
    token = secrets.token_bytes(16)
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with create_private_binary(tmp) as out:
        header = _EXACT_HEADER.pack(EXACT_MAGIC, token, dimensions, count)
        out.write(header.ljust(EXACT_FIRST, b"\0"))
        for lo in range(0, count, _EXACT_SLICE):
            out.write(np.ascontiguousarray(rows(lo, min(count, lo + _EXACT_SLICE)),
                                           dtype=np.float32).tobytes())
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    return token.hex()


def _open_exact(path: Path, token: str, dimensions: int, count: int) -> IO[bytes] | None:
    try:
        file = path.open("rb")
    except OSError:
        return None
    try:
        head = file.read(_EXACT_HEADER.size)
        size = os.fstat(file.fileno()).st_size
        if (len(head) == _EXACT_HEADER.size
                and _EXACT_HEADER.unpack(head) == (EXACT_MAGIC, bytes.fromhex(token),
                                                   dimensions, count)
                and size == EXACT_FIRST + count * dimensions * 4):
            return file
    except (OSError, ValueError):
        pass
    log.warning("org exact vectors %s do not match the vector file: copying them from "
                "the store", path.name)
    file.close()
    return None


def _expected(model: str, dimensions: int) -> dict[str, Any]:
    return {"model": model, "dimensions": dimensions, "dtype": ANN_DTYPE}


def write_vectors(path: Path, model: str, dimensions: int, graph_file: Path,
                  center: FloatArray, keys: IntArray, ids: BytesArray, *,
                  scale: float, exact: str = "", params: GraphParams = SMALL_GRAPH) -> None:
    """Write the file atomically (temporary file, fsync, rename); the graph is the one
    usearch saved at ``graph_file`` (removed afterwards), copied in slices. ``exact``:
    the token of the exact vectors saved for these keys (:func:`write_exact`);
    ``params``: what the graph was built with."""
    parts = [np.ascontiguousarray(center, dtype=np.float32).tobytes(),
             np.ascontiguousarray(keys, dtype=np.int64).tobytes(),
             np.ascontiguousarray(ids).tobytes()]
    sums = [checksum_bytes(part) for part in parts]
    graph_len = graph_file.stat().st_size
    # The graph's slices are the checksum's (16 MB), so it is summed as it is read.
    buf = bytearray(_COPY_BYTES + 8)
    view = memoryview(buf)
    graph_sum = 0
    with graph_file.open("rb") as graph:
        while got := graph.readinto(view[:_COPY_BYTES]):
            graph_sum = checksum_step(graph_sum, view, got)
    header = json.dumps({**_expected(model, dimensions), "format": FORMAT,
                         "connectivity": params.connectivity,
                         "expansionAdd": params.expansion_add,
                         "count": int(ids.shape[0]), "scale": scale, "exact": exact,
                         "id_width": ids.dtype.itemsize,
                         "lengths": [*(len(p) for p in parts), graph_len],
                         "sums": [*sums, graph_sum]}).encode()
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with create_private_binary(tmp) as out:
        out.write(MAGIC + _HEADER_LEN.pack(len(header)) + header)
        for part in parts:
            out.write(part)
        with graph_file.open("rb") as graph:
            while block := graph.read(_COPY_BYTES):
                out.write(block)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    graph_file.unlink(missing_ok=True)


def read_vectors(path: Path, model: str, dimensions: int) -> SavedVectors | None:
    """The file's content, or None when it is missing, damaged or for another model."""
    try:
        with path.open("rb") as f:
            data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
            why = _check(data, f.fileno(), model, dimensions)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # ValueError: an empty file cannot be mapped
        log.warning("org vector index %s unreadable (%s): rebuilding from the store",
                    path.name, exc)
        return None
    if isinstance(why, str):
        log.warning("org vector index %s not used (%s): rebuilding from the store",
                    path.name, why)
        return None
    if why.exact_token:
        exact = _open_exact(exact_path(path), why.exact_token, dimensions, len(why.ids))
        if exact is not None:
            return dataclasses.replace(why, exact=exact)
    return why


def _check(data: memoryview, fd: int, model: str, dimensions: int) -> SavedVectors | str:
    if len(data) < len(MAGIC) + _HEADER_LEN.size or data[:len(MAGIC)] != MAGIC:
        return "not an org vector file"
    start = len(MAGIC) + _HEADER_LEN.size
    (header_len,) = _HEADER_LEN.unpack_from(data, len(MAGIC))
    try:
        header = json.loads(bytes(data[start:start + header_len]))
        file_format = int(header["format"])
        lengths = [int(n) for n in header["lengths"]]
        sums = ([int(n) for n in header["sums"]] if file_format >= 3
                else [int(header["crc32"])])
        count = int(header["count"])
        scale = float(header["scale"])
        token = str(header.get("exact") or "")
        id_width = int(header.get("id_width", 0))
        # Every file so far records both; the graph's own M is what usearch reads.
        params = GraphParams(int(header["connectivity"]), int(header["expansionAdd"]))
    except (ValueError, KeyError, TypeError):
        return "header unreadable"
    if (file_format not in _READ_FORMATS
            or {k: header.get(k) for k in _expected(model, dimensions)}
            != _expected(model, dimensions)):
        return "written for another model or format"
    body_at = start + header_len
    body = data[body_at:]
    if len(lengths) != 4 or sum(lengths) != len(body):
        return "truncated"
    parts: list[memoryview] = []
    offset = 0
    crc = 0
    for i, n in enumerate(lengths):
        part = body[offset:offset + n]
        if file_format >= 3:
            if len(sums) != 4 or checksum(fd, body_at + offset, n) != sums[i]:
                return "checksum mismatch"
        else:
            for lo in range(0, n, _COPY_BYTES):
                crc = zlib.crc32(part[lo:lo + _COPY_BYTES], crc)
        parts.append(part)
        offset += n
    if file_format < 3 and crc != sums[0]:
        return "checksum mismatch"
    center = np.frombuffer(parts[0], dtype=np.float32).copy()
    keys = np.frombuffer(parts[1], dtype=np.int64).copy()
    try:
        if file_format >= 3:
            ids = np.frombuffer(parts[2], dtype=f"S{id_width}")
        else:
            ids = id_array(bytes(parts[2]).decode().split("\n") if count else [])
    except (ValueError, TypeError, UnicodeDecodeError):
        return "ids unreadable"
    if center.shape[0] != dimensions or keys.shape[0] != count or ids.shape[0] != count:
        return "inconsistent lengths"
    return SavedVectors(graph=parts[3], center=center, keys=keys, ids=ids, scale=scale,
                        exact_token=token, format=file_format, params=params)


def adopt_saved(ann: OrgVectors, saved: SavedVectors) -> None:
    """Give ``ann`` the saved graph's code scale, build parameters and exact vectors
    (before the graph itself is restored into it)."""
    ann.scale = saved.scale
    ann.params = saved.params
    if saved.exact is not None:
        ann.use_saved_exact(saved.exact, EXACT_FIRST)


def save_graph(path: Path, ann: OrgVectors, model: str, dimensions: int,
               ids_at: Callable[[IntArray], BytesArray]) -> None:
    """Write ``ann`` (its queued vectors flushed first) as the vector file ``path`` and
    its exact vectors beside it; ``ids_at`` gives the chunk ids of index positions.

    On an error (a full disk) the half-written parts are removed and the error raised.
    """
    graph_file = path.with_name(path.name + ".graph")
    try:
        ann.flush()
        path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        saved = ann.export(graph_file)
        graph_file.chmod(PRIVATE_FILE_MODE)  # the graph library wrote it with the umask
        positions = saved.positions
        # Streamed from the exact rows in slices (1.5 GB at a million chunks); a row
        # whose vector changes meanwhile is saved with its newer vector, which is
        # the one its chunk id now stands for.
        token = write_exact(exact_path(path), dimensions, positions.shape[0],
                            lambda lo, hi: ann.exact_rows(positions[lo:hi]))
        write_vectors(path, model, dimensions, graph_file, saved.center, saved.keys,
                      ids_at(positions), scale=saved.scale, exact=token,
                      params=saved.params)
    except OSError:
        with contextlib.suppress(OSError):
            graph_file.unlink(missing_ok=True)
            tmp = exact_path(path)
            tmp.with_name(tmp.name + ".tmp").unlink(missing_ok=True)
        raise
