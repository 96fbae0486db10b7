"""Three defects of the rule extractor, each pinned by the call that showed it: a full name
spelled letter by letter, a name repaired after a hesitation, and an everyday word that is
also a car model."""

from __future__ import annotations

import pytest

from tests._extraction import extract, said


def name_of(*turns: tuple[str, str]) -> str | None:
    found = [f.text for f in extract(*turns) if f.slot_key == "name"]
    assert len(found) <= 1, found
    return found[0] if found else None


ASKED = ("hi i'm calling about my parrot", "Sure. Can I have your name please?")


@pytest.mark.parametrize(("answer", "reply"), [
    # A pause between the two spelled words.
    ("it's j o h n  s m i t h", "Thanks."),
    ("j-o-h-n  s-m-i-t-h", "Thank you."),
    # No pause; the agent writes back one of the two words.
    ("it's j o h n s m i t h", "Thanks John."),
    ("j o h n s m i t h", "Thank you Mr. Smith."),
])
def test_a_full_name_spelled_out_keeps_both_words(answer: str, reply: str) -> None:
    assert name_of(ASKED, (answer, reply)) == "Name is John Smith"


def test_a_spelled_id_still_reads_as_one() -> None:
    # The wide gap splits letters from letters only; a spelled id keeps its digits on.
    assert "Account number is ABC1234" in said(
        ("my account number is a b c  1 2 3 4", "Thanks."))


@pytest.mark.parametrize(("answer", "name"), [
    ("ana uh anna", "Name is Anna"),
    ("ana uh anna lindqvist", "Name is Anna Lindqvist"),
    ("dan um daniel hughes", "Name is Daniel Hughes"),
    ("katherine er catherine doyle", "Name is Catherine Doyle"),
])
def test_a_name_repaired_after_a_hesitation_keeps_the_repair(answer: str, name: str) -> None:
    assert name_of(ASKED, (answer, "Thanks.")) == name


def test_a_hesitation_between_two_different_words_repairs_nothing() -> None:
    # "john uh smith": two words, not one said twice.
    assert name_of(ASKED, ("john uh smith", "Thanks.")) == "Name is John Smith"


@pytest.mark.parametrize("said_text", [
    "my leaf blower won't start",
    "do you fix the leaf blower i bought from you",
    "my golf clubs got left in the cab",
    "i lost my transit card",
    "the pilot light on my boiler keeps going out",
])
def test_an_everyday_word_before_a_noun_is_not_a_car(said_text: str) -> None:
    assert not [t for t in said((said_text, "Okay.")) if t.startswith("Vehicle")]


@pytest.mark.parametrize(("said_text", "vehicle"), [
    ("i drive a nissan leaf", "Vehicle: Nissan Leaf"),
    ("my leaf is making a noise", "Vehicle: Leaf"),
    ("its a twenty nineteen leaf", "Vehicle: 2019 Leaf"),
    ("my golf needs an mot", "Vehicle: Golf"),
])
def test_the_same_words_still_name_a_car(said_text: str, vehicle: str) -> None:
    assert vehicle in said((said_text, "Okay."))
