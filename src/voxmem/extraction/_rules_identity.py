"""Rules for who the caller is and how to reach them: names, e-mail, phone, numbers, address.

Identifiers are what links a future call to this caller (SPEC §7), so these rules favour
precision: a number becomes a phone only when the words around it say so, a name only
when it is introduced ("my name is", "this is ... calling").
"""

from __future__ import annotations

import difflib
import re

from ._rules_common import TurnView, sentences
from ._select import Candidate
from ._text import normalize_phone, third_person, title_name, word_set

__all__ = ["IDENTITY_RULES", "is_misheard_copy", "read_back_ids"]

# --- names -------------------------------------------------------------------------------

# A name word ends at a word boundary that is not a hyphen: "CLM-2291" is not a name.
_NAME_TOKEN = r"[A-Za-z][A-Za-z']*(?:-[A-Za-z]+)*(?![\w-])"
_NAME = rf"(?P<name>{_NAME_TOKEN}(?:[ \t]+{_NAME_TOKEN}){{0,3}})"
_GREETING = (
    r"(?:(?:hi|hello|hey|yeah|yes|yep|oh|ok|okay|um|uh|so|well|good\s+(?:morning|afternoon|"
    r"evening)|hi\s+there|hello\s+there)[\s,.!]+)*"
)
_MY_NAME = re.compile(
    rf"(?<!his\s)(?<!her\s)(?<!their\s)(?<!its\s)(?<!it's\s)(?<!'s\s)"
    rf"\b(?:my\s+name\s+is|my\s+name's|my\s+names|name\s+is|name's|the\s+name's|"
    rf"i'm\s+called|i\s+am\s+called|full\s+name\s+is)\s+{_NAME}",
    re.IGNORECASE,
)
# "sweet names lee", "thanks names harvey": speech-to-text drops the apostrophe of "name's";
# at the start of a turn, after fillers only, "names" is "name's".
_FILLER_NAMES = re.compile(
    rf"^(?:(?:sweet|cool|okay|ok|yeah|yes|and|oh|right|great|lovely|perfect|thanks|thank\s+you|"
    rf"cheers|ta|hi|hello|hey|um|uh|so|brilliant)\s+)*(?P<lead>names)\s+{_NAME}", re.IGNORECASE)
