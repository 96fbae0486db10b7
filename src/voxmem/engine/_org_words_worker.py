"""The org words worker: the org lane's keyword search (BM25) in its own process.

Started by :class:`~voxmem.engine._org_words.OrgWords` as
``python -m voxmem.engine._org_words_worker``. It holds one snapshot of each org index's
postings (written by the engine to a private directory and mapped here read-only, see
``write_snapshot``), each tagged with the generation it was taken at, and
answers "the top k positions and scores for these terms" with the same
:meth:`Postings.search <voxmem.engine._postings.Postings.search>` the event loop would
run, on the same inputs, so the answer is the same bit for bit.

Messages are fixed binary frames (the background worker's length-prefixed framing, no
pickle: a query is a few words and an answer 80 numbers, and pickling them both ways
cost more than the framing). Requests start with one byte:

- ``L`` load: slot, generation, the snapshot directory (UTF-8). Answered ``A`` (slot,
  generation) or ``E`` (slot, generation, the error's text).
- ``Q`` query: request id, slot, generation, k, the terms joined by NUL. Answered ``R``:
  request id, count (``STALE`` when this process holds another generation of that
  slot), the scores' dtype, positions as little-endian int64, scores.
- ``F`` forget: slot. Not answered.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import sys
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ._index import HybridIndex
from ._postings import Postings, Segment
from ._ranked import BoolArray
from ._worker_process import read_frame, write_frame

__all__ = ["ANSWER", "FORGET", "LOAD", "LOADED", "QUERY", "STALE", "WordsState", "load_snapshot",
           "main", "write_snapshot"]

#: ``L`` request: slot, generation.
LOAD = struct.Struct("<IQ")
#: ``A`` / ``E`` answer: slot, generation.
LOADED = struct.Struct("<IQ")
#: ``Q`` request: request id, slot, generation, k.
QUERY = struct.Struct("<IIQI")
#: ``R`` answer: request id, count, the scores' dtype character.
ANSWER = struct.Struct("<IIc")
#: ``F`` request: slot.
FORGET = struct.Struct("<I")
#: Count of an answer from a process that does not hold the asked generation.
STALE = 0xFFFFFFFF


class WordsState:
    """One org index's postings as of one generation, searchable as the loop's are."""

    def __init__(self, generation: int, postings: Postings, n: int, live: int,
                 alive: BoolArray, removed: bool) -> None:
        self.generation = generation
        self.postings = postings
        self.n = n
        self.live = live
        self.alive = alive
        self.removed = removed

    def search(self, terms: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """``HybridIndex.search``'s keyword half without a filter (the org lane's)."""
        if not self.n or not self.live:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ranked = self.postings.search(terms, k, self.n, None, self.alive, self.live,
                                      self.alive if self.removed else None)
        return ranked.positions, ranked.scores


def load_snapshot(path: Path) -> WordsState:
    """A snapshot directory written by ``write_snapshot``, arrays mapped."""
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))

    def array(name: str) -> np.ndarray:
        mapped: np.ndarray = np.load(path / f"{name}.npy", mmap_mode="r")
        return mapped

    tids, offsets, docs, tfs = array("tids"), array("offsets"), array("docs"), array("tfs")
    segments = []
    t0 = o0 = d0 = 0
    for n_terms, n_postings in meta["segments"]:
        segments.append(Segment.of_parts(tids[t0:t0 + n_terms],
                                         offsets[o0:o0 + n_terms + 1],
                                         docs[d0:d0 + n_postings], tfs[d0:d0 + n_postings]))
        t0, o0, d0 = t0 + n_terms, o0 + n_terms + 1, d0 + n_postings
    postings = Postings(threading.RLock())
    doc_len = np.array(array("doc_len"))
    postings.install(meta["terms"], segments, doc_len, float(meta["len_sum"]))
    alive = np.array(array("alive"))
    return WordsState(int(meta["generation"]), postings, int(meta["n"]), int(meta["live"]),
                      alive, bool(meta["removed"]))


def write_snapshot(index: HybridIndex, base: Path | None) -> tuple[Path, int] | None:
    """The index's postings, lengths and live rows written to a new private directory
    (:func:`load_snapshot` reads it), with their generation; None when the
    index changed while it was read (call on a thread)."""
    generation = index.postings.version
    state = index.export_rows()
    if index.postings.version != generation:
        return None
    n = state.rows
    alive = np.zeros(n, dtype=np.bool_)
    alive[state.positions] = True
    segments = state.segments
    path = Path(tempfile.mkdtemp(prefix=".org-words-", dir=base))
    try:
        def save(name: str, parts: list[np.ndarray], dtype: str) -> None:
            np.save(path / f"{name}.npy", np.concatenate(parts).astype(dtype, copy=False)
                    if parts else np.zeros(0, dtype=dtype))

        save("tids", [s.tids for s in segments], "<i8")
        save("offsets", [s.offsets for s in segments], "<i8")
        save("docs", [s.docs for s in segments], "<i4")
        save("tfs", [s.tfs for s in segments], "<f4")
        save("doc_len", [state.doc_len], "<f4")
        save("alive", [alive], "|b1")
        meta = {"generation": generation, "n": n, "live": int(state.positions.shape[0]),
                "removed": int(state.positions.shape[0]) < n, "len_sum": state.len_sum,
                "terms": state.terms,
                "segments": [[int(s.tids.shape[0]), s.size] for s in segments]}
        (path / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return path, generation


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer requests until the engine closes our standard input."""
    states: dict[int, WordsState] = {}
    while (frame := read_frame(requests)) is not None:
        kind, body = frame[:1], memoryview(frame)[1:]
        if kind == b"Q":
            rid, slot, generation, k = QUERY.unpack_from(body)
            state = states.get(slot)
            if state is None or state.generation != generation:
                write_frame(replies, b"R" + ANSWER.pack(rid, STALE, b"f"))
                continue
            text = bytes(body[QUERY.size:]).decode("utf-8")
            positions, scores = state.search(text.split("\0") if text else [], k)
            write_frame(replies, b"R" + ANSWER.pack(rid, positions.shape[0],
                                                    scores.dtype.char.encode())
                        + positions.astype("<i8").tobytes() + scores.tobytes())
        elif kind == b"L":
            slot, generation = LOAD.unpack_from(body)
            try:
                states[slot] = load_snapshot(Path(bytes(body[LOAD.size:]).decode("utf-8")))
            except Exception as exc:  # reported; the engine answers in-process
                states.pop(slot, None)
                write_frame(replies, b"E" + LOADED.pack(slot, generation)
                            + repr(exc).encode("utf-8", "replace"))
                continue
            write_frame(replies, b"A" + LOADED.pack(slot, generation))
        elif kind == b"F":
            states.pop(FORGET.unpack_from(body)[0], None)


def main() -> None:
    # Replies go down a private copy of standard output; a stray print goes to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        serve(sys.stdin.buffer, replies)
    except BrokenPipeError:
        # The engine went away mid-answer: nobody reads the reply.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), replies.fileno())


if __name__ == "__main__":
    main()
