"""The HTTP transport: calls travel to a runtime over loopback (or to ``runtime_url``).

With no ``runtime_url`` the transport finds this data directory's runtime, starting one
on first use (:class:`~voxmem.client._launcher.LocalRuntime`). When the runtime goes
away mid-flight — killed, restarted, replaced — the transport finds or starts the
next one and retries the call once. Network and OS exceptions never leave this module:
they become :class:`~voxmem.VoxmemError` codes. The bytes travel on a
:mod:`~voxmem.client._wire`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import urllib.parse
from typing import Any

from .._config import Settings
from .._exceptions import (
    MemoryTimeout,
    RuntimeStartFailed,
    StoreUnavailable,
    Unauthorized,
    VoxmemError,
)
from ._core import ClientCore, OperationCall
from ._launcher import Endpoint, LocalRuntime
from ._wire import ConnectFailed, RequestFailed, wire_for

__all__ = ["RuntimeTransport"]

log = logging.getLogger("voxmem.client")

HEALTH_TIMEOUT_S = 1.0
#: Hosts already warned about (once per process, however many clients are built).
_WARNED_PLAIN: set[str] = set()


def _warn_if_plain(url: str) -> None:
    """Warn once per host when the token would cross a network in the clear.

    ``http://`` to loopback stays on this machine; to any other host, whoever is on the
    path reads the token (or the tenant's key) and every caller's memory with it.
    """
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or host in _WARNED_PLAIN:
        return
    if host == "localhost" or host.endswith(".localhost"):
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass  # a name: not known to stay on this machine without resolving it
    _WARNED_PLAIN.add(host)
    log.warning("runtime_url %s is plain http:// to a host that is not loopback: the token "
                "travels unencrypted; use https:// (a TLS proxy in front of the runtime)",
                f"http://{host}")


def _report_failed_launch(task: asyncio.Task[Endpoint]) -> None:
    """Say why a launch failed, also when every waiter had given up by then.

    A search waits for the runtime only until its deadline, so a runtime that cannot
    start (a setting it refuses, a missing extra) was reported as nothing but missed
    deadlines, its reason left in runtime.log. Retrieving the exception here also keeps
    asyncio from reporting it as never retrieved.
    """
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("the voxmem runtime could not be started: %s", exc)


class RuntimeTransport:
    """Carries :class:`OperationCall` objects to a runtime over HTTP; async, never blocking.

    Example::

        transport = RuntimeTransport(settings)            # local runtime, auto-launched
        data = await transport.call(core.list_indexes())
    """

    def __init__(self, settings: Settings, *, runtime_url: str | None = None,
                 token: str | None = None) -> None:
        self.settings = settings
        self._remote: Endpoint | None = None
        if runtime_url:
            if not token:
                raise Unauthorized(
                    "runtime_url needs a token: pass api_key=... or set "
                    "VOXMEM_RUNTIME_TOKEN", details={"field": "api_key"})
            self._remote = Endpoint(runtime_url.rstrip("/"), token)
            _warn_if_plain(runtime_url)
        self._local = None if self._remote else LocalRuntime(settings, health=self._healthy)
        self._endpoint: Endpoint | None = self._remote
        self._connecting: asyncio.Task[Endpoint] | None = None
        self._wire = wire_for(runtime_url)

    @property
    def local(self) -> LocalRuntime | None:
        """The local runtime manager (``None`` when talking to ``runtime_url``)."""
        return self._local

    async def _healthy(self, url: str) -> bool:
        try:
            status, _body = await self._wire.request(url, "GET", "/v1/health", None, None,
                                                     HEALTH_TIMEOUT_S)
        except (ConnectFailed, RequestFailed, TimeoutError):
            return False
        return status == 200

    async def endpoint(self) -> Endpoint:
        """The runtime to talk to, found or started once for concurrent callers."""
        if self._endpoint is not None:
            return self._endpoint
        assert self._local is not None
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._local.find_or_start())
            self._connecting.add_done_callback(_report_failed_launch)
        # Shielded: a caller whose own deadline expires must not cancel the launch the
        # other callers (and its own next call) are waiting for.
        endpoint = await asyncio.shield(self._connecting)
        self._endpoint = endpoint
        return endpoint

    def _forget(self, stale: Endpoint) -> None:
        if self._endpoint is stale and self._local is not None:
            self._endpoint = None

    async def call(self, call: OperationCall, *, timeout_s: float | None = None) -> Any:
        """Send ``call``; retry once on a fresh runtime if the connection fails."""
        request = ClientCore.http_request(call)
        timeout = timeout_s if timeout_s is not None else \
            self.settings.runtime_request_timeout_s
        for attempt in (1, 2):
            endpoint = await self.endpoint()
            try:
                status, content = await self._wire.request(
                    endpoint.url, request.method, request.path, request.body,
                    endpoint.token, timeout)
            except TimeoutError:
                raise MemoryTimeout(f"{call.op}: the runtime did not answer within "
                                    f"{timeout:.2f} s") from None
            except (ConnectFailed, RequestFailed) as exc:
                if attempt == 1:
                    log.info("runtime %s unreachable during %s (%s); reconnecting",
                             endpoint.url, call.op, exc)
                    self._forget(endpoint)
                    continue
                raise self._unreachable(call, endpoint, exc) from None
            if status == 401 and attempt == 1 and self._local is not None:
                # A restarted local runtime has a new token: rediscover once.
                self._forget(endpoint)
                continue
            if status == 401:
                # The runtime's own message speaks HTTP (a Bearer header); this client's
                # user set a token through api_key= or the environment.
                raise Unauthorized(
                    f"{call.op}: the runtime at {endpoint.url} refused this client's token; "
                    "pass the one in runtime.token of that runtime's data directory, or a "
                    "live key from 'voxmem keys create', as api_key=... (or "
                    "VOXMEM_RUNTIME_TOKEN)", details={"field": "api_key"})
            return ClientCore.parse_http(status, content)
        raise AssertionError("unreachable")  # pragma: no cover

    def _unreachable(self, call: OperationCall, endpoint: Endpoint, exc: Exception) -> VoxmemError:
        if self._local is not None:
            return RuntimeStartFailed(
                f"{call.op}: the local runtime at {endpoint.url} went away and no "
                f"replacement answered ({exc})",
                details={"dataDir": str(self._local.data_dir)})
        return StoreUnavailable(
            f"{call.op}: the runtime at {endpoint.url} is unreachable ({exc})",
            details={"runtimeUrl": endpoint.url})

    async def aclose(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        await self._wire.aclose()
