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

Three rules keep acknowledged records safe when the disk misbehaves:

* a write or sync that fails (ENOSPC half-way through a batch) is cut back to the last
  good offset before anything else is written, so no later record ever follows a torn
  one; if even the cut fails, the journal refuses appends until it is reopened;
* sequence numbers never go backwards: :meth:`Journal.open` takes a floor (the store's
  applied position), so a journal that lost its tail cannot hand out numbers the store
  has already applied and replay would skip;
* one process owns a journal directory: ``open`` takes an exclusive ``flock`` on
  ``<dir>/journal.lock`` and raises :class:`JournalLocked` when another holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
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

import msgspec

from ._exceptions import StoreUnavailable
from ._files import PRIVATE_FILE_MODE, private_dir
from ._journal_lines import applied_prefix
from ._journal_lines import last_line as _last_line
from ._journal_lines import parse_seq as _parse_seq
from ._journal_lines import replace_file as _replace_file

__all__ = ["Journal", "JournalLocked"]

log = logging.getLogger("voxmem.journal")

SEGMENT_BYTES = 64 * 1024 * 1024
INTERVAL_FSYNC_S = 0.05
LOCK_FILE = "journal.lock"

#: (lines, loop, future settled with the last seq, first seq, record count)
_Waiter = tuple[bytes, asyncio.AbstractEventLoop, "asyncio.Future[int]", int, int]

# Every acknowledged save is encoded here, on the event loop: msgspec writes a turn's
# line ~5x faster than the stdlib (docs/performance.md). Lines read back the same values
# with ``json.loads`` (floats are spelled shortest-first; a non-finite one, which the
# stdlib spelled NaN, would be null, but none gets here: the door refuses them and the
# extractors drop them). A record it cannot write (a
# dict key that is not a string or a number) goes to the stdlib encoder, made once
# because ``json.dumps`` with options builds a new one per call.
_LINE_ENCODER = msgspec.json.Encoder()
_FALLBACK_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _line(record: dict[str, Any]) -> bytes:
    try:
        return _LINE_ENCODER.encode(record) + b"\n"
    except TypeError:
        return _FALLBACK_ENCODER.encode(record).encode("utf-8") + b"\n"


