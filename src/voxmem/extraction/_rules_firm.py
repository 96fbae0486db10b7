"""Wishes the caller marks as firm: "its got to be tortoiseshell", "the almond ones are a no
go", "i'm very particular about my mince", "a text is the way to get hold of me".

Callers who are not asked for a preference still say which of theirs matter, and most
often not with a verb of wanting but with a frame of insistence: a necessity ("has to
be", "must be"), a refusal ("a no go", "please not the slim fit", "whatever you do don't
swap the saddle"), a fussiness ("i'm fussy about frames", "i only have it from the
chuck steak"), what suits them ("last thing in the day is better for me"), the only way
to reach them, the person who is their "go to", or an order they call their usual ("ill
grab my usual oat flat white"). Each frame carries to any object, so the frame, not the
object, is the signal.

These are fallbacks: read only in a turn where no rule read a wish in the caller's words
(they would say it better), at a confidence below theirs, never in a question, never for
a time (the availability rules read those) or for this call's own business.
"""

from __future__ import annotations

import re

from ._rules_common import (
    ONE_OFF,
    VAGUE,
    TurnView,
    capture_phrase,
    clean_object,
    is_time,
    sentences,
)
from ._select import Candidate
from ._text import third_person, word_set

__all__ = ["firm_wishes"]

_CONFIDENCE = 0.6
_QUESTION = re.compile(r"^\s*(?:do|does|did|can|could|would|will|is|are|what|when|which|how|"
                       r"where|should|may|have\s+(?:you|i|we|they|it)|has\s+it|must\s+it)\b",
                       re.IGNORECASE)
# Someone else's taste: "flowers for my mum anything but roses shes never liked roses".
_OTHERS = re.compile(
    r"\b(?:she's|shes|he's|hes|she|he|her|his|they're|my\s+(?:husband|wife|partner|son|"
    r"daughter|mum|mom|mother|dad|father|kids?|children|boss|friend|brother|sister|gran|"
    r"grandma|grandad|nan)|for\s+(?:him|her|them))\b", re.IGNORECASE)
_IF = re.compile(r"\b(?:if|unless|whether|when)\b", re.IGNORECASE)
# Speech has no commas: an object ends where the next clause starts.
_NEW_CLAUSE = re.compile(
    r"\s+(?:i|i'm|im|i've|i'd|ill|i'll|we|we're|my|so|because|cause|but|he|she|they|he's|"
    r"she's|they're|theres|there's|its|it's|the\s+[a-z]+(?:\s+[a-z]+)?\s+(?:is|are|was|were)|"
    r"and|or|as|honestly|please|thanks|cheers|ta|yeah|though|then|again|for|on|none|nothing)"
    r"\s.*$", re.IGNORECASE)
# This call's own business, or a state of the job: "it has to be done by friday".
_NOT_A_TASTE = re.compile(
    r"^(?:done|ready|fixed|sorted|paid|delivered|there|here|in|back|out|on|off|open|"
    r"quick|soon|fast|urgent|today|now|able|sure|honest|careful|said|me|you|him|her|"
    r"true|right|wrong|a\s+mistake|an\s+error|the\s+same\s+day|cancelled|moved)\b"
    r"|\b(?:refund|cancel|appointment|booking|account|invoice|bill|receipt|ticket|"
    r"password|minute|moment|price|cost|money|deposit)s?\b", re.IGNORECASE)
_SUBJECT = (r"(?P<subj>it|its|it's|they|they're|(?:the|my|our|your)\s+[a-z]+(?:\s+[a-z]+)?)"
            r"\s+(?:(?:has|have|'s|'ve)\s+)?")
_HAS_TO_BE = re.compile(
    rf"\b{_SUBJECT}(?:got\s+to|gotta|has\s+to|have\s+to|must|needs\s+to|need\s+to)\s+be\s+"
    r"(?:(?:the|a|an)\s+(?=\w+\s+(?:one|ones|kind)\b))?", re.IGNORECASE)
