"""The sixth round's rule families over the agent's words, each with phrasings of its own
(not set I's): short booking confirmations, promises in any shape, wishes the agent notes,
the family name the agent addresses the caller by, ids the agent issues or files.
And the guards that keep each family from reading news, offers or echoes.
"""

from __future__ import annotations

import pytest

from tests._extraction import extract, has, said


def texts(*turns: tuple[str, str], kind: str | None = None) -> list[str]:
    return said(*turns, kind=kind)


# --- bookings in short shapes ---------------------------------------------------------------

@pytest.mark.parametrize(("agent", "words"), [
    ("Tuesday 9:20 with Dr. Abara is booked.", ("tuesday 9:20", "abara")),
    ("Biscuit and Rolo are booked Thursday at 11 with Dr. Fenn.", ("thursday at 11", "fenn")),
    ("Great, Saturdays at 10 with Carla.", ("saturdays at 10", "carla")),
    ("So that's Monday the 4th at 3pm with Dr. Roy.", ("monday the 4th at 3pm", "roy")),
    ("I've scheduled a fitting for Friday at 4.", ("friday at 4", "fitting")),
    ("Booked, deep clean Wednesday at 8.", ("wednesday at 8", "deep clean")),
    ("You're down for Thursday at 7 with Marta.", ("thursday at 7", "marta")),
    ("Your lesson with the instructor is now Sunday at 9.", ("sunday at 9",)),
])
def test_a_short_booking_confirmation_is_an_appointment(agent: str, words: tuple[str, ...]
                                                        ) -> None:
    found = [f for f in extract(("yes please", agent)) if f.slot_key == "appointment"]
    assert len(found) == 1
    assert all(w in found[0].text.lower() for w in words), found[0].text


@pytest.mark.parametrize(("user", "agent"), [
    ("when are you open on sundays", "10 till 4 on Sundays."),
    ("when's the next free slot", "Thursday afternoon."),
    ("can you do friday at 2", "Friday at 2?"),
    # the echo of a day the caller has just asked for answers the request
    ("can we switch it to monday at 5", "Done, Monday at 5pm."),
    ("is the plumber booked for tuesday at 9", "Sorry, Tuesday at 9 is booked up."),
])
def test_what_is_not_a_booking(user: str, agent: str) -> None:
    assert [f for f in extract((user, agent)) if f.slot_key == "appointment"] == []


# --- promises in any shape ------------------------------------------------------------------

@pytest.mark.parametrize(("agent", "words"), [
    ("Kofi from accounts will sort the invoice by Thursday and email you.", ("kofi", "thursday")),
    ("I've asked Mrs. Lowe to ring you back after 3.", ("lowe", "after 3")),
    ("A surveyor is scheduled to visit on the 9th.", ("surveyor", "the 9th")),
    ("The draft lease will be in your inbox by Monday.", ("lease", "monday")),
    ("One birthday cake for Ava, ready Friday at 4.", ("cake", "friday")),
    ("Two bags of the senior food, ready to collect Thursday.", ("senior food", "thursday")),
    ("Our fitter Sam will hang the doors on the 8th, before you open.", ("sam", "the 8th")),
])
def test_a_promise_in_a_shape_the_promise_rules_miss(agent: str, words: tuple[str, ...]) -> None:
    found = texts(("ok thanks", agent), kind="commitment")
    assert has(found, *words), found


@pytest.mark.parametrize("agent", [
    "The shop will be shut on Monday for stocktaking.",
    "Prices will rise on the 1st of April.",
    "The road outside will be closed tomorrow.",
    "If you want, I'll call you on Friday.",
    "I'll put you through to billing now.",
    "You'll need to bring ID on Tuesday.",
    "That will cost 90 pounds on Saturday.",
    "It will be with you by Friday.",
])
def test_what_is_not_a_promise(agent: str) -> None:
    assert texts(("ok", agent), kind="commitment") == []


# --- wishes the agent notes -----------------------------------------------------------------

@pytest.mark.parametrize(("user", "agent", "words"), [
    ("could i have a room away from the bar please", "I've noted a room away from the bar.",
     ("away from the bar",)),
    ("please text me rather than phoning", "Of course, texts only.", ("text",)),
    ("my eyesight's going can you do bigger print on the bills",
     "I've set your bills to large print.", ("large print", "bills")),
])
def test_a_wish_the_agent_notes(user: str, agent: str, words: tuple[str, ...]) -> None:
    found = texts((user, agent), kind="preference")
    assert has(found, *words), found


def test_a_name_or_a_visit_the_agent_notes_is_not_a_wish() -> None:
    assert texts(("my neighbour maureen has a key", "I've noted Maureen has a key."),
                 kind="preference") == []
    assert texts(("we'll be in after ten tonight",
                  "I've noted a late arrival so the room is held."), kind="preference") == []


def test_texts_only_needs_the_caller_to_have_said_so() -> None:
    assert texts(("hi i'm calling about my bill", "Sure, texts only."),
                 kind="preference") == []


# --- the family name the agent addresses the caller by -----------------------------------------

def test_the_agent_greets_the_caller_by_family_name() -> None:
    found = texts(("hi just checking on my order", "Hello Mrs. Achebe, it's on its way."),
                  kind="identity")
    assert found == ["Name is Achebe"]


def test_a_confirmed_title_question_names_the_caller() -> None:
    found = texts(("hi its about the boiler", "Am I speaking with Mr. Lindgren?"),
                  ("yeah speaking", "Great, what's the problem?"), kind="identity")
    assert found == ["Name is Lindgren"]


def test_the_family_name_completes_a_first_name_and_keeps_a_full_one() -> None:
    assert texts(("hiya its petra", "Hi Petra."), ("about the quote", "Of course, Ms. Novak."),
                 kind="identity") == ["Name is Petra Novak"]
    assert texts(("my name is anna maria lopez", "Thanks, Ms. Lopez."),
                 kind="identity") == ["Name is Anna Maria Lopez"]


def test_someone_else_with_a_title_is_not_the_caller() -> None:
    assert texts(("can i see the dentist", "Dr. Okoye has Friday free."),
                 kind="identity") == []
    assert texts(("is the tutor free", "Mr. Grant will teach her on Monday."),
                 kind="identity") == []
    assert texts(("hi", "Is this Mr. Walsh?"), ("no its his son", "Oh, sorry."),
                 kind="identity") == []


# --- ids the agent issues or files, and plates asked for -------------------------------------

def test_a_reference_the_agent_issues() -> None:
    found = texts(("book me in please", "All done, your booking reference is QP7781."),
                  kind="identity")
    assert has(found, "QP7781")


def test_an_id_the_agent_files_to_a_policy() -> None:
    found = texts(("add my new car please", "I've added it to policy HX90213."),
                  kind="identity")
    assert has(found, "HX90213")


def test_a_plate_and_a_staff_number_asked_for() -> None:
    assert has(texts(("hi", "Vehicle registration?"), ("its k m two two b x y", "Thanks.")),
               "KM22BXY")
    assert has(texts(("hi", "And your employee ID?"), ("e seven seven one nine", "Thanks.")),
               "E7719")
    assert not has(texts(("hi", "Vehicle registration?"), ("its twelve", "Thanks.")), "12")


def test_booked_with_who_and_when() -> None:
    found = [f.text for f in extract(("yes", "Booked, Noor with Dr. Vance on Friday at 9:10."))
             if f.slot_key == "appointment"]
    assert len(found) == 1 and "friday at 9:10" in found[0].lower() and "vance" in found[0].lower()
