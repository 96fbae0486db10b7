"""The web dashboard ``voxmem serve`` serves at ``/``: callers, calls with their recall
traces, knowledge indexes, memory settings and health.

Server-rendered (Jinja2 templates, one small script for uploads), every page with a JSON
twin from the same operations as the REST API, behind the runtime's admin token through
a sign-in form (see :mod:`._auth`). Mounted by :func:`voxmem.runtime._app.create_app`.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from ...engine import MemoryEngine
from ._actions import ACTIONS, login_form, login_submit, write_action
from ._auth import DashboardAuth
from ._pages import PAGES
from ._render import Dash, read_view, sent_path

__all__ = ["DEFAULT_UPLOAD_LIMIT", "Dashboard", "dashboard_openapi_paths",
           "is_dashboard_path"]

#: Largest file one upload request may carry (text is extracted and batched after).
DEFAULT_UPLOAD_LIMIT = 64 * 1024 * 1024
STATIC_PREFIX = "/static"
#: Error statuses a JSON twin may answer (the runtime's one envelope).
TWIN_ERRORS = (400, 401, 404, 503)
#: First path segments the dashboard owns ("" is "/").
_SECTIONS = frozenset({"", "login", "logout", "static", "callers", "calls", "knowledge",
                       "settings", "health"})


def is_dashboard_path(path: str) -> bool:
    """Whether ``path`` belongs to the dashboard rather than the REST API."""
    first = path.split("/", 2)[1] if path.startswith("/") else path
    return first.removesuffix(".json") in _SECTIONS


def _is_public(path: str) -> bool:
    return path == "/login" or path.startswith(STATIC_PREFIX + "/")


def _routed(path: str) -> str:
    """``path`` as routed on the decoded path: the fallback for an address written by
    hand with a bare ``/`` in an id (``/callers/acme/42``), whose parameters take any
    characters. A route with more after the id is registered first (see
    :func:`_most_specific_first`) so ``/callers/{id}`` does not swallow
    ``/callers/{id}/forget``."""
    return path.replace("{user_id}", "{user_id:path}").replace("{session_id}",
                                                               "{session_id:path}")


class _SentPathRoute(Route):
    """A route matched on the path as sent, one percent-encoded segment per parameter.

    Caller and call ids are the integrator's and may hold anything (``acme/42``, a room
    path, base64, ``report.json``). Matched on the decoded path, an id ending like a
    sub-page or a twin was read as one: the link to caller ``acme/export`` downloaded
    caller ``acme``'s export, and ``report.json`` opened the twin of ``report``. The
    dashboard's links encode each id as one segment (:func:`._render.path_segment`), so
    matched before decoding each id is exactly its segment.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raw = scope.get("raw_path")
        if scope["type"] != "http" or not isinstance(raw, bytes):
            return Match.NONE, {}
        match, child = super().matches({**scope, "path": sent_path(scope), "root_path": ""})
        if match is not Match.NONE:
            child["path_params"] = {
                name: urllib.parse.unquote_to_bytes(value.encode("latin-1")).decode(
                    "utf-8", "replace") if name in self.param_convertors else value
                for name, value in child["path_params"].items()}
        return match, child


def _most_specific_first(paths: list[str]) -> list[str]:
    """Longer templates first: an id's page after its sub-pages (a stable sort keeps the
    declared order otherwise)."""
    return sorted(paths, key=lambda path: -path.count("/"))


