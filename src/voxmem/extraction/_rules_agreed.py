"""Wishes the caller marks with a cue word and the agent takes up, in any phrasing.

The other wish rules each read one frame ("i prefer X", "no X ever", "X as usual").
Callers of an unseen deployment use frames none of them has ("best way to get me is
whatsapp", "nudes and neutrals are more me", "we don't do spicy in our house"). Two
signals that do not depend on the frame mark such a clause:

- a **cue** in the caller's clause: a word of preferring, refusing, limiting or habit
  ("rather", "sooner", "only", "never", "don't", "can't", "not a morning person",
  "under 200", "from now on", "more me"...);
- the agent's **uptake**: a statement in its reply (not a question, not a refusal) that
  shares a content word with that clause ("Neutrals it is.", "I've set your landline as
  the main contact number."). An agent answers a passing remark with news or a
  question; it repeats what it was asked to keep.

The fact is the caller's clause itself, in the third person, with the agent's short
echo when it spells the clause's words better. It is a fallback: the extractor reads it
only in a turn where no other rule read a wish.
"""

from __future__ import annotations

import dataclasses
import re

from ._rules_common import ONE_OFF, TurnView, is_recurring_time, is_time, sentences
from ._select import Candidate
from ._text import third_person, word_set

__all__ = ["KIND_WORDS", "agreed_wishes", "relabel"]

# A clause ends at punctuation or a conjunction that starts a new thought. "and" is kept
# inside a clause ("front and back", "nudes and neutrals"): it joins the kept things.
_CLAUSE_BREAK = re.compile(
    r"[.!?;,]+\s+|\s+(?:but|so|because|cause|cos|since|though|although|then|plus|"
    r"otherwise|anyway)\s+", re.IGNORECASE)
# Words that mark a lasting wish, limit or habit in the caller's own clause.
_CUE = re.compile(
    r"\b(?:prefer\w*|rather|sooner|only|never|always|don't|do\s+not|dont|doesn't|"
    r"can't|cannot|cant|can\s+never|none\s+of|nothing\s+with|no\s+more\s+than|"
    r"not\s+(?:too|the|a|any|really|just|only)|at\s+most|max(?:imum)?|instead|"
    # "under" and "over" limit only with an amount: "keep it under 200", not "under kenji".
    r"(?:under|over)\s+(?:[£$€]\s*)?\d|"
    r"has\s+to\s+be|have\s+to\s+be|must|best\s+way|easiest|more\s+me|"
    r"from\s+now\s+on|going\s+forward|in\s+future|every\s+time|each\s+time|"
    r"(?:\w+)\s+people|(?:\w+\s+)?person)\b", re.IGNORECASE)
# Cues explicit enough to stand without the agent's uptake: a comparison the caller makes
# ("i'd sooner", "i'd prefer", "more me"), a limit on what can be offered ("can't go over
# 500", "can never do early").
_EXPLICIT = re.compile(
    r"\b(?:i'd|i\s+would|we'd|we\s+would)\s+(?:much\s+|really\s+|far\s+)?(?:prefer|rather|sooner)\b|"
    r"\b(?:more|less)\s+(?:me|us)\b|\bbest\s+way\s+to\s+(?:get|reach|contact)\b|"
    r"\b(?:can't|cannot|can\s+never)\s+(?:go\s+(?:over|above|past)|do|spend|afford)\b|"
    r"\b(?:no\s+more\s+than|absolute\s+max|at\s+most)\b", re.IGNORECASE)
# A question, an offer or a condition is not a wish ("if i can't make it", "do you do").
_NOT_A_WISH = re.compile(
    r"^(?:if|when|what|how|which|who|where|why|is|are|do|does|did|can\s+i|could\s+i|"
    r"should|would\s+it)\b|\?|\b(?:what\s+if|in\s+case|how\s+much|do\s+you\s+(?:have|do|"
    r"sell|know)|is\s+there|are\s+there)\b|"
    # A thought, not a decision: "maybe", "i was thinking", "not sure".
    r"\b(?:maybe|might|perhaps|probably|possibly|i\s+guess|i\s+suppose|thinking|wondering|"
    r"considering|not\s+sure|if|unless|whether|"
    r"would\s+(?:it|you|that))\b", re.IGNORECASE)
