"""Rules for who is who in lower-case speech: the caller's name, their people and pets.

Speech-to-text writes "maria lopez", not "Maria Lopez", so capital letters cannot say
what is a name. Two other signals do: the question just asked ("can I have your name?"
makes the answer a name) and the agent's reply, which is written text and capitalises
the names it repeats ("Thanks Maria", "Noted for Biscuit"). A word the agent capitalises
in the middle of a sentence and the caller said is a proper noun.
"""

from __future__ import annotations

import functools
import re

from ._rules_common import TurnView
from ._select import Candidate
from ._text import title_name, word_set

__all__ = ["ASKED_SOMEONE_ELSE", "PEOPLE_RULES", "PET_KINDS", "agent_proper_nouns",
           "agent_written_names", "common_words", "is_common_word"]

# Words that are never a name in these positions. Function words, the verbs and
# adjectives that follow "my dog ..." or answer "your name?", call-centre nouns.
_COMMON = word_set("""
a an the and or but so to of in on at for with from by about as into like than then
that this these those there here it its it's is was are were be been being am do does
did done have has had having get got gets getting go goes going gone went come comes
came make makes made take takes took need needs needed want wants wanted use used say
said know knew think see look call calls called calling ring ringing text email speak
speaking i i'm im me my mine we us our you your yours he him his she her hers they them
their one two three four five six seven eight nine ten just really very only also too
again still yes yeah yep no nope not ok okay sure right well oh um uh hi hello hey
thanks thank please sorry good great fine fair nice new old big small little last
next first second other another same different much many more most some any all both
each every few lot lots bit always never usually sometimes often today tonight
tomorrow yesterday now later soon morning afternoon evening night week month year
monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays
thursdays fridays saturdays sundays weekend weekends who what when where why how which
name names calling account order number phone card home work house car dog cat son
daughter wife husband mum mom dad mother father kids kid boy girl baby brother sister
partner friend family parents pet pets puppy kitten he's she's they're we're i've i'll
i'd can can't cannot could would should will won't don't doesn't didn't isn't wasn't
aren't let's lets gonna wanna gotta kinda maybe actually anyway basically literally
honestly probably definitely totally pretty quite rather even ever back up down out
off over under after before since until while because if though whether either
neither nor yet already almost around away together something anything nothing
everything someone anyone nobody everybody problem issue question help appointment
booking reservation delivery bill payment service plan check change cancel book
sick ill fine busy free available here's that's what's there's who's it'll
eats eat loves love likes hates hate keeps kept stays lives lived turning turned
unwell poorly upset unhappy away asleep awake allergic diabetic deaf blind older younger
retired pregnant late early due out in on ok alright fine better worse there home
maiden checkup check birthday party food bowl bed toy vet walk walks shots vaccine vaccines
surgery school class teacher phone room wedding insurance policy card medication meds
prescription grooming nails teeth passport license licence dinner lunch breakfast
years months weeks days old young age aged hes shes theyre were youre
speaks collects pays drives works picks plays does says helps runs sees travels flies
sleeps looks handles deals sorts signs orders books brings drops
""")
_NAME_TOKEN = re.compile(r"[a-z][a-z'-]*")
# Latin-1 letters too: agents write "Tomás", "Zoë".
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'-]+)\b")
# The agent asked who is calling.
_NAME_ASKED = re.compile(
    r"\b(?:your\s+(?:full\s+|first\s+|last\s+)?name|(?:can|could|may)\s+i\s+(?:have|get|take|"
    r"start\s+with)\s+(?:a\s+)?name|who\s+(?:am\s+i|i'm)\s+speaking\s+(?:with|to)|"
    r"who's\s+calling|who\s+is\s+calling|who\s+is\s+this|what\s+name|name\s+(?:for|on)\s+the|"
    r"name\s+should\s+i|and\s+(?:your\s+)?name|and\s+you\s+are|who\s+do\s+i\s+have|"
    r"who\s+have\s+i\s+got|who's\s+the\s+appointment\s+for|"
    r"who\s+is\s+(?:this|it|the\s+\w+)\s+for|last\s+name|surname|the\s+name\s+(?:please)?)\b|"
    r"(?:^|[.!]\s+)(?:and\s+)?(?:your\s+)?name(?:\s+please)?\s*\?|"
    # "Name and date of birth please?", "Contact name?", "First and last name please."
    r"(?:^|[.!]\s+)(?:and\s+)?(?:your\s+|the\s+)?(?:full\s+|contact\s+|first\s+)?name\s+and\s+|"
    r"\bcontact\s+name\b|\bfirst\s+and\s+last\s+name\b|"
    # "And the name, please?", "Who's the account holder?", "Can I grab a name?", "Who am I
    # talking to?", "What should I call you?"
    r"\bthe\s+name\s*,|\bwho(?:'s|\s+is)\s+the\s+(?:account|policy)\s+holder\b|"
    r"\b(?:grab|get|take)\s+(?:a|your)\s+name\b|\bwho\s+(?:am\s+i|i'm)\s+talking\s+to\b|"
    r"\bwhat\s+(?:should|shall|can)\s+i\s+call\s+you\b|"
    # "What's her name? ... And yours?": only a name-like answer is taken as one.
    r"(?:^|[.!]\s+)and\s+yours\s*\?",
    re.IGNORECASE,
)
_SURNAME_ASKED = re.compile(r"\b(?:surname|last\s+name|family\s+name)\b", re.IGNORECASE)
_WHOLE_NAME_ASKED = re.compile(r"\b(?:first|full|whole)\s+name\b|\bname\s+and\b", re.IGNORECASE)
ASKED_SOMEONE_ELSE = re.compile(
    r"\b(?:his|her|their|(?:your|the)\s+(?:son|daughter|wife|husband|pet|dog|cat|mother|"
    r"father|child|partner|puppy|kitten|horse|pony|rabbit|baby)(?:'s)?)\s+name\b|"
    r"\bpet's\s+name\b", re.IGNORECASE)
