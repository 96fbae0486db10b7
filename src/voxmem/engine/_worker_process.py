"""The background worker process: runs pickled ``(function, args)`` requests, one at a time.

Started by :class:`voxmem.engine._workers.BackgroundWorkers` as
``python -m voxmem.engine._worker_process``, and by the saves' text work
(``_text_work``) with ``--request-path``. It speaks length-prefixed pickle frames on
its standard input and on a private copy of its standard output; the real standard
output is pointed at standard error first, so a stray ``print`` in extraction code
cannot corrupt a reply.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import struct
import sys
from typing import Any, BinaryIO

#: Frame header: payload length, unsigned 64-bit big-endian.
HEADER = struct.Struct(">Q")
#: Scheduling priority added to the worker. When the cores are oversubscribed a nice-5
#: process gets about a third of a normal one's CPU share: the request path comes first,
#: and learning (which no caller waits on) still keeps moving.
WORKER_NICENESS = 5
#: What the background work runs, imported before the first request arrives.
PRELOAD = ("voxmem.extraction.rules", "voxmem.entities._graph")
#: Argument that makes this the text worker of saves (``_text_work``): it is on the
#: request path, so it keeps its normal priority, and it preloads the text work instead.
REQUEST_PATH_FLAG = "--request-path"
REQUEST_PATH_PRELOAD = ("voxmem.engine._text_batch",)


def read_frame(stream: BinaryIO) -> bytes | None:
    """One frame's payload, or None at end of input."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    payload = stream.read(size)
    return payload if len(payload) == size else None


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


def _reply(fn: Any, args: tuple[Any, ...]) -> bytes:
    try:
        return pickle.dumps((True, fn(*args)), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        try:
            return pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an exception that cannot be pickled still reports what it was
            return pickle.dumps((False, RuntimeError(repr(exc))))


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer requests until the parent closes our standard input."""
    while (frame := read_frame(requests)) is not None:
        try:
            fn, args = pickle.loads(frame)
        except Exception as exc:  # e.g. a class this process cannot import
            write_frame(replies, pickle.dumps((False, RuntimeError(
                f"the background worker cannot load this request: {exc!r}"))))
            continue
        write_frame(replies, _reply(fn, args))


def main() -> None:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    request_path = REQUEST_PATH_FLAG in sys.argv[1:]
    if not request_path:
        # Not permitted on some hosts: learning then runs at equal priority.
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)
    # Loaded once at start, not on the first call's clock.
    for module in REQUEST_PATH_PRELOAD if request_path else PRELOAD:
        importlib.import_module(module)

    try:
        serve(sys.stdin.buffer, replies)
    except BrokenPipeError:
        # The parent went away (killed, or exited mid-request): nobody waits for the
        # reply, and a traceback on the terminal it shared would only alarm.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), replies.fileno())


if __name__ == "__main__":
    main()
