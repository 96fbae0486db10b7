"""The runtime's hot path: search, save and preload without the web framework.

A voice host sends a search and a save every turn of every call, so these few
operations are most of the runtime's traffic, and most of what a request cost was the
framework around the memory work, not the work (docs/performance.md: routing,
middleware, request and response objects, exception-handler frames). :class:`HotPath`
is a plain ASGI app in front of the Starlette one: a ``POST`` to a hot operation's route
that carries the right bearer token is answered right here, through the very function
the Starlette endpoint runs (body limits, JSON checks, :func:`~voxmem._operations.dispatch`
with its validation, metrics, the error envelope). Everything else — a missing or wrong
token, another method, every other route, lifespan — goes to the Starlette app
unchanged, so the answers a client can observe are the same on both paths.

The body codec lives here too, shared by both paths: the body limit (declared and
actual), UTF-8, JSON (huge integers and non-finite constants refused naming the body),
and the encoded answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .._config import mask_secrets
from .._exceptions import BadRequest, VoxmemError
from .._handlers import Operation
from ..engine._validate import parse_json_int

__all__ = ["HOT_OPERATIONS", "MAX_JSON_DEPTH_ERROR", "HotPath", "encode_json", "error_body",
           "parse_json_object", "read_asgi_json_object", "read_json_object"]

#: The operations a voice turn sends; every other one goes through Starlette.
HOT_OPERATIONS = frozenset({"search_memory", "save_response", "preload"})
MAX_JSON_DEPTH_ERROR = "request body is nested too deeply"

#: Runs one operation: (operation, body reader, arrival) -> the encoded answer; raises
#: :class:`VoxmemError` for the error envelope.
#: The last argument is the tenant the request's API key is bound to (None: the admin).
RunOperation = Callable[[Operation, Callable[[], Awaitable[dict[str, Any]]], float | None,
                         str | None], Awaitable[bytes]]
#: Decides a request's credential: its access (``tenant`` None for the admin token), or
#: None to let the Starlette app answer it (401 and every other refusal are made there).
Identify = Callable[[Scope], Awaitable[Any]]
_JSON_HEADERS = b"application/json"


def encode_json(body: Any) -> bytes:
    """An answer as compact UTF-8 JSON.

    msgspec writes a search answer (a few kB of nested results) about ten times faster
    than the stdlib encoder, which was 2 % of a request's CPU under load
    (docs/performance.md). What it writes differs only in spelling: the same values,
    floats in their shortest form (``0.00001``, ``1e22``) and a non-finite float as
    ``null`` where the stdlib wrote ``NaN`` (which is not JSON, and which JavaScript's
    ``JSON.parse`` refuses). A dict it cannot write (a key that is not a string or a
    number) goes to the stdlib encoder, which turns such keys into strings.
    """
    try:
        return _FAST_ENCODER.encode(body)
    except TypeError:
        return _ENCODER.encode(body).encode("utf-8")


def error_body(exc: VoxmemError, secrets: tuple[str, ...] = ()) -> bytes:
    envelope = exc.to_envelope()
    envelope["error"]["message"] = mask_secrets(exc.message, secrets)
    return encode_json(envelope)


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not valid JSON", field="body")


# Made once: ``json.loads``/``json.dumps`` with any option build a new decoder/encoder
# per call, which was 4 % of the runtime's GIL time under load (docs/performance.md).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_FAST_ENCODER = msgspec.json.Encoder()
# parse_int: a 5,000-digit integer would make int() raise a bare ValueError (a 500); it
# becomes a marker the operation check refuses, naming the field.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=parse_json_int)


def _check_declared_size(declared: str | None, max_bytes: int) -> None:
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest(f"request body is {declared} bytes; the limit is {max_bytes}",
                         field="body", status_code=413)


def _too_large(max_bytes: int) -> BadRequest:
    return BadRequest(f"request body exceeds the limit of {max_bytes} bytes", field="body",
                      status_code=413)


async def read_json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object; anything else is a 400/413 naming the body."""
    _check_declared_size(request.headers.get("content-length"), max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return parse_json_object(b"".join(chunks))


async def read_asgi_json_object(scope: Scope, receive: Receive,
                                max_bytes: int) -> dict[str, Any]:
    """:func:`read_json_object` straight from ASGI messages, with the same answers."""
    declared = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = value.decode("latin-1")
            break
    _check_declared_size(declared, max_bytes)
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnect()
    raw: bytes = message.get("body", b"")
    if message.get("more_body", False):
        # Rare for a small request: the body came in more than one piece.
        chunks = [raw]
        size = len(raw)
        while message.get("more_body", False):
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            chunks.append(chunk)
        raw = b"".join(chunks)
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
    return parse_json_object(raw)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A request body's bytes as a JSON object; a 400 naming the body otherwise."""
    if not raw.strip():
        raise BadRequest("request body is empty; send a JSON object", field="body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"request body is not valid UTF-8 (byte {exc.start})",
                         field="body") from None
    try:
        if text.startswith("\ufeff"):  # json.loads refuses a BOM; so does the decoder here
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)",
                                       text, 0)
        payload = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}", field="body") from None
    except RecursionError:
        raise BadRequest(MAX_JSON_DEPTH_ERROR, field="body") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(payload).__name__}",
                         field="body")
    return payload


class HotPath:
    """ASGI app answering the hot operations itself, everything else via ``app``.

    ``identify`` is the token gate's own check; ``run`` the function the Starlette
    endpoints run, so both paths validate, count and answer identically.
    """

    def __init__(self, app: ASGIApp, identify: Identify,
                 operations: dict[str, Operation], run: RunOperation,
                 secrets: tuple[str, ...], max_body: int) -> None:
        self.app = app
        self._identify = identify
        self._operations = operations
        self._run = run
        self._secrets = secrets
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get(
                "root_path"):
            op = self._operations.get(scope["path"])
            if op is not None:
                try:
                    access = await self._identify(scope)
                except VoxmemError:
                    access = None  # the token gate answers it (store.unavailable)
                if access is not None:
                    await self._answer(op, scope, receive, send, access.tenant)
                    return
        await self.app(scope, receive, send)

    async def _answer(self, op: Operation, scope: Scope, receive: Receive,
                      send: Send, tenant: str | None) -> None:
        # Stamped before the body is awaited, as the token gate does: a deadline counts
        # the time a request waited for the loop.
        received_at = time.time()

        def read() -> Awaitable[dict[str, Any]]:
            return read_asgi_json_object(scope, receive, self._max_body)

        try:
            body = await self._run(op, read, received_at, tenant)
            status = 200
        except VoxmemError as exc:
            status, body = exc.status_code, error_body(exc, self._secrets)
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-length", str(len(body)).encode("ascii")),
            (b"content-type", _JSON_HEADERS)]})
        await send({"type": "http.response.body", "body": body})
