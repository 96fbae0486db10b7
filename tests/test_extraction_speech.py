"""The rule extractor on speech-to-text style calls: the labelled sets and each behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._extraction import extract
from voxmem.extraction import ExtractedFact, RuleExtractor, Transcript, TranscriptTurn
from voxmem.extraction._evaluate import load_labelled_set, score_case, summarize, to_transcript
from voxmem.extraction._spoken import restore_apostrophes, spoken_numbers

DATA = Path(__file__).parent / "data"
TUNE = DATA / "extraction_tune.jsonl"
HELDOUT = DATA / "extraction_heldout.jsonl"
HELDOUT_B = DATA / "extraction_heldout_b.jsonl"


def texts(facts: list[ExtractedFact]) -> list[str]:
    return [f.text for f in facts]


def slot(facts: list[ExtractedFact], key: str) -> str:
    found = [f.text for f in facts if f.slot_key == key]
    assert len(found) == 1, texts(facts)
    return found[0]


# --- the labelled sets ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [TUNE, HELDOUT, HELDOUT_B], ids=["tune", "heldout", "heldout_b"])
def test_speech_sets_are_well_formed_and_separate(path: Path) -> None:
    cases = load_labelled_set(path)
    assert len(cases) >= (100 if path == TUNE else 150)
    assert len({c["id"] for c in cases}) == len(cases)
    assert len({c["business"] for c in cases}) >= 13
    assert sum(1 for c in cases if not c["expected_facts"]) >= 10
    for case in cases:
        assert len(case["expected_facts"]) <= 5
        for turn in case["turns"]:
            # Speech-to-text style: the caller's words are lower case.
            assert turn["user_text"] == turn["user_text"].lower(), case["id"]
    for other in {TUNE, HELDOUT, HELDOUT_B} - {path}:
        assert not {c["id"] for c in cases} & {c["id"] for c in load_labelled_set(other)}


def _score(path: Path) -> tuple[float, float, int]:
    extractor = RuleExtractor()
    cases = load_labelled_set(path)
    score = summarize([score_case(c, extractor.extract_sync(to_transcript(c))) for c in cases])
    return score.precision, score.recall, score.violations


def test_quality_on_the_tuning_set() -> None:
    precision, recall, violations = _score(TUNE)
    assert violations == 0
    # 0.95 before the tenth round's dated confirmations, which read bookings this set
    # (written before issue 11 counted the agent's bookings) does not label.
    assert precision >= 0.93
    assert recall >= 0.91


@pytest.mark.parametrize("path, floor_precision, floor_recall",
                         [(HELDOUT, 0.92, 0.82), (HELDOUT_B, 0.89, 0.71)],
                         ids=["heldout", "heldout_b"])
def test_quality_on_the_held_out_sets_does_not_regress(
        path: Path, floor_precision: float, floor_recall: float) -> None:
    # Floors a little under the current figures (fourth round: A 0.938 / 0.839, B 0.912 /
    # 0.735; third round: A 0.901 / 0.806, B 0.823 / 0.658; first runs: A 0.834 / 0.672,
    # B 0.778 / 0.587). They guard against regressions; see docs/extraction.md for which
    # sets were tuned on.
    precision, recall, violations = _score(path)
    assert violations == 0
    assert precision >= floor_precision
    assert recall >= floor_recall


# --- spoken numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spoken, written",
    [
        ("my account number is double four seven one two", "my account number is 44712"),
        ("four four two zero one nine three eight", "44201938"),
        ("delivery to forty two oak lane", "delivery to 42 oak lane"),
        ("im at nine eleven birch street", "im at 911 birch street"),
        ("a twenty sixteen honda civic", "a 2016 honda civic"),
        ("the plate is seven x r t two one nine", "the plate is 7xrt219"),
        ("flat three twenty two wellington road", "flat 3 22 wellington road"),
        ("see you at eight thirty", "see you at 8:30"),
        ("oh seven seven one two three four five six seven eight", "07712345678"),
        ("the blue one please", "the blue one please"),
        ("i have two dogs", "i have two dogs"),
    ],
)
def test_spoken_numbers(spoken: str, written: str) -> None:
    assert spoken_numbers(spoken) == written


def test_apostrophes_are_restored_only_where_unambiguous() -> None:
    assert restore_apostrophes("i cant do stairs and im not home") == (
        "i can't do stairs and i'm not home")
    assert restore_apostrophes("id prefer a window") == "i'd prefer a window"
    assert restore_apostrophes("my id is 4") == "my id is 4"
    assert restore_apostrophes("were moving in june") == "we're moving in june"
    assert restore_apostrophes("we were moving") == "we were moving"


# --- names -----------------------------------------------------------------------------------


def test_a_bare_answer_to_the_name_question_is_the_name() -> None:
    facts = extract(("hi i need a cleaning", "Sure. Can I have your name please?"),
                    ("maria lopez", "Thanks Maria."))
    assert slot(facts, "name") == "Name is Maria Lopez"


def test_a_name_repair_keeps_the_corrected_name() -> None:
    facts = extract(("name is mike no sorry michael", "Michael, got it."))
    assert slot(facts, "name") == "Name is Michael"
    facts = extract(("hi its its kathy", "Hi Kathy!"), ("no sorry cathy with a c", "Got it."))
    assert slot(facts, "name") == "Name is Cathy"


@pytest.mark.parametrize("said", ["its freezing in here anyway whats my balance",
                                  "its fine i just want a towel", "its late sorry"])
def test_its_followed_by_a_word_is_not_a_name(said: str) -> None:
    assert [f for f in extract((said, "Sure.")) if f.slot_key == "name"] == []


def test_someone_elses_name_is_not_the_callers() -> None:
    facts = extract(("its my wifes car actually her name is priya", "Noted, Priya's car."))
    assert "Name is Priya" not in texts(facts)
    assert "Wife is named Priya" in texts(facts)


# --- contact details and changes in the same call ---------------------------------------------


@pytest.mark.parametrize(
    "said, address",
    [("its k dot marsh at gmail dot com", "k.marsh@gmail.com"),
     ("my email is j smith at gmail dot com", "jsmith@gmail.com"),
     ("sure its k marsh seventy at gmail dot com", "kmarsh70@gmail.com"),
     ("email is m c d o n a l d at yahoo dot com", "mcdonald@yahoo.com"),
     ("send it to anna underscore bell at outlook dot com", "anna_bell@outlook.com"),
     ("you can reach me at home or email me at dana at gmail dot com", "dana@gmail.com")],
)
def test_spoken_email_keeps_its_first_letter(said: str, address: str) -> None:
    assert slot(extract((said, "Got it.")), "email") == f"Email is {address}"


def test_the_latest_value_in_a_call_wins() -> None:
    facts = extract(("ship it to ten main street", "Ten Main Street."),
                    ("no wait i moved its eighty eight lake drive now", "Updated."))
    assert "88 Lake Drive" in slot(facts, "address")
    facts = extract(("deliver on mondays please", "Mondays."),
                    ("actually wait make it wednesdays mondays im never home", "Wednesdays."))
    assert "Wednesdays" in slot(facts, "preferred_time")


# --- people, pets, vehicles, ids ---------------------------------------------------------------


def test_people_and_pets_are_learned_by_name() -> None:
    facts = texts(extract(("i have two dogs max and ruby", "Lovely."),
                          ("my daughter karen picks up for me", "Noted.")))
    assert {"Has a dog named Max", "Has a dog named Ruby", "Daughter is named Karen"} <= set(
        facts)


@pytest.mark.parametrize("said", ["my mother is flying with me", "its my sons birthday",
                                  "my dog needs his shots", "my mothers maiden name"])
def test_words_after_a_relation_are_not_names(said: str) -> None:
    assert [f for f in extract((said, "Okay.")) if "named" in f.text] == []


def test_vehicles_and_plates() -> None:
    facts = texts(extract(("its a twenty sixteen honda civic silver", "Thanks."),
                          ("the plate is seven x r t two one nine", "Thanks.")))
    assert "Vehicle: 2016 Honda Civic" in facts
    assert "Vehicle registration is 7XRT219" in facts


def test_an_id_given_in_answer_to_the_question() -> None:
    facts = texts(extract(("", "And the account number?"),
                          ("four four two zero one nine three eight", "Thanks.")))
    assert any("44201938" in f for f in facts)


# --- what the agent booked and promised ---------------------------------------------------------


def test_an_appointment_the_agent_booked() -> None:
    facts = extract(("yeah perfect",
                     "You're booked for Tuesday May 6th at 3:30 with Dr. Chen."))
    assert slot(facts, "appointment") == (
        "Appointment booked for Tuesday May 6th at 3:30 with Dr. Chen")


def test_an_offered_slot_counts_once_the_caller_takes_it() -> None:
    offered = ("my dog bruno needs shots", "I have Monday at 10 with Dr. Singh.")
    assert "Singh" in slot(extract(offered, ("monday is good", "")), "appointment")
    assert [f for f in extract(offered, ("hmm let me check my diary", ""))
            if f.slot_key == "appointment"] == []


@pytest.mark.parametrize(
    "agent, words",
    [("A specialist will call you back on Friday.", ["specialist", "Friday"]),
     ("An adjuster will call you by Wednesday.", ["adjuster", "Wednesday"]),
     ("It'll be ready tomorrow after 2pm.", ["ready", "tomorrow"]),
     ("Ms. Okafor will call you back on Thursday afternoon.", ["Okafor", "Thursday"])],
)
def test_promises_by_someone_else(agent: str, words: list[str]) -> None:
    facts = [f for f in extract(("ok", agent)) if f.kind == "commitment"]
    assert len(facts) == 1 and all(w in facts[0].text for w in words), texts(facts)


def test_something_done_on_the_spot_is_not_a_promise() -> None:
    assert extract(("i just want a towel", "I'll send one up right away.")) == []


# --- preferences, availability, needs ------------------------------------------------------------


@pytest.mark.parametrize(
    "said, expected",
    [("great and i always want an aisle seat", "Prefers an aisle seat"),
     ("put me by the window i like to sleep", "Prefers the window"),
     ("and no onions ever please", "Does not want onions"),
     ("yeah for the meal make it vegetarian please", "Diet is vegetarian"),
     ("please text me dont call", "Prefers to be contacted by text messages"),
     ("tuesdays are best for me after three", "Prefers Tuesdays after 3"),
     ("i pick up my prescription every month on the first",
      "Regularly picks up their prescription every month on the first")],
)
def test_spoken_preferences(said: str, expected: str) -> None:
    assert expected in texts(extract((said, "Noted.")))


def test_a_question_is_not_a_preference() -> None:
    assert extract(("do you always want the aisle seat for me", "I can do that.")) == []


async def test_a_long_call_gives_the_same_facts_on_the_worker_thread() -> None:
    turns = [("my name is dana whitfield", "Thanks Dana.")] + [
        ("uh huh", "Anything else?")] * 10 + [("i always want an aisle seat", "Noted.")]
    call = Transcript("s1", "u1", [TranscriptTurn(f"t{i}", u, a, float(i))
                                   for i, (u, a) in enumerate(turns, 1)])
    extractor = RuleExtractor()
    facts = await extractor.extract(call)  # more turns than INLINE_TURNS: a worker thread
    assert facts == extractor.extract_sync(call)
    assert {"Name is Dana Whitfield", "Prefers an aisle seat"} <= set(texts(facts))
