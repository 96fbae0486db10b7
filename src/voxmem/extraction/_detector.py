"""The utterance detector: a linear model over sentence vectors that finds the caller's
clauses stating something lasting about themselves (eighteenth round; off by default).

Rule frames read a preference or a note only in the shapes someone wrote a frame for. This
detector reads every clause of the caller's words in a turn where nothing else read a wish
or a note, from the bundled static embedding's sentence vectors: of the clause, of the
caller's whole turn, of the agent's reply and of the agent's words before the turn. One
multinomial logistic regression says whether the clause states a preference, a
constraint, a recurring need, another lasting note (a person, a pet, a habit), or
nothing lasting. Where the best clause of a turn is sure enough, the fact is the clause
worded as the learned layer words its spans: ``Preference (caller's words): ...``.

The weights (``data/detector_v1.json``) are fitted by ``scripts/fit_utterance_detector.py``
on the training sets' labels only, and its threshold chosen out of fold there. The
embedding table is memory-mapped (a few hundred rows a call are read); weights fitted on
another table are refused.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._learned import (
    _CLAUSE_BREAK,
    _INTRO,
    _LABELS,
    _LEAD,
    TurnEmbedder,
    _clip,
    _content,
    _echo,
    covered_kinds,
)
from ._rules_amend import WISH_KINDS
from ._rules_common import ONE_OFF, TurnView
from ._select import Candidate
from ._text import third_person

__all__ = ["DEFAULT_DETECTOR_PATH", "DETECTOR_KINDS", "Clause", "UtteranceDetector",
           "caller_clauses", "clause_fact", "default_detector", "detected_candidates"]

logger = logging.getLogger("voxmem.extraction")

DEFAULT_DETECTOR_PATH = Path(__file__).resolve().parent / "data" / "detector_v1.json"
#: The classes, ``none`` first: what a clause states.
DETECTOR_KINDS: tuple[str, ...] = ("none", "preference", "constraint", "need", "note")
_FORMAT = "voxmem-utterance-detector-v1"
_CALLER_KINDS = WISH_KINDS | {"note"}


@dataclasses.dataclass(frozen=True, slots=True)
class Clause:
    """One clause of the caller's words: where it starts in the turn, and its words."""

    offset: int
    text: str


def caller_clauses(user: str) -> list[Clause]:
    """The caller's clauses of two words or more, greetings and a self-introduction cut
    (the learned layer's clause split)."""
    out: list[Clause] = []
    pos = 0
    for part in _CLAUSE_BREAK.split(user):
        start = user.find(part, pos)
        pos = max(pos, start + len(part)) if start >= 0 else pos
        clause = _INTRO.sub("", _LEAD.sub("", part.strip()))
        if len(clause.split()) >= 2:
            out.append(Clause(max(start, 0), clause))
    return out


def clause_fact(kind: str, clause: str, agent: str) -> str:
    """The fact a clause becomes, worded as the learned layer words a caller's span; ""
    for a clause about this call only ("today", "tomorrow")."""
    span = _clip(third_person(clause))
    if len(span.split()) < 2 or ONE_OFF.search(span):
        return ""
    echo = _echo(agent, span)
    label = _LABELS.get(kind, "Note")
    return f"{label} (caller's words): {span}" + (f" (agent: {echo})" if echo else "")


