"""The loopback HTTP/1.1 wire against small scripted servers, and the client's wire
encoding of calls."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from voxmem import BadRequest, IdentityMismatch, VoxmemError
from voxmem.client._core import ClientCore, OperationCall
from voxmem.client._wire import ConnectFailed, RequestFailed, StreamsWire

Responder = Callable[[int], bytes]


class ScriptedServer:
    """Answers each request with ``respond(n)``; optionally hangs up after answering."""

    def __init__(self, respond: Responder, *, close_after: bool = False,
                 silent: bool = False) -> None:
        self.respond = respond
        self.close_after = close_after
        self.silent = silent
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")), 0)
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if self.silent:
                    await asyncio.sleep(3600)
                writer.write(self.respond(len(self.requests)))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(respond: Responder, **kwargs: bool) -> ScriptedServer:
        scripted = ScriptedServer(respond, **kwargs)
        servers.append(scripted)
        return scripted

    yield start
    for scripted in servers:
        if scripted.server is not None:
            scripted.server.close()


async def started(scripted: ScriptedServer) -> ScriptedServer:
    scripted.server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    return scripted


def fixed(body: bytes, status: str = "200 OK") -> Responder:
    return lambda n: (f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n\r\n"
                      .encode() + body)


async def test_keep_alive_reuses_one_connection(serve: Callable[..., ScriptedServer]) -> None:
    server = await started(serve(fixed(b'{"ok": true}')))
    wire = StreamsWire()
    for _ in range(3):
        status, body = await wire.request(server.url, "POST", "/v1/x", b"{}", "tok", 2)
        assert (status, body) == (200, b'{"ok": true}')
    assert server.connections == 1
    assert b"authorization: Bearer tok" in server.requests[0]
    assert server.requests[0].startswith(b"POST /v1/x HTTP/1.1\r\n")
    await wire.aclose()


async def test_chunked_bodies_are_reassembled(serve: Callable[..., ScriptedServer]) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
    server = await started(serve(lambda n: chunked))
    wire = StreamsWire()
    assert await wire.request(server.url, "GET", "/", None, None, 2) == (200, b"hello world")
    assert await wire.request(server.url, "GET", "/", None, None, 2) == (200, b"hello world")
    assert server.connections == 1
    await wire.aclose()


async def test_a_connection_the_server_dropped_is_replaced(
        serve: Callable[..., ScriptedServer]) -> None:
    server = await started(serve(fixed(b"{}"), close_after=True))
    wire = StreamsWire()
    for _ in range(3):
        assert (await wire.request(server.url, "GET", "/", None, None, 2))[0] == 200
        await asyncio.sleep(0.01)
    assert server.connections == 3
    await wire.aclose()


async def test_connection_close_header_is_honoured(
        serve: Callable[..., ScriptedServer]) -> None:
    server = await started(serve(lambda n: b"HTTP/1.1 200 OK\r\nconnection: close\r\n"
                                 b"content-length: 2\r\n\r\n{}"))
    wire = StreamsWire()
    await wire.request(server.url, "GET", "/", None, None, 2)
    await wire.request(server.url, "GET", "/", None, None, 2)
    assert server.connections == 2
    await wire.aclose()


async def test_refused_is_connect_failed_and_silence_is_a_timeout(
        serve: Callable[..., ScriptedServer]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    wire = StreamsWire()
    with pytest.raises(ConnectFailed):
        await wire.request(f"http://127.0.0.1:{port}", "GET", "/", None, None, 2)
    server = await started(serve(fixed(b"{}"), silent=True))
    with pytest.raises(TimeoutError):
        await wire.request(server.url, "GET", "/", None, None, 0.1)
    await wire.aclose()


async def test_a_garbled_response_is_request_failed(
        serve: Callable[..., ScriptedServer]) -> None:
    server = await started(serve(lambda n: b"not http at all\r\n\r\n", close_after=True))
    with pytest.raises(RequestFailed):
        await StreamsWire().request(server.url, "GET", "/", None, None, 2)


# -- the client's side of the wire format ------------------------------------------------------
def test_calls_encode_to_the_operation_table_routes() -> None:
    core = ClientCore(project_id="p", agent_id="a")
    call = core.call("search_memory", query="hi", user={"id": "u"}, user_id=None,
                     lanes=("org",), intent="answer_current_user", top_k=None,
                     timeout_ms=None, mode="fast")
    request = ClientCore.http_request(call)
    assert (request.method, request.path) == ("POST", "/v1/memory/search")
    body = json.loads(request.body)
    # No tenant given, none sent: the runtime applies the default tenant, or the tenant
    # of the API key the client signs in with (docs/runtime.md, "Tenants and API keys").
    assert body == {"query": "hi", "user": {"id": "u"}, "lanes": ["org"],
                    "intent": "answer_current_user", "mode": "fast",
                    "projectId": "p", "agentId": "a"}
    named = ClientCore(project_id="p", agent_id="a", tenant_id="acme").call(
        "search_memory", query="hi", user={"id": "u"})
    assert json.loads(ClientCore.http_request(named).body)["tenantId"] == "acme"


def test_a_save_carries_a_turn_id_fixed_before_the_first_attempt() -> None:
    core = ClientCore(project_id="p", agent_id="a")
    call = core.call("save_response", user_text="a", assistant_text="b", user={"id": "u"},
                     user_id=None, turn_id=None, tool_calls=None, metadata=None,
                     interrupted=False)
    assert call.payload["turnId"].startswith("turn_")
    assert json.loads(ClientCore.http_request(call).body)["turnId"] == call.payload["turnId"]


def test_operation_specific_argument_handling() -> None:
    core = ClientCore(project_id="p", agent_id="a")
    # None clears a profile field: it is sent, not left out as "not given".
    cleared = core.call("update_profile", user={"id": "u"}, user_id=None, field="plan",
                        value=None)
    assert "value" in cleared.payload and cleared.payload["value"] is None
    assert core.call("update_profile", user={"id": "u"}, user_id=None, field="plan",
                     value="gold").payload["value"] == "gold"
    # False flags are the runtime's defaults and stay off the wire.
    assert "learning" not in core.call("flush", timeout_s=5.0, learning=False).payload
    assert core.call("flush", timeout_s=5.0, learning=True).payload["learning"] is True
    ended = core.call("end_session", user={"id": "u"}, user_id=None, reason="completed",
                      session_id=None, report=None, wait=False)
    assert "wait" not in ended.payload
    # The recall timeout is checked before any I/O: the client's deadline depends on it.
    with pytest.raises(BadRequest):
        core.call("search_memory", query="q", user={"id": "u"}, timeout_ms=-1)


def test_error_envelopes_become_their_exception_classes() -> None:
    envelope = {"error": {"code": "identity_mismatch", "message": "no", "details": {}}}
    with pytest.raises(IdentityMismatch):
        ClientCore.parse_http(409, json.dumps(envelope).encode())
    bad = {"error": {"code": "bad_request", "message": "x", "details": {"field": "lanes"}}}
    with pytest.raises(BadRequest) as err:
        ClientCore.parse_http(400, json.dumps(bad).encode())
    assert err.value.field == "lanes"
    with pytest.raises(VoxmemError) as err2:
        ClientCore.parse_http(502, b"<html>proxy error</html>")
    assert err2.value.code == "internal" and err2.value.status_code == 502


def test_a_call_without_a_caller_fails_before_any_io() -> None:
    with pytest.raises(BadRequest) as err:
        _ = OperationCall("search_memory", {"query": "x"}).caller
    assert err.value.field == "user"
    assert OperationCall("list_indexes", {}).caller is None
