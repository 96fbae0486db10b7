"""A value changed within the call: only the new one is kept."""

from __future__ import annotations

from tests._extraction import extract
from voxmem.extraction import ExtractedFact


def slot(facts: list[ExtractedFact], key: str) -> list[str]:
    return [f.text for f in facts if f.slot_key == key]


def test_a_new_phone_number_said_as_the_new_one() -> None:
    facts = extract(
        ("best number is four one five two two two three three four four", "Thanks."),
        ("oh wait that's the old one the new one is four one five eight eight eight "
         "nine nine zero zero", "No problem, updated."),
    )
    assert slot(facts, "phone") == ["Phone number is +14158889900"]


def test_a_plan_the_agent_moves_the_caller_to_replaces_the_old_one() -> None:
    facts = extract(
        ("we're on the family bundle at the moment", "I can see that."),
        ("it's too much honestly", "I've switched you to the Solo plan from the 1st."),
    )
    assert slot(facts, "plan") == ["Is on the Solo plan"]
    facts = extract(("i want more data", "Done, I've upgraded you to the Unlimited Max tariff."))
    assert slot(facts, "plan") == ["Is on the Unlimited Max plan"]


def test_an_offer_to_move_plans_is_not_a_change() -> None:
    facts = extract(("what else have you got", "Would you like me to move you to the Lite plan?"))
    assert slot(facts, "plan") == []


def ids(facts: list[ExtractedFact]) -> list[str]:
    return sorted(f.text for f in facts if f.kind == "identity" and f.slot_key != "name")


def test_the_agents_written_read_back_replaces_a_garbled_spoken_id() -> None:
    facts = extract(("yeah the account is seven seven one two oh nine",
                     "Thanks, I can see account 7712099 here."))
    assert ids(facts) == ["Account number is 7712099"]
    facts = extract(("its about my claim c l seven seven three zero nine one",
                     "Thanks, I have claim CL773091 open."))
    assert [i for i in ids(facts) if "773091" in i] == ["Claim number is CL773091"]


def test_a_read_back_leaves_other_numbers_alone() -> None:
    facts = extract(("my account is 55512 and the order number is 99001",
                     "Thanks, I have account 55512."))
    assert ids(facts) == ["Account number is 55512", "Order number is 99001"]


def test_no_read_back_for_a_type_the_caller_did_not_name() -> None:
    facts = extract(("hi it's me again about the thing", "I have ticket 88121 on file."))
    # Only a read-back is this confident: here the caller never spoke a ticket number.
    assert not [f for f in facts if f.confidence >= 0.85 and "88121" in f.text]
