"""The seventh round's promise families, each with phrasings of its own (not set J's):
two promises in one sentence, a plan in the present tense, "she'll"/"he'll" after the
agent names the person, a collection day alone, the named person "from our team", and
an acknowledgement that names the caller before the booking. And the guards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._extraction import extract, has, said
from voxmem.extraction import RuleExtractor
from voxmem.extraction._evaluate import load_labelled_set, score_case, summarize, to_transcript

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(("agent", "words"), [
    ("Our fitter Jonas will come on Tuesday at 9, and I'll text you the invoice after.",
     ("jonas", "tuesday")),
    ("A valuer will visit on the 3rd between 10 and 2; we'll post the report within a week.",
     ("valuer", "3rd")),
])
def test_each_clause_of_a_two_promise_sentence_is_read(agent: str,
                                                       words: tuple[str, ...]) -> None:
    found = said(("thanks", agent), kind="commitment")
    assert has(found, *words), found


@pytest.mark.parametrize(("agent", "words"), [
    ("I'm arranging a technician for Thursday the 9th in the morning.",
     ("arranging", "technician", "9th")),
    ("We're sending a replacement router by Friday.", ("sending", "router", "friday")),
])
def test_a_plan_in_the_present_tense_is_a_promise(agent: str, words: tuple[str, ...]) -> None:
    found = said(("ok", agent), kind="commitment")
    assert has(found, *words), found
    assert not has(found, "I'm"), found


def test_she_will_is_the_person_the_agent_just_named() -> None:
    found = said(("ok", "Mr. Okonjo handles your file. He'll call you back by Wednesday."),
                 kind="commitment")
    assert has(found, "okonjo", "wednesday"), found


def test_he_will_with_no_one_named_is_not_guessed() -> None:
    found = said(("ok", "He'll call you back by Wednesday."), kind="commitment")
    assert not has(found, "he will"), found


def test_a_collection_day_alone_is_a_promise() -> None:
    found = said(("can you shorten the sleeves", "Of course, noted. Ready next Tuesday."),
                 kind="commitment")
    assert has(found, "ready next tuesday"), found


def test_the_named_person_from_the_team_is_kept() -> None:
    found = said(("ok", "Amir from our billing team will call you on Monday."),
                 kind="commitment")
    assert has(found, "amir", "billing", "monday"), found


@pytest.mark.parametrize("agent", [
    "Lovely, Dora, Thursday at 2:30 with Imran.",
    "Perfect, Dora, you're in with Imran Thursday at 2:30.",
])
def test_an_acknowledgement_that_names_the_caller_then_the_booking(agent: str) -> None:
    found = [f.text for f in extract(("yes", agent)) if f.slot_key == "appointment"]
    assert has(found, "thursday at 2:30"), found


@pytest.mark.parametrize("agent", [
    # the second clause is the consequence of the first, not a promise of its own
    "I'm going to cancel the order and you'll see the money back in 5 days.",
    # news, not a promise, in either clause
    "The shop will reopen on Monday, and the sale ends on the 5th.",
    # an offer stays an offer
    "If you like, I'm arranging cover for Friday.",
])
def test_guards_hold_on_split_clauses(agent: str) -> None:
    found = said(("ok", agent), kind="commitment")
    assert not has(found, "see the money"), found
    assert not has(found, "reopen"), found
    assert not has(found, "cover for friday"), found


# --- what the agent asked for by type, then wrote back --------------------------------------

@pytest.mark.parametrize(("asked", "user", "agent", "words"), [
    ("Claim number please?", "its c l seven seven uh no seven eight two one one",
     "Thanks, CL78211. Anything else?", ("claim", "CL78211")),
    ("And the order reference?", "oh oh nine four one two six", "Got it, 009412-6.",
     ("order", "009412-6")),
])
def test_a_written_read_back_of_an_asked_for_id_is_kept(asked: str, user: str, agent: str,
                                                         words: tuple[str, ...]) -> None:
    found = said(("hi im calling about my claim", asked), (user, agent))
    assert has(found, *words), found


@pytest.mark.parametrize(("asked", "user", "agent"), [
    # the agent writes a number the caller never said
    ("Ticket number?", "i don't have it sorry", "No problem, I've found it: TK55120."),
    ("Ticket number?", "its four four one", "Thanks. Your engineer visit is 09:30."),
    # no id was asked for
    ("How can I help?", "its about 4417", "Thanks, AB4417 is the part you need."),
])
def test_a_token_that_is_not_the_callers_answer_is_not_an_id(asked: str, user: str,
                                                              agent: str) -> None:
    found = said(("hi", asked), (user, agent), kind="identity")
    assert not has(found, "TK55120"), found
    assert not has(found, "09:30"), found
    assert not has(found, "AB4417"), found


def test_an_address_answer_without_a_street_word() -> None:
    found = said(("hi the boiler is out", "Address?"), ("its 7 the maltings", "Thanks."))
    assert has(found, "7 the maltings"), found


def test_a_visit_window_confirms_a_booking() -> None:
    found = [f.text for f in extract(("its ruth", "Thanks Ruth, Monday between 9 and 1."))
             if f.slot_key == "appointment"]
    assert has(found, "monday between 9 and 1"), found


# --- tastes said in the frames of an order ---------------------------------------------------

@pytest.mark.parametrize(("user", "words"), [
    ("a cappuccino with soya milk please", ("soya milk",)),
    ("can you go easy on the garlic please", ("less", "garlic")),
    ("and light on the mayo thanks", ("less", "mayo")),
    ("we always go for the corner booth", ("corner booth",)),
    ("i usually stick with the house red", ("house red",)),
    ("i'm more into thrillers these days", ("thrillers",)),
    ("i'm not really a coffee person", ("not", "coffee person")),
    ("we're more continental people to be honest", ("continental",)),
    ("could you use the fragrance free wipes ive got rather than yours", ("fragrance free",)),
    ("ideally one of the senior stylists", ("senior stylists",)),
])
def test_a_taste_in_the_frame_of_an_order_is_a_preference(user: str,
                                                          words: tuple[str, ...]) -> None:
    found = said((user, "Sure."), kind="preference")
    assert has(found, *words), found


@pytest.mark.parametrize("user", [
    "do you have soya milk",                       # a question
    "im not vegan but do you do oat milk",         # a question inside a statement
    "thin please that's how my husband likes it",  # someone else's taste
    "light on the sauce today please",             # this call only
    "i'm not a beginner",                          # a level, not a taste
    "i think we're more or less done",             # not a kind of person
])
def test_a_frame_that_is_not_the_callers_lasting_taste(user: str) -> None:
    assert said((user, "Sure."), kind="preference") == []


# --- the start of an arrangement, a booking for a pet, a note for a thing ---------------------

@pytest.mark.parametrize(("agent", "words"), [
    ("Lovely. The first collection is next Tuesday.", ("first collection", "next tuesday")),
    ("Sure, first session on the 14th at 6.", ("first session", "14th")),
])
def test_the_first_of_an_arrangement_is_a_promise(agent: str, words: tuple[str, ...]) -> None:
    assert has(said(("ok", agent), kind="commitment"), *words)


@pytest.mark.parametrize("agent", ["The first thing is the weather.",
                                   "Your first lesson is free."])
def test_a_first_with_no_when_is_not_a_promise(agent: str) -> None:
    assert said(("ok", agent), kind="commitment") == []


def test_a_booking_for_a_named_pet() -> None:
    found = [f.text for f in extract(("its omar", "Thanks Omar, Friday at 3 for Pickle."))
             if f.slot_key == "appointment"]
    assert has(found, "friday at 3", "pickle"), found


def test_a_note_for_a_thing_the_caller_asked_for() -> None:
    found = said(("could you not use the strong shampoo it stings my eyes",
                  "I'll make a note for mild shampoo."), kind="preference")
    assert has(found, "mild shampoo"), found


def test_a_note_for_a_thing_the_caller_never_said_is_not_kept() -> None:
    assert said(("thanks", "I'll make a note for mild shampoo."), kind="preference") == []


# --- names ----------------------------------------------------------------------------------

def test_and_yours_after_someone_elses_name_asks_the_callers() -> None:
    found = said(("hi its for my dad", "What's his name?"), ("its frank mills", "And yours?"),
                 ("diane mills im his daughter", "Thanks Diane."))
    assert has(found, "name is diane mills"), found
    assert not has(found, "name is frank"), found


def test_and_yours_answered_with_no_name_reads_none() -> None:
    found = said(("hi", "What's his date of birth?"), ("the third of june", "And yours?"),
                 ("the ninth of may", "Thanks."), kind="identity")
    assert found == [], found


def test_a_name_after_please_in_lower_case_when_the_agent_writes_it() -> None:
    assert has(said(("hi", "Tuesday at 2?"), ("yes please its gwen", "Thanks Gwen.")),
               "name is gwen")


def test_a_name_after_thank_you_in_lower_case_when_the_agent_writes_it() -> None:
    assert has(said(("thank you im sue by the way", "Thanks Sue.")), "name is sue")


# --- quality, pinned from below (the figures in docs/extraction.md) -------------------------

@pytest.mark.parametrize(("name", "precision", "recall"), [
    # K was written and committed before any rule of this round; its misses were never read.
    ("extraction_check_k.jsonl", 0.86, 0.74),  # 0.91 before the tenth round's dated confirmations
    ("extraction_tune_j.jsonl", 0.84, 0.79),
    # H, the sixth round's check set, moved 0.728 -> 0.744 in recall this round.
    ("extraction_check_h.jsonl", 0.85, 0.74),
])
def test_quality_on_the_seventh_rounds_sets(name: str, precision: float, recall: float) -> None:
    extractor = RuleExtractor()
    cases = load_labelled_set(DATA / name)
    score = summarize([score_case(c, extractor.extract_sync(to_transcript(c))) for c in cases])
    assert score.precision >= precision
    assert score.recall >= recall
