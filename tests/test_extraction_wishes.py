"""The person a caller always books with, a diet said as a wish, who a booking is with."""

from __future__ import annotations

import pytest

from tests._extraction import extract
from voxmem.extraction import ExtractedFact


def texts(facts: list[ExtractedFact]) -> set[str]:
    return {f.text for f in facts}


@pytest.mark.parametrize(("turns", "who"), [
    ([("can i get in with marco for a beard trim i always see him", "Marco's free at 3.")],
     "Marco"),
    ([("is dev in on saturday i only go to him", "Dev has Saturday at 11.")], "Dev"),
    ([("is there space with priyanka on thursday we only book with her",
       "Priyanka can do Thursday at 11.")], "Priyanka"),
])
def test_the_person_they_always_book_with_named_earlier(
        turns: list[tuple[str, str]], who: str) -> None:
    assert f"Prefers {who} (always asks for them)" in texts(extract(*turns))


def test_a_pronoun_with_nobody_named_says_nothing() -> None:
    facts = extract(("i always see her on tuesdays", "Okay."))
    assert not [f for f in facts if "always asks" in f.text]


@pytest.mark.parametrize(("said", "diet"), [
    ("yeah and uh vegan meals please always vegan", "Diet is vegan"),
    ("always vegetarian options for me", "Diet is vegetarian"),
    ("only halal please", "Diet is halal"),
])
def test_a_diet_said_as_a_wish_fills_the_diet_slot(said: str, diet: str) -> None:
    facts = extract((said, "Noted."))
    assert [f.text for f in facts if f.slot_key == "diet"] == [diet]


def test_a_booking_keeps_who_it_is_with_when_said_in_another_sentence() -> None:
    facts = extract(("i need someone to look at my knee",
                     "I can book you with Dr. Osei. You're booked Friday June 3rd at 9:15."))
    assert "Appointment booked for Friday June 3rd at 9:15 with Dr. Osei" in texts(facts)


def test_booked_with_a_person_first_reads_in_order() -> None:
    facts = extract(("yes please", "Booked with Tomasz for Wednesday at 4pm."))
    assert "Appointment booked for Wednesday at 4pm with Tomasz" in texts(facts)


@pytest.mark.parametrize(("said", "fact"), [
    ("i'd love a table by the window if you have one", "Prefers a table by the window"),
    ("my preference would be paper statements", "Prefers paper statements"),
    ("honestly the less packaging the better", "Prefers less packaging"),
    ("the earliest slot suits me best", "Prefers the earliest slot"),
    ("i don't do spicy", "Does not want spicy"),
    ("leave out the onions please", "Does not want onions"),
    ("if possible i want a female doctor", "Prefers a female doctor"),
    ("every time i order i want extra sauce", "Prefers extra sauce"),
    ("please use the side entrance when you come", "Asks to use the side entrance"),
])
def test_everyday_frames_of_a_wish(said: str, fact: str) -> None:
    assert fact in texts(extract((said, "Sure.")))


@pytest.mark.parametrize("said", [
    "i want a refund",                      # a request about this call
    "i want to cancel my order",
    "i'd love to know where my parcel is",
    "can you leave out the onions?",        # a question
    "i don't do that",
])
def test_not_a_standing_wish(said: str) -> None:
    assert not [f for f in extract((said, "Sure.")) if f.kind == "preference"]
