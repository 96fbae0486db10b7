"""What every dashboard page shares: templates, the project in view, HTML-or-JSON answers,
sign-in checks and the one error shape.

A page handler returns a :class:`Page`: the template to render and the JSON-ready data
it shows. The same data is the page's JSON twin (``.json`` suffix or ``Accept:
application/json``), produced by the same operations the REST API dispatches.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Scope

from ..._exceptions import InternalError, Unauthorized, VoxmemError
from ..._operations import dispatch
from ...engine import MemoryEngine
from ...models import DEFAULT_TENANT, SHARED_SPACE
from ._auth import CSRF_FIELD, DashboardAuth, DashboardSession

__all__ = ["DASHBOARD_AGENT", "Dash", "Page", "View", "path_segment", "read_view", "sent_path",
           "wants_json"]

log = logging.getLogger("voxmem.runtime.dashboard")

#: The agent id the dashboard's own changes are recorded under.
DASHBOARD_AGENT = "dashboard"
_HERE = Path(__file__).parent


@dataclasses.dataclass(slots=True)
class Page:
    template: str
    data: dict[str, Any]
    title: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class View:
    """The project a request looks at, and who is asking."""

    tenant_id: str
    project_id: str
    projects: list[tuple[str, str]]
    session: DashboardSession | None
    wants_json: bool

    def payload(self, space: str = SHARED_SPACE, **fields: Any) -> dict[str, Any]:
        """An operation body for this project; a caller in an agent's space is reached
        through that agent (``memory_scope="agent"``)."""
        agent = space if space != SHARED_SPACE else DASHBOARD_AGENT
        body = {"tenant_id": self.tenant_id, "project_id": self.project_id,
                "agent_id": agent}
        body.update({k: v for k, v in fields.items() if v is not None})
        return body

    @property
    def query(self) -> str:
        return urllib.parse.urlencode({"project": self.project_id, "tenant": self.tenant_id})


def sent_path(scope: Scope) -> str:
    """The path as the browser sent it, still percent-encoded (``raw_path``): an id's
    ``%2F`` and ``%2E`` say what belongs to the id, which the decoded path has lost."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if isinstance(raw, bytes) else str(scope["path"])


def path_segment(value: Any) -> str:
    """``value`` (a caller, call or index id) as one segment of a dashboard address.

    Every ``/`` is encoded, and the ``.`` of a trailing ``.json``, so neither a sub-page
    (``acme/export``) nor a JSON twin (``report.json``) can be read into it.
    """
    quoted = urllib.parse.quote(str(value), safe="")
    return quoted[:-5] + "%2Ejson" if quoted.endswith(".json") else quoted


def wants_json(request: Request) -> bool:
    """The JSON twin: a ``.json`` path, or ``Accept: application/json`` without HTML."""
    accept = request.headers.get("accept", "")
    return sent_path(request.scope).endswith(".json") or (
        "application/json" in accept and "text/html" not in accept)


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "—"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pager_query(params: Any, name: str, number: int) -> str:
    """The request's query string with page ``name`` set to ``number``."""
    pairs = [(k, v) for k, v in params.multi_items() if k != name]
    return urllib.parse.urlencode([*pairs, (name, str(number))])


class Dash:
    """The dashboard's shared state: the engine, sign-in, and the template set."""

    def __init__(self, engine: MemoryEngine, auth: DashboardAuth, *,
                 upload_limit: int) -> None:
        self.engine = engine
        self.auth = auth
        self.upload_limit = upload_limit
        self.templates = Environment(loader=FileSystemLoader(_HERE / "templates"),
                                     autoescape=select_autoescape(["html"]),
                                     trim_blocks=True, lstrip_blocks=True)
        self.templates.filters["when"] = _when
        self.templates.filters["q"] = path_segment
        self.templates.filters["pager_query"] = _pager_query
        self.templates.filters["tojson_pretty"] = lambda v: json.dumps(
            v, indent=2, ensure_ascii=False, default=str)

    async def op(self, name: str, payload: dict[str, Any]) -> Any:
        """Run operation ``name`` exactly as the REST API would."""
        try:
            return await dispatch(self.engine, name, payload)
        except VoxmemError:
            raise
        except Exception as exc:
            log.exception("dashboard operation %s failed", name)
            raise InternalError(f"{name} failed unexpectedly ({type(exc).__name__}); see "
                                "the runtime log") from exc

    async def view(self, request: Request) -> View:
        projects = await self.engine.list_projects()
        tenant = request.query_params.get("tenant") or DEFAULT_TENANT
        project = request.query_params.get("project") or next(
            (p for t, p in projects if t == tenant), "default")
        if (tenant, project) not in projects:
            projects = [*projects, (tenant, project)]
        return View(tenant_id=tenant, project_id=project, projects=projects,
                    session=self.auth.session_of(request), wants_json=wants_json(request))

    def render(self, request: Request, view: View | None, page: Page,
               status: int = 200) -> Response:
        context = {"page": page, "data": page.data, "view": view, "request": request,
                   "csrf_field": CSRF_FIELD, "csrf": view.session.csrf if view and
                   view.session else "", "notice": request.query_params.get("notice"),
                   **page.extra}
        html = self.templates.get_template(page.template).render(context)
        return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)

    def error(self, request: Request, view: View | None, exc: VoxmemError) -> Response:
        if view.wants_json if view is not None else wants_json(request):
            body = json.dumps(exc.to_envelope(), ensure_ascii=False).encode("utf-8")
            headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
            return Response(body, status_code=exc.status_code, media_type="application/json",
                            headers={**headers, **_NO_STORE})
        return self.render(request, view, Page("error.html", exc.to_envelope(),
                                                f"Error: {exc.code}"), exc.status_code)


#: Pages show memory: browsers and proxies must not keep copies.
_NO_STORE = {"Cache-Control": "no-store"}
#: Only this runtime's own script and styles run; no other site may frame the pages
#: (clickjacking) or receive a form; links leak no URL to other sites ("same-origin":
#: "no-referrer" would make browsers send "Origin: null" on our own forms).
_PAGE_HEADERS = {
    **_NO_STORE,
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

#: A JSON twin holds callers' words: never to be sniffed into a page that runs them.
_JSON_HEADERS = {**_NO_STORE, "X-Content-Type-Options": "nosniff"}

Handler = Callable[[Dash, Request, View], Awaitable[Page | Response]]


def read_view(dash: Dash, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A GET page: signed-in session or bearer token; HTML or its JSON twin."""

    async def endpoint(request: Request) -> Response:
        view: View | None = None
        try:
            # Sign-in first: a stranger's request costs no store read and learns nothing.
            if not dash.auth.can_read(request):
                if wants_json(request):
                    raise Unauthorized("sign in to the dashboard or send 'Authorization: "
                                       "Bearer <token>'")
                target = urllib.parse.quote(sent_path(request.scope) + (
                    f"?{request.url.query}" if request.url.query else ""), safe="")
                return RedirectResponse(f"/login?next={target}", status_code=303)
            view = await dash.view(request)
            result = await handler(dash, request, view)
            if isinstance(result, Response):
                return result
            if view.wants_json:
                body = json.dumps(result.data, ensure_ascii=False, default=str)
                return Response(body.encode("utf-8"), media_type="application/json",
                                headers=_JSON_HEADERS)
            return dash.render(request, view, result)
        except VoxmemError as exc:
            return dash.error(request, view, exc)

    endpoint.__name__ = handler.__name__
    return endpoint
