"""The dashboard's links open the caller, call or index they name, whatever the id holds.

Ids are the integrator's. One ending the way a sub-page or a JSON twin ends
(``acme/export``, ``acme/forget``, ``report.json``) opened another caller's page, another
caller's export, or a twin instead of the page; found walking the dashboard as a new
user with such callers (docs/dashboard.md, "Ids in addresses")."""

from __future__ import annotations

import html
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from voxmem import Settings
from voxmem._operations import dispatch
from voxmem.engine import MemoryEngine
from voxmem.runtime._app import create_app

BODY = {"project_id": "p", "agent_id": "a"}
#: id -> (name, what only this caller said). "acme" is the caller the others' ids begin
#: with: a page of theirs that showed acme's data would hand one caller's memory to
#: whoever opened another's.
CALLERS = {
    "acme": ("Ann Acme", "the barn door"),
    "acme/export": ("Eve Export", "the blue kettle"),
    "acme/forget": ("Fay Forget", "the red bicycle"),
    "report.json": ("Rex Report", "the oak table"),
}


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), embedder="hashing", store_url=store_url,
                    extractor="off")


async def seed(engine: MemoryEngine) -> None:
    for user_id, (name, said) in CALLERS.items():
        await dispatch(engine, "start_session", {**BODY, "user": {"id": user_id, "name": name},
                                                 "session_id": f"{user_id}.json"})
        await dispatch(engine, "save_response", {**BODY, "user_id": user_id,
                                                 "user_text": f"It is about {said}",
                                                 "assistant_text": "Noted."})
        await dispatch(engine, "end_session", {**BODY, "user_id": user_id})
    for name, text in (("faq", "Refunds take five days."), ("faq.json", "Parking is free.")):
        await dispatch(engine, "create_index", {**BODY, "name": name, "documents": [
            {"id": "d1", "text": text}]})


def _sign_in(client: TestClient) -> None:
    nonce = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert nonce is not None
    client.post("/login", data={"csrf": nonce.group(1), "token": "t"})


def _links(html: str, prefix: str) -> list[str]:
    """Every link the page renders under ``prefix``, as a browser would follow it."""
    return [link.replace("&amp;", "&")
            for link in re.findall(rf'href="({re.escape(prefix)}[^"]*)"', html)]


def _twin(link: str) -> str:
    path, _, query = link.partition("?")
    return f"{path}.json?{query}"


def _others(user_id: str) -> list[str]:
    return [said for other, (_name, said) in CALLERS.items() if other != user_id]


def test_each_callers_links_open_that_caller(settings: Settings) -> None:
    engine = MemoryEngine(settings)
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        client.portal.call(seed, engine)  # type: ignore[union-attr]
        _sign_in(client)
        listing = client.get("/callers?project=p").text
        links = [link for link in _links(listing, "/callers/") if "/" not in
                 urllib.parse.urlsplit(link).path.removeprefix("/callers/")]
        assert len(links) == len(CALLERS), links
        opened: set[str] = set()
        for link in links:
            page = client.get(link)
            assert page.status_code == 200, (link, page.text[:300])
            assert page.headers["content-type"].startswith("text/html"), link
            user_id = next(uid for uid, (name, _) in CALLERS.items() if name in page.text)
            opened.add(user_id)
            twin = client.get(_twin(link))
            assert twin.status_code == 200 and twin.json()["userId"] == user_id, link

            [export] = _links(page.text, urllib.parse.urlsplit(link).path + "/export")
            data: dict[str, Any] = client.get(export).json()
            assert data["userId"] == user_id, (export, data.get("userId"))
            words = str(data)
            assert CALLERS[user_id][1] in words
            assert not any(said in words for said in _others(user_id)), export

            [forget] = _links(page.text, urllib.parse.urlsplit(link).path + "/forget")
            confirm = client.get(forget)
            assert confirm.status_code == 200, forget
            assert f"<code>{html.escape(user_id)}</code>" in confirm.text, forget

            [call] = {link.partition("?")[0] for link in _links(page.text, "/calls/")}
            transcript = client.get(call)
            assert transcript.status_code == 200 and CALLERS[user_id][1] in transcript.text
            assert transcript.headers["content-type"].startswith("text/html"), call
        assert opened == set(CALLERS)


def test_an_index_named_like_a_twin_opens_its_own_page(settings: Settings) -> None:
    engine = MemoryEngine(settings)
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        client.portal.call(seed, engine)  # type: ignore[union-attr]
        _sign_in(client)
        listing = client.get("/knowledge?project=p").text
        opened = set()
        for link in _links(listing, "/knowledge/"):
            page = client.get(link)
            assert page.status_code == 200, (link, page.text[:300])
            assert page.headers["content-type"].startswith("text/html"), link
            name = client.get(_twin(link)).json()["index"]["name"]
            assert f"Index {name}" in page.text, link
            opened.add(name)
        assert opened == {"faq", "faq.json"}


def test_signing_in_returns_to_the_caller_asked_for(settings: Settings) -> None:
    engine = MemoryEngine(settings)
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        client.portal.call(seed, engine)  # type: ignore[union-attr]
        asked = "/callers/acme%2Fexport?project=p"
        to_login = client.get(asked, headers={"accept": "text/html"},
                              follow_redirects=False)
        assert to_login.status_code == 303
        form = client.get(to_login.headers["location"]).text
        nonce = re.search(r'name="csrf" value="([^"]+)"', form)
        back = re.search(r'name="next" value="([^"]*)"', form)
        assert nonce is not None and back is not None
        signed_in = client.post("/login", data={"csrf": nonce.group(1), "token": "t",
                                                "next": back.group(1).replace("&amp;", "&")},
                                follow_redirects=False)
        assert signed_in.headers["location"] == asked
        page = client.get(signed_in.headers["location"])
        assert page.status_code == 200 and "Eve Export" in page.text, \
            signed_in.headers["location"]
