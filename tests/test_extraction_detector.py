"""The utterance detector (eighteenth round): its clauses, its wording, its weights file,
where it may add a fact, and the bundled weights on phrasings of our own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from voxmem.extraction import RuleExtractor, Transcript, TranscriptTurn
from voxmem.extraction._detector import (
    DEFAULT_DETECTOR_PATH,
    DETECTOR_KINDS,
    UtteranceDetector,
    caller_clauses,
    clause_fact,
    default_detector,
    detected_candidates,
)
from voxmem.extraction._evaluate import TRAINING_SETS
from voxmem.extraction._learned import TurnEmbedder
from voxmem.extraction._rules_common import TurnView

# The fit script is not a package; mypy checks it only through this import's use.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from fit_utterance_detector import choose_threshold  # type: ignore[import-not-found]


def _view(user: str, agent: str = "", prev_agent: str = "", *, index: int = 0) -> TurnView:
    return TurnView(index=index, turn_id=f"t{index + 1}", user=user, agent=agent,
                    prev_agent=prev_agent, default_country_code="1", keep_health=False,
                    user_raw=user)


def _bundled(threshold: float | None = None) -> UtteranceDetector:
    detector = default_detector()
    assert detector is not None
    if threshold is None:
        return detector
    return UtteranceDetector(coef=detector.coef, intercept=detector.intercept,
                             threshold=threshold, embedder=detector.embedder)


def _lasting(detector: UtteranceDetector, clause: str, view: TurnView) -> float:
    return float(1.0 - detector.probabilities(detector.features(clause, view)[None, :])[0, 0])


def test_clauses_cut_greetings_and_an_introduction() -> None:
    clauses = caller_clauses("hi its marguerite i only ever drink oat milk and my cat "
                             "biscuit hates the carrier")
    assert [c.text for c in clauses] == ["i only ever drink oat milk",
                                         "my cat biscuit hates the carrier"]
    assert caller_clauses("yes") == []


def test_a_clause_is_worded_in_the_third_person_and_a_one_off_is_not_kept() -> None:
    text = clause_fact("preference", "i only ever drink oat milk",
                       "Oat milk, noted for next time.")
    assert text.startswith("Preference (caller's words): ")
    assert "oat milk" in text and "(agent: Oat milk, noted for next time.)" in text
    assert clause_fact("note", "i need it today please", "") == ""


def test_the_weights_file_is_fitted_on_training_sets_only_with_its_out_of_fold_threshold(
) -> None:
    data = json.loads(DEFAULT_DETECTOR_PATH.read_text("utf-8"))
    meta = data["meta"]
    assert data["kinds"] == list(DETECTOR_KINDS)
    assert set(meta["training_sets"]) <= set(TRAINING_SETS)
    assert not any(("check" in name or name.endswith(("_d", "_f")))
                   for name in meta["training_sets"])
    # The threshold is the fit script's out-of-fold rule applied to its own curve.
    assert data["threshold"] == pytest.approx(
        choose_threshold(meta["out_of_fold_curve"], meta["precision_rule"]))


def test_weights_fitted_on_another_table_are_refused() -> None:
    data = json.loads(DEFAULT_DETECTOR_PATH.read_text("utf-8"))
    embedder = TurnEmbedder()
    assert UtteranceDetector.from_json(data, embedder).threshold == data["threshold"]
    with pytest.raises(ValueError, match="another embedding table"):
        UtteranceDetector.from_json({**data, "embedding_sha256": "0" * 64}, embedder)
    with pytest.raises(ValueError, match="format"):
        UtteranceDetector.from_json({**data, "format": "x"}, embedder)


def test_it_adds_only_where_nothing_read_a_wish_and_never_a_word_already_kept() -> None:
    detector = _bundled(threshold=0.0)  # fires on every clause it may read
    read = _view("i always want the window seat", "Window seat, noted.", index=0)
    open_turn = _view("my husband ravi does the school run on fridays", "Okay.", index=1)
    said = _view("the window seat again please", "Sure.", index=2)
    hidden = _view("my card is [redacted:payment_card] every month", "Thanks.", index=3)
    rule = read.candidate("Prefers the window seat", "preference", None, 0.8, 0)
    out = detected_candidates(detector, [read, open_turn, said, hidden], [rule])
    # Not the turn a rule read, not "window seat" again, not the redacted turn; one per turn.
    assert [c.turn_ids for c in out] == [("t2",)]
    assert "ravi" in out[0].text and out[0].confidence < 0.6


def test_off_by_default_and_on_when_asked() -> None:
    assert RuleExtractor().detector is None
    extractor = RuleExtractor(detector=True, verify=False)
    assert extractor.detector is not None
    call = Transcript("s1", "u1", [TranscriptTurn(
        "t1", "hi um so basically my twins ollie and jess both do swimming club tuesdays",
        "Lovely. What can I help with today?", 0.0)])
    facts, chosen, _ = extractor.read(call)
    # Whatever it adds is marked as its own, so the verifier and the benchmark can tell.
    assert all(c.source != "detector" or "caller's words" in f.text
               for f, c in zip(facts, chosen, strict=True))


@pytest.mark.parametrize(("lasting", "passing"), [
    ("i always ask for the same hygienist", "i'm ringing about the letter you sent"),
    ("my son kenji is allergic to peanuts", "i was just wondering what time you close"),
    ("we never do anything before ten on a weekend", "can you hear me okay"),
])
def test_the_bundled_detector_ranks_a_lasting_statement_over_a_passing_one(
        lasting: str, passing: str) -> None:
    detector = _bundled()
    agent, before = "Okay, thanks for letting me know.", "How can I help?"
    assert _lasting(detector, lasting, _view(lasting, agent, before)) > _lasting(
        detector, passing, _view(passing, agent, before))


def test_probabilities_are_a_softmax_over_the_kinds() -> None:
    detector = _bundled()
    rows = np.stack([detector.features(c, _view(c)) for c in ("i like tea", "hello there")])
    probs = detector.probabilities(rows)
    assert probs.shape == (2, len(DETECTOR_KINDS))
    assert np.allclose(probs.sum(axis=1), 1.0)
