"""The dashboard's forms: sign in and out, delete a memory, forget a caller, merge and
unmerge callers, manage knowledge (create, upload, delete) and set the memory policy.

Every form needs a signed-in session and its CSRF token; the request is refused before
its body is read when there is no session. Each action runs the same operation the REST
API dispatches, then redirects back (HTML) or answers the operation's JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..._exceptions import BadRequest, Unauthorized, VoxmemError
from ..._knowledge_files import (
    batch_documents,
    content_hash,
    extract_text,
    file_documents,
    is_indexed,
)
from ...models import SHARED_SPACE
from ._auth import CSRF_FIELD, CSRF_HEADER
from ._render import Dash, Page, View, path_segment

__all__ = ["ACTIONS", "login_form", "login_submit"]

log = logging.getLogger("voxmem.runtime.dashboard")

#: Files one upload request may carry (the page's script sends one per request).
MAX_UPLOAD_FILES = 200
MAX_FORM_BYTES = 64 * 1024

Result = tuple[str, dict[str, Any]]  # (where an HTML form goes next, the JSON answer)
ActionHandler = Callable[[Dash, Request, View, FormData], Awaitable[Result]]


class CsrfRejected(VoxmemError):
    default_code = "csrf_rejected"
    default_status = 403


def _safe_next(target: str | None) -> str:
    # Only a path on this site: "//evil.example" or "https://..." would be an open redirect.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/callers"
    return target


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} is required", field=name)
    return value.strip()


def _with_notice(path: str, view: View, notice: str) -> str:
    return f"{path}?{view.query}&{urllib.parse.urlencode({'notice': notice})}"


# -- sign in / out ----------------------------------------------------------------------
async def login_form(dash: Dash, request: Request, error: str = "",
                     status: int = 200) -> Response:
    if dash.auth.session_of(request) is not None and not error:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    nonce = dash.auth.new_login_nonce()
    page = Page("login.html", {}, "Sign in", {
        "nonce": nonce, "next": _safe_next(request.query_params.get("next")),
        "error": error})
    response = dash.render(request, None, page, status)
    dash.auth.set_login_cookie(response, nonce)
    return response


async def login_submit(dash: Dash, request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=8, max_part_size=MAX_FORM_BYTES)
    nonce = form.get(CSRF_FIELD)
    if not dash.auth.login_nonce_ok(request, nonce if isinstance(nonce, str) else None):
        return await login_form(dash, request, "The sign-in form expired; please try again.",
                                403)
    token = form.get("token")
    if not isinstance(token, str) or not dash.auth.token_matches(token):
        log.warning("dashboard sign-in with a wrong token from %s",
                    request.client.host if request.client else "?")
        return await login_form(dash, request, "That is not this runtime's admin token.", 401)
    session = dash.auth.open_session()
    next_value = form.get("next")
    response = RedirectResponse(_safe_next(next_value if isinstance(next_value, str)
                                           else None), status_code=303)
    dash.auth.set_session_cookie(response, session)
    return response


async def logout(dash: Dash, request: Request, view: View, form: FormData) -> Result:
    assert view.session is not None
    dash.auth.close_session(view.session)
    return "/login", {"signedOut": True}


# -- callers ------------------------------------------------------------------------------
async def delete_memory(dash: Dash, request: Request, view: View, form: FormData) -> Result:
    user_id = str(request.path_params["user_id"])
    space = str(form.get("space") or SHARED_SPACE)
    memory_id = str(request.path_params["memory_id"])
    result = await dash.op("delete_memory", view.payload(space, user_id=user_id,
                                                         memory_id=memory_id))
    back = f"/callers/{path_segment(user_id)}"
    return _with_notice(back, view, "Memory deleted") + f"&space={space}", result


async def forget_caller(dash: Dash, request: Request, view: View, form: FormData) -> Result:
    user_id = str(request.path_params["user_id"])
    if form.get("confirm_user_id") != user_id:
        raise BadRequest("type the caller's id exactly to confirm", field="confirm_user_id")
    space = str(form.get("space") or SHARED_SPACE)
    result = await dash.op("forget_user", view.payload(space, user_id=user_id))
    return _with_notice("/callers", view, f"Caller {user_id} erased"), result


async def unmerge(dash: Dash, request: Request, view: View, form: FormData) -> Result:
    user_id = str(request.path_params["user_id"])
    space = str(form.get("space") or SHARED_SPACE)
    merge_id = _field(form, "merge_id")
    result = await dash.op("unmerge_callers", view.payload(space, merge_id=merge_id))
    back = f"/callers/{path_segment(user_id)}"
    return _with_notice(back, view, f"Merge {merge_id} undone") + f"&space={space}", result


async def merge(dash: Dash, request: Request, view: View, form: FormData) -> Result:
    """Merge another caller (``from_id``) into this one; undoable from this page."""
    user_id = str(request.path_params["user_id"])
    space = str(form.get("space") or SHARED_SPACE)
    from_id = _field(form, "from_id")
    reason = str(form.get("reason") or "").strip() or "merged on the dashboard"
    result = await dash.op("merge_callers", view.payload(space, from_id=from_id,
                                                         to_id=user_id, reason=reason))
    back = f"/callers/{path_segment(user_id)}"
    return _with_notice(back, view, f"Caller {from_id} merged into this one") + \
        f"&space={space}", result


# -- knowledge ----------------------------------------------------------------------------
async def create_index(dash: Dash, request: Request, view: View, form: FormData) -> Result:
    name = _field(form, "name")
    result = await dash.op("create_index", view.payload(name=name, documents=[]))
    return _with_notice(f"/knowledge/{path_segment(name)}", view,
                        f"Index {name} created"), result


async def _upload_one(dash: Dash, view: View, name: str, upload: UploadFile,
                      existing: dict[str, dict[str, Any]]) -> dict[str, Any]:
    filename = (upload.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    data = await upload.read()
    loop = asyncio.get_running_loop()
    digest = await loop.run_in_executor(None, content_hash, data)
    if is_indexed(existing, filename, digest):
        return {"file": filename, "status": "unchanged", "parts": 0}

    def prepare() -> tuple[str, list[dict[str, Any]]]:
        text = extract_text(filename, data)
        return text, file_documents(filename, text, digest=digest,
                                    max_bytes=dash.engine.settings.index_max_bytes,
                                    metadata={"filename": filename})

    # PDF parsing and splitting take seconds for a big file: on a worker thread, so the
    # runtime keeps answering recalls meanwhile.
    text, docs = await loop.run_in_executor(None, prepare)
    if not docs:
        raise BadRequest(f"{filename}: no text found", field="file")
    s = dash.engine.settings
    for batch in batch_documents(docs, max_documents=s.index_max_documents,
                                 max_bytes=s.index_max_bytes):
        await dash.op("create_index", view.payload(name=name, documents=batch))
    return {"file": filename, "status": "indexed", "parts": len(docs), "chars": len(text)}


async def upload(dash: Dash, request: Request, view: View, form: FormData) -> Result:
    name = str(request.path_params["name"])
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise BadRequest("choose at least one .txt, .md or .pdf file", field="files")
    try:
        listing = await dash.op("list_documents", view.payload(name=name))
        existing = {d["documentId"]: d.get("metadata") or {} for d in listing["documents"]}
    except VoxmemError as exc:
        if exc.status_code != 404:
            raise
        existing = {}
    outcomes = []
    for f in files:
        try:
            outcomes.append(await _upload_one(dash, view, name, f, existing))
        except BadRequest as exc:
            outcomes.append({"file": f.filename, "status": "failed", "error": exc.message})
    done = sum(1 for o in outcomes if o["status"] != "failed")
    return (_with_notice(f"/knowledge/{path_segment(name)}", view,
                         f"{done} of {len(outcomes)} files indexed"), {"files": outcomes})


async def delete_document(dash: Dash, request: Request, view: View,
                          form: FormData) -> Result:
    name = str(request.path_params["name"])
    doc_id = _field(form, "document_id")
    result = await dash.op("delete_documents", view.payload(name=name, document_ids=[doc_id]))
    return _with_notice(f"/knowledge/{path_segment(name)}", view,
                        f"Document {doc_id} deleted"), result


async def delete_index(dash: Dash, request: Request, view: View, form: FormData) -> Result:
    name = str(request.path_params["name"])
    if form.get("confirm_name") != name:
        raise BadRequest("type the index name exactly to confirm", field="confirm_name")
    result = await dash.op("delete_index", view.payload(name=name))
    return _with_notice("/knowledge", view, f"Index {name} deleted"), result


# -- settings -----------------------------------------------------------------------------
async def set_policy(dash: Dash, request: Request, view: View, form: FormData) -> Result:
    agent = str(form.get("agent_id") or "").strip()
    raw_days = str(form.get("memory_retention_days") or "").strip()
    try:
        days = int(raw_days)
    except ValueError:
        raise BadRequest("memory_retention_days must be a whole number of days",
                         field="memory_retention_days") from None
    payload = view.payload(level="agent" if agent else "project",
                           memory_enabled=form.get("memory_enabled") == "on",
                           memory_retention_days=days)
    if agent:
        payload["agent_id"] = agent
    result = await dash.op("set_memory_policy", payload)
    return _with_notice("/settings", view, "Memory policy saved"), result


def write_action(dash: Dash, handler: ActionHandler) -> Callable[[Request],
                                                                 Awaitable[Response]]:
    """A form POST: session first, then CSRF, then the operation."""

    async def endpoint(request: Request) -> Response:
        view: View | None = None
        try:
            if dash.auth.session_of(request) is None:
                # Refused before the body or the store is read: nothing for a stranger.
                raise Unauthorized("sign in to the dashboard first")
            view = await dash.view(request)
            assert view.session is not None
            origin = request.headers.get("origin")
            if origin and urllib.parse.urlsplit(origin).netloc != request.headers.get("host"):
                raise CsrfRejected("the form was sent from another site")
            limit = dash.upload_limit + MAX_FORM_BYTES
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise BadRequest(f"request is {declared} bytes; the limit is {limit} (upload "
                                 "files one at a time)", field="body", status_code=413)
            form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=64,
                                      max_part_size=dash.upload_limit)
            presented = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
            if not dash.auth.csrf_ok(view.session, presented if isinstance(
                    presented, str) else None):
                raise CsrfRejected("missing or wrong CSRF token; reload the page and retry")
            try:
                target, result = await handler(dash, request, view, form)
            finally:
                await form.close()
            if view.wants_json:
                return await _json(result)
            response = RedirectResponse(target, status_code=303)
            if handler is logout:
                dash.auth.clear_session_cookie(response)
            return response
        except VoxmemError as exc:
            return dash.error(request, view, exc)

    endpoint.__name__ = handler.__name__
    return endpoint


async def _json(result: dict[str, Any]) -> Response:
    return Response(json.dumps(result, ensure_ascii=False, default=str).encode("utf-8"),
                    media_type="application/json", headers={"Cache-Control": "no-store"})


#: (path, handler) of every form; all are POST.
ACTIONS: tuple[tuple[str, ActionHandler], ...] = (
    ("/logout", logout),
    ("/callers/{user_id}/memories/{memory_id}/delete", delete_memory),
    ("/callers/{user_id}/forget", forget_caller),
    ("/callers/{user_id}/unmerge", unmerge),
    ("/callers/{user_id}/merge", merge),
    ("/knowledge", create_index),
    ("/knowledge/{name}/upload", upload),
    ("/knowledge/{name}/documents/delete", delete_document),
    ("/knowledge/{name}/delete", delete_index),
    ("/settings/policy", set_policy),
)
