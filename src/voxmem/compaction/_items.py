"""What a spoken sentence carries: key items, filler, repairs, commitments.

Hand-written patterns rather than an NLP library: the compactor runs on every turn of a
live call and must stay well under a millisecond per turn with no model to load, and the
signal it needs (numbers said as words, spelled names, "no wait, I mean Tuesday") is
specific to speech-to-text transcripts, which general-purpose taggers handle poorly.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re

from ._patterns import CaseFree, plain, trie

__all__ = [
    "KeyItem",
    "Sentence",
    "analyse_sentence",
    "clean_disfluencies",
    "is_commitment",
    "item_key",
    "split_repair",
    "split_sentences",
]

_ANALYSIS_CACHE = 4096
#: Kinds of key item, in the order a reader cares about them.
KINDS = ("name", "identifier", "email", "spelled", "money", "date", "time", "address",
         "number")


@dataclasses.dataclass(frozen=True, slots=True)
class KeyItem:
    """One piece of durable signal, in the words it was said with.

    ``kind`` is one of ``name``, ``identifier``, ``email``, ``spelled``, ``money``,
    ``date``, ``time``, ``address`` or ``number``; ``text`` is the span as transcribed.
    """

    kind: str
    text: str

    def __str__(self) -> str:
        return self.text


def item_key(text: str) -> str:
    """How two spellings of one item compare: lower case, letters and digits only."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _words(text: str) -> list[str]:
    return text.split()


