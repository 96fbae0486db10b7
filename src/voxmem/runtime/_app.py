"""The runtime's ASGI app (Starlette): the REST API generated from the operation table.

Every route in :data:`voxmem._operations.OPERATIONS` becomes one ``POST`` endpoint that
reads a JSON object, dispatches it through the same :func:`~voxmem._operations.dispatch`
the embedded client uses, and answers with the operation's JSON result — so a call
behaves identically in-process and over HTTP.

Every failure, including ones the framework itself would answer (unknown route, wrong
method, unreadable body), is the one envelope ``{"error": {"code", "message",
"details"}}``. Bad input is a 4xx naming the field; only a bug is a 500 ``internal``.

The token is checked before routing: without it every path but ``/v1/health`` answers
401, so an unauthenticated client cannot tell which routes exist. The dashboard's
sign-in page and assets, and its signed-in browser sessions, are the exception; a
browser asking for any page without either is sent to the sign-in form. Error messages and
log lines are passed through :func:`~voxmem._config.mask_secrets`.

The hot operations of a voice turn (search, save, preload) are answered in front of
Starlette by :class:`~voxmem.runtime._hotpath.HotPath`, through the same
``run_operation`` the endpoints below run; :func:`create_app` returns that app.

Why Starlette rather than FastAPI: the bodies are validated by the shared operation
table's msgspec types, not by pydantic models, so FastAPI would add only its schema
generator — and ~0.4 s to every runtime cold start, which a caller's first call waits
for. The OpenAPI document is generated from the same table: every request and response
type becomes a schema under ``components/schemas`` (msgspec's JSON Schema output).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .._api import OPERATION_SPECS
from .._config import Settings, settings_table
from .._exceptions import BadRequest, InternalError, NotFound, VoxmemError
from .._operations import OPERATIONS, Operation, dispatch
from ..engine import MemoryEngine
from ._admission import Admission
from ._auth import (
    HEALTH_PATH,
    KEYS_CHANGED,
    RECEIVED_AT_KEY,
    TENANT_KEY,
    Credentials,
    TokenGate,
    error_response,
)
from ._hotpath import (
    HOT_OPERATIONS,
    HotPath,
    encode_json,
    read_json_object,
)
from ._metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ._metrics import RuntimeMetrics
from .dashboard import Dashboard, dashboard_openapi_paths

__all__ = ["RuntimeHooks", "create_app", "openapi_document"]

log = logging.getLogger("voxmem.runtime")


_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string", "example": "bad_request"},
        "message": {"type": "string"},
        "details": {"type": "object", "example": {"field": "user.id"}},
    }, "required": ["code", "message", "details"]}},
    "required": ["error"],
}
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": why, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}
    for status, why in (
        (400, "Invalid input (`bad_request`); `details.field` names the field."),
        (401, "Missing or wrong bearer token or API key (`unauthorized`)."),
        (403, "An API key used beyond its tenant (`forbidden`)."),
        (404, "Not found (`not_found`, `session_not_found`)."),
        (409, "A session id used with another caller (`identity_mismatch`)."),
        (413, "Too large (`index.batch_too_large`, oversized text or body)."),
        (500, "A bug (`internal`)."),
        (503, "The store cannot take writes (`store.unavailable`)."),
    )
}
_COMMON_FIELDS = (
    "Every body carries `projectId`, `agentId` and optionally `tenantId`. Calls about "
    "a caller also take `user` ({id, name, metadata}) or `userId`. Fields are camelCase "
    "in both directions; a request field may also be spelled in snake_case (`user_text`, "
    "the Python parameter name), and `details.field` of an error names the field in that "
    "spelling. Unknown fields are refused with `bad_request` naming them."
)
_REF = "#/components/schemas/{name}"


class RuntimeHooks:
    """Callbacks the server process hangs on the app's lifespan (discovery file, exit)."""

    def __init__(
        self,
        *,
        on_ready: Callable[[], None] | None = None,
        on_stopping: Callable[[], None] | None = None,
        on_stopped: Callable[[], None] | None = None,
        request_shutdown: Callable[[], None] | None = None,
        info: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.on_ready = on_ready
        self.on_stopping = on_stopping
        #: After the engine closed: the process may end right after it (uvicorn re-raises
        #: the stop signal), so nothing later in the server is sure to run.
        self.on_stopped = on_stopped
        self.request_shutdown = request_shutdown
        self.info = info


def _json_response(status: int, body: Any) -> Response:
    return Response(encode_json(body), status_code=status, media_type="application/json")


#: The routes beside the generated ones: (method, path, summary, needs the token).
EXTRA_ROUTES = (
    ("GET", HEALTH_PATH, "Liveness; needs no token and reveals nothing", False),
    ("GET", "/openapi.json", "This OpenAPI document", True),
    ("GET", "/v1/runtime", "Process, version and engine stats", True),
    ("GET", "/metrics", "Prometheus metrics: rates, latencies, saturation, memory", True),
    ("GET", "/v1/settings", "The settings table (name, default, env, help) with values",
     True),
    ("POST", "/v1/admin/shutdown", "Flush everything to the store and stop the runtime",
     True),
)
#: Extra routes that answer something other than JSON, as their OpenAPI content.
_EXTRA_ROUTE_CONTENT: dict[str, dict[str, Any]] = {
    "/metrics": {"content": {"text/plain": {"schema": {"type": "string"}}}},
}


def _schemas() -> tuple[dict[str, tuple[dict[str, Any], dict[str, Any]]], dict[str, Any]]:
    """Per operation its (request, response) schema refs, and the shared components."""
    types: list[Any] = []
    for spec in OPERATION_SPECS.values():
        types += [spec.request, spec.response]
    types += [Health, SettingsView]
    refs, components = msgspec.json.schema_components(types, ref_template=_REF)
    it = iter(refs)
    per_op = {name: (next(it), next(it)) for name in OPERATION_SPECS}
    return per_op, components


class Health(msgspec.Struct):
    status: str


class SettingRow(msgspec.Struct):
    name: str
    default: Any
    env: str
    help: str
    value: Any


class SettingsView(msgspec.Struct):
    settings: list[SettingRow]


def openapi_document(version: str) -> dict[str, Any]:
    """OpenAPI 3.1 description of the REST API, generated from the operation table.

    Request and response bodies refer to ``components/schemas``, generated from the
    operation table's msgspec types.
    """
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    per_op, components = _schemas()
    errors = {str(k): v for k, v in _ERROR_RESPONSES.items()}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS.values():
        request_ref, response_ref = per_op[op.name]
        ok = {"200": {"description": "The operation's result",
                      "content": {"application/json": {"schema": response_ref}}}}
        paths.setdefault(op.path, {})[op.method.lower()] = {
            "operationId": op.name, "summary": op.summary, "tags": ["memory"],
            "description": f"{op.summary}. {_COMMON_FIELDS}", "security": secured,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": request_ref}}},
            "responses": {**ok, **errors},
        }
        if op.spec.read_path is not None:
            paths.setdefault(op.spec.read_path, {})["get"] = {
                "operationId": f"{op.name}_get", "summary": f"{op.summary} (JSON twin)",
                "tags": ["memory"], "security": secured,
                "description": f"The same read as `{op.method} {op.path}`, with the "
                               "request's fields as query parameters.",
                "parameters": [
                    {"name": name, "in": "query", "required": required,
                     "schema": {"type": "string"}}
                    for name, required in op.spec.query_parameters],
                "responses": {**ok, **errors},
            }
    views = {HEALTH_PATH: "Health", "/v1/settings": "SettingsView"}
    for method, path, summary, needs_token in EXTRA_ROUTES:
        body: dict[str, Any] = {"description": "OK"}
        if path in _EXTRA_ROUTE_CONTENT:
            body.update(_EXTRA_ROUTE_CONTENT[path])
        elif path in views:
            body["content"] = {"application/json": {"schema": {
                "$ref": _REF.format(name=views[path])}}}
        elif path in ("/v1/runtime", "/openapi.json"):
            body["content"] = {"application/json": {"schema": {"type": "object"}}}
        status = "202" if path == "/v1/admin/shutdown" else "200"
        paths.setdefault(path, {})[method.lower()] = {
            "operationId": path.strip("/").replace("/", "_").replace(".", "_"),
            "summary": summary, "tags": ["runtime"],
            "security": secured if needs_token else [],
            "responses": {status: body, **(
                {"401": _ERROR_RESPONSES[401], "404": _ERROR_RESPONSES[404]}
                if needs_token else {})},
        }
    paths.update(dashboard_openapi_paths(_ERROR_RESPONSES))
    return {
        "openapi": "3.1.0",
        "info": {"title": "voxmem runtime", "version": version, "description": (
            "Local-first memory for real-time voice agents. Send `Authorization: Bearer "
            "<token>`; the token is in `runtime.token` (mode 0600) in the runtime's data "
            "directory. Errors are always `{\"error\": {\"code\", \"message\", "
            "\"details\"}}`. " + _COMMON_FIELDS)},
        "paths": paths,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "dashboardSession": {"type": "apiKey", "in": "cookie", "name": "voxmem_session"}},
                       "schemas": {**components, "Error": _ENVELOPE_SCHEMA}},
    }


