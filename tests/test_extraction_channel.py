"""Seventeenth round: a way of being reached that the agent takes up as a promise
(``_rules_channel.py``), the notice of a booking the call already holds (``_notices.py``),
pets and children named as a pair at the end of a sentence (``_rules_pets.py``), and the
quality of training set Y, pinned from below."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._extraction import extract, has, said
from voxmem.extraction import RuleExtractor
from voxmem.extraction._evaluate import load_labelled_set, score_case, summarize, to_transcript

DATA = Path(__file__).parent / "data"


# --- the caller's channel, taken up by the agent ------------------------------------------

@pytest.mark.parametrize(("user", "agent", "channel"), [
    ("i'm hopeless at answering calls during the day a text suits me far better",
     "Of course, we'll text you any changes to your bookings.", "text"),
    ("honestly the post takes forever out here so e-mail is the only thing that works",
     "Understood, I'll send your statements by email.", "email"),
    ("reception is terrible in the village so ring the landline it's the one i answer",
     "No problem, we'll use the landline.", "landline"),
    ("i'm never at my desk whatsapp is the best way to catch me",
     "Sure thing, I'll message you on WhatsApp with updates.", "whatsapp"),
])
def test_a_channel_the_agent_takes_up_is_the_callers_preference(user: str, agent: str,
                                                               channel: str) -> None:
    facts = extract((user, agent))
    prefs = [f.text for f in facts if f.kind == "preference"]
    assert has(prefs, channel), facts
    assert not [f for f in facts if f.kind == "commitment"], facts


def test_a_dated_follow_up_by_that_channel_stays_a_commitment() -> None:
    facts = extract(("email is far better for me i'm out on site all day",
                     "Got it, I'll email you the signed contract by Thursday."))
    assert has([f.text for f in facts if f.kind == "commitment"], "contract", "thursday")
    assert has([f.text for f in facts if f.kind == "preference"], "email")


@pytest.mark.parametrize(("user", "agent"), [
    # someone else is the one reached
    ("it's a surprise for my husband so please only text him not me",
     "Of course, we'll text him when the watch is ready."),
    # one message asked for, not a standing way to be reached
    ("can you text me when the part arrives", "Sure, I'll text you when it's in."),
    # on a condition
    ("texting is better for me", "If anything changes, we'll text you."),
])
def test_no_channel_preference_from_the_agents_answer(user: str, agent: str) -> None:
    prefs = said((user, agent), kind="preference")
    assert not [p for p in prefs if "contacted" in p], prefs


# --- a notice of a booking the call holds -------------------------------------------------

def test_the_notice_of_a_booking_in_the_same_call_is_not_a_second_commitment() -> None:
    commitments = said(
        ("the dishwasher's broken again", "Sorry about that. Our engineer can come Tuesday "
                                          "between 8 and 12."),
        ("tuesday's fine", "Booked for Tuesday between 8 and 12. I'll email you a "
                           "confirmation with the engineer's name."),
        kind="commitment")
    assert has(commitments, "tuesday"), commitments
    assert not has(commitments, "confirmation"), commitments


def test_a_notice_alone_in_the_call_is_kept() -> None:
    commitments = said(("i paid twice for my parking permit",
                        "I've refunded the second payment. I'll email you the refund "
                        "confirmation."), kind="commitment")
    assert has(commitments, "refund confirmation"), commitments


# --- pets and children named as a pair -----------------------------------------------------

@pytest.mark.parametrize(("user", "agent", "who"), [
    ("hi we'd like to book the dogs in for a wash biscuit and crumble",
     "Of course, when would suit?", ("dog", "Biscuit", "Crumble")),
    ("it's for the rabbits while we're away they're called clover and thistle",
     "Lovely, we can take them.", ("rabbit", "Clover", "Thistle")),
    ("my boys need new school shoes oskar and emil", "Sure, when can you come in?",
     ("son", "Oskar", "Emil")),
])
def test_a_pair_named_at_the_end_of_the_sentence(user: str, agent: str,
                                                 who: tuple[str, str, str]) -> None:
    notes = said((user, agent))
    kind, first, second = who
    assert has(notes, kind, first) and has(notes, kind, second), notes
    assert any("named" in n for n in notes), notes


@pytest.mark.parametrize(("user", "agent"), [
    ("the cats need their food and water", "Sure, we'll see to that."),
    ("my kids love fish and chips", "Who doesn't!"),
])
def test_not_a_pair_of_names(user: str, agent: str) -> None:
    notes = said((user, agent))
    assert not [n for n in notes if "named" in n], notes


# --- a wish the agent writes into the booking --------------------------------------------

def test_a_wish_the_booking_repeats_is_the_callers_preference() -> None:
    prefs = said(("a cut and blow dry on saturday and if possible with anneka shes brilliant",
                  "You're booked with Anneka on Saturday at 10."), kind="preference")
    assert has(prefs, "anneka"), prefs


@pytest.mark.parametrize(("user", "agent"), [
    # just this once, and someone else's wish
    ("just this once could i have the corner table we love",
     "I've put you at the corner table for Friday at 7."),
    ("my husband always wants the corner table", "Corner table booked for Friday at 7."),
])
def test_no_wish_from_the_booking(user: str, agent: str) -> None:
    prefs = said((user, agent), kind="preference")
    assert not has(prefs, "corner"), prefs


# --- quality, pinned from below (the figures in docs/extraction.md) -------------------------

def test_quality_on_the_seventeenth_rounds_training_set() -> None:
    # Y was written and committed before any rule of this round, run once (0.615 / 0.640)
    # and then tuned on.
    extractor = RuleExtractor()
    cases = load_labelled_set(DATA / "extraction_tune_y.jsonl")
    score = summarize([score_case(c, extractor.extract_sync(to_transcript(c))) for c in cases])
    assert score.precision >= 0.80
    assert score.recall >= 0.84
