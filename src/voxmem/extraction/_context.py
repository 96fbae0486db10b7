"""What the agent just asked for: a bare answer after "what's your PIN?" is a PIN.

Callers rarely repeat the question's words. After "can you read me the code we just
texted you?" the answer is "okay uh four eight two nine one six"; after "and the three
digits on the back?" it is "eight two six". The plain detector cannot know those digits
are secret, so this module looks at the agent's previous words, decides what (if
anything) was asked for, and finds the value in the caller's answer: a run of digits,
spoken or written, with letters allowed where ids have them ("k one two three ...").
"""

from __future__ import annotations

import re

from ._cards import luhn_valid
from ._text import word_set

__all__ = ["asked_for", "card_begun", "find_answer_values", "find_echoes", "is_short_wait",
           "left_open"]

# What the agent asked for, by category. Checked against the agent's last sentences.
_ASKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("payment_card", re.compile(
        r"\b(?:card\s+number|long\s+number|number\s+on\s+(?:the\s+)?(?:front\s+of\s+)?"
        r"(?:your\s+|the\s+)?card|card\s+details|(?:credit|debit)\s+card|card\s+you'?d\s+like|"
        r"expiry|expiration)\b")),
    ("password_pin", re.compile(
        r"\b(?:pin|pins|pin\s+number|passcode|password|pass\s+code|security\s+(?:code|answer|"
        r"question|pin)|cvv|cvc|csc|(?:three|four|3|4)[\s-]digit|digits\s+on\s+the\s+back|"
        r"code\s+on\s+the\s+back|verification\s+code|one[\s-]time\s+(?:code|passcode|password|"
        r"pin)|(?:the\s+)?code\s+(?:we|i)\s+(?:just\s+)?(?:sent|texted|emailed)|"
        r"code\s+(?:that\s+)?(?:we|i)\s+(?:just\s+)?(?:sent|texted)|code\s+(?:from|in)\s+the\s+"
        r"(?:text|message|email|sms)|read\s+(?:it|that|the\s+code|me\s+the\s+code)\s+back|"
        r"(?:six|6|five|5)[\s-]digit\s+code|maiden\s+name|access\s+code|gate\s+code|"
        r"door\s+code|alarm\s+code)\b")),
    ("government_id", re.compile(
        r"\b(?:social\s+security|social|ssn|passport|licen[cs]e\s+number|driver'?s?\s+licen[cs]e|"
        r"document\s+number|travel\s+document|national\s+insurance|tax\s+id|itin|id\s+number|"
        r"national\s+id)\b")),
)
# The caller's own words that stop right before a secret ("my pin is", "the card number
# is uh"): speech-to-text cut the turn there, and the secret opens the next one.
_LEFT_OPEN: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (category, re.compile(r"\b(?:" + words + r")(?:\s+(?:number|code))?\s*(?:is|'s|are|:)?"
                          r"(?:\s+(?:uh|um|erm|er|it's))*[\s,.:;…-]*$"))
    for category, words in (
        ("payment_card", r"card\s+number|card|long\s+number|card\s+details"),
        ("password_pin", r"pin|passcode|password|pass\s+code|cvv|cvc|security\s+code"),
        ("government_id", r"social\s+security|social|ssn|passport|licen[cs]e")))
# The sentence must ask: a question or a request, not "your PIN has been reset".
_REQUEST = re.compile(
    r"\?|\b(?:can|could|would|will|please|what's|what\s+is|whats|go\s+ahead|read|tell|"
    r"give|say|provide|enter|need|confirm|verify|may\s+i|let\s+me\s+have|ready|i'll\s+need|"
    r"and\s+the)\b")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# Agent turns that only keep the line open while the caller finds the card or the text.
_WAIT = re.compile(
    r"^(?:(?:sure|okay|ok|no\s+problem|no\s+rush|of\s+course|take\s+your\s+time|"
    r"i'll\s+wait|i'll\s+hold|whenever\s+you're\s+ready|go\s+ahead|mm-?hmm|alright|right)"
    r"[\s,.!]*)+$")

