"""Numbers as a speech-to-text engine writes them, turned into the digits a fact should hold.

Callers read identifiers digit by digit ("four four two zero one nine"), in pairs
("nine eleven birch street", "twenty sixteen"), with "double"/"triple" ("double four"),
"oh" for zero and spelled letters ("c l four four five"). ``text2num`` turns the number
words into numerals ("forty two" → "42"); what it leaves as separate groups ("4 4 2 01")
is then joined, because in speech adjacent groups are one number read in pieces, not a
sum. Clock times keep their colon ("at eight thirty" → "at 8:30").
"""

from __future__ import annotations

import difflib
import functools
import re

from text_to_num import alpha2digit

from ._text import word_set

__all__ = [
    "join_stray_digits",
    "repair_words",
    "restore_apostrophes",
    "spelled_letters",
    "spoken_numbers",
]

_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)"
_REPEAT = re.compile(rf"\b(double|triple)[\s-]+({_DIGIT_WORD})\b", re.IGNORECASE)
_TOKEN = re.compile(r"\S+")
# Words before a clock time ("at 8 30"); a run after them is hours and minutes.
_TIME_LEAD = frozenset({"at", "by", "around", "about", "after", "before", "from", "until",
                        "till", "til", "for", "between", "and", "to"})
_MINUTES = re.compile(r"^[0-5]\d$")
# Single letters that are words, so never the start of a spelled id.
_WORD_LETTERS = frozenset({"a", "i"})
_SEPARATORS = frozenset({"dash", "-", "hyphen"})
# After these words the first number stands alone: "flat three twenty two wellington road"
# is flat 3 at number 22.
_STANDALONE_LEAD = frozenset({"flat", "apartment", "apt", "unit", "suite", "room", "floor",
                              "building", "gate", "platform", "terminal"})
_STREET_WORDS = word_set("""street st road rd lane ln avenue ave drive dr close court ct way
    place pl grove crescent boulevard blvd terrace parkway circle square row hill gardens
    walk mews highway hwy""")


