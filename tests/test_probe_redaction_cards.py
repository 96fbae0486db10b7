"""Redaction leftovers of the last attacker's round: a card number cut across two turns,
written with dots, and IBANs were stored as given (both stores: the turns are saved and
exported back)."""

from __future__ import annotations

import pytest

from voxmem.engine import MemoryEngine
from voxmem.extraction.redaction import Redactor
from voxmem.extraction.sensitive import find_sensitive, redact
from voxmem.models import Caller

PAYMENT = [
    "card 4111.1111.1111.1111 please",
    "it's 3782.822463.10005, the amex",
    "my IBAN is GB82 WEST 1234 5698 7654 32 thanks",
    "iban: DE89370400440532013000",
    "send it to FR14 2004 1010 0505 0001 3M02 606",
    "pay NL91ABNA0417164300 tomorrow",
]
KEPT = [
    "version 2024.0101.1234.5679 shipped",  # Luhn-invalid: no card
    "my IBAN is GB82 WEST 1234 5698 7654 33",  # wrong check digits: no IBAN
    "pi is 3.14159265358979",
    "the server is at 10.0.0.1 and 192.168.100.200",
    "ticket AB12 3456 7890 is open",
    "order DE12 in the queue",
]


@pytest.mark.parametrize("text", PAYMENT)
def test_dotted_cards_and_ibans_are_payment_details(text: str) -> None:
    [found] = find_sensitive(text)
    assert found.category == "payment_card"
    cleaned = redact(text)
    assert "[redacted:payment_card]" in cleaned
    assert sum(c.isdigit() for c in cleaned) == 0, cleaned


@pytest.mark.parametrize("text", KEPT)
def test_what_only_looks_like_one_is_kept(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(("first", "second"), [
    ("my card is 4111 1111", "1111 1111"),
    ("the card number is 4111-1111-1111", "1111"),
    ("card number 4111 1111 1111 1111 no wait, it's 5500 0000", "0000 0004"),
])
def test_a_card_cut_across_two_turns_is_redacted_in_both(first: str, second: str) -> None:
    redactor = Redactor()
    one = redactor.turn("s1", user_text=first, assistant_text="Mm-hmm.")
    two = redactor.turn("s1", user_text=second, assistant_text="Thanks, got it.")
    assert "[redacted:payment_card]" in one.user_text, one.user_text
    assert "[redacted:payment_card]" in two.user_text, two.user_text
    assert not any(c.isdigit() for c in one.user_text + two.user_text)


def test_digits_after_a_card_that_the_agent_moved_on_from_are_kept() -> None:
    redactor = Redactor()
    redactor.turn("s1", user_text="my card is 4111 1111",
                  assistant_text="Sorry, what is your order number?")
    assert redactor.turn("s1", user_text="55123", assistant_text="Found it.").user_text == (
        "55123")


def test_a_short_number_about_a_card_is_not_a_card() -> None:
    # "the card ending 4242" is what agents read back: four digits are no card's part.
    for said in ("the card ending in 4242 is fine", "my card expires 0927",
                 "I have 2 cards"):
        assert Redactor().turn("s1", user_text=said, assistant_text="Ok.").user_text == said


async def test_none_of_them_is_stored(engine: MemoryEngine) -> None:
    scope = engine.scope(project_id="proj", agent_id="agent", user_id="caller-1")
    caller = Caller("caller-1")
    await engine.start_session(scope, caller)
    for user_text in (*PAYMENT, "ok so my card is 4111 1111", "1111 1111"):
        await engine.save_response(scope, caller, user_text=user_text,
                                   assistant_text="Go on.")
    await engine.flush(30)
    stored = " ".join(item.text for item in (await engine.store.export_caller(scope)).items)
    assert "redacted" in stored
    for digit in "0123456789":
        assert digit not in stored, stored
