"""Who said a turn: speaker labels ("Melanie: ...") for the learned fusion's features.

A transcript imported with speaker labels answers "what did Melanie paint?" from
Melanie's turns rather than from the turns that only mention her (BM25 sees the name in
both), and best from the turns where she talks about herself. Reading a turn's text
means unpacking its payload (several microseconds; a query has ~300 candidates), so
each position's label and first-person flag are worked out once and kept in two small
arrays per index: an index only ever appends, so a position's payload never changes.
"""

from __future__ import annotations

import re
import threading

import numpy as np
import numpy.typing as npt

from ._index import HybridIndex, IntArray
from ._per_index import PerIndex
from ._ranked import distinct

__all__ = ["about_the_asker", "names_someone", "note_label", "prime_labels", "speaker_features",
           "speaker_label", "speaker_rows"]

F64 = npt.NDArray[np.float64]

#: A speaker label: up to three words and a colon opening a turn ("Dana:", "Dr. Alvarez:").
_LABEL = re.compile(r"\s*([A-Za-z][\w.'-]*(?: [A-Za-z][\w.'-]*){0,2}):")
_WORD = re.compile(r"[a-z0-9]+")
_FIRST_PERSON = frozenset({"i", "i'm", "i've", "i'd", "i'll", "me", "my", "mine", "we",
                           "our", "us", "myself"})
_STRIP = ".,!?;:\"()[]-\u2019'"
#: The asker's own words. Not "us": "which US cities..." lower-cases to it.
_ASKER = frozenset({"i", "i'm", "i've", "i'd", "i'll", "me", "my", "mine", "myself",
                    "we", "we're", "we've", "our", "ours"})
#: "I", "I'm", "I've": capitalised, but not a name.
_PRONOUN_I = frozenset({"I", "I'", "I\u2019"})
_UNKNOWN = -1


def speaker_label(text: str) -> str:
    """The lower-cased speaker label a turn opens with ("Melanie: I painted..." ->
    "melanie"), or "" when it has none."""
    m = _LABEL.match(text)
    return m.group(1).lower() if m is not None else ""


def _first_person(text: str) -> bool:
    # A set lookup per word: a regex alternation over the whole text measured ~5x slower.
    return any(w.strip(_STRIP) in _FIRST_PERSON for w in text.lower().split())