_DIGIT_WORDS = {"zero": 1, "oh": 1, "o": 1, "one": 1, "two": 1, "three": 1, "four": 1,
                "five": 1, "six": 1, "seven": 1, "eight": 1, "nine": 1, "ten": 2,
                "eleven": 2, "twelve": 2, "thirteen": 2, "fourteen": 2, "fifteen": 2,
                "sixteen": 2, "seventeen": 2, "eighteen": 2, "nineteen": 2, "twenty": 2,
                "thirty": 2, "forty": 2, "fifty": 2, "sixty": 2, "seventy": 2, "eighty": 2,
                "ninety": 2, "hundred": 2, "double": 0, "triple": 0}
_FILLER = frozenset({"uh", "um", "uhm", "er", "erm", "ah", "hmm", "and", "dash", "space"})
_TOKEN = re.compile(r"[a-z0-9']+")
# Words before a number that say it is not the secret that was asked for.
_OTHER_NUMBER = re.compile(
    r"\b(?:account|order|ticket|invoice|phone|cell|mobile|zip|postcode|post\s+code|"
    r"reference|confirmation|tracking|policy|member|extension|room|unit|apartment|"
    r"flight|booking)\b[^.?!]{0,20}$")
_SECRETISH_BEFORE = re.compile(r"\b(?:pin|code|password|passcode|card|cvv|social|passport)\b")
_GIVING_UP = re.compile(
    r"\b(?:don't|dont|do\s+not|can't|cant|not|forgot|forget|remember|reset|why|what|how|"
    r"hold\s+on|hang\s+on|wait|one\s+sec|second|minute|no\s+idea|no\s+clue|dunno|sorry|"
    r"unsure)\b|\?")
_PASSWORD_INTRO = re.compile(
    r"^(?:(?:yeah|yes|sure|okay|ok|so|um|uh|right|alright)[\s,]+)*"
    r"(?:(?:it's|its|it\s+is|it\s+should\s+be|that'd\s+be|that's|my\s+password\s+is|"
    r"the\s+password\s+is|try|let's\s+do|lets\s+do|let's\s+go\s+with|lets\s+go\s+with|"
    r"let's\s+make\s+it|lets\s+make\s+it|make\s+it|go\s+with|how\s+about|use)\s+)?"
    r"(?:(?:uh|um|er|erm|ah)[\s,]+)*")
# Words of a reply that is not a secret: an answer to "would you like a PIN?".
_PLAIN_REPLY = word_set(
    """yes yeah yep no nope ok okay sure please thanks thank you not now later go ahead fine
    alright right that's great good perfect maybe i think so don't need one it""")
_MIN_DIGITS = {"payment_card": 3, "password_pin": 3, "government_id": 4}
# A bare password answer is short; a long reply is talk, not the password.
_MAX_PASSWORD_WORDS = 6


def asked_for(agent_text: str) -> str | None:
    """The category the agent's last two sentences asked the caller for, if any."""
    low = agent_text.lower()
    sentences = [m.group() for m in _SENTENCE.finditer(low) if m.group().strip()][-2:]
    for sentence in reversed(sentences):
        if not _REQUEST.search(sentence):
            continue
        for category, pattern in _ASKS:
            if pattern.search(sentence):
                return category
    return None


def left_open(user_text: str) -> str | None:
    """The category the caller's words stop just before ("... and my pin is"), if any.

    Found by probing: "my pin is" in one turn and "1234" in the next stored the PIN,
    since neither turn alone says it is one.
    """
    tail = user_text.lower()[-80:]
    for category, pattern in _LEFT_OPEN:
        if pattern.search(tail):
            return category
    return None


# A turn that ends in the first digits of a card ("my card is 4111 1111"): speech-to-text
# cut the number, and the rest opens the next turn. 6 digits at least ("ending in 4242"
# is what agents read back), fewer than a card's 13 unless they fail its checksum.
_CARD_TAIL = re.compile(r"(?P<digits>\d(?:[ .-]?\d){5,18})[\s,.…-]*$")
_CARD_WORD = re.compile(r"\bcards?\b")


