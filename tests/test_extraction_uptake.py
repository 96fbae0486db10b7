"""Twelfth round: the agent's uptake said without a verb or by a worker, introductions in
other places, the round's precision guards, and the quality of check set T and training
set U, pinned from below."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._extraction import has, said
from voxmem.extraction import RuleExtractor
from voxmem.extraction._evaluate import load_labelled_set, score_case, summarize, to_transcript

DATA = Path(__file__).parent / "data"


# --- the agent's uptake: verbless, after an apology, by a worker ------------------------------

@pytest.mark.parametrize(("turns", "words"), [
    # A short written uptake with a marker that it lasts, and no verb.
    ([("the curry was far too hot for the little ones last time",
       "Mild for you from now on, Priya.")], ["mild"]),
    ([("the receipts keep getting lost in the post",
       "Receipts by email from now on.")], ["receipts by email"]),
    # "only" is the business's rule too: it counts where the agent says where it kept it.
    ([("the gel polish lifts after two days on me",
       "Acrylic only, Dee, I've put it on your card.")], ["acrylic"]),
    ([("honestly the own brand ones jam every time",
       "Branded filters only, noted on your account.")], ["branded filters"]),
    # An apology before the undertaking ("Sorry Sandra, ...").
    ([("the slices were so thick my dad couldn't manage them",
       "Sorry Joan, we'll slice it thinner for you from now on.")], ["thinner"]),
    ([("i'm up scaffolding all day so i never pick up",
       "Will do Craig, I'll message you from now on.")], ["message"]),
    # The business's worker as the subject, with a marker that it lasts.
    ([("the lad left sawdust all through the hall last time",
       "Our fitters will put floor protection down every time from now on.")],
     ["floor protection"]),
])
def test_the_agents_lasting_uptake_is_the_callers_preference(turns: list[tuple[str, str]],
                                                             words: list[str]) -> None:
    found = said(*turns)
    assert has(said(*turns, kind="preference"), *words), found
    assert not has(said(*turns, kind="commitment"), words[0]), found


@pytest.mark.parametrize("turns", [
    # A refusal or the business's own rule.
    [("do you open on sundays", "Weekdays only, I'm afraid.")],
    [("can i pay by card", "Cash only.")],
    # "only" with no word of keeping it.
    [("just the lounge thanks", "Lounge only, then.")],
    # What recurs is a standing order (the need rules' to read), one visit is a booking.
    [("same as before please", "Monthly deliveries from now on.")],
    [("can you come friday", "Our engineer will be there on Friday from now on.")],
    # A worker's one visit, with no marker that it lasts.
    [("the boiler's playing up again", "Our engineer will come out to you on Tuesday.")],
])
def test_what_is_no_lasting_uptake_is_not_one(turns: list[tuple[str, str]]) -> None:
    assert not [f for f in said(*turns) if f.startswith("Agent agreed")], said(*turns)


# --- precision: a one-off, someone else's wish, a complaint, an introduction ---------------------

def test_a_wish_for_this_once_is_no_lasting_preference() -> None:
    found = said(("its for a funeral just this once i need it really pressed",
                  "It'll be ready Thursday at noon."))
    assert not has(found, "pressed"), found


def test_what_the_caller_prefers_another_person_does_is_not_their_taste() -> None:
    found = said(("my son wants a motorbike but i prefer he sticks with the bus",
                  "I understand."))
    assert not has(found, "sticks"), found


def test_what_was_sent_wrongly_last_time_is_a_complaint_not_a_taste() -> None:
    found = said(("the last delivery was a mess i got almond milk instead of semi skimmed",
                  "Sorry about that."))
    assert not has(found, "almond"), found
    # The same milk asked for is a taste.
    assert has(said(("a latte with almond milk please", "Coming up.")), "almond milk")


def test_an_introduction_is_not_what_the_caller_dislikes() -> None:
    found = said(("its dimitri the delivery at seven is too early for me", "Noted, Dimitri."))
    assert not has(found, "dimitri the"), found


@pytest.mark.parametrize(("user", "words"), [
    ("so mornings are out i do the school run", ["no", "mornings"]),
    ("hi weekends are out for me i work in a shop", ["no", "weekends"]),
])
def test_a_time_ruled_out_is_when_the_caller_is_not_free(user: str, words: list[str]) -> None:
    found = said((user, "No problem."))
    assert has(found, *words), found
    assert not has(found, "hi weekends"), found


def test_out_as_a_place_rules_nothing_out() -> None:
    assert not said(("the dog got out on tuesday and again on fridays", "Oh no."))


def test_the_timetable_the_caller_asked_for_is_no_commitment() -> None:
    # Speech-to-text writes "when's" as "whens"; the answer to it is the business's hours.
    found = said(("hi whens the toddler swim on", "Tuesday and Thursday 10 to 11am."),
                 ("cheers", "Bye."))
    assert not [f for f in found if f.startswith("Agent")], found


# --- introductions: at the end of a turn, with where the caller rings from ---------------------

def test_an_introduction_closing_a_turn_after_any_word_is_read() -> None:
    found = said(("if you did saturdays id take one but never mind", "We're weekdays only."),
                 ("tuesday at nine then its wendy marsh", "Tuesday at 9, Wendy, booked."))
    assert "Name is Wendy Marsh" in found, found


def test_someone_elses_name_is_no_introduction() -> None:
    found = said(("my daughter picks it up for me usually her name's mairead",
                  "I'll add Mairead as a collector."))
    assert not has(found, "Name is Mairead"), found


@pytest.mark.parametrize(("user", "name"), [
    ("hi its gretchen at hollybank vets we need more gloves", "Name is Gretchen"),
    ("yeah its kofi here from the depot about the pallets", "Name is Kofi"),
])
def test_a_name_said_with_where_the_caller_rings_from_is_read(user: str, name: str) -> None:
    assert name in said((user, "Sure, what do you need?"))


@pytest.mark.parametrize(("user", "name"), [
    ("hi its imogen i find mornings easier", "Name is Imogen"),
    ("hiya its declan ill be out all day tomorrow", "Name is Declan"),
])
def test_a_name_opening_the_turn_before_the_callers_own_clause_is_read(user: str,
                                                                      name: str) -> None:
    assert name in said((user, "Okay."))


@pytest.mark.parametrize("user", [
    "hi its broken i think the pump went",
    "its leaking i think from the tank",
    "so its fine i suppose",
])
def test_a_state_before_the_callers_clause_is_no_name(user: str) -> None:
    found = said((user, "Okay."))
    assert not [f for f in found if f.startswith("Name is")], found


def test_the_caller_named_by_their_relation_is_not_the_person_they_ring_for() -> None:
    found = said(("its rosie and im her dad neil", "Thanks Neil, Rosie's in Monday at 9."))
    assert "Name is Neil" in found, found
    assert "Name is Rosie" not in found, found


def test_a_verb_with_from_is_no_name() -> None:
    found = said(("hi its leaking from the ceiling in the kitchen", "Oh no, we'll send someone."))
    assert not [f for f in found if f.startswith("Name is")], found


def test_a_second_word_the_agent_names_apart_is_not_the_family_name() -> None:
    found = said(("hi its becky biscuit pulls like mad on the lead",
                  "Harness only for Biscuit from now on."))
    assert "Name is Becky" in found, found
    assert not has(found, "Becky Biscuit"), found


# --- quality, pinned from below (the figures in docs/extraction.md) -------------------------

@pytest.mark.parametrize(("name", "precision", "recall"), [
    # T was written and committed before any rule of this round; only its totals and
    # recall and precision by kind were read after its first run.
    ("extraction_check_t.jsonl", 0.82, 0.69),
    # U is the round's training set (tuned on).
    ("extraction_tune_u.jsonl", 0.86, 0.76),
])
def test_quality_on_the_twelfth_rounds_sets(name: str, precision: float, recall: float) -> None:
    extractor = RuleExtractor()
    cases = load_labelled_set(DATA / name)
    score = summarize([score_case(c, extractor.extract_sync(to_transcript(c))) for c in cases])
    assert score.precision >= precision
    assert score.recall >= recall