_OTHERS_NAME = re.compile(r"\b(?:my|our|his|her|their|the)\s+[a-z]+s\s+$", re.IGNORECASE)
_THIS_IS = re.compile(
    rf"^{_GREETING}(?P<intro>this\s+is|it's|its|i'm|i\s+am|im)\s+{_NAME}", re.IGNORECASE
)
_NAME_HERE = re.compile(rf"^{_GREETING}{_NAME}\s*,?\s+(?:here|speaking)\b", re.IGNORECASE)
_UNDER_NAME = re.compile(
    r"\b(?:account|reservation|booking|order|appointment|policy|file)(?:'s|\s+is|\s+should\s+be)?"
    r"\s+under\s+(?:the\s+name\s+(?:of\s+)?|my\s+name,?\s+)?(?P<rest>[^.;!?]{2,60})",
    re.IGNORECASE,
)
_WRITTEN = re.compile(r"\b[A-Z][a-z'-]+\b")
_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-z'\-]+(?:\s+[A-Z][a-z'\-]+){0,2}\b")
_PRONOUNS = re.compile(
    r"\b(?:my\s+pronouns\s+are|i\s+use|i\s+go\s+by)\s+(?P<p>(?:he|she|they|xe|ze)\s*/\s*"
    r"(?:him|her|them|hers|theirs|xem|zir)(?:\s*/\s*\w+)?)",
    re.IGNORECASE,
)
_DATE_OF_BIRTH = re.compile(
    r"\b(?:my\s+)?(?:date\s+of\s+birth|birth\s*date|birthday|dob)\s+(?:is|'s|:)\s+"
    r"(?P<dob>(?:[a-z]+\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?"
    r"[a-z]+,?\s+\d{4}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}))",
    re.IGNORECASE,
)
_FIRST_NAME = re.compile(
    rf"\bfirst\s+name(?:\s+is|'s|\s+is\s+spelled)?[\s,:]+(?P<name>{_NAME_TOKEN})", re.I
)
_LAST_NAME = re.compile(
    rf"\b(?:last\s+name|surname|family\s+name)(?:\s+is|'s)?[\s,:]+(?P<name>{_NAME_TOKEN})", re.I
)
_CALL_ME = re.compile(
    rf"(?<!nobody\s)(?<!no\sone\s)(?<!don't\s)(?<!never\s)(?<!not\s)"
    rf"\b(?:(?:please|just|you\s+can|everyone|everybody|people|friends)\s+)?"
    rf"(?:call|calls)\s+me\s+(?P<name>{_NAME_TOKEN})|\b(?:i\s+go|goes)\s+by\s+"
    rf"(?P<name2>{_NAME_TOKEN})",
    re.IGNORECASE,
)
# Words that end a spoken name ("sandra lee i'm returning your call").
_NAME_STOP = word_set(
    """and i i'm im i've i'd calling call here speaking from but with the about returning
    on please so who that calling, regarding re for just again back at my your a an to
    is was it's its of in from thanks thank hi hello there yes no not okay ok um uh
    sorry spelled spelt"""
)
# Words that follow "this is" / "i'm" and are not names.
_NOT_A_NAME = word_set(
    """the a an my your his her our their this that it about regarding not just so really
    very calling ridiculous crazy unacceptable urgent important frustrating annoying
    insane awful terrible great good fine ok okay sorry still here back trying looking
    going having getting calling wondering done sure afraid happy glad pretty kind sort
    later tomorrow tonight today now at on in with for from to again anytime when before
    after asap any monday tuesday wednesday thursday friday saturday sunday up out off
    over interested new old moving stuck locked unable able free available busy home
    away driving working retired single married pregnant vegetarian vegan one two three
    number gonna actually also only like literally"""
)
_NAME_REPAIR = re.compile(
    rf"\s+(?:no\s+sorry|sorry\s+no|no\s+wait|i\s+mean|sorry|no)\s*,?\s+(?:it's\s+)?"
    rf"(?P<name>{_NAME_TOKEN})", re.IGNORECASE)
_INTRO_FOLLOW = re.compile(r"^\s*,?\s*(?:calling|here|speaking|from|returning)\b", re.I)


def _clean_name(raw: str, require_capital: bool,
                written: frozenset[str] = frozenset()) -> str | None:
    name, _ = _clean_name_count(raw, require_capital, written)
    return name


def _clean_name_count(raw: str, require_capital: bool,
                      written: frozenset[str] = frozenset()) -> tuple[str | None, int]:
    """The name at the start of ``raw`` and how many of its words it used; a word in
    ``written`` (the agent wrote it with a capital) is a name even if it looks like a verb
    or an adverb ("holly", "emily")."""
    words: list[str] = []
    for word in raw.split():
        if word.lower() in _NAME_STOP:
            break
        # "John calling" / "Dana Whitfield i'm ...": once capitalised, stay capitalised.
        if words and words[0][:1].isupper() and not word[:1].isupper():
            break
        words.append(word)
    if not words or words[0].lower() in _NOT_A_NAME or len(words) > 3:
        return None, 0
    if len(words) == 1 and len(words[0]) < 2:
        return None, 0
    if require_capital and not all(w[:1].isupper() for w in words):
        return None, 0
    # Lower-case "ringing", "stuck", "really" are verbs and adverbs, not names.
    if any(w.islower() and w.endswith(("ing", "ed", "ly")) and w not in written
           for w in words):
        return None, 0
    return title_name(" ".join(words)), len(words)


