"""The operations behind the dashboard, on every backend, and the pages' JSON twins:
caller search by any identifier format, call detail with stored recall traces, document
and index deletion, health; each page's twin equals the REST operation's answer."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from voxmem import Settings
from voxmem._operations import dispatch
from voxmem.engine import MemoryEngine
from voxmem.engine._caller_search import search_terms
from voxmem.models import Caller
from voxmem.runtime._app import create_app, openapi_document
from voxmem.runtime.dashboard._pages import PAGES

BODY = {"project_id": "p", "agent_id": "a"}
DANA = {"id": "+1 (415) 555-0123", "name": "Dana Whitfield",
        "metadata": {"email": "Dana@Example.org", "account": "ACC-4421",
                     "phone_alt": "+44 20 7946 0958"}}
SAM = {"id": "sam-7", "name": "Sam Okafor", "metadata": {"phone": "+1-212-555-0188"}}


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    # Learning runs in the background after a call ends; these tests check what the
    # operator sees of calls and explicit memories, so it is off to keep them exact.
    return Settings(data_dir=str(tmp_path / "data"), embedder="hashing", store_url=store_url,
                    extractor="off")


async def op(engine: MemoryEngine, operation: str, /, **fields: Any) -> Any:
    return await dispatch(engine, operation, {**BODY, **fields})


async def seed(engine: MemoryEngine) -> None:
    await op(engine, "start_session", user=DANA, session_id="call-1")
    await op(engine, "search_memory", user_id=DANA["id"], query="hello there")
    await op(engine, "save_response", user_id=DANA["id"], user_text="My router keeps failing",
             assistant_text="Ticket 8842 is open")
    await op(engine, "search_memory", user_id=DANA["id"], query="is my router fixed?")
    await op(engine, "save_response", user_id=DANA["id"], user_text="Call me mornings",
             assistant_text="Sure, we will", interrupted=True)
    await op(engine, "remember", user_id=DANA["id"], memory_type="diet", content="vegan")
    await op(engine, "remember", user_id=DANA["id"], memory_type="diet", content="vegetarian")
    await op(engine, "end_session", user_id=DANA["id"], reason="hangup", report={"turns": 2})
    await op(engine, "start_session", user=SAM)
    await op(engine, "remember", user_id=SAM["id"], memory_type="ticket",
             content="open ticket T-8842 about a modem")
    await op(engine, "end_session", user_id=SAM["id"])


@pytest.mark.parametrize(("query", "found"), [
    ("4155550123", ["+1 (415) 555-0123"]),
    ("+14155550123", ["+1 (415) 555-0123"]),
    ("415.555.0123", ["+1 (415) 555-0123"]),
    ("020 7946 0958", ["+1 (415) 555-0123"]),  # a national form of the stored +44 number
    ("(212) 555-0188", ["sam-7"]),
    ("dana@example.org", ["+1 (415) 555-0123"]),
    ("acc-4421", ["+1 (415) 555-0123"]),
    ("okafor", ["sam-7"]),
    ("8842", ["sam-7"]),  # a number given during a call, kept as a fact
    ("ticket t-8842", ["sam-7"]),
    ("555-0199", []),
    ("100%_", []),  # LIKE wildcards are matched literally
])
async def test_find_a_caller_by_any_identifier_format(engine: MemoryEngine, query: str,
                                                      found: list[str]) -> None:
    await seed(engine)
    result = await op(engine, "list_callers", query=query)
    assert [c["userId"] for c in result["callers"]] == found


def test_search_terms_keep_the_national_number() -> None:
    assert search_terms("+1 (415) 555-0123") == ("+1 (415) 555-0123", "4155550123")
    assert search_terms("Dana") == ("dana", "")
    assert search_terms("a1b2") == ("a1b2", "")  # two digits: too common to search


async def test_a_call_has_its_turns_recall_traces_and_memories(engine: MemoryEngine) -> None:
    await seed(engine)
    calls = await op(engine, "list_calls", user_id=DANA["id"])
    assert [(c["sessionId"], c["turnCount"], c["endReason"]) for c in calls["calls"]] == [
        ("call-1", 2, "hangup")]
    call = await op(engine, "get_call", session_id="call-1")
    assert call["call"]["report"] == {"turns": 2}
    first, second = call["turns"]
    assert [r["query"] for r in first["recall"]] == ["hello there"]
    assert [r["query"] for r in second["recall"]] == ["is my router fixed?"]
    assert second["interrupted"] and not first["interrupted"]
    trace = second["recall"][0]
    assert set(trace["trace"]["lanes"]) == {"profile", "working", "permanent", "org"}
    assert "router keeps failing" in trace["injected"]
    assert any("router" in s["text"] for s in trace["sources"])
    written = {(m["text"], m["validTo"] is None) for m in call["memoriesWritten"]}
    assert written == {("diet: vegan", False), ("diet: vegetarian", True)}
    caller = await op(engine, "get_caller", user_id=DANA["id"])
    assert [m["text"] for m in caller["memories"]] == ["diet: vegetarian"]
    assert [m["text"] for m in caller["history"]] == ["diet: vegan"]
    with pytest.raises(Exception, match="session_not_found"):
        await op(engine, "get_call", session_id="no-such-call")


async def test_recall_traces_are_redacted_and_erased_with_the_caller(
        engine: MemoryEngine) -> None:
    await seed(engine)
    await op(engine, "start_session", user_id=DANA["id"], session_id="call-2")
    await op(engine, "search_memory", user_id=DANA["id"],
             query="my card is 4111 1111 1111 1111, what is my balance?")
    call = await op(engine, "get_call", session_id="call-2")
    queries = [r["query"] for r in call["laterRecall"]]
    assert queries and "4111 1111" not in queries[-1] and "balance" in queries[-1]
    await op(engine, "forget_user", user_id=DANA["id"])
    health = await op(engine, "runtime_health")
    assert health["recall"]["count"] == 0  # Sam never recalled; Dana's traces are gone
    assert await engine.store.recall_traces("default", "p", session_id="call-1") == []


async def test_delete_documents_and_indexes(engine: MemoryEngine) -> None:
    docs = [{"id": "refunds.md", "text": "Refunds are paid within thirty days."},
            {"id": "shipping.md", "text": "Parcels to Norway take five days."}]
    await op(engine, "create_index", name="kb", documents=docs)
    hits = await op(engine, "search_index", name="kb", query="refunds paid")
    assert hits["chunks"][0]["documentId"] == "refunds.md"
    done = await op(engine, "delete_documents", name="kb", document_ids=["refunds.md", "x"])
    assert done == {"indexName": "kb", "version": 2, "removed": 1}
    listing = await op(engine, "list_documents", name="kb")
    assert [d["documentId"] for d in listing["documents"]] == ["shipping.md"]
    assert listing["index"]["chunkCount"] == 1
    assert all(c["documentId"] != "refunds.md" for c in (await op(
        engine, "search_index", query="refunds paid"))["chunks"])
    recall = await op(engine, "search_memory", user_id="x", query="refunds paid", lanes=["org"])
    assert "thirty days" not in recall["contextText"]
    assert await op(engine, "delete_index", name="kb") == {"indexName": "kb",
                                                          "documentsRemoved": 1}
    assert await op(engine, "list_indexes") == []
    for operation, fields in (("delete_index", {}), ("list_documents", {}),
                              ("delete_documents", {"document_ids": ["a"]})):
        with pytest.raises(Exception, match="index_not_found"):
            await op(engine, operation, name="kb", **fields)
    with pytest.raises(Exception, match="document_ids"):
        await op(engine, "delete_documents", name="kb", document_ids=[])


async def test_health_reports_journal_learning_and_latency(engine: MemoryEngine) -> None:
    await seed(engine)
    await engine.flush(timeout=30)  # health shows the applier as it is; settle it first
    health = await op(engine, "runtime_health")
    assert health["journal"]["behind"] == 0 and health["journal"]["applied"] > 0
    assert health["recall"]["count"] == 2
    assert health["recall"]["p95Ms"] >= health["recall"]["p50Ms"] > 0
    assert sum(b["count"] for b in health["recall"]["buckets"]) == 2
    assert health["memoryPerCaller"] == [
        {"userId": DANA["id"], "name": DANA["name"], "memoryCount": 1, "callCount": 1,
         "space": "*"},
        {"userId": SAM["id"], "name": SAM["name"], "memoryCount": 1, "callCount": 1,
         "space": "*"}]


def _csrf(client: TestClient) -> str:
    page = client.get("/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce is not None
    client.post("/login", data={"csrf": nonce.group(1), "token": "t"})
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/settings?project=p").text)
    assert found is not None
    return found.group(1)


def test_every_page_renders_and_its_json_twin_is_the_operation(settings: Settings) -> None:
    engine = MemoryEngine(settings)
    auth = {"authorization": "Bearer t"}
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        client.portal.call(seed, engine)  # type: ignore[union-attr]
        client.post("/v1/memories/remember", headers=auth, json={
            **BODY, "user_id": "guest-1", "memory_type": "pet", "content": "a cat"})
        client.post("/v1/callers/merge", headers=auth, json={
            **BODY, "from_id": "guest-1", "to_id": DANA["id"]})
        client.post("/v1/indexes", headers=auth, json={**BODY, "name": "kb", "documents": [
            {"id": "d1", "text": "Refunds within thirty days."}]})
        _csrf(client)
        user = "%2B1%20%28415%29%20555-0123"
        for path, _handler, _summary, twin in PAGES:
            url = (path.replace("{user_id}", user).replace("{session_id}", "call-1")
                   .replace("{name}", "kb"))
            page = client.get(url + "?project=p")
            assert page.status_code == 200, (url, page.text[:500])
            assert page.headers["cache-control"] == "no-store"
            if twin:
                data = client.get(url + ".json?project=p")
                assert data.status_code == 200 and data.json(), url
                by_accept = client.get(url + "?project=p",
                                       headers={"accept": "application/json"})
                if path == "/health":  # bucket times move with the clock
                    assert by_accept.json().keys() == data.json().keys()
                else:
                    assert by_accept.json() == data.json()
        twin = client.get("/calls/call-1.json?project=p").json()
        rest = client.post("/v1/calls/get", headers=auth,
                           json={**BODY, "session_id": "call-1"}).json()
        assert twin == rest
        callers = client.get("/callers.json?project=p&q=415-555-0123").json()
        assert callers == client.post("/v1/callers/list", headers=auth,
                                      json={**BODY, "query": "415-555-0123"}).json()
        assert [c["userId"] for c in callers["callers"]] == [DANA["id"]]
        html = client.get("/calls/call-1?project=p").text
        assert "interrupted" in html and "is my router fixed?" in html
        caller_page = client.get(f"/callers/{user}?project=p").text
        assert "guest-1" in caller_page and "merged into this one" in caller_page
        assert client.get("/callers/nobody.json?project=p").status_code == 404


def test_upload_through_the_dashboard_is_batched_and_resumable(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "d"), embedder="hashing",
                        index_max_bytes=4000, index_max_documents=3)
    engine = MemoryEngine(settings)
    big = "\n\n".join(f"Paragraph {i} explains warranty clause {i} in plain words."
                      for i in range(400))  # ~25 kB: many calls of <= 4 kB
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        csrf = _csrf(client)
        client.post("/knowledge?project=p", data={"csrf": csrf, "name": "kb"})
        files = [("files", ("terms.md", big.encode(), "text/markdown")),
                 ("files", ("note.txt", b"Short note about modems.", "text/plain")),
                 ("files", ("photo.png", b"\x89PNG", "image/png"))]
        first = client.post("/knowledge/kb/upload?project=p", data={"csrf": csrf},
                            files=files, headers={"accept": "application/json"}).json()
        status = {f["file"]: f["status"] for f in first["files"]}
        assert status == {"terms.md": "indexed", "note.txt": "indexed", "photo.png": "failed"}
        parts = next(f["parts"] for f in first["files"] if f["file"] == "terms.md")
        assert parts > 6
        listing = client.get("/knowledge/kb.json?project=p").json()
        assert listing["index"]["documentCount"] == parts + 1
        text = "".join(d["documentId"] for d in listing["documents"])
        assert "terms.md#2" in text
        again = client.post("/knowledge/kb/upload?project=p", data={"csrf": csrf},
                            files=files[:2], headers={"accept": "application/json"}).json()
        assert {f["status"] for f in again["files"]} == {"unchanged"}
        found = client.get("/knowledge/kb.json?project=p&q=warranty clause 399").json()
        assert any("clause 399" in c["text"] for c in found["chunks"])


def test_openapi_lists_every_json_twin() -> None:
    doc = openapi_document("0")
    for path, _handler, _summary, twin in PAGES:
        assert ((path + ".json") in doc["paths"]) == twin, path
    assert "dashboardSession" in doc["components"]["securitySchemes"]


def test_settings_page_masks_secrets(tmp_path: Path) -> None:
    secret = "sk-do-not-show-123"
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "d"), embedder="hashing",
                                   llm_api_key=secret, embeddings_api_key=secret))
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        _csrf(client)
        page = client.get("/settings?project=p")
        twin = client.get("/settings.json?project=p")
        assert page.status_code == twin.status_code == 200
        assert secret not in page.text and secret not in twin.text
        values = {row["name"]: row["value"] for row in twin.json()["settings"]}
        assert values["llm_api_key"] == values["embeddings_api_key"] == "***"


async def test_trace_queue_is_bounded_and_drops_the_oldest(engine: MemoryEngine) -> None:
    from voxmem.engine._traces import MAX_PENDING_TRACES

    scope = engine.scope(project_id="p", agent_id="a", user_id="u1")
    await engine.start_session(scope, Caller("u1"), session_id="busy-call")
    result = await engine.search_memory(scope, "query 0")  # recorded like every recall
    # Recorded synchronously without yielding, as a burst faster than the store takes.
    for i in range(1, MAX_PENDING_TRACES + 10):
        engine.traces.record(scope, "busy-call", f"query {i}", result)
    assert engine.traces.dropped == 10
    await engine.flush(timeout=30)
    stored = await engine.store.recall_traces("default", "p", session_id="busy-call",
                                              limit=2 * MAX_PENDING_TRACES)
    assert len(stored) == MAX_PENDING_TRACES
    assert stored[0].query == "query 10" and stored[-1].query == (
        f"query {MAX_PENDING_TRACES + 9}")


async def test_a_caller_shows_the_merges_into_it(engine: MemoryEngine) -> None:
    await seed(engine)
    await op(engine, "remember", user_id="guest-1", memory_type="pet", content="a cat")
    await op(engine, "merge_users", from_id="guest-1", to_id=DANA["id"])
    caller = await op(engine, "get_caller", user_id=DANA["id"])
    assert [(m["fromUserId"], m["toUserId"], m["evidence"]["reason"])
            for m in caller["merges"]] == [("guest-1", DANA["id"], "merge_users")]
    assert "pet: a cat" in [m["text"] for m in caller["memories"]]


class _FormControls(HTMLParser):
    """Collects what a screen reader needs: labelled controls and named buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.label_for: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.in_label = 0
        self.buttons: list[str] = []
        self._button: list[str] | None = None
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({**a, "wrapped": "yes" if self.in_label else None})
        elif tag == "button":
            self._button = [a.get("aria-label") or ""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1
        elif tag == "button" and self._button is not None:
            self.buttons.append("".join(self._button).strip())
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)


