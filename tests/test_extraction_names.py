"""Names said in lower-case speech, confirmed by the agent's written reply."""

from __future__ import annotations

import pytest

from tests._extraction import extract
from voxmem.extraction import ExtractedFact


def name_of(facts: list[ExtractedFact]) -> str | None:
    found = [f.text for f in facts if f.slot_key == "name"]
    assert len(found) <= 1, found
    return found[0] if found else None


@pytest.mark.parametrize(("turns", "name"), [
    # An introduction the agent writes back; a family name after the first name.
    ([("yo its darnell i need a trim before friday", "Hey Darnell! Friday at 4 works.")],
     "Name is Darnell"),
    ([("hiya its priya sharma i ordered a lamp", "Hi Priya, let me look that up.")],
     "Name is Priya Sharma"),
    ([("hey folks this is fred reed from up the hill", "Hi Fred, what can we do?")],
     "Name is Fred Reed"),
    # The agent writes only the family name back.
    ([("it's ingrid solberg i'm a regular", "Welcome back Ms. Solberg.")],
     "Name is Ingrid Solberg"),
    # Family name first, then the whole name.
    ([("its okafor chidi okafor", "Thank you Mr. Okafor.")], "Name is Chidi Okafor"),
    # The first name said again with the family name.
    ([("hi its nadia calling nadia brooks", "Hi Nadia, how can I help?")],
     "Name is Nadia Brooks"),
    # A bare answer that is also an everyday word, written back as a name.
    ([("hello", "Good morning, could I take your name?"),
      ("yeah will baker", "Thanks Will. What can I do for you?")], "Name is Will Baker"),
    # A one-word question for the name.
    ([("i need to change my delivery", "Sure. Name?"),
      ("rosa klein", "Thanks Rosa.")], "Name is Rosa Klein"),
    # A repair inside a bare answer.
    ([("my boiler's playing up", "I can help with that. Can I get your name?"),
      ("its uh dan no sorry its daniel frost", "Thanks Daniel.")], "Name is Daniel Frost"),
    # An interjection before a bare answer; the name starts where the agent's does.
    ([("the heating's off again", "Sorry about that. Can I take your name?"),
      ("och aye its morag mcleod", "Thanks Morag, an engineer will call you.")],
     "Name is Morag Mcleod"),
    # "myself ..." introductions (Indian English).
    ([("hello myself anand pillai calling about my bill", "Good morning Mr. Pillai.")],
     "Name is Anand Pillai"),
    # A name corrected by spelling, mid-turn, written back at the start of the reply.
    ([("i'm jon no john sorry john with an h", "John, got it.")], "Name is John"),
])
def test_names(turns: list[tuple[str, str]], name: str) -> None:
    assert name_of(extract(*turns)) == name


@pytest.mark.parametrize("turns", [
    [("its broken again", "Sorry to hear that.")],
    [("its really loud in here sorry", "No problem.")],
    [("this is the third time i called", "I'm sorry about that.")],
    [("hi im locked out of my account", "Let's get you back in.")],
])
def test_not_names(turns: list[tuple[str, str]]) -> None:
    assert name_of(extract(*turns)) is None


def test_a_relation_with_an_apostrophe_s_is_not_named_by_the_next_word() -> None:
    facts = extract(("my husband's vegetarian and my son hates mushrooms", "No problem."))
    assert not any("named" in f.text for f in facts), facts
    facts = extract(("my daughter's name is keiko", "Thanks, Keiko is added."))
    assert "Daughter is named Keiko" in {f.text for f in facts}


def test_the_pets_name_asked_as_the_dogs_name() -> None:
    facts = extract(("my kelpie's got a limp", "Oh no. What's the dog's name?"),
                    ("his names ranger", "Thanks, Ranger is booked in."))
    assert "Has a dog named Ranger" in {f.text for f in facts}


def test_a_family_name_asked_for_separately_completes_the_first_name() -> None:
    facts = extract(("hi", "What's your first name?"), ("tomasz", "And your surname?"),
                    ("kowalski", "Thanks Tomasz Kowalski."))
    assert name_of(facts) == "Name is Tomasz Kowalski"
    facts = extract(("i'm calling about a delivery", "Sure, what's the last name?"),
                    ("okonjo", "Thanks, I've found it."))
    assert name_of(facts) == "Name is Okonjo"


@pytest.mark.parametrize(("said", "fact"), [
    ("i've got a cat named biscuit and a dog named rolo", "Has a dog named Rolo"),
    ("my wee boy callum has a dentist appointment", "Son is named Callum"),
])
def test_more_people_and_pets(said: str, fact: str) -> None:
    assert fact in {f.text for f in extract((said, "Lovely."))}
