"""A lower-case self-introduction the agent confirms by writing the name back.

"it's erik lindqvist" + "Welcome back Mr. Lindqvist", "please hurry, it's jackie" + "On
the way, Jackie.": speech-to-text gives no capitals, so the introduction counts only
when the agent's written reply has the name. (Split from ``_rules_people``, which reads
the bare answers to "your name?" and the caller's people and pets.)
"""

from __future__ import annotations

import re

from ._rules_common import TurnView
from ._rules_people import (
    ASKED_SOMEONE_ELSE,
    agent_proper_nouns,
    agent_written_names,
    common_words,
)
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
# The same introduction after any word ("friday at eight then its gordon wallace"): only
# with the name written back mid-sentence, where no word before it could be the agent's.
_INTRO_ANYWHERE = re.compile(_INTRO.pattern.replace(
    "(?:^|[,.;!?]", r"(?:\b(?!(?:his|her|their|your|our|my|the|a|an)\b)[a-z']+\s+|^|[,.;!?]", 1),
                             re.IGNORECASE)
_TURN_END = re.compile(r"\s*(?:(?:here|calling|speaking|from|thanks|thank\s+you|by\s+the\s+way)\b|"
                       r"[.!,]|$)", re.IGNORECASE)
# Words that end a name said in lower case ("sophie calling", "tom from the garage").
_AFTER_NAME = word_set("""
calling here speaking from regarding re about again returning ringing down up over back
""")


_BY_RELATION = re.compile(
    r"\b(?:i'm|im|i\s+am|this\s+is)\s+(?:his|her|their)\s+(?:daughter|son|wife|husband|partner|"
    r"carer|mum|mom|mother|dad|father|sister|brother|niece|nephew|neighbour|neighbor|friend|"
    r"grandson|granddaughter)\s+(?P<name>[a-z][a-z'-]+)", re.IGNORECASE)
_TITLES = word_set("mr mrs ms miss mx dr mister missus")


def _surname(word: str, confirmed: frozenset[str]) -> bool:
    """Whether ``word``, said right after a first name, reads as a family name."""
    if word in confirmed:
        return True
    # "locked", "ringing", "really" are not family names; "Reed" is.
    verb_like = word.endswith(("ing", "ly")) or (word.endswith("ed") and not word.endswith("eed"))
    return (word.isalpha() and len(word) >= 2 and word not in _COMMON
            and word not in _AFTER_NAME and not verb_like)


# "hi its lorraine at bright dental", "its kev here from the garage": a name said with
# where the caller rings from needs no write-back; "it's leaking from the roof" is a verb.
_FROM_PLACE = re.compile(r"\s+(?:here\s+|calling\s+|again\s+)?(?:from|at)\s+[a-z]", re.IGNORECASE)
# Or with the caller's own next clause right after it, at the opening of the turn: "hi its
# gwen i find it easier ...", "hi its rob ill be at work".
# A hedge after the word says it was a state, not a name: "hi its broken i think".
_OWN_CLAUSE = re.compile(r"\s+(?!i\s+(?:think|guess|suppose|reckon|believe|mean)\b|i\s+dunno\b|"
                         r"i\s+don't\s+know\b)(?:i|i'm|im|i'll|ill|i've|ive|i'd|id|we|we're|"
                         r"we've|my|our)\s", re.IGNORECASE)


def _from_somewhere(t: TurnView, m: re.Match[str], words: list[str]) -> list[Candidate]:
    if m.start() > 12:
        return []  # only the opening of the turn introduces the caller
    name = words[:1]
    rest = t.user[m.start("name") + len(words[0]):]
    if not _FROM_PLACE.match(rest) and not (
            _OWN_CLAUSE.match(rest) and re.match(r"\W*(?:hi|hiya|hello|hey|yeah|morning|"
                                                 r"afternoon|evening)\b", t.user)):
        if len(words) < 2 or not _FROM_PLACE.match(t.user[m.end():]):
            return []
        name = words[:2]
    if any(not _surname(w, frozenset()) for w in name):
        return []
    return [t.candidate(f"Name is {title_name(' '.join(name))}", "identity", "name", 0.7,
                        m.start())]


# A verb right after the two words: the second is the subject of a new clause.
_VERB_NEXT = re.compile(r"\s+(?!(?:thanks|yes|please|plus|this|his|its|was|as|us)\b)(?:[a-z]{2,}s|"
                        r"is|has|was|does|doesn't|won't|can't|keeps|needs)\b", re.IGNORECASE)


def _named_apart(agent: str, name: list[str], after: str) -> bool:
    """Whether the second word starts a clause of its own, which the agent writes as a name
    without the first or a title: "hi its becky benji pulls like mad" + "Harness only for
    Benji." (the dog)."""
    if not _VERB_NEXT.match(after):
        return False
    low = agent.lower()
    if re.search(rf"\b{re.escape(name[0])}\b", low):
        return False
    return not re.search(rf"\b(?:mr|mrs|ms|miss|dr|mx)\.?\s+{re.escape(name[1])}\b", low)


_ITS = re.compile(r"\W*(?:it's|its|it\s+is)\s", re.IGNORECASE)


