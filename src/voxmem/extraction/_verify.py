"""The fact verifier: a learned check on each fact the rule extractor proposes.

The extractor's facts come from some forty rule families and three learned layers, each
right at its own rate and wrong in its own ways (a wish said as a question, a taste of
the caller's wife's, a time that holds for today only). The verifier is a logistic
regression over what is known about one proposed fact and where it came from: which rule
family or layer read it (:attr:`Candidate.source`), its kind, slot and confidence, its
length and first words, which side of the turn it was read from and what that sentence
looks like (a question, a hypothetical, a negation, another person, today only), whether
the agent echoed or confirmed it, how many facts its call produced, how it stands among
the other facts (read from the same sentence as another, sharing its words with another,
second to a surer fact of its kind in its turn), and the static embedding's clusters of
its words (as the span tagger uses them). It gives the probability that the fact is
right; a fact below the shipped threshold is dropped.

Fitted by ``scripts/fit_fact_verifier.py`` on the facts the extractor proposes on the
training sets, labelled by the benchmark's own matcher (no new labels); the weights live
in ``data/verifier_v1.json`` and are read here with the standard library and numpy only.
See docs/extraction.md, "The fact verifier".
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._base import ExtractedFact
from ._rules_common import TurnView
from ._select import Candidate
from ._text import word_set

__all__ = [
    "DEFAULT_VERIFIER_PATH",
    "FEATURE_SET",
    "FactVerifier",
    "default_verifier",
    "fact_features",
    "mark",
    "source_of",
]

logger = logging.getLogger("voxmem.extraction")

DEFAULT_VERIFIER_PATH = Path(__file__).parent / "data" / "verifier_v1.json"
#: The feature set :func:`fact_features` computes; a weights file records the one it was
#: fitted on and is refused with another (its weights would name features never computed).
#: 2 (sixteenth round): the raw counts of facts in the turn and of the kind gave way to
#: features relative to the other facts, so a turn that states five things is not
#: suspect for its number alone.
FEATURE_SET = 2


def mark(candidates: list[Candidate], start: int, source: str) -> list[Candidate]:
    """Name ``source`` on each candidate from ``start`` on that has none yet; returns the
    list (so a rule's output can be marked where it is read)."""
    for c in candidates[start:]:
        if not c.source:
            c.source = source
    return candidates


def source_of(rule: Callable[..., Any]) -> str:
    """A rule's source name: its module's family and its function, ``"identity.names"``."""
    module = getattr(rule, "__module__", "") or ""
    family = module.rsplit(".", 1)[-1].removeprefix("_rules_").lstrip("_")
    return f"{family}.{getattr(rule, '__name__', 'rule')}"


_WORD = re.compile(r"[a-z0-9']+")
_QUESTION_START = re.compile(
    r"^(?:so\s+|and\s+|but\s+|um\s+|uh\s+)?(?:can|could|would|will|do|does|did|is|are|"
    r"should|shall|what|when|where|which|how|who|may|have|has)\b")
_CUES: dict[str, re.Pattern[str]] = {
    "hypo": re.compile(r"\b(?:if|would|might|maybe|perhaps|thinking|wondering|considering|"
                       r"in\s+case|suppose|possibly|could)\b"),
    "neg": re.compile(r"\b(?:not|never|no|nothing|don't|dont|doesn't|can't|cant|won't|"
                      r"isn't|wasn't|didn't)\b|n't\b"),
    "other": re.compile(r"\b(?:my|our)\s+(?:wife|husband|son|daughter|mum|mom|mother|dad|"
                        r"father|partner|friend|boss|brother|sister|kids?|children|"
                        r"neighbou?r|colleague|grand\w+|aunt|uncle|flatmate|roommate)\b"
                        r"|\b(?:he|she|they|his|her|their)\b"),
    "today": re.compile(r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening|time|once|"
                        r"week|weekend)|for\s+now|right\s+now|just\s+this)\b"),
    "past": re.compile(r"\b(?:was|were|used\s+to|last\s+(?:time|week|year|month)|had)\b"),
    "change": re.compile(r"\b(?:actually|instead|sorry|i\s+mean|changed?|switch\w*|rather)\b"),
    "usual": re.compile(r"\b(?:always|usually|every|never|from\s+now\s+on|each|normally)\b"),
}
_CONFIRM = re.compile(
    r"^(?:sure|noted|got\s+it|of\s+course|certainly|done|perfect|great|okay|ok|absolutely|"
    r"will\s+do|lovely|no\s+problem|right|brilliant|understood|yes|yep|lovely|fine)\b")
_SHORT = word_set("""a an the is are to of for with and or in on at by has have had be
named caller caller's their they them prefers agent promised will wants only as it its
that this from not no do does""")


def _bucket(n: float, edges: Sequence[float]) -> int:
    return sum(1 for e in edges if n >= e)


def _content(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _SHORT]


def _sentence_at(text: str, offset: int) -> str:
    start = max(text.rfind(c, 0, offset) for c in ".?!\n") + 1
    ends = [i for i in (text.find(c, offset) for c in ".?!\n") if i >= 0]
    return text[start:(min(ends) + 1 if ends else len(text))].strip()


def _sentence_key(views: Sequence[TurnView], position: tuple[int, int]
                  ) -> tuple[int, bool, int] | None:
    """Which sentence a candidate was read from: (turn, agent side, start offset)."""
    index, offset = position
    if not 0 <= index < len(views):
        return None
    view = views[index]
    agent_side = offset >= len(view.user) and bool(view.agent)
    text, at = (view.agent, offset - len(view.user)) if agent_side else (view.user, offset)
    return index, agent_side, max(text.rfind(c, 0, at) for c in ".?!\n") + 1


def _relative(fact: ExtractedFact, source: Candidate, views: Sequence[TurnView],
              facts: Sequence[ExtractedFact], candidates: Sequence[Candidate],
              f: dict[str, float]) -> None:
    """How ``fact`` stands among the call's other facts. Over-reading shows as facts read
    from one sentence, or facts that share their words (one statement worded twice); a
    turn in which each of five promises has a sentence of its own is not over-read, which
    the raw count of facts in the turn (feature set 1) could not tell apart."""
    mine = set(_content(fact.text))
    key = _sentence_key(views, source.position)
    same_sentence = surer_in_turn = 0
    overlap = overlap_surer = 0.0
    for i, other in enumerate(facts):
        if other is fact:
            continue
        cand = candidates[i] if i < len(candidates) else None
        if cand is not None and cand.position[0] == source.position[0]:
            if key is not None and _sentence_key(views, cand.position) == key:
                same_sentence += 1
            if other.kind == fact.kind and other.confidence > fact.confidence:
                surer_in_turn += 1
        theirs = set(_content(other.text))
        if mine and theirs:
            shared = len(mine & theirs) / min(len(mine), len(theirs))
            overlap = max(overlap, shared)
            if other.confidence >= fact.confidence:
                overlap_surer = max(overlap_surer, shared)
    f[f"sent:{min(same_sentence, 2)}"] = 1.0
    f[f"sent:{min(same_sentence, 2)}|kind:{fact.kind}"] = 1.0
    f[f"over:{_bucket(overlap, (0.01, 0.5, 0.99))}"] = 1.0
    f[f"overhi:{_bucket(overlap_surer, (0.01, 0.5, 0.99))}"] = 1.0
    f[f"rank:{min(surer_in_turn, 2)}"] = 1.0


def fact_features(fact: ExtractedFact, source: Candidate, views: Sequence[TurnView],
                  facts: Sequence[ExtractedFact], clusters: dict[str, int],
                  candidates: Sequence[Candidate] = ()) -> dict[str, float]:
    """What the verifier knows of one proposed ``fact`` (see the module docstring); every
    feature is a name with a value, most of them 1.0. ``facts`` are all the call's facts
    and ``candidates`` the candidate of each, in order (without them, no other fact is
    known to share the fact's turn or sentence)."""
    f: dict[str, float] = {}
    src = source.source or "unmarked"
    family = src.split(".", 1)[0]
    slot = fact.slot_key or "-"
    f[f"src:{src}"] = 1.0
    f[f"fam:{family}"] = 1.0
    f[f"fam:{family}|kind:{fact.kind}"] = 1.0
    f[f"kind:{fact.kind}"] = 1.0
    f[f"kind:{fact.kind}|slot:{slot}"] = 1.0
    f["conf"] = fact.confidence
    f[f"conf:{round(fact.confidence * 10)}"] = 1.0
    words = fact.text.lower().split()
    f[f"head1:{words[0] if words else ''}"] = 1.0
    f[f"head2:{' '.join(words[:2])}"] = 1.0
    f[f"len:{_bucket(len(words), (3, 5, 8, 12, 18))}"] = 1.0
    if any(ch.isdigit() for ch in fact.text):
        f["digit"] = 1.0
    content = _content(fact.text)
    for w in set(content):
        if (c := clusters.get(w)) is not None:
            f[f"cl:{c}"] = 1.0
    index, offset = source.position
    view = views[index] if 0 <= index < len(views) else None
    f[f"ncall:{_bucket(len(facts), (2, 4, 7, 10))}"] = 1.0
    _relative(fact, source, views, facts, candidates, f)
    if view is None:
        f["noturn"] = 1.0
        return f
    last = len(views) - 1
    f[f"pos:{'first' if index == 0 else 'last' if index == last else 'mid'}"] = 1.0
    agent_side = offset >= len(view.user) and bool(view.agent)
    side = "agent" if agent_side else "user"
    f[f"side:{side}"] = 1.0
    f[f"side:{side}|kind:{fact.kind}"] = 1.0
    text = view.agent if agent_side else view.user
    sentence = _sentence_at(text, offset - len(view.user) if agent_side else offset).lower()
    if sentence.endswith("?") or _QUESTION_START.match(sentence):
        f[f"q|{side}"] = 1.0
    for name, cue in _CUES.items():
        if cue.search(sentence):
            f[f"{name}|{side}"] = 1.0
            f[f"{name}|{side}|kind:{fact.kind}"] = 1.0
    # The agent's answer: did it echo the fact's words, or confirm without them?
    agent = view.agent.lower()
    answer = set(_WORD.findall(agent))
    if not agent_side and content:
        if index + 1 < len(views):
            answer |= set(_WORD.findall(views[index + 1].agent.lower()))
        echoed = sum(1 for w in content if w in answer) / len(content)
        f[f"echo:{_bucket(echoed, (0.01, 0.34, 0.67))}"] = 1.0
    if not agent_side and _CONFIRM.match(agent.lstrip(" ,")):
        f["confirm"] = 1.0
    if not agent_side and agent.rstrip().endswith("?"):
        f["agent_asks"] = 1.0
    if view.prev_agent.rstrip().endswith("?"):
        f[f"answer|{side}"] = 1.0
    return f


@dataclasses.dataclass(slots=True)
class FactVerifier:
    """A logistic regression over :func:`fact_features`; keeps a fact when
    P(right) >= ``threshold``."""

    weights: dict[str, float]
    bias: float
    threshold: float
    #: A word's cluster in the static embedding's space (the words the fit saw).
    clusters: dict[str, int] = dataclasses.field(default_factory=dict)

    def probability(self, features: dict[str, float]) -> float:
        """P(the fact is right) for one fact's features."""
        z = self.bias + sum(self.weights.get(k, 0.0) * v for k, v in features.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def scores(self, facts: Sequence[ExtractedFact], chosen: Sequence[Candidate],
               views: Sequence[TurnView]) -> list[float]:
        """P(right) of each fact; ``chosen`` holds the candidate of each, in order."""
        return [self.probability(fact_features(fact, cand, views, facts, self.clusters, chosen))
                for fact, cand in zip(facts, chosen, strict=True)]

    def keep(self, facts: list[ExtractedFact], chosen: Sequence[Candidate],
             views: Sequence[TurnView]) -> list[ExtractedFact]:
        """The facts whose probability reaches the threshold, in their order."""
        return [fact for fact, p in zip(facts, self.scores(facts, chosen, views), strict=True)
                if p >= self.threshold]

    def to_json(self, meta: dict[str, Any]) -> dict[str, Any]:
        """The weights file's content (``meta``: how it was fitted and measured)."""
        grouped: dict[int, list[str]] = {}
        for word, c in sorted(self.clusters.items()):
            grouped.setdefault(c, []).append(word)
        return {"version": 1, "features": FEATURE_SET, "meta": meta, "bias": self.bias,
                "threshold": self.threshold,
                "weights": dict(sorted(self.weights.items())),
                "clusters": {str(c): " ".join(ws) for c, ws in sorted(grouped.items())}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FactVerifier:
        """Read a weights file written by :meth:`to_json`."""
        if data.get("version") != 1:
            raise ValueError(f"unknown verifier version {data.get('version')!r}")
        if data.get("features", 1) != FEATURE_SET:
            raise ValueError(f"verifier fitted on feature set {data.get('features', 1)!r}, "
                             f"not {FEATURE_SET}")
        return cls(weights={str(k): float(v) for k, v in data["weights"].items()},
                   bias=float(data["bias"]), threshold=float(data["threshold"]),
                   clusters={w: int(c) for c, words in data.get("clusters", {}).items()
                             for w in str(words).split()})


@functools.cache
def default_verifier() -> FactVerifier | None:
    """The bundled verifier, loaded once; ``None`` (and a warning) if it cannot load."""
    try:
        return FactVerifier.from_json(json.loads(DEFAULT_VERIFIER_PATH.read_text("utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("fact verifier unavailable: %s", exc)
        return None
