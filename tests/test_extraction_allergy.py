"""A caller's declared allergy is a safety constraint: kept as a fact, redacted in transcripts."""

from __future__ import annotations

import pytest

from voxmem.extraction import (
    ExtractedFact,
    RuleExtractor,
    SensitivePolicy,
    Transcript,
    TranscriptTurn,
    redact,
)
from voxmem.extraction._select import Candidate, select_facts
from voxmem.extraction.redaction import redact_turn_text


def extract(*turns: tuple[str, str], policy: SensitivePolicy | None = None
            ) -> list[ExtractedFact]:
    call = Transcript("s1", "u1", [TranscriptTurn(f"t{i}", u, a, float(i))
                                   for i, (u, a) in enumerate(turns, 1)])
    return RuleExtractor(policy=policy or SensitivePolicy()).extract_sync(call)


def allergies(facts: list[ExtractedFact]) -> list[str]:
    return [f.text for f in facts if "allerg" in f.text.lower()]


@pytest.mark.parametrize(("said", "fact"), [
    ("yes im allergic to penicillin", "Allergic to penicillin"),
    ("um so i'm really allergic to latex so the nurse should use other gloves",
     "Allergic to latex"),
    ("we're allergic to sesame, both of us", "Allergic to sesame"),
    ("i have a peanut allergy by the way", "Has a peanut allergy"),
    ("oh and i am severely allergic to bee stings", "Allergic to bee stings"),
])
def test_the_callers_own_allergy_becomes_a_constraint(said: str, fact: str) -> None:
    facts = extract((said, "Noted, thank you."))
    assert allergies(facts) == [fact]
    assert next(f for f in facts if f.text == fact).kind == "constraint"


def test_the_transcript_is_still_redacted() -> None:
    user, _, _ = redact_turn_text("yes im allergic to penicillin", "Noted.", asked=None)
    assert "penicillin" not in user
    assert "penicillin" not in redact("i'm allergic to penicillin")


@pytest.mark.parametrize("said", [
    "i'm not allergic to anything",
    "am i allergic to this stuff?",
    "my son is allergic to nuts",            # someone else's health
    "one of our guests is allergic to shellfish",
    "i have a severe allergy",               # no allergen: nothing to act on
])
def test_no_allergy_fact(said: str) -> None:
    assert allergies(extract((said, "Okay."))) == []


def test_a_pets_allergy_is_about_the_pet() -> None:
    facts = extract(("my dog biscuit is allergic to chicken", "Noted for Biscuit."))
    assert allergies(facts) == []
    assert "Has a dog named Biscuit" in {f.text for f in facts}


def test_other_health_details_in_the_same_turn_stay_out() -> None:
    facts = extract(("i'm allergic to penicillin and i have diabetes", "Noted."))
    assert allergies(facts) == ["Allergic to penicillin"]
    assert not any("diabetes" in f.text.lower() for f in facts)


def _fact(text: str) -> Candidate:
    return Candidate(text=text, kind="constraint", slot_key=None, confidence=0.9,
                     turn_ids=("t1",))


def test_the_selection_step_applies_the_same_policy_to_any_extractor() -> None:
    # What an LLM extractor might return: the allergy passes, a diagnosis does not, and
    # an allergy that names a condition through "my ..." does not either.
    said = [_fact("Allergic to penicillin"), _fact("Has diabetes"),
            _fact("Allergic to my insulin")]
    assert [f.text for f in select_facts(said)] == ["Allergic to penicillin"]
    assert select_facts(said, policy=SensitivePolicy(allergy_constraints=False)) == []


def test_listing_allergy_as_sensitive_in_the_settings_drops_declared_allergies() -> None:
    from voxmem import Settings
    from voxmem.engine._learning import sensitive_policy

    said = ("yes im allergic to penicillin", "Noted, no penicillin.")
    default = sensitive_policy(Settings())
    assert allergies(extract(said, policy=default)) == ["Allergic to penicillin"]
    strict = sensitive_policy(Settings(
        sensitive_categories="payment_card,password_pin,government_id,health,allergy"))
    assert allergies(extract(said, policy=strict)) == []


@pytest.mark.parametrize("said", [
    "uh yeah i'm allergic to peanuts by the way",
    "i'm allergic to peanuts btw",
    "i'm allergic to peanuts you know",
    "i'm allergic to peanuts though",
])
def test_a_trailing_aside_is_not_the_allergen(said: str) -> None:
    assert allergies(extract((said, "Noted."))) == ["Allergic to peanuts"]