def _expand_repeats(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        times = 2 if m.group(1).lower() == "double" else 3
        return " ".join([m.group(2)] * times)
    return _REPEAT.sub(repl, text)


def _kind(token: str) -> str:
    core = token.rstrip(".,!?;:")
    if core.isdigit():
        return "digit"
    if core.lower() in ("oh", "o"):
        return "zero"
    if core.lower() in _SEPARATORS:
        return "sep"
    if len(core) == 1 and core.isalpha() and core.lower() not in _WORD_LETTERS:
        return "letter"
    return "word"


# Every word text2num reads as (part of) a number. A text with none of them and no digit
# has nothing to convert or join: the common case, answered by a set lookup instead of a
# text2num pass (extraction of ended calls is a large share of the runtime's CPU).
_NUMBER_WORDS = word_set("""zero oh one two three four five six seven eight nine ten eleven
    twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty
    fifty sixty seventy eighty ninety hundred thousand million billion first second third
    fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth
    fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth fortieth
    fiftieth sixtieth seventieth eightieth ninetieth hundredth thousandth millionth
    double triple""")
_NUMBER_WORDS = _NUMBER_WORDS | {w + "s" for w in _NUMBER_WORDS} | {
    w + "es" for w in _NUMBER_WORDS}  # "under twelves", "sixes"
_LETTERS_RUN = re.compile(r"[a-z]+")
_ANY_DIGIT = re.compile(r"\d")


def has_number(text: str) -> bool:
    """Whether ``text`` holds a digit or a number word (a cheap guard for the rewrites)."""
    return bool(_ANY_DIGIT.search(text)) or not _NUMBER_WORDS.isdisjoint(
        _LETTERS_RUN.findall(text.lower()))


@functools.lru_cache(maxsize=4096)
def spoken_numbers(text: str) -> str:
    """``text`` with spoken numbers as digits and numbers read in pieces joined up.

    Example::

        >>> spoken_numbers("account is four four two zero one nine, i'm at nine eleven elm road")
        "account is 442019, i'm at 911 elm road"
    """
    if not text or not has_number(text):
        return text
    converted = alpha2digit(_expand_repeats(text), "en")
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(converted)]
    out: list[str] = []
    last = 0
    i = 0
    while i < len(tokens):
        kind = _kind(tokens[i][2])
        leading_zero = kind == "zero" and i + 1 < len(tokens) and _kind(
            tokens[i + 1][2]) == "digit"
        if kind not in ("digit", "letter") and not leading_zero:
            i += 1
            continue
        j = i
        kinds: list[str] = []
        while j < len(tokens):
            k = _kind(tokens[j][2])
            if k == "word" and kinds and tokens[j][2].lower() in _WORD_LETTERS and (
                    j + 1 < len(tokens) and _kind(tokens[j + 1][2]) in ("letter", "digit")):
                k = "letter"  # "y k 18 a b c": inside a spelled id, "a" is a letter
            if k == "word":
                break
            if k == "zero" and not kinds and not leading_zero:
                break
            if tokens[j][2][-1:] in ",.!?;:" and k != "sep":
                kinds.append(k)
                j += 1
                break
            kinds.append(k)
            j += 1
        while kinds and kinds[-1] in ("sep", "zero") and not (
                kinds[-1] == "zero" and "digit" in kinds):
            kinds.pop()
            j -= 1
        if "digit" not in kinds:
            # Only letters and "o"s: a spelled word ("m c d o n a l d"), not a number.
            i = max(j, i + 1)
            continue
        digits = kinds.count("digit") + kinds.count("zero")
        letters = kinds.count("letter")
        digit_chars = sum(len(t[2]) for t, k in zip(tokens[i:j], kinds, strict=False)
                          if k == "digit")
        if len(kinds) < 2 or digits == 0 or (letters and digit_chars + letters < 3):
            i = max(j, i + 1)
            continue
        prev = tokens[i - 1][2].lower() if i else ""
        if prev in _STANDALONE_LEAD and j - i >= 2 and kinds[0] == "digit":
            i += 1  # the flat number, then the house number
            continue
        words = [t[2].rstrip(".,!?;:") for t in tokens[i:j]]
        tail = tokens[j - 1][2][len(words[-1]):]
        street_next = any(t[2].lower().strip(".,") in _STREET_WORDS for t in tokens[j:j + 4])
        if (len(words) == 2 and not letters and prev in _TIME_LEAD and words[0].isdigit()
                and 1 <= int(words[0]) <= 12 and _MINUTES.match(words[1])
                and int(words[1]) % 5 == 0 and not street_next):
            joined = f"{words[0]}:{words[1]}"
        else:
            joined = "".join("0" if w.lower() in ("oh", "o") else w for w in words
                             if w.lower() not in _SEPARATORS)
        out.append(converted[last:tokens[i][0]])
        out.append(joined + tail)
        last = tokens[j - 1][1]
        i = j
    out.append(converted[last:])
    return "".join(out)


# Speech-to-text often drops apostrophes ("dont", "im", "cant"); the rules are written
# for the spelled forms. Only unambiguous words are restored: "ill", "were", "its",
# "hell", "well", "shed" and "wed" are real words and left alone, and "id" only before a
# verb of wanting ("id prefer").
_CONTRACTIONS = {
    "dont": "don't", "cant": "can't", "wont": "won't", "im": "i'm", "ive": "i've",
    "isnt": "isn't", "doesnt": "doesn't", "didnt": "didn't", "wasnt": "wasn't",
    "arent": "aren't", "couldnt": "couldn't", "wouldnt": "wouldn't", "shouldnt": "shouldn't",
    "havent": "haven't", "hasnt": "hasn't", "thats": "that's", "whats": "what's",
    "theres": "there's", "youre": "you're", "theyre": "they're", "hes": "he's",
    "shes": "she's", "youll": "you'll", "youve": "you've", "theyll": "they'll",
    "lets": "let's", "ya'll": "y'all", "itll": "it'll", "mustnt": "mustn't",
}
_CONTRACTION = re.compile(r"\b(" + "|".join(_CONTRACTIONS) + r")\b", re.IGNORECASE)
_ID_WANT = re.compile(r"\bid\s+(?=(?:prefer|rather|like|love|want|need)\b)", re.IGNORECASE)
# "d as in david": the letter, spelled the way callers make it unambiguous.
_AS_IN = re.compile(r"(?<![\w'])([a-z])\s+(?:as\s+in|for)\s+[a-z]+\b", re.IGNORECASE)