# What a caller says before their name.
_LEAD_IN = re.compile(
    r"^(?:(?:yeah|yes|yep|sure|hi|hello|hey|oh|ok|okay|so|well|right|um|uh|sorry|of\s+course|"
    r"sure\s+thing|certainly|absolutely|no\s+problem|that's\s+me|thats\s+me|"
    r"for\s+me|it's\s+for\s+me|it's|its|it\s+is|this\s+is|i'm|im|i\s+am|my\s+name\s+is|"
    r"my\s+name's|name's|the\s+name's|you're\s+speaking\s+with|speaking\s+with|"
    r"put\s+it\s+under(?:\s+the\s+name)?|(?:it|that)\s+should\s+be(?:\s+under)?|"
    r"should\s+be\s+under|(?:it|that)'ll\s+be(?:\s+under)?|under(?:\s+the\s+name)?|it's\s+under|its\s+under|"
    r"call\s+me|my\s+first\s+name\s+is|first\s+name|last\s+name\s+is|surname\s+is|"
    r"last\s+name|surname)[\s,.]+)*",
    re.IGNORECASE,
)
_REPAIR = re.compile(r"\b(?:no\s+sorry|sorry\s+no|no\s+wait|i\s+mean|sorry|no|actually)\s+",
                     re.IGNORECASE)
_SPELLING = re.compile(r"^(?:[a-z]\s+){2,}", re.IGNORECASE)
_FOR_SOMEONE = re.compile(r"^(?:it's\s+)?for\s+my\s+", re.IGNORECASE)


@functools.lru_cache(maxsize=2048)
def agent_proper_nouns(agent: str) -> frozenset[str]:
    """Lower-cased words the agent capitalised mid-sentence (names, places, brands)."""
    return frozenset(m.group(1).lower() for m in _CAPITALISED.finditer(agent)
                     if m.group(1) not in ("I", "I'm", "I'll", "I've", "I'd"))


def common_words() -> frozenset[str]:
    """The everyday words that are never taken for a name."""
    return _COMMON


