"""Undo what speech-to-text does to identifiers: numbers, spelled letters, e-mails, names.

Number words become digits through ``text2num`` (``alpha2digit``: "forty-four
twenty-one" → "44 21"). What no library does is written here, each for a reason:

* ``double seven`` / ``triple five`` and ``oh`` for zero are how people read numbers
  aloud; ``text2num`` leaves them as words.
* People read long numbers in groups ("five one oh, five five five, oh one hundred");
  a number read in groups is one identifier, so adjacent digit groups are joined.
* Spelled and spoken e-mail addresses ("j o h n dot smith at gmail dot com", "s as in
  sam"): no library parses them.

Names are compared by spelling (Jaro-Winkler) and by sound (Metaphone, NYSIIS) through
``jellyfish``, so an STT variant (Pria, Jon, Kathryn) still matches the stored name.
"""

from __future__ import annotations

import functools
import re

import jellyfish
from text_to_num import alpha2digit

__all__ = [
    "digit_runs",
    "name_key",
    "names_match",
    "normalize_email",
    "spoken_to_digits",
]

_DIGIT_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_NUMBER_WORDS = frozenset({
    *_DIGIT_WORDS, "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
    "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty", "sixty",
    "seventy", "eighty", "ninety", "hundred", "thousand"})
_REPEAT = {"double": 2, "triple": 3}
_ZERO_WORDS = frozenset({"oh", "o"})
# Digit groups separated only by spaces, dashes, dots or commas: one number read in groups.
_GROUPS = re.compile(r"\d+(?:[ \t]*[-.,/]?[ \t]*\d+)*")


_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_ONE_WORDS = "one|two|three|four|five|six|seven|eight|nine"
_DIGIT_WORD = "zero|" + _ONE_WORDS
_TENS_ONES = re.compile(r"\b(" + "|".join(_TENS) + r")[\s-]+(" + _ONE_WORDS + r")\b", re.I)
_DIGIT_RUN = re.compile(r"\b(?:(?:" + _DIGIT_WORD + r")\s+)+(?:" + _DIGIT_WORD + r")\b"
                        r"(?!\s+(?:hundred|thousand))", re.I)
_DIGIT_AFTER = re.compile(r"(\d[\s,.-]+)(" + _DIGIT_WORD + r")\b", re.I)
_DIGIT_BEFORE = re.compile(r"\b(" + _DIGIT_WORD + r")([\s,.-]+\d)", re.I)


def _is_numeric(token: str) -> bool:
    return token.isdigit() or token.lower() in _NUMBER_WORDS


def _expand_spoken(text: str) -> str:
    """"double seven" → "seven seven"; "oh" next to a number word → "zero".

    Works on the words only and keeps every separator as it was, so punctuation the
    identifier patterns rely on ("account, it's ...") survives.
    """
    parts = re.split(r"([^A-Za-z0-9]+)", text)
    words = parts[0::2]
    for i, word in enumerate(words):
        low = word.lower()
        nxt = words[i + 1].lower() if i + 1 < len(words) else ""
        prev = words[i - 1].lower() if i > 0 else ""
        if low in _REPEAT and (_is_numeric(nxt) or nxt in _ZERO_WORDS):
            spoken = "zero" if nxt in _ZERO_WORDS else nxt
            words[i] = " ".join([spoken] * (_REPEAT[low] - 1))
        elif low in _ZERO_WORDS and (_is_numeric(prev) or _is_numeric(nxt)
                                     or prev == "zero" or nxt in _ZERO_WORDS
                                     or prev in _REPEAT):
            words[i] = "zero"
    parts[0::2] = words
    return "".join(parts)


def _digits_only(tokens_text: str) -> str:
    """Single digit words → digits, so "zero one" is not read as a year by text2num."""
    words = tokens_text.split(" ")
    return " ".join(_DIGIT_WORDS.get(w.lower(), w) for w in words)


@functools.lru_cache(maxsize=4096)
def spoken_to_digits(text: str) -> str:
    """``text`` with spoken numbers as digits and numbers read in groups joined.

    Example::

        spoken_to_digits("invoice four four two one")   # 'invoice 4421'
        spoken_to_digits("forty-four twenty-one")       # '4421'
        spoken_to_digits("double seven")                # '77'
    """
    expanded = _expand_spoken(text)
    # "fifty one" is 51 even when more digit words follow ("fifty one zero two"), so
    # compound pairs are settled before runs of single digits are read as digit strings.
    expanded = _TENS_ONES.sub(
        lambda m: str(_TENS[m.group(1).lower()] + int(_DIGIT_WORDS[m.group(2).lower()])),
        expanded)
    # A run of single digit words is a digit string, never arithmetic ("one two" is 12,
    # not 3); text2num then handles the compound words ("forty-four", "hundred").
    expanded = _DIGIT_RUN.sub(lambda m: _digits_only(m.group(0)), expanded)
    converted = alpha2digit(expanded, "en")
    # text2num leaves a lone small number as a word ("... three six nine, two"); next
    # to other digits it is part of the number.
    previous = None
    while previous != converted:
        previous = converted
        converted = _DIGIT_AFTER.sub(lambda m: m.group(1) + _DIGIT_WORDS[m.group(2).lower()],
                                     converted)
        converted = _DIGIT_BEFORE.sub(lambda m: _DIGIT_WORDS[m.group(1).lower()] + m.group(2),
                                      converted)

    def join(m: re.Match[str]) -> str:
        return re.sub(r"\D", "", m.group(0))

    return _GROUPS.sub(join, converted)


