"""Redaction of everything stored: a labelled set of played-call snippets (what must go,
what must stay), tool calls, metadata, profile values and reports, on every backend."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from voxmem.engine import MemoryEngine
from voxmem.extraction import SensitivePolicy
from voxmem.extraction.redaction import Redactor, redact_value
from voxmem.models import Caller, Scope

SNIPPETS = Path(__file__).parent / "data" / "redaction_snippets.jsonl"
CARD = "4111 1111 1111 1111"


def load_snippets() -> list[dict[str, Any]]:
    with SNIPPETS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def play(snippet: dict[str, Any]) -> tuple[str, str]:
    """Redact the snippet's turns in order, as the write path does; the last turn's text."""
    redactor = Redactor()
    user = agent = ""
    for user_text, agent_text in snippet["turns"]:
        turn = redactor.turn(snippet["id"], user_text=user_text, assistant_text=agent_text)
        user, agent = turn.user_text, turn.assistant_text
    return user, agent


def test_the_labelled_set_has_both_kinds_of_case() -> None:
    snippets = load_snippets()
    assert len(snippets) >= 60
    assert sum(1 for s in snippets if s["secrets"]) >= 25
    assert sum(1 for s in snippets if not s["secrets"]) >= 25


@pytest.mark.parametrize("snippet", load_snippets(), ids=lambda s: s["id"])
def test_played_call_snippet(snippet: dict[str, Any]) -> None:
    user, agent = play(snippet)
    stored = f"{user}\n{agent}".lower()
    for secret in snippet["secrets"]:
        assert secret.lower() not in stored, (secret, user, agent)
    last_user = snippet["turns"][-1][0]
    for kept in snippet["keep"]:
        assert kept.lower() in stored, (kept, user, agent)
    if not snippet["secrets"]:
        assert user == last_user  # a must-keep case is stored word for word


def test_context_is_per_session_and_forgotten_at_the_end() -> None:
    redactor = Redactor()
    redactor.turn("a", user_text="hi", assistant_text="What's your PIN?")
    # Another session's answer is not an answer to that question.
    assert redactor.turn("b", user_text="nine three one seven",
                         assistant_text="ok").user_text == "nine three one seven"
    redactor.forget("a")
    assert redactor.turn("a", user_text="nine three one seven",
                         assistant_text="ok").user_text == "nine three one seven"


def test_an_open_question_survives_only_a_holding_reply() -> None:
    redactor = Redactor()
    redactor.turn("s", user_text="verify me", assistant_text="Can you read me the code we texted?")
    redactor.turn("s", user_text="one sec", assistant_text="Sure, take your time.")
    assert "four" not in redactor.turn("s", user_text="four four one two",
                                       assistant_text="Thanks.").user_text
    redactor.turn("s", user_text="and my order", assistant_text="Your order ships Monday.")
    assert redactor.turn("s", user_text="four four one two",
                         assistant_text="ok").user_text == "four four one two"


# --- structured values --------------------------------------------------------------------


def test_tool_calls_are_redacted_inside_json_strings_and_by_key() -> None:
    calls: list[dict[str, Any]] = [
        {"name": "charge_card", "arguments": json.dumps({"card_number": CARD, "amount": 12})},
        {"function": {"name": "verify_pin", "arguments": {"value": "4432", "account": "A77"}}},
        {"name": "lookup",
         "arguments": {"cardNumber": 4111111111111111, "note": "pass is qwerty123"}},
    ]
    out = redact_value(calls)
    text = json.dumps(out)
    for secret in ("4111", "4432", "qwerty123"):
        assert secret not in text
    assert json.loads(out[0]["arguments"])["amount"] == 12
    assert out[1]["function"]["arguments"]["account"] == "A77"  # not the PIN tool's value
    assert calls[0]["arguments"] == json.dumps({"card_number": CARD, "amount": 12})  # untouched


def test_values_under_secret_keys_go_whole_and_others_only_their_span() -> None:
    meta = {"PIN": "1234", "user-password": "hunter", "passport_no": "X1", "diagnosis": "flu",
            "notes": "call after 5, my social is 123-45-6789", "count": 3, "ok": True,
            "nested": [{"securityAnswer": "fluffy"}]}
    out = redact_value(meta)
    assert out["PIN"] == "[redacted:password_pin]"
    assert out["user-password"] == "[redacted:password_pin]"
    assert out["passport_no"] == "[redacted:government_id]"
    assert out["diagnosis"] == "[redacted:health]"
    assert out["notes"] == "call after 5, my social is [redacted:government_id]"
    assert out["count"] == 3 and out["ok"] is True
    assert out["nested"] == [{"securityAnswer": "[redacted:password_pin]"}]


def test_a_disabled_category_is_kept_in_values() -> None:
    assert redact_value({"allergies": "peanuts"}, SensitivePolicy(health=False)) == {
        "allergies": "peanuts"}


def test_profile_values_are_about_the_caller() -> None:
    redactor = Redactor()
    assert redactor.value("diabetic", field="note", about_caller=True) == "[redacted:health]"
    assert redactor.value("aisle seat", field="seat", about_caller=True) == "aisle seat"


# --- the write path, on every backend -----------------------------------------------------


def who(engine: MemoryEngine, user: str) -> Scope:
    return engine.scope(project_id="p1", agent_id="a1", user_id=user)


def _standalone(needle: bytes) -> re.Pattern[bytes]:
    # Short digit needles ("4111") also turn up inside random hex ids and timestamps
    # (a store-id file, a UUID); only an occurrence not glued to other hex digits counts.
    return re.compile(rb"(?<![0-9A-Fa-f])" + re.escape(needle) + rb"(?![0-9A-Fa-f])")


def files_containing(root: Path, needles: tuple[bytes, ...]) -> list[str]:
    patterns = [(needle, _standalone(needle)) for needle in needles]
    return [f"{path.name}: {needle!r}" for path in root.rglob("*") if path.is_file()
            for needle, pattern in patterns if pattern.search(path.read_bytes())]


def text_containing(text: str, needles: tuple[str, ...]) -> list[str]:
    return [n for n in needles if _standalone(n.encode()).search(text.encode())]


async def test_nothing_sensitive_a_caller_supplies_is_stored(engine: MemoryEngine) -> None:
    s = who(engine, "nadia")
    caller = Caller("nadia", metadata={"crm_pin": "5521"})
    await engine.start_session(s, caller, metadata={"note": "pass is qwerty123"})
    await engine.save_response(s, caller, user_text="i want a new card",
                               assistant_text="Sure, what PIN would you like?")
    await engine.save_response(
        s, caller, user_text="lets do uh nine three one seven",
        assistant_text="Done, nine three one seven is your new PIN.",
        tool_calls=[{"name": "set_pin", "arguments": json.dumps({"value": "9317"})},
                    {"name": "charge", "arguments": {"card": CARD}}],
        metadata={"stt": {"transcript": f"card {CARD}"}, "password": "bluefish42"})
    await engine.update_profile(s, "billing_note", f"card on file {CARD}")
    await engine.update_profile(s, "pet", "my dog biscuit is allergic to chicken")
    await engine.end_session(s, learn=False, report={
        "summary": "caller gave social 123-45-6789", "diagnosis": "herniated disc"})
    result = await engine.search_memory(s, "card on file", timeout_ms=5000)
    assert "4111" not in result.context_text
    assert "biscuit is allergic to chicken" in result.context_text
    await engine.flush(30)
    exported = json.dumps((await engine.store.export_caller(s)).to_wire())
    needles = (CARD, CARD.replace(" ", ""), "9317", "nine three one seven", "qwerty123",
               "bluefish42", "123-45-6789", "herniated", "5521")
    assert text_containing(exported, needles) == []
    assert "biscuit is allergic to chicken" in exported
    # What is on disk once the engine has stopped: background saves (an org index's
    # files) write a temporary file and rename it, which a walk meanwhile can miss.
    await engine.close()
    assert files_containing(Path(engine.settings.data_path),
                            tuple(n.encode() for n in needles)) == []


async def test_imported_history_is_redacted_with_its_context(engine: MemoryEngine) -> None:
    s = who(engine, "omar")
    await engine.import_history(s, Caller("omar"), [{
        "sessionId": "old1", "startedAt": engine.clock() - 3600,
        "metadata": {"cvv": "737"},
        "turns": [{"userText": "hi", "assistantText": "Can you read me the code we sent?"},
                  {"userText": "uh four eight two nine", "assistantText": "Thanks.",
                   "metadata": {"note": "my pin is 2580"}}]}])
    await engine.flush(30)
    exported = json.dumps((await engine.store.export_caller(s)).to_wire())
    # The CVV is checked as a whole JSON string: a bare "737" also turns up inside random
    # hex ids and timestamps of the export.
    for needle in ("four eight two nine", "2580", '"737"'):
        assert needle not in exported
    assert files_containing(Path(engine.settings.data_path),
                            (b"four eight two nine", b"2580")) == []


async def test_a_question_in_one_tenant_is_no_context_for_another(engine: MemoryEngine) -> None:
    asker = engine.scope(tenant_id="t1", project_id="p1", agent_id="a1", user_id="u1")
    other = engine.scope(tenant_id="t2", project_id="p1", agent_id="a1", user_id="u2")
    await engine.start_session(asker, Caller("u1"), session_id="call-1")
    await engine.start_session(other, Caller("u2"), session_id="call-1")
    await engine.save_response(asker, Caller("u1"), user_text="hi",
                               assistant_text="What PIN would you like?")
    await engine.save_response(other, Caller("u2"), user_text="its nine three one seven",
                               assistant_text="Thanks.")
    await engine.flush(30)
    assert "nine three one seven" in json.dumps((await engine.store.export_caller(other)).to_wire())