def is_common_word(word: str) -> bool:
    """Whether ``word`` is an everyday word rather than a name."""
    return word.lower() in _COMMON


_WRITTEN_WORD = re.compile(r"\b[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'-]+\b")
# Capitalised words an agent starts a sentence with that are not names.
_AGENT_OPENERS = word_set("""
perfect noted absolutely certainly lovely brilliant wonderful excellent done booked
welcome morning afternoon evening understood thanks thank got alright cheers of course
sorry apologies hello hi hey great good right sure okay ok yes no will let i'll i've
""")


@functools.lru_cache(maxsize=2048)
def agent_written_names(agent: str) -> frozenset[str]:
    """Words the agent wrote with a capital that may be the caller's name.

    Mid-sentence capitals (:func:`agent_proper_nouns`) and also a sentence's first word
    ("Claire, got it.") unless it is an everyday word or a usual opener ("Perfect").
    """
    return agent_proper_nouns(agent) | frozenset(
        w.lower() for w in _WRITTEN_WORD.findall(agent)
        if w.lower() not in _COMMON and w.lower() not in _AGENT_OPENERS)


def _name_words(text: str, limit: int = 3,
                confirmed: frozenset[str] = frozenset()) -> list[str]:
    words: list[str] = []
    low = text.lower()
    last = None
    for m in _NAME_TOKEN.finditer(low):
        word = m.group()
        if words and last is not None and low[last:m.start()].strip():
            break  # "raj. 17 oak lane": a stop or a number ends the name
        last = m.end()
        # "bill thornton" / "Thanks Bill": an everyday word the agent writes as a name is one.
        if (word in _COMMON and word not in confirmed) or len(word) < 2:
            break
        if word not in words:  # "tanya tanya brooks"
            words.append(word)
        if len(words) == limit:
            break
    return words


def bare_names(t: TurnView) -> list[Candidate]:
    """The caller's name given as the answer to "can I have your name?"."""
    if not _NAME_ASKED.search(t.prev_agent) or ASKED_SOMEONE_ELSE.search(t.prev_agent):
        return []
    answer = t.user.strip()
    if _FOR_SOMEONE.match(answer):
        return []
    # "mike no sorry michael": the repair wins; "o b r i e n obrien": the spelled word.
    parts = _REPAIR.split(answer)
    repaired = _LEAD_IN.sub("", parts[-1].lower(), count=1)
    answer = repaired if len(parts) > 1 and _name_words(repaired) else answer
    answer = _LEAD_IN.sub("", answer.lower(), count=1)
    answer = _SPELLING.sub("", answer)
    # "put it under the harrington wedding my name is lucy harrington"
    named = re.search(r"\bmy\s+name\s+is\s+", answer)
    if named:
        answer = answer[named.end():]
    # "fraser callum fraser": the family name said first, then the whole name.
    said = answer.split()
    if len(said) >= 3 and said[0] == said[2] and said[0].isalpha():
        answer = " ".join(said[1:])
    confirmed = agent_written_names(t.agent)
    # "och aye its morag mcleod" + "Thanks Morag": the name starts where the agent's does.
    # ("delphine moreau" + "Ms. Moreau" keeps both words: the agent's word is among them.)
    words = _name_words(answer, confirmed=confirmed)
    said = answer.split()
    first = next((i for i, w in enumerate(said) if w in confirmed and w not in _COMMON), None)
    if first and not any(w in confirmed for w in words):
        answer = " ".join(said[first:])
        words = _name_words(answer, confirmed=confirmed)
    if not words:
        return []
    if not any(w in confirmed for w in words) and len(answer.split()) > len(words) + 3:
        return []  # a long reply that is not confirmed is talk, not a name
    confidence = 0.85 if any(w in confirmed for w in words) else 0.7
    if len(words) == 1 and _SURNAME_ASKED.search(t.prev_agent) and not _WHOLE_NAME_ASKED.search(
            t.prev_agent):
        # "And your surname?" — "kowalski": the family name, joined to the first name
        # when the selection step has one (a later answer must not replace it).
        return [t.candidate(f"Surname is {title_name(words[0])}", "identity", "surname",
                            confidence, 0)]
    return [t.candidate(f"Name is {title_name(' '.join(words))}", "identity", "name",
                        confidence, 0)]


