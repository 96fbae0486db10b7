"""A learned span tagger: a linear-chain CRF over the words of a turn, read with numpy.

The rules read a fact only in the frames they were written for, and the turn classifier
(``_learned.py``) says which kind of fact a turn holds but not where. This tagger marks
the words that carry a fact, with BIO labels per kind (``B-preference``, ``I-commitment``,
...), over the caller's words followed by the agent's. Its features are the word, its
neighbours, its shape, cue words of its clause, the agent's question before the turn,
whether the other side repeats the word, and which kinds the rules already read in the
words (so it learns where the rules stop short).

The weights are fitted offline (``scripts/fit_span_tagger.py``, with ``python-crfsuite``)
on the project's own training calls and exported as plain numbers; here they are read by
a forward-backward pass in numpy, so no CRF library is needed at extraction time.

A tagged span becomes a fact through the same wording as the learned layer's: the
caller's clause that holds it, in the third person, or the agent's sentence that holds it
("Agent said: ..."). It is added only where no rule read a fact of that kind in the
turn, and never repeats the words of a fact already read.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._context import asked_for
from ._learned import left_to_rules
from ._rules_common import ONE_OFF, TurnView, sentences
from ._select import Candidate
from ._text import third_person, word_set

__all__ = [
    "DEFAULT_TAGGER_PATH",
    "TAG_KINDS",
    "SpanReading",
    "SpanTagger",
    "TaggedSpan",
    "Token",
    "default_tagger",
    "span_fact",
    "span_readings",
    "tagger_candidates",
    "turn_sequence",
]

logger = logging.getLogger("voxmem.extraction")

DEFAULT_TAGGER_PATH = Path(__file__).resolve().parent / "data" / "tagger_v1.json"
#: The kinds the tagger marks. ``note`` is an untyped durable fact (a person, a pet, an
#: id, a move); slot facts (names, contact details, times) stay the rules' work.
TAG_KINDS: tuple[str, ...] = ("preference", "constraint", "need", "commitment", "identity",
                              "note")
LABELS: tuple[str, ...] = ("O", *(f"{p}-{k}" for k in TAG_KINDS for p in "BI"))

_TOKEN = re.compile(r"[A-Za-z0-9£$€][\w'@+:£$€-]*(?:\.[\w'@+:-]+)*")
_DAYS = word_set("""monday tuesday wednesday thursday friday saturday sunday mondays tuesdays
    wednesdays thursdays fridays saturdays sundays weekend weekends morning mornings
    afternoon afternoons evening evenings""")
_MONTHS = word_set("""january february march april may june july august september october
    november december""")
#: Words whose presence in a clause says what kind of statement it is.
_CUES = word_set("""always never prefer prefers preferred like love loves want wants need
    needs every usually only rather favourite favorite can't cannot don't won't hate must
    sure keep same will 'll booked going by next from now on again usual instead please
    allergic avoid not no best better easier suits dog cat wife husband son daughter
    moving send call email text ring remind refund order account plan""")
_STOP = word_set("""i i'm im a an the to of for with and or in on at by is are was be it my
    me we our you your that this there can could would will just please so um uh yeah yes
    no have has had do does did not get got its it's""")
_CLAUSE_BREAK = re.compile(
    r"[.!?;,]+\s+|\s+(?:and|but|so|because|cause|cos|though|although|then|also|plus)\s+")
_LEAD = re.compile(
    r"^(?:(?:hi|hello|hey|yeah|yes|yep|no|oh|ok|okay|well|so|and|but|also|just|right|like|"
    r"actually|honestly|basically|look|listen|please|sorry|thanks|thank\s+you)\b[\s,]*)+",
    re.IGNORECASE)
_YOUR = re.compile(r"\byour\b", re.IGNORECASE)
_YOU = re.compile(r"\byou\b", re.IGNORECASE)
# The agent's sentence that only might happen, or happens on a condition, promises nothing.
_HEDGED = re.compile(r"\b(?:if|unless|might|maybe|perhaps|can't\s+promise|would\s+you|"
                     r"shall\s+i|do\s+you\s+want|once\s+you|when\s+you)\b", re.IGNORECASE)
