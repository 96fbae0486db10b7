"""Pets named apart from the word that says what they are.

The relation rules (``_rules_people``) read a pet whose name sits next to its kind ("my
dog bruno", "a cat named biscuit"). Callers also say the kind in a clause of its own and
the name elsewhere: "booking rex in for a week, he's a german shepherd", or name two
after a pause: "we just adopted two cats from the rescue, salt and pepper".

- A kind said as "he's / she's a ... <kind>" names the pet the agent writes back with a
  capital ("Solo walks for Rex."), when the caller said that word in the same turn.
- "two <kinds> ..., X and Y": the two words after the pause, when neither is an
  everyday word (or the agent writes them).
- (seventeenth round) the pair said last, without the pause speech-to-text drops: "we
  need the cats vaccinated pepper and salt", "the cats in for august theyre called miso
  and tofu", and children the same way: "my twins are in year five ella and grace", "me
  and the grandkids thats maisie and alfie". The pair must close the sentence, and
  neither word may be an everyday word unless the agent writes it.
"""

from __future__ import annotations

import re

from ._rules_common import TurnView
from ._rules_people import PET_KINDS, agent_written_names, is_common_word
from ._select import Candidate
from ._text import title_name

__all__ = ["PET_RULES"]

_KIND = "|".join(sorted(PET_KINDS, key=len, reverse=True))
_IS_A_KIND = re.compile(
    rf"\b(?:he's|she's|hes|shes|he\s+is|she\s+is)\s+(?:a|an)\s+(?:[a-z]+\s+){{0,2}}?"
    rf"(?P<kind>{_KIND})\b", re.IGNORECASE)
_PLURAL_KINDS = {"dogs": "dog", "cats": "cat", "rabbits": "rabbit", "horses": "horse",
                 "ponies": "pony", "kittens": "cat", "puppies": "dog", "hamsters": "hamster",
                 "birds": "bird", "budgies": "budgie", "guinea pigs": "guinea pig"}
_TWO_NAMED = re.compile(
    r"\b(?:two|2|both)\s+(?P<kinds>" + "|".join(sorted(_PLURAL_KINDS, key=len, reverse=True))
    + r")\b[^,.;!?]{0,30},\s*(?P<a>[a-z][a-z'-]+)\s+and\s+(?P<b>[a-z][a-z'-]+)\b",
    re.IGNORECASE)


# Children named as a pair: the fact says who they are to the caller.
_PLURAL_PEOPLE = {"twins": "child", "kids": "child", "children": "child", "boys": "son",
                  "girls": "daughter", "sons": "son", "daughters": "daughter",
                  "grandkids": "grandchild", "grandchildren": "grandchild"}
_GROUPS = {**_PLURAL_KINDS, **_PLURAL_PEOPLE}
_PAIR_LAST = re.compile(
    r"\b(?:my|our|the|two|both|me\s+and\s+the)\s+(?P<kinds>"
    + "|".join(sorted(_GROUPS, key=len, reverse=True))
    + r")\b(?P<between>[^.;!?]{0,50}?)\s(?P<a>[a-z][a-z'-]+)\s+and\s+(?P<b>[a-z][a-z'-]+)"
    r"\s*(?:[.;!?]|$)", re.IGNORECASE)
# "the cats need their food and water", "my kids love fish and chips": what closes the
# sentence is not a name when the word before it makes it a thing had, done or liked.
_NOT_NAMES = re.compile(
    r"\b(?:their|his|her|your|some|any|with|of|for|the|a|an|love|loves|like|likes|want|"
    r"wants|need|needs|eat|eats|prefer|prefers|hate|hates|have|has|get|gets|enjoy|enjoys|"
    r"play|plays|do|does|drink|drinks|and|or)$", re.IGNORECASE)


def _species(kind: str) -> str:
    return PET_KINDS[kind.lower()]


def pets_named_apart(t: TurnView) -> list[Candidate]:
    """A pet's kind and its name said apart (see the module docstring)."""
    out: list[Candidate] = []
    low = t.user.lower()
    for m in _IS_A_KIND.finditer(t.user):
        written = [w for w in agent_written_names(t.agent)
                   if not is_common_word(w) and re.search(rf"\b{re.escape(w)}\b",
                                                           low[:m.start()])
                   # "hi its tess we're dropping rolo off": the caller is not the pet
                   and not re.search(rf"\b(?:its|it's|i'm|im|this\s+is|name\s+is|names)\s+"
                                     rf"{re.escape(w)}\b", low)]
        if len(written) == 1:
            out.append(t.candidate(f"Has a {_species(m.group('kind'))} named "
                                   f"{title_name(written[0])}", "note", None, 0.7, m.start()))
    for m in _TWO_NAMED.finditer(t.user):
        names = [m.group("a").lower(), m.group("b").lower()]
        capitals = agent_written_names(t.agent)
        if all(not is_common_word(n) or n in capitals for n in names):
            kind = _PLURAL_KINDS[m.group("kinds").lower()]
            out.extend(t.candidate(f"Has a {kind} named {title_name(n)}", "note", None, 0.7,
                                   m.start("a") + i) for i, n in enumerate(names))
    if out or not any(g in low for g in _GROUPS):
        return out
    capitals = agent_written_names(t.agent)
    for m in _PAIR_LAST.finditer(t.user):
        names = [m.group("a").lower(), m.group("b").lower()]
        if (_NOT_NAMES.search(m.group("between")) or names[0] == names[1]
                or not all(not is_common_word(n) or n in capitals for n in names)):
            continue
        group = m.group("kinds").lower()
        for i, n in enumerate(names):
            if group in _PLURAL_KINDS:
                text = f"Has a {_PLURAL_KINDS[group]} named {title_name(n)}"
            else:
                # worded as the relation rules word a named relative, so the two merge
                text = f"{_PLURAL_PEOPLE[group].capitalize()} is named {title_name(n)}"
            out.append(t.candidate(text, "note", None, 0.65, m.start("a") + i))
    return out


PET_RULES = (pets_named_apart,)