def card_begun(user_text: str) -> tuple[int, int] | None:
    """Where the caller's turn ends in the beginning of a card number, if it does.

    Found by probing: "my card is 4111 1111" and "1111 1111" in the next turn were
    stored as two halves, each too short to be a card.
    """
    m = _CARD_TAIL.search(user_text[-120:])
    if m is None:
        return None
    offset = max(0, len(user_text) - 120)
    start, end = m.start("digits") + offset, m.end("digits") + offset
    digits = "".join(ch for ch in user_text[start:end] if ch.isdigit())
    before = user_text[max(0, start - 60):start].lower()
    if not _CARD_WORD.search(before) or _OTHER_NUMBER.search(before):
        return None
    if len(digits) >= 13 and luhn_valid(digits):
        return None  # a whole card: the detector has it, nothing is left open
    return start, end


def is_short_wait(agent_text: str) -> bool:
    """Whether the agent only held the line ("no rush, take your time")."""
    return bool(_WAIT.match(agent_text.lower().strip()))


def _value_runs(low: str, category: str) -> list[tuple[int, int, str]]:
    """Runs of digit-like tokens: ``(start, end, digits-or-text)``."""
    tokens = list(_TOKEN.finditer(low))
    runs: list[tuple[int, int, str]] = []
    i = 0
    while i < len(tokens):
        run: list[re.Match[str]] = []
        weight = 0
        j = i
        while j < len(tokens):
            word = tokens[j].group()
            if any(c.isdigit() for c in word):
                weight += sum(c.isdigit() for c in word)
            elif word in _DIGIT_WORDS:
                weight += _DIGIT_WORDS[word]
            elif len(word) == 1 and category != "password_pin" and word not in ("i", "a"):
                pass  # a spelled letter of an id: "k one two three"
            elif word in _FILLER and run:
                pass
            else:
                break
            run.append(tokens[j])
            j += 1
        while run and (run[-1].group() in _FILLER or run[-1].group() in ("double", "triple")):
            run.pop()
        if run and weight >= _MIN_DIGITS[category]:
            start, end = run[0].start(), run[-1].end()
            if not (_OTHER_NUMBER.search(low, max(0, start - 40), start)
                    and not _SECRETISH_BEFORE.search(low, max(0, start - 40), start)):
                runs.append((start, end, _digits_of(low[start:end])))
        i = max(j, i + 1)
    return runs


def _digits_of(value: str) -> str:
    words = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3",
             "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
    return "".join(words.get(t, t if t.isdigit() else "") for t in _TOKEN.findall(value))


def find_answer_values(user_text: str, category: str) -> list[tuple[int, int, str]]:
    """Spans of ``user_text`` that answer a request for ``category``, with their digits."""
    low = user_text.lower()
    runs = _value_runs(low, category)
    if category != "password_pin":
        return runs
    # A password need not have digits ("it's bluefish" right after "what's your
    # password?"), and a spoken one mixes words and numbers ("bluefish forty two"): a
    # short answer is the secret, whole, after its lead-in.
    if len(low.split()) > _MAX_PASSWORD_WORDS or _GIVING_UP.search(low):
        return runs
    intro = _PASSWORD_INTRO.match(low)
    start = intro.end() if intro else 0
    value = low[start:].strip(" .,!")
    if not value or all(w in _PLAIN_REPLY for w in value.split()):
        return runs  # "yes please" to "would you like to set up a PIN?" is no password
    begin = low.index(value, start)
    return [(begin, begin + len(value), _digits_of(value))]


def find_echoes(agent_text: str, digits: set[str]) -> list[tuple[int, int]]:
    """Where the agent read a captured value back ("that's 4 8 2 9, correct?")."""
    if not digits:
        return []
    low = agent_text.lower()
    return [(start, end) for start, end, found in _value_runs(low, "password_pin")
            if found and found in digits]
