"""Text helpers shared by the detector and the extractors: speech-to-text clean-up.

Transcripts arrive the way a speech-to-text engine wrote them: lower case, fillers,
digits spoken as words ("five oh three ..."), e-mail addresses spoken as "x dot y at
gmail dot com". These helpers undo the commonest of those so the patterns in
``rules.py`` and ``sensitive.py`` can stay simple. Everything here is pure and fast.
"""

from __future__ import annotations

import re
import unicodedata

from ..entities import normalize_phone as _normalize_e164
from ..entities import region_for_country_code
from ..entities._speech import spoken_to_digits

__all__ = [
    "DIGIT_WORDS",
    "SPELLED_WORD_GAP",
    "clean_fillers",
    "digit_word_runs",
    "fold_for_detection",
    "mark_spelled_gaps",
    "normalize_phone",
    "spelled_out_to_words",
    "spoken_digits_to_numerals",
    "spoken_emails_to_addresses",
    "spoken_number_runs",
    "third_person",
    "title_name",
    "word_set",
]

#: Spoken forms of single digits. "oh" and "o" are how people say 0 inside numbers.
DIGIT_WORDS: dict[str, str] = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}

# Longer words first: "o" must not shadow "one".
_DIGIT_WORD = r"(?:zero|one|two|three|four|five|six|seven|eight|nine|oh|o|\d)"
# "double five" and "triple oh" are common in British and Indian English.
_DIGIT_TOKEN = rf"(?:(?:double|triple)[\s-]+)?{_DIGIT_WORD}"
_DIGIT_RUN = re.compile(
    rf"(?<![\w'])({_DIGIT_TOKEN}(?:[\s,-]+{_DIGIT_TOKEN}){{2,}})(?![\w'])",
    re.IGNORECASE,
)
_TOKEN = re.compile(rf"(?:(double|triple)[\s-]+)?({_DIGIT_WORD})", re.IGNORECASE)

# Words a speaker inserts while thinking; they break the patterns without carrying meaning.
_FILLERS = re.compile(
    r"(?<![\w'])(?:u+h+m*|u+m+|e+r+m+|e+h+|hmm+|mm+|ah+)(?![\w'])[,.]?\s*",
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t]{2,}")
# A wider gap between two letters read out one by one ("j o h n  s m i t h") is where
# one spelled word ends and the next begins; collapsing it would join them into one word.
_SPELLED_GAP = re.compile(r"(?<![\w'])([A-Za-z])[ \t]{2,}(?=[A-Za-z](?![\w']))")
#: Stands for that gap until the spelled words are joined (a character speech never has).
SPELLED_WORD_GAP = "\u2009"


def clean_fillers(text: str) -> str:
    """Remove hesitation fillers ("um", "uh", "erm") and collapse the spaces they leave."""
    return _SPACES.sub(" ", _FILLERS.sub("", text)).strip()


def mark_spelled_gaps(text: str) -> str:
    """Keep a wide gap between spelled letters as :data:`SPELLED_WORD_GAP`, which
    :func:`clean_fillers` leaves alone and :func:`spelled_out_to_words` turns back into
    a space after joining the letters on each side."""
    return _SPELLED_GAP.sub(lambda m: m.group(1) + SPELLED_WORD_GAP, text)


def digit_word_runs(text: str, min_digits: int) -> list[tuple[int, int, str]]:
    """Find runs of spoken digits that expand to at least ``min_digits`` digits.

    Returns ``(start, end, digits)`` for each run, e.g. "five oh three five five five
    zero one nine nine" gives ``"5035550199"``. Runs made only of numerals are skipped
    (the caller's own regexes handle those).
    """
    runs: list[tuple[int, int, str]] = []
    for match in _DIGIT_RUN.finditer(text):
        chunk = match.group(1)
        digits: list[str] = []
        has_word = False
        for tok in _TOKEN.finditer(chunk):
            repeat = {"double": 2, "triple": 3}.get((tok.group(1) or "").lower(), 1)
            word = tok.group(2).lower()
            if not word.isdigit():
                has_word = True
            digits.append(DIGIT_WORDS.get(word, word) * repeat)
        joined = "".join(digits)
        # A lone "o" or "oh" ("oh one two") is too weak a signal on its own.
        if has_word and len(joined) >= min_digits:
            runs.append((match.start(1), match.end(1), joined))
    return runs


