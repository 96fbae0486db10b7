"""The span tagger's numpy decoder, its weights file and how its spans become facts.

The decoder is checked against brute force: the marginal probability of each label at
each token, summed over every label sequence of a short turn, must equal what the
forward-backward pass returns.
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from voxmem.extraction import RuleExtractor, Transcript, TranscriptTurn
from voxmem.extraction._rules_common import TurnView
from voxmem.extraction._select import Candidate
from voxmem.extraction._tagger import (
    LABELS,
    TAG_KINDS,
    SpanTagger,
    default_tagger,
    span_fact,
    tagger_candidates,
    turn_sequence,
)

# The fit script is not a package; mypy checks it only through this import's use.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from fit_span_tagger import align  # type: ignore[import-not-found]


def _view(user: str, agent: str = "", prev_agent: str = "") -> TurnView:
    return TurnView(index=0, turn_id="t1", user=user, agent=agent, prev_agent=prev_agent,
                    default_country_code="1", keep_health=False, user_raw=user)


def _random_tagger(seed: int, attrs: list[str]) -> SpanTagger:
    rng = np.random.default_rng(seed)
    return SpanTagger(attributes={a: i for i, a in enumerate(attrs)},
                      weights=rng.normal(0, 1.5, (len(attrs), len(LABELS))),
                      transitions=rng.normal(0, 1.0, (len(LABELS), len(LABELS))),
                      thresholds={})


def test_marginals_equal_brute_force() -> None:
    feats = [["a", "b"], ["b"], ["c", "zz-unknown"]]
    tagger = _random_tagger(7, ["a", "b", "c"])
    got = tagger.marginals(feats)
    emit = np.stack([tagger.weights[[tagger.attributes[f] for f in fs
                                     if f in tagger.attributes]].sum(axis=0) for fs in feats])
    n, labels = len(feats), len(LABELS)
    want = np.zeros((n, labels))
    total = 0.0
    for path in itertools.product(range(labels), repeat=n):
        score = sum(emit[i, y] for i, y in enumerate(path))
        score += sum(tagger.transitions[a, b] for a, b in itertools.pairwise(path))
        p = float(np.exp(score))
        total += p
        for i, y in enumerate(path):
            want[i, y] += p
    np.testing.assert_allclose(got, want / total, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), 1.0)


def _word_tagger(word: str, kind: str, thresholds: dict[str, float]) -> SpanTagger:
    """A tagger that marks the caller's ``word`` as the start of a ``kind`` fact."""
    attrs = [f"u:w={word}", "u:s=u", "a:s=a"]
    weights = np.zeros((3, len(LABELS)))
    weights[0, LABELS.index(f"B-{kind}")] = 12.0
    weights[1:, 0] = 5.0  # every other word: outside any fact
    trans = np.zeros((len(LABELS), len(LABELS)))
    return SpanTagger(attributes={a: i for i, a in enumerate(attrs)}, weights=weights,
                      transitions=trans, thresholds=thresholds,
                      clusters={"tortoiseshell": 3})


def test_weights_round_trip_through_json() -> None:
    tagger = _random_tagger(3, ["u:w=aisle", "a:cue=will"])
    tagger.thresholds = {k: 0.5 for k in TAG_KINDS}
    tagger.clusters = {"aisle": 4, "window": 4, "tea": 9}
    back = SpanTagger.from_json(tagger.to_json({"fitted": "here"}))
    feats = [["u:w=aisle"], ["a:cue=will", "u:w=aisle"]]
    np.testing.assert_allclose(back.marginals(feats), tagger.marginals(feats), atol=1e-3)
    assert back.clusters == tagger.clusters
    assert back.thresholds == tagger.thresholds


def test_features_carry_the_asked_question_the_echo_and_the_cluster() -> None:
    view = _view("tortoiseshell please", "Tortoiseshell it is.",
                 prev_agent="Any frame colour you like?")
    tokens, feats = turn_sequence(view, {"preference": {"tortoiseshell"}},
                                  {"tortoiseshell": 3})
    assert [t.side for t in tokens] == ["u", "u", "a", "a", "a"]
    first = set(feats[0])
    assert {"u:w=tortoiseshell", "u:echo", "u:c+0=3", "u:pq=colour"} <= first
    assert "u:rule=preference" in first and "u:rule=preference" not in feats[1]


def test_a_span_becomes_the_callers_clause_in_the_third_person() -> None:
    view = _view("yeah hi so my frames have to be tortoiseshell, thanks", "Noted.")
    tagger = _word_tagger("tortoiseshell", "preference", {"preference": 0.5})
    tokens, feats = turn_sequence(view, None, tagger.clusters)
    [span] = tagger.spans(tokens, feats)
    assert span.kind == "preference" and span.score > 0.9
    assert span_fact(span, tokens, view) == (
        "Preference (caller's words): their frames have to be tortoiseshell")


