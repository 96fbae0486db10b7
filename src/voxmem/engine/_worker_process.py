"""The background worker process: runs pickled ``(function, args)`` requests, one at a time.

Started by :class:`voxmem.engine._workers.BackgroundWorkers` as
``python -m voxmem.engine._worker_process``, and by the saves' text work
(``_text_work``) with ``--request-path``. It speaks length-prefixed pickle frames on
its standard input and on a private copy of its standard output; the real standard
output is pointed at standard error first, so a stray ``print`` in extraction code
cannot corrupt a reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import pickle
import struct
import sys
from typing import Any, BinaryIO, Protocol, cast

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


class FrameOwner(Protocol):
    """What a :class:`FramePipe` reports to: each reply frame, and the worker lost."""

    def _reply(self, pipe: FramePipe, frame: bytes) -> None: ...

    def _lost(self, pipe: FramePipe) -> None: ...


class FramePipe(asyncio.SubprocessProtocol):
    """A worker's pipes on the parent's loop (the text work's and the org lane's words'):
    frames read off its output and handed to ``owner``, its exit or broken output
    reported as lost."""

    def __init__(self, owner: FrameOwner) -> None:
        self.owner = owner
        self.transport: asyncio.SubprocessTransport | None = None
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports implement the interfaces without subclassing asyncio's.)
        self.transport = cast(asyncio.SubprocessTransport, transport)

    def send(self, payload: bytes) -> None:
        assert self.transport is not None
        stdin = cast(asyncio.WriteTransport, self.transport.get_pipe_transport(0))
        stdin.write(HEADER.pack(len(payload)) + payload)

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        if fd != 1:
            return
        buffer = self._buffer
        buffer += data if isinstance(data, bytes) else data.encode()
        while len(buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(buffer)
            end = HEADER.size + size
            if len(buffer) < end:
                return
            frame = bytes(buffer[HEADER.size:end])
            del buffer[:end]
            self.owner._reply(self, frame)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:  # (its input is closed by the owner, when it is stopped)
            self.owner._lost(self)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)
        self.owner._lost(self)

    async def stop(self, timeout_s: float) -> None:
        """End the worker's input (it exits at its end); killed if not gone in
        ``timeout_s``."""
        if self.transport is None:
            return
        stdin = self.transport.get_pipe_transport(0)
        if stdin is not None:
            stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.exited), timeout_s)
        except TimeoutError:
            self.transport.kill()
            await self.exited
        self.transport.close()


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
