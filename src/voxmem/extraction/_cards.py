"""Payment details in text: card numbers (Luhn-checked) and IBANs (mod-97-checked).

Part of the sensitive-data detector (:mod:`.sensitive`, category ``payment_card``).
"""

from __future__ import annotations

import bisect
import re

from ._scan import Scan, triggers
from ._text import NUMBER_COMPOUND_WORDS, digit_word_runs, spoken_number_runs

__all__ = ["find_card_spans", "iban_valid", "luhn_valid"]

# At least 13 digits separated by at most single spaces or dashes. Starting the pattern
# with a bare \d lets ``re`` skip non-digits in C, so prose costs almost nothing. Card
# windows are then cut out of each run at group boundaries, so a phone number read out
# next to a card does not hide it.
_DIGIT_GROUPS = re.compile(r"\d(?:[ -]?\d){12,}")
_GROUP = re.compile(r"\d+")
_CARD_MIN, _CARD_MAX = 13, 19
_DIGIT_WORD_TOKENS = triggers("zero oh one two three four five six seven eight nine double")
_COMPOUND_TOKENS = frozenset(w.encode() for w in NUMBER_COMPOUND_WORDS)


# A card written with dots ("4111.1111.1111.1111", "3782.822463.10005"): groups of 3-6
# digits and at least two dots, so a decimal ("3.14159265358979") is never one; not
# glued to more digits or dots, so an IP address or a version string is not cut into one.
_DOTTED = re.compile(r"(?<![\d.])\d{3,6}(?:\.\d{3,6}){2,5}(?!\.?\d)")
# Cheap first looks: a dot between groups (a literal first character lets ``re`` search
# for it, 0.2 ms per 64 KB), and an IBAN's check digits before two groups ([0-9] rather
# than \d, and no lookbehind: 0.8 ms per 64 KB against 2 ms), two letters checked after.
_DOTTED_HINT = re.compile(r"\.\d{3,6}\.\d")
_IBAN_HINT = re.compile(r"[0-9][0-9](?= ?[A-Za-z0-9]{4} ?[A-Za-z0-9]{4})")
# An IBAN: country, check digits, then 11-30 letters and digits, grouped by four or not.
_IBAN = re.compile(r"\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?\b",
                   re.IGNORECASE)
_IBAN_MIN, _IBAN_MAX = 15, 34


def iban_valid(iban: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN (spaces removed, any case).

    Written here rather than taken from a library (``schwifty``, ``python-stdnum``):
    neither is installed, and the check is the five lines below.
    """
    compact = iban.replace(" ", "").upper()
    if not _IBAN_MIN <= len(compact) <= _IBAN_MAX or not compact.isalnum():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _find_ibans(text: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for hint in _IBAN_HINT.finditer(text):
        at = hint.start() - 2
        if at < 0 or not text[at:at + 2].isalpha():
            continue
        m = _IBAN.match(text, at)
        if m is None or (found and m.start() < found[-1][1]):
            continue
        value = m.group()
        # A word after the number can pass for its last group ("... 7654 32 from"):
        # try the match, then without its last group.
        while value and not iban_valid(value):
            cut = value.rfind(" ")
            value = value[:cut] if cut > 4 else ""
        if value:
            found.append((m.start(), m.start() + len(value)))
    return found


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
            # Luhn's sum kept as the window grows, both ways (the digits at even or at
            # odd places from its start doubled), as :func:`luhn_valid` would give it:
            # the one whose doubled digits end one before the last is the window's.
            windows: list[tuple[int, int, int]] = []
            for i in range(len(groups)):
                length = even = odd = 0
                for j in range(i, len(groups)):
                    for ch in groups[j][2]:
                        d = ord(ch) - 48
                        twice = d * 2 - 9 if d > 4 else d * 2
                        if length % 2:
                            even, odd = even + d, odd + twice
                        else:
                            even, odd = even + twice, odd + d
                        length += 1
                    if length > _CARD_MAX:
                        break
                    if length >= _CARD_MIN and (odd if length % 2 else even) % 10 == 0:
                        windows.append((length, groups[i][0], groups[j][1]))
            # The windows taken are disjoint, kept sorted: a new one overlaps one only if
            # it overlaps the last taken that starts before its end (a look by bisection;
            # a scan of every taken window made a 64 KB turn of digit groups seconds of
            # CPU on the event loop).
            starts: list[int] = []
            ends: list[int] = []
            for _, w_start, w_end in sorted(windows, key=lambda w: (-w[0], w[1])):
                at = bisect.bisect_left(starts, w_end)
                if at and ends[at - 1] > w_start:
                    continue
                starts.insert(at, w_start)
                ends.insert(at, w_end)
                found.append((w_start, w_end))
    if scan.digit_count >= _CARD_MIN and (dotted := _DOTTED_HINT.search(text)):
        for m in _DOTTED.finditer(text, max(0, dotted.start() - 6)):
            digits = m.group().replace(".", "")
            if _CARD_MIN <= len(digits) <= _CARD_MAX and luhn_valid(digits):
                found.append((m.start(), m.end()))
    if scan.digit_count >= 10:  # every IBAN has more digits than that
        found.extend(_find_ibans(text))
    # Card numbers read out digit by digit ("four one one one ...").
    if _DIGIT_WORD_TOKENS & scan.words and _has_digit_word_run(scan.tokens, _CARD_MIN):
        for start, end, digits in digit_word_runs(text, _CARD_MIN):
            if len(digits) <= _CARD_MAX and luhn_valid(digits):
                found.append((start, end))
    if _COMPOUND_TOKENS & scan.words:  # read in pairs: "forty-one eleven eleven ..."
        found.extend((start, end) for start, end, digits
                     in spoken_number_runs(text, _CARD_MIN, _CARD_MAX) if luhn_valid(digits))
    return found