def spelled_names(t: TurnView) -> list[Candidate]:
    """A name corrected or confirmed by spelling: "no sorry cathy with a c".

    At the start of the turn it stands alone; later in the turn ("i'm clara no claire
    sorry claire with an i") the agent must write the name back.
    """
    m = _SPELLED_NAME.match(t.user.strip())
    if m and not is_common_word(m.group("name")):
        return [t.candidate(f"Name is {title_name(m.group('name'))}", "identity", "name",
                            0.8, m.start())]
    confirmed = agent_written_names(t.agent)
    found = [w for w in _SPELLED_ANYWHERE.findall(t.user)
             if w.lower() in confirmed and not is_common_word(w)]
    if not found:
        return []
    return [t.candidate(f"Name is {title_name(found[-1])}", "identity", "name", 0.8, 0)]


# --- people and pets ---------------------------------------------------------------------

_RELATION_WORDS = {
    "dog": "dog", "puppy": "dog", "pup": "dog", "cat": "cat", "kitten": "cat",
    "kitty": "cat", "horse": "horse", "pony": "pony", "rabbit": "rabbit", "bunny": "rabbit",
    "parrot": "parrot", "bird": "bird", "hamster": "hamster", "tortoise": "tortoise",
    "son": "son", "boy": "son", "daughter": "daughter", "girl": "daughter", "wife": "wife",
    "husband": "husband", "partner": "partner", "fiance": "fiancé", "fiancee": "fiancée",
    "mother": "mother", "mum": "mum", "mom": "mom", "mam": "mum", "father": "father",
    "dad": "dad", "brother": "brother", "sister": "sister", "grandson": "grandson",
    "granddaughter": "granddaughter", "grandma": "grandmother", "grandmother": "grandmother",
    "grandpa": "grandfather", "grandfather": "grandfather", "nephew": "nephew",
    "niece": "niece", "aunt": "aunt", "uncle": "uncle", "carer": "carer",
    "caregiver": "caregiver", "spaniel": "dog", "labrador": "dog", "lab": "dog",
    "beagle": "dog", "terrier": "dog", "poodle": "dog", "collie": "dog",
    "retriever": "dog", "shepherd": "dog", "husky": "dog", "dachshund": "dog",
    "missus": "wife", "wifey": "wife", "hubby": "husband",
    "lad": "son", "lass": "daughter",
    "fiancé": "fiancé", "boyfriend": "boyfriend", "girlfriend": "girlfriend",
    "stepson": "stepson", "stepdaughter": "stepdaughter", "stepmum": "stepmother",
    "stepmom": "stepmother", "stepdad": "stepfather", "cousin": "cousin",
    "grandkid": "grandchild", "grandchild": "grandchild", "goddaughter": "goddaughter",
    "godson": "godson", "flatmate": "flatmate", "roommate": "roommate",
    "mother in law": "mother-in-law", "mother-in-law": "mother-in-law",
    "father in law": "father-in-law", "father-in-law": "father-in-law",
    "sister in law": "sister-in-law", "brother in law": "brother-in-law",
    "son in law": "son-in-law", "daughter in law": "daughter-in-law", "nanny": "nanny",
    "childminder": "childminder", "babysitter": "babysitter",
    "boss": "boss", "landlord": "landlord", "landlady": "landlady", "neighbour": "neighbour",
    "neighbor": "neighbor", "colleague": "colleague", "cockapoo": "dog", "cavapoo": "dog",
    "labradoodle": "dog", "pug": "dog", "greyhound": "dog", "whippet": "dog",
    "chihuahua": "dog", "bulldog": "dog", "corgi": "dog", "westie": "dog", "schnauzer": "dog",
    "rottweiler": "dog", "boxer": "dog", "staffie": "dog", "doodle": "dog", "budgie": "bird",
    "cockatiel": "bird", "ferret": "ferret", "gecko": "gecko", "snake": "snake",
    "lizard": "lizard", "goat": "goat", "donkey": "donkey", "shih tzu": "dog",
    "jack russell": "dog", "dalmatian": "dog", "pomeranian": "dog", "yorkie": "dog",
    "lurcher": "dog", "bichon": "dog", "cavalier": "dog", "vizsla": "dog", "weimaraner": "dog",
    "springer": "dog", "cocker": "dog", "maltese": "dog", "sheepdog": "dog", "mare": "horse",
    "gelding": "horse", "stallion": "horse", "guinea pig": "guinea pig", "tortie": "cat",
    "grandad": "grandfather", "granddad": "grandfather", "gramps": "grandfather",
    "nan": "grandmother", "nana": "grandmother", "nanna": "grandmother", "gran": "grandmother",
    "granny": "grandmother",
}
_PLURALS = {"dogs": "dog", "cats": "cat", "kids": "child", "children": "child",
            "sons": "son", "daughters": "daughter", "twins": "twin", "horses": "horse",
            "rabbits": "rabbit", "kittens": "cat", "puppies": "dog", "boys": "son",
            "girls": "daughter", "grandkids": "grandchild", "grandchildren": "grandchild"}