def spoken_digits_to_numerals(text: str, min_digits: int = 7) -> str:
    """Replace long runs of spoken digits with numerals ("five oh three ..." → "503...").

    Only runs of at least ``min_digits`` digits are rewritten, so "two large pizzas" or
    "nine to five" stay as they are.
    """
    runs = digit_word_runs(text, min_digits)
    if not runs:
        return text
    out: list[str] = []
    last = 0
    for start, end, digits in runs:
        out.append(text[last:start])
        out.append(digits)
        last = end
    out.append(text[last:])
    return "".join(out)


# "B as in boy" → "B": the spelling alphabet callers use for letters that sound alike.
_AS_IN = re.compile(r"\b([A-Za-z])\s+(?:as|like)\s+in\s+[A-Za-z]+\b")
# Single letters or digits read out one by one: "R-O-B-E-R-T-O", "N G U Y E N", "4 4 7 1 9".
_SPELLED = re.compile(
    r"(?<![\w'])([A-Za-z0-9](?:(?:[ \t]*[-,][ \t]*|[ \t]+)[A-Za-z0-9](?![\w'])){2,})"
)
# Two-letter words that also occur in ordinary speech are not spelled letters.
_ALL_WORDS = frozenset({"a", "i"})


def _split_at_known(word: str, known: frozenset[str]) -> str:
    # "johnsmith" spelled in one breath, answered "Thanks John" or "Mr. Smith": the word
    # the agent wrote is where the first spelled word ends or the last begins.
    low = word.lower()
    for w in known:
        if len(w) >= 2 and len(low) - len(w) >= 2 and low != w:
            if low.startswith(w):
                return word[:len(w)] + " " + word[len(w):]
            if low.endswith(w):
                return word[:-len(w)] + " " + word[-len(w):]
    return word


def spelled_out_to_words(text: str, known: frozenset[str] = frozenset()) -> str:
    """Join letters and digits read out one by one ("j-o-n" → "jon", "4 4 7" → "447").

    Letters read without a pause between two words are split where a word of ``known``
    (lower case; the names the agent wrote back) starts or ends them."""
    text = _AS_IN.sub(r"\1", text)

    def repl(m: re.Match[str]) -> str:
        chars = re.findall(r"[A-Za-z0-9]", m.group(1))
        letters = [c for c in chars if c.isalpha()]
        # "i a m" style noise aside, a run needs mostly non-word letters to be spelling.
        if letters and all(c.lower() in _ALL_WORDS for c in letters):
            return m.group(0)
        joined = "".join(chars)
        if known and len(letters) == len(chars):
            joined = _split_at_known(joined, known)
        return joined.lower() if letters and not joined[:1].isupper() else joined

    # Each spelled word on its own side of a wide gap, then the gap back to a space.
    return _SPELLED.sub(repl, text).replace(SPELLED_WORD_GAP, " ")


_TLDS = (
    "com|net|org|edu|gov|io|co|me|us|uk|ca|de|fr|es|it|nl|jp|au|in|info|biz|app|dev|ai|"
    "email|mail|xyz"
)
_SPOKEN_SEP = r"\s*(?:dot|period|underscore|dash|hyphen|\.|_|-)\s*"
_LOCAL_STOP = r"(?!(?:is|its|it's|my|email|me|address|be|at|and|or)\b)"
_SPOKEN_EMAIL = re.compile(
    rf"(?<![\w@.'])({_LOCAL_STOP}[a-z0-9]+(?:(?:{_SPOKEN_SEP}|\s+(?={_LOCAL_STOP}[a-z0-9]{{1,3}}\b))"
    rf"[a-z0-9]+)*)\s+at\s+"
    rf"([a-z0-9-]+(?:\s*(?:dot|\.)\s*[a-z0-9-]+)*\s*(?:dot|\.)\s*(?:{_TLDS}))(?![\w.])",
    re.IGNORECASE,
)
_SEP_WORDS = {
    "dot": ".",
    "period": ".",
    "underscore": "_",
    "dash": "-",
    "hyphen": "-",
}
_SEP_IN_SPOKEN = re.compile(r"\s*\b(dot|period|underscore|dash|hyphen)\b\s*|\s*([._-])\s*")
# Words that can precede "x at y dot com" but are not part of the address.
_NOT_LOCAL_PART = frozenset({"is", "it's", "its", "email", "me", "address", "mail", "be"})


