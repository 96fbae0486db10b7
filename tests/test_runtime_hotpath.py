"""The hot path (search, save, preload answered without Starlette) answers exactly as
the Starlette endpoints do: same status, headers and envelope for every good and bad
request, same checks, same metrics — on both store backends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from voxmem._operations import OPERATIONS
from voxmem.engine import MemoryEngine
from voxmem.runtime import create_app
from voxmem.runtime._hotpath import HOT_OPERATIONS, HotPath, encode_json

TOKEN = "hot-path-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
IDENT = {"projectId": "proj", "agentId": "agent"}
USER = {"id": "caller-1", "name": "Ada"}
#: Figures that differ between two runs of the same request: timings, fresh ids, and
#: whether the caller's memory was warm yet (the first request starts loading it).
VOLATILE = frozenset({"totalMs", "queuedMs", "eventId", "generatedAtTs", "warm",
                      "coldLanes"})


class Counting:
    """Counts the requests that reach the framework app behind the hot path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
async def paths(engine: MemoryEngine) -> AsyncIterator[tuple[httpx.AsyncClient,
                                                             httpx.AsyncClient, Counting]]:
    """(client of the whole app, client of the Starlette app alone, the counter)."""
    app = create_app(engine, token=TOKEN)
    assert isinstance(app, HotPath)
    counter = Counting(app.app)
    app.app = counter
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://runtime") as hot, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=counter.app),
                              base_url="http://runtime") as slow:
        yield hot, slow, counter


def _turn(**extra: Any) -> dict[str, Any]:
    return {**IDENT, "user": USER, "userText": "I moved to Lisbon last week.",
            "assistantText": "Noted.", **extra}


def _search(**extra: Any) -> dict[str, Any]:
    # A generous budget: on a loaded machine a lane of one path must not run out of
    # time while the other's does not (the answers are compared).
    return {**IDENT, "user": USER, "query": "where do I live?", "timeoutMs": 30_000,
            **extra}


def _preload(**extra: Any) -> dict[str, Any]:
    return {**IDENT, "user": USER, **extra}


#: (operation, raw body) pairs: good requests and every kind of bad one.
CASES: list[tuple[str, bytes]] = [
    *((op, json.dumps(body).encode()) for op, body in (
        ("save_response", _turn()),
        ("save_response", _turn(turnId="turn-fixed-1")),
        ("save_response", {**IDENT, "user": USER, "user_text": "snake", "assistant_text": "ok"}),
        ("search_memory", _search()),
        ("search_memory", _search(lanes=["working"], topK={"working": 2})),
        ("preload", _preload()),
        # Refused: unknown field, missing caller, wrong types, both spellings, bad ids.
        ("save_response", _turn(colour="blue")),
        # An error naming a secret (here the token, as an unknown field) is masked.
        ("save_response", _turn(**{TOKEN: 1})),
        ("save_response", {**IDENT, "userText": "no caller", "assistantText": "x"}),
        ("save_response", _turn(userText=5)),
        ("save_response", _turn(user_text="twice")),
        ("save_response", _turn(userText="", assistantText="")),
        ("save_response", _turn(interrupted="yes")),
        ("search_memory", _search(query=None)),
        ("search_memory", _search(timeoutMs=-1)),
        ("search_memory", _search(lanes=["nowhere"])),
        ("search_memory", _search(user={"id": "\ud800"})),
        ("search_memory", {"agentId": "agent", "user": USER, "query": "no project"}),
        ("preload", _preload(query="not a preload field")),
        ("preload", {**IDENT, "user": {"name": "no id"}}),
    )),
    ("search_memory", b""),
    ("search_memory", b"   "),
    ("search_memory", b"[1, 2]"),
    ("search_memory", b'{"projectId": '),
    ("save_response", b'{"projectId": NaN}'),
    ("save_response", b'{"projectId": "p", "n": ' + b"9" * 5000 + b"}"),
    ("save_response", b"\xff\xfe not utf-8"),
    ("preload", b"[" * 100_000 + b"]" * 100_000),
]