def create_app(
    engine: MemoryEngine,
    *,
    token: str,
    settings: Settings | None = None,
    hooks: RuntimeHooks | None = None,
    admission: Admission | None = None,
) -> HotPath:
    """The runtime's ASGI app serving ``engine``, guarded by bearer ``token``.

    The lifespan starts the engine, and on shutdown closes it, which applies every
    journaled write to the store first. ``admission`` (default: measured on the
    serving loop) decides which searches give way past capacity.

    Example::

        engine = MemoryEngine(Settings(data_dir="/tmp/vm", embedder="hashing"))
        app = create_app(engine, token="secret")
        uvicorn.run(app, host="127.0.0.1", port=7878)
    """
    if not token:
        raise ValueError("the runtime needs a non-empty token")
    cfg = settings or engine.settings
    hooks = hooks or RuntimeHooks()
    secrets = (*cfg.secret_values(), token)
    max_body = cfg.runtime_max_body_bytes
    openapi = _json_response(200, openapi_document(_version()))
    metrics = RuntimeMetrics(engine.stats, admission)

    admission = metrics.admission

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        admission.lag.start()
        if hooks.on_ready is not None:
            hooks.on_ready()
        try:
            yield
        finally:
            admission.lag.stop()
            # Unpublish first so no new client picks a runtime that is going away, then
            # apply everything journaled: a graceful stop leaves the store complete.
            if hooks.on_stopping is not None:
                hooks.on_stopping()
            started = time.perf_counter()
            try:
                await engine.close()
            finally:
                if hooks.on_stopped is not None:
                    hooks.on_stopped()
            log.info("engine flushed and closed in %.0f ms",
                     (time.perf_counter() - started) * 1000)

    async def run_operation(op: Operation, read: Callable[[], Awaitable[dict[str, Any]]],
                            received_at: float | None, tenant: str | None) -> bytes:
        """One operation from body to encoded answer; both request paths run this."""
        arrived = metrics.started(received_at)
        status, result = 500, None
        # Past capacity a share of searches gives way, so the saves (never dropped) and
        # the other searches are answered on time (runtime/_admission.py).
        shed = admission.shed_search() if op.name == "search_memory" else None
        try:
            payload = await read()
            if op.name == "save_response":
                # Saves take turns through a gate: past capacity they wait here, costing
                # nothing, instead of filling the loop's queue ahead of every search.
                await admission.enter_save()
                try:
                    result = await dispatch(engine, op.name, payload, received_at=arrived,
                                            tenant=tenant)
                finally:
                    admission.leave_save()
            else:
                result = await dispatch(engine, op.name, payload, received_at=arrived,
                                        shed=shed, tenant=tenant)
            status = 200
        except VoxmemError as exc:
            status = exc.status_code
            raise
        except Exception as exc:
            # A bug, not bad input: log the traceback, tell the client no internals.
            log.exception("operation %s failed", op.name)
            raise InternalError(f"{op.name} failed unexpectedly ({type(exc).__name__}); "
                                "see the runtime log") from exc
        finally:
            metrics.finished(op.name, arrived, status, result)
        return encode_json(result)

    def endpoint_for(op: Operation) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body = await run_operation(op, lambda: read_json_object(request, max_body),
                                       request.scope.get(RECEIVED_AT_KEY),
                                       request.scope.get(TENANT_KEY))
            return Response(body, media_type="application/json")

        endpoint.__name__ = op.name
        endpoint.__doc__ = op.summary
        return endpoint

    def read_twin_for(op: Operation) -> Callable[[Request], Awaitable[Response]]:
        """``GET`` twin of a read: the identity fields come as query parameters."""
        async def twin(request: Request) -> Response:
            payload: dict[str, Any] = dict(request.query_params)
            result = await dispatch(engine, op.name, payload,
                                    received_at=request.scope.get(RECEIVED_AT_KEY),
                                    tenant=request.scope.get(TENANT_KEY))
            return _json_response(200, result)

        twin.__name__ = f"{op.name}_get"
        return twin

    async def health(_request: Request) -> Response:
        # Reveals nothing about the data: only that a voxmem runtime answers here.
        return _json_response(200, {"status": "ok"})

    async def runtime_info(_request: Request) -> Response:
        info = hooks.info() if hooks.info is not None else {"pid": os.getpid()}
        return _json_response(200, {**info, "version": _version(), "stats": engine.stats(),
                                    "saturation": metrics.saturation().to_dict()})

    async def metrics_view(_request: Request) -> Response:
        return Response(metrics.exposition(), media_type=METRICS_CONTENT_TYPE)

    async def settings_view(_request: Request) -> Response:
        values = cfg.to_dict()
        rows = [{**row, "value": values.get(row["name"])} for row in settings_table()]
        return _json_response(200, {"settings": rows})

    async def shutdown(_request: Request) -> Response:
        if hooks.request_shutdown is None:
            raise NotFound("this runtime cannot be stopped over HTTP")
        hooks.request_shutdown()
        return _json_response(202, {"status": "stopping"})

    async def openapi_view(_request: Request) -> Response:
        return openapi

    routes: list[BaseRoute] = [
        Route(op.path, endpoint_for(op), methods=[op.method], name=op.name)
        for op in OPERATIONS.values()]
    routes += [Route(op.spec.read_path, read_twin_for(op), methods=["GET"])
               for op in OPERATIONS.values() if op.spec.read_path is not None]
    views = {HEALTH_PATH: health, "/v1/runtime": runtime_info, "/v1/settings": settings_view,
             "/v1/admin/shutdown": shutdown, "/openapi.json": openapi_view,
             "/metrics": metrics_view}
    routes += [Route(path, views[path], methods=[method])
               for method, path, _summary, _auth in EXTRA_ROUTES]
    dashboard = Dashboard(engine, token=token)
    routes += dashboard.routes

    async def voxmem_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, VoxmemError)
        return error_response(exc, secrets)

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return error_response(NotFound("no such route; see /openapi.json"))
        if exc.status_code == 405:
            return error_response(BadRequest("method not allowed on this route",
                                              status_code=405, field="method"))
        return error_response(VoxmemError(str(exc.detail), code="bad_request"
                                           if exc.status_code < 500 else "internal",
                                           status_code=exc.status_code))

    async def unexpected_error(_request: Request, exc: Exception) -> Response:
        log.error("unhandled error in the runtime", exc_info=exc)
        return error_response(InternalError("unexpected error; see the runtime log"))

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        VoxmemError: voxmem_error, StarletteHTTPException: http_error,
        Exception: unexpected_error})
    # Behind the gate, Starlette's trailing-slash redirect is only reachable with the
    # token; it stays off anyway so every route has exactly one spelling.
    app.router.redirect_slashes = False
    # A shared (Postgres) store's keys are changed from other hosts: read every time.
    credentials = Credentials(token, lambda: engine.store, changed=None if (
        engine.shared_store) else cfg.data_path / KEYS_CHANGED)
    tenant_paths = frozenset({"/openapi.json", *(op.path for op in OPERATIONS.values()), *(
        op.spec.read_path for op in OPERATIONS.values() if op.spec.read_path is not None)})
    app.add_middleware(TokenGate, credentials=credentials, tenant_paths=tenant_paths,
                       dashboard=dashboard)
    hot = {op.path: op for op in OPERATIONS.values()
           if op.name in HOT_OPERATIONS and op.method == "POST"}
    return HotPath(app, credentials.identify, hot, run_operation, secrets, max_body)


def _version() -> str:
    # Imported late: voxmem/__init__ imports the client, which imports this package.
    from .. import __version__

    return __version__
