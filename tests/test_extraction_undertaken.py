"""Eleventh round: what the agent undertakes from now on (``_rules_undertaken.py``), the
round's other families and guards, and the quality of check set R, pinned from below."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._extraction import has, said
from voxmem.extraction import RuleExtractor
from voxmem.extraction._evaluate import load_labelled_set, score_case, summarize, to_transcript

DATA = Path(__file__).parent / "data"


# --- a reason from the caller, a standing undertaking from the agent --------------------------

@pytest.mark.parametrize(("turns", "words"), [
    # A strong marker: "from now on", "on your profile", "your orders", a note that ...
    ([("the lad last week tracked mud all up the hall carpet",
       "Sorry. We'll make sure our fitters wear shoe covers in your house from now on.")],
     ["shoe covers"]),
    ([("i always end up right by the toilets on these flights",
       "I'll put a front-of-cabin preference on your profile.")], ["front-of-cabin"]),
    ([("the cardboard boxes pile up in my hall for weeks",
       "I'll switch your orders to reusable crates.")], ["reusable crates"]),
    ([("the tight waistbands dig in terribly",
       "I'll note that you need the elasticated range.")], ["elasticated"]),
    # "only" as the verb's own limit.
    ([("late afternoons i'm collecting the twins",
       "Understood, I'll only book your sessions before 2pm.")], ["before 2pm"]),
    # "always" with the caller's own word in it.
    ([("i get so anxious in a full waiting room",
       "We'll always give you the last appointment of the day when the waiting room is empty.")],
     ["last appointment"]),
])
def test_a_standing_undertaking_is_the_callers_preference(turns: list[tuple[str, str]],
                                                          words: list[str]) -> None:
    found = said(*turns)
    assert has(said(*turns, kind="preference"), *words), found
    # The same sentence is not also a promise to follow up.
    assert not has(said(*turns, kind="commitment"), words[0]), found


@pytest.mark.parametrize("turns", [
    # A business's policy, unprompted: "always" without the caller's words.
    [("hello", "We always send a text reminder the day before.")],
    # One visit: a day or a date.
    [("the tap's still dripping", "I'll make sure the plumber brings a new washer on Friday.")],
    # In-call, money, a condition, a question, news noted.
    [("is it much longer", "I'll only be a minute, I'm just checking.")],
    [("that order was late", "We'll always refund the delivery charge on your orders when late.")],
    [("i might want the blue", "If you prefer, we'll use blue from now on.")],
    [("the side gate's stuck", "Shall I note that on your file from now on?")],
    [("my son's home on friday", "I'll note that Arlo will be home on Friday.")],
])
def test_what_is_no_standing_undertaking_is_not_one(turns: list[tuple[str, str]]) -> None:
    assert not [f for f in said(*turns) if f.startswith("Agent agreed")]


def test_a_wish_read_in_the_callers_words_is_not_said_twice() -> None:
    found = said(("please just text me, i never answer calls",
                  "No problem, we'll text you from now on."))
    assert has(found, "text"), found
    assert not [f for f in found if f.startswith(("Agent agreed", "Agent promised"))], found


# --- the agent's echo of a habit -----------------------------------------------------------

def test_the_agents_as_always_echo_is_the_callers_usual() -> None:
    found = said(("hiya its marta, the oat latte and a cinnamon bun",
                  "Hi Marta! Oat latte and a cinnamon bun, as always."), kind="preference")
    assert has(found, "oat latte"), found


def test_an_as_usual_booking_is_not_a_habit_echo() -> None:
    found = said(("can i come in for my trim", "Thursday at 4 with Ben, as usual."))
    assert not [f for f in found if f.startswith("Usually has")], found


# --- a recurring need the agent's arrangement restates is one fact ----------------------------

def test_a_recurring_need_restated_by_the_agent_is_kept_once() -> None:
    found = said(("we need a skip every friday for the building site",
                  "No problem, I'll deliver a fresh skip every Friday."))
    assert len([f for f in found if "skip" in f.lower()]) == 1, found


def test_a_recurring_need_the_agent_does_not_restate_is_kept() -> None:
    found = said(("we need a skip every friday for the building site",
                  "I'll email you the permit form."))
    assert has(found, "skip", "friday"), found


# --- a wish said with its reason ---------------------------------------------------------------

@pytest.mark.parametrize(("user", "words"), [
    ("i'm a bit claustrophobic in lifts so a room on the first floor would be great",
     ["first floor"]),
    ("we work late most nights so the last delivery slot please", ["last delivery slot"]),
    ("i do nights at the depot on thursdays so that's the best day for you to come",
     ["thursdays", "best day"]),
    ("honestly the lighter the better for my wrists with these pans", ["lighter"]),
    ("just a quick wash and blow dry, same every time", ["wash and blow dry"]),
])
def test_a_wish_said_with_its_reason_is_a_preference(user: str, words: list[str]) -> None:
    found = said((user, "Sure."), kind="preference")
    assert has(found, *words), found


@pytest.mark.parametrize("user", [
    # Someone else's reason, a question, this call's urgency, a one-off.
    "my husband has a bad back so a firm mattress please",
    "i'm in a rush so can you do it quickly",
    "the sooner the better to be honest",
    "i'm out today so the side gate please",
])
def test_what_is_no_reasoned_wish_is_not_one(user: str) -> None:
    found = said((user, "Okay."))
    assert not [f for f in found if f.startswith(("Preference: ", "Prefers it"))], found


@pytest.mark.parametrize(("user", "words"), [
    ("i'm an aisle person, always have been", ["aisle"]),
    ("im team oat milk now", ["oat milk"]),
    ("i'm quite partial to the rye sourdough", ["rye sourdough"]),
    ("we swear by the unscented wipes", ["unscented wipes"]),
    ("we're really big on recycled packaging", ["recycled packaging"]),
    ("i'd take the ferry over flying any day", ["ferry"]),
])
def test_a_taste_said_as_who_the_caller_is_is_a_preference(user: str, words: list[str]
                                                           ) -> None:
    found = said((user, "Okay."), kind="preference")
    assert has(found, *words), found


# --- what is over with the call, and wishes with nothing in them --------------------------------

@pytest.mark.parametrize("agent", [
    "A mechanic will be with you within 35 minutes.",
    "Someone will be there in the next hour.",
    "Our engineer will attend within 3 hours.",
])
def test_an_arrival_within_minutes_is_not_kept(agent: str) -> None:
    assert said(("my car's broken down on the a40", agent), kind="commitment") == []


def test_a_call_back_within_the_hour_is_still_a_promise() -> None:
    found = said(("can someone call me about the quote",
                  "Our estimator will call you back within the hour."), kind="commitment")
    assert has(found, "estimator"), found


@pytest.mark.parametrize("turns", [
    # Each gave a wish on the tenth round's code.
    [("i dont mind either way whatevers cheaper",
      "Then the standard room is cheapest. Booked for the 4th.")],
    [("im a creature of habit the corner table please same as always",
      "Of course, Mr. Lee. The corner table on Saturday at 7.")],
    [("we always sit out there", "Lovely, a table outside.")],
])
def test_indifference_or_an_empty_object_is_no_wish(turns: list[tuple[str, str]]) -> None:
    found = said(*turns)
    assert not [f for f in found if f.startswith(("Preference", "Prefers", "Asks"))], found


def test_a_wish_beside_indifference_is_kept() -> None:
    found = said(("i'm not fussed about the colour but a wide fitting is a must for me",
                  "Sure."), kind=None)
    assert has(found, "wide fitting"), found


def test_one_arrangement_dated_twice_is_one_fact() -> None:
    found = said(("can someone walk him while i'm away", "Our walker Tomasz can start on the 9th."),
                 ("brilliant", "Great, Tomasz from the 9th."), kind="commitment")
    assert len([f for f in found if "9th" in f]) == 1, found
    assert has(found, "tomasz can start"), found


@pytest.mark.parametrize(("turns", "words"), [
    # Each gave two commitments on the tenth round's code.
    ([("anything early", "We open at 8, so I'll book you for 8:15 on Friday."),
      ("spot on", "See you Friday.")], ["8:15", "friday"]),
    ([("can i start lessons", "Of course. First lesson Wednesday at 5."),
      ("ok", "See you.")], ["wednesday", "5"]),
])
def test_a_booking_read_twice_from_the_same_words_is_one_fact(turns: list[tuple[str, str]],
                                                              words: list[str]) -> None:
    found = said(*turns, kind="commitment")
    assert len(found) == 1, found
    assert has(found, *words), found


def test_a_diet_is_not_also_a_need_for_its_food() -> None:
    # Gave "Diet is gluten free" and "Needs gluten-free food" on the tenth round's code.
    found = said(("everything has to be gluten free for me", "Noted, gluten free."))
    assert len([f for f in found if "gluten" in f.lower()]) == 1, found


# --- defects found on set S, each failing on the tenth round's code ---------------------------

def test_a_number_corrected_after_a_comma_keeps_the_correction() -> None:
    found = said(("my account number is four four one, no sorry four four two, nine nine one",
                  "Thanks."), kind="identity")
    assert has(found, "442"), found
    assert not has(found, "441"), found


def test_an_id_read_back_after_thanks_replaces_the_spoken_copy() -> None:
    found = said(("my member number is seven oh two, uh, three three one five",
                  "Thanks, member number 7023315."), kind="identity")
    assert has(found, "7023315"), found
    assert len(found) == 1, found


@pytest.mark.parametrize(("user", "place"), [
    ("just so you know were moving up to carlisle in the spring", "Carlisle"),
    ("we moved down to exeter last year", "Exeter"),
])
def test_a_move_with_a_particle_is_kept(user: str, place: str) -> None:
    assert has(said((user, "Thanks for letting us know.")), place), place


# --- quality, pinned from below (the figures in docs/extraction.md) -------------------------

@pytest.mark.parametrize(("name", "precision", "recall"), [
    # R was written and committed before any rule of this round; only its totals and
    # recall by kind were read after its first run. Sixteenth round: 0.660 → 0.641 with
    # the refitted fact verifier (two right commitments dropped; docs/extraction.md).
    ("extraction_check_r.jsonl", 0.83, 0.64),
    # S is the round's training set (tuned on).
    ("extraction_tune_s.jsonl", 0.85, 0.81),
])
def test_quality_on_the_eleventh_rounds_sets(name: str, precision: float, recall: float) -> None:
    extractor = RuleExtractor()
    cases = load_labelled_set(DATA / name)
    score = summarize([score_case(c, extractor.extract_sync(to_transcript(c))) for c in cases])
    assert score.precision >= precision
    assert score.recall >= recall