class _Labels:
    """Per position of one index: its label's id (0: none; -1: not read yet) and whether
    the text speaks in the first person."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids = np.full(0, _UNKNOWN, dtype=np.int32)
        self.first = np.zeros(0, dtype=np.bool_)
        self.names: list[frozenset[str]] = [frozenset()]
        self.by_label: dict[str, int] = {"": 0}

    def lookup(self, index: HybridIndex,
               positions: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        with self.lock:
            self._grow(int(positions.max(initial=-1)) + 1)
            for pos in positions[self.ids[positions] == _UNKNOWN].tolist():
                self._read(pos, getattr(index.payload_at(pos), "text", None) or "")
            ids: IntArray = self.ids[positions].astype(np.int64)
            first: npt.NDArray[np.bool_] = self.first[positions]
            return ids, first

    def note(self, position: int, text: str) -> None:
        """Read the label of ``position`` from its ``text``, unless it was read already."""
        with self.lock:
            self._grow(position + 1)
            if self.ids[position] == _UNKNOWN:
                self._read(position, text)

    def _grow(self, top: int) -> None:
        if top > self.ids.shape[0]:
            grown = max(top, 2 * self.ids.shape[0])
            self.ids = np.concatenate(
                [self.ids, np.full(grown - self.ids.shape[0], _UNKNOWN, dtype=np.int32)])
            self.first = np.concatenate(
                [self.first, np.zeros(grown - self.first.shape[0], dtype=np.bool_)])

    def _read(self, pos: int, text: str) -> None:
        label = speaker_label(text)
        if label not in self.by_label:
            self.by_label[label] = len(self.names)
            self.names.append(frozenset(_WORD.findall(label)))
        self.ids[pos] = self.by_label[label]
        self.first[pos] = bool(label) and _first_person(text.partition(":")[2])


_labels: PerIndex[_Labels] = PerIndex(_Labels)


def prime_labels(index: HybridIndex, positions: IntArray) -> None:
    """Read the speaker labels of ``positions`` now (the warm load, on a worker thread),
    rather than on the first search that has them as candidates."""
    _labels(index).lookup(index, positions)


def note_label(index: HybridIndex, position: int, text: str) -> None:
    """Read the speaker label of the row at ``position`` from its ``text`` (a saved
    turn, as the write path embeds it), rather than from its payload on a first search."""
    _labels(index).note(position, text)


def about_the_asker(query_text: str) -> bool:
    """Whether the query asks about the person asking ("what did I order?", "where do
    we usually stay?"): a word of the first person in it.

    The learned fusion ranks such a query with the hand-set ranking instead (see
    ``RankParams.learned_for_asker``): its weights were learned from questions about a
    named third person, and on the questions callers ask about themselves they ranked
    worse than the hand-set constants, held out (docs/recall.md).
    """
    # STT and phone keyboards often write the apostrophe as U+2019 ("I\u2019ve").
    words = query_text.lower().replace("\u2019", "'").split()
    return any(w.strip(_STRIP) in _ASKER for w in words)


def names_someone(query_text: str) -> bool:
    """Whether the query has a capitalised word past its first (a name, as far as a
    hand-written check can tell; "I" is not one)."""
    return any(w[:1].isupper() and w[:2] not in _PRONOUN_I for w in query_text.split()[1:])


def speaker_features(index: HybridIndex, positions: IntArray, groups: IntArray,
                     query_text: str) -> tuple[F64, F64, F64, frozenset[str]]:
    """(speaker_named, speaker_other, speaker_self) per candidate: its speaker label is
    named in the query; the query names a speaker, not this one; named and speaking in
    the first person. Call turns only (``groups`` > 0). All zero unless the query names
    someone, so the usual "what did I order" query reads nothing.

    The fourth value: the words of the candidates' labels that the query names (what
    the topic features leave out of the question; from the candidates only, so the
    same query over the same memories always reads the same).
    """
    n = positions.shape[0]
    named, other, self_ = np.zeros(n), np.zeros(n), np.zeros(n)
    if not n or not names_someone(query_text):
        return named, other, self_, frozenset()
    in_call = groups > 0
    ids, first = _labels(index).lookup(index, positions[in_call])
    words = set(_WORD.findall(query_text.lower()))
    table = _labels(index).names
    # Every word of the label in the query: "Dr. Alvarez" is named by "Alvarez" only
    # together with "Dr"; a one-word label (the usual case) by itself.
    hit = np.array([bool(table[i]) and table[i] <= words for i in range(len(table))])
    is_named = hit[ids]
    named[in_call] = is_named
    self_[in_call] = is_named & first
    said: frozenset[str] = frozenset()
    if is_named.any():
        other[in_call] = (ids > 0) & ~is_named
        # distinct, not np.unique: numpy 2's unique hashes, several times slower here.
        said = frozenset().union(*(table[i] for i in distinct(ids[is_named]).tolist()))
    return named, other, self_, said


def speaker_rows(index: HybridIndex, positions: list[int], groups: list[int],
                 query_text: str) -> tuple[list[float], list[float], list[float], frozenset[str]]:
    """:func:`speaker_features` over lists, for a few candidates (``_fusion_few``): the
    same values, with one numpy call (the label lookup) instead of a dozen."""
    m = len(positions)
    named, other, self_ = [0.0] * m, [0.0] * m, [0.0] * m
    if not m or not names_someone(query_text):
        return named, other, self_, frozenset()
    rows = [i for i, g in enumerate(groups) if g > 0]
    labels = _labels(index)
    ids_at, first_at = labels.lookup(index, np.asarray([positions[i] for i in rows],
                                                       dtype=np.int64))
    ids: list[int] = ids_at.tolist()
    words = set(_WORD.findall(query_text.lower()))
    table = labels.names
    hit = {i: bool(table[i]) and table[i] <= words for i in set(ids)}
    said: set[str] = set()
    for row, label, first in zip(rows, ids, first_at.tolist(), strict=True):
        if hit[label]:
            named[row] = 1.0
            self_[row] = 1.0 if first else 0.0
            said |= table[label]
    if said:  # some candidate's speaker is named (a named label has words)
        for row, label in zip(rows, ids, strict=True):
            other[row] = 1.0 if label > 0 and not hit[label] else 0.0
    return named, other, self_, frozenset(said)