# A declined offer: "no thanks i'd rather not", "nah we're fine".
_DECLINED = re.compile(r"^(?:no|nah|nope|not)\b(?:\s+(?:thanks|thank\s+you|ta|this\s+time|today|"
                       r"for\s+now|we're\s+fine|i'm\s+fine|that's\s+fine))", re.IGNORECASE)
# An offer the agent just made: "Would you like the paper copy too?" + "no i'd rather not".
_AGENT_OFFER = re.compile(r"\b(?:would\s+you\s+like|do\s+you\s+want|shall\s+i|should\s+i|"
                          r"can\s+i\s+(?:add|offer|book|put)|want\s+me\s+to|how\s+about)\b[^?]*\?",
                          re.IGNORECASE)
_NO = re.compile(r"^(?:no|nah|nope|not\s+really)\b", re.IGNORECASE)
# A correction in the turn: what came before it was taken back ("tuesdays are best,
# actually no, thursdays").
_CORRECTION = re.compile(r"\b(?:actually|no\s+wait|wait\s+no|sorry\s+i\s+mean|i\s+mean|"
                         r"scratch\s+that|no\s+sorry)\b", re.IGNORECASE)
# Someone else's taste is theirs: "my husband likes the window", "she always has it black";
# a clause whose subject is "my X" talks about X ("my labrador max is limping").
_SOMEONE_ELSE = re.compile(
    r"^(?:my|our|his|her|their|he|she|they|he's|she's|they're)\s|"
    # Anyone else named in the clause: "for my wife, she likes it quiet", "his usual".
    r"\b(?:he|she|his|her|him|he's|she's|hers)\b|\bfor\s+my\s+\w+|"
    r"\b(?:he|she|they|my\s+(?:husband|wife|partner|son|daughter|mum|mom|mother|"
    r"dad|father|colleague|friend|boss|kids?|boyfriend|girlfriend|neighbou?r|sister|"
    r"brother|lad|lass|nan|gran|grandma|grandmother|grandad|grandfather|aunt|uncle))\s+"
    r"(?:\w+\s+)?(?:likes?|loves?|wants?|prefers?|always|never|usually|hates?|has|is|"
    r"doesn't|does|can't|won't|only|speaks|needs)\b|"
    # "the kids always want the front row": a third-person subject with a verb of liking.
    r"^(?!(?:i|we|it|that|this|everything|all|nothing)\b)(?:the\s+)?[a-z]+\s+"
    r"(?:always\s+|usually\s+|never\s+)?(?:likes?|loves?|wants?|prefers?|hates?)\b",
    re.IGNORECASE)
# A problem or a complaint, not a wish: "i never got the invoice", "i can't find the link",
# "we don't have any boxes".
_PROBLEM = re.compile(
    r"\b(?:never|didn't|haven't|hasn't)\s+(?:\w+\s+)?(?:got|get|arrived|came|come|received|"
    r"showed|turned|heard|sent|had|been|worked)\b|"
    r"\b(?:can't|cannot|cant|couldn't|don't|dont)\s+(?:seem\s+to\s+)?(?:find|log|access|see|"
    r"open|hear|remember|believe|understand|know|think|have|get\s+in|get\s+through|"
    r"make\s+it|afford\s+to\s+wait)\b", re.IGNORECASE)
# The agent turns the wish down or only hears it: no uptake.
_REFUSAL = re.compile(
    r"\b(?:sorry|unfortunately|afraid|can't|cannot|unable|isn't\s+possible|not\s+possible|"
    r"don't|won't\s+be\s+able|no\s+longer)\b", re.IGNORECASE)
_OFFER = re.compile(r"\b(?:would\s+you|do\s+you|shall\s+i|want\s+me\s+to|if\s+you)\b",
                    re.IGNORECASE)
_LEAD = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|yeah|yes|yep|no|oh|ok|okay|well|and|also|just|right|like|"
    r"actually|honestly|basically|look|listen|sorry|thanks|thank\s+you|dear|love|mate|"
    r"um|uh|er|erm|i\s+mean|you\s+know|really|if\s+(?:you\s+can|possible|poss|you\s+could|"
    r"that's\s+ok(?:ay)?)|when\s+you\s+can)\b[\s,]*)+", re.IGNORECASE)
