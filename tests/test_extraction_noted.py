"""Wishes the agent confirms it keeps ("Back porch, noted.", "added to your profile")."""

from __future__ import annotations

import pytest

from tests._extraction import extract


@pytest.mark.parametrize(("turns", "word", "kind"), [
    ([("the smell of bleach gets to me so something else if you can manage",
       "Understood, I've added a note to use eco cleaners instead of bleach.")],
     "bleach", "preference"),
    ([("put me down for the quiet carriage whenever you book",
       "I've saved the quiet carriage to your travel preferences.")], "quiet carriage",
     "preference"),
    ([("ugh cucumber no thank you not ever", "Got it, no cucumber on any of your orders.")],
     "cucumber", "preference"),
    ([("round the side by the bins is easiest for the driver",
       "Side gate by the bins, noted.")], "bins", "preference"),
    ([("your guys cant bring the van up the lane its too narrow",
       "Small van only, noted.")], "small van", "constraint"),
])
def test_a_kept_wish(turns: list[tuple[str, str]], word: str, kind: str) -> None:
    facts = extract(*turns)
    found = [f for f in facts if word in f.text.lower()]
    assert len(found) == 1, facts
    assert found[0].kind == kind


def test_a_contact_preference_set_by_the_agent() -> None:
    facts = extract(("only post please i'm not online much",
                     "No problem, I've set your contact preference to post."))
    assert [f.text for f in facts if f.slot_key == "preferred_contact_method"] == [
        "Prefers letters by post"]


@pytest.mark.parametrize("turns", [
    # An offer is not a confirmation.
    [("yeah", "Would you like me to add a window seat to your profile?")],
    # Money and documents on the account are not wishes.
    [("just checking my balance", "I've added a courtesy credit to your account.")],
    [("hi there", "I've added a note to your file.")],
    # A one-off time echoed back.
    [("tuesday at three", "Tuesday at 3, noted.")],
    # The agent's words with nothing the caller said in them.
    [("can you help with my order", "Express shipping is on your profile now.")],
    # Names echoed back.
    [("we've got two hamsters biscuit and crumb", "Biscuit and Crumb, noted!")],
])
def test_no_wish(turns: list[tuple[str, str]]) -> None:
    facts = extract(*turns)
    assert not [f for f in facts if f.kind in ("preference", "constraint")], facts


@pytest.mark.parametrize(("turns", "words"), [
    ([("could you keep a sourdough aside for me on fridays", "Of course, one sourdough "
                                                           "kept aside every Friday.")],
     ("sourdough", "friday")),
    ([("every fortnight i want the big box of kibble", "Fortnightly kibble, all set up.")],
     ("kibble",)),
    ([("make it once a month instead please", "Done, monthly deliveries from now on.")],
     ("monthly deliveries",)),
])
def test_a_standing_order_the_agent_restates(turns: list[tuple[str, str]],
                                             words: tuple[str, ...]) -> None:
    needs = [f.text.lower() for f in extract(*turns) if f.kind == "need"]
    assert len(needs) == 1 and all(w in needs[0] for w in words), needs


@pytest.mark.parametrize("turns", [
    # The caller's words were redacted (a medicine); the echo must not restate them.
    [("i need my lisinopril refilled every month", "Sure, monthly refills from now on.")],
    # Talk about the agent's own schedule.
    [("when are you open", "We're open every day from 9.")],
    [("ok", "See you every Tuesday then!")],
])
def test_no_standing_order(turns: list[tuple[str, str]]) -> None:
    assert not [f for f in extract(*turns) if f.kind == "need"]
