"""Dashboard security: without the admin token nothing is readable and no form works;
a forged or missing CSRF token, a cookie from another runtime, or a form posted from
another site is refused, and nothing changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from voxmem import Settings
from voxmem.engine import MemoryEngine
from voxmem.runtime._app import create_app
from voxmem.runtime.dashboard import is_dashboard_path
from voxmem.runtime.dashboard._actions import ACTIONS
from voxmem.runtime.dashboard._pages import PAGES

TOKEN = "admin-token-for-tests"
BASE = "http://127.0.0.1"
BODY = {"project_id": "p", "agent_id": "a"}
USER = "+14155550123"
AUTH = {"authorization": f"Bearer {TOKEN}"}
HTML = {"accept": "text/html,application/xhtml+xml"}  # what a browser asks for


def _app(tmp_path: Path, name: str, token: str = TOKEN) -> TestClient:
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / name), embedder="hashing"))
    return TestClient(create_app(engine, token=token), base_url=BASE)


def sign_in(client: TestClient, token: str = TOKEN) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce is not None
    done = client.post("/login", data={"csrf": nonce.group(1), "token": token},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    home = client.get("/settings?project=p")
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert csrf is not None
    return csrf.group(1)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[TestClient]:
    with _app(tmp_path, "a") as client:
        client.post("/v1/sessions/start", headers=AUTH, json={
            **BODY, "user": {"id": USER, "name": "Dana"}, "session_id": "s1"})
        client.post("/v1/memories/remember", headers=AUTH, json={
            **BODY, "user_id": USER, "memory_type": "diet", "content": "vegan"})
        client.post("/v1/indexes", headers=AUTH, json={
            **BODY, "name": "kb", "documents": [{"id": "d1", "text": "Refunds in 30 days."}]})
        client.post("/v1/sessions/end", headers=AUTH, json={**BODY, "user_id": USER})
        for guest in ("guest-1", "guest-2"):
            client.post("/v1/memories/remember", headers=AUTH, json={
                **BODY, "user_id": guest, "memory_type": "pet", "content": "a cat"})
        client.post("/v1/callers/merges", headers=AUTH, json={
            **BODY, "from_id": "guest-1", "to_id": USER})
        yield client


def _state(client: TestClient) -> tuple[list[str], list[str], bool, list[str]]:
    """What the forms could change: memories, index documents, the memory switch,
    merges."""
    memories = client.post("/v1/memories/list", headers=AUTH, json={**BODY, "user_id": USER})
    indexes = client.post("/v1/indexes/list", headers=AUTH, json=BODY)
    policy = client.post("/v1/policy/get", headers=AUTH, json=BODY)
    merges = client.post("/v1/callers/merges/list", headers=AUTH, json=BODY)
    return ([m["text"] for m in memories.json()],
            [f"{i['name']}:{i['documentCount']}" for i in indexes.json()],
            policy.json()["project"]["memoryEnabled"],
            [f"{m['fromUserId']}:{m['status']}" for m in merges.json()])


def _forms(client: TestClient) -> list[tuple[str, dict[str, str]]]:
    """Every form with the fields that would make it succeed."""
    memory_id = client.post("/v1/memories/list", headers=AUTH,
                            json={**BODY, "user_id": USER}).json()[0]["id"]
    merge_id = client.post("/v1/callers/merges/list", headers=AUTH,
                           json=BODY).json()[0]["mergeId"]
    fields = {
        "/logout": {},
        "/callers/{user_id}/memories/{memory_id}/delete": {},
        "/callers/{user_id}/forget": {"confirm_user_id": USER},
        "/callers/{user_id}/unmerge": {"merge_id": merge_id},
        "/callers/{user_id}/merge": {"from_id": "guest-2"},
        "/knowledge": {"name": "new-index"},
        "/knowledge/{name}/upload": {},
        "/knowledge/{name}/documents/delete": {"document_id": "d1"},
        "/knowledge/{name}/delete": {"confirm_name": "kb"},
        "/settings/policy": {"memory_retention_days": "7"},  # unchecked box: memory off
    }
    assert set(fields) == {path for path, _handler in ACTIONS}, "a form is not covered"
    out = []
    for path, data in fields.items():
        url = (path.replace("{user_id}", "%2B14155550123").replace("{memory_id}", memory_id)
               .replace("{name}", "kb"))
        out.append((url + "?project=p", data))
    return out


def _post(client: TestClient, url: str, data: dict[str, str],
          headers: dict[str, str] | None = None) -> Any:
    files = [("files", ("x.md", b"# New\n\nSome text.", "text/markdown"))] \
        if url.startswith("/knowledge/kb/upload") else None
    return client.post(url, data=data, files=files, headers=headers, follow_redirects=False)


def test_without_a_session_every_form_is_refused(runtime: TestClient) -> None:
    before = _state(runtime)
    for url, data in _forms(runtime):
        response = _post(runtime, url, data)
        assert response.status_code == 401, url
        # The bearer token reads the JSON twins but is no dashboard session either.
        response = _post(runtime, url, data, headers=AUTH)
        assert response.status_code == 401, url
    assert _state(runtime) == before


def test_a_forged_or_missing_csrf_token_is_refused(runtime: TestClient) -> None:
    csrf = sign_in(runtime)
    before = _state(runtime)
    for url, data in _forms(runtime):
        for token in ("forged-" + csrf[7:], "", None):
            body = dict(data) if token is None else {**data, "csrf": token}
            response = _post(runtime, url, body)
            assert response.status_code == 403, (url, token)
            assert "csrf" in response.text.lower()
        forged = _post(runtime, url, data, headers={"x-csrf-token": csrf[::-1]})
        assert forged.status_code == 403, url
    assert _state(runtime) == before


def test_a_form_sent_from_another_site_is_refused(runtime: TestClient) -> None:
    csrf = sign_in(runtime)
    before = _state(runtime)
    for url, data in _forms(runtime):
        response = _post(runtime, url, {**data, "csrf": csrf},
                         headers={"origin": "http://evil.example"})
        assert response.status_code == 403, url
    assert _state(runtime) == before


def test_a_cookie_from_another_runtime_opens_nothing(runtime: TestClient,
                                                     tmp_path: Path) -> None:
    before = _state(runtime)
    with _app(tmp_path, "b", token=TOKEN) as other:
        other_csrf = sign_in(other)
        cookie = other.cookies.get("voxmem_session")
        assert cookie
    runtime.cookies.set("voxmem_session", cookie)
    assert runtime.get("/callers.json?project=p").status_code == 401
    assert runtime.get("/callers?project=p", follow_redirects=False,
                       headers=HTML).status_code == 303
    for url, data in _forms(runtime):
        assert _post(runtime, url, {**data, "csrf": other_csrf}).status_code == 401, url
    assert _state(runtime) == before


def test_nothing_is_readable_without_the_token(runtime: TestClient) -> None:
    for path, _handler, _summary, twin in PAGES:
        url = (path.replace("{user_id}", "%2B14155550123").replace("{session_id}", "s1")
               .replace("{name}", "kb"))
        page = runtime.get(url + "?project=p", follow_redirects=False, headers=HTML)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert "Dana" not in page.text
        # Not a browser: the runtime's plain 401, as for every other path.
        bare = runtime.get(url + "?project=p", follow_redirects=False)
        assert bare.status_code == 401 and "location" not in bare.headers
        if twin:
            for headers in ({}, {"authorization": "Bearer wrong"}):
                data = runtime.get(url + ".json?project=p", headers=headers)
                assert data.status_code == 401, url
                assert data.json()["error"]["code"] == "unauthorized"
                assert "Dana" not in data.text and "vegan" not in data.text
            assert runtime.get(url + ".json?project=p", headers=AUTH).status_code == 200
    # Public by design, and free of data: the sign-in page and the assets.
    assert runtime.get("/login").status_code == 200
    assert runtime.get("/static/dashboard.css").status_code == 200


def test_sign_in_sets_a_strict_http_only_cookie_and_rejects_a_wrong_token(
        runtime: TestClient) -> None:
    page = runtime.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce is not None and 'method="post"' in page.text
    # No other site may frame the sign-in form (clickjacking) or run script in it.
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    wrong = runtime.post("/login", data={"csrf": nonce.group(1), "token": "guess"},
                         follow_redirects=False)
    assert wrong.status_code == 401 and "voxmem_session" not in wrong.headers.get(
        "set-cookie", "")
    forged = runtime.post("/login", data={"csrf": "not-the-nonce", "token": TOKEN},
                          follow_redirects=False)
    assert forged.status_code == 403
    # Each form shown carries a fresh nonce; the one from the refusal page is current.
    nonce = re.search(r'name="csrf" value="([^"]+)"', forged.text)
    assert nonce is not None
    good = runtime.post("/login", data={"csrf": nonce.group(1), "token": TOKEN,
                                        "next": "//evil.example/x"}, follow_redirects=False)
    assert good.status_code == 303 and good.headers["location"] == "/callers"
    cookie = good.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert TOKEN not in good.headers["location"] and TOKEN not in cookie
    csrf = re.search(r'name="csrf" value="([^"]+)"',
                     runtime.get("/settings?project=p").text)
    assert csrf is not None
    out = runtime.post("/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    runtime.cookies.clear()
    assert runtime.get("/callers.json?project=p").status_code == 401


def test_a_browser_without_a_session_is_sent_to_sign_in_from_any_path(
        runtime: TestClient) -> None:
    for path in ("/", "/callers", "/no/such/page", "/v1/memory/search", "/openapi.json"):
        page = runtime.get(path, headers=HTML, follow_redirects=False)
        assert page.status_code == 303, path
        assert page.headers["location"].startswith("/login?next=")
    # The redirect is the same for real and unknown paths outside the dashboard.
    assert runtime.get("/v1/memory/search", headers=HTML, follow_redirects=False).headers[
        "location"] == runtime.get("/nope", headers=HTML, follow_redirects=False).headers[
        "location"]
    # A session cookie opens the dashboard, never the REST API (that needs the token).
    sign_in(runtime)
    assert runtime.get("/callers.json?project=p").status_code == 200
    api = runtime.post("/v1/memories/list", json={**BODY, "user_id": USER})
    assert api.status_code == 401


def test_dashboard_paths_are_told_apart_from_the_rest_api() -> None:
    for path in ("/", "/login", "/static/dashboard.css", "/callers", "/callers.json",
                 "/calls/s1.json", "/knowledge/kb/upload", "/settings/policy", "/health"):
        assert is_dashboard_path(path), path
    for path in ("/v1/health", "/v1/memory/search", "/openapi.json", "/v1/callers/list"):
        assert not is_dashboard_path(path), path


def test_a_json_twin_is_never_sniffed_or_kept(runtime: TestClient) -> None:
    """Found by probing: the twins (callers' words, as JSON) had no ``nosniff``."""
    twin = runtime.get("/callers.json", headers=AUTH)
    assert twin.status_code == 200
    assert twin.headers["content-type"].startswith("application/json")
    assert twin.headers["x-content-type-options"] == "nosniff"
    assert twin.headers["cache-control"] == "no-store"
