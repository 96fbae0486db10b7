"""An identifier the agent asked for by type and then wrote back, in any shape.

Speech-to-text garbles spoken identifiers ("a b c uh no sorry a b d one two three four
oh" arrives as "abc no sorry a bd12340"); the agent's reply is written and carries the
clean copy ("Thanks, ABD12340."). ``read_back_ids`` reads the read-back when the agent
names the type in it ("I have member WX23459001"). Agents more often name the type in
the question and write back the bare value: "Policy number please?" ... "Thanks,
ABD12340. Name?". Three things tie the written token to the caller's answer here: the
agent's previous turn asked for that type of number, the caller's answer holds digits,
and the token shares most of its digits, in order, with what the caller said. A token
the agent issues itself ("your new reference is ...") is read by the id rules.
"""

from __future__ import annotations

import difflib
import re

from ._rules_common import TurnView
from ._rules_identity import _ID_TYPES, _id_fact
from ._select import Candidate

__all__ = ["answered_read_backs"]

# "Policy number please?", "What's the ticket number?", "And the reference?"
_ASKED = re.compile(
    rf"\b(?P<type>{_ID_TYPES})(?:\s+(?:{_ID_TYPES}))?\s*(?:number|no\.?|#|id|code)?\s*"
    rf"(?:please|then|again)?\s*\?",
    re.IGNORECASE)
# Letters and digits written as one token, with a digit and at least five characters.
_TOKEN = re.compile(r"\b(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,}[A-Z0-9]\b")
# Clock times, prices and dates are not identifiers.
_NOT_AN_ID = re.compile(r"^\d{1,2}:\d\d$|^\d{1,4}$|^(?:19|20)\d\d$")
#: Least share of the written token's digits the caller's answer must hold, in order.
MIN_DIGIT_MATCH = 0.6


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def answered_read_backs(t: TurnView) -> list[Candidate]:
    """The written copy of an identifier the caller gave in answer to a question naming
    its type (see the module docstring)."""
    if not t.prev_agent or not t.agent:
        return []
    asked = _ASKED.search(t.prev_agent)
    said = _digits(t.user)
    if asked is None or not said:
        return []
    for m in _TOKEN.finditer(t.agent):
        token = m.group(0)
        written = _digits(token)
        if _NOT_AN_ID.match(token) or not written:
            continue
        match = difflib.SequenceMatcher(None, written, said).find_longest_match()
        blocks = sum(b.size for b in difflib.SequenceMatcher(None, written, said)
                     .get_matching_blocks())
        if max(match.size, blocks) / len(written) < MIN_DIGIT_MATCH:
            continue
        return [_id_fact(t, asked.group("type"), token, 0.85, len(t.user) + m.start())]
    return []