def test_every_control_is_labelled_and_every_button_named(tmp_path: Path) -> None:
    engine = MemoryEngine(Settings(data_dir=str(tmp_path / "d"), embedder="hashing",
                                   extractor="off"))
    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        client.portal.call(seed, engine)  # type: ignore[union-attr]
        client.post("/v1/indexes", headers={"authorization": "Bearer t"}, json={
            **BODY, "name": "kb", "documents": [{"id": "d1", "text": "Refunds."}]})
        pages = ["/login"]
        _csrf(client)
        user = "%2B1%20%28415%29%20555-0123"
        pages += [path.replace("{user_id}", user).replace("{session_id}", "call-1")
                  .replace("{name}", "kb") + "?project=p"
                  for path, _handler, _summary, _twin in PAGES if "export" not in path]
        for url in pages:
            found = _FormControls()
            found.feed(client.get(url).text)
            assert found.lang == "en", url
            for control in found.controls:
                assert control["wrapped"] or control.get("id") in found.label_for or \
                    control.get("aria-label"), (url, control)
            assert all(found.buttons), (url, found.buttons)


def _link(html: str, prefix: str) -> str:
    """The first link the page renders under ``prefix``, as a browser would follow it."""
    found = re.search(rf'href="({re.escape(prefix)}[^"]*)"', html)
    assert found is not None, f"no link to {prefix} on the page"
    return found.group(1).replace("&amp;", "&")