# The agent says it keeps the wish beyond this call: then an instruction about the worker
# ("he needs to do the back too") is the caller's standing wish as well.
_STANDING = re.compile(r"\b(?:from\s+now\s+on|going\s+forward|in\s+future|always|every|"
                       r"each\s+time|on\s+your\s+(?:profile|account|file|record))\b",
                       re.IGNORECASE)
_TAIL = re.compile(r"(?:\s+(?:please|thanks|thank\s+you|if\s+poss\w*|if\s+you\s+can|really|"
                   r"honestly|love|dear|mate|ta))+$", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")
# Words too common to show that the agent took the clause up.
_STOP = word_set("""the and for with you your our that this there have has had was were
    are not but can could would will just please yeah yes okay all any some one get got
    its it's than then them they their what when also only never always don't dont can't
    cant rather sooner prefer really much more less very too well like want need make
    sure time thing things every each from now going forward future people person best
    way easiest under over instead must have""")
_MIN_WORDS, _MAX_WORDS = 2, 14


def _stem(word: str) -> str:
    # "reds"/"red", "substitutions"/"substitute", "deliveries"/"deliver": one root.
    return word.removesuffix("s")[:5]


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def _uptake(agent: str) -> tuple[set[str], str, bool]:
    """The content stems of the agent's statements that take something up, its shortest
    such statement (the written echo), and whether one says the wish is kept for good."""
    stems: set[str] = set()
    echo = ""
    standing = False
    for _, sentence in sentences(agent):
        s = sentence.strip()
        if not s or s.endswith("?") or _REFUSAL.search(s) or _OFFER.search(s):
            continue
        stems |= _stems(s)
        standing = standing or bool(_STANDING.search(s))
        if len(s.split()) <= 8 and (not echo or len(s) < len(echo)):
            echo = s
    return stems, echo, standing


def _clauses(user: str) -> list[str]:
    out = []
    for part in _CLAUSE_BREAK.split(user):
        clause = _TAIL.sub("", _LEAD.sub("", part.strip(" ,.")))
        if _MIN_WORDS <= len(clause.split()) <= _MAX_WORDS:
            out.append(clause)
    return out


def agreed_wishes(t: TurnView) -> list[Candidate]:
    """A caller's clause with a cue word that the agent's reply takes up."""
    if not t.user.strip() or not t.agent.strip() or "[redacted" in t.user:
        return []
    user = t.user.strip()
    if _DECLINED.search(user) or (_NO.search(user) and _AGENT_OFFER.search(t.prev_agent)):
        return []
    if corrections := list(_CORRECTION.finditer(user)):
        user = user[corrections[-1].end():]
    taken, echo, standing = _uptake(t.agent)
    refused = bool(_REFUSAL.search(t.agent))
    best, best_score = "", 0
    for clause in _clauses(user):
        if (not _CUE.search(clause) or _NOT_A_WISH.search(clause)
                or (_SOMEONE_ELSE.search(clause) and not standing) or _PROBLEM.search(clause)
                or ONE_OFF.search(clause) or "@" in clause):
            continue
        score = 2 * len(_stems(clause) & taken)
        if not refused and _EXPLICIT.search(clause):
            score += 1
        if score > best_score:
            best, best_score = clause, score
    if not best:
        return []
    text = f"Preference: {third_person(best)}"
    if echo and _stems(echo) & _stems(best) and echo.lower() not in best.lower():
        text += f" (agent: {echo.rstrip('.!')})"
    at = t.user.find(best)
    if is_time(best) and is_recurring_time(best):
        # "mornings are the only time i can do": when to reach or book the caller.
        return [t.candidate("Available: " + text.removeprefix("Preference: "), "availability",
                            "preferred_time", 0.6, at)]
    # A preference by default; the extractor lets the learned layer's turn classifier
    # say whether the clause is rather a limit or a recurring need (:func:`relabel`).
    return [t.candidate(text, "preference", None, 0.6, at)]


#: How a fact of each kind the classifier may choose for an agreed wish is introduced.
KIND_WORDS = {"preference": "Preference", "constraint": "Constraint", "need": "Needs"}


def relabel(c: Candidate, kind: str) -> Candidate:
    """``c`` (an agreed wish) as a fact of ``kind``, one of :data:`KIND_WORDS`."""
    head, _, rest = c.text.partition(": ")
    if head not in KIND_WORDS.values() or kind == c.kind:
        return c
    return dataclasses.replace(c, kind=kind, text=f"{KIND_WORDS[kind]}: {rest}")
