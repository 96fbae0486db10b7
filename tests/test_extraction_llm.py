"""The LLM extractor against a real local HTTP server speaking the chat-completions protocol.

The fake endpoint is a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0) scripted per test:
each request pops the next scripted reply (status, body, headers, delay) and is recorded,
so tests assert both what the extractor sent and how it handled what came back.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from voxmem import VoxmemError
from voxmem.extraction import (
    FACT_KINDS,
    LLMExtractor,
    Transcript,
    TranscriptTurn,
    prompt_v1,
)
from voxmem.extraction._base import KIND_LIMITS
from voxmem.extraction.llm import parse_llm_facts


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict → JSON chat completion body; str → raw body
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay_s: float = 0.0


def completion(content: Any) -> dict[str, Any]:
    """A chat-completions response whose message content is ``content`` (JSON-encoded)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
    }


class FakeChatServer:
    """A scripted OpenAI-compatible endpoint; the last reply repeats when the script ends."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with outer._lock:
                    outer.paths.append(self.path)
                    outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                    outer.requests.append(json.loads(raw))
                    reply = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                if reply.delay_s:
                    threading.Event().wait(reply.delay_s)
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A short poll interval keeps shutdown (and so each test) fast.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer() as srv:
        yield srv


TRANSCRIPT = Transcript(
    session_id="s1",
    user_id="u1",
    caller_name="Dana W.",
    turns=[
        TranscriptTurn("t1", "hi my name is Dana Whitfield", "Hi Dana, how can I help?", 1.0),
        TranscriptTurn("t2", "i can only do mornings before 9, card is 4111 1111 1111 1111",
                       "Thanks. I'll email you the invoice copy.", 2.0),
    ],
)

GOOD = {"facts": [
    {"text": "Name is Dana Whitfield", "kind": "identity", "slot_key": "name",
     "confidence": 0.95, "source_turn_ids": ["t1"]},
    {"text": "Available only mornings before 9am", "kind": "availability",
     "slot_key": "preferred_time", "confidence": 0.8, "source_turn_ids": ["t2"]},
    {"text": "Agent promised to email the invoice copy", "kind": "commitment",
     "slot_key": None, "confidence": 0.7, "source_turn_ids": ["t2"]},
]}


def extractor(server: FakeChatServer, **kwargs: Any) -> LLMExtractor:
    kwargs.setdefault("retry_backoff_s", 0.0)
    return LLMExtractor(server.base_url, "test-model", **kwargs)


async def test_valid_output_becomes_facts(server: FakeChatServer) -> None:
    server.script = [Reply(body=completion(GOOD))]
    async with extractor(server, api_key="sk-test") as ex:
        facts = await ex.extract(TRANSCRIPT)
    assert ex.name == "llm:test-model"
    assert [f.text for f in facts] == [
        "Name is Dana Whitfield",
        "Available only mornings before 9am",
        "Agent promised to email the invoice copy",
    ]
    assert facts[0].slot_key == "name" and facts[0].source_turn_ids == ("t1",)
    assert facts[2].slot_key is None

    # What went over the wire: the protocol, JSON mode, the key, and a redacted transcript.
    assert server.paths == ["/v1/chat/completions"]
    body = server.requests[0]
    assert body["model"] == "test-model"
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert server.headers[0]["authorization"] == "Bearer sk-test"
    sent = json.dumps(body)
    assert "4111 1111 1111 1111" not in sent
    assert "[redacted:payment_card]" in sent
    assert "[t1] CALLER: hi my name is Dana Whitfield" in body["messages"][1]["content"]


async def test_invalid_json_then_valid(server: FakeChatServer) -> None:
    server.script = [Reply(body=completion("Sure! Here are the facts: name is Dana")),
                     Reply(body=completion(GOOD))]
    facts = await extractor(server).extract(TRANSCRIPT)
    assert len(facts) == 3
    assert len(server.requests) == 2


async def test_server_error_then_valid(server: FakeChatServer) -> None:
    server.script = [Reply(status=500, body={"error": {"message": "boom"}}),
                     Reply(body=completion(GOOD))]
    facts = await extractor(server).extract(TRANSCRIPT)
    assert len(facts) == 3
    assert len(server.requests) == 2


async def test_rate_limit_honours_retry_after(server: FakeChatServer) -> None:
    server.script = [Reply(status=429, body={"error": "slow down"}, headers={"Retry-After": "0"}),
                     Reply(body=completion(GOOD))]
    assert len(await extractor(server).extract(TRANSCRIPT)) == 3


async def test_always_failing_raises_extraction_failed(server: FakeChatServer) -> None:
    server.script = [Reply(status=503, body={"error": "down"})]
    with pytest.raises(VoxmemError) as info:
        await extractor(server, max_retries=2).extract(TRANSCRIPT)
    err = info.value
    assert err.code == "extraction.failed"
    assert err.retryable is True
    assert err.details["attempts"] == 3
    assert "503" in err.message
    assert len(server.requests) == 3


async def test_always_invalid_output_raises_extraction_failed(server: FakeChatServer) -> None:
    server.script = [Reply(body=completion({"memories": "none"}))]
    with pytest.raises(VoxmemError) as info:
        await extractor(server, max_retries=1).extract(TRANSCRIPT)
    assert info.value.code == "extraction.failed" and info.value.retryable
    assert len(server.requests) == 2


async def test_auth_error_is_not_retried(server: FakeChatServer) -> None:
    server.script = [Reply(status=401, body={"error": "bad key"})]
    with pytest.raises(VoxmemError) as info:
        await extractor(server).extract(TRANSCRIPT)
    assert info.value.code == "extraction.failed"
    assert info.value.retryable is False
    assert len(server.requests) == 1


async def test_timeout_is_retried_then_reported(server: FakeChatServer) -> None:
    server.script = [Reply(body=completion(GOOD), delay_s=1.0)]
    with pytest.raises(VoxmemError) as info:
        await extractor(server, timeout_s=0.2, max_retries=1).extract(TRANSCRIPT)
    assert info.value.code == "extraction.failed"
    assert "timed out" in info.value.message
    assert not isinstance(info.value.__cause__, httpx.HTTPError)


async def test_unreachable_endpoint_never_leaks_httpx_errors() -> None:
    with FakeChatServer() as srv:
        url = srv.base_url  # a port that was just free and is closed again below
    ex = LLMExtractor(url, "m", max_retries=1, retry_backoff_s=0.0)
    with pytest.raises(VoxmemError) as info:
        await ex.extract(TRANSCRIPT)
    assert info.value.code == "extraction.failed" and info.value.retryable
    await ex.aclose()


async def test_card_number_in_output_is_dropped(server: FakeChatServer) -> None:
    leaky = {"facts": [
        *GOOD["facts"],
        {"text": "Card number is 4111 1111 1111 1111", "kind": "identity",
         "slot_key": "card", "confidence": 0.99, "source_turn_ids": ["t2"]},
        {"text": "Has diabetes", "kind": "note", "slot_key": None, "confidence": 0.9,
         "source_turn_ids": ["t2"]},
    ]}
    server.script = [Reply(body=completion(leaky))]
    facts = await extractor(server).extract(TRANSCRIPT)
    assert [f.text for f in facts if "4111" in f.text or "diabetes" in f.text] == []
    assert len(facts) == 3


async def test_schema_violations_are_dropped_or_clamped(server: FakeChatServer) -> None:
    messy = {"facts": [
        {"text": "Prefers email", "kind": "preference", "slot_key": "Preferred Contact Method",
         "confidence": 1.7, "source_turn_ids": ["t1", "t99"]},
        {"text": "Likes cats", "kind": "hobby", "confidence": 0.9},  # unknown kind
        {"text": "x" * 500, "kind": "note", "confidence": 0.9},  # too long
        {"text": "Is vegetarian", "kind": "preference", "confidence": "high"},  # not a number
        {"text": "", "kind": "note", "confidence": 0.5},  # empty
        {"text": "Uses a wheelchair ramp? no", "kind": "note", "confidence": True},  # bool
        "not an object",
        {"text": "Lives in Denver", "kind": "NOTE", "slot_key": "null", "confidence": -3},
    ]}
    server.script = [Reply(body=completion(messy))]
    facts = await extractor(server).extract(TRANSCRIPT)
    by_text = {f.text: f for f in facts}
    assert set(by_text) == {"Prefers email", "Lives in Denver"}
    assert by_text["Prefers email"].confidence == 1.0
    assert by_text["Prefers email"].slot_key == "preferred_contact_method"
    assert by_text["Prefers email"].source_turn_ids == ("t1",)
    assert by_text["Lives in Denver"].confidence == 0.0
    assert by_text["Lives in Denver"].kind == "note"
    assert by_text["Lives in Denver"].slot_key is None


async def test_more_facts_of_a_kind_than_its_limit_are_cut_to_the_best(
        server: FakeChatServer) -> None:
    many = {"facts": [
        {"text": f"Prefers option {i}", "kind": "preference", "confidence": i / 10}
        for i in range(1, 9)
    ]}
    server.script = [Reply(body=completion(many))]
    facts = await extractor(server).extract(TRANSCRIPT)
    limit = KIND_LIMITS["preference"]
    assert [f.text for f in facts] == [f"Prefers option {i}" for i in range(8, 8 - limit, -1)]


async def test_fenced_json_and_zero_facts(server: FakeChatServer) -> None:
    server.script = [Reply(body=completion('```json\n{"facts": []}\n```'))]
    assert await extractor(server).extract(TRANSCRIPT) == []


async def test_uses_a_shared_http_client_without_closing_it(server: FakeChatServer) -> None:
    server.script = [Reply(body=completion(GOOD))]
    async with httpx.AsyncClient() as client:
        ex = LLMExtractor(server.base_url + "/", "m", http_client=client)
        assert len(await ex.extract(TRANSCRIPT)) == 3
        await ex.aclose()
        assert not client.is_closed
    assert server.paths == ["/v1/chat/completions"]


async def test_empty_transcript_makes_no_request(server: FakeChatServer) -> None:
    server.script = [Reply(body=completion(GOOD))]
    assert await extractor(server).extract(Transcript("s", "u", [])) == []
    assert server.requests == []


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"base_url": "localhost:11434", "model": "m"}, "base_url"),
        ({"base_url": "http://x/v1", "model": ""}, "model"),
        ({"base_url": "http://x/v1", "model": "m", "timeout_s": 0}, "timeout_s"),
        ({"base_url": "http://x/v1", "model": "m", "max_retries": -1}, "max_retries"),
    ],
)
def test_bad_configuration_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(VoxmemError) as info:
        LLMExtractor(**kwargs)
    assert info.value.code == "bad_request"
    assert info.value.details["field"] == field


def test_prompt_v1_is_versioned_redacted_and_bounded() -> None:
    messages = prompt_v1(TRANSCRIPT)
    system, user = messages[0]["content"], messages[1]["content"]
    for kind in FACT_KINDS:
        assert kind in system
    assert "Name on file for the caller: Dana W." in user
    assert "4111" not in user
    long_call = Transcript("s", "u", [
        TranscriptTurn(f"t{i}", f"turn {i} " + "words " * 50, "ok", float(i)) for i in range(200)
    ])
    content = prompt_v1(long_call, max_chars=5000)[1]["content"]
    assert len(content) < 6000
    assert "[t0] CALLER" in content and "[t199] CALLER" in content
    assert "turns omitted" in content


def test_parse_rejects_answers_without_a_facts_list() -> None:
    with pytest.raises(ValueError):
        parse_llm_facts('{"facts": "none"}', ["t1"])
    with pytest.raises(ValueError):
        parse_llm_facts("not json", ["t1"])
    assert parse_llm_facts("[]", ["t1"]) == []


async def test_a_declared_allergy_kept_at_save_reaches_the_facts(server: FakeChatServer) -> None:
    # The model only ever sees the redacted turn, so it cannot name the allergy itself.
    server.script = [Reply(body=completion({"facts": []}))]
    turn = TranscriptTurn(turn_id="t1", user_text="i'm [redacted:health]",
                          assistant_text="Noted.", created_at=0.0,
                          kept=("Allergic to peanuts",))
    facts = await extractor(server).extract(Transcript(session_id="s1", user_id="u1",
                                                       turns=[turn]))
    assert [(f.text, f.kind, f.source_turn_ids) for f in facts] == [
        ("Allergic to peanuts", "constraint", ("t1",))]
