"""Thirteenth round: wishes the caller marks as firm (``_rules_firm.py``), verbless
bookings, the round's defects, and the quality of check set V and training set W, pinned
from below."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._extraction import call_of, has, said
from voxmem.extraction import RuleExtractor
from voxmem.extraction._evaluate import load_labelled_set, score_case, summarize, to_transcript

DATA = Path(__file__).parent / "data"


# --- frames of a firm wish ----------------------------------------------------------------

@pytest.mark.parametrize(("user", "words"), [
    # a necessity
    ("i'm really fussy about frames honestly its got to be tortoiseshell", ["tortoiseshell"]),
    # a refusal
    ("the almond ones are a no go", ["no", "almond"]),
    ("please not the slim fit i hate how tight they feel", ["not", "slim fit"]),
    ("dont swap the saddle whatever you do", ["never", "saddle"]),
    ("anything but the ground floor i don't sleep well", ["not", "ground floor"]),
    ("i'm trying to avoid anything with pork in it", ["avoids", "pork"]),
    ("the deep tissue stuff really doesnt agree with me", ["not", "deep tissue"]),
    ("i can't be doing with the loud music", ["not", "loud music"]),
    # fussiness, and what suits the caller
    ("i'm very particular about my mince i only have it from the chuck steak",
     ["mince", "chuck steak"]),
    ("last thing in the day is better for me theres less people", ["last thing"]),
    ("pastels are so my thing", ["pastels"]),
    ("suv would be my pick always i have bad knees", ["suv"]),
    ("the daily ones are the only ones that dont irritate my eyes", ["daily"]),
    ("i'd sooner you came in the afternoon the mornings are a nightmare", ["afternoon"]),
    ("keep me away from the kitchen end", ["kitchen end"]),
    # the caller's usual
    ("i'll grab my usual oat flat white", ["usually", "oat flat white"]),
    ("full groom teddy bear cut same as always", ["usually", "teddy bear cut"]),
])
def test_a_firm_wish_is_the_callers_preference(user: str, words: list[str]) -> None:
    found = said((user, "Okay."), kind="preference")
    assert has(found, *words), found


def test_the_way_to_reach_the_caller_fills_the_contact_slot() -> None:
    facts = [f for f in RuleExtractor().extract_sync(call_of(
        ("i never answer unknown numbers so a text is the way to get hold of me", "Okay.")))
        if f.slot_key == "preferred_contact_method"]
    assert [f.text for f in facts] == ["Prefers to be contacted by text messages"]


def test_the_go_to_person_is_the_one_the_agent_names() -> None:
    found = said(("hiya its keisha is bree in on thursday shes my go to",
                  "Bree's in Thursday from 12, Keisha."))
    assert has(found, "Prefers Bree"), found


@pytest.mark.parametrize("user", [
    # a question, a one-off, this call's business, another person's taste
    ("has it got to be cash"),
    ("it has to be done by friday"),
    ("the lid's got to be fixed today"),
    ("flowers for my mum for her birthday anything but roses shes never liked roses"),
    ("i just want an extra towel"),
    ("cheers and ill have the usual ham salad for the lads friday"),
    ("can i get the usual the turkey on rye"),
    ("that is my thing"),
])
def test_what_is_no_firm_wish_is_not_read_as_one(user: str) -> None:
    found = said((user, "Okay."), kind="preference")
    assert not found, found


# --- bookings said without a verb --------------------------------------------------------

@pytest.mark.parametrize(("agent", "words"), [
    ("Engineer booked for Tuesday between 8 and 1.", ["tuesday between 8 and 1"]),
    ("Table for four booked for Friday at 8.", ["friday at 8"]),
])
def test_what_is_booked_then_its_day_is_a_booking(agent: str, words: list[str]) -> None:
    found = said(("yes that works", agent), kind="commitment")
    assert has(found, *words), found


@pytest.mark.parametrize("agent", [
    "Refund booked for Monday.",
    "Your installation is scheduled for the 22nd between 8 and 1.",  # read by another rule
])
def test_money_or_a_stated_schedule_is_not_read_as_a_verbless_booking(agent: str) -> None:
    found = said(("ok", agent), kind="commitment")
    assert not has(found, "Appointment booked"), found


# --- the round's defects, each failing on the twelfth round's rules ----------------------

def test_the_callers_own_name_is_not_the_person_they_always_ask_for() -> None:
    found = said(("hiya its keisha um is bree in on thursday i dont let anyone else touch "
                  "my hair", "Bree's in Thursday from 12, Keisha."))
    assert not has(found, "Prefers Keisha"), found
    assert "Name is Keisha" in found, found


def test_a_pets_name_asked_for_is_not_the_callers_name() -> None:
    found = said(("hiya its kirsty we're away from the 10th so i need someone for the cat",
                  "Hi Kirsty. What's the cat's name?"),
                 ("its noodle and she only eats the pouches", "Pouches only for Noodle."))
    assert "Name is Kirsty" in found, found
    assert not has(found, "Name is Noodle"), found


def test_with_me_is_not_the_person_the_caller_books_with() -> None:
    found = said(("the eighth is fine and i'd prefer if my daughter caroline came with me "
                  "she's my executor", "Of course, Caroline is welcome."))
    assert not has(found, "Prefers Me"), found


def test_a_booking_said_as_what_then_when_is_kept() -> None:
    found = said(("yeah hi the wifi keeps dropping",
                  "I'll send an engineer. Is Tuesday between 8 and 1 okay?"),
                 ("yeah that works", "Engineer booked for Tuesday between 8 and 1."))
    assert has(found, "Tuesday between 8 and 1"), found


# --- quality, pinned from below (the figures in docs/extraction.md) -------------------------

@pytest.mark.parametrize(("name", "precision", "recall"), [
    # V was written and committed before any rule of this round; only its totals and
    # recall and precision by kind were read after its first run.
    ("extraction_check_v.jsonl", 0.80, 0.68),
    # W is the round's training set (tuned on).
    ("extraction_tune_w.jsonl", 0.85, 0.81),
])
def test_quality_on_the_thirteenth_rounds_sets(name: str, precision: float,
                                               recall: float) -> None:
    extractor = RuleExtractor()
    cases = load_labelled_set(DATA / name)
    score = summarize([score_case(c, extractor.extract_sync(to_transcript(c))) for c in cases])
    assert score.precision >= precision
    assert score.recall >= recall
