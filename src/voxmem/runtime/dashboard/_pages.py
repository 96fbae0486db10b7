"""The dashboard's read-only pages. Each returns a :class:`Page` whose data is the JSON
twin, built from the same operations the REST API serves."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..._config import settings_table
from ..._exceptions import NotFound
from ...models import SHARED_SPACE
from ._render import Dash, Page, View

__all__ = ["PAGES"]

CHART_WIDTH = 600
CHART_HEIGHT = 160
#: Memories (and history rows) per page of a caller's page, turns per page of a call's.
ROWS_PER_PAGE = 100


def _param(request: Request, name: str) -> str:
    return str(request.path_params[name])


async def home(dash: Dash, request: Request, view: View) -> Page | Response:
    return RedirectResponse(f"/callers?{view.query}", status_code=303)


async def callers(dash: Dash, request: Request, view: View) -> Page:
    query = request.query_params.get("q", "")
    try:  # the list without a query pages through every caller, newest first
        number = max(1, int(request.query_params.get("page", "1"))) if not query else 1
    except ValueError:
        number = 1
    data = await dash.op("list_callers", view.payload(
        query=query, limit=ROWS_PER_PAGE, offset=(number - 1) * ROWS_PER_PAGE))
    rows = data["callers"]
    pager = {"rows": rows, "number": number, "param": "page",
             "first": (number - 1) * ROWS_PER_PAGE + 1, "total": None,
             "more": not query and len(rows) == ROWS_PER_PAGE}
    return Page("callers.html", data, "Callers", {"query": query, "pager": pager})


def _page_of(request: Request, name: str, rows: list[Any]) -> dict[str, Any]:
    """One page of ``rows`` (``?{name}=N``, 1-based): a caller with thousands of
    memories made a page of megabytes that took the browser seconds to lay out."""
    pages = max(1, -(-len(rows) // ROWS_PER_PAGE))
    try:
        number = min(max(1, int(request.query_params.get(name, "1"))), pages)
    except ValueError:
        number = 1
    start = (number - 1) * ROWS_PER_PAGE
    return {"rows": rows[start:start + ROWS_PER_PAGE], "number": number, "pages": pages,
            "first": start + 1, "total": len(rows), "param": name}


async def caller(dash: Dash, request: Request, view: View) -> Page:
    user_id = _param(request, "user_id")
    space = request.query_params.get("space") or SHARED_SPACE
    data = await dash.op("get_caller", view.payload(space, user_id=user_id))
    # The JSON twin keeps every memory; the page shows them a page at a time.
    current = {f["slotKey"]: f["text"] for f in data["memories"] if f.get("slotKey")}
    return Page("caller.html", {"userId": user_id, "space": space, **data},
                f"Caller {user_id}", {
                    "memories": _page_of(request, "memories_page", data["memories"]),
                    "history": _page_of(request, "history_page", data["history"]),
                    "current_by_slot": current})


async def forget_confirm(dash: Dash, request: Request, view: View) -> Page:
    user_id = _param(request, "user_id")
    space = request.query_params.get("space") or SHARED_SPACE
    data = await dash.op("get_caller", view.payload(space, user_id=user_id))
    return Page("forget.html", {"userId": user_id, "space": space, **data},
                f"Forget caller {user_id}")


#: What an export holds about a caller (the rest is its format and the id asked for).
_EXPORTED = ("name", "metadata", "profile", "sessions", "items", "identifiers", "merges")


async def export(dash: Dash, request: Request, view: View) -> Response:
    user_id = _param(request, "user_id")
    space = request.query_params.get("space") or SHARED_SPACE
    data = await dash.op("export_user", view.payload(space, user_id=user_id))
    if not any(data.get(key) for key in _EXPORTED):
        # As the caller's page answers: an unknown or erased id downloaded an empty
        # export with 200, read as "this caller has nothing stored" of a mistyped id.
        raise NotFound(f"no caller {user_id!r} in this project (never seen here, merged "
                       "into another caller, or erased)", code="caller_not_found")
    # Named after whom it holds: a guest's id answers for the caller it was merged into,
    # as the guest's page shows that caller.
    holder = str(data.get("userId") or user_id)
    safe = "".join(ch if ch.isalnum() else "_" for ch in holder)[:64] or "caller"
    return Response(json.dumps(data, indent=1, ensure_ascii=False, default=str),
                    media_type="application/json", headers={
                        "Content-Disposition": f'attachment; filename="voxmem-{safe}.json"',
                        "Cache-Control": "no-store"})


async def calls(dash: Dash, request: Request, view: View) -> Page:
    user_id = request.query_params.get("user") or None
    data = await dash.op("list_calls", view.payload(user_id=user_id))
    return Page("calls.html", data, "Calls", {"user_id": user_id})


async def call(dash: Dash, request: Request, view: View) -> Page:
    session_id = _param(request, "session_id")
    data = await dash.op("get_call", view.payload(session_id=session_id))
    # A call of 1,000 turns, each with its recall trace, was one page of megabytes; the
    # JSON twin keeps every turn, the page shows them a page at a time.
    return Page("call.html", data, f"Call {session_id}", {
        "turns": _page_of(request, "turns_page", data["turns"])})


async def knowledge(dash: Dash, request: Request, view: View) -> Page:
    query = request.query_params.get("q", "").strip()
    indexes = await dash.op("list_indexes", view.payload())
    data: dict[str, Any] = {"indexes": indexes, "query": query, "chunks": None}
    if query:
        data["chunks"] = (await dash.op("search_index", view.payload(query=query)))["chunks"]
    return Page("knowledge.html", data, "Knowledge")


async def index(dash: Dash, request: Request, view: View) -> Page:
    name = _param(request, "name")
    query = request.query_params.get("q", "").strip()
    data = await dash.op("list_documents", view.payload(name=name))
    data = {**data, "query": query, "chunks": None}
    if query:
        data["chunks"] = (await dash.op("search_index", view.payload(
            name=name, query=query)))["chunks"]
    return Page("index.html", data, f"Index {name}", {
        "max_upload_bytes": dash.upload_limit})


async def settings(dash: Dash, request: Request, view: View) -> Page:
    policy = await dash.op("get_memory_policy", view.payload())
    values = dash.engine.settings.to_dict()  # secrets already masked
    rows = [{"name": r["name"], "value": values.get(r["name"]), "default": r["default"],
             "env": r["env"], "help": r["help"]} for r in settings_table()]
    return Page("settings.html", {"policy": policy, "settings": rows}, "Settings")


def _chart(buckets: list[dict[str, Any]]) -> dict[str, Any]:
    """Points for p50 and p95 per bucket, drawn as SVG on the server (no script)."""
    values = [b[k] for b in buckets for k in ("p50Ms", "p95Ms") if b[k] is not None]
    top = max(values, default=1.0) or 1.0
    step = CHART_WIDTH / max(1, len(buckets) - 1)

    def points(key: str) -> list[tuple[float, float]]:
        return [(round(i * step, 1), round(CHART_HEIGHT - (b[key] / top) * CHART_HEIGHT, 1))
                for i, b in enumerate(buckets) if b[key] is not None]

    return {"p50": points("p50Ms"), "p95": points("p95Ms"), "top": round(top, 2),
            "width": CHART_WIDTH, "height": CHART_HEIGHT}


async def health(dash: Dash, request: Request, view: View) -> Page:
    data = await dash.op("runtime_health", view.payload())
    return Page("health.html", data, "Health", {"chart": _chart(data["recall"]["buckets"])})


#: (path, handler, summary, has a JSON twin) — the twin is ``path + ".json"``.
PAGES = (
    ("/", home, "Redirects to the callers page", False),
    ("/callers", callers, "Callers, found by any identifier (as written or spoken) or name", True),
    ("/callers/{user_id}", caller,
     "A caller: profile, memories and history, identifiers, merges, calls", True),
    ("/callers/{user_id}/forget", forget_confirm, "Confirm erasing a caller", False),
    ("/callers/{user_id}/export", export, "Everything stored about a caller, as a file",
     False),
    ("/calls", calls, "Calls of the project or of one caller", True),
    ("/calls/{session_id}", call, "A call: transcript, recall per turn, memories written",
     True),
    ("/knowledge", knowledge, "Org knowledge indexes; search across them", True),
    ("/knowledge/{name}", index, "One index: documents, upload, search", True),
    ("/settings", settings, "Memory policy and the runtime's settings", True),
    ("/health", health, "Journal, learning backlog and recall latency", True),
)
