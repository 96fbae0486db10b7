"""The learned layer of the rule extractor: a turn classifier and generic span extraction.

Patterns need one frame per way of saying a thing; callers have more ways than any
pattern list. This layer reads every turn with a small linear model that does not depend
on frames: bag of words and word pairs of the caller's words and of the agent's reply,
plus the bundled static embedding's sentence vector of each. One logistic regression per
kind says whether the turn states a lasting fact of that kind (a preference, a
constraint, a recurring need, a promise by the agent, or another durable note such as a
person, a pet or a move). When it does and no rule read a fact of that kind from the
turn, a generic span becomes the fact: the caller's clause that states it (the one the
agent's reply echoes, or the one with a word of wanting or habit), or the agent's
sentence that promises something.

The weights are trained offline by ``scripts/fit_extraction_model.py`` on the project's
own labelled calls and shipped as ``data/learned_v1.json``; nothing is downloaded, and
inference is a few dictionary look-ups and two small matrix products per turn.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._rules_common import ONE_OFF, TurnView, sentences
from ._select import Candidate
from ._text import third_person, word_set

__all__ = [
    "DEFAULT_MODEL_PATH",
    "LEARNED_KINDS",
    "TurnClassifier",
    "TurnEmbedder",
    "covered_kinds",
    "default_classifier",
    "learned_candidates",
    "left_to_rules",
    "settle_kinds",
    "turn_features",
]

logger = logging.getLogger("voxmem.extraction")

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "data" / "learned_v1.json"
#: What the classifier predicts for a turn. ``note`` is any other durable fact the
#: caller states (people, pets, vehicles, moves); ``agent_note`` one the agent states
#: (the booking it made, the person the caller will see). Both become ``note`` facts.
LEARNED_KINDS: tuple[str, ...] = ("preference", "constraint", "need", "commitment", "note",
                                  "agent_note")
#: The fact kind each class writes.
FACT_KIND = {"agent_note": "note"}

_WORD = re.compile(r"[a-z][a-z']*|\d+")
_DIGITS = re.compile(r"\d")


def _words(text: str) -> list[str]:
    # Every number reads as one shape ("#", "##"...): the classifier learns that a turn
    # gives a number, not which one.
    return [_DIGITS.sub("#", w) for w in _WORD.findall(text.lower())]


def turn_features(user: str, agent: str) -> list[str]:
    """The sparse features of one turn: words and word pairs, caller's and agent's apart."""
    out: list[str] = []
    for side, text in (("u", user), ("a", agent)):
        words = _words(text)
        out.extend(f"{side}:{w}" for w in words)
        out.extend(f"{side}2:{a} {b}" for a, b in itertools.pairwise(words))
        if not words:
            out.append(f"{side}:<empty>")
    if agent.rstrip().endswith("?"):
        out.append("a:<question>")
    return out


class TurnEmbedder:
    """Sentence vectors from the bundled static embedding, read from a memory map.

    Hand-written rather than :class:`voxmem.embeddings.StaticEmbedder`: that class copies
    the whole table into memory as float32 (about 31 MB), while this layer needs a few
    hundred rows a call, so the table stays a memory-mapped file in the worker process.
    The pooling is the same: mean of token rows, unit length.
    """

    def __init__(self, model_dir: Path | None = None) -> None:
        from tokenizers import Tokenizer

        from ..embeddings.static import DEFAULT_STATIC_MODEL_DIR

        directory = model_dir or DEFAULT_STATIC_MODEL_DIR
        config = json.loads((directory / "config.json").read_text("utf-8"))
        self.digest = str(config.get("embeddings_sha256", ""))
        self._table = np.load(directory / "embeddings.npy", mmap_mode="r", allow_pickle=False)
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        unk = config.get("unk_token_id")
        self._unk = -1 if unk is None else int(unk)
        self.dimensions = int(self._table.shape[1])

    def embed(self, text: str) -> npt.NDArray[np.float32]:
        """The unit-length mean vector of ``text`` (zeros when no token is known)."""
        ids = [i for i in self._tokenizer.encode(text[:2000], add_special_tokens=False).ids
               if i != self._unk][:512]
        if not ids:
            return np.zeros(self.dimensions, dtype=np.float32)
        vec: npt.NDArray[np.float32] = np.asarray(
            self._table[sorted(ids)], dtype=np.float32).mean(axis=0)
        norm = float(np.linalg.norm(vec))
        return np.asarray(vec / norm if norm > 0 else vec, dtype=np.float32)

    def turn_vector(self, user: str, agent: str) -> npt.NDArray[np.float32]:
        """The dense features of one turn: the caller's vector, then the agent's."""
        return np.concatenate([self.embed(user), self.embed(agent)])


@dataclasses.dataclass(slots=True)
class TurnClassifier:
    """One logistic regression per kind over :func:`turn_features` and the turn vector.

    ``thresholds[kind]`` is the probability above which a turn is read as stating a
    fact of that kind; the fit script calibrates it by grouped cross-validation so the
    facts this layer adds are right at least nine times in ten on the training calls.
    """

    vocabulary: dict[str, int]
    sparse: npt.NDArray[np.float32]  # (len(vocabulary), len(LEARNED_KINDS))
    dense: npt.NDArray[np.float32]  # (2 * dimensions, len(LEARNED_KINDS)) or (0, K)
    intercept: npt.NDArray[np.float32]  # (len(LEARNED_KINDS),)
    thresholds: dict[str, float]
    embedder: TurnEmbedder | None = None

    def probabilities(self, user: str, agent: str) -> dict[str, float]:
        """P(the turn states a fact of each kind)."""
        idx = sorted({i for f in turn_features(user, agent)
                      if (i := self.vocabulary.get(f)) is not None})
        score = self.intercept + self.sparse[idx].sum(axis=0)
        if self.embedder is not None and self.dense.shape[0]:
            score = score + self.embedder.turn_vector(user, agent) @ self.dense
        probs = 1.0 / (1.0 + np.exp(-score))
        return {kind: float(p) for kind, p in zip(LEARNED_KINDS, probs, strict=True)}

    def to_json(self, digest: str, meta: dict[str, Any]) -> dict[str, Any]:
        """The weights file's content (``meta`` records how they were fitted)."""
        return {
            "format": "voxmem-turn-classifier-v1",
            "kinds": list(LEARNED_KINDS),
            "embedding_sha256": digest if self.dense.shape[0] else "",
            "thresholds": {k: round(v, 4) for k, v in self.thresholds.items()},
            "intercept": [round(float(x), 5) for x in self.intercept],
            "vocabulary": {f: [round(float(x), 4) for x in self.sparse[i]]
                           for f, i in self.vocabulary.items()},
            "dense": [[round(float(x), 4) for x in row] for row in self.dense],
            "meta": meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], embedder: TurnEmbedder | None) -> TurnClassifier:
        """Load weights written by :meth:`to_json`."""
        if data.get("format") != "voxmem-turn-classifier-v1" or tuple(
                data.get("kinds", ())) != LEARNED_KINDS:
            raise ValueError("not a voxmem turn classifier (format or kinds differ)")
        features = list(data["vocabulary"])
        sparse = np.asarray([data["vocabulary"][f] for f in features], dtype=np.float32)
        dense = np.asarray(data["dense"], dtype=np.float32).reshape(-1, len(LEARNED_KINDS))
        if dense.shape[0] and (embedder is None
                               or embedder.digest != data.get("embedding_sha256")):
            # A rebuilt embedding table moves every vector: these weights no longer fit
            # it, and scoring with them would be noise. Rerun the fit script.
            raise ValueError("the turn classifier was fitted on another embedding table")
        return cls(
            vocabulary={f: i for i, f in enumerate(features)},
            sparse=sparse.reshape(len(features), len(LEARNED_KINDS)),
            dense=dense,
            intercept=np.asarray(data["intercept"], dtype=np.float32),
            thresholds={k: float(v) for k, v in data["thresholds"].items()},
            embedder=embedder if dense.shape[0] else None,
        )