@dataclasses.dataclass(slots=True)
class UtteranceDetector:
    """A multinomial logistic regression over four sentence vectors of a clause.

    ``coef`` is (len(DETECTOR_KINDS), 4 * dimensions); a clause is read as stating a
    lasting fact when 1 - P(none) is at least ``threshold``, and its kind is the likeliest
    of the others.
    """

    coef: npt.NDArray[np.float32]
    intercept: npt.NDArray[np.float32]
    threshold: float
    embedder: TurnEmbedder
    scale: float = 4.0

    def features(self, clause: str, view: TurnView) -> npt.NDArray[np.float32]:
        """The clause's vector, the caller's turn's, the agent's reply's and the agent's
        words before the turn, each unit length and scaled."""
        embed = self.embedder.embed
        return np.asarray(self.scale * np.concatenate(
            [embed(clause), embed(view.user), embed(view.agent), embed(view.prev_agent)]),
            dtype=np.float32)

    def probabilities(self, rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """P(each of :data:`DETECTOR_KINDS`) for each row of features (softmax)."""
        score = rows.astype(np.float64) @ self.coef.T.astype(np.float64) + self.intercept
        score -= score.max(axis=1, keepdims=True)
        exp = np.exp(score)
        out: npt.NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
        return out

    def to_json(self, meta: dict[str, Any]) -> dict[str, Any]:
        """The weights file's content (``meta`` records how they were fitted)."""
        return {
            "format": _FORMAT,
            "kinds": list(DETECTOR_KINDS),
            "embedding_sha256": self.embedder.digest,
            "scale": self.scale,
            "threshold": round(self.threshold, 4),
            "intercept": [round(float(x), 5) for x in self.intercept],
            "coef": [[round(float(x), 4) for x in row] for row in self.coef],
            "meta": meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], embedder: TurnEmbedder) -> UtteranceDetector:
        """Load weights written by :meth:`to_json`."""
        if data.get("format") != _FORMAT or tuple(data.get("kinds", ())) != DETECTOR_KINDS:
            raise ValueError("not a voxmem utterance detector (format or kinds differ)")
        if data.get("embedding_sha256") != embedder.digest:
            # A rebuilt table moves every vector; these weights would score noise.
            raise ValueError("the utterance detector was fitted on another embedding table")
        coef = np.asarray(data["coef"], dtype=np.float32)
        if coef.shape != (len(DETECTOR_KINDS), 4 * embedder.dimensions):
            raise ValueError("the utterance detector's weights do not fit the embedding")
        return cls(coef=coef, intercept=np.asarray(data["intercept"], dtype=np.float32),
                   threshold=float(data["threshold"]), embedder=embedder,
                   scale=float(data.get("scale", 4.0)))


@functools.cache
def default_detector() -> UtteranceDetector | None:
    """The bundled detector, loaded once; ``None`` if it cannot load."""
    try:
        data = json.loads(DEFAULT_DETECTOR_PATH.read_text("utf-8"))
        return UtteranceDetector.from_json(data, TurnEmbedder())
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("utterance detector unavailable: %s", exc)
        return None


def detected_candidates(detector: UtteranceDetector, views: Sequence[TurnView],
                        candidates: Sequence[Candidate]) -> list[Candidate]:
    """At most one fact per turn where nothing read a wish or a note of the caller's: the
    clause likeliest to state something lasting, when sure enough, and never with a
    content word a fact of the call already has (that fact said it)."""
    covered = covered_kinds(candidates)
    known = set().union(*(_content(c.text) for c in candidates)) if candidates else set()
    out: list[Candidate] = []
    for view in views:
        if ("[redacted" in view.user or covered.get(view.turn_id, set()) & _CALLER_KINDS
                or not view.user.strip()):
            continue
        clauses = caller_clauses(view.user)
        if not clauses:
            continue
        probs = detector.probabilities(
            np.stack([detector.features(c.text, view) for c in clauses]))
        lasting = 1.0 - probs[:, 0]
        best = int(np.argmax(lasting))
        p = float(lasting[best])
        if p < detector.threshold:
            continue
        clause = clauses[best]
        kind = DETECTOR_KINDS[1 + int(np.argmax(probs[best, 1:]))]
        text = clause_fact(kind, clause.text, view.agent)
        if not text or _content(clause.text) & known:
            continue
        # Below every rule's confidence, as the learned layer's facts are.
        out.append(view.candidate(text, kind, None, round(0.5 + 0.1 * p, 3), clause.offset))
        known |= _content(clause.text)
    return out
