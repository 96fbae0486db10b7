"""A value changed within the call: only the new one is kept."""

from __future__ import annotations

from voxmem.extraction import ExtractedFact, RuleExtractor, Transcript, TranscriptTurn


def extract(*turns: tuple[str, str]) -> list[ExtractedFact]:
    call = Transcript("s1", "u1", [TranscriptTurn(f"t{i}", u, a, float(i))
                                   for i, (u, a) in enumerate(turns, 1)])
    return RuleExtractor().extract_sync(call)


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