def _join_spoken(part: str) -> str:
    def repl(m: re.Match[str]) -> str:
        return _SEP_WORDS[m.group(1).lower()] if m.group(1) else m.group(2)

    return _SEP_IN_SPOKEN.sub(repl, part).replace(" ", "").lower()


# After "my email is", "it's", "send it to": every word up to "at" is the local part, so
# "j smith at gmail dot com" keeps its initial ("jsmith@gmail.com"), which the pattern
# above, starting at the longest word, would drop.
_INTRODUCED_EMAIL = re.compile(
    rf"(?:(?<=\bis\s)|(?<=\bits\s)|(?<=\bit's\s)|(?<=\bemail\s)|(?<=\baddress\s)|"
    rf"(?<=\bto\s)|(?<=\bsure\s)|(?<=\bmail\s))"
    rf"(?P<local>[a-z0-9]+(?:(?:{_SPOKEN_SEP}|\s+)[a-z0-9]+){{0,7}}?)\s+at\s+"
    rf"(?P<domain>[a-z0-9-]+(?:\s*(?:dot|\.)\s*[a-z0-9-]+)*\s*(?:dot|\.)\s*(?:{_TLDS}))(?![\w.])",
    re.IGNORECASE,
)
_AT_WORD = re.compile(r"\sat\s")
# Words that end a spoken local part when they appear in it: talk, not the address.
_LOCAL_BREAKS = frozenset({"is", "it's", "its", "my", "email", "me", "address", "be", "and",
                           "or", "the", "it", "sure", "yeah", "so", "send", "to", "please",
                           "thanks", "at", "that", "this", "i", "you", "your", "mail"})


def spoken_emails_to_addresses(text: str) -> str:
    """Rewrite "j dot okafor at outlook dot com" as "j.okafor@outlook.com"."""

    def introduced(m: re.Match[str]) -> str:
        # The local part is what follows the last word of talk: "is j smith" → "j smith".
        words = m.group("local").split(" ")
        breaks = [i for i, w in enumerate(words) if w.lower() in _LOCAL_BREAKS]
        keep = words[breaks[-1] + 1:] if breaks else words
        if not keep:
            return m.group(0)
        head = " ".join(words[:len(words) - len(keep)])
        address = f"{_join_spoken(' '.join(keep))}@{_join_spoken(m.group('domain'))}"
        return f"{head} {address}" if head else address

    def repl(m: re.Match[str]) -> str:
        local = m.group(1)
        if local.lower() in _NOT_LOCAL_PART:
            return m.group(0)
        return f"{_join_spoken(local)}@{_join_spoken(m.group(2))}"

    # Both patterns need the word "at" and a "dot" or "." before the domain's ending; most
    # turns have neither, and the patterns are costly to try at every position.
    low = text.lower()
    if not _AT_WORD.search(low) or ("dot" not in low and "." not in low):
        return text
    return _SPOKEN_EMAIL.sub(repl, _INTRODUCED_EMAIL.sub(introduced, text))


#: Country code assumed for 10-digit numbers with no "+" (the North American plan).
DEFAULT_COUNTRY_CODE = "1"