_NO_GO = re.compile(
    r"(?:^|\b(?:and|but|so|the|any|anything|a|an)\s+)(?P<what>(?:the|any|anything|a|an)?\s*"
    r"[a-z][a-z -]{1,30}?)\s+(?:is|are|'s|'re|s|re)\s+(?:a\s+)?(?:no[\s-]go|no[\s-]no|"
    r"out\s+of\s+the\s+question|off\s+limits|a\s+deal\s*breaker|a\s+hard\s+no)\b",
    re.IGNORECASE)
_PARTICULAR = re.compile(
    r"\b(?:i'm|im|i\s+am|we're|we\s+are)\s+(?:(?:very|really|quite|so|super|a\s+bit|pretty|"
    r"dead|awfully|a\s+little)\s+)?(?:fussy|particular|picky)\s+(?:about|with|when\s+it\s+"
    r"comes\s+to)\s+(?P<about>(?:my|our|the)?\s*[a-z]+)\b", re.IGNORECASE)
_ONLY = re.compile(
    r"\b(?:i|we)\s+only\s+(?:ever\s+)?(?P<verb>have|use|eat|drink|buy|get|want|wear|"
    r"take|trust|order|go\s+for|like)\s+(?P<what>[a-z][^,.;!?]{2,40})", re.IGNORECASE)
_BETTER_FOR_ME = re.compile(
    r"(?:^|\b(?:so|and|but|yeah|honestly|well|just|look)\s+)(?P<what>[a-z][a-z ]{2,35}?)\s+"
    r"(?:is|are|'s|works|work|suits|suit)\s+(?:much\s+|way\s+|a\s+lot\s+|always\s+)?"
    r"(?:better|best|easier|ideal|nicer)\s+for\s+(?:me|us)\b", re.IGNORECASE)
_REACH = re.compile(
    r"\b(?:a\s+|by\s+)?(?P<how>text\s+message|text|email|e-mail|whatsapp|post|letter|"
    r"a\s+call|phone|voicemail)s?\s+(?:is|are|'s|s)\s+(?:the\s+|your\s+)?(?:best\s+|only\s+|"
    r"easiest\s+|quickest\s+|surest\s+)?way\s+to\s+(?:get\s+hold\s+of|reach|contact|"
    r"get\s+in\s+touch\s+with|get\s+to|catch|get)\s+(?:me|us)\b", re.IGNORECASE)
_HOW = {"text message": "text messages", "text": "text messages", "email": "email",
        "e-mail": "email", "whatsapp": "WhatsApp", "post": "post", "letter": "post",
        "a call": "phone", "phone": "phone", "voicemail": "voicemail"}
_PLEASE_NOT = re.compile(
    r"\bplease\s+(?:not|no)\s+(?P<what>(?:the|a|an|any)\s+[a-z][a-z -]{2,30})", re.IGNORECASE)
_WHATEVER = re.compile(
    r"\b(?:don't|do\s+not|never)\s+(?P<what>[a-z][a-z ]{3,40}?)\s+whatever\s+you\s+do\b"
    r"|\bwhatever\s+you\s+do\s+(?:please\s+)?(?:don't|do\s+not|never)\s+"
    r"(?P<what2>[a-z][a-z ]{3,40})", re.IGNORECASE)
_USUAL = re.compile(
    r"\b(?:i'll|ill|i\s+will|i'd|can\s+i|could\s+i|let\s+me|i'm\s+after|i\s+want|i\s+need|"
    r"i'll\s+just|just)\s+(?:(?:have|get|grab|take|do|like|order)\s+)?(?:my|our|the)\s+"
    r"usual\s+(?P<what>[a-z][a-z ]{2,30})", re.IGNORECASE)
_NOT_USUAL = re.compile(
    r"^(?:order|time|day|slot|appointment|booking|please|one|thing|stuff|then|again|for|on|"
    r"from|at|with|and|thanks|cheers|place|table|spot|person|lot|lads|the|a|an)\b", re.IGNORECASE)