_UNITS = _words(
    "zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ["hundred", "thousand", "million", "double", "triple"]
_NUMBER_WORDS = _UNITS + _TENS + _SCALES
_NUM = trie(_NUMBER_WORDS)
# A run of spoken number words ("four four two one", "one hundred and twenty-five").
_NUMBER_RUN = rf"\b{_NUM}(?:(?:[\s,-]+|\s+and\s+)(?={_NUM}\b){_NUM})*\b"
_DIGITS = r"\b\d[\d,.:/-]*\d\b|\b\d\b"
_ORDINAL_WORDS = _words(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth "
    "thirtieth"
)
_ORDINAL = (r"\b(?:(?:twenty|thirty)[\s-])?" + trie(_ORDINAL_WORDS)
            + r"\b|\b\d{1,2}(?:st|nd|rd|th)\b")
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = _words(
    "january february march april may june july august september october november december"
)
_AMOUNT = rf"(?:{_NUMBER_RUN}|{_DIGITS})"

_EMAIL = CaseFree(
    r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"
    r"|\b[a-z0-9._-]+(?:\s+(?:dot|underscore)\s+[a-z0-9_-]+)*\s+at\s+[a-z0-9-]+"
    r"(?:\s+dot\s+(?:com|net|org|edu|co|uk|io|gov|us|ca))+\b", re.IGNORECASE)
# Letters spelled out one by one: "S M I T H", "k-o-w-a-l-s-k-i", "B as in boy".
_SPELLED = re.compile(
    r"(?<![\w'’])(?:[A-Za-z](?:\s+as\s+in\s+[A-Za-z]+)?[\s.,-]+){2,}[A-Za-z](?:\s+as\s+in\s+[A-Za-z]+)?\b"
    r"(?![\w'])")
_MONEY = CaseFree(
    rf"\$\s?\d[\d,]*(?:\.\d+)?|\b{_AMOUNT}(?:\s+(?:dollars?|bucks|cents|euros?|pounds?))"
    rf"(?:\s+and\s+{_AMOUNT}\s+cents)?|\b{_AMOUNT}\s+(?:percent|%)", re.IGNORECASE)
_DATE = CaseFree(
    r"\b" + trie(_WEEKDAYS) + r"s?\b"
    r"|\b" + trie(_MONTHS) + rf"(?:\s+(?:the\s+)?(?:{_ORDINAL}|\d{{1,2}}))?\b"
    # "the fourteenth" or "fourteenth of May"; a bare "first" is mostly not a date.
    rf"|\bthe\s+(?:{_ORDINAL})(?:\s+of\s+(?:" + "|".join(_MONTHS) + r"))?"
    rf"|(?:{_ORDINAL})\s+of\s+(?:" + "|".join(_MONTHS) + r")\b"
    r"|\b(?:today|tomorrow|tonight|yesterday|next\s+week|this\s+week|next\s+month|"
    r"end\s+of\s+(?:the\s+)?(?:month|week|day)|this\s+weekend|next\s+weekend)\b"
    r"|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b", re.IGNORECASE)
_TIME = CaseFree(
    rf"\b{_AMOUNT}(?:\s+|-)?(?:a\.?\s?m\.?|p\.?\s?m\.?|o'clock)(?![\w])"
    rf"|\b(?:at|by|around|before|after|until|from)\s+{_AMOUNT}"
    r"(?:\s*(?:a\.?\s?m\.?|p\.?\s?m\.?|o'clock)(?![\w]))?"
    r"|\b\d{1,2}:\d{2}\b|\b(?:noon|midnight|half\s+past\s+\w+)\b", re.IGNORECASE)
_STREET = (r"(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|"
           r"place|pl|terrace|circle|parkway|highway|hwy)")
_ADDRESS = CaseFree(
    rf"\b{_AMOUNT}\s+(?:[a-z]+\s+){{1,3}}{_STREET}\b\.?"
    rf"|\b(?:apartment|apt|unit|suite|floor|p\.?o\.?\s+box)\s+(?:{_AMOUNT}|[a-z0-9-]+)\b",
    re.IGNORECASE)
# Codes mixing letters and digits: "AB-4421", "K7X 2P9", "RX55012".
_CODE = re.compile(r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9][A-Z0-9-]{2,}\b")
_NUMBER = CaseFree(rf"{_NUMBER_RUN}|{_DIGITS}", re.IGNORECASE)
_NAME_CUE = re.compile(
    r"\b(?i:my\s+name\s+is|name's|this\s+is|i'm|i\s+am|it's|call\s+me|speaking\s+with|"
    r"talking\s+to|ask\s+for|named|called|his\s+name\s+is|her\s+name\s+is|"
    r"last\s+name\s+is|first\s+name\s+is|surname\s+is)\s+"
    r"((?:[A-Z][a-z'’-]+)(?:\s+[A-Z][a-z'’-]+){0,2})")
# Every cue of _NAME_CUE puts one of these in the ASCII tokens ("i'm" gives "i" "m").
_NAME_CUE_WORDS = frozenset(_words(
    "name this m am it call speaking talking ask named called surname"))
_CAPITALISED = re.compile(r"\b[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+){0,2}\b")
_NOT_NAMES = frozenset(
    _words(
        "i i'm i'll i've i'd okay ok yes yeah no hi hello hey so and but well oh um uh sorry "
        "thanks thank please sure right great perfect alright all the a an that this it it's "
        "what when where why how who which can could would should will do does did is are was "
        "let let's just also then now there here you your we our they my me mr mrs ms dr god "
        "gosh wow hmm"
        )
    + _WEEKDAYS + _MONTHS)

# Filler: words that carry nothing on their own. A sentence made only of these (and
# punctuation) is dropped.
_FILLER_WORDS = frozenset(
    _words(
        "okay ok yeah yes yep yup yea no nope uh um umm uhh er erm ah oh hmm mm mhm uh-huh "
        "mm-hmm huh right sure alright all got it great perfect cool thanks thank you hello "
        "hi hey sorry what pardon i see one moment second sec hold on just a let me check "
        "look can could would you repeat that say again hear are there still here go ahead "
        "problem of course absolutely sounds good fine exactly correct that's i'm so well and "
        "bye goodbye have day nice wonderful awesome lovely the is was wait gotcha understood "
        "makes sense excuse come really wow true totally definitely like know mean kind sort "
        "uh-oh hang minute please it's me we're there's yes yeah yup for your patience "
        "appreciate bear with do did ok-ay very much lot welcome anything else oh-kay hmm-mm "
        "ah-ha aha okey dokey"
        ))
_DISFLUENCY = CaseFree(
    r"(?:^|(?<=[\s,]))(?:u+h+m*|u+m+|e+r+m*|h+m+|m+h*m+|ah+|uh-huh|mm-hmm)(?=[\s,.?!]|$)[,]?\s*"
    r"|\b(?:you\s+know|sort\s+of|kind\s+of|i\s+guess|basically|literally)\b,?\s*"
    r"|^(?:so|well|okay|ok|yeah|and|like|oh|alright|right|hi|hey|hello)\b,?\s+(?=\S)",
    re.IGNORECASE)
# A word said twice in a row ("I- I", "the the"). Number words and single letters are
# left alone: "four four two one" and "S S" are data, not stutters.
_STUTTER = re.compile(
    r"\b(?!" + _NUM + r"\b)([a-z][a-z']+|i)(?:[\s,-]+\1\b)+",
    re.IGNORECASE)
_OPENERS = frozenset(_words("so well okay ok yeah and like oh alright right hi hey hello"))
_DISFLUENCY_WORDS = frozenset(_words("know sort kind guess basically literally"))
# A whole ASCII token that the pattern's hesitation sounds could be ("uh-huh" and
# "mm-hmm" are two tokens each: "uh" "huh", "mm" "hmm").
_HESITATION = re.compile(r"u+h+m*|u+m+|e+r+m*|h+m+|m+h*m+|ah+|huh")
_WORD_RUN = re.compile(r"[a-z']+")
_SPACES = re.compile(r"\s{2,}")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=\S)|\s+(?:--|—)\s+")
_REPAIR = CaseFree(
    r"(?:^|(?<=[\s,.;]))(?:no,?\s+wait|wait,?\s+no|no,?\s+sorry|sorry,?\s+(?:no,?\s+)?i\s+mean|"
    r"i\s+mean|actually,?\s+(?:no,?\s+)?(?:make\s+that|it's)?|scratch\s+that|make\s+that|"
    r"correction|or\s+rather|not\s+\w+,?\s+but)[,.]?(?:\s+|$)", re.IGNORECASE)