def normalize_phone(raw: str, default_country_code: str = DEFAULT_COUNTRY_CODE) -> str | None:
    """Normalise a spoken or written phone number to E.164 where that is possible.

    The package's one phone normaliser (:func:`voxmem.entities.normalize_phone`) does
    the work, reading national numbers in the region of ``default_country_code``. A
    number it cannot place is kept as bare digits (7-15 of them) so the caller's words
    still make a usable fact; anything else returns ``None``.
    """
    e164 = _normalize_e164(raw, region_for_country_code(default_country_code))
    if e164 is not None:
        return e164
    digits = re.sub(r"\D", "", raw)
    return digits if 7 <= len(digits) <= 15 else None


_FIRST_PERSON = [
    (re.compile(r"\bmy\b", re.IGNORECASE), "their"),
    (re.compile(r"\bmine\b", re.IGNORECASE), "theirs"),
    (re.compile(r"\bmyself\b", re.IGNORECASE), "themselves"),
    (re.compile(r"\bme\b", re.IGNORECASE), "them"),
    (re.compile(r"\bour\b", re.IGNORECASE), "their"),
    (re.compile(r"\bus\b", re.IGNORECASE), "them"),
]


def third_person(phrase: str) -> str:
    """Turn the caller's own words into a third-person phrase ("my" → "their")."""
    for pattern, replacement in _FIRST_PERSON:
        phrase = pattern.sub(replacement, phrase)
    return phrase


def title_name(name: str) -> str:
    """Capitalise a spoken name ("sandra lee" → "Sandra Lee"), keeping "McX" and "O'X"."""
    parts = []
    for word in name.split():
        if word[:1].isupper():
            parts.append(word)
        else:
            parts.append("-".join(p[:1].upper() + p[1:] for p in word.split("-")))
    return " ".join(parts)


def word_set(words: str) -> frozenset[str]:
    """A frozenset of the whitespace-separated words of ``words`` (for word lists)."""
    return frozenset(words.split())


def _fold_char(ch: str) -> str | None:
    """The ASCII digit or the space a character folds to, or ``None``."""
    value = unicodedata.decimal(ch, None)
    if value is not None:
        return str(value)
    return " " if unicodedata.category(ch) == "Cf" else None


def fold_for_detection(text: str) -> str:
    """``text`` of the same length with full-width and other non-ASCII digits as ASCII
    digits and invisible format characters (zero-width space, soft hyphen, BOM) as
    spaces, so the detector's offsets still point into ``text``.

    Found by probing: "４１１１ １１１１ ..." (full-width, as some keyboards and tool-call
    arguments write them) and "4111\u200b1111..." (zero-width separators) went past the
    card detector and were stored as they were. Only the distinct non-ASCII characters
    are looked at, so a long turn with an accented name costs a set, not a pass in Python.
    """
    if text.isascii():
        return text
    folds = {ch: f for ch in set(text) if ch > "\x7f" and (f := _fold_char(ch)) is not None}
    if not folds:
        return text
    pattern = "[" + "".join(re.escape(ch) for ch in folds) + "]"
    return re.sub(pattern, lambda m: folds[m.group()], text)


_NUMBER_WORD = (r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|"
                r"forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|double|triple|\d+)")
_NUMBER_RUN = re.compile(rf"\b{_NUMBER_WORD}(?:[\s,.-]+{_NUMBER_WORD})+\b", re.IGNORECASE)
#: Words that only a number read in pairs or compounds has ("forty-one eleven").
NUMBER_COMPOUND_WORDS = word_set(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty "
    "thirty forty fifty sixty seventy eighty ninety hundred thousand")


def spoken_number_runs(text: str, min_digits: int,
                       max_digits: int) -> list[tuple[int, int, str]]:
    """``(start, end, digits)`` of every run of number words and digits in ``text`` that
    reads as ``min_digits``..``max_digits`` digits, compounds included ("forty-one
    eleven" is 4111), through the caller directory's spoken-number reader.

    Found by probing: a card number read in pairs ("forty-one eleven eleven ...") and a
    social security number read as "one two three, forty-five, ..." went past the
    digit-by-digit detectors.
    """
    found = []
    for m in _NUMBER_RUN.finditer(text):
        digits = re.sub(r"\D", "", spoken_to_digits(m.group()))
        if min_digits <= len(digits) <= max_digits:
            found.append((m.start(), m.end(), digits))
    return found