# Someone else's usual is theirs: "the usual ham salad for the lads".
_FOR_OTHERS = re.compile(r"^\s*(?:for|to)\s+(?:the|my|our|his|her|him|them|their)\b", re.I)
_CANT_ABIDE = re.compile(
    r"\b(?:i|we)\s+(?:can't|cannot|can\s+not)\s+(?:be\s+doing\s+with|abide|stomach|be\s+"
    r"dealing\s+with|handle)\s+(?P<what>(?:the|a|an|any|those|that|them)?\s*[a-z][a-z -]{2,30})",
    re.IGNORECASE)
_AWAY = re.compile(r"\bkeep\s+(?:me|us)\s+(?:well\s+)?away\s+from\s+(?P<what>[a-z][a-z ]{2,30})",
                   re.IGNORECASE)
# "pastels are so my thing", "suv would be my pick", "as long as its well done".
_MY_THING = re.compile(
    r"\b(?P<what>[a-z]+)\s+(?:is|are|'s|'re|"
    r"would\s+be|will\s+always\s+be)\s+(?:(?:so|really|totally|more|always|definitely)\s+)?"
    r"my\s+(?:thing|jam|vibe|style|pick|choice|kind\s+of\s+thing|cup\s+of\s+tea)\b"
    r"|\bas\s+long\s+as\s+(?:it's|its|it\s+is|they're|theyre)\s+(?P<long>[a-z])"
    r"|\b(?:i'd|id|i\s+would|we'd)\s+sooner\s+(?:you\s+)?(?P<sooner>[a-z])"
    r"|\bplease\s+only\s+(?P<only>[a-z])"
    r"|(?P<only_ones>(?:the|a)\s+[a-z][a-z ]{2,25}?)\s+(?:is|are)\s+the\s+only\s+"
    r"(?:one|ones|thing|kind)\s+(?:that|which|i)\b", re.IGNORECASE)
# "anything but the ground floor", "i'm trying to avoid pork", "classes aren't for me",
# "the deep tissue stuff doesn't agree with me".
_NOT_FOR_ME = re.compile(
    r"\banything\s+but\s+(?P<but>[a-z])"
    r"|\b(?:i'm|im|i\s+am|we're)\s+(?:trying\s+to\s+|trying\s+my\s+best\s+to\s+)?"
    r"(?:avoid|avoiding|staying\s+away\s+from|steering\s+clear\s+of)\s+(?P<avoid>[a-z])"
    r"|\b(?P<what>[a-z]+)\s+"
    r"(?:(?:really\s+)?(?:isn't|aren't|is\s+not|are\s+not)\s+(?:really\s+)?for\s+me|"
    r"(?:really\s+)?(?:doesn't|don't|does\s+not|do\s+not)\s+(?:really\s+)?agree\s+with\s+me)\b",
    re.IGNORECASE)
# "teddy bear cut same as always": the thing the caller always has.
_AS_ALWAYS = re.compile(
    r"(?:^|,\s*)(?P<what>[a-z][^,;]{2,50}?),?\s+(?:same\s+as\s+(?:always|usual|ever)|"
    r"as\s+(?:always|usual)|like\s+always)\s*[.!]?\s*$", re.IGNORECASE)