# The agent taking on, or reporting, an action; the caller deciding or asking for one.
_COMMITMENT = CaseFree(
    r"\b(?:i'll|i\s+will|we'll|we\s+will|i've|we've|i\s+have\s+(?:booked|scheduled|sent|"
    r"noted|updated|cancell?ed|created|added|applied|processed|issued|credited|reset|"
    r"ordered|escalated|flagged|opened|filed|submitted)|you're\s+(?:all\s+)?set|"
    r"(?:is|are|has\s+been|have\s+been)\s+(?:booked|scheduled|confirmed|cancell?ed|"
    r"sent|refunded|credited|escalated|approved|processed|shipped|reset|waived)|"
    r"going\s+to|will\s+(?:be|get|receive|send|call|email|text|arrive|come|reach|follow)|"
    r"i\s+can\s+(?:offer|book|schedule|waive|credit|refund|send)|let's|i'd\s+like|"
    r"i\s+want|i\s+need|i\s+prefer|please\s+(?:book|cancel|send|change|move|add|remove|"
    r"update|schedule)|go\s+with|i'll\s+take|calling\s+(?:about|to|because|regarding)|"
    r"not\s+working|isn't\s+working|stopped|broken|problem|issue|allergic|can't|cannot|"
    r"don't|won't|never|always|prefer|ticket|follow[\s-]up|call\s+(?:you|me)\s+back|"
    r"remind|deadline|due)\b", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9']+")
_DIGIT = re.compile(r"\d")
_REPAIR_HINT = re.compile(
    r"wait|mean|actually|scratch|make that|correction|rather|but|sorry|\bno\b", re.IGNORECASE)
_REPAIR_HINT_WORDS = ("wait", "mean", "actually", "scratch", "make that", "correction",
                      "rather", "but", "sorry")
_NO = re.compile(r"\bno\b")
_NUMBER_WORD_SET = frozenset(_NUMBER_WORDS)
_ADDRESS_WORDS = frozenset(
    _words(
        "street st avenue ave road rd lane ln drive dr boulevard blvd court ct way place pl "
        "terrace circle parkway highway hwy apartment apt unit suite floor box"
        ))
_MONEY_WORDS = frozenset(_words(
    "dollar dollars bucks cents euro euros pound pounds percent"
    ))
_TIME_WORDS = frozenset(_words(
    "am pm a p m o'clock at by around before after until from"
    ))
_CLOCK_WORDS = frozenset(("noon", "midnight", "half"))
_DATE_WORDS = frozenset(
    [*_WEEKDAYS, *(d + "s" for d in _WEEKDAYS), *_MONTHS, *_ORDINAL_WORDS, "today",
     "tomorrow", "tonight", "yesterday", "week", "month", "weekend", "end"])
# Phone-call mechanics that carry nothing once the moment has passed: holds, "can you
# repeat that", "you cut out", thanks for waiting. Dropped when the sentence has no item.
_CALL_MECHANICS = CaseFree(
    r"\b(?:(?:one|a|just\s+a)\s+(?:moment|second|sec|minute)|bear\s+with\s+me|hold\s+on|"
    r"let\s+me\s+(?:check|see|pull|look|find)|still\s+(?:here|there|looking|checking)|"
    r"(?:thanks|thank\s+you)\s+for\s+(?:your\s+)?(?:patience|waiting|holding)|"
    r"sorry\s+(?:about|for)\s+the\s+(?:wait|delay)|taking\s+a\s+(?:while|moment|bit)|"
    r"(?:system|page|computer)\s+(?:is\s+)?(?:loads?|slow|loading)|repeat\s+that|"
    r"say\s+(?:that|it)\s+again|cut\s+out|broke\s+up|breaking\s+up|"
    r"didn't\s+(?:catch|hear)|can\s+you\s+hear\s+me|are\s+you\s+(?:still\s+)?there|"
    r"i\s+(?:was\s+)?(?:just\s+)?(?:said|saying))\b", re.IGNORECASE)
# Every way _CALL_MECHANICS can match contains one of these words whole.
_CALL_MECHANICS_WORDS = frozenset(_words(
    "moment second sec minute bear hold let still thanks thank sorry taking system page "
    "computer repeat say cut broke breaking didn hear there said saying"))
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_WORD = re.compile(r"[\w'’-]+")
_CONTENT_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]{2,}")


