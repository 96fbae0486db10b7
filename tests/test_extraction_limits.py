"""How many facts a call keeps: per-kind limits instead of a flat cap of five.

The selection step is tested without the fact verifier, which may drop facts on its own
account (tests/test_extraction_verifier.py): here the limits alone decide."""

from __future__ import annotations

import pytest

from tests._extraction import call_of
from voxmem.cli import DEMO_FIRST_CALL
from voxmem.extraction import ExtractedFact, RuleExtractor
from voxmem.extraction._base import KIND_LIMITS, MAX_FACTS
from voxmem.extraction._select import Candidate, select_facts


def extract(*turns: tuple[str, str]) -> list[ExtractedFact]:
    return RuleExtractor(verify=False).extract_sync(call_of(*turns))


def test_the_demo_call_keeps_the_callback_time_next_to_five_other_facts() -> None:
    facts = extract(*DEMO_FIRST_CALL)
    texts = {f.text for f in facts}
    assert "Name is Dana Whitfield" in texts
    assert any("mornings before 9am" in t for t in texts), texts
    # Under a flat cap of five, the sixth fact (the callback time) was the one dropped.
    assert len(facts) >= 6


def test_one_kind_cannot_crowd_out_the_others() -> None:
    facts = extract(
        ("hi this is Omar Haddad calling", "Hi Omar."),
        ("my order is late", "I'll email you the tracking link. I'll refund the shipping fee. "
                             "I'll send a replacement charger. I'll call you on Friday. "
                             "A supervisor will call you back on Monday."),
    )
    commitments = [f for f in facts if f.kind == "commitment"]
    assert len(commitments) == KIND_LIMITS["commitment"]
    assert "Name is Omar Haddad" in {f.text for f in facts}
    # The kept promises are the most confident ones, best first.
    confidences = [f.confidence for f in facts]
    assert confidences == sorted(confidences, reverse=True)


def _candidate(text: str, kind: str, confidence: float, at: int) -> Candidate:
    return Candidate(text=text, kind=kind, slot_key=None, confidence=confidence,
                     turn_ids=("t1",), position=(0, at))


def test_select_facts_applies_the_kind_limits_and_the_ceiling() -> None:
    candidates = [_candidate(f"Prefers colour number {i}", "preference", 0.9 - i / 100, i)
                  for i in range(8)]
    candidates += [_candidate(f"Has order 10{i}", "identity", 0.8, 10 + i) for i in range(3)]
    kept = select_facts(candidates)
    assert [f.text for f in kept if f.kind == "preference"] == [
        f"Prefers colour number {i}" for i in range(KIND_LIMITS["preference"])]
    assert len([f for f in kept if f.kind == "identity"]) == 3
    assert len(select_facts(candidates, max_facts=2)) == 2
    overridden = select_facts(candidates, kind_limits={"preference": 1, "identity": 1})
    assert len(overridden) == 2
    assert len(kept) <= MAX_FACTS


@pytest.mark.parametrize(("said", "when"), [
    ("please call me in the mornings, before 9am", "mornings before 9am"),
    ("ring me on weekdays after 6 please", "weekdays after 6"),
    ("you can reach me in the evenings", "evenings"),
    ("text me on saturdays", "Saturdays"),
])
def test_a_standing_time_to_call(said: str, when: str) -> None:
    facts = extract((said, "Noted."))
    slot = [f for f in facts if f.slot_key == "preferred_time"]
    assert len(slot) == 1 and when in slot[0].text, facts


@pytest.mark.parametrize("said", [
    "call me back tomorrow after 5",
    "can you call me in the morning",
    "call me this afternoon please",
])
def test_a_one_off_time_to_call_is_not_kept(said: str) -> None:
    assert not [f for f in extract((said, "Sure.")) if f.slot_key == "preferred_time"]


@pytest.mark.parametrize(("said", "when"), [
    ("i'm only free after the school run", "after the school run"),
    ("i can do any day but friday", "any day but Friday"),
    ("any weekday except wednesdays works", "any day but Wednesdays"),
])
def test_more_standing_times(said: str, when: str) -> None:
    facts = extract((said, "Okay."))
    slot = [f.text for f in facts if f.slot_key == "preferred_time"]
    assert len(slot) == 1 and when in slot[0], facts


def test_a_recurring_top_up() -> None:
    facts = extract(("i top up the gas every couple of months", "Okay."))
    assert [f.text for f in facts if f.kind == "need"] == [
        "Tops up the gas every couple of months"]
