"""The web dashboard ``voxmem serve`` serves at ``/``: callers, calls with their recall
traces, knowledge indexes, memory settings and health.

Server-rendered (Jinja2 templates, one small script for uploads), every page with a JSON
twin from the same operations as the REST API, behind the runtime's admin token through
a sign-in form (see :mod:`._auth`). Mounted by :func:`voxmem.runtime._app.create_app`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ...engine import MemoryEngine
from ._actions import ACTIONS, login_form, login_submit, write_action
from ._auth import DashboardAuth
from ._pages import PAGES
from ._render import Dash, read_view

__all__ = ["DEFAULT_UPLOAD_LIMIT", "dashboard_openapi_paths", "dashboard_routes",
           "is_dashboard_path"]

#: Largest file one upload request may carry (text is extracted and batched after).
DEFAULT_UPLOAD_LIMIT = 64 * 1024 * 1024
STATIC_PREFIX = "/static"
#: First path segments the dashboard owns ("" is "/").
_SECTIONS = frozenset({"", "login", "logout", "static", "callers", "calls", "knowledge",
                       "settings", "health"})


def is_dashboard_path(path: str) -> bool:
    """Whether ``path`` belongs to the dashboard, which checks sign-in itself.

    The REST API's bearer check must let these through: the sign-in page and the static
    assets are public by design, and every other dashboard path refuses (401, or a
    redirect to the sign-in page) on its own when neither a session nor the token is sent.
    """
    first = path.split("/", 2)[1] if path.startswith("/") else path
    return first.removesuffix(".json") in _SECTIONS


def dashboard_routes(engine: MemoryEngine, *, token: str,
                     upload_limit: int = DEFAULT_UPLOAD_LIMIT) -> list[BaseRoute]:
    """The dashboard's routes for an app serving ``engine`` behind admin ``token``."""
    dash = Dash(engine, DashboardAuth(token), upload_limit=upload_limit)

    async def login_get(request: Request) -> Response:
        return await login_form(dash, request)

    async def login_post(request: Request) -> Response:
        return await login_submit(dash, request)

    routes: list[BaseRoute] = [
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
    ]
    # JSON twins first: "/callers/{user_id}" would otherwise swallow "x.json".
    for path, handler, _summary, twin in PAGES:
        if twin:
            routes.append(Route(("" if path == "/" else path) + ".json",
                                read_view(dash, handler), methods=["GET"]))
    routes += [Route(path, read_view(dash, handler), methods=["GET"])
               for path, handler, _summary, _twin in PAGES]
    routes += [Route(path, write_action(dash, handler), methods=["POST"])
               for path, handler in ACTIONS]
    routes.append(Mount(STATIC_PREFIX, StaticFiles(directory=Path(__file__).parent /
                                                   "static"), name="static"))
    return routes


def dashboard_openapi_paths() -> dict[str, dict[str, Any]]:
    """OpenAPI entries for the pages' JSON twins (read-only; session cookie or token)."""
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
            "responses": {"200": {"description": "The page's data"},
                          "401": {"description": "Neither a session nor the token"}},
        }}
    return paths