@functools.lru_cache(maxsize=_ANALYSIS_CACHE)
def split_sentences(text: str) -> tuple[str, ...]:
    """Split a turn into sentences (STT output punctuates, dashes mark barge-ins).

    Cached: a call repeats short turns ("okay", "yes") many times.
    """
    return tuple(part for part in map(str.strip, _SENTENCE_END.split(text)) if part)


def clean_disfluencies(sentence: str) -> str:
    """Drop "um"/"uh"/"you know" and stutters; every other word is kept as said."""
    text, removed = _peel(sentence)
    while removed:  # "so, um, yeah, I ..." peels one layer per pass
        text, removed = _peel(text)
    if _may_stutter(text):
        text = _STUTTER.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip(" ,;")


def _peel(text: str) -> tuple[str, int]:
    """``_DISFLUENCY.subn`` on ``text``, skipped when a word check shows it cannot match.

    Each way the pattern matches puts one of the checked words in the ASCII tokens: a
    hesitation sound stands between separators (so it is a whole token), the phrases
    contain "know", "sort", "kind", "guess", "basically" or "literally", and the opening
    words are the first token. Non-ASCII text always runs the pattern.
    """
    if plain(text):
        tokens = _ASCII_WORD.findall(text.lower())
        if (not tokens or tokens[0] not in _OPENERS) and _DISFLUENCY_WORDS.isdisjoint(
                tokens) and not any(_HESITATION.fullmatch(token) for token in tokens
                                    if not token.strip("uhmear")):
            return text, 0
    return _DISFLUENCY.remove(text)