@functools.cache
def default_classifier() -> TurnClassifier | None:
    """The bundled classifier, loaded once; ``None`` (rules only) if it cannot load."""
    try:
        data = json.loads(DEFAULT_MODEL_PATH.read_text("utf-8"))
        embedder = TurnEmbedder() if data.get("dense") else None
        return TurnClassifier.from_json(data, embedder)
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("learned extraction layer unavailable, rules only: %s", exc)
        return None


# --- generic spans -------------------------------------------------------------------------

_CLAUSE_BREAK = re.compile(
    r"[.!?;,]+\s+|\s+(?:and|but|so|because|cause|cos|as|though|although|then|also|plus)\s+")
_LEAD = re.compile(
    r"^(?:(?:hi|hello|hey|yeah|yes|yep|no|oh|ok|okay|well|so|and|but|also|just|right|like|"
    r"actually|honestly|basically|look|listen|please|sorry|thanks|thank\s+you)\b[\s,]*)+",
    re.IGNORECASE)
# "its greg hammond i want a quiet table": the introduction is the name rules' work.
_INTRO = re.compile(r"^(?:it's|its|it\s+is|this\s+is|my\s+name\s+is|i'm|im)\s+"
                    r"(?:[a-z'-]+\s+){1,3}?(?=(?:i|we)\b)", re.IGNORECASE)