def names(t: TurnView) -> list[Candidate]:
    """"my name is X", "this is X calling", "i'm X Y", "first name X, last name Y"."""
    out: list[Candidate] = []
    agent_words = frozenset(w.lower() for w in _WRITTEN.findall(t.agent))
    for m in (*_MY_NAME.finditer(t.user), *_FILLER_NAMES.finditer(t.user)):
        if _OTHERS_NAME.search(t.user, 0, m.start()) and not m.group(0).lower().startswith("my"):
            continue  # "my sons name is dev": speech drops the apostrophe of "son's"
        raw = m.group("name")
        # "name is mike no sorry michael": the repair is the name.
        repair = _NAME_REPAIR.match(t.user, m.end("name") - len(raw) + len(raw.split()[0]))
        if repair:
            raw = repair.group("name")
        name = _clean_name(raw, require_capital=False, written=agent_words)
        if name:
            out.append(t.candidate(f"Name is {name}", "identity", "name", 0.9, m.start()))
    for offset, sentence in sentences(t.user):
        intro_match = _THIS_IS.match(sentence.lstrip())
        if not intro_match:
            continue
        intro = intro_match.group("intro").lower()
        raw = intro_match.group("name")
        _, used = _clean_name_count(raw, require_capital=False)
        # "this is ridiculous" vs "this is marcus calling": lower case needs the "calling"
        # right after the name.
        rest = " ".join(raw.split()[used:]) + sentence.lstrip()[intro_match.end("name") :]
        followed = used > 0 and bool(_INTRO_FOLLOW.match(rest))
        name = _clean_name(raw, require_capital=not followed)
        if name is None:
            continue
        if intro in ("i'm", "i am", "im") and len(name.split()) < 2 and not followed:
            continue  # "I'm Canadian", "I'm Sorry": one capitalised word is too weak
        out.append(t.candidate(f"Name is {name}", "identity", "name", 0.75, offset))
    for offset, sentence in sentences(t.user):
        here = _NAME_HERE.match(sentence.lstrip())
        if here:
            # Lower-case speech: a name the agent wrote back ("Good morning Mr. Mensah").
            written = {w.lower() for w in _WRITTEN.findall(t.agent)}
            said = here.group("name").lower().split()
            # "hello hamish mcleod here" + "Hello Hamish": either word written back.
            name = _clean_name(here.group("name"),
                               require_capital=not any(w in written for w in said))
            if name:
                out.append(t.candidate(f"Name is {name}", "identity", "name", 0.75, offset))
    for m in _UNDER_NAME.finditer(t.user):
        # "under Okonkwo, Chidi Okonkwo": the fullest capitalised name in the clause.
        runs = [r.group() for r in _CAPITALISED_RUN.finditer(m.group("rest"))]
        runs = [r for r in runs if r.split()[0].lower() not in _NOT_A_NAME]
        if runs:
            name = max(runs, key=lambda r: len(r.split()))
            out.append(t.candidate(f"Name is {title_name(name)}", "identity", "name", 0.7,
                                   m.start()))
    for m in _PRONOUNS.finditer(t.user):
        pronouns = re.sub(r"\s+", "", m.group("p").lower())
        out.append(t.candidate(f"Uses {pronouns} pronouns", "identity", "pronouns", 0.85,
                               m.start()))
    for m in _DATE_OF_BIRTH.finditer(t.user):
        out.append(t.candidate(f"Date of birth is {m.group('dob')}", "identity", "date_of_birth",
                               0.8, m.start()))
    first = _FIRST_NAME.search(t.user)
    last = _LAST_NAME.search(t.user)
    if first and last:
        given = _clean_name(first.group("name"), require_capital=False)
        family = _clean_name(last.group("name"), require_capital=False)
        if given and family:
            at = max(first.start(), last.start())
            out.append(t.candidate(f"Name is {given} {family}", "identity", "name", 0.85, at))
    for m in _CALL_ME.finditer(t.user):
        raw = m.group("name") or m.group("name2")
        nick = _clean_name(raw, require_capital=False)
        # "people call me big mike" + "Big Mike it is": two words the agent writes as one.
        two = re.match(rf"\s+({_NAME_TOKEN})", t.user[m.end():])
        if nick and two and f"{nick} {title_name(two.group(1))}" in t.agent:
            nick = f"{nick} {title_name(two.group(1))}"
        if nick and len(nick.split()) <= 2:
            out.append(
                t.candidate(f"Prefers to be called {nick}", "identity", "preferred_name",
                            0.8, m.start())
            )
    return out


# --- e-mail ------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)


_SPOKEN_AT = re.compile(r"(?:\bat\s+\w+(?:\s+\w+)?\s+dot\s+|@)", re.IGNORECASE)
_EMAIL_ASKED = re.compile(r"\be-?mail\b", re.IGNORECASE)