_PETS = frozenset({"dog", "cat", "horse", "pony", "rabbit", "parrot", "bird", "hamster",
                   "tortoise"})
_REL = "|".join(sorted({*_RELATION_WORDS, *_PLURALS}, key=len, reverse=True))
# "my dog bruno", "our cat's called pepper", "my son's name is aiden", "my wife she's
# called mei", "for my horse dancer", "two dogs max and ruby".
_MY_REL = re.compile(
    rf"\b(?P<own>my|our|me|the)\s+(?:(?:little|wee|old|eldest|youngest|oldest|younger|older|"
    rf"new|baby|other|two|three|rescue|german|golden|big|service|guide|therapy|assistance|ex|"
    rf"late|former|"
    rf"\w+-year-old)\s+)*(?P<rel>{_REL})"
    rf"(?:'s|s(?=\s+name))?\s+(?:(?:name\s+is|name's|names|is\s+called|is\s+named|called|named|she's\s+called|"
    rf"he's\s+called|who's\s+called|is)\s+)?(?P<names>[a-z][a-z' -]{{1,40}})",
    re.IGNORECASE,
)
_HAVE_N = re.compile(
    rf"\b(?:(?:i\s+have|i've\s+got|we\s+have|we've\s+got|got)\s+)?(?:two|three|\d)\s+"
    rf"(?P<rel>{_REL})\s+(?:called\s+|named\s+)?(?P<names>[a-z][a-z' -]{{1,40}})",
    re.IGNORECASE,
)
# "i've got a cat named biscuit and a dog named rolo": "a" needs the naming word.
_A_REL_NAMED = re.compile(
    rf"\ban?\s+(?:(?:little|wee|old|new|young|rescue|big|service|guide)\s+)?(?P<rel>{_REL})\s+"
    rf"(?:named|called)\s+(?P<names>[a-z][a-z'-]*(?:\s+and\s+(?!an?\s)[a-z][a-z'-]*)?)",
    re.IGNORECASE)
_SPECIES_AFTER = re.compile(
    r"^\s*(?:he's|she's|hes|shes|is|it's)\s+(?:a|an|my)\s+(?P<breed>(?:[a-z]+\s+){0,2}"
    r"(?:dog|cat|puppy|kitten|horse|rabbit|parrot|beagle|spaniel|labrador|terrier|poodle|"
    r"collie|shepherd|retriever|bulldog|husky|tabby))\b", re.IGNORECASE)


# "...add my partner to the account his name is theo": the name comes after the relation.
_THEIR_NAME = re.compile(
    r"\b(?:his|her|their)\s+name(?:'s|\s+is|s)\s+(?P<names>[a-z][a-z' -]{1,40})|"
    r"\b(?:he's|she's|hes|shes)\s+called\s+(?P<names2>[a-z][a-z' -]{1,40})",
    re.IGNORECASE)