_WISH_WORDS = re.compile(
    r"\b(?:always|never|prefer\w*|like|love|want|wants|need|needs|every|usually|only|rather|"
    r"favou?rite|can't|cannot|don't|won't|hate|allergic|must|make\s+sure|keep|same)\b")
_STOP = word_set("""i i'm im a an the to of for with and or in on at by is are was be it my
    me we our you your that this there can could would will just please so um uh yeah yes no
    have has had do does did not get got its it's""")
_PROMISE = re.compile(
    r"\b(?:will|'ll|going\s+to|booked|confirmed|all\s+set|scheduled|pencilled|by\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday|tomorrow|next|the\s+end)|within|I've\s+(?:sent|emailed|booked|ordered|arranged|"
    r"scheduled|set\s+up|requested|added))\b", re.IGNORECASE)
_YOUR = re.compile(r"\byour\b", re.IGNORECASE)
_YOU = re.compile(r"\byou\b", re.IGNORECASE)
_MAX_SPAN = 140
_CALLER_KINDS = frozenset({"preference", "constraint", "availability", "need", "note"})
_LABELS = {"preference": "Preference", "constraint": "Constraint", "need": "Recurring need",
           "note": "Note"}


def _content(text: str) -> set[str]:
    return {w for w in _words(text) if w not in _STOP and len(w) > 2}


def _clip(text: str) -> str:
    text = text.strip(" ,.")
    if len(text) <= _MAX_SPAN:
        return text
    return text[:_MAX_SPAN].rsplit(" ", 1)[0]


def caller_span(user: str, agent: str) -> str:
    """The caller's clause that states the fact: echoed by the agent, or a wish or habit."""
    echoed = _content(agent)
    best, best_score = "", -1.0
    for clause in _CLAUSE_BREAK.split(user):
        clause = _INTRO.sub("", _LEAD.sub("", clause.strip()))
        words = clause.split()
        if len(words) < 2:
            continue
        low = clause.lower()
        score = 2.0 * len(_content(clause) & echoed) + (1.0 if _WISH_WORDS.search(low) else 0.0)
        score += min(len(words), 12) / 100  # a fuller clause breaks a tie
        if score > best_score:
            best, best_score = clause, score
    if not best:
        best = _LEAD.sub("", user.strip())
    return _clip(third_person(best))


def _informative(sentence: str) -> int:
    # Names, days and numbers the agent writes are what a later call asks about.
    words = sentence.split()
    return sum(1 for w in words[1:] if w[:1].isupper() or any(ch.isdigit() for ch in w))


def agent_span(agent: str, *, promise: bool) -> str:
    """The agent's sentence that promises something (``promise``) or that says the most
    (names, days, numbers), in the third person; "" if there is none."""
    best, best_score = "", 0
    for _, sentence in sentences(agent):
        s = sentence.strip()
        if s.endswith("?"):
            continue
        score = (10 if _PROMISE.search(s) else 0) + _informative(s)
        if (promise and score < 10) or score <= best_score:
            continue
        best, best_score = s, score
    if not best:
        return ""
    return _clip(_YOU.sub("the caller", _YOUR.sub("the caller's", best)))


def _echo(agent: str, span: str) -> str:
    # A short written confirmation ("Peonies, noted for future orders.") spells what
    # speech-to-text garbles; the one that repeats most of the caller's words is kept
    # next to them.
    best, best_overlap = "", 0
    for _, sentence in sentences(agent):
        s = sentence.strip()
        if s.endswith("?") or len(s.split()) > 10:
            continue
        overlap = len(_content(s) & _content(span))
        if overlap > best_overlap:
            best, best_overlap = s, overlap
    return best


