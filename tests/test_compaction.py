"""In-call compaction: what the record keeps and drops, incrementality, budget, LLM guard.

The LLM summariser is tested against a real local HTTP server speaking the
chat-completions protocol (a fake of the external endpoint); nothing of voxmem is faked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import voxmem
from voxmem.compaction import (
    CompactedTranscript,
    Compactor,
    LLMSummariser,
    compact_transcript,
    count_tokens,
)
from voxmem.compaction._items import _SPACES, _STUTTER, clean_disfluencies

FILLER = [
    {"role": "assistant", "text": "Okay, one moment please, the system is a little slow."},
    {"role": "user", "text": "Uh-huh."},
    {"role": "assistant", "text": "Thanks for your patience, I'm still looking."},
    {"role": "user", "text": "Sure, no problem."},
]
CALL = [
    {"role": "assistant", "text": "Thanks for calling Northwind, this is Sam, how can I help?"},
    {"role": "user", "text": "Hi, um, yeah, my internet keeps dropping out since Sunday."},
    {"role": "assistant", "text": "Sorry to hear that. Can I get your first and last name?"},
    {"role": "user", "text": "Yeah, it's Dana Kowalski. That's K O W A L S K I."},
    {"role": "assistant", "text": "Thank you, Dana. And your account number?"},
    {"role": "user", "text": "Sure, um, it's four four two one seven."},
    {"role": "assistant", "text": "So that's four four two one seven?"},
    {"role": "user", "text": "Yep."},
    *FILLER,
    {"role": "user", "text": "The bill was forty five dollars and twenty cents, by the way."},
    {"role": "assistant", "text": "Can a technician come on Monday?"},
    {"role": "user", "text": "Monday, no wait, I mean Tuesday."},
    {"role": "assistant", "text": "I've booked a technician for Tuesday at nine a m."},
    {"role": "user", "text": "Okay, great."},
    {"role": "user", "text": "Send the confirmation to dana dot k at gmail dot com please."},
    {"role": "user", "text": "And will I get a credit for the outage?"},
    *FILLER,
    *FILLER,
]
KEY_ITEMS = ["Dana Kowalski", "K O W A L S K I", "four four two one seven",
             "forty five dollars and twenty cents", "Tuesday", "nine a m", "technician",
             "dana dot k at gmail dot com", "credit for the outage"]


def flat(text: str) -> str:
    return " ".join(text.lower().split())


def test_record_keeps_every_key_item_in_the_callers_words() -> None:
    result = compact_transcript(CALL, keep_last_turns=4)
    assert result.turns_compacted == len(CALL) - 4
    record = flat(result.record)
    for item in KEY_ITEMS:
        assert flat(item) in record, item
    kept = {flat(str(item)) for item in result.kept}
    assert {"dana kowalski", "four four two one seven", "tuesday"} <= kept


def test_filler_confirmations_and_repeats_are_dropped() -> None:
    result = compact_transcript(CALL, keep_last_turns=4)
    record = flat(result.record)
    for dropped in ("uh-huh", "no problem", "one moment", "so that's four four two one",
                    "yep", "okay, great"):
        assert dropped not in record, dropped
    # The read-back is a repeat: the number appears once.
    assert record.count("four four two one seven") == 1
    assert result.tokens_after < result.tokens_before * 0.85


def test_a_repair_keeps_the_corrected_value_only() -> None:
    result = compact_transcript(CALL, keep_last_turns=4)
    caller = [line for line in result.record.splitlines() if line.startswith("- caller")]
    assert any("Tuesday" in line for line in caller)
    assert not any("Monday" in line for line in caller)


def test_a_repair_in_a_later_sentence_rewrites_the_earlier_value() -> None:
    turns = [
        {"role": "user", "text": "My order number is four four two one."},
        {"role": "user", "text": "No, sorry, four four two two."},
        *FILLER,
    ]
    result = compact_transcript(turns, keep_last_turns=2)
    assert "four four two two" in result.record
    assert "four four two one" not in result.record
    assert [str(item) for item in result.kept] == ["four four two two"]


def test_numbers_read_digit_by_digit_are_not_taken_for_stutters() -> None:
    result = compact_transcript(
        [{"role": "user", "text": "It's five five five, one one two two."}, *FILLER],
        keep_last_turns=1)
    assert "five five five, one one two two" in result.record


def test_the_agents_question_is_kept_with_the_answer_it_explains() -> None:
    result = compact_transcript(CALL[:8] + FILLER, keep_last_turns=1)
    lines = result.record.splitlines()
    answer = next(i for i, line in enumerate(lines) if "four four two one seven" in line)
    assert "account number" in lines[answer - 1] and lines[answer - 1].startswith("- agent")


def test_last_turns_are_verbatim_and_the_record_comes_first() -> None:
    result = compact_transcript(CALL, keep_last_turns=6)
    assert result.messages[0]["role"] == "system"
    assert result.messages[0]["content"] == result.record
    assert result.messages[1:] == [{"role": t["role"], "content": t["text"]}
                                   for t in CALL[-6:]]


def test_nothing_is_folded_while_the_call_is_short() -> None:
    result = compact_transcript(CALL[:3])
    assert result.record == "" and result.turns_compacted == 0
    assert [m["content"] for m in result.messages] == [t["text"] for t in CALL[:3]]
    assert result.tokens_after == result.tokens_before


def test_token_counts_use_the_tokenizer() -> None:
    result = compact_transcript(CALL)
    assert result.tokens_before == sum(count_tokens(t["text"]) for t in CALL)
    assert result.tokens_after == sum(count_tokens(m["content"]) for m in result.messages)
    assert 0 < result.reduction < 1


def test_incremental_compactor_matches_the_whole_call_and_folds_each_turn_once() -> None:
    compactor = Compactor(keep_last_turns=4)
    for index, turn in enumerate(CALL, start=1):
        compactor.add(turn["role"], turn["text"])
        assert compactor.turns_compacted == max(0, index - 4)
    incremental = compactor.result()
    assert incremental == compact_transcript(CALL, keep_last_turns=4)


def test_compaction_is_deterministic() -> None:
    assert compact_transcript(CALL) == compact_transcript(list(CALL))


def test_budget_folds_verbatim_turns_but_never_drops_a_key_item() -> None:
    loose = compact_transcript(CALL, keep_last_turns=12)
    tight = compact_transcript(CALL, keep_last_turns=12, budget_tokens=loose.tokens_after - 40)
    assert tight.tokens_after <= loose.tokens_after - 40
    assert len(tight.messages) < len(loose.messages)
    impossible = compact_transcript(CALL, keep_last_turns=12, budget_tokens=5)
    assert impossible.messages[-1]["content"] == CALL[-1]["text"]
    for item in KEY_ITEMS:
        assert flat(item) in flat(impossible.record), item


@pytest.mark.parametrize("turns", [[{"role": "system", "text": "x"}],
                                   [{"role": "user"}], [{"role": "user", "text": 3}]])
def test_bad_turns_are_refused(turns: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError):
        compact_transcript(turns)


def test_exported_from_the_package() -> None:
    assert voxmem.compact_transcript is compact_transcript
    assert voxmem.CompactedTranscript is CompactedTranscript
    assert "compact_transcript" in voxmem.__all__ and "CompactedTranscript" in voxmem.__all__


# -- the optional LLM summariser, against a local chat-completions endpoint ---------------------
class FakeEndpoint:
    """A local OpenAI-compatible endpoint answering every request with ``reply``."""

    def __init__(self) -> None:
        self.status = 200
        self.reply = ""
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append(json.loads(body))
                data = json.dumps({"choices": [{"index": 0, "message": {
                    "role": "assistant", "content": outer.reply}}]}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    server = FakeEndpoint()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


GOOD_SUMMARY = (
    "Sam of Northwind is helping Dana Kowalski (K O W A L S K I), account four four two one "
    "seven, whose internet has dropped since Sunday; bill forty five dollars and twenty "
    "cents. Dana could not do Monday: a technician is booked for Tuesday at nine a m. "
    "Confirmation to dana dot k at gmail dot com. Open: credit for the outage.")


async def test_llm_summary_is_used_when_it_keeps_every_key_item(endpoint: FakeEndpoint) -> None:
    endpoint.reply = GOOD_SUMMARY
    summariser = LLMSummariser(endpoint.base_url, "test-model")
    try:
        result = await summariser.compact(CALL, keep_last_turns=4)
    finally:
        await summariser.aclose()
    offline = compact_transcript(CALL, keep_last_turns=4)
    assert result.source == "llm" and GOOD_SUMMARY in result.record
    assert result.kept == offline.kept
    assert result.messages[1:] == offline.messages[1:]
    request = endpoint.requests[0]
    assert request["model"] == "test-model"
    # The model is told which items to keep, and sees only the part being compacted.
    assert "four four two one seven" in request["messages"][0]["content"]
    assert len(request["messages"][1]["content"].splitlines()) == offline.turns_compacted


async def test_llm_summary_that_loses_an_item_falls_back_to_the_offline_record(
        endpoint: FakeEndpoint) -> None:
    endpoint.reply = GOOD_SUMMARY.replace("four four two one seven", "ending in seven")
    summariser = LLMSummariser(endpoint.base_url, "test-model")
    try:
        result = await summariser.compact(CALL, keep_last_turns=4)
    finally:
        await summariser.aclose()
    assert result == compact_transcript(CALL, keep_last_turns=4)
    assert result.source == "offline"


async def test_llm_endpoint_failure_falls_back_to_the_offline_record(
        endpoint: FakeEndpoint) -> None:
    endpoint.status = 500
    summariser = LLMSummariser(endpoint.base_url, "test-model")
    try:
        result = await summariser.compact(CALL, keep_last_turns=4)
    finally:
        await summariser.aclose()
    assert result.source == "offline" and len(endpoint.requests) == 1


async def test_llm_is_not_asked_while_nothing_is_folded(endpoint: FakeEndpoint) -> None:
    summariser = LLMSummariser(endpoint.base_url, "test-model")
    try:
        result = await summariser.compact(CALL[:3])
    finally:
        await summariser.aclose()
    assert result.record == "" and endpoint.requests == []


@pytest.mark.parametrize(("said", "cleaned"), [
    ("I- I think the the router is broken", "I think the router is broken"),
    ("It's it's on on Main Street", "It's on Main Street"),
    ("we we'll call back", "we'll call back"),
    ("don't don't cancel it", "don't cancel it"),
    ("I I I need a refund", "I need a refund"),
    ("The the co-co-payment", "The co-payment"),
    ("four four two one, S S M I T H", "four four two one, S S M I T H"),
    ("they the theory", "they the theory"),
])
def test_stutters_are_cleaned_and_data_is_not(said: str, cleaned: str) -> None:
    assert clean_disfluencies(said) == cleaned


def test_the_stutter_shortcut_never_skips_a_stutter() -> None:
    # The shortcut only decides whether the stutter pattern runs; compared with always
    # running it, on every pairing of awkward words and separators.
    words = ["the", "The", "I", "i", "i'm", "don't", "don", "t", "four", "fourteen", "s",
             "o'the", "they", "the's", "co", "'tis", "tis", "ones", "ab1", "Café", "café"]
    seps = [" ", ", ", "-", " - ", ". ", ""]
    for first in words:
        for sep in seps:
            for second in words:
                text = f"we {first}{sep}{second} now"
                expected = _SPACES.sub(" ", _STUTTER.sub(r"\1", text)).strip(" ,;")
                assert clean_disfluencies(text) == expected, text