def _stable(value: Any) -> Any:
    """``value`` with timings and fresh ids blanked (a lane's time is kept as its name)."""
    if isinstance(value, dict):
        return {k: "_" if k in VOLATILE else sorted(v) if k == "lanes" else _stable(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


@pytest.mark.parametrize(("op", "raw"), CASES, ids=lambda v: str(v)[:40])
async def test_hot_path_answers_as_starlette_does(
        paths: tuple[httpx.AsyncClient, httpx.AsyncClient, Counting], op: str,
        raw: bytes) -> None:
    hot, slow, counter = paths
    route = OPERATIONS[op].path
    answers = [await client.post(route, content=raw, headers=AUTH) for client in (hot, slow)]
    fast, framework = answers
    assert fast.status_code == framework.status_code, (fast.text, framework.text)
    assert fast.headers["content-type"] == framework.headers["content-type"] == \
        "application/json"
    assert int(fast.headers["content-length"]) == len(fast.content)
    if fast.status_code == 200:
        # The same request twice: the answers agree but for timings and fresh ids.
        assert set(fast.json()) == set(framework.json())
        if op != "save_response":
            assert _stable(fast.json()) == _stable(framework.json())
    else:
        assert fast.content == framework.content
        error = fast.json()["error"]
        assert TOKEN not in error["message"]
        assert set(error) == {"code", "message", "details"}
    # The hot operation never reached the framework through the whole app.
    assert route not in counter.paths


async def test_oversized_body_is_413_on_both_paths(
        paths: tuple[httpx.AsyncClient, httpx.AsyncClient, Counting],
        engine: MemoryEngine) -> None:
    hot, slow, counter = paths
    limit = engine.settings.runtime_max_body_bytes
    raw = json.dumps(_turn(userText="x" * (limit + 10))).encode()
    route = OPERATIONS["save_response"].path
    fast = await hot.post(route, content=raw, headers=AUTH)
    framework = await slow.post(route, content=raw, headers=AUTH)
    assert fast.status_code == framework.status_code == 413
    assert fast.content == framework.content
    assert counter.paths == []


@pytest.mark.parametrize("headers", [
    {"content-type": "application/json"},
    {"authorization": "Bearer wrong", "content-type": "application/json"},
    {"authorization": f"Basic {TOKEN}", "content-type": "application/json"},
])
async def test_without_the_token_the_gate_answers(
        paths: tuple[httpx.AsyncClient, httpx.AsyncClient, Counting],
        headers: dict[str, str]) -> None:
    hot, slow, counter = paths
    route = OPERATIONS["search_memory"].path
    raw = json.dumps(_search()).encode()
    fast = await hot.post(route, content=raw, headers=headers)
    framework = await slow.post(route, content=raw, headers=headers)
    assert fast.status_code == framework.status_code == 401
    assert fast.headers["www-authenticate"] == "Bearer"
    assert fast.content == framework.content
    assert counter.paths == [route]  # the gate, not the hot path, refused it


async def test_other_methods_and_routes_go_to_the_framework(
        paths: tuple[httpx.AsyncClient, httpx.AsyncClient, Counting]) -> None:
    hot, _slow, counter = paths
    search = OPERATIONS["search_memory"].path
    wrong_method = await hot.get(search, headers=AUTH)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["details"]["field"] == "method"
    trailing = await hot.post(search + "/", content=json.dumps(_search()), headers=AUTH)
    assert trailing.status_code == 404
    listed = await hot.post(OPERATIONS["list_memories"].path,
                            content=json.dumps({**IDENT, "user": USER}), headers=AUTH)
    assert listed.status_code == 200
    assert counter.paths == [search, search + "/", OPERATIONS["list_memories"].path]


async def test_hot_requests_are_counted_in_metrics(
        paths: tuple[httpx.AsyncClient, httpx.AsyncClient, Counting]) -> None:
    hot, _slow, _counter = paths
    for op in sorted(HOT_OPERATIONS):
        body = {"search_memory": _search(), "save_response": _turn(),
                "preload": _preload()}[op]
        assert (await hot.post(OPERATIONS[op].path, content=json.dumps(body),
                               headers=AUTH)).status_code == 200
    assert (await hot.post(OPERATIONS["search_memory"].path, content=b"[]",
                           headers=AUTH)).status_code == 400
    text = (await hot.get("/metrics", headers=AUTH)).text
    for op in HOT_OPERATIONS:
        assert f'voxmem_requests_total{{operation="{op}",status="2xx"}} 1.0' in text
    assert 'voxmem_requests_total{operation="search_memory",status="4xx"} 1.0' in text


@pytest.mark.parametrize("body", [
    {"results": [{"id": "evt_1", "score": 1e-05, "at": 1764500000.125, "big": 10**30,
                  "text": "café \u2028 naïve", "tags": ("a", "b"), "none": None,
                  "ok": True, "nested": {"k": [1, 2.5, -3]}}], "degraded": False},
    [], "plain", 0.1, 1e22,
])
def test_answers_encode_to_the_same_json_values(body: Any) -> None:
    encoded = encode_json(body)
    assert json.loads(encoded) == json.loads(json.dumps(body))
    assert encoded.decode("utf-8") == encoded.decode("utf-8").strip()  # compact, UTF-8
    assert b" " not in encode_json({"a": [1, 2], "b": {"c": 3}})


def test_non_finite_floats_encode_as_valid_json() -> None:
    # The stdlib wrote NaN / Infinity, which strict parsers (JavaScript's JSON.parse,
    # json.loads with parse_constant refusing them) reject.
    encoded = encode_json({"score": float("nan"), "range": [float("inf"), -float("inf")]})
    assert json.loads(encoded, parse_constant=lambda name: pytest.fail(name)) == {
        "score": None, "range": [None, None]}


def test_keys_the_fast_encoder_cannot_write_are_written_as_strings() -> None:
    assert json.loads(encode_json({True: 1, None: 2, 3: 4})) == {"true": 1, "null": 2,
                                                                 "3": 4}
