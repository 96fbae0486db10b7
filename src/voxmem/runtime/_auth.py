"""Who a request is: the runtime's admin token, a tenant's API key, or nobody.

The runtime token (``runtime.token``) is the admin credential: every route, every
tenant. An API key made with ``voxmem keys create --tenant T`` is bound to tenant ``T``:
it reaches only the memory operations (and ``/openapi.json``), and each of them runs in
``T`` — a body or query naming another tenant is refused with 403 ``forbidden``, one
naming none is run in ``T`` (:func:`voxmem._handlers.bind_tenant`). The dashboard,
``/metrics``, ``/v1/runtime``, ``/v1/settings``, shutdown and the runtime-wide
operations (flush, quarantine) stay admin-only.

A revocation holds from the next request on, with no restart. On a Postgres store
(shared by runtimes on many hosts) a key is checked against the store on every request.
On the embedded store a key found live is remembered, and forgotten as soon as
``voxmem keys`` changes any key: it replaces :data:`KEYS_CHANGED` in the data directory,
which the runtime stats on every request (a microsecond) rather than reading the store
(a thread hop to the reader pool: ~1 ms CPU per request under load,
benchmarks/tenant_key_overhead.py). A missing, wrong, malformed, unknown or revoked
credential is one and the same 401.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .._exceptions import Unauthorized, VoxmemError
from ..store._api_keys import KeyStore, find_key, looks_like_key, touch_key
from ._hotpath import error_body

__all__ = ["ADMIN", "HEALTH_PATH", "KEYS_CHANGED", "RECEIVED_AT_KEY", "TENANT_KEY", "Access",
           "Credentials", "TokenGate", "error_response", "forbidden", "keys_changed",
           "unauthorized"]

log = logging.getLogger("voxmem.runtime")

HEALTH_PATH = "/v1/health"
#: Where the arrival time of a request (epoch seconds) is kept in its ASGI scope.
RECEIVED_AT_KEY = "voxmem.received_at"
#: Where the tenant a request's API key is bound to is kept in its ASGI scope.
TENANT_KEY = "voxmem.tenant"
#: Replaced by ``voxmem keys`` whenever it makes or revokes a key (see above).
KEYS_CHANGED = "api_keys.changed"
#: Live keys remembered at most (a bound, not a working size: one per tenant is usual).
MAX_REMEMBERED_KEYS = 10_000
#: A key's last use is written at most this often: it is for the operator's eyes
#: (``voxmem keys list``), and a write per request would compete with the saves.
TOUCH_EVERY_S = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class Access:
    """What a request may reach: every tenant (``tenant`` None) or one."""

    tenant: str | None


ADMIN = Access(None)


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, presented = value.partition(b" ")
            return presented.strip() if scheme.lower() == b"bearer" else None
    return None


class Credentials:
    """The admin token and the store's API keys; :meth:`identify` decides a request."""

    def __init__(self, token: str, store: Callable[[], object] | None = None, *,
                 changed: Path | None = None) -> None:
        self._expected = token.encode("utf-8")
        self._store = store
        #: The data directory's KEYS_CHANGED file, when keys may be remembered.
        self._changed = changed
        self._seen: tuple[int, int] | None = None
        self._live: dict[str, tuple[str, str]] = {}
        self._store_id: str | None = None
        self._touched: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def identify(self, scope: Scope) -> Access | None:
        """The request's access, or None (answer 401). Raises ``store.unavailable``
        when a key cannot be checked."""
        presented = _bearer(scope)
        if presented is None:
            return None
        # compare_digest: the time taken must not tell an attacker how much matched.
        if hmac.compare_digest(presented, self._expected):
            return ADMIN
        text = presented.decode("latin-1")
        if self._store is None or not looks_like_key(text):
            return None
        store = self._store()
        found = self._remembered(text)
        if found is None:
            seen = self._seen
            if self._store_id is None:
                self._store_id = await _store_id(store)
            found = await find_key(store, text, self._store_id)
            if found is None:
                return None
            # Remembered only if no change was seen while the store was read: a read
            # begun before a revocation must not outlive it.
            if self._changed is not None and self._seen == seen:
                if len(self._live) >= MAX_REMEMBERED_KEYS:
                    self._live.clear()
                self._live[text] = found
        key_id, tenant = found
        self._touch(store, key_id)
        return Access(tenant)

    def _remembered(self, presented: str) -> tuple[str, str] | None:
        if self._changed is None:
            return None
        try:
            st = self._changed.stat()
            seen: tuple[int, int] | None = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            seen = None
        if seen != self._seen:
            # Keys were made or revoked since: read each again from the store.
            self._live.clear()
            self._seen = seen
        return self._live.get(presented)

    def _touch(self, store: object, key_id: str) -> None:
        now = time.time()
        if now - self._touched.get(key_id, 0.0) < TOUCH_EVERY_S:
            return
        self._touched[key_id] = now
        task = asyncio.get_running_loop().create_task(self._write_touch(store, key_id, now))
        self._tasks.add(task)  # held: the loop keeps only a weak reference
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _write_touch(store: object, key_id: str, at: float) -> None:
        try:
            await touch_key(store, key_id, at)
        except VoxmemError as exc:
            # Advisory only: a lost "last used" must not fail or delay the request.
            log.debug("could not record an API key's last use: %s", exc.code)