class JournalLocked(StoreUnavailable):
    """Another process (a runtime or an embedded engine) owns this journal directory."""

    def __init__(self, directory: Path, message: str | None = None) -> None:
        super().__init__(
            message or f"the journal in {directory} is in use by another voxmem process "
            "(a running runtime or another embedded engine); two writers would corrupt it",
            retryable=False, details={"journalDir": str(directory)})
        self.directory = directory


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
        self._lock_fd: int | None = None
        self._accepting = False
        #: Why appends are refused (a failed write could not be cut back); None = healthy.
        self.broken: str | None = None
        #: The last write error, cleared by the next successful write.
        self.last_error: str | None = None

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def healthy(self) -> bool:
        """False while the last write failed or the journal refuses appends."""
        return self.broken is None and self.last_error is None

    # -- lifecycle -------------------------------------------------------------------------
    def open(self, min_seq: int = 0) -> None:
        """Lock the directory, recover the tail, start the writer thread.

        ``min_seq`` is a floor for the sequence numbers already used (the store's applied
        position): the next record gets a number above both it and the journal's last.
        Raises :class:`JournalLocked` when another process has the journal open.
        """
        private_dir(self.directory)  # an older or umask-widened directory is narrowed too
        self._lock()
        try:
            segments = self._segments()
            last = 0
            for path in reversed(segments):
                # Only the newest segment can hold a torn tail; an empty newest one
                # (rotated, then crashed) leaves the last number in the one before.
                last = self._recover(path) if path == segments[-1] else max(
                    (seq for seq, _ in self._iter_segment(path)), default=0)
                if last:
                    break
            if not last and segments:
                # Only an empty segment, left by ``compact``: it is named after the next
                # number to hand out.
                last = max(0, int(segments[-1].stem) - 1)
            if last < min_seq:
                log.warning("journal ends at seq %d, below the store's applied position %d; "
                            "continuing from %d", last, min_seq, min_seq)
            self._seq = max(last, min_seq)
            self._open_segment(segments[-1] if segments else None)
        except BaseException:
            self._unlock()
            raise
        self.broken = None
        self.last_error = None
        self._thread = threading.Thread(target=self._run, name="voxmem-journal", daemon=True)
        self._thread.start()
        self._accepting = True

    def close(self) -> None:
        """Flush what is queued, fsync, stop the writer, release the directory."""
        if self._thread is not None:
            with self._seq_lock:
                self._accepting = False
                self._queue.put(None)  # after every accepted record
            self._thread.join()
            self._thread = None
        if self._fd is not None:
            with contextlib.suppress(OSError):  # a full disk must not stop the shutdown
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        self._unlock()

    def _lock(self) -> None:
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     PRIVATE_FILE_MODE)
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
            # Per open file description, so a second engine in this same process is
            # refused as surely as one in another process.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalLocked(self.directory) from None
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    # -- writing -------------------------------------------------------------------------
    async def append(self, record: dict[str, Any]) -> int:
        """Append ``record``; returns its sequence number once it is durable."""
        return (await self.append_many([record]))[0]

    async def append_many(self, records: list[dict[str, Any]]) -> list[int]:
        """Append ``records`` as one write and one sync; their sequence numbers, in order.

        All or none: a failure leaves none of them in the journal. Used by bulk imports,
        where a sync per record would cost most of the import's time.
        """
        if not records:
            return []
        if self.broken is not None:
            raise StoreUnavailable(f"the journal refuses writes: {self.broken}",
                                   retryable=False)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        with self._seq_lock:
            if not self._accepting:  # nothing would ever write it: fail, do not hang
                raise StoreUnavailable("the journal is closed", retryable=False)
            first = self._seq + 1
            lines = b"".join(_line({"seq": first + i, **record})
                             for i, record in enumerate(records))
            self._seq += len(records)
            # Enqueued under the same lock so the file order is the sequence order.
            self._queue.put((lines, loop, future, first, len(records)))
        last = await future
        return list(range(last - len(records) + 1, last + 1))

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
        with self._io_lock:
            if self.broken is not None:
                error = StoreUnavailable(f"the journal refuses writes: {self.broken}",
                                         retryable=False)
            else:
                try:
                    error = self._write_locked(batch)
                except Exception as exc:  # never let the writer thread die with waiters
                    log.exception("journal write failed unexpectedly")
                    self.broken = f"unexpected journal failure ({exc!r}); restart to repair"
                    error = StoreUnavailable(f"the journal refuses writes: {self.broken}",
                                             retryable=False)
        # One wake-up per event loop for the whole batch, not one per waiter: each
        # ``call_soon_threadsafe`` writes to the loop's wake-up pipe and queues a
        # callback, and a group commit under load settles dozens of saves at once.
        settled: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], int]]] = {}
        for _lines, loop, future, first, count in batch:
            settled.setdefault(loop, []).append((future, first + count - 1))
        for loop, waiters in settled.items():
            loop.call_soon_threadsafe(_settle_all, waiters, error)

    def _write_locked(self, batch: list[_Waiter]) -> BaseException | None:
        """Write and sync ``batch``; on failure cut the file back and return the error."""
        good = self._segment_size
        try:
            if self._segment_size >= self.segment_bytes:
                self._open_segment(None, first_seq=batch[0][3])
                good = self._segment_size
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
            self.last_error = f"journal write failed: {exc}"
            self._cut_back(good)
            return StoreUnavailable(f"journal write failed: {exc}")
        self.last_error = None
        return None

    def _cut_back(self, good: int) -> None:
        """Remove a failed batch's bytes so the next record does not follow a torn one.

        None of the batch was acknowledged, so dropping all of it loses nothing. If the
        cut itself fails the file's end is unknown: refuse appends until a reopen, whose
        recovery repairs the tail.
        """
        try:
            if self._fd is None:  # a new segment could not even be created
                raise OSError("no open journal segment")
            os.ftruncate(self._fd, good)
            os.fsync(self._fd)
            self._segment_size = good
        except OSError as exc:
            self.broken = f"could not cut a failed write back ({exc}); restart to repair"
            log.critical("journal %s: %s", self.directory, self.broken)

    def _open_segment(self, path: Path | None, first_seq: int | None = None) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if path is None:
            path = self.directory / f"{(first_seq or self._seq + 1):012d}.jsonl"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
        os.fchmod(self._fd, PRIVATE_FILE_MODE)
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
        """Repair ``path``; return the last good sequence number.

        A torn last line is cut off. A damaged line in the middle (a journal written
        before failed writes were cut back) is dropped on its own, keeping every good
        record after it, instead of truncating them all away.
        """
        last = 0
        good_end = 0
        kept: list[bytes] = []
        damaged = 0
        with path.open("rb") as fh:
            for raw in fh:
                seq = _parse_seq(raw)
                if seq is None:
                    damaged += 1
                    continue
                kept.append(raw)
                last = max(last, seq)
                good_end = fh.tell()
        if not damaged:
            return last
        size = path.stat().st_size
        if damaged == 1 and _parse_seq(_last_line(path)) is None:
            log.warning("journal %s: dropping a torn tail of %d bytes", path.name,
                        size - good_end)
            with path.open("r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            log.error("journal %s: dropping %d damaged lines, keeping %d good records",
                      path.name, damaged, len(kept))
            _replace_file(path, kept)
        return last

    def _iter_segment(self, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        with path.open("rb") as fh:
            for raw in fh:
                if _parse_seq(raw) is None:
                    continue  # damaged: reported (and removed) by _recover
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
                        if _parse_seq(raw) is not None and keep(json.loads(raw)):
                            kept.append(raw)
                        else:
                            dropped += 1
                _replace_file(path, kept)
            current = self._segments()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._open_segment(current[-1] if current else None)
        return dropped

    def compact(self, applied_seq: int) -> int:
        """Drop every record the store has applied (at or below ``applied_seq``), the
        newest segment's too; returns how many.

        Replay never reads them again, but they hold what callers said: a memory deleted
        or expired in the store would stay on disk here until 64 MB of later writes
        rotated its segment away (on a quiet host, for ever). The newest segment is
        scanned before the writer's lock is taken (applied lines never change, appends
        only add after them), so appends wait only while its unapplied tail is copied.
        An emptied newest segment is replaced by an empty one named after the next
        number, so a restart reads the numbering back from its name.
        """
        segments = self._segments()
        if not segments:
            return 0
        scanned = segments[-1]
        try:
            inode = scanned.stat().st_ino
            cut, old = applied_prefix(scanned, applied_seq)
        except FileNotFoundError:  # rotated or rewritten meanwhile: the next cleanup
            return 0
        dropped = 0
        with self._io_lock:
            segments = self._segments()
            for path in segments[:-1]:  # whole segments a rotation left: rare, small
                end, count = applied_prefix(path, applied_seq)
                dropped += count
                if end < path.stat().st_size:  # the rest is not applied, nor what follows
                    with path.open("rb") as fh:
                        fh.seek(end)
                        _replace_file(path, [fh.read()])
                    return dropped
                path.unlink()
            path = segments[-1]
            if path != scanned or path.stat().st_ino != inode:
                cut, old = applied_prefix(path, applied_seq)  # changed: again, locked
            if not old:
                return dropped
            with path.open("rb") as fh:
                fh.seek(cut)
                tail = fh.read()
            if tail:
                _replace_file(path, [tail])  # a failure (a full disk) changes nothing
            try:
                self._open_segment(path if tail else None,
                                   first_seq=None if tail else applied_seq + 1)
            except OSError:
                self._open_segment(path)  # appends go on where they were
                raise
            if not tail:
                path.unlink()  # only once the next segment is open
        return dropped + old


def _settle_all(waiters: list[tuple[asyncio.Future[int], int]],
                error: BaseException | None) -> None:
    """Settle a written batch's futures (on their loop), in sequence order."""
    for future, seq in waiters:
        if future.done():  # cancelled while the batch was written
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(seq)
