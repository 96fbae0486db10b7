"""uvicorn's httptools protocol, with a hot answer sent in one write.

uvicorn writes a response's head (status line and headers) to the socket when the app
sends ``http.response.start`` and the body when it sends ``http.response.body``: two
``send`` system calls, two TCP segments and two wake-ups of the client for every answer.
On loopback the kernel delivers the segment to the reader inside the writer's system
call, so each write costs the runtime's event-loop thread (with the GIL held) as much
as the Python around it: under load the two writes were 6.8 % of the runtime's GIL time,
the head's 4.6 % and the body's 2.2 % (docs/performance.md, "A fifth round").

A hot operation's answer (search, save, preload) is always complete when its head is
sent — :class:`~voxmem.runtime._hotpath.HotPath` sends both messages back to back — so
for those requests the head is held and written together with the body. Every other
request (the dashboard's streams among them) keeps uvicorn's behaviour, as does a
request that asked for ``100 Continue`` (that interim answer must not wait for the
response).

This leans on two details of uvicorn's httptools protocol (a request's cycle is started
by ``_start_asgi_task`` and writes through its ``transport`` attribute); where a uvicorn
release lacks them, the protocol behaves exactly as uvicorn's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["OneWriteTransport", "hot_answer_protocol"]


class OneWriteTransport:
    """A connection's transport for one answer: the first write waits for the second.

    Everything but :meth:`write` (and :meth:`close`, which first sends a held head) is
    the real transport's.
    """

    __slots__ = ("_head", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Hold the head; send it with the next write (the body) in one call."""
        head = self._head
        if head is None:
            self._head = bytes(data)
            return
        if head:
            self._head = b""  # sent: later writes (none for a hot answer) go straight on
            self._transport.write(head + bytes(data))
        else:
            self._transport.write(data)

    def close(self) -> None:
        """Send a held head (an answer without a body), then close the connection."""
        if self._head:
            self._transport.write(self._head)
            self._head = b""
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def hot_answer_protocol(hot_paths: Iterable[str]) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol class sending ``POST`` answers on ``hot_paths`` in
    one write (pass it as ``uvicorn.Config(http=...)``)."""
    paths = frozenset(hot_paths)

    class HotAnswerProtocol(HttpToolsProtocol):
        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            scope = getattr(cycle, "scope", None) or {}
            if (scope.get("method") == "POST" and scope.get("path") in paths
                    and not getattr(cycle, "waiting_for_100_continue", True)
                    and getattr(cycle, "transport", None) is self.transport):
                cycle.transport = OneWriteTransport(self.transport)
            super()._start_asgi_task(cycle, app)

    return HotAnswerProtocol