def keys_changed(data_dir: Path) -> None:
    """Tell the runtimes of ``data_dir`` that keys were made or revoked (a new
    :data:`KEYS_CHANGED` file: a new inode, so two changes within a clock tick differ)."""
    from .._files import PRIVATE_FILE_MODE

    tmp = data_dir / f".{KEYS_CHANGED}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                 PRIVATE_FILE_MODE)
    try:
        os.write(fd, str(time.time_ns()).encode("ascii"))
    finally:
        os.close(fd)
    tmp.replace(data_dir / KEYS_CHANGED)


async def _store_id(store: object) -> str:
    return await cast(KeyStore, store).store_id()


def error_response(exc: VoxmemError, secrets: tuple[str, ...] = ()) -> Response:
    """The error envelope as a response (401s name the Bearer scheme)."""
    response = Response(error_body(exc, secrets), status_code=exc.status_code,
                        media_type="application/json")
    if exc.status_code == 401:
        response.headers.update({"WWW-Authenticate": "Bearer"})
    return response


def unauthorized() -> Unauthorized:
    return Unauthorized("missing or wrong runtime token or API key; send 'Authorization: "
                        "Bearer <token>' with the token from runtime.token or a key from "
                        "voxmem keys create")


def forbidden(what: str) -> Unauthorized:
    """403 ``forbidden`` (the client raises it as :class:`Unauthorized`)."""
    return Unauthorized(what, code="forbidden", status_code=403)


class TokenGate:
    """ASGI middleware: the credential is checked before any routing happens.

    Routing first would answer 404 / 405 / 307 to a stranger and so reveal which routes
    exist; here every path except ``/v1/health`` answers 401 without a credential (the
    dashboard's exceptions are decided by its ``admit``). A tenant's key reaches only
    ``tenant_paths`` (403 elsewhere, unknown paths too) and its tenant is put in the
    scope for the operation to be bound to. It also stamps each request's arrival time,
    before it waits for anything, so deadlines can count queueing.
    """

    def __init__(self, app: ASGIApp, credentials: Credentials, tenant_paths: frozenset[str],
                 dashboard: Any = None) -> None:
        self.app = app
        self._credentials = credentials
        self._tenant_paths = tenant_paths
        self._dashboard = dashboard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        scope[RECEIVED_AT_KEY] = time.time()
        if (scope["type"] == "http" and scope.get("path") == HEALTH_PATH
                and scope.get("method") in ("GET", "HEAD")):
            await self.app(scope, receive, send)
            return
        try:
            access = await self._credentials.identify(scope)
        except VoxmemError as exc:
            if scope["type"] == "http":
                await error_response(exc)(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1011})
            return
        if access is ADMIN:
            await self.app(scope, receive, send)
            return
        if access is not None:
            if scope["type"] == "http" and scope.get("path") in self._tenant_paths:
                scope[TENANT_KEY] = access.tenant
                await self.app(scope, receive, send)
            elif scope["type"] == "http":
                await error_response(forbidden(
                    "an API key reaches only its tenant's memory operations; this route "
                    "needs the runtime token"))(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        # The dashboard signs browsers in itself (session cookie, CSRF): its sign-in
        # page, its assets and signed-in sessions pass; a browser is sent to sign in.
        admitted = self._dashboard.admit(scope) if self._dashboard is not None else False
        if admitted is True:
            await self.app(scope, receive, send)
            return
        if isinstance(admitted, Response):
            await admitted(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        await error_response(unauthorized())(scope, receive, send)
