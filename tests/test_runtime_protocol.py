"""The runtime's HTTP protocol: a hot answer leaves in one write, everything else as before.

The transport is a recording stand-in for the socket (the kernel is the external
service here); the protocol is uvicorn's httptools one with the runtime's change, fed
raw request bytes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from voxmem.runtime._protocol import OneWriteTransport, hot_answer_protocol

HOT = "/v1/memory/search"
BODY = b'{"results":[]}'


class RecordingTransport(asyncio.Transport):
    """Keeps every write; ``done`` is set once a complete answer has been written."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.done = asyncio.Event()

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))
        if b"".join(self.writes).endswith(BODY):
            self.done.set()

    def close(self) -> None:
        self.closed = True
        self.done.set()

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 7878),
                "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers every request at once, as the hot path does: head, then the whole body."""
    assert scope["type"] == "http"
    message = await receive()
    assert message["type"] == "http.request"
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-length", str(len(BODY)).encode()),
        (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


async def _exchange(request: bytes, protocol_class: type[asyncio.Protocol]) -> list[bytes]:
    config = uvicorn.Config(app, http=protocol_class, lifespan="off", log_config=None,
                            proxy_headers=False, date_header=False)
    config.load()
    protocol: Any = protocol_class(config=config, server_state=ServerState(),  # type: ignore[call-arg]
                                   app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    await asyncio.wait_for(transport.done.wait(), 30)
    protocol.connection_lost(None)
    return transport.writes


def _post(path: str, extra: bytes = b"") -> bytes:
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            + extra + b"\r\n{}")


async def test_a_hot_answer_is_written_once_and_unchanged() -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    plain = await _exchange(_post(HOT), HttpToolsProtocol)
    one = await _exchange(_post(HOT), hot_answer_protocol([HOT]))
    assert len(plain) == 2  # uvicorn's own: the head, then the body
    assert one == [b"".join(plain)]
    assert one[0].startswith(b"HTTP/1.1 200 OK\r\n") and one[0].endswith(b"\r\n\r\n" + BODY)


async def test_other_requests_are_written_as_uvicorn_writes_them() -> None:
    protocol = hot_answer_protocol([HOT])
    other = await _exchange(_post("/v1/indexes/create"), protocol)
    get = await _exchange(b"GET " + HOT.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n", protocol)
    assert len(other) == 2 and other[1] == BODY
    assert len(get) == 2 and get[1] == BODY


async def test_a_request_expecting_100_continue_gets_it_first() -> None:
    writes = await _exchange(_post(HOT, b"Expect: 100-continue\r\n"),
                             hot_answer_protocol([HOT]))
    assert writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert b"".join(writes[1:]).startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"".join(writes).endswith(BODY)


@pytest.mark.parametrize("second", [b"", b"more"])
def test_closing_sends_a_held_head_first(second: bytes) -> None:
    transport = RecordingTransport()
    one = OneWriteTransport(transport)
    one.write(b"head")
    assert transport.writes == []
    if second:
        one.write(second)
        assert transport.writes == [b"head" + second]
    one.close()
    assert b"".join(transport.writes) == b"head" + second and transport.closed
    assert one.get_extra_info("sockname") == ("127.0.0.1", 7878)  # the rest is the socket's