def _may_stutter(text: str) -> bool:
    """False only when ``_STUTTER`` cannot match (most sentences): skips the costly pattern.

    A stutter is a word, then separators, then the same word again, and the first word
    ends where its run of letters and apostrophes ends; so (ASCII text) some run must
    start with a tail of the run before it (the whole run, or what follows an
    apostrophe). Non-ASCII text always runs the pattern: case-insensitive matching
    there is wider than ``lower()``.
    """
    if not text.isascii():
        return True
    runs = _WORD_RUN.findall(text.lower())
    for before, after in itertools.pairwise(runs):
        # The pattern leaves number words ("four four") and single letters ("S S") alone.
        if (after.startswith(before) and before not in _NUMBER_WORD_SET
                and (len(before) > 1 or before == "i")):
            return True
        if "'" in before and any(after.startswith(tail) for tail in before.split("'")[1:]
                                 if tail):
            return True
    return False


def _spans(pattern: re.Pattern[str] | CaseFree, text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), text[m.start():m.end()].strip(" ,."))
            for m in pattern.finditer(text)]


def find_items(text: str) -> list[tuple[int, int, KeyItem]]:
    """Key items of ``text`` with their spans, longest match first, no overlaps."""
    found: list[tuple[int, int, KeyItem]] = []
    lower = text.lower()
    tokens = _TOKEN.findall(lower)
    words = frozenset(tokens)
    # Cheap word checks decide which patterns can match at all: most sentences of a call
    # carry no number, date or address, and the patterns are the per-turn cost.
    digit = _DIGIT.search(text) is not None
    numeric = digit or not words.isdisjoint(_NUMBER_WORD_SET)
    taken: list[tuple[int, int]] = []

    def claim(kind: str, spans: list[tuple[int, int, str]]) -> None:
        for start, end, value in spans:
            if not value or any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append((start, end, KeyItem(kind, value)))

    if "@" in text or ("at" in words and "dot" in words):
        claim("email", _spans(_EMAIL, text))
    if numeric and not words.isdisjoint(_ADDRESS_WORDS):
        claim("address", _spans(_ADDRESS, text))
    if "$" in text or "%" in text or (numeric and not words.isdisjoint(_MONEY_WORDS)):
        claim("money", _spans(_MONEY, text))
    if ":" in text or not words.isdisjoint(_CLOCK_WORDS) or (
            numeric and not words.isdisjoint(_TIME_WORDS)):
        claim("time", _spans(_TIME, text))
    if digit or not words.isdisjoint(_DATE_WORDS):
        claim("date", _spans(_DATE, text))
    if digit:
        claim("identifier", _spans(_CODE, text))
    if sum(1 for token in tokens if len(token) == 1) >= 3:
        claim("spelled", [s for s in _spans(_SPELLED, text) if _is_spelling(s[2])])
    # Both name patterns need a capital letter; lower-case STT text has none.
    cased = lower != text
    for match in _name_cues(text, lower) if cased else ():
        name = match.group(1)
        if name.split()[0].lower() not in _NOT_NAMES:
            claim("name", [(match.start(1), match.end(1), name)])
    # Capitalised words inside a sentence are names in STT output ("Biscuit", "Lisbon").
    for start, end, value in _spans(_CAPITALISED, text) if cased else ():
        named = [w for w in value.split() if w.lower() not in _NOT_NAMES]
        # Sentence-initial capitals are grammar, unless it is a whole name ("Dana Reyes.").
        first_ok = start > 0 or (len(named) >= 2 and len(named) == len(value.split()))
        if first_ok and named and value.split()[0].lower() not in _NOT_NAMES:
            claim("name", [(start, end, value)])
    if numeric:
        claim("number", [s for s in _spans(_NUMBER, text) if _is_number(s[2])])
    found.sort(key=lambda entry: entry[0])
    return found


