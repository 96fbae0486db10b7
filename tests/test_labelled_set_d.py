"""Held-out extraction set D stays a well-formed, usable measuring stick.

These checks read only the labels. They never run an extractor: the set measures the
rules and must not be tuned against (see tests/data/README_extraction_heldout_d.md).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from voxmem.extraction._evaluate import load_labelled_set, score_case, to_transcript

SET_D = Path(__file__).parent / "data" / "extraction_heldout_d.jsonl"
# STT output as the calls model it: lower case, no sentence punctuation.
_PUNCTUATION = re.compile(r"[.,?!;:\"]")


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return load_labelled_set(SET_D)


def test_size_and_spread(cases: list[dict[str, Any]]) -> None:
    assert len(cases) >= 160
    assert len({c["business"] for c in cases}) >= 20
    empty = sum(1 for c in cases if not c["expected_facts"])
    assert 10 <= empty <= 25, "about fifteen calls should teach nothing"
    lengths = [len(c["turns"]) for c in cases]
    assert min(lengths) >= 3 and max(lengths) >= 12
    assert any(t.get("interrupted") for c in cases for t in c["turns"])


def test_ids_and_split(cases: list[dict[str, Any]]) -> None:
    ids = [c["id"] for c in cases]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert all(i.startswith("hd_") for i in ids)
    assert {c["split"] for c in cases} == {"heldout_d"}


def test_caller_side_reads_like_speech_to_text(cases: list[dict[str, Any]]) -> None:
    for case in cases:
        for turn in case["turns"]:
            text = turn["user_text"]
            assert text == text.lower(), (case["id"], text)
            assert not _PUNCTUATION.search(text), (case["id"], text)


def test_labels_are_matchable(cases: list[dict[str, Any]]) -> None:
    for case in cases:
        facts = case["expected_facts"]
        # the extractor keeps at most five facts a call, so more labels could never match
        assert len(facts) <= 5, case["id"]
        for fact in facts:
            assert set(fact) == {"kind", "slot_key", "must_contain"}, case["id"]
            keywords = fact["must_contain"]
            assert 1 <= len(keywords) <= 3, case["id"]
            assert all(k == k.lower() and k.strip() == k and k for k in keywords), case["id"]
            # a forbidden string inside a required keyword would make the fact unmatchable
            for bad in case["must_not_contain"]:
                assert all(bad.lower() not in k for k in keywords), (case["id"], bad)


def test_scorer_reads_every_case(cases: list[dict[str, Any]]) -> None:
    for case in cases:
        transcript = to_transcript(case)
        assert len(transcript.turns) == len(case["turns"])
        result = score_case(case, [])
        assert (result.expected, result.matched) == (len(case["expected_facts"]), 0)