def confirmed_intros(t: TurnView) -> list[Candidate]:
    """A lower-case self-introduction the agent confirms by writing the name.

    "it's erik lindqvist" + "Welcome back Mr. Lindqvist": either word written back
    confirms the introduction. A first name said again with a family name ("it's sophie
    calling, sophie turner") gives the full name.
    """
    out: list[Candidate] = []
    # "What's the cat's name?" + "its noodle": the cat's, not the caller's ("its oscar and
    # im his mum claire" still introduces Claire).
    asked_else = bool(ASKED_SOMEONE_ELSE.search(t.prev_agent))
    confirmed = agent_written_names(t.agent)
    written = agent_proper_nouns(t.agent)
    seen: set[int] = set()
    for m in (*_INTRO.finditer(t.user), *_INTRO_ANYWHERE.finditer(t.user)):
        if m.start("name") in seen:
            continue
        seen.add(m.start("name"))
        if asked_else and _ITS.match(t.user, m.start()):
            continue
        anywhere = m.re is _INTRO_ANYWHERE
        words = m.group("name").lower().split()
        if words and words[0] in _TITLES:
            # "it's mrs pike": the title is not a first name; the family name may be the
            # next word of the turn, past the two the pattern took.
            rest = t.user[m.start("name"):].lower().split()
            words = rest[1:3]
        if not words or words[0] in _COMMON or words[0] in _AFTER_NAME:
            continue
        if not any(w in confirmed for w in words[:2]):
            out.extend(_from_somewhere(t, m, words))
            continue
        if anywhere and (words[0] not in written or not (
                _TURN_END.match(t.user[m.end():])
                or _TURN_END.match(t.user[m.start("name") + len(words[0]):]))):
            continue  # mid-turn, "it's X" may be whoever the caller is talking about
        if words[0] not in written and (
                m.start() > 0 or not _surname(words[0], frozenset())):
            # Only a name written mid-sentence ("Thanks Femi") confirms one inside a turn,
            # or a verb: "ok it's leaking" + "Leaking from where?" is the agent's first word.
            continue
        if words[0] not in confirmed and not _surname(words[0], frozenset()):
            continue
        name = words[:2] if len(words) > 1 and _surname(words[1], confirmed) else words[:1]
        if len(name) == 2 and _named_apart(t.agent, name, t.user[m.end():]):
            name = name[:1]
        after = t.user[m.end():].split()
        if len(name) == 2 and after and after[0].lower() == name[0]:
            name = [name[1], name[0]]  # "its patel raj patel": family name first, then both
        elif len(name) == 1:
            again = re.search(rf"\b{re.escape(name[0])}\s+([a-z][a-z'-]+)\b", t.user[m.end():])
            if again and _surname(again.group(1), confirmed):
                name.append(again.group(1))
        out.append(t.candidate(f"Name is {title_name(' '.join(name))}", "identity", "name",
                               0.8, m.start()))
    # "its oscar and im his mum claire": the caller is the one named by the relation; the
    # name said before it is the person they ring for.
    by_relation = _BY_RELATION.search(t.user)
    if by_relation and by_relation.group("name").lower() in confirmed:
        name = title_name(by_relation.group("name").lower())
        out = [c for c in out if c.position[1] > by_relation.start()]
        out.append(t.candidate(f"Name is {name}", "identity", "name", 0.8, by_relation.start()))
    return out


# The caller names themselves in a frame other than "it's" or "i'm" (sixteenth round):
# "you're speaking with hamid", "you've got gregor on the line", "put it down as ingrid",
# "put me down as hartley", "the membership's in my name, tariq", "its for me actually
# aisha", "i'm ringing up its florence" (which the opening "it's X" pattern misses when a
# word it takes for a name, "ringing up", comes first). As for "it's X", the agent must
# write the name back: "you're speaking with a very
# unhappy customer" and "you've got my number" name nobody.
_FRAMED = re.compile(
    r"\b(?:(?:you're|youre|you\s+are)\s+(?:speaking|talking)\s+(?:with|to)"
    r"|(?:you've|youve|you\s+have)\s+got"
    r"|put\s+(?:it|me|that|this|them|us)\s+(?:down\s+)?(?:as|under)(?:\s+the\s+name)?"
    r"|(?:in|under)\s+my\s+name,?"
    r"|(?:it's|its|it\s+is)\s+for\s+me,?(?:\s+actually)?"
    r"|(?:ringing|calling|phoning)(?:\s+up)?,?\s+(?:it's|its|it\s+is))"
    r"\s+(?P<name>[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,2})", re.IGNORECASE)


def framed_intros(t: TurnView) -> list[Candidate]:
    """A name in another introducing frame (above), written back by the agent; with the
    next word when it reads as a family name ("you're speaking with colm brennan")."""
    out: list[Candidate] = []
    if not t.agent:
        return out
    confirmed = agent_written_names(t.agent)
    for m in _FRAMED.finditer(t.user):
        words = m.group("name").lower().split()
        if words and words[0] in _TITLES:
            words = words[1:]  # "you're speaking with mrs okonjo"
        if not words or words[0] in _COMMON or words[0] in _AFTER_NAME:
            continue
        if words[0] not in confirmed and not (
                len(words) > 1 and words[1] in confirmed and _surname(words[0], frozenset())):
            continue  # "colm brennan" + "Good evening Mr. Brennan": either word written
        name = words[:2] if len(words) > 1 and _surname(words[1], confirmed) else words[:1]
        if len(name) == 2 and _named_apart(t.agent, name, t.user[m.end("name"):]):
            name = name[:1]
        out.append(t.candidate(f"Name is {title_name(' '.join(name))}", "identity", "name",
                               0.8, m.start()))
    return out


INTRO_RULES = (confirmed_intros, framed_intros)
