"""The sixth round's rule families over the caller's words, each with phrasings of its own
(not set I's): standing requests in any verb, names said after thanks or ending in "-ly",
pets and people named after "his name?" or before their kind, the person a caller keeps
seeing, spoken numbers and contacts. And the quality of sets H (the check set, pinned from
below, never tuned on) and I (the training set of this round).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._extraction import has, said
from voxmem.extraction import RuleExtractor
from voxmem.extraction._evaluate import load_labelled_set, score_case, summarize, to_transcript

DATA = Path(__file__).parent / "data"


def texts(*turns: tuple[str, str], kind: str | None = None) -> list[str]:
    return said(*turns, kind=kind)


# --- standing requests in any verb -----------------------------------------------------------

@pytest.mark.parametrize(("user", "words"), [
    ("um can the invoices come addressed to my business partner from now on",
     ("asks that", "invoices come addressed")),
    ("could you always wrap the glasses in newspaper i've had breakages",
     ("wrap the glasses in newspaper",)),
    ("can you swap my mornings for afternoons going forward", ("asks to swap",)),
    ("oh and please cancel the printed catalogues", ("does not want printed catalogues",)),
])
def test_a_standing_request_in_any_verb(user: str, words: tuple[str, ...]) -> None:
    found = texts((user, "Okay."), kind="preference")
    assert has(found, *words), found


@pytest.mark.parametrize("user", [
    "can you deliver it tomorrow instead",
    "can you check if it's always this busy",
    "could you always do that",
])
def test_a_one_off_or_a_question_is_not_a_standing_request(user: str) -> None:
    assert [t for t in texts((user, "Sure.")) if t.startswith(("Asks to", "Asks that"))] == []


# --- names ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("user", "agent", "name"), [
    ("my names shelly", "Thanks Shelly.", "Shelly"),
    ("my name is emily carter", "Thanks Emily.", "Emily Carter"),
    ("lovely im rosa", "Thanks Rosa.", "Rosa"),
    ("cheers names dominik", "Thanks Dominik.", "Dominik"),
    ("perfect thank you so much its wanjiru by the way", "You're welcome, Wanjiru.", "Wanjiru"),
])
def test_a_name_said_after_thanks_or_ending_in_ly(user: str, agent: str, name: str) -> None:
    assert texts((user, agent), kind="identity") == [f"Name is {name}"]


def test_a_verb_in_ly_is_still_not_a_name() -> None:
    assert texts(("my names really long its hard to spell", "No problem."),
                 kind="identity") == []


@pytest.mark.parametrize(("question", "answer", "name"), [
    ("Name and postcode please?", "oksana petrenko", "Oksana Petrenko"),
    ("Who's the policy holder?", "thats me gareth price", "Gareth Price"),
    ("Can I grab a name for that?", "ines", "Ines"),
    ("Lovely, and who am I talking to?", "um its leon", "Leon"),
    ("May I take your name?", "of course its yuki tanaka", "Yuki Tanaka"),
    ("And your name?", "nowak tomasz nowak", "Tomasz Nowak"),
])
def test_a_bare_name_after_more_ways_of_asking(question: str, answer: str, name: str) -> None:
    assert texts(("hi", question), (answer, "Thanks."), kind="identity") == [f"Name is {name}"]


# --- people and pets ------------------------------------------------------------------------

def test_pets_named_after_their_names_are_asked_for() -> None:
    found = texts(("we need both the rabbits checked", "Of course. Their names?"),
                  ("clover and bramble", "Thanks."), kind="note")
    assert has(found, "rabbit", "Clover") and has(found, "rabbit", "Bramble")


def test_a_person_named_after_his_name_is_asked_for() -> None:
    found = texts(("i want to add my brother to the account", "Sure. His name?"),
                  ("ravi", "Thanks."), kind="note")
    assert found == ["Brother is named Ravi"]


def test_his_name_with_nobody_mentioned_names_nobody() -> None:
    assert texts(("i'm calling about the delivery", "Sure. His name?"),
                 ("no idea", "Okay."), kind="note") == []


def test_a_pet_named_before_its_kind() -> None:
    assert texts(("hi its for nutmeg my jack russell", "Hi! What's up with Nutmeg?"),
                 kind="note") == ["Has a dog named Nutmeg"]
    assert texts(("its about the lump my dog has", "Okay."), kind="note") == []


@pytest.mark.parametrize(("user", "agent", "name"), [
    ("can i keep seeing zofia for my physio", "Zofia has Monday at 5.", "Zofia"),
    ("book me with tariq nobody else does my beard right", "Tariq has 2pm.", "Tariq"),
])
def test_the_person_a_caller_keeps_seeing(user: str, agent: str, name: str) -> None:
    assert texts((user, agent), kind="preference") == [f"Prefers {name} (always asks for them)"]


# --- spoken numbers and contacts ------------------------------------------------------------

def test_a_trailing_one_joins_the_number_it_ends() -> None:
    found = texts(("hi", "Your account number?"), ("its six two two oh eight oh one", "Thanks."))
    assert has(found, "6220801")


def test_a_mobile_with_its_apostrophe_dropped() -> None:
    assert has(texts(("my mobiles oh seven seven one two three four five six seven eight",
                      "Thanks.")), "phone", "07712345678")


def test_an_email_the_agent_writes_after_asking_for_it() -> None:
    found = texts(("hi", "And an email?"),
                  ("its jo at jo bakes dot co dot uk", "Thanks, jo@jobakes.co.uk."),
                  kind="contact")
    assert found == ["Email is jo@jobakes.co.uk"]


# --- quality, pinned from below (the figures in docs/extraction.md) -------------------------

@pytest.mark.parametrize(("name", "precision", "recall"), [
    # H was written and committed before any rule of this round; its misses were never read.
    ("extraction_check_h.jsonl", 0.85, 0.70),
    ("extraction_tune_i.jsonl", 0.91, 0.81),
])
def test_quality_on_the_sixth_rounds_sets(name: str, precision: float, recall: float) -> None:
    extractor = RuleExtractor()
    cases = load_labelled_set(DATA / name)
    score = summarize([score_case(c, extractor.extract_sync(to_transcript(c))) for c in cases])
    assert score.precision >= precision
    assert score.recall >= recall


def test_a_name_that_ends_like_a_verb_when_the_name_was_asked_for() -> None:
    found = texts(("i'm booking for my grandad", "Lovely. What's his name?"),
                  ("alfred", "And yours?"), kind="note")
    assert found == ["Grandfather is named Alfred"]


def test_a_relation_with_an_age_word() -> None:
    found = texts(("can i add my eldest daughter to the plan", "Sure. Her name?"),
                  ("niamh", "Thanks."), kind="note")
    assert found == ["Daughter is named Niamh"]


def test_a_colour_and_a_maker_describe_a_vehicle() -> None:
    assert has(texts(("hi its for a silver skoda superb", "Sure.")), "Skoda Superb")


def test_a_street_named_gate_or_park() -> None:
    assert texts(("hi", "And the address?"), ("fourteen queens park", "14 Queens Park."),
                 kind="contact") == ["Address is 14 Queens Park"]


@pytest.mark.parametrize(("user", "text"), [
    ("i'd really appreciate it if you could always ring the bell twice",
     "Asks to ring the bell twice"),
    ("honestly the big tubs work better for us", "big tubs"),
    ("emails are much better for me than calls", "Prefers email"),
])
def test_wishes_put_as_a_favour_or_a_comparison(user: str, text: str) -> None:
    assert has(texts((user, "Okay."), kind="preference"), text)


def test_a_day_that_works_better_is_not_a_thing_preferred() -> None:
    assert texts(("i reckon thursdays work better", "Okay."), kind="preference") == []
