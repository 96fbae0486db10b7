"""The caller's family name as the agent addresses them: "Thanks, Mr. Abubakar."

An agent that has the caller's account open often greets them by title and family name
before the caller says it ("Hi Mrs. Kaur. The part arrives Thursday."), or asks "Is this
Mr. Ferreira?" and hears "yeah". The agent writes the name, so it is spelled right, which
speech-to-text of a spoken name seldom is.

Only an address counts: a title after a greeting or a thanks at the start of a sentence,
a title at the end of a sentence after a comma ("Booked, Mr. Okafor."), or a question
"is this / am I speaking with / it's Mr. X?" that the caller's next words confirm. A
title elsewhere names someone else ("Mr. Hale will teach him", "with Dr. Sato"), and
"Dr." is never the caller's title here: agents say it of the people they book.

The fact is a *surname* candidate: the selection step joins it to a first name the
caller gave ("its joao" + "Mr. Ferreira" → Joao Ferreira), lets it stand for the name
when there is none, and leaves a full name the caller said alone.
"""

from __future__ import annotations

import re

from ._rules_common import TurnView
from ._rules_people import is_common_word
from ._select import Candidate
from ._text import title_name, word_set

__all__ = ["ADDRESS_RULES"]

# Words before a family name that are not a first name ("mrs pike", "dear ellis").
# Nor is a role ("i'm the account holder anneliese vogt" is not "Holder Anneliese Vogt").
_NOT_FIRST = word_set("""mr mrs ms miss mx dr doctor dear sir madam mister missus myself
names name's called holder owner member customer client patient tenant policyholder""")
# The family name ends the name ("farouk el amin" + "Mr. El Amin" is not "Farouk El").
_NAME_ENDS = r"(?=\s*(?:$|[,.;!?]|(?:and|here|speaking|calling|from|please|thanks)\b))"
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx)\.?\s+(?P<family>[A-Z][A-Za-z'-]*[a-z])"
_GREET = (r"(?:Thanks|Thank\s+you|Hi|Hello|Hey|Morning|Afternoon|Evening|Good\s+(?:morning|"
          r"afternoon|evening)|Yes|Great|Lovely|Perfect|Right|Okay|Ok|Of\s+course|Certainly|"
          r"Welcome(?:\s+back)?|Hiya|Sure|Cheers|Brilliant|Noted|Got\s+it|Sorry)")
_GREETED = re.compile(
    rf"(?:^|[.!?]\s+){_GREET}(?:\s+again)?[,!]?\s+{_TITLE}\b(?!\s+(?:will|is|has|can|said))")
_VOCATIVE_END = re.compile(rf",\s+{_TITLE}\s*[.!]")
# The title and name stay case-sensitive: a capital is what makes "Ferreira" a name.
_ASKED_IF = re.compile(
    rf"(?:\b(?i:is\s+(?:this|that)|am\s+I\s+(?:speaking|talking)\s+(?:with|to)|"
    rf"(?:and\s+)?it's|are\s+you|speaking\s+with)|^(?i:yes|hi|hello),?)\s+{_TITLE}\s*\?")
_CONFIRMS = re.compile(
    r"^(?:(?:yes|yeah|yep|yup|aye|that's|thats|that\s+is|right|correct|speaking|me|it\s+is|"
    r"it's|its|i\s+am|that's\s+me|thats\s+me|mhm|uh\s+huh|um|uh|oh|hi|hello)\b[\s,.!]*)+",
    re.IGNORECASE)


def _first_name(word: str) -> bool:
    return not is_common_word(word) and word not in _NOT_FIRST


def _surname(t: TurnView, family: str, offset: int, confidence: float) -> Candidate:
    # "much obliged. geoffrey lamb" + "Thank you Mr. Lamb.": the caller said the whole name
    # in this turn, and the word before the family name the agent wrote is the first name.
    said = re.search(rf"(?<![\w'])(?:([^\W\d_][\w'-]+)\s+)?([^\W\d_][\w'-]+)\s+"
                     rf"{re.escape(family.lower())}{_NAME_ENDS}", t.user.lower())
    if said and _first_name(said.group(2)):
        # "anna maria lopez": a middle name too, when the word before it is a name as well.
        given = [w for w in said.groups() if w and _first_name(w) and w != family.lower()]
        given = given if len(given) == 2 else [said.group(2)]
        return t.candidate(f"Name is {title_name(' '.join([*given, family]))}", "identity",
                           "name", confidence, offset)
    return t.candidate(f"Surname is {title_name(family)}", "identity", "surname", confidence,
                       offset)


def addressed_by_title(t: TurnView) -> list[Candidate]:
    """A family name the agent addresses the caller by (see the module docstring)."""
    out: list[Candidate] = []
    if "M" in t.agent:
        for m in _GREETED.finditer(t.agent):
            out.append(_surname(t, m.group("family"), len(t.user) + m.start(), 0.75))
        for m in _VOCATIVE_END.finditer(t.agent):
            out.append(_surname(t, m.group("family"), len(t.user) + m.start(), 0.75))
    if "M" in t.prev_agent and _CONFIRMS.match(t.user.strip()):
        asked = _ASKED_IF.search(t.prev_agent)
        if asked:
            out.append(_surname(t, asked.group("family"), 0, 0.75))
    return out


ADDRESS_RULES = (addressed_by_title,)