def digit_runs(text: str, min_len: int = 3) -> list[str]:
    """Every number in ``text`` (spoken or written) of at least ``min_len`` digits."""
    return [r for r in re.findall(r"\d+", spoken_to_digits(text)) if len(r) >= min_len]


# --- e-mail ------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}$")
_SPOKEN_SYMBOLS = (
    (r"\bat\s+sign\b", "@"), (r"\bat\b", "@"), (r"\b(?:dot|period|point)\b", "."),
    (r"\bunderscore\b", "_"), (r"\b(?:dash|hyphen|minus)\b", "-"), (r"\bplus\b", "+"))
_AS_IN = re.compile(r"\b([a-z])\s+(?:as\s+in|like|for)\s+[a-z]+\b")
_DOUBLE_LETTER = re.compile(r"\b(double|triple)\s+([a-z])\b")


def normalize_email(raw: str) -> str | None:
    """A written, spelled or spoken e-mail address in canonical form, or ``None``.

    Example::

        normalize_email("j o h n dot smith at gmail dot com")  # 'john.smith@gmail.com'
        normalize_email("John.Smith@Gmail.com")                 # 'john.smith@gmail.com'
    """
    text = raw.strip().lower()
    if not text:
        return None
    if "@" not in text or " " in text:
        text = _AS_IN.sub(r"\1", text)
        text = _DOUBLE_LETTER.sub(lambda m: m.group(2) * _REPEAT[m.group(1)], text)
        for pattern, symbol in _SPOKEN_SYMBOLS:
            text = re.sub(pattern, f" {symbol} ", text)
        text = spoken_to_digits(text)
        # In an address a lone number word is a digit ("o r one" is "or1").
        text = re.sub(r"\b(" + _DIGIT_WORD + r")\b",
                      lambda m: _DIGIT_WORDS[m.group(1).lower()], text)
        text = re.sub(r"\s+", "", text)
    text = text.strip(".,;:!?")
    return text if _EMAIL.match(text) else None


# --- names -------------------------------------------------------------------------------

#: Spelling similarity at which two names are the same name (Jon/John 0.93, Priya/Pria
#: 0.95); below it, names still match when they sound alike and are close in spelling
#: (Catherine/Kathryn 0.76, Sean/Shawn 0.80) but not when they only sound alike
#: (John/Jane 0.67, which Metaphone codes alike).
NAME_SPELLING_MATCH = 0.9
NAME_SOUND_MATCH = 0.72
#: Names whose consonants sound alike and that differ only in their vowels (Elena /
#: Alena 0.87, Aisha / Ayesha 0.84) match from this spelling similarity up.
NAME_SKELETON_MATCH = 0.8


def name_key(name: str) -> str:
    """A name's phonetic key (Metaphone of its first word), for lookups by sound."""
    first = name.strip().split()[0] if name.strip() else ""
    return str(jellyfish.metaphone(first)) if first else ""


def _first(name: str) -> str:
    parts = re.findall(r"[a-z]+", name.lower())
    return parts[0] if parts else ""


def names_match(a: str, b: str) -> bool:
    """True when two given names are the same name as heard or spelled.

    Only first names are compared (people give "this is John" far more often than a
    full name), so a match is corroboration, never identification on its own.
    """
    x, y = _first(a), _first(b)
    if not x or not y:
        return False
    if x == y:
        return True
    spelling = jellyfish.jaro_winkler_similarity(x, y)
    if spelling >= NAME_SPELLING_MATCH:
        return True
    mx, my = jellyfish.metaphone(x), jellyfish.metaphone(y)
    sounds = mx == my or jellyfish.nysiis(x) == jellyfish.nysiis(y)
    if sounds and spelling >= NAME_SOUND_MATCH:
        return True
    return _skeleton(mx) == _skeleton(my) != "" and spelling >= NAME_SKELETON_MATCH


def _skeleton(code: str) -> str:
    """A Metaphone code without its vowels (Metaphone keeps only a leading one)."""
    return "".join(c for c in code if c not in "AEIOUY")
