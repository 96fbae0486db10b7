"""The dashboard with more than a page of data, and odd data, on every backend: the
callers list pages through every caller (it showed the newest 100 and no way past
them), a caller's memories come a page at a time (2,000 of them made a 1.5 MB page the
browser took seconds to lay out) while the JSON twin keeps them all, and right-to-left,
emoji, empty and very long names and texts render in their own direction. A call's
turns come a page at a time too (a call of 1,000 turns was one page).

``benchmarks/dashboard_pages.py`` measures the same pages at 10,000 callers."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from voxmem import Settings
from voxmem._operations import dispatch
from voxmem.engine import MemoryEngine
from voxmem.runtime._app import create_app
from voxmem.runtime.dashboard._pages import ROWS_PER_PAGE

BODY = {"project_id": "p", "agent_id": "a"}
START = time.time() - 7 * 86_400
CALLERS = 130
MEMORIES = 230
NAMES = {"rtl": "שרה כהן", "emoji": "🦊 Foxy 🚀", "empty": None, "long": "x" * 250}


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), embedder="hashing", store_url=store_url,
                    extractor="off")


def _export(user: str, name: str | None, at: float, *, facts: int = 0,
            text: str = "hello") -> dict[str, Any]:
    sid = f"call-{user}"
    return {**BODY, "user_id": user, "format": 2, "name": name,
            "sessions": [{"session_id": sid, "started_at": at, "ended_at": at + 60}],
            "items": [{"id": f"evt-{user}", "kind": "turn", "session_id": sid,
                       "turn_id": "t1", "created_at": at + 1, "user_text": text,
                       "assistant_text": "ok"}]
            + [{"id": f"fact-{user}-{i:04d}", "kind": "fact", "session_id": sid,
                "created_at": at + 2 + i / 1000, "text": f"memory number {i} ✅"}
               for i in range(facts)]}


async def seed(engine: MemoryEngine) -> None:
    for i in range(CALLERS):
        await dispatch(engine, "import_user", _export(f"c{i:03d}", f"Caller {i}", START + i))
    for n, (key, name) in enumerate(NAMES.items()):
        await dispatch(engine, "import_user", _export(
            key, name, START + 1_000 + n, text="مرحبا، طلبي 4421 لم يصل " * 200))
    await dispatch(engine, "import_user", _export("big", "Big History", START + 2_000,
                                                  facts=MEMORIES))


def _signed_in(client: TestClient) -> None:
    page = client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce is not None
    client.post("/login", data={"csrf": nonce.group(1), "token": "t"})


def _callers_on(html: str) -> list[str]:
    return re.findall(r'<td><a href="/callers/([^"?]+)\?', html)


def _next(html: str) -> str | None:
    found = re.search(r'<a href="\?([^"]+)" rel="next">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_callers_list_pages_through_every_caller(settings: Settings) -> None:
    engine = MemoryEngine(settings)
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        client.portal.call(seed, engine)  # type: ignore[union-attr]
        _signed_in(client)
        seen: list[str] = []
        query: str | None = "project=p"
        while query is not None:
            page = client.get(f"/callers?{query}")
            assert page.status_code == 200
            rows = _callers_on(page.text)
            assert 0 < len(rows) <= ROWS_PER_PAGE
            seen += rows
            query = _next(page.text)
        assert len(seen) == len(set(seen)) == CALLERS + len(NAMES) + 1
        assert seen[0] == "big"  # most recently active first
        # A search is not paged: it answers its matches.
        found = client.get("/callers?project=p&q=Caller+129").text
        assert "c129" in _callers_on(found) and _next(found) is None


def test_a_caller_with_many_memories_is_shown_a_page_at_a_time(settings: Settings) -> None:
    engine = MemoryEngine(settings)
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        client.portal.call(seed, engine)  # type: ignore[union-attr]
        _signed_in(client)
        first = client.get("/callers/big?project=p").text
        assert first.count('aria-label="Delete memory:') == ROWS_PER_PAGE
        assert f"1–{ROWS_PER_PAGE} of {MEMORIES}" in first
        shown: set[str] = set(re.findall(r"memory number (\d+)", first))
        query = _next(first)
        while query is not None:
            page = client.get(f"/callers/big?{query}").text
            shown |= set(re.findall(r"memory number (\d+)", page))
            query = _next(page)
        assert shown == {str(i) for i in range(MEMORIES)}
        last = client.get("/callers/big?project=p&memories_page=99").text  # past the end
        assert last.count('aria-label="Delete memory:') == MEMORIES % ROWS_PER_PAGE
        assert len(client.get("/callers/big.json?project=p").json()["memories"]) == MEMORIES


def test_a_call_of_many_turns_is_shown_a_page_at_a_time(settings: Settings) -> None:
    engine = MemoryEngine(settings)
    turns = 2 * ROWS_PER_PAGE + 30
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        client.portal.call(dispatch, engine, "import_user", {  # type: ignore[union-attr]
            **BODY, "user_id": "talker", "format": 2,
            "sessions": [{"session_id": "long", "started_at": START,
                          "ended_at": START + turns}],
            "items": [{"id": f"evt-{t:04d}", "kind": "turn", "session_id": "long",
                       "turn_id": f"t{t}", "created_at": START + t,
                       "user_text": f"turn number {t}", "assistant_text": "ok"}
                      for t in range(turns)]})
        _signed_in(client)
        first = client.get("/calls/long?project=p").text
        assert first.count('<li class="turn') == ROWS_PER_PAGE
        assert f"1–{ROWS_PER_PAGE} of {turns}" in first
        shown = re.findall(r"turn number (\d+)", first)
        query = _next(first)
        while query is not None:
            page = client.get(f"/calls/long?{query}").text
            assert f'<ol class="transcript" start="{len(shown) + 1}">' in page
            shown += re.findall(r"turn number (\d+)", page)
            query = _next(page)
        assert shown == [str(t) for t in range(turns)]  # in order, each once
        assert len(client.get("/calls/long.json?project=p").json()["turns"]) == turns


def test_odd_names_and_texts_render_in_their_own_direction(settings: Settings) -> None:
    engine = MemoryEngine(settings)
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        client.portal.call(seed, engine)  # type: ignore[union-attr]
        _signed_in(client)
        listing = client.get("/callers?project=p").text
        for shown in ("שרה כהן", "🦊 Foxy 🚀", "x" * 250):
            assert f"<bdi>{shown}</bdi>" in listing
        for key, name in NAMES.items():
            page = client.get(f"/callers/{key}?project=p")
            assert page.status_code == 200
            assert f"<dd><bdi>{name or '—'}</bdi></dd>" in page.text
            call = client.get(f"/calls/call-{key}?project=p")
            assert call.status_code == 200 and "<bdi>مرحبا، طلبي 4421" in call.text
        found = client.get("/callers?project=p&q=" + "שרה").text
        assert _callers_on(found) == ["rtl"]