def emails(t: TurnView) -> list[Candidate]:
    """E-mail addresses the caller gives (spoken forms were rewritten before).

    "b jones eighty two at hotmail dot com" cannot be split into an address from the
    words alone; when the agent reads the address back in writing in the same turn, the
    written form is the one kept.
    """
    out = [
        t.candidate(f"Email is {m.group().lower()}", "contact", "email", 0.95, m.start())
        for m in _EMAIL.finditer(t.user)
    ]
    if out or _SPOKEN_AT.search(t.user_raw) or (
            _EMAIL_ASKED.search(t.prev_agent) and " at " in f" {t.user_raw} "):
        out.extend(
            t.candidate(f"Email is {m.group().lower().rstrip('.')}", "contact", "email", 0.95,
                        len(t.user) + m.start())
            for m in _EMAIL.finditer(t.agent)
        )
    return out


# --- phone numbers -----------------------------------------------------------------------

_PHONE = re.compile(r"(?<![\w+])(?:\+\s?)?\(?\d[\d\s().-]{6,20}\d(?![\w])")
_PLUS_WORD = re.compile(r"\bplus\s+(?=\d)", re.IGNORECASE)
_PHONE_CONTEXT = re.compile(
    # "my mobiles 0791...": speech-to-text drops the apostrophe of "mobile's".
    r"\b(?:numbers?|phones?|cells?|cellphone|mobiles?|landline|reach|call|text|whatsapp|contact|"
    r"digits|line|ring|(?:new|old|other|correct|right)\s+one)\b",
    re.IGNORECASE,
)
_ID_CONTEXT = re.compile(
    r"\b(?:account|acct|order|rewards?|member(?:ship)?|loyalty|invoice|ticket|reference|ref|"
    r"confirmation|tracking|policy|claim|case|card|routing|serial|zip|postcode|model|"
    r"customer|booking|reservation|id)\b[^.!?]{0,25}$",
    re.IGNORECASE,
)


_OTHER_PERSON = re.compile(
    r"\b(?:her|his|their|my\s+(?:wife|husband|partner|son|daughter|mom|mum|mother|dad|father|"
    r"sister|brother|boss|friend|neighbou?r)'s|emergency\s+contact)\b[^.!?]{0,30}$",
    re.IGNORECASE,
)
_EMERGENCY = re.compile(
    r"\bmy\s+emergency\s+contact\s+(?:is|should\s+be|will\s+be)\s+(?P<who>[^,.;!?]{2,40})",
    re.IGNORECASE,
)


def emergency_contacts(t: TurnView) -> list[Candidate]:
    """"my emergency contact is my sister, her number is ..." (a note, not their phone)."""
    m = _EMERGENCY.search(t.user)
    if not m:
        return []
    who = third_person(m.group("who").strip())
    text = f"Emergency contact is {who}"
    number = _PHONE.search(t.user, m.end())
    if number:
        e164 = normalize_phone(number.group(), t.default_country_code)
        if e164:
            text += f" ({e164})"
    return [t.candidate(text, "contact", "emergency_contact", 0.75, m.start())]


def phones(t: TurnView) -> list[Candidate]:
    """Phone numbers the caller gives, normalised to E.164 where possible."""
    text = _PLUS_WORD.sub("+", t.user)
    out: list[Candidate] = []
    for m in _PHONE.finditer(text):
        raw = m.group()
        digits = re.sub(r"\D", "", raw)
        if len(digits) < 10 or len(digits) > 15:
            continue
        before = text[max(0, m.start() - 60) : m.start()]
        if _ID_CONTEXT.search(before):
            continue  # "rewards number is 6002193488" is not a phone
        if _OTHER_PERSON.search(before):
            continue  # "my sister, her number is ..." is not the caller's phone
        if not (_PHONE_CONTEXT.search(before) or _PHONE_CONTEXT.search(t.prev_agent)):
            continue
        e164 = normalize_phone(raw, t.default_country_code)
        if e164 is None:
            continue
        confidence = 0.85 if e164.startswith("+") else 0.7
        out.append(
            t.candidate(f"Phone number is {e164}", "contact", "phone", confidence, m.start())
        )
    return out