def _name_cues(text: str, lower: str) -> list[re.Match[str]]:
    """``_NAME_CUE`` matches, skipping the pattern when no cue word is in the text."""
    if plain(text) and _NAME_CUE_WORDS.isdisjoint(_ASCII_WORD.findall(lower)):
        return []
    return list(_NAME_CUE.finditer(text))


def _is_spelling(value: str) -> bool:
    letters = [w for w in re.split(r"[\s.,-]+", value) if len(w) == 1]
    # "I a" is not a spelling; three or more single letters in a row are.
    return len(letters) >= 3


def _is_number(value: str) -> bool:
    words = value.lower().split()
    # A lone "one"/"oh"/"zero" is mostly grammar ("that one", "oh"), not a quantity.
    return not (len(words) == 1 and words[0] in {"one", "oh", "zero", "double", "triple"})


@dataclasses.dataclass(frozen=True, slots=True)
class Sentence:
    """A cleaned sentence and what it carries."""

    text: str
    items: tuple[KeyItem, ...]
    question: bool
    filler: bool
    content_words: int


@functools.lru_cache(maxsize=_ANALYSIS_CACHE)
def analyse_sentence(raw: str) -> Sentence:
    """Clean one sentence and classify it (cached: calls repeat "okay" a lot)."""
    text = clean_disfluencies(raw)
    items = tuple(item for _s, _e, item in find_items(text))
    words = [w.lower() for w in _WORD.findall(text)]
    filler = not items and (all(w in _FILLER_WORDS for w in words)
                            or _call_mechanics(text))
    content = sum(1 for w in _CONTENT_WORD.findall(text) if w.lower() not in _FILLER_WORDS)
    return Sentence(text=text, items=items, question=text.endswith("?"),
                    filler=filler,
                    content_words=content)


def _call_mechanics(text: str) -> bool:
    # The word check rules most sentences out without the pattern; it is exact for ASCII
    # text only (case-insensitive matching is wider than ``lower()`` beyond it).
    if plain(text) and _CALL_MECHANICS_WORDS.isdisjoint(
            _ASCII_WORD.findall(text.lower())):
        return False
    return _CALL_MECHANICS.search(text) is not None


@functools.lru_cache(maxsize=_ANALYSIS_CACHE)
def is_commitment(text: str) -> bool:
    """Whether a (cleaned) sentence takes on or reports an action, or decides something.

    Asked only of sentences that bring no new item: the pattern is the costliest one.
    """
    return _COMMITMENT.search(text) is not None


def _repair_hinted(text: str) -> bool:
    # Substring tests on lower-cased ASCII are the hint pattern's exact equivalent and
    # far cheaper than a case-insensitive scan; other text takes the pattern.
    if not plain(text):
        return _REPAIR_HINT.search(text) is not None
    lower = text.lower()
    return any(word in lower for word in _REPAIR_HINT_WORDS) or (
        "no" in lower and _NO.search(lower) is not None)


@functools.lru_cache(maxsize=_ANALYSIS_CACHE)
def split_repair(text: str) -> tuple[str, str] | None:
    """``(before, after)`` around the last self-repair marker, or ``None``."""
    if not _repair_hinted(text):
        return None
    last = None
    for match in _REPAIR.finditer(text):
        last = match
    if last is None:
        return None
    return text[: last.start()].strip(" ,"), text[last.end():].strip(" ,")
