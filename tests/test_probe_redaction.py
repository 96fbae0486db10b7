"""Redaction bypasses found by probing: card numbers, PINs and SSNs written with
full-width digits, split by zero-width characters, read in pairs or compounds, or cut
across two turns were stored as they were (both stores: the turns are saved and
exported back)."""

from __future__ import annotations

import pytest

from voxmem.engine import MemoryEngine
from voxmem.extraction.sensitive import find_sensitive, redact
from voxmem.models import Caller

BYPASSES = [
    ("card ４１１１ １１１１ １１１１ １１１１ please", "payment_card"),
    ("card 4111\u200b1111\u200b1111\u200b1111 please", "payment_card"),
    ("card 4111\u00ad1111\ufeff1111\u20601111 please", "payment_card"),
    ("my pin is ９８７６", "password_pin"),
    ("my ssn is １２３-４５-６７８９", "government_id"),
    ("the long number on my card is forty-one eleven eleven eleven eleven eleven eleven "
     "eleven", "payment_card"),
    ("card four thousand one hundred eleven, eleven eleven, eleven eleven, eleven eleven",
     "payment_card"),
    ("my social security number is one two three, four five, six seven eight nine",
     "government_id"),
    ("my social is one twenty-three, forty-five, sixty-seven eighty-nine", "government_id"),
]


@pytest.mark.parametrize(("text", "category"), BYPASSES)
def test_the_detector_sees_through_the_spelling(text: str, category: str) -> None:
    [found] = find_sensitive(text)
    assert found.category == category
    assert f"[redacted:{category}]" in redact(text)
    assert not any(c.isdigit() for c in redact(text))
    assert "eleven" not in redact(text) and "forty" not in redact(text)


def test_ascii_text_is_unchanged() -> None:
    assert redact("order 12345 arrives Tuesday") == "order 12345 arrives Tuesday"
    for said in ("I was born in nineteen eighty-four and have twenty two dogs",
                 "call me at five one oh, five five five, oh one hundred",
                 "we have three thousand two hundred customers in twelve stores",
                 "my driving test is on the twenty first at eleven thirty"):
        assert redact(said) == said
    assert redact("café № ５ is lovely") == "café № ５ is lovely"  # a digit alone: no secret


async def test_nothing_of_them_is_stored(engine: MemoryEngine) -> None:
    scope = engine.scope(project_id="proj", agent_id="agent", user_id="caller-1")
    for text, _category in BYPASSES:
        await engine.save_response(scope, Caller("caller-1"), user_text=text,
                                   assistant_text="Thank you.")
    await engine.flush(30)
    stored = " ".join(item.text for item in (await engine.store.export_caller(scope)).items)
    assert "redacted" in stored
    for digit in "0123456789０１２３４５６７８９":
        assert digit not in stored, stored
    for word in ("eleven", "forty", "sixty", "seven eight nine"):
        assert word not in stored, stored


async def test_a_secret_split_across_two_turns_is_not_stored(engine: MemoryEngine) -> None:
    """Speech-to-text cut "my pin is ... 4432" into two turns: neither alone said it."""
    scope = engine.scope(project_id="proj", agent_id="agent", user_id="caller-2")
    caller = Caller("caller-2")
    await engine.start_session(scope, caller)
    for user_text, assistant_text in [("okay and my pin is", "Mm-hmm."),
                                      ("4432", "Thanks."),
                                      ("and my social is uh", "Go ahead."),
                                      ("one two three four five six seven eight nine", "Ok."),
                                      ("my pin is", "Sorry, what is your order number?"),
                                      ("55123", "Found it.")]:
        await engine.save_response(scope, caller, user_text=user_text,
                                   assistant_text=assistant_text)
    await engine.flush(30)
    stored = " ".join(item.text for item in (await engine.store.export_caller(scope)).items)
    assert "4432" not in stored and "seven eight nine" not in stored, stored
    assert "55123" in stored, "an answer to another question is kept"