# --- account, order, ticket numbers ------------------------------------------------------

_ID_TYPES = (
    r"account|acct|order|invoice|ticket|case|claim|reference|ref|confirmation|booking|"
    r"reservation|policy|membership|member|rewards|loyalty|customer|tracking|work\s+order"
)
# Digit groups read with spaces ("1234 5678 9012"), or one token with at least one digit.
_ID_VALUE = (
    r"(?P<id>\d{2,}(?:[ ]\d{3,})+(?!\d)|"
    r"(?=[A-Za-z0-9-]*\d)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"
)
_ID_SAID = re.compile(
    rf"\b(?P<type>{_ID_TYPES})\s*(?:number|no\.?|num|#|id|code)?\s*"
    # "reference for the last job is ...": what the number is for, between type and value.
    rf"(?:(?:for|on|of)\s+(?:the|my|our|this|that)\s+(?:last\s+|first\s+|old\s+|new\s+)?"
    rf"[a-z]+\s+(?=is\b|was\b))?(?:is|was|:|'s)?\s*"
    rf"(?:#\s*|number\s+)?{_ID_VALUE}",
    re.IGNORECASE,
)
_ID_ASKED = re.compile(
    rf"\b(?:what's|what\s+is|can\s+i\s+(?:get|have)|could\s+i\s+(?:get|have)|do\s+you\s+have|"
    rf"may\s+i\s+have|give\s+me)\s+(?:the|your)\s+(?P<type>{_ID_TYPES})\s*(?:number|no|#|id)?",
    re.IGNORECASE,
)
_ID_ANSWER = re.compile(
    rf"^\s*(?:(?:yes|yeah|yep|sure|ok|okay|so|um|uh)[\s,]+)*(?:it's|its|it\s+is)?\s*"
    rf"(?:#\s*)?{_ID_VALUE}\s*[.!]?\s*$",
    re.IGNORECASE,
)
_ID_BY_AGENT = re.compile(
    rf"\b(?:opened|created|raised|logged|filed|submitted|placed)\s+(?:a\s+|an\s+)?(?:new\s+)?"
    rf"(?P<type>{_ID_TYPES})\s*(?:number|#)?\s*(?:for\s+you\s*)?(?:,|:|is)?\s*(?:#\s*)?"
    rf"{_ID_VALUE}|\byour\s+(?:new\s+)?(?P<type2>{_ID_TYPES})\s*(?:number|#)?\s+is\s+"
    rf"(?:#\s*)?(?P<id2>(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])",
    re.IGNORECASE,
)
# Single-valued identifiers get a slot (a newer account number replaces the old one);
# orders, tickets and invoices accumulate.
_ID_SLOTS = {
    "account": "account_number",
    "acct": "account_number",
    "member": "member_number",
    "membership": "member_number",
    "rewards": "loyalty_number",
    "loyalty": "loyalty_number",
    "customer": "customer_number",
}
_ID_LABEL = {"acct": "account", "ref": "reference", "membership": "member"}


def _id_fact(t: TurnView, id_type: str, value: str, confidence: float, at: int) -> Candidate:
    id_type = re.sub(r"\s+", " ", id_type.lower())
    label = _ID_LABEL.get(id_type, id_type)
    value = value.replace(" ", "") if re.fullmatch(r"[\d ]+", value) else value.upper()
    slot = _ID_SLOTS.get(id_type)
    text = f"{label.capitalize()} number is {value}" if slot else f"Has {label} {value}"
    return t.candidate(text, "identity", slot, confidence, at)


def identifiers(t: TurnView) -> list[Candidate]:
    """Account, order, invoice, ticket and similar numbers that belong to the caller."""
    out: list[Candidate] = []
    for m in _ID_SAID.finditer(t.user):
        if len(m.group("id")) >= 3:
            out.append(_id_fact(t, m.group("type"), m.group("id"), 0.8, m.start()))
    if not out:
        asked = _ID_ASKED.search(t.prev_agent)
        answer = _ID_ANSWER.match(t.user)
        if asked and answer and len(answer.group("id")) >= 3:
            out.append(_id_fact(t, asked.group("type"), answer.group("id"), 0.75, 0))
    for m in _ID_BY_AGENT.finditer(t.agent):
        id_type = m.group("type") or m.group("type2")
        value = m.group("id") or m.group("id2")
        if value and len(value) >= 3:
            # Offset past the caller's words: the agent spoke after them.
            out.append(_id_fact(t, id_type, value, 0.7, len(t.user) + m.start()))
    return out