_LAST_REL = re.compile(rf"\b(?:my|our|me|a|the)\s+(?:(?:new|little|old|baby|teenage|eldest|"
                       rf"youngest|oldest|younger|older|elderly|late)\s+)?(?P<rel>{_REL})"
                       rf"(?:'s|s)?\b", re.IGNORECASE)
_THEIR_NAME_LEAD = re.compile(
    r"^(?:(?:his|her|their|its|the\s+\w+'s)\s+name(?:'s|s|\s+is)|(?:he's|she's|hes|shes|"
    r"it's|its)\s+(?:called|named))\s+", re.IGNORECASE)
# "what's your son's name?" / "and your pet's name?": the answer names that person.
# (Possessive relation words, "my missus's car", are matched by the optional 's.)
_ASKED_THEIR_NAME = re.compile(
    rf"\b(?:your|the)\s+(?P<rel>{_REL}|pet)(?:'s|s)\s+name\b", re.IGNORECASE)
# "its for pickle my shih tzu", "about rufus our collie": the name first, then the pet.
#: Words for a pet, and the kind each names ("spaniel" → "dog").
PET_KINDS = {w: r for w, r in _RELATION_WORDS.items() if r in _PETS}
_PET_WORDS = "|".join(sorted(PET_KINDS, key=len, reverse=True))
_NAME_THEN_PET = re.compile(
    rf"\b(?:for|it's|its|about|with|bringing|booking)\s+(?P<name>[a-z][a-z'-]+)\s*,?\s+"
    rf"(?:my|our)\s+(?:little\s+|old\s+|new\s+)?(?P<rel>{_PET_WORDS})\b", re.IGNORECASE)
# "His name?", "And what are their names?", "What's she called?": whose, the turn before says.
_ASKED_PRONOUN_NAME = re.compile(
    r"\b(?:(?:his|her|their)\s+names?|what(?:'s|\s+is|\s+are)\s+(?:he|she|they)\s+called)\b",
    re.IGNORECASE)
# "cathy with a c", "no sorry it's claire with an i": a name being spelled out.
_SPELLED_NAME = re.compile(
    r"^(?:(?:no|sorry|no\s+sorry|it's|its|actually|oh)[\s,]+)*(?P<name>[a-z]{2,})\s+"
    r"(?:with\s+an?\s+[a-z]\b|spelled|spelt)", re.IGNORECASE)


_SPELLED_ANYWHERE = re.compile(r"\b([a-z]{2,})\s+(?:with\s+an?\s+[a-z]\b|spelled|spelt)",
                               re.IGNORECASE)


def _names_in(raw: str, confirmed: frozenset[str], *, asked: bool = False) -> list[str]:
    """Names at the start of ``raw``: "max and ruby shes limping" → ["max", "ruby"].

    ``asked``: the agent asked for the name, so "winifred" or "ted" is one though it ends
    like a verb."""
    names: list[str] = []
    for part in re.split(r"\s+and\s+|\s*,\s*", raw.strip(), maxsplit=3)[:3]:
        words = part.split()
        if not words:
            break
        word = words[0].strip("'").lower()
        if word.endswith("'s"):
            word = word[:-2]
        if not word.isalpha() or len(word) < 2 or (word in _COMMON and word not in confirmed):
            break
        if word not in confirmed and word.endswith(("ing", "ed", "ly", "es")) and not (
                asked and len(words) <= 2):
            break  # "my mother is flying", "my dog needs": verbs, not names
        names.append(word)
        if len(words) > 1:
            break  # the name was followed by more words, not by "and <name>"
    return names