# "were moving in june": with no "we" before it, "were" and a verb in -ing is "we're".
_WERE = re.compile(r"(?<!\bwe\s)(?<!\bthey\s)(?<!\byou\s)\bwere\s+(?=[a-z]+ing\b)",
                   re.IGNORECASE)


def restore_apostrophes(text: str) -> str:
    """Put back the apostrophes speech-to-text leaves out ("dont" → "don't")."""
    text = _CONTRACTION.sub(lambda m: _CONTRACTIONS[m.group(1).lower()], text)
    text = _WERE.sub("we're ", text)
    return _ID_WANT.sub("i'd ", text)


def spelled_letters(text: str) -> str:
    """"d as in david seven seven" → "d seven seven"."""
    return _AS_IN.sub(r"\1", text)


_ONE_DIGIT = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
              "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_DIGIT_NAME = "(?:" + "|".join(_ONE_DIGIT) + ")"
# A lone digit word at the edge of an id that the joining step left out: "x7k9p two" (the
# last character of "x seven k nine p two"; "nine one four four two oh one" ends in a
# "one" that number parsing leaves as a word), "oh two 07774412" (a phone number whose first
# digits were read before a "triple"), "one z998765".
_TRAILING = re.compile(
    rf"\b(?P<run>(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{{3,}}|\d{{4,}})(?P<words>(?:\s+{_DIGIT_NAME}\b)"
    r"{1,3})(?=\s*(?:$|[,.;!?]|\b(?:and|thanks|thank|please|yeah|ok|okay|right)\b))",
    re.IGNORECASE)
_LEADING = re.compile(
    rf"\b(?P<words>(?:{_DIGIT_NAME}\s+){{1,3}})(?P<run>[a-z]\d[a-z0-9]*|\d{{4,}})\b", re.IGNORECASE)


def _digits(words: str) -> str:
    return "".join(_ONE_DIGIT[w.lower()] for w in words.split())


def join_stray_digits(text: str) -> str:
    """Attach a digit word left next to an id or a long number to it ("x7k9p two")."""
    if not _ANY_DIGIT.search(text):
        return text  # both patterns join digit words to a run that holds a digit
    text = _TRAILING.sub(lambda m: m.group("run") + _digits(m.group("words")), text)

    def lead(m: re.Match[str]) -> str:
        words = m.group("words").split()
        # "i have two 4412 ..." is a count and a number; "oh two 0777..." or two digit
        # words, or a run that starts with a letter, is one id read in pieces.
        if m.group("run")[0].isalpha() or len(words) > 1 or words[0].lower() in ("oh", "zero"):
            return _digits(m.group("words")) + m.group("run")
        return m.group(0)

    return _LEADING.sub(lead, text)


# "ana uh anna", "dan um daniel", "can er cancel": a word broken off at a hesitation and
# said again, whole or corrected, right after it. Only the second is meant.
_WORD_REPAIR = re.compile(
    r"\b(?P<first>[a-z]{2,})[,.]?\s+(?:u+h+m*|u+m+|e+r+m*|e+h+|ah+)[,.]?\s+(?P<second>[a-z]{2,})\b",
    re.IGNORECASE)
# Short words that are whole as said ("the uh then", "for uh four").
_NOT_BROKEN_OFF = frozenset({"the", "and", "but", "for", "to", "in", "on", "it", "at", "so",
                             "we", "he", "my", "me", "an", "or", "of", "is", "as", "be"})


def _repair_word(m: re.Match[str]) -> str:
    first, second = m.group("first").lower(), m.group("second").lower()
    if first in _NOT_BROKEN_OFF:
        return m.group(0)
    if first != second and (second.startswith(first)
                            or difflib.SequenceMatcher(None, first, second).ratio() >= 0.75):
        return m.group("second")
    return m.group(0)


def repair_words(text: str) -> str:
    """Keep only the second of a word broken off at a hesitation and said again."""
    return _WORD_REPAIR.sub(_repair_word, text)
