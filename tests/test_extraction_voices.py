"""The eighth round's families: what callers in other voices said that the rules missed
(set M), each with phrasings of its own and the guards that keep it precise."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._extraction import extract, said
from voxmem.extraction import RuleExtractor
from voxmem.extraction._evaluate import load_labelled_set, score_case, summarize, to_transcript

DATA = Path(__file__).parent / "data"


def name_of(*turns: tuple[str, str]) -> str | None:
    found = [f.text for f in extract(*turns) if f.slot_key == "name"]
    assert len(found) <= 1, found
    return found[0] if found else None


OPENING = ("hi i need to sort out a delivery", "Of course, I can help with that.")


@pytest.mark.parametrize(("last", "reply", "name"), [
    # An introduction that closes the turn after a clause break, confirmed by the reply.
    ("brilliant, cheers, it's marguerite", "You're welcome, Marguerite.", "Name is Marguerite"),
    ("ok the side gate is open. i'm femi", "Thanks Femi.", "Name is Femi"),
    ("sweet im kofi", "Cheers Kofi.", "Name is Kofi"),
    # A name with an accent, written back with it.
    ("vale, gracias, i'm inés", "De nada, Inés.", "Name is Inés"),
    # The whole name said, the family name written back after a title.
    ("right you are. bartholomew quinn", "Thank you Mr. Quinn.", "Name is Bartholomew Quinn"),
    ("no that's everything, it's winifred ash", "Thanks Mrs. Ash.", "Name is Winifred Ash"),
])
def test_a_name_said_at_the_end_and_written_back(last: str, reply: str, name: str) -> None:
    assert name_of(OPENING, (last, reply)) == name


@pytest.mark.parametrize(("last", "reply"), [
    # Not written back: an "it's" after a comma is not an introduction on its own.
    ("thanks, it's fine", "Great."),
    ("ok, it's leaking again", "Sorry to hear that. Leaking from where?"),
    # "make sure it's X" is about the order.
    ("and make sure it's dairy free every time", "Dairy free, always."),
])
def test_not_an_introduction(last: str, reply: str) -> None:
    assert name_of(OPENING, (last, reply)) is None


def test_a_family_name_with_two_words_is_not_cut() -> None:
    assert name_of(("hi", "Name please?"),
                   ("farouk el amin", "Thanks Mr. El Amin.")) == "Name is Farouk El Amin"


def test_a_title_before_the_family_name_is_not_a_first_name() -> None:
    found = said(OPENING, ("it's mrs pike", "Thank you Mrs. Pike."))
    assert "Name is Mrs Pike" not in found


@pytest.mark.parametrize(("offer", "reply", "fact"), [
    ("Wednesday at 10?", "wednesday's good", "Appointment booked for Wednesday at 10"),
    ("Great. Pickup Friday 9am?", "yes", "Appointment booked for Pickup Friday 9am"),
    ("How about Thursday at 2 with Dr. Ray?", "go on then",
     "Appointment booked for Thursday at 2 with Dr. Ray"),
    ("Monday at 4:15 work?", "yep fine, and can you text me a reminder",
     "Appointment booked for Monday at 4:15"),
    ("Shall I book you in for Tuesday at 11?", "yes please",
     "Appointment booked for Tuesday at 11"),
    ("Shall I hold a table for Sunday lunch?", "lovely",
     "Agent promised to hold a table for Sunday lunch"),
    ("Would you like me to email you the quote?", "yes please",
     "Agent promised to email the quote"),
])
def test_an_offer_put_as_a_question_and_taken(offer: str, reply: str, fact: str) -> None:
    found = said(("hi i need to book in", offer), (reply, "Done."))
    assert fact in found, found


@pytest.mark.parametrize(("offer", "reply"), [
    # Asked to choose, not offered one thing.
    ("Monday at 10 or Tuesday at 2?", "yes"),
    ("What day suits you?", "fine"),
    ("Do you want Friday at 3?", "yes"),
    # Refused or bargained in the same clause.
    ("Wednesday at 10?", "no wednesday's no good"),
    ("Friday at 9?", "fine but later if possible"),
    ("Thursday at 2?", "can we do later"),
    # A standing order asked about again; a question about the caller.
    ("Same again this Saturday?", "yes please"),
    ("Will you be home on Friday?", "yes"),
    # A deed done in the call, not a promise.
    ("Shall I add it to your policy?", "yes please"),
])
def test_not_a_taken_offer(offer: str, reply: str) -> None:
    found = said(("hi i need to book in", offer), (reply, "Okay."), kind="commitment")
    assert found == [], found


@pytest.mark.parametrize(("turns", "fact"), [
    ([("three shirts, medium starch as usual", "Ready Thursday.")],
     "Usually has medium starch"),
    ([("a pint of the pale ale thats my usual", "Coming up.")],
     "Usually has a pint of the pale ale"),
    ([("i'd feel much more comfortable with a female physio", "Of course.")],
     "Prefers a female physio"),
    ([("i'd be happier with the earlier train if there is one", "Okay.")],
     "Prefers the earlier train"),
    ([("hi", "Any special requests for your stay?"), ("a room away from the lift", "Noted.")],
     "Note: a room away from the lift"),
    ([("hi", "How do you take your tea?"), ("milk and one sugar please", "Lovely.")],
     "Note: milk and one sugar"),
])
def test_a_wish_marked_by_its_frame(turns: list[tuple[str, str]], fact: str) -> None:
    found = said(*turns)
    assert fact in found, found


@pytest.mark.parametrize("turns", [
    # Nothing named, or an errand rather than a taste.
    [("hi yeah same as usual please", "Coming up.")],
    [("and just invoice the farm account as usual", "Will do.")],
    [("i'd be happier with that", "Okay.")],
    # No wish in the answer to an open question; a question back.
    [("hi", "Any special requests?"), ("no that's everything", "Great.")],
    [("hi", "Anything we should know?"), ("like what?", "Access needs, say.")],
])
def test_no_wish_in_the_frame(turns: list[tuple[str, str]]) -> None:
    assert said(*turns, kind="preference") == []


@pytest.mark.parametrize(("offer", "reply", "fact"), [
    ("We can come today between 2 and 4.", "fine",
     "Appointment booked for today between 2 and 4"),
    ("Our fitter can pop round Friday at 9.", "perfect thanks",
     "Appointment booked for Friday at 9"),
    ("I can do 10am with Ms. Grant this Saturday.", "sick",
     "Appointment booked for 10am with Ms. Grant this Saturday"),
])
def test_a_slot_offered_as_a_statement_and_taken(offer: str, reply: str, fact: str) -> None:
    found = said(("hi i need someone out", offer), (reply, "Great."))
    assert fact in found, found


def test_a_slot_statement_not_taken_is_not_booked() -> None:
    assert said(("hi i need someone out", "We can come Friday at 9."),
                ("no friday's no good", "Okay."), kind="commitment") == []


def test_the_caller_addressed_after_the_when_is_not_part_of_it() -> None:
    found = said(("book me in please", "Okay."), ("its jaden", "See you Saturday, Jaden."))
    assert "Appointment booked for Saturday" in found, found


@pytest.mark.parametrize(("agent", "fact"), [
    ("Done, monthly order set up, first delivery next Tuesday.",
     "Agent arranged the first delivery next Tuesday"),
    ("Installation Monday at 8.", "Agent arranged the installation Monday at 8"),
    ("Two loaves for you, ready Friday.",
     "Agent promised two loaves for the caller will be ready Friday"),
    ("Ready a week Friday.", "Agent promised it will be ready a week Friday"),
    ("The engineer arrives Thursday morning.",
     "Agent promised the engineer arrives Thursday morning"),
    ("Your new card goes out on the 12th.",
     "Agent promised the caller's new card goes out on the 12th"),
])
def test_what_the_agent_arranged_in_few_words(agent: str, fact: str) -> None:
    found = said(("hi can you sort that out for me", agent))
    assert fact in found, found


@pytest.mark.parametrize("agent", [
    # News, not something sent to the caller.
    "The sale starts Monday.",
    "The office reopens Tuesday.",
    # A question offers.
    "Delivery Friday?",
    # No when.
    "Your delivery is on its way.",
])
def test_not_arranged(agent: str) -> None:
    assert said(("hi can you sort that out for me", agent), kind="commitment") == []


def test_the_same_day_is_not_read_in_its_short_form() -> None:
    # Over before the caller rings again; the promise rules decide about "it'll be ready".
    found = said(("hi is it done", "Sorry, not yet. The courier arrives at 4 today."))
    assert not [f for f in found if "courier" in f], found


def test_an_introduction_after_any_first_word_or_a_relation() -> None:
    assert name_of(OPENING, ("brill its zainab", "Thanks Zainab.")) == "Name is Zainab"
    assert name_of(OPENING, ("thanks, i'm her son marek", "Thanks Marek.")) == "Name is Marek"


def test_an_id_with_what_it_is_for_between_type_and_value() -> None:
    found = said(OPENING, ("the reference for the last job is k l nine nine two", "KL992."))
    assert "Has reference KL992" in found, found


def test_a_booked_slot_restated_as_an_event_is_not_read_again() -> None:
    found = said(("lessons for my son please", "We have Mr. Odu at 5:30 on Tuesdays."),
                 ("that's perfect", "Great, first lesson next Tuesday at 5:30."),
                 kind="commitment")
    assert "Appointment booked for Mr. Odu at 5:30 on Tuesdays" in found, found
    assert not [f for f in found if f.startswith("Agent arranged")], found


@pytest.mark.parametrize(("turns", "address", "name"), [
    ([("my sink is leaking", "Name and address?"), ("raj. seventeen oak lane", "Thanks Raj.")],
     "Address is 17 Oak Lane", "Name is Raj"),
    ([("taxi to the airport please", "Name and pickup?"), ("hassan, eight church street", "Ok.")],
     "Address is 8 Church Street", "Name is Hassan"),
    ([("locked out, fourteen hazel close", "On our way.")], "Address is 14 Hazel Close", None),
])
def test_an_address_at_the_start_of_a_clause(turns: list[tuple[str, str]], address: str,
                                             name: str | None) -> None:
    found = said(*turns)
    assert address in found, found
    assert name_of(*turns) == name


def test_numbers_after_a_clause_break_are_not_an_address_without_a_street_word() -> None:
    assert not [f for f in said(("two large pizzas, 12 inch please", "Sure."))
                if f.startswith("Address")]


@pytest.mark.parametrize(("turns", "facts"), [
    ([("booking rex in for a week, he's a german shepherd", "Rex is booked in from Monday.")],
     ["Has a dog named Rex"]),
    ([("we just adopted two cats from the rescue, mittens and olive", "Lovely!")],
     ["Has a cat named Mittens", "Has a cat named Olive"]),
])
def test_a_pet_named_apart_from_its_kind(turns: list[tuple[str, str]], facts: list[str]) -> None:
    found = said(*turns)
    assert all(f in found for f in facts), found


@pytest.mark.parametrize("turns", [
    # Two names written back: which is the dog is not said.
    [("for rex and bonnie, she's a collie", "Rex and Bonnie, noted.")],
    # Everyday words after the pause are not names.
    [("two dogs, big and small", "Okay.")],
])
def test_not_a_pet_named_apart(turns: list[tuple[str, str]]) -> None:
    assert not [f for f in said(*turns) if f.startswith("Has a")]


@pytest.mark.parametrize(("said_text", "fact"), [
    ("my preference would be a window table", "Prefers a window table"),
    ("definitely no mushrooms", "Does not want mushrooms"),
    ("i don't like it too sweet", "Does not like it too sweet"),
    ("as little noise as possible please", "Wants as little noise as possible"),
    ("not too short on top please", "Prefers it not too short on top"),
])
def test_a_wish_in_a_frame_of_its_own(said_text: str, fact: str) -> None:
    found = said((said_text, "Okay."))
    assert fact in found, found


@pytest.mark.parametrize("said_text", [
    "not too bad thanks",
    "definitely no problem",
    "is it not too late to change?",
    "window please no actually aisle",
])
def test_not_a_framed_wish(said_text: str) -> None:
    found = said((said_text, "Okay."))
    assert not [f for f in found if f.startswith(("Prefers it not", "Does not want a"))], found


# --- quality, pinned from below (the figures in docs/extraction.md) -------------------------

@pytest.mark.parametrize(("name", "precision", "recall"), [
    # L was written and committed before any rule of this round; its misses were never read.
    ("extraction_check_l.jsonl", 0.87, 0.65),
    ("extraction_tune_m.jsonl", 0.90, 0.79),
    # K, the seventh round's check set, moved 0.758 -> 0.803 in recall this round.
    ("extraction_check_k.jsonl", 0.86, 0.80),  # 0.91 before the tenth round's dated confirmations
])
def test_quality_on_the_eighth_rounds_sets(name: str, precision: float, recall: float) -> None:
    extractor = RuleExtractor()
    cases = load_labelled_set(DATA / name)
    score = summarize([score_case(c, extractor.extract_sync(to_transcript(c))) for c in cases])
    assert score.precision >= precision
    assert score.recall >= recall