def test_a_caller_and_a_call_whose_ids_hold_a_slash_open_from_their_links(
        settings: Settings) -> None:
    """Ids are the integrator's (``acme/42``, a LiveKit room path, base64): a ``/`` in one
    must not send its caller's pages, twins and forms to 404."""
    caller, call = {"id": "acme/42", "name": "Rae Quill"}, "room/7/job-1"
    engine = MemoryEngine(settings)
    auth = {"authorization": "Bearer t"}

    async def seed_slashed(engine: MemoryEngine) -> None:
        await op(engine, "start_session", user=caller, session_id=call)
        await op(engine, "save_response", user_id=caller["id"], user_text="Ship to the barn",
                 assistant_text="The barn it is")
        await op(engine, "remember", user_id=caller["id"], memory_type="diet", content="vegan")
        await op(engine, "end_session", user_id=caller["id"])

    with TestClient(create_app(engine, token="t"), base_url="http://127.0.0.1") as client:
        client.portal.call(seed_slashed, engine)  # type: ignore[union-attr]
        csrf = _csrf(client)
        listing = client.get("/callers?project=p").text
        page = client.get(_link(listing, "/callers/"))
        assert page.status_code == 200 and "Rae Quill" in page.text and "vegan" in page.text
        twin = client.get("/callers/acme%2F42.json?project=p")
        assert twin.status_code == 200 and twin.json()["userId"] == "acme/42"
        assert client.get(_link(page.text, "/callers/acme%2F42/forget")).status_code == 200
        call_page = client.get(_link(page.text, "/calls/"))
        assert call_page.status_code == 200 and "Ship to the barn" in call_page.text
        call_twin = client.get("/calls/room%2F7%2Fjob-1.json?project=p").json()
        assert call_twin["call"]["sessionId"] == call

        action = re.search(r'action="(/callers/[^"]*/memories/[^"]*/delete[^"]*)"', page.text)
        assert action is not None
        done = client.post(action.group(1).replace("&amp;", "&"), data={"csrf": csrf},
                           follow_redirects=False)
        assert done.status_code == 303, done.text[:300]
        assert client.get(done.headers["location"]).status_code == 200
        left = client.post("/v1/memories/list", headers=auth,
                           json={**BODY, "user_id": caller["id"]}).json()
        assert "vegan" not in [m["text"] for m in left]

        erased = client.post("/callers/acme%2F42/forget?project=p",
                             data={"csrf": csrf, "confirm_user_id": "acme/42"},
                             follow_redirects=False)
        assert erased.status_code == 303, erased.text[:300]
        assert client.get("/callers/acme%2F42.json?project=p").status_code == 404
