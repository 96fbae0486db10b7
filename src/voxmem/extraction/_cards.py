"""Payment details in text: card numbers (Luhn-checked) and IBANs (mod-97-checked).

Part of the sensitive-data detector (:mod:`.sensitive`, category ``payment_card``).
"""

from __future__ import annotations

import re

from ._scan import Scan, triggers
from ._text import NUMBER_COMPOUND_WORDS, digit_word_runs, spoken_number_runs

__all__ = ["find_card_spans", "luhn_valid"]

# At least 13 digits separated by at most single spaces or dashes. Starting the pattern
# with a bare \d lets ``re`` skip non-digits in C, so prose costs almost nothing. Card
# windows are then cut out of each run at group boundaries, so a phone number read out
# next to a card does not hide it.
_DIGIT_GROUPS = re.compile(r"\d(?:[ -]?\d){12,}")
_GROUP = re.compile(r"\d+")
_CARD_MIN, _CARD_MAX = 13, 19
_DIGIT_WORD_TOKENS = triggers("zero oh one two three four five six seven eight nine double")
_COMPOUND_TOKENS = frozenset(w.encode() for w in NUMBER_COMPOUND_WORDS)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _has_digit_word_run(tokens: list[bytes], length: int) -> bool:
    """Whether ``length`` spoken digits follow each other somewhere in ``tokens``."""
    run = 0
    for token in tokens:
        if token in _DIGIT_WORD_TOKENS or token.isdigit():
            run += 1
            if run >= length:
                return True
        else:
            run = 0
    return False


def find_card_spans(scan: Scan) -> list[tuple[int, int]]:
    """``(start, end)`` of every payment card number in the scanned text."""
    found: list[tuple[int, int]] = []
    text = scan.text
    if scan.digit_count >= _CARD_MIN:
        for run in _DIGIT_GROUPS.finditer(text):
            start = run.start()
            if start and text[start - 1] in ".,":  # "$1,234,567.89" is money, not a card
                continue
            groups = [(m.start() + start, m.end() + start, m.group())
                      for m in _GROUP.finditer(run.group())]
            if sum(len(g[2]) for g in groups) < _CARD_MIN:
                continue
            # Every window of whole groups that is a valid card; the longest win, so a
            # phone number read out just before a card cannot shift the card's window.
            windows: list[tuple[int, int, int]] = []
            for i in range(len(groups)):
                digits = ""
                for j in range(i, len(groups)):
                    digits += groups[j][2]
                    if len(digits) > _CARD_MAX:
                        break
                    if len(digits) >= _CARD_MIN and luhn_valid(digits):
                        windows.append((len(digits), groups[i][0], groups[j][1]))
            taken: list[tuple[int, int]] = []
            for _, w_start, w_end in sorted(windows, key=lambda w: (-w[0], w[1])):
                if all(w_end <= a or w_start >= b for a, b in taken):
                    taken.append((w_start, w_end))
                    found.append((w_start, w_end))
    # Card numbers read out digit by digit ("four one one one ...").
    if _DIGIT_WORD_TOKENS & scan.words and _has_digit_word_run(scan.tokens, _CARD_MIN):
        for start, end, digits in digit_word_runs(text, _CARD_MIN):
            if len(digits) <= _CARD_MAX and luhn_valid(digits):
                found.append((start, end))
    if _COMPOUND_TOKENS & scan.words:  # read in pairs: "forty-one eleven eleven ..."
        found.extend((start, end) for start, end, digits
                     in spoken_number_runs(text, _CARD_MIN, _CARD_MAX) if luhn_valid(digits))
    return found