def _fact_text(kind: str, view: TurnView) -> str:
    if kind in ("commitment", "agent_note"):
        span = agent_span(view.agent, promise=kind == "commitment")
        return f"Agent said: {span}" if span else ""
    span = caller_span(view.user, view.agent)
    if len(span.split()) < 2 or ONE_OFF.search(span):
        return ""  # "i need it today" is about this call, not the caller's life
    echo = _echo(view.agent, span)
    return f"{_LABELS[kind]} (caller's words): {span}" + (f" (agent: {echo})" if echo else "")


def covered_kinds(rule_candidates: Sequence[Candidate]) -> dict[str, set[str]]:
    """Per turn id, the kinds of fact the rules read there."""
    covered: dict[str, set[str]] = {}
    for c in rule_candidates:
        for turn_id in c.turn_ids:
            covered.setdefault(turn_id, set()).add(c.kind)
    return covered


def left_to_rules(kind: str, done: set[str]) -> bool:
    """Whether the rules' reading of a turn (``done``: the kinds they read there) stands
    in for this layer's reading of ``kind``."""
    if FACT_KIND.get(kind, kind) in done:
        return True
    if kind in ("commitment", "agent_note"):
        return bool(done & {"commitment", "note"})  # a rule read the agent's words
    # A rule already read a wish or a note in the caller's words of this turn. A name
    # or a phone number read there does not count: "hi it's dana i always want an aisle
    # seat" still holds a preference.
    return bool(done & _CALLER_KINDS)


def learned_candidates(
    classifier: TurnClassifier,
    views: Sequence[TurnView],
    rule_candidates: Sequence[Candidate],
) -> list[Candidate]:
    """Facts the classifier reads in turns where no rule read a fact of that kind."""
    covered = covered_kinds(rule_candidates)
    out: list[Candidate] = []
    for view in views:
        if "[redacted" in view.user or not (view.user.strip() or view.agent.strip()):
            continue  # the turn said something sensitive: a span could restate it
        probs = classifier.probabilities(view.user, view.agent)
        done = covered.get(view.turn_id, set())
        for kind in LEARNED_KINDS:
            if probs[kind] < classifier.thresholds.get(kind, 1.1) or left_to_rules(kind, done):
                continue
            p = probs[kind]
            text = _fact_text(kind, view)
            if text:
                # Below every rule's confidence: a rule's wording wins a tie in selection.
                out.append(view.candidate(text, FACT_KIND.get(kind, kind), None,
                                          round(0.5 + 0.1 * p, 3), 0))
    return out


# A rule's kind is a guess from its frame: "i can't do feather pillows" reads as a
# constraint, "could it be with a female doctor" as a need. Only these two, and only
# slot-less facts, are reconsidered; a name or a booking keeps what its rule said.
_SETTLED_FROM = ("constraint", "need")


def settle_kinds(classifier: TurnClassifier, views: Sequence[TurnView],
                 candidates: Sequence[Candidate]) -> list[Candidate]:
    """``candidates`` with a rule's constraint or need read as a preference where the
    classifier is sure the turn states a preference and not sure of the rule's kind.

    The labelled calls call "i can't do feather pillows, they set me off" a preference:
    a thing the caller wants done their way, not a limit on what can be offered. The
    classifier learned that line from them; a frame cannot draw it.
    """
    by_turn = {v.turn_id: v for v in views}
    probs: dict[str, dict[str, float]] = {}
    out: list[Candidate] = []
    for c in candidates:
        if c.kind in _SETTLED_FROM and c.slot_key is None and len(c.turn_ids) == 1:
            view = by_turn.get(c.turn_ids[0])
            if view is not None:
                if view.turn_id not in probs:
                    probs[view.turn_id] = classifier.probabilities(view.user, view.agent)
                p = probs[view.turn_id]
                if (p["preference"] >= classifier.thresholds.get("preference", 1.1)
                        and p[c.kind] < min(classifier.thresholds.get(c.kind, 1.1), 0.5)):
                    c = dataclasses.replace(c, kind="preference")
        out.append(c)
    return out
