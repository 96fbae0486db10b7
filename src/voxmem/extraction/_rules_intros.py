"""A lower-case self-introduction the agent confirms by writing the name back.

"it's erik lindqvist" + "Welcome back Mr. Lindqvist", "please hurry, it's jackie" + "On
the way, Jackie.": speech-to-text gives no capitals, so the introduction counts only
when the agent's written reply has the name. (Split from ``_rules_people``, which reads
the bare answers to "your name?" and the caller's people and pets.)
"""

from __future__ import annotations

import re

from ._rules_common import TurnView
from ._rules_people import agent_proper_nouns, agent_written_names, common_words
from ._select import Candidate
from ._text import title_name, word_set

__all__ = ["INTRO_RULES"]

_COMMON = common_words()


# "this here is bobby ray", "oh and it's priya by the way": an introduction in lower case
# counts when the agent's reply writes the name with a capital.
# The introduction may also close a turn after a clause break ("please hurry, it's jackie",
# "great. gate code is on the post, i'm phil"), and a name may carry an accent ("tomás").
_INTRO = re.compile(
    r"(?:^|[,.;!?]\s*|\b(?:and|oh|hi|hiya|hey|hello|yeah|yes|yo|no|sorry|morning|afternoon|"
    r"evening|there|yall|y'all|folks|guys|all|great|thanks|much|love|perfect|lovely|cheers|ta|"
    r"brilliant|alright|hiya|morning|please|ok|okay|right|well|thank\s+you|cool|sweet|nice|"
    r"sound|grand|awesome|fab|gracias|obliged|mate|dear|way)[,!]?\s+|^[a-z]+[,!]?\s+)"
    r"(?:it's|its|it\s+is|this\s+is|this\s+here\s+is|i'm|im|my\s+name's|name's|myself)\s+"
    # "i'm her daughter claire": the caller named after the relation they ring for.
    r"(?:(?:his|her|their)\s+(?:daughter|son|wife|husband|partner|carer|mum|mom|dad|sister|"
    r"brother|niece|nephew|neighbour|neighbor|friend)\s+)?"
    r"(?P<name>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*)?)",
    re.IGNORECASE)
# Words that end a name said in lower case ("sophie calling", "tom from the garage").
_AFTER_NAME = word_set("""
calling here speaking from regarding re about again returning ringing down up over back
""")


_TITLES = word_set("mr mrs ms miss mx dr mister missus")


def _surname(word: str, confirmed: frozenset[str]) -> bool:
    """Whether ``word``, said right after a first name, reads as a family name."""
    if word in confirmed:
        return True
    # "locked", "ringing", "really" are not family names; "Reed" is.
    verb_like = word.endswith(("ing", "ly")) or (word.endswith("ed") and not word.endswith("eed"))
    return (word.isalpha() and len(word) >= 2 and word not in _COMMON
            and word not in _AFTER_NAME and not verb_like)


def confirmed_intros(t: TurnView) -> list[Candidate]:
    """A lower-case self-introduction the agent confirms by writing the name.

    "it's erik lindqvist" + "Welcome back Mr. Lindqvist": either word written back
    confirms the introduction. A first name said again with a family name ("it's sophie
    calling, sophie turner") gives the full name.
    """
    confirmed = agent_written_names(t.agent)
    out: list[Candidate] = []
    for m in _INTRO.finditer(t.user):
        words = m.group("name").lower().split()
        if words and words[0] in _TITLES:
            # "it's mrs pike": the title is not a first name; the family name may be the
            # next word of the turn, past the two the pattern took.
            rest = t.user[m.start("name"):].lower().split()
            words = rest[1:3]
        if not words or words[0] in _COMMON or words[0] in _AFTER_NAME:
            continue
        if not any(w in confirmed for w in words[:2]):
            continue
        if words[0] not in agent_proper_nouns(t.agent) and (
                m.start() > 0 or not _surname(words[0], frozenset())):
            # Only a name written mid-sentence ("Thanks Femi") confirms one inside a turn,
            # or a verb: "ok it's leaking" + "Leaking from where?" is the agent's first word.
            continue
        if words[0] not in confirmed and not _surname(words[0], frozenset()):
            continue
        name = words[:2] if len(words) > 1 and _surname(words[1], confirmed) else words[:1]
        after = t.user[m.end():].split()
        if len(name) == 2 and after and after[0].lower() == name[0]:
            name = [name[1], name[0]]  # "its patel raj patel": family name first, then both
        elif len(name) == 1:
            again = re.search(rf"\b{re.escape(name[0])}\s+([a-z][a-z'-]+)\b", t.user[m.end():])
            if again and _surname(again.group(1), confirmed):
                name.append(again.group(1))
        out.append(t.candidate(f"Name is {title_name(' '.join(name))}", "identity", "name",
                               0.8, m.start()))
    return out


INTRO_RULES = (confirmed_intros,)
