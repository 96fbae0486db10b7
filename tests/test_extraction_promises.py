"""Promises worded in shapes the first rules missed, and in-call actions that are not."""

from __future__ import annotations

import pytest

from tests._extraction import extract


def promises(agent: str) -> list[str]:
    return [f.text for f in extract(("okay", agent)) if f.kind == "commitment"]


@pytest.mark.parametrize(("agent", "words"), [
    ("Right, an electrician will be out to you Monday between 1 and 3.", ("monday",)),
    ("I'll ask our surveyor Ms. Adeyemi to ring you on Friday.", ("adeyemi", "friday")),
    ("I'll get our handyman, Pete, to pop round on Wednesday.", ("pete", "wednesday")),
    ("We'll have the new keys cut and posted by Tuesday.", ("keys", "tuesday")),
    ("I'll have your glasses ready on the 12th.", ("glasses", "12th")),
    ("I'll have Olga, who speaks Russian, call you back this afternoon.", ("olga",)),
    ("As a goodwill gesture I'll credit 2,500 points to your account.", ("2,500",)),
    ("We'll collect the old fridge when we deliver.", ("old fridge",)),
])
def test_a_promise(agent: str, words: tuple[str, ...]) -> None:
    found = [p for p in promises(agent) if all(w in p.lower() for w in words)]
    assert len(found) == 1, promises(agent)


@pytest.mark.parametrize("agent", [
    "I'll have a look now.",
    "I'll have it done.",                       # no when: a reassurance
    "We can send an engineer on Thursday if you like.",   # an offer
])
def test_not_a_promise(agent: str) -> None:
    assert promises(agent) == []
