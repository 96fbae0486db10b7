"""The durable journal: an append-only log of every write, on disk before it is acked.

``save_response`` returns only after its record is written and (by default) fsynced, so a
killed process loses nothing it acknowledged; the engine's applier moves records into
the store and the store remembers how far it got, so replay after a crash applies
exactly the missing tail.

Layout: ``<dir>/<first-seq:012d>.jsonl`` segments, one JSON object per line with a
``seq``. A torn final line (power cut mid-write) is cut off when the journal opens.
Appends from the event loop go to one writer thread that batches whatever is waiting
into a single write and a single fsync (group commit), so many concurrent callers cost
one disk flush, not one each.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ._exceptions import StoreUnavailable

__all__ = ["Journal"]

log = logging.getLogger("voxmem.journal")

SEGMENT_BYTES = 64 * 1024 * 1024
INTERVAL_FSYNC_S = 0.05

_Waiter = tuple[bytes, asyncio.AbstractEventLoop, "asyncio.Future[int]", int]


class Journal:
    """Append-only, segmented, fsynced JSON-lines log.

    Example::

        journal = Journal(data_dir / "journal")
        journal.open()
        seq = await journal.append({"type": "turn", ...})
    """

    def __init__(self, directory: str | Path, *, fsync: str = "always",
                 segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Waiter | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._segment_size = 0
        self._last_sync = 0.0
        self._io_lock = threading.Lock()

    @property
    def last_seq(self) -> int:
        return self._seq

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> None:
        """Recover the tail, find the last sequence number, start the writer thread."""
        self.directory.mkdir(parents=True, exist_ok=True)
        segments = self._segments()
        if segments:
            self._seq = self._recover(segments[-1])
            if self._seq == 0 and len(segments) > 1:
                self._seq = max((seq for seq, _ in self._iter_segment(segments[-2])), default=0)
        self._open_segment(segments[-1] if segments else None)
        self._thread = threading.Thread(target=self._run, name="voxmem-journal", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Flush what is queued, fsync, stop the writer."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    # -- writing -------------------------------------------------------------------------
    async def append(self, record: dict[str, Any]) -> int:
        """Append ``record``; returns its sequence number once it is durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        with self._seq_lock:
            self._seq += 1
            seq = self._seq
            line = json.dumps({"seq": seq, **record}, separators=(",", ":"),
                              ensure_ascii=False).encode("utf-8") + b"\n"
            # Enqueued under the same lock so the file order is the sequence order.
            self._queue.put((line, loop, future, seq))
        return await future

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            batch: list[_Waiter] = []
            if first is None:
                stop = True
            else:
                batch.append(first)
            while True:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    continue
                batch.append(nxt)
            if batch:
                self._write_batch(batch)

    def _write_batch(self, batch: list[_Waiter]) -> None:
        error: BaseException | None = None
        try:
            with self._io_lock:
                if self._segment_size >= self.segment_bytes:
                    self._open_segment(None, first_seq=batch[0][3])
                assert self._fd is not None
                data = b"".join(item[0] for item in batch)
                view = memoryview(data)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
                self._segment_size += len(data)
                now = time.monotonic()
                if self.fsync == "always" or (
                    self.fsync == "interval" and now - self._last_sync >= INTERVAL_FSYNC_S
                ):
                    os.fdatasync(self._fd)
                    self._last_sync = now
        except OSError as exc:
            log.error("journal write failed: %s", exc)
            error = StoreUnavailable(f"journal write failed: {exc}")
        for _line, loop, future, seq in batch:
            loop.call_soon_threadsafe(_settle, future, seq, error)

    def _open_segment(self, path: Path | None, first_seq: int | None = None) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
        if path is None:
            path = self.directory / f"{(first_seq or self._seq + 1):012d}.jsonl"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segment_size = os.fstat(self._fd).st_size
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's directory entry must survive a crash too
        finally:
            os.close(dir_fd)

    # -- reading -------------------------------------------------------------------------
    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob("*.jsonl"))

    def _recover(self, path: Path) -> int:
        """Cut a torn last line off ``path``; return the last good sequence number."""
        last = 0
        good = 0
        with path.open("rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                try:
                    last = int(json.loads(raw)["seq"])
                except (ValueError, KeyError, TypeError):
                    break
                good += len(raw)
        if good != path.stat().st_size:
            log.warning("journal %s: dropping a torn tail of %d bytes", path.name,
                        path.stat().st_size - good)
            with path.open("r+b") as fh:
                fh.truncate(good)
                fh.flush()
                os.fsync(fh.fileno())
        return last

    def _iter_segment(self, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        with path.open("rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    return
                record = json.loads(raw)
                yield int(record["seq"]), record

    def read_after(self, seq: int) -> Iterator[dict[str, Any]]:
        """Records with a sequence number greater than ``seq``, in order."""
        segments = self._segments()
        for i, path in enumerate(segments):
            if i + 1 < len(segments) and int(segments[i + 1].stem) <= seq + 1:
                continue  # every record in this segment is older than ``seq``
            for record_seq, record in self._iter_segment(path):
                if record_seq > seq:
                    yield record

    def drop_applied(self, applied_seq: int) -> int:
        """Delete whole segments whose every record is at or below ``applied_seq``."""
        removed = 0
        with self._io_lock:
            segments = self._segments()
            for path, nxt in itertools.pairwise(segments):
                if int(nxt.stem) - 1 <= applied_seq:
                    path.unlink()
                    removed += 1
        return removed

    def rewrite(self, keep: Callable[[dict[str, Any]], bool]) -> int:
        """Rewrite every segment without the records ``keep`` rejects; returns how many.

        Used to erase a caller from the journal. Holds the writer's lock, so appends wait.
        """
        dropped = 0
        with self._io_lock:
            for path in self._segments():
                kept: list[bytes] = []
                with path.open("rb") as fh:
                    for raw in fh:
                        if keep(json.loads(raw)):
                            kept.append(raw)
                        else:
                            dropped += 1
                tmp = path.with_suffix(".tmp")
                with tmp.open("wb") as out:
                    out.writelines(kept)
                    out.flush()
                    os.fsync(out.fileno())
                tmp.replace(path)
            current = self._segments()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._open_segment(current[-1] if current else None)
        return dropped


def _settle(future: asyncio.Future[int], seq: int, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(seq)