def relations(t: TurnView) -> list[Candidate]:
    """People and pets the caller names: "my dog bruno", "my daughter karen picks up"."""
    out: list[Candidate] = []
    confirmed = agent_proper_nouns(t.agent)
    for pattern in (_MY_REL, _HAVE_N, _A_REL_NAMED):
        for m in pattern.finditer(t.user):
            rel_word = m.group("rel").lower()
            rel = _RELATION_WORDS.get(rel_word) or _PLURALS.get(rel_word, rel_word)
            found = _names_in(m.group("names"), confirmed)
            named = re.search(r"\b(?:called|named|name)\b", m.group())
            # "my wife is vegan" describes her; only a word the agent wrote as a name is one.
            connector = m.group(0)[: m.start("names") - m.start()]
            # "my husband's vegetarian" is "husband is", or his thing: never a name by itself.
            if not named and re.search(r"(?:\sis|'s)\s+$", connector):
                found = [n for n in found if n in confirmed]
            # "my sons birthday" is a possessive; "my kids emma and jack" names two.
            if pattern is _MY_REL and not named and len(found) < 2 and (
                    rel_word in _PLURALS or m.group().lower().startswith("the")):
                continue
            for name in found:
                # An unconfirmed lower-case word is a name only if it is not everyday talk.
                confidence = 0.8 if name in confirmed else 0.6
                title = title_name(name)
                if rel in _PETS:
                    text = f"Has a {rel} named {title}"
                elif rel in ("child", "twin"):
                    text = f"Has a child named {title}"
                else:
                    text = f"{rel.capitalize()} is named {title}"
                out.append(t.candidate(text, "note", None, confidence, m.start()))
    for m in _NAME_THEN_PET.finditer(t.user):
        name = m.group("name").lower()
        if name in _COMMON and name not in confirmed:
            continue
        rel = _RELATION_WORDS[m.group("rel").lower()]
        out.append(t.candidate(f"Has a {rel} named {title_name(name)}", "note", None,
                               0.8 if name in confirmed else 0.65, m.start()))
    asked = _ASKED_THEIR_NAME.search(t.prev_agent)
    rel_word = asked.group("rel").lower() if asked else ""
    several = False
    if not asked and _ASKED_PRONOUN_NAME.search(t.prev_agent):
        # "my greyhound" ... "His name?" / "the cats" ... "What are their names?": the
        # question points back at the last relation the caller named the turn before.
        said = list(_LAST_REL.finditer(t.prev_user))
        if said:
            rel_word = said[-1].group("rel").lower()
            several = rel_word in _PLURALS or " and " in t.user
    if rel_word:
        rel = _RELATION_WORDS.get(rel_word) or _PLURALS.get(rel_word, rel_word)
        answer = _LEAD_IN.sub("", t.user.strip().lower(), count=1)
        # "his names ranger", "she's called pip": the name after its introduction.
        answer = _THEIR_NAME_LEAD.sub("", answer, count=1)
        found = _names_in(answer, confirmed, asked=True)[:3 if several else 1]
        species = _SPECIES_AFTER.match(answer[len(found[0]):]) if found else None
        if species and rel == "pet":
            kind = species.group("breed").split()[-1]
            rel = "dog" if kind not in ("cat", "kitten", "horse", "rabbit", "parrot") else kind
            if kind not in _PETS and kind != "dog":
                rel = "dog"
        for name in found:
            title = title_name(name)
            text = (f"Has a {rel} named {title}" if rel in _PETS or rel == "pet"
                    else f"{rel.capitalize()} is named {title}")
            if species:
                text += f" ({species.group('breed')})"
            out.append(t.candidate(text, "note", None, 0.8, 0))
    for m in _THEIR_NAME.finditer(t.user):
        before = list(_LAST_REL.finditer(t.user, max(0, m.start() - 80), m.start()))
        if not before:
            continue
        rel_word = before[-1].group("rel").lower()
        rel = _RELATION_WORDS.get(rel_word) or _PLURALS.get(rel_word, rel_word)
        for name in _names_in(m.group("names") or m.group("names2"), confirmed)[:1]:
            title = title_name(name)
            text = (f"Has a {rel} named {title}" if rel in _PETS
                    else f"{rel.capitalize()} is named {title}")
            out.append(t.candidate(text, "note", None, 0.75, m.start()))
    return out


PEOPLE_RULES = (bare_names, spelled_names, relations)