_GO_TO = re.compile(r"\b(?P<who>she|he|they)(?:'s|s|\s+is|\s+are|'re)\s+(?:always\s+)?my\s+"
                    r"(?:go[\s-]*to|favourite|favorite|person)\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"\b[A-Z][a-z]{2,}\b")
_NOT_A_PERSON = re.compile(
    r"^(?:mon|tues|wednes|thurs|fri|satur|sun)day|^(?:january|february|march|april|may|june|"
    r"july|august|september|october|november|december|thanks|sure|great|okay|sorry|hi|hello|"
    r"morning|afternoon|evening|lovely|perfect|of|no|yes|done|booked|see)$", re.IGNORECASE)
_INTRO = re.compile(r"\b(?:its|it's|i'm|im|this\s+is|name\s+is|names)\s+$", re.IGNORECASE)
#: Longest object kept, in words.
_MAX_WORDS = 7


# Where the subject of "X is my thing" starts, looking back from its last word.
_NOT_SUBJECT = word_set("""i im i'm its it's um uh so and but again yeah get have can like
    just oh honestly really me you hi hey hiya hello is are was to of a an for with
    please think know mean well okay ok right""")
_ANYTHING_WITH = re.compile(r"^(?:anything|stuff|things|food)\s+(?:with|containing|that\s+has)"
                            r"\s+(?:any\s+)?", re.IGNORECASE)


def _before(sentence: str, end: int, most: int = 4) -> str:
    """The noun phrase that ends at ``end``: the last few words before it, back to a word
    that cannot be part of it ("hey its marco classes" → "classes")."""
    words = sentence[:end].split()[-most:]
    kept: list[str] = []
    for word in reversed(words):
        if word.lower() in _NOT_SUBJECT:
            break
        kept.insert(0, word)
    if kept and kept[0].lower() in ("stuff", "ones", "one"):
        return ""
    # "the deep tissue stuff": keep the article that opens it.
    start = len(words) - len(kept)
    if start > 0 and words[start - 1].lower() in ("the", "a", "an", "my"):
        kept.insert(0, words[start - 1])
    return " ".join(kept)


def _object(phrase: str, *, timely: bool = False, max_words: int = _MAX_WORDS) -> str:
    """The wish's object, or "" for none: vague, about this call, a time (unless
    ``timely``: "i'd sooner you came in the afternoon" is a taste in when)."""
    what = clean_object(_NEW_CLAUSE.sub("", phrase.strip()))
    words = what.split()
    if not words or len(words) > max_words or words[0].lower() in VAGUE:
        return ""
    if ONE_OFF.search(what) or (is_time(what) and not timely) or _NOT_A_TASTE.search(what):
        return ""
    return "" if "[redacted" in what else what


def _go_to(t: TurnView, sentence: str, at: int) -> str:
    """The person "she's my go to" means: a name the agent wrote back that the caller said
    before it, not the caller's own name."""
    written = {w.lower() for w in _CAPITALISED.findall(t.agent)
               if not _NOT_A_PERSON.match(w)}
    before = sentence[:at]
    for m in reversed(list(re.finditer(r"\b[a-z]{3,}\b", before))):
        if m.group(0) in written and not _INTRO.search(before[: m.start()]):
            return m.group(0).capitalize()
    return ""


# Every frame above holds one of these; most turns hold none and stop here (the frames are
# many, and this fallback runs on every turn no other wish rule read).
_TRIGGER = re.compile(
    r"to\s+be|gotta\s+be|must\s+be|dealing\s+with|no[\s-]+go|no[\s-]+no|question|limits|"
    r"breaker|hard\s+no|fussy|particular|picky|only|for\s+(?:me|us)|way\s+to|please\s+no|whatever\s+you\s+do|usual|"
    r"doing\s+with|abide|stomach|handle|away\s+from|my\s+(?:go|fav|person|thing|jam|vibe|"
    r"style|pick|choice|kind|cup)|as\s+long\s+as|sooner|anything\s+but|avoid|staying\s+away|"
    r"steering\s+clear|agree\s+with|same\s+as|as\s+always|like\s+always", re.IGNORECASE)


def firm_wishes(t: TurnView) -> list[Candidate]:
    """The caller's wishes in frames of insistence, where no other wish rule read the turn."""
    out: list[Candidate] = []
    if not _TRIGGER.search(t.user):
        return out

    def add(text: str, at: int, *, negative: bool = False, slot: str | None = None) -> None:
        out.append(t.candidate(text, "preference", slot, _CONFIDENCE, at, negative=negative))

    for offset, sentence in sentences(t.user):
        if sentence.rstrip().endswith("?") or _QUESTION.match(sentence):
            continue
        for m in _GO_TO.finditer(sentence):
            # "she's my go to" is about the person the caller sees, so before the guard.
            who = _go_to(t, sentence, m.start())
            if who:
                add(f"Prefers {who} (always asks for them)", offset + m.start())
        if _OTHERS.search(sentence):
            continue
        about = ""
        for m in _PARTICULAR.finditer(sentence):
            about = third_person(m.group("about").strip().lower())
        for m in _HAS_TO_BE.finditer(sentence):
            if _IF.search(sentence[: m.start()]):
                continue
            what = _object(capture_phrase(sentence, m.end()))
            subj = m.group("subj").lower()
            if what:
                who = "" if subj.startswith(("it", "they")) else third_person(subj) + " "
                add(f"Prefers {who}{what}", offset + m.start())
        for m in _NO_GO.finditer(sentence):
            what = _object(m.group("what"))
            if what:
                add(f"Does not want {what}", offset + m.start(), negative=True)
        for m in _ONLY.finditer(sentence):
            what = m.group("what")
            if about and re.match(r"(?:it|them)\s+(?:from|with|in|as|on)\b", what, re.I):
                what = f"{about.removeprefix('their ')} {what.split(None, 1)[1]}"
            what = _object(what)
            if what and not _IF.search(sentence[: m.start()]):
                add(f"Only {m.group('verb').lower()}s {what}".replace("gos for", "goes for")
                    .replace("haves", "has"), offset + m.start())
        for m in _BETTER_FOR_ME.finditer(sentence):
            what = _object(m.group("what"))
            if what and not re.match(r"(?:that|which|whatever|anything|either|both)\b", what):
                add(f"Prefers {what}", offset + m.start())
        for m in _REACH.finditer(sentence):
            how = _HOW[re.sub(r"\s+", " ", m.group("how").lower())]
            add(f"Prefers to be contacted by {how}", offset + m.start(),
                slot="preferred_contact_method")
        for m in _PLEASE_NOT.finditer(sentence):
            what = _object(m.group("what"))
            if what:
                add(f"Does not want {what}", offset + m.start(), negative=True)
        for m in _WHATEVER.finditer(sentence):
            what = clean_object(_NEW_CLAUSE.sub("", m.group("what") or m.group("what2")))
            if what and len(what.split()) <= _MAX_WORDS and not ONE_OFF.search(what):
                add(f"Asks never to {what}", offset + m.start(), negative=True)
        for m in _USUAL.finditer(sentence):
            what = _object(m.group("what"))
            rest = sentence[m.start("what") + len(what):]
            if what and not _NOT_USUAL.match(what) and not _FOR_OTHERS.match(rest):
                add(f"Usually has {what}", offset + m.start())
        for m in _CANT_ABIDE.finditer(sentence):
            what = _object(m.group("what"))
            if what:
                add(f"Does not want {what}", offset + m.start(), negative=True)
        for m in _AWAY.finditer(sentence):
            what = _object(m.group("what"))
            if what:
                add(f"Prefers to be away from {what}", offset + m.start())
        for m in _MY_THING.finditer(sentence):
            group = next(g for g in ("what", "long", "sooner", "only", "only_ones")
                         if m.group(g) is not None)
            phrase = (_before(sentence, m.end("what")) if group == "what" else m.group(group)
                      if group == "only_ones" else capture_phrase(sentence, m.start(group)))
            what = _object(phrase, timely=group == "sooner")
            if what:
                lead = {"only": "Only wants", "sooner": "Would sooner"}.get(group, "Prefers")
                add(f"{lead} {'staff ' if group == 'sooner' else ''}{what}", offset + m.start())
        for m in _NOT_FOR_ME.finditer(sentence):
            group = next(g for g in ("but", "avoid", "what") if m.group(g) is not None)
            what = _object(_ANYTHING_WITH.sub("", _before(sentence, m.end("what"))
                                              if group == "what" else
                                              capture_phrase(sentence, m.start(group))))
            if what:
                lead = "Avoids" if group == "avoid" else "Does not want"
                add(f"{lead} {what}", offset + m.start(), negative=True)
        for m in _AS_ALWAYS.finditer(sentence):
            what = _object(m.group("what"), max_words=8)
            if what and not _NOT_USUAL.match(what):
                add(f"Usually has {what}", offset + m.start())
    return out