class Dashboard:
    """The dashboard of one runtime: its routes, and what its token gate lets through.

    Example::

        dashboard = Dashboard(engine, token=token)
        app = Starlette(routes=[*api_routes, *dashboard.routes])
    """

    def __init__(self, engine: MemoryEngine, *, token: str,
                 upload_limit: int = DEFAULT_UPLOAD_LIMIT) -> None:
        self.auth = DashboardAuth(token)
        self._dash = Dash(engine, self.auth, upload_limit=upload_limit)
        self.routes = self._routes()

    def admit(self, scope: Scope) -> Response | bool:
        """The runtime's token gate asks this about a request without the bearer token.

        True: the dashboard handles it (its sign-in page and assets, or a signed-in
        session on a dashboard path; the dashboard still checks the session and CSRF).
        A response: a browser asking for a page is sent to the sign-in form, whatever
        the path, so the redirect tells nothing about which routes exist. False: the
        gate's plain 401.
        """
        if scope["type"] != "http":
            return False
        path = str(scope.get("path", ""))
        if _is_public(path):
            return True
        request = Request(scope)
        if is_dashboard_path(path) and self.auth.session_of(request) is not None:
            return True
        accept = request.headers.get("accept", "")
        if scope.get("method") in ("GET", "HEAD") and "text/html" in accept:
            # The path as sent: decoded, an id's "%2F" would reopen as another page.
            sent = sent_path(scope)
            target = sent if is_dashboard_path(path) and path != "/" else "/callers"
            if request.url.query and target == sent:
                target += "?" + request.url.query
            return RedirectResponse("/login?next=" + urllib.parse.quote(target, safe=""),
                                    status_code=303)
        return False

    def _routes(self) -> list[BaseRoute]:
        dash = self._dash

        async def login_get(request: Request) -> Response:
            return await login_form(dash, request)

        async def login_post(request: Request) -> Response:
            return await login_submit(dash, request)

        routes: list[BaseRoute] = [
            Route("/login", login_get, methods=["GET"]),
            Route("/login", login_post, methods=["POST"]),
        ]
        pages = {path: handler for path, handler, _summary, _twin in PAGES}
        twins = [path for path, _handler, _summary, twin in PAGES if twin]
        actions = dict(ACTIONS)
        # Matched as sent first, then on the decoded path (a hand-written bare "/"). In
        # each, JSON twins first: "/callers/{user_id}" would otherwise swallow "x.json".
        for route, routed in ((_SentPathRoute, str), (Route, _routed)):
            routes += [route(routed(("" if path == "/" else path) + ".json"),
                             read_view(dash, pages[path]), methods=["GET"])
                       for path in _most_specific_first(twins)]
            routes += [route(routed(path), read_view(dash, pages[path]), methods=["GET"])
                       for path in _most_specific_first(list(pages))]
            routes += [route(routed(path), write_action(dash, actions[path]),
                             methods=["POST"])
                       for path in _most_specific_first(list(actions))]
        routes.append(Mount(STATIC_PREFIX, StaticFiles(directory=Path(__file__).parent /
                                                       "static"), name="static"))
        return routes


def dashboard_openapi_paths(
        error_responses: dict[int | str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """OpenAPI entries for the pages' JSON twins (read-only; session cookie or token);
    ``error_responses`` are the runtime's documented error answers by status."""
    paths: dict[str, dict[str, Any]] = {}
    for path, handler, summary, twin in PAGES:
        if not twin:
            continue
        params = [{"name": part.strip("{}"), "in": "path", "required": True,
                   "schema": {"type": "string"}}
                  for part in path.split("/") if part.startswith("{")]
        params += [{"name": "project", "in": "query", "required": False,
                    "schema": {"type": "string"}, "description": "project id (default: "
                    "the first project with callers)"},
                   {"name": "tenant", "in": "query", "required": False,
                    "schema": {"type": "string", "default": "default"}}]
        paths[path + ".json"] = {"get": {
            "operationId": f"dashboard_{handler.__name__}", "summary": summary,
            "tags": ["dashboard"], "parameters": params,
            "security": [{"bearer": []}, {"dashboardSession": []}],
            "description": "The JSON twin of the dashboard page at the same path without "
                           "`.json` (or send `Accept: application/json`); built from the "
                           "same operations as the REST API.",
            "responses": {"200": {"description": "The page's data", "content": {
                "application/json": {"schema": {"type": "object"}}}},
                **{str(status): error_responses[status] for status in TWIN_ERRORS}},
        }}
    return paths
