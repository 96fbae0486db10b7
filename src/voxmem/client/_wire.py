"""How request bytes reach a runtime: a lean HTTP/1.1 client for plain ``http://`` (the
loopback case) and httpx for everything else (``https://`` runtimes).

Why a hand-rolled client for loopback: recall sits on the audio path, and httpx's
generality costs about 1 ms of CPU per request — measured 1.6 ms against 0.3 ms for the
same keep-alive POST over asyncio streams — which is a tenth of the recall budget and
grows with load. The subset needed here is small and the peer is our own runtime:
keep-alive connections, ``Content-Length`` or chunked bodies, nothing else.

Both wires raise the same three errors, which the transport turns into retries and
:class:`~voxmem.VoxmemError` codes: :class:`ConnectFailed` (nothing was sent),
:class:`RequestFailed` (the connection broke after sending) and ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx

__all__ = ["ConnectFailed", "HttpxWire", "RequestFailed", "StreamsWire", "Wire", "wire_for"]

USER_AGENT = "voxmem-client"
MAX_IDLE_CONNECTIONS = 64
MAX_HEADER_BYTES = 64 * 1024


class ConnectFailed(Exception):
    """No connection could be made; the request was not sent."""


class RequestFailed(Exception):
    """The connection broke after the request was (at least partly) sent."""


class Wire(Protocol):
    async def request(self, base_url: str, method: str, path: str, body: bytes | None,
                      token: str | None, timeout_s: float) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


def wire_for(url: str | None) -> Wire:
    """The lean wire for ``http://`` (and the local runtime), httpx for the rest."""
    if url is None or url.startswith("http://"):
        return StreamsWire()
    return HttpxWire()


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class StreamsWire:
    """Keep-alive HTTP/1.1 over asyncio streams, for ``http://`` URLs."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Conn]] = {}

    async def request(self, base_url: str, method: str, path: str, body: bytes | None,
                      token: str | None, timeout_s: float) -> tuple[int, bytes]:
        parts = urllib.parse.urlsplit(base_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        head = [f"{method} {parts.path.rstrip('/')}{path} HTTP/1.1",
                f"host: {parts.netloc}", f"user-agent: {USER_AGENT}"]
        if token:
            head.append(f"authorization: Bearer {token}")
        if body is not None:
            head += ["content-type: application/json", f"content-length: {len(body)}"]
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
        async with asyncio.timeout(timeout_s):
            conn = self._take_idle(host, port)
            if conn is not None:
                try:
                    return await self._exchange(conn, (host, port), payload)
                except RequestFailed:
                    pass  # the runtime closed the idle connection: one fresh try
            return await self._exchange(await self._connect(host, port), (host, port),
                                        payload)

    def _take_idle(self, host: str, port: int) -> _Conn | None:
        idle = self._idle.get((host, port))
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def _connect(self, host: str, port: int) -> _Conn:
        try:
            return await asyncio.open_connection(host, port, limit=MAX_HEADER_BYTES)
        except OSError as exc:
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, conn: _Conn, key: tuple[str, int],
                        payload: bytes) -> tuple[int, bytes]:
        reader, writer = conn
        keep = False
        try:
            writer.write(payload)
            await writer.drain()
            status, body, keep = await _read_response(reader)
            return status, body
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError) as exc:
            raise RequestFailed(f"{type(exc).__name__}: {exc}") from exc
        finally:
            # A connection is reused only after a complete exchange; one interrupted by
            # an error, a timeout or a cancellation is closed.
            idle = self._idle.setdefault(key, [])
            if keep and len(idle) < MAX_IDLE_CONNECTIONS:
                idle.append(conn)
            else:
                writer.close()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for _reader, writer in idle:
                writer.close()
        self._idle.clear()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the connection may be reused."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode("latin-1").split("\r\n")
    version, status_text = lines[0].split(" ", 2)[:2]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                break
            chunks.append((await reader.readexactly(size + 2))[:-2])
        body = b"".join(chunks)
    else:
        body, keep = await reader.read(), False
    return int(status_text), body, keep


class HttpxWire:
    """httpx, for ``https://`` runtimes (TLS, proxies and the rest of HTTP)."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def request(self, base_url: str, method: str, path: str, body: bytes | None,
                      token: str | None, timeout_s: float) -> tuple[int, bytes]:
        # Imported on first use: httpx costs ~50 ms of import that a loopback-only client
        # (the common case) never needs.
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(headers={"user-agent": USER_AGENT})
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        try:
            response = await self._client.request(method, base_url.rstrip("/") + path,
                                                  content=body, headers=headers,
                                                  timeout=timeout_s)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol,
                httpx.InvalidURL) as exc:
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise TimeoutError(str(exc)) from exc
        except httpx.HTTPError as exc:
            raise RequestFailed(f"{type(exc).__name__}: {exc}") from exc
        return response.status_code, response.content

    async def aclose(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None