# "Thanks, I have claim CL773091 open": the agent reads back, in writing, an identifier
# the caller spelled out. Speech-to-text drops or splits digits ("w x two three four five
# nine zero one"); the written read-back is the better copy, as with e-mail addresses.
_READ_BACK = re.compile(
    rf"\b(?:I\s+have|I've\s+got|I\s+can\s+see|I\s+see|I've\s+found|I\s+found|found|"
    rf"pulled\s+up|that's|so\s+that's|[Tt]hanks,|[Tt]hank\s+you,)\s+(?:your\s+|the\s+)?"
    rf"(?P<type>{_ID_TYPES})\s*"
    rf"(?:number|no\.?|#)?\s*(?:#\s*)?(?P<id>(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{{3,}}[A-Z0-9])\b")
_ALNUM = re.compile(r"[^a-z0-9]")


def read_back_ids(t: TurnView) -> list[Candidate]:
    """Identifiers the agent reads back in writing for a type the caller just named."""
    out: list[Candidate] = []
    said = t.user.lower()
    for m in _READ_BACK.finditer(t.agent):
        id_type = m.group("type").lower()
        if id_type not in said and _ID_LABEL.get(id_type, id_type) not in said:
            continue  # the agent found it by other means; nothing the caller said to fix
        c = _id_fact(t, id_type, m.group("id"), 0.85, len(t.user) + m.start())
        out.append(c)
    return out


def is_misheard_copy(c: Candidate, read_back: Candidate) -> bool:
    """Whether ``c`` holds a garbled spoken copy of the identifier in ``read_back``."""
    a = _ALNUM.sub("", c.text.lower().split()[-1])
    b = _ALNUM.sub("", read_back.text.lower().split()[-1])
    if a == b or not a or not any(ch.isdigit() for ch in a):
        return False
    # "609" for "6092248": the spoken copy stopped short (a pause, a comma between groups).
    return (len(a) >= 3 and b.startswith(a)) or difflib.SequenceMatcher(
        None, a, b).ratio() >= 0.7


# --- postal address ----------------------------------------------------------------------

_STREET = (
    r"\d+[a-z]?\s+(?:[a-z]+\s+){1,3}(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|"
    r"boulevard|blvd|way|court|ct|place|pl|terrace|close|crescent|parkway|pkwy|highway|hwy)\b"
    r"(?:[ ,]+(?:apt|apartment|unit|suite|#)\s*\w+)?(?:,\s*[a-z]+(?:\s[a-z]+)?)?"
)
_ADDRESS_SAID = re.compile(
    rf"\b(?:my\s+)?(?:new\s+)?(?:billing\s+|home\s+|shipping\s+|mailing\s+|delivery\s+)?"
    rf"address\s+(?:is|'s|:)\s+(?P<addr>{_STREET})",
    re.IGNORECASE,
)
_ADDRESS_ANSWER = re.compile(rf"^\s*(?:(?:it's|its|sure|yes|yeah|ok)[\s,]+)*(?P<addr>{_STREET})",
                             re.IGNORECASE)


# "Her address?": the answer is someone else's.
_THEIR_ADDRESS = re.compile(r"\b(?:her|his|their)\s+address\b", re.IGNORECASE)


def addresses(t: TurnView) -> list[Candidate]:
    """A postal address, said outright or in answer to "what's the address?"."""
    m = _ADDRESS_SAID.search(t.user)
    if m is None and "address" in t.prev_agent.lower() and not _THEIR_ADDRESS.search(
            t.prev_agent):
        m = _ADDRESS_ANSWER.match(t.user)
    if m is None:
        return []
    addr = m.group("addr").strip(" ,")
    return [t.candidate(f"Address is {addr}", "contact", "address", 0.75, m.start())]


IDENTITY_RULES = (names, emails, phones, emergency_contacts, identifiers, addresses)
