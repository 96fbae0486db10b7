"""One text prepared for the sensitive-data detectors (:mod:`.sensitive`, :mod:`._cards`):
a lower-cased copy, its set of words and its digit count, each built once.

Python's ``re`` tries an alternation of ~150 words at every word boundary, which costs
~10 ms on a 64 KB turn. So each category first checks a set of trigger words against
the set of words in the text (built once, in C, ~2 ms for 64 KB), and only runs its
full patterns in small windows around the triggers it actually found.
"""

from __future__ import annotations

__all__ = ["Scan", "triggers", "wordset"]

_WORD_BREAKS = bytearray(range(256))
for _c in b"!\"#$%&()*+,./:;<=>?@[\\]^_`{|}~\t\n\r-":
    _WORD_BREAKS[_c] = 32
_WORD_BREAKS_TABLE = bytes(_WORD_BREAKS)
_DIGITS = "0123456789"


class Scan:
    """One text prepared for the detectors: lower-cased copy, word set, digit count."""

    __slots__ = ("_tokens", "_words", "digit_count", "low", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        low = text.lower()
        if len(low) != len(text):
            # A few characters ("İ") grow when lower-cased; keep offsets aligned.
            low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        self.low = low
        self.digit_count = sum(low.count(d) for d in _DIGITS)
        self._tokens: list[bytes] | None = None
        self._words: set[bytes] | None = None

    @property
    def tokens(self) -> list[bytes]:
        if self._tokens is None:
            self._tokens = self.low.encode("utf-8", "replace").translate(_WORD_BREAKS_TABLE).split()
        return self._tokens

    @property
    def words(self) -> set[bytes]:
        if self._words is None:
            self._words = set(self.tokens)
        return self._words

    def windows(self, triggers: frozenset[bytes], before: int, after: int) -> list[tuple[int, int]]:
        """Merged ``(start, end)`` windows around every occurrence of the present triggers."""
        present = triggers & self.words
        if not present:
            return []
        spans: list[tuple[int, int]] = []
        n = len(self.low)
        for word in present:
            needle = word.decode("utf-8", "replace")
            i = self.low.find(needle)
            while i >= 0:
                spans.append((max(0, i - before), min(n, i + len(needle) + after)))
                i = self.low.find(needle, i + 1)
        spans.sort()
        merged = [spans[0]]
        for start, end in spans[1:]:
            if start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged


def triggers(words: str) -> frozenset[bytes]:
    return frozenset(w.encode() for w in words.split())


def wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())