_MAX_CHARS = 160
_REPAIR = re.compile(r"\b(?:actually|i\s+mean|sorry|wait|scratch\s+that|make\s+that|"
                     r"on\s+second\s+thoughts?)\b[\s,]*", re.IGNORECASE)
#: Words of the caller's clause kept before and after a tagged span.
_BEFORE, _AFTER = 8, 2
_LABEL_TEXT = {"preference": "Preference", "constraint": "Constraint", "need": "Recurring need",
               "identity": "Identity", "note": "Note"}


@dataclasses.dataclass(frozen=True, slots=True)
class Token:
    """One word of a turn: its side (``u`` the caller, ``a`` the agent) and where it is."""

    side: str
    start: int
    end: int
    text: str


def _tokens(text: str, side: str) -> list[Token]:
    return [Token(side, m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]


def _shape(word: str) -> str:
    if any(ch.isdigit() for ch in word):
        return "d" if word.isdigit() else "dx"
    if word[:1].isupper():
        return "Xx" if not word.isupper() else "XX"
    return "x"


def _clause_bounds(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, is a question) of each clause of ``text``."""
    out: list[tuple[int, int, bool]] = []
    for offset, sentence in sentences(text):
        question = sentence.rstrip().endswith("?")
        start = 0
        for m in _CLAUSE_BREAK.finditer(sentence):
            out.append((offset + start, offset + m.start(), question))
            start = m.end()
        out.append((offset + start, offset + len(sentence), question))
    return out


def _content(words: Iterable[str]) -> set[str]:
    return {w for w in words if w not in _STOP and len(w) > 2}


def turn_sequence(view: TurnView, rule_words: dict[str, set[str]] | None = None,
                  clusters: dict[str, int] | None = None
                  ) -> tuple[list[Token], list[list[str]]]:
    """The tokens of a turn (the caller's words, then the agent's) and each one's features.

    ``rule_words`` maps a kind to the words of the facts the rules read from this turn;
    ``clusters`` a word to its cluster in the static embedding's space (words of like
    meaning share one, so a word no training call had still reads like its neighbours).
    """
    rule_words = rule_words or {}
    clusters = clusters or {}
    asked = asked_for(view.prev_agent) if view.prev_agent else None
    last_q = ""
    for _, s in sentences(view.prev_agent):
        if s.rstrip().endswith("?"):
            last_q = s
    asked_words = sorted(_content(w.lower() for w in _TOKEN.findall(last_q)))[:8]
    tokens: list[Token] = []
    feats: list[list[str]] = []
    sides = (("u", view.user, view.agent), ("a", view.agent, view.user))
    for side, text, other in sides:
        toks = _tokens(text, side)
        if not toks:
            continue
        low = [t.text.lower() for t in toks]
        other_words = _content(w.lower() for w in _TOKEN.findall(other))
        clauses = _clause_bounds(text)
        clause_of = []
        for t in toks:
            ci = next((i for i, (s, e, _) in enumerate(clauses) if s <= t.start < e + 1),
                      len(clauses) - 1)
            clause_of.append(ci)
        clause_cues: dict[int, list[str]] = {}
        for i, w in enumerate(low):
            if w in _CUES:
                clause_cues.setdefault(clause_of[i], []).append(w)
        for i, t in enumerate(toks):
            w = low[i]
            f = [f"s={side}", f"w={w}", f"sh={_shape(t.text)}", f"suf={w[-3:]}"]
            for d in (-2, -1, 1, 2):
                j = i + d
                f.append(f"w{d:+d}={low[j] if 0 <= j < len(low) else '<>'}")
            if i > 0:
                f.append(f"bi-={low[i - 1]}|{w}")
            if i + 1 < len(low):
                f.append(f"bi+={w}|{low[i + 1]}")
            for d in (-1, 0, 1):
                j = i + d
                if 0 <= j < len(low) and (c := clusters.get(low[j])) is not None:
                    f.append(f"c{d:+d}={c}")
            ci = clause_of[i]
            if clauses and clauses[ci][2]:
                f.append("q")
            f.extend(f"cue={c}" for c in clause_cues.get(ci, ()))
            if w in _DAYS:
                f.append("day")
            if w in _MONTHS:
                f.append("month")
            if w in other_words:
                f.append("echo")
            if side == "u":
                if asked:
                    f.append(f"asked={asked}")
                f.extend(f"pq={a}" for a in asked_words)
            for kind, words in rule_words.items():
                if w in words and w not in _STOP:
                    f.append(f"rule={kind}")
            feats.append([f"{side}:{x}" for x in f])
            tokens.append(t)
    return tokens, feats


def rule_words_of(candidates: Sequence[Candidate], turn_id: str) -> dict[str, set[str]]:
    """Per kind, the lower-case words of the facts the rules read from ``turn_id``."""
    out: dict[str, set[str]] = {}
    for c in candidates:
        if turn_id in c.turn_ids:
            out.setdefault(c.kind, set()).update(w.lower() for w in _TOKEN.findall(c.text))
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class TaggedSpan:
    """Tokens ``first..last`` (inclusive, one side) tagged as ``kind`` with ``score``."""

    kind: str
    side: str
    start: int
    end: int
    score: float


@dataclasses.dataclass(slots=True)
class SpanTagger:
    """A linear-chain CRF: per-attribute label weights and label-to-label transitions.

    ``thresholds[kind]`` is the mean marginal probability a span of that kind must reach;
    the fit script calibrates it out of fold so the facts the tagger adds are mostly right.
    """

    attributes: dict[str, int]
    weights: npt.NDArray[np.float64]  # (len(attributes), len(LABELS))
    transitions: npt.NDArray[np.float64]  # (len(LABELS), len(LABELS)), from -> to
    thresholds: dict[str, float]
    #: A word's cluster in the static embedding's space (``turn_sequence``).
    clusters: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Leave a turn to the rules when they read a fact of the span's kind there.
    per_turn: bool = True
    #: Whether the words the rules read are a feature (``turn_sequence``'s ``rule_words``).
    rule_features: bool = True

    def marginals(self, feats: Sequence[Sequence[str]]) -> npt.NDArray[np.float64]:
        """P(label) for every token (rows) by forward-backward.

        In probability space, each step rescaled to sum to one: the scale factors cancel
        in the marginals, and a step is one small matrix product (the log-space version
        cost twice the rules' own time).
        """
        n = len(feats)
        emit = np.zeros((n, len(LABELS)))
        for i, fs in enumerate(feats):
            idx = [j for f in fs if (j := self.attributes.get(f)) is not None]
            if idx:
                emit[i] = self.weights[idx].sum(axis=0)
        e = np.exp(emit - emit.max(axis=1, keepdims=True))
        m = np.exp(self.transitions - self.transitions.max())
        alpha = np.empty_like(e)
        beta = np.ones_like(e)
        alpha[0] = e[0] / e[0].sum()
        for i in range(1, n):
            a = (alpha[i - 1] @ m) * e[i]
            alpha[i] = a / a.sum()
        for i in range(n - 2, -1, -1):
            b = m @ (e[i + 1] * beta[i + 1])
            beta[i] = b / b.sum()
        out: npt.NDArray[np.float64] = alpha * beta
        out /= out.sum(axis=1, keepdims=True)
        return out

    def spans(self, tokens: Sequence[Token], feats: Sequence[Sequence[str]],
              floor: float = 0.5) -> list[TaggedSpan]:
        """Runs of tokens (one side) where one kind's probability is at least ``floor``
        and the highest of the kinds, each scored by that kind's highest probability."""
        if not tokens:
            return []
        probs = self.marginals(feats)
        kinds = np.stack([probs[:, 1 + 2 * k] + probs[:, 2 + 2 * k]
                          for k in range(len(TAG_KINDS))], axis=1)
        best = kinds.argmax(axis=1)
        top = kinds.max(axis=1)
        out: list[TaggedSpan] = []
        i = 0
        while i < len(tokens):
            k = int(best[i])
            if top[i] < floor:
                i += 1
                continue
            j = i
            while (j + 1 < len(tokens) and int(best[j + 1]) == k and top[j + 1] >= floor
                   and tokens[j + 1].side == tokens[i].side):
                j += 1
            score = float(kinds[i:j + 1, k].max())
            out.append(TaggedSpan(TAG_KINDS[k], tokens[i].side, i, j, score))
            i = j + 1
        return out

    def to_json(self, meta: dict[str, Any]) -> dict[str, Any]:
        """The weights file's content (``meta`` records how they were fitted)."""
        features: dict[str, list[list[float]]] = {}
        for attr, row in self.attributes.items():
            nz = [[j, round(float(w), 4)] for j, w in enumerate(self.weights[row]) if w]
            if nz:
                features[attr] = nz
        return {
            "format": "voxmem-span-tagger-v1",
            "labels": list(LABELS),
            "thresholds": {k: round(v, 4) for k, v in self.thresholds.items()},
            "transitions": [[round(float(x), 4) for x in r] for r in self.transitions],
            "features": features,
            "clusters": _grouped(self.clusters),
            "per_turn": self.per_turn,
            "rule_features": self.rule_features,
            "meta": meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpanTagger:
        """Load weights written by :meth:`to_json`."""
        if data.get("format") != "voxmem-span-tagger-v1" or tuple(
                data.get("labels", ())) != LABELS:
            raise ValueError("not a voxmem span tagger (format or labels differ)")
        attrs = list(data["features"])
        weights = np.zeros((len(attrs), len(LABELS)))
        for row, attr in enumerate(attrs):
            for j, w in data["features"][attr]:
                weights[row, int(j)] = float(w)
        return cls(attributes={a: i for i, a in enumerate(attrs)}, weights=weights,
                   transitions=np.asarray(data["transitions"], dtype=np.float64),
                   thresholds={k: float(v) for k, v in data["thresholds"].items()},
                   clusters={w: int(c) for c, words in data.get("clusters", {}).items()
                             for w in words.split()},
                   per_turn=bool(data.get("per_turn", True)),
                   rule_features=bool(data.get("rule_features", True)))


def _grouped(clusters: dict[str, int]) -> dict[str, str]:
    # One line of words per cluster: a third of the size of a word-to-number map.
    out: dict[int, list[str]] = {}
    for word, c in sorted(clusters.items()):
        out.setdefault(c, []).append(word)
    return {str(c): " ".join(words) for c, words in sorted(out.items())}


@functools.cache
def default_tagger() -> SpanTagger | None:
    """The bundled tagger, loaded once; ``None`` if it cannot load."""
    try:
        return SpanTagger.from_json(json.loads(DEFAULT_TAGGER_PATH.read_text("utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("span tagger unavailable: %s", exc)
        return None


def _clip_around(text: str, start: int, end: int) -> str:
    # Keep the tagged words; trim the clause around them to a readable length.
    if len(text) <= _MAX_CHARS:
        return text
    left = max(0, min(start, end - _MAX_CHARS // 2) - 20)
    return text[left:left + _MAX_CHARS].strip()


def span_fact(span: TaggedSpan, tokens: Sequence[Token], view: TurnView) -> str:
    """The fact's wording: the caller's clause holding the span, in the third person, or
    the agent's sentence holding it; "" when it is about this call only."""
    first, last = tokens[span.start], tokens[span.end]
    if span.side == "a":
        text = view.agent
        for offset, sentence in sentences(text):
            if offset <= first.start < offset + len(sentence):
                s, e = offset, max(offset + len(sentence), last.end)
                break
        else:
            s, e = first.start, last.end
        said = _clip_around(text[s:e].strip(" ,."), first.start - s, last.end - s)
        if (ONE_OFF.search(said) and span.kind != "commitment") or _HEDGED.search(said) \
                or text[s:e].rstrip().endswith("?"):
            return ""
        said = _YOU.sub("the caller", _YOUR.sub("the caller's", said))
        return f"Agent said: {said}"
    text = view.user
    s, e = first.start, last.end
    for cs, ce, _ in _clause_bounds(text):
        if cs <= first.start <= ce:
            s = min(s, cs)
        if cs <= last.end <= ce + 1:
            e = max(e, ce)
    # Speech-to-text runs clauses together ("i want aisle seats this year my knee doesn't
    # bend well"): keep a few words either side of the span, not what the caller went on to.
    caller = [t for t in tokens if t.side == "u"]
    at = caller.index(first)
    s = max(s, caller[max(0, at - _BEFORE)].start)
    e = min(e, caller[min(len(caller) - 1, caller.index(last) + _AFTER)].end)
    # "window seat please no actually aisle is better": what comes before a repair is
    # what the caller took back.
    for m in _REPAIR.finditer(text, s, first.start):
        s = m.end()
    clause = text[s:e].strip(" ,.")
    lead = _LEAD.match(clause)
    if lead and lead.end() <= first.start - s:
        clause = clause[lead.end():]
    if ONE_OFF.search(clause) or (len(clause.split()) < 2 and span.kind == "note"):
        return ""
    clause = _clip_around(clause, max(0, first.start - s), last.end - s)
    return f"{_LABEL_TEXT.get(span.kind, 'Note')} (caller's words): {third_person(clause)}"


@dataclasses.dataclass(frozen=True, slots=True)
class SpanReading:
    """A tagged span as a candidate fact, with what the rules had read around it."""

    candidate: Candidate
    score: float
    #: a rule read a fact of this kind in the turn (``left_to_rules``)
    turn_read: bool
    #: every content word of the span is in a fact already read / at least one is
    all_known: bool
    any_known: bool


def span_readings(tagger: SpanTagger, views: Sequence[TurnView],
                  candidates: Sequence[Candidate], floor: float) -> list[SpanReading]:
    """Every span the tagger reads at or above ``floor`` in ``views``, as a candidate."""
    done: dict[str, set[str]] = {}
    for c in candidates:
        for turn_id in c.turn_ids:
            done.setdefault(turn_id, set()).add(c.kind)
    known = set(_TOKEN.findall(" ".join(c.text.lower() for c in candidates)))
    out: list[SpanReading] = []
    for view in views:
        if "[redacted" in view.user or "[redacted" in view.agent:
            continue  # a span could restate what was redacted
        rule_words = rule_words_of(candidates, view.turn_id) if tagger.rule_features else None
        tokens, feats = turn_sequence(view, rule_words, tagger.clusters)
        for span in tagger.spans(tokens, feats, floor):
            text = span_fact(span, tokens, view)
            if not text:
                continue
            words = _content(t.text.lower() for t in tokens[span.start:span.end + 1])
            offset = tokens[span.start].start + (len(view.user) if span.side == "a" else 0)
            # Below every rule's confidence: a rule's wording wins a tie in selection.
            cand = view.candidate(text, span.kind, None, round(0.5 + 0.1 * span.score, 3),
                                  offset)
            out.append(SpanReading(
                cand, span.score, left_to_rules(span.kind, done.get(view.turn_id, set())),
                bool(words) and words <= known, bool(words & known)))
    return out


def tagger_candidates(tagger: SpanTagger, views: Sequence[TurnView],
                      candidates: Sequence[Candidate]) -> list[Candidate]:
    """Facts the tagger reads that no rule read: not in a turn where a rule read a fact
    of that kind (with ``tagger.per_turn``), and never with a word a fact already has."""
    on = [k for k, t in tagger.thresholds.items() if t <= 1.0]
    floor = min((tagger.thresholds[k] for k in on), default=1.1)
    if tagger.per_turn:
        # A turn whose every kind the rules already read is not read again: the reading
        # costs about a millisecond a turn, as much as all the rules.
        done: dict[str, set[str]] = {}
        for c in candidates:
            for turn_id in c.turn_ids:
                done.setdefault(turn_id, set()).add(c.kind)
        views = [v for v in views
                 if not all(left_to_rules(k, done.get(v.turn_id, set())) for k in on)]
    if not on or not views:
        return []
    return [r.candidate for r in span_readings(tagger, views, candidates, floor)
            if r.score >= tagger.thresholds.get(r.candidate.kind, 1.1)
            and not r.any_known and not (tagger.per_turn and r.turn_read)]
