"""Sixteenth round: a caller's name said in other introducing frames (``framed_intros`` in
``_rules_intros.py``), a wish the agent passes on to its staff (``_rules_undertaken.py``),
the round's defects in names, and the quality of training set X, pinned from below."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._extraction import extract
from voxmem.extraction import RuleExtractor
from voxmem.extraction._evaluate import load_labelled_set, score_case, summarize, to_transcript

DATA = Path(__file__).parent / "data"


def names(*turns: tuple[str, str]) -> list[str]:
    return [f.text for f in extract(*turns) if f.slot_key == "name"]


# --- the frames ---------------------------------------------------------------------------

@pytest.mark.parametrize(("user", "agent", "name"), [
    ("hello you're speaking with yusuf the washing machine is leaking",
     "Hi Yusuf, sorry to hear that.", "Name is Yusuf"),
    ("morning you are talking to mrs fenwick about the boiler service",
     "Morning Mrs. Fenwick.", "Name is Fenwick"),
    ("hiya you've got carys here i need a taxi for six",
     "Hi Carys, where from?", "Name is Carys"),
    ("two dozen cupcakes please put them down as rosalind",
     "Lovely Rosalind, ready Friday.", "Name is Rosalind"),
    ("just put me under okonkwo",
     "Thanks Mr. Okonkwo.", "Name is Okonkwo"),
    ("the lease is in my name, jarrah, i want to renew it",
     "Thanks Jarrah, I'll send the papers.", "Name is Jarrah"),
    ("its for me actually petronella i need a smear test",
     "Of course, Petronella.", "Name is Petronella"),
    ("hi i'm phoning up its winston about my pension",
     "Hello Winston.", "Name is Winston"),
    # the family name after the first, with either word written back
    ("good morning you're speaking with dermot kavanagh i have a query",
     "Good morning Mr. Kavanagh.", "Name is Dermot Kavanagh"),
    ("hello ingeborg larsen here about the rental",
     "Hello Ingeborg.", "Name is Ingeborg Larsen"),
])
def test_a_name_in_another_introducing_frame(user: str, agent: str, name: str) -> None:
    assert name in names((user, agent))


@pytest.mark.parametrize(("user", "agent"), [
    # nobody's name: a description, a number, a frame with no name written back
    ("hi you're speaking with a very cross customer", "I'm sorry to hear that."),
    ("you've got my number already", "Yes, I have it here."),
    ("put it down as urgent please", "Marked as urgent."),
    ("you're speaking with hamza", "How can I help?"),
    # the agent's name, not the caller's
    ("who am i speaking with", "You're speaking with Karen."),
])
def test_no_name_where_the_frame_names_nobody(user: str, agent: str) -> None:
    assert names((user, agent)) == []


# --- a wish passed on to whoever does the work ---------------------------------------------

@pytest.mark.parametrize(("user", "agent", "words"), [
    ("the gate sticks so they should come in by the garage",
     "No problem, I'll tell the crew to come in by the garage.", ["garage"]),
    ("i can't stand the smell of bleach",
     "Understood. I'll let Magda know not to use bleach at yours.", ["bleach"]),
    ("please could the groomer leave his ears long",
     "Of course, I'll remind our groomer to leave his ears long.", ["ears long"]),
    ("the caller before me said they ring the doorbell i work nights",
     "I'll ask the drivers not to ring the doorbell.", ["doorbell"]),
])
def test_a_wish_the_agent_passes_on_is_a_preference(user: str, agent: str,
                                                    words: list[str]) -> None:
    found = extract((user, agent))
    assert [f.kind for f in found] == ["preference"], found
    assert all(w in found[0].text.lower() for w in words), found


@pytest.mark.parametrize(("user", "agent"), [
    # a call back to the caller is a promise
    ("can someone ring me about the quote", "I'll ask our estimator to ring you tomorrow."),
    # one visit: a day makes it the booking's business
    ("leave it by the shed", "I'll tell the driver to leave it by the shed on Friday."),
    # news about someone else, not an instruction
    ("my daughter's coming to the party she's vegan",
     "I'll let the chef know your daughter is vegan."),
])
def test_not_a_wish_passed_on(user: str, agent: str) -> None:
    assert not any(f.text.startswith("Agent agreed") for f in extract((user, agent)))


# --- the round's defects --------------------------------------------------------------------

def test_a_role_before_the_name_is_not_a_first_name() -> None:
    # "Name is Holder Anneliese Vogt" before: the agent's "Ms. Vogt" joined every word
    # that is not an everyday word before it, the caller's role included.
    found = names(("i'm the policy holder benedikt sauer and i want to cancel",
                   "Thank you Mr. Sauer, I can help with that."))
    assert found == ["Name is Benedikt Sauer"], found


def test_a_two_word_nickname_the_agent_writes_back() -> None:
    found = [f.text for f in extract(("my mates call me little john", "Little John it is!"))
             if f.slot_key == "preferred_name"]
    assert found == ["Prefers to be called Little John"], found
    # Written back as one word only: the first word stays alone.
    found = [f.text for f in extract(("everyone calls me doc", "Sure, Doc."))
             if f.slot_key == "preferred_name"]
    assert found == ["Prefers to be called Doc"], found


# --- quality, pinned from below (the figures in docs/extraction.md) -------------------------

def test_quality_on_the_sixteenth_rounds_training_set() -> None:
    # X was written and committed before any rule of this round, run once (0.722 / 0.605)
    # and then tuned on.
    extractor = RuleExtractor()
    cases = load_labelled_set(DATA / "extraction_tune_x.jsonl")
    score = summarize([score_case(c, extractor.extract_sync(to_transcript(c))) for c in cases])
    assert score.precision >= 0.84
    assert score.recall >= 0.90