def test_rules_first_and_no_repeats() -> None:
    view = _view("my frames have to be tortoiseshell", "Sure.")
    tagger = _word_tagger("tortoiseshell", "preference", {"preference": 0.5})
    [added] = tagger_candidates(tagger, [view], [])
    assert added.kind == "preference" and added.confidence < 0.61
    # A rule read a wish in the turn: the tagger leaves it.
    rule = Candidate("Prefers red frames", "preference", None, 0.8, ("t1",))
    assert tagger_candidates(tagger, [view], [rule]) == []
    # A fact of the call already says the tagged words.
    other = Candidate("Likes tortoiseshell", "note", None, 0.8, ("t0",))
    assert tagger_candidates(tagger, [view], [other]) == []
    # Below its threshold, or in a turn with a redaction, nothing.
    tagger.thresholds = {"preference": 1.01}
    assert tagger_candidates(tagger, [view], []) == []
    tagger.thresholds = {"preference": 0.5}
    redacted = _view("my frames have to be tortoiseshell [redacted:health]", "Sure.")
    assert tagger_candidates(tagger, [redacted], []) == []


def test_the_extractor_adds_the_taggers_fact_after_the_rules() -> None:
    call = Transcript("s", "u", [TranscriptTurn(
        "t1", "the frames are tortoiseshell as ever", "Lovely, see you soon.", 0.0)])
    tagger = _word_tagger("tortoiseshell", "preference", {"preference": 0.5})
    texts = [f.text for f in RuleExtractor(learned=False, tagger=tagger).extract_sync(call)]
    assert any("tortoiseshell" in t for t in texts)
    assert not any("tortoiseshell" in f.text
                   for f in RuleExtractor(learned=False).extract_sync(call))


def test_alignment_tags_the_words_of_each_label() -> None:
    case = {"expected_facts": [
        {"kind": "preference", "slot_key": None, "must_contain": ["tortoiseshell"]},
        {"kind": "commitment", "slot_key": None, "must_contain": ["friday", "frames"]},
        {"kind": None, "slot_key": None, "must_contain": ["colour"]},
        {"kind": None, "slot_key": "name", "must_contain": ["niamh"]},
        {"kind": None, "slot_key": None, "must_contain": ["zebra"]},
    ]}
    view = _view("its niamh and they have to be tortoiseshell in a dark color",
                 "Lovely. Your frames will be ready on Friday.")
    tokens, _ = turn_sequence(view)
    stats: Counter[str] = Counter()
    [labels] = align(case, [view], [tokens], stats)
    tagged = {tokens[i].text: lab for i, lab in enumerate(labels) if lab != "O"}
    assert tagged == {"tortoiseshell": "B-preference", "color": "B-note",
                      "frames": "B-commitment", "will": "I-commitment", "be": "I-commitment",
                      "ready": "I-commitment", "on": "I-commitment", "Friday": "I-commitment"}
    # The name is a slot (the rules' work); "zebra" is said nowhere.
    assert stats == Counter({"labels": 4, "aligned (exact)": 2, "aligned (fuzzy)": 1,
                             "not aligned": 1})


def test_an_agent_sentence_that_only_might_happen_is_not_a_fact() -> None:
    # Out of fold, the tagger's agent spans were wrong most often here.
    tagger = _word_tagger("ready", "commitment", {"commitment": 0.5})
    tagger.attributes = {"a:w=ready": 0, "u:s=u": 1, "a:s=a": 2}
    for agent in ("It might be ready Friday but I can't promise.",
                  "If you send the form, it'll be ready Friday.", "Will it be ready Friday?"):
        assert tagger_candidates(tagger, [_view("ok", agent)], []) == [], agent
    [fact] = tagger_candidates(tagger, [_view("ok", "Your suit will be ready Friday.")], [])
    assert fact.text == "Agent said: the caller's suit will be ready Friday"


def test_the_bundled_tagger_reads_wishes_no_rule_reads() -> None:
    # Written for this test; in no labelled set.
    assert default_tagger() is not None, "the bundled weights must load"
    assert RuleExtractor(tagger=True).tagger is not None
    assert RuleExtractor().tagger is None  # off by default (docs/extraction.md says why)
    assert RuleExtractor(learned=False, tagger=True).tagger is None
    for user, agent, word in (
            ("honestly the corner booth is where we're happiest", "The corner booth, lovely.",
             "corner booth"),
            ("the unscented one please my skin's sensitive to the perfumed stuff",
             "Unscented it is.", "unscented")):
        call = Transcript("s", "u", [TranscriptTurn("t1", user, agent, 0.0)])
        added = [f for f in RuleExtractor(tagger=True).extract_sync(call) if word in f.text]
        assert [f.kind for f in added] == ["preference"], user
        assert not [f for f in RuleExtractor().extract_sync(call)
                    if word in f.text]


def test_a_run_on_clause_is_cut_after_the_span() -> None:
    # Set C had "i really want aisle seats this year my knee doesn't bend well": the
    # fact kept the knee. Speech-to-text gives no comma to stop at.
    tagger = _word_tagger("front", "preference", {"preference": 0.5})
    view = _view("hiya so i always want a front row seat my back is bad these days", "Sure.")
    [fact] = tagger_candidates(tagger, [view], [])
    assert fact.text == "Preference (caller's words): i always want a front row seat"


def test_what_the_caller_took_back_is_not_in_the_fact() -> None:
    # Set G had "window seat please no actually aisle aisle is better" (window must not
    # be kept).
    tagger = _word_tagger("booth", "preference", {"preference": 0.5})
    view = _view("a table by the bar no sorry a booth is better for us", "A booth then.")
    [fact] = tagger_candidates(tagger, [view], [])
    assert fact.text == "Preference (caller's words): a booth is better"
