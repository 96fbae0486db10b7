"""The eighth round's families: what callers in other voices said that the rules missed
(set M), each with phrasings of its own and the guards that keep it precise."""

from __future__ import annotations

import pytest

from tests._extraction import extract, said


def name_of(*turns: tuple[str, str]) -> str | None:
    found = [f.text for f in extract(*turns) if f.slot_key == "name"]
    assert len(found) <= 1, found
    return found[0] if found else None


OPENING = ("hi i need to sort out a delivery", "Of course, I can help with that.")


@pytest.mark.parametrize(("last", "reply", "name"), [
    # An introduction that closes the turn after a clause break, confirmed by the reply.
    ("brilliant, cheers, it's marguerite", "You're welcome, Marguerite.", "Name is Marguerite"),
    ("ok the side gate is open. i'm femi", "Thanks Femi.", "Name is Femi"),
    ("sweet im kofi", "Cheers Kofi.", "Name is Kofi"),
    # A name with an accent, written back with it.
    ("vale, gracias, i'm inés", "De nada, Inés.", "Name is Inés"),
    # The whole name said, the family name written back after a title.
    ("right you are. bartholomew quinn", "Thank you Mr. Quinn.", "Name is Bartholomew Quinn"),
    ("no that's everything, it's winifred ash", "Thanks Mrs. Ash.", "Name is Winifred Ash"),
])
def test_a_name_said_at_the_end_and_written_back(last: str, reply: str, name: str) -> None:
    assert name_of(OPENING, (last, reply)) == name


@pytest.mark.parametrize(("last", "reply"), [
    # Not written back: an "it's" after a comma is not an introduction on its own.
    ("thanks, it's fine", "Great."),
    ("ok, it's leaking again", "Sorry to hear that. Leaking from where?"),
    # "make sure it's X" is about the order.
    ("and make sure it's dairy free every time", "Dairy free, always."),
])
def test_not_an_introduction(last: str, reply: str) -> None:
    assert name_of(OPENING, (last, reply)) is None


def test_a_family_name_with_two_words_is_not_cut() -> None:
    assert name_of(("hi", "Name please?"),
                   ("farouk el amin", "Thanks Mr. El Amin.")) == "Name is Farouk El Amin"


def test_a_title_before_the_family_name_is_not_a_first_name() -> None:
    found = said(OPENING, ("it's mrs pike", "Thank you Mrs. Pike."))
    assert "Name is Mrs Pike" not in found
