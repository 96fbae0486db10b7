"""The offline rule extractor: the default, no model, no network, a few milliseconds per call.

It reads each turn in order, runs pattern rules over the caller's words (names, contact
details, preferences, availability, constraints, recurring needs) and over the agent's
words (commitments, ticket numbers, plan changes), then hands the candidates to the
shared selection step: sensitive facts dropped, corrections resolved (latest statement
wins a slot), duplicates merged, the best few of each kind kept.

Example::

    >>> import asyncio
    >>> from voxmem.extraction import RuleExtractor, Transcript, TranscriptTurn
    >>> call = Transcript("s1", "u1", [TranscriptTurn(
    ...     "t1", "hi my name is Dana Whitfield, I can only do mornings before 9am",
    ...     "Thanks Dana, I'll send you the confirmation by email.", 0.0)])
    >>> [f.text for f in asyncio.run(RuleExtractor().extract(call))]  # doctest: +SKIP
    ['Name is Dana Whitfield', 'Available only mornings before 9am',
     'Agent promised to send the confirmation by email']

The rules only see redacted text, so a card number or a diagnosis cannot reach a fact.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re

from ._base import MAX_FACTS, ExtractedFact, Transcript
from ._context import asked_for
from ._kept import kept_candidates
from ._learned import (
    TurnClassifier,
    covered_kinds,
    default_classifier,
    learned_candidates,
    settle_kinds,
)
from ._rules_addressed import ADDRESS_RULES
from ._rules_agent import AGENT_RULES, JOIN_ONLY, RECURS, extra_commitment
from ._rules_agreed import KIND_WORDS, agreed_wishes, relabel
from ._rules_amend import WISH_KINDS, is_arrival_notice, is_no_wish, taken_back
from ._rules_arranged import ARRANGED_RULES
from ._rules_bookings import BOOKING_RULES
from ._rules_changed import standing_changes
from ._rules_choices import CHOICE_RULES, tails
from ._rules_common import Rule, TurnView, capture_phrase, sentences
from ._rules_dated import dated_confirmations, settle
from ._rules_firm import firm_wishes
from ._rules_future import future_actions
from ._rules_habits import HABIT_RULES
from ._rules_identity import IDENTITY_RULES, is_misheard_copy, read_back_ids
from ._rules_intros import INTRO_RULES
from ._rules_modifiers import order_modifiers
from ._rules_needs import NEED_RULES, declared_allergies
from ._rules_noted import NOTED_RULES, echoed_needs, echoed_preferences
from ._rules_offers import OFFER_RULES
from ._rules_people import PEOPLE_RULES
from ._rules_pets import PET_RULES
from ._rules_preferences import PREFERENCE_RULES
from ._rules_promised import PROMISED_RULES
from ._rules_readback import answered_read_backs
from ._rules_reasons import reasoned_wishes
from ._rules_requests import standing_asks
from ._rules_spoken import SPOKEN_RULES, as_diet
from ._rules_standing import STANDING_RULES
from ._rules_tastes import TASTE_RULES
from ._rules_things import THING_RULES
from ._rules_undertaken import undertaken
from ._rules_usual import USUAL_RULES, asked_wishes, usual_wishes
from ._rules_wishes import WISH_RULES
from ._select import Candidate, select_facts
from ._spoken import (
    join_stray_digits,
    repair_words,
    restore_apostrophes,
    spelled_letters,
    spoken_numbers,
)
from ._tagger import SpanTagger, default_tagger, tagger_candidates
from ._text import (
    DEFAULT_COUNTRY_CODE,
    clean_fillers,
    mark_spelled_gaps,
    spelled_out_to_words,
    spoken_digits_to_numerals,
    spoken_emails_to_addresses,
    third_person,
)
from .redaction import redact_turn_text
from .sensitive import DEFAULT_POLICY, SensitivePolicy

__all__ = ["DEFAULT_MIN_CONFIDENCE", "RuleExtractor"]

#: Calls with more turns than this are extracted on a worker thread, not inline.
INLINE_TURNS = 6
#: Candidates below this confidence are not kept.
DEFAULT_MIN_CONFIDENCE = 0.5

# --- agent commitments -------------------------------------------------------------------

_COMMIT_SUBJECT = (
    r"(?P<subj>i'll|i\s+will|i'm\s+going\s+to|i\s+am\s+going\s+to|we'll|we\s+will|they'll|"
    r"we're\s+going\s+to|we\s+are\s+going\s+to|"
    r"(?P<who>(?:someone|somebody)(?:\s+from\s+(?:our\s+|the\s+)?[\w-]+(?:\s+[\w-]+)?)?|"
    r"(?:(?-i:[A-Z][a-z]+)\s+from\s+)?(?:a|an|our|the|your)\s+(?:[\w-]+\s+){0,2}?(?:team|specialist|technician|engineer|"
    r"officer|agent|manager|representative|rep|nurse|advisor|adviser|department|supervisor|"
    r"courier|driver|plumber|electrician|installer|crew|coordinator|receptionist|surveyor|"
    r"consultant|caseworker|handler|pharmacist|dentist|optician|tutor|instructor|solicitor|"
    r"accountant|broker|fitter|mechanic|locksmith|inspector|adjuster|assessor))\s+will)"
)
# Verbs that promise something after the call. "transfer", "check", "make a note" or
# "pull up your account" happen during the call and are not remembered.
_COMMIT_VERB = (
    r"(?P<verb>send|email|e-mail|mail|post|text|call|ring|phone|ship|refund|credit|waive|"
    r"reimburse|replace|deliver|dispatch|schedule|arrange|follow\s+up|get\s+back|come\s+back|"
    r"reach\s+out|"
    r"contact|escalate|expedite|process|issue|notify|remind|check\s+back|come\s+out|visit|"
    r"have|be\s+in\s+touch|courier|collect|install|fix|repair|pick\s+up|reverse|resend|"
    r"reissue|chase|investigate|look\s+into|order)"
)
_COMMIT = re.compile(
    rf"\b{_COMMIT_SUBJECT}\s+(?:(?:also|just|personally|definitely|then|now|go\s+ahead\s+and|"
    rf"make\s+sure\s+to|make\s+sure\s+we|be\s+sure\s+to)\s+)*{_COMMIT_VERB}\b",
    re.IGNORECASE,
)
_HAVE_SOMEONE = re.compile(
    r"^(?P<who>(?:a|an|our|the|someone|somebody)\b[\w\s-]{0,40}?)\s+(?P<v>call|email|contact|"
    r"reach\s+out\s+to|get\s+back\s+to|text|visit|give)\s+you(?:\s+a\s+(?:call|ring))?\b",
    re.IGNORECASE,
)
_FUTURE = re.compile(r"will|'ll|going")
_FUTURE_OR_PROMISE = re.compile(r"will|ll\b|going|promise")
_YOU_SHOULD_SEE = re.compile(
    r"\byou(?:'ll|\s+(?:should|will|ought\s+to))\s+(?:also\s+)?(?:see|get|receive)\s+"
    # "which you'll see on next month's bill" names where, not what.
    r"(?!it\b|that\b|them\b|this\b|on\b|in\b|at\b|by\b)",
    re.IGNORECASE,
)
# "A replacement card has been ordered and will arrive in 5 to 7 business days."
_ARRANGED = re.compile(
    r"\b(?P<what>(?:a|an|the|your)\s+[\w\s-]{2,30}?)\s+(?:has\s+been|have\s+been|was|is\s+being)"
    r"\s+(?:ordered|shipped|sent|mailed|scheduled|booked|dispatched|issued|requested)\s+and\s+"
    r"(?:will|should)\s+(?P<then>arrive|be\s+delivered|ship|be\s+there|reach\s+you)\b",
    re.IGNORECASE,
)
# The caller's own promises: "I'll pay the rest on the 15th".
_CALLER_PROMISE = re.compile(
    r"\b(?:i'll|ill|i\s+will|i'm\s+going\s+to|i\s+promise\s+to)\s+(?:definitely\s+|also\s+)?"
    r"(?P<verb>pay|send|bring|drop\s+off|return|upload|fax|mail|email|sign|submit|transfer|"
    r"get\s+you)\s+",
    re.IGNORECASE,
)
_OFFER = re.compile(
    r"\b(?:if\s+you|would\s+you\s+like|do\s+you\s+want|if\s+that|if\s+needed|once\s+you|"
    r"when\s+you|should\s+i|shall\s+i|can\s+i)\b",
    re.IGNORECASE,
)
# Second person → third person, and one-call time words that read wrong next week.
_YOU_OBJECT = re.compile(r"^(?:you|u)\s+(?=\S)", re.IGNORECASE)
_YOUR = re.compile(r"\byour\b", re.IGNORECASE)
_YOU = re.compile(r"\byou\b", re.IGNORECASE)
_COMMIT_TAIL = re.compile(
    r"(?:\s+(?:right\s+now|now|right\s+away|shortly|in\s+a\s+moment|in\s+a\s+minute|there|"
    r"for\s+you|as\s+well|too|straight\s+away|asap|out))+$",
    re.IGNORECASE,
)
# "its its kathy", "the the order", "lucy, lucy brennan": a repeated word is a stutter, said once.
_STUTTER = re.compile(r"\b([a-z][a-z']+)(?:,?\s+\1\b)+", re.IGNORECASE)
# "773 uh sorry 778221": a number the caller corrected at once is dropped for the new one.
_NUMBER_REPAIR = re.compile(
    r"\b\d[\d-]*,?\s+(?:(?:uh|um|er|oh)\s+)?(?:(?:no|sorry|i\s+mean|wait|scratch\s+that|"
    r"hang\s+on)[\s,]+)+(?:(?:it's|its|it\s+is)\s+)?(?=\d)", re.IGNORECASE)
# Words the agent wrote with a capital: the names it heard.
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+\b")
_RIGHT_AWAY = re.compile(r"\b(?:right\s+away|straight\s+away|right\s+now|in\s+a\s+moment)\b",
                         re.IGNORECASE)
_IN_A_MOMENT = re.compile(
    r"\bin\s+a\s+(?:few\s+)?(?:minutes?|moment|second|sec|jiffy)\b|\bshortly\b|\bnow\b", re.I)
_NOT_A_PROMISE = re.compile(r"^(?:a\s+look|a\s+note|you\s+through|you\s+over|it\s+a\s+try)\b", re.I)
_IT_WILL = "Agent promised it will "
_VERB_YOU = re.compile(r"^(\S+)\s+(?:you|u)\b\s*", re.IGNORECASE)


def _commit_phrase(phrase: str) -> str:
    # "email you a copy" → "email a copy", "call you back" → "call back".
    phrase = _VERB_YOU.sub(r"\1 ", _YOU_OBJECT.sub("", phrase))
    phrase = _YOUR.sub("the caller's", phrase)
    phrase = _YOU.sub("the caller", phrase)
    return _COMMIT_TAIL.sub("", phrase).strip(" ,")


def commitments(t: TurnView) -> list[Candidate]:
    """Promises the agent made: "I'll email you the invoice", "we'll call you Friday"."""
    out: list[Candidate] = []
    base = len(t.user)  # agent text comes after the caller's words in the same turn
    for offset, sentence in sentences(t.agent):
        if sentence.rstrip().endswith("?") or _OFFER.search(sentence):
            continue
        if _RIGHT_AWAY.search(sentence):
            continue  # done during the call ("I'll send one up right away")
        found = len(out)
        low = sentence.lower()
        # Every promise shape holds "will"/"'ll"/"going to"; most agent sentences hold none.
        for m in _COMMIT.finditer(sentence) if _FUTURE.search(low) else ():
            verb = re.sub(r"\s+", " ", m.group("verb").lower())
            rest = capture_phrase(sentence, m.end())
            if _NOT_A_PROMISE.match(rest):
                continue
            who = m.group("who")
            if verb == "have":
                have = _HAVE_SOMEONE.match(rest)
                if not have:
                    continue
                after = capture_phrase(sentence, m.end() + have.end())
                action = _commit_phrase(f"{have.group('v')} {after}")
                verb_done = have.group("v").lower()
                if verb_done == "give":  # "give you a call"
                    after = capture_phrase(sentence, m.end() + have.end())
                    action = _commit_phrase(f"call {after}")
                text = f"Agent promised {have.group('who').strip()} will {action}"
            else:
                action = _commit_phrase(f"{verb} {rest}")
                if who:
                    who_text = re.sub(r"(^|\bfrom\s+)(?:our|your)\s+", r"\1the ", who.strip(),
                                      flags=re.I)
                    text = f"Agent promised {who_text.lower()} will {action}"
                else:
                    text = f"Agent promised to {action}"
            if len(action.split()) < 2 and verb not in ("call", "ring", "phone"):
                continue  # "I'll send" with no object says nothing
            out.append(t.candidate(text.rstrip("."), "commitment", None, 0.8,
                                   base + offset + m.start()))
        for m in _YOU_SHOULD_SEE.finditer(sentence) if "you" in low else ():
            what = _commit_phrase(capture_phrase(sentence, m.end()))
            if _IN_A_MOMENT.search(what):
                continue  # "a text with the code in a few minutes" arrives during the call
            if len(what.split()) >= 2:
                out.append(t.candidate(f"Agent promised the caller will receive {what}",
                                       "commitment", None, 0.7, base + offset + m.start()))
        for m in _ARRANGED.finditer(sentence) if " and " in low else ():
            what = _commit_phrase(m.group("what").strip())
            then = re.sub(r"\s+", " ", m.group("then").lower())
            when = _commit_phrase(capture_phrase(sentence, m.end()))
            text = f"Agent promised {what} will {then} {when}".strip()
            out.append(t.candidate(text, "commitment", None, 0.7, base + offset + m.start()))
        if len(out) == found:
            for text, at, conf in extra_commitment(sentence, t.agent[:offset]):
                if text.startswith(_IT_WILL) and found and out[-1].kind == "commitment":
                    # "it" is what the promise just before was about: say when, there.
                    out[-1] = dataclasses.replace(
                        out[-1], text=f"{out[-1].text}; it will {text[len(_IT_WILL):]}")
                    continue
                if conf == JOIN_ONLY:
                    continue
                out.append(t.candidate(text, "commitment", None, conf, base + offset + at))
    # "We'll deliver every Tuesday": a promise that recurs is a standing arrangement, the
    # caller's recurring need, not a one-off to follow up.
    out = [dataclasses.replace(c, kind="need") if c.slot_key is None and RECURS.search(c.text)
           else c for c in out]
    for offset, sentence in sentences(t.user):
        if sentence.rstrip().endswith("?") or _OFFER.search(sentence):
            continue
        for m in _CALLER_PROMISE.finditer(sentence) if _FUTURE_OR_PROMISE.search(
                sentence) else ():
            verb = re.sub(r"\s+", " ", m.group("verb").lower()).removesuffix(" you")
            rest = _commit_phrase(third_person(capture_phrase(sentence, m.end())))
            if len(rest.split()) >= 2:
                out.append(t.candidate(f"Caller promised to {verb} {rest}", "commitment", None,
                                       0.7, offset + m.start()))
    return out


_CALLER_KINDS = WISH_KINDS | {"note"}
_USER_RULES: tuple[Rule, ...] = (
    *IDENTITY_RULES, *PEOPLE_RULES, *INTRO_RULES, *PET_RULES, *ADDRESS_RULES, *THING_RULES,
    *PREFERENCE_RULES, *SPOKEN_RULES, *NEED_RULES, *AGENT_RULES, *OFFER_RULES,
    *ARRANGED_RULES, *BOOKING_RULES, *STANDING_RULES, *HABIT_RULES, *USUAL_RULES,
    *NOTED_RULES, *WISH_RULES, *TASTE_RULES, *PROMISED_RULES, *CHOICE_RULES, commitments)
# Read again on the statement that ends a run-on question ("can we sit outside we love
# the terrace"): these rules skip questions.
_TAIL_RULES: tuple[Rule, ...] = (PREFERENCE_RULES[0],)


class RuleExtractor:
    """Pattern-based fact extractor with a learned layer; the offline default.

    ``name`` is ``"rules-v1+learned-v1"``, or ``"rules-v1"`` with ``learned=False``.

    Args:
        policy: what counts as sensitive. A caller's declared allergy is kept as a
            constraint ("Allergic to shellfish") unless ``allergy_constraints=False``.
        default_country_code: country code assumed for 10-digit phone numbers said
            without one (``"1"``, the North American plan).
        max_facts: most facts per call (at most :data:`MAX_FACTS`); each kind is also
            held to its limit in ``KIND_LIMITS``.
        min_confidence: candidates below this are dropped.
        learned: the learned layer (``_learned.py``): ``True`` for the bundled turn
            classifier, ``False`` for the rules alone, or a :class:`TurnClassifier`. The
            layer adds a fact where a turn states one no pattern reads (the caller's
            clause, or the agent's sentence), at about 0.06 ms of CPU a turn.
        tagger: the span tagger (``_tagger.py``, a CRF over the turn's words; off by
            default: one more right fact of 528 on the independent set for ~50 % more
            CPU): ``True`` for the bundled one (with the learned layer only), or a
            :class:`~voxmem.extraction._tagger.SpanTagger`. Its spans are added last, where
            no rule read a fact of that kind; about 0.5 ms of CPU a turn it reads.

    Example::

        extractor = RuleExtractor()
        facts = await extractor.extract(transcript)
    """

    name = "rules-v1"

    def __init__(
        self,
        *,
        policy: SensitivePolicy = DEFAULT_POLICY,
        default_country_code: str = DEFAULT_COUNTRY_CODE,
        max_facts: int = MAX_FACTS,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        learned: bool | TurnClassifier = True,
        tagger: bool | SpanTagger = False,
    ) -> None:
        self.policy = policy
        self.default_country_code = default_country_code
        self.max_facts = max(0, min(max_facts, MAX_FACTS))
        self.min_confidence = min_confidence
        self._learned = learned
        self.tagger: SpanTagger | None = (
            tagger if isinstance(tagger, SpanTagger)
            else default_tagger() if tagger and learned is not False else None)
        self.name = "rules-v1+learned-v1" if learned is not False else "rules-v1"

    async def extract(self, transcript: Transcript) -> list[ExtractedFact]:
        """Extract the facts of ``transcript`` (often none), best first.

        Pure CPU work of about half a millisecond per turn: a short call runs inline, a
        long one (tens of milliseconds) on a worker thread so the event loop keeps
        answering other callers' turns meanwhile.
        """
        if len(transcript.turns) > INLINE_TURNS:
            return await asyncio.to_thread(self.extract_sync, transcript)
        return self.extract_sync(transcript)

    def extract_sync(self, transcript: Transcript) -> list[ExtractedFact]:
        """The same as :meth:`extract`, for callers without an event loop."""
        candidates, views, open_turns = self._read(transcript)
        classifier = self.classifier
        if classifier is not None:
            candidates.extend(learned_candidates(classifier, views, candidates))
        # Last of all, in a turn where neither a rule nor the learned layer read a wish or
        # a note of the caller's: a cued clause the agent took up (``_rules_agreed.py``).
        covered = covered_kinds(candidates)
        for view in views:
            # The agent's standing change to the account ("I've switched your monthly case
            # to all reds"), where nothing of the caller's was read from the turn; the
            # classifier says whether it is a taste, a limit or a recurring need.
            promised = {c.position[1] for c in candidates
                        if c.kind == "commitment" and c.position[0] == view.index}
            changes = standing_changes(view, promised)
            if changes and not covered.get(view.turn_id, set()) & _CALLER_KINDS:
                if classifier is not None:
                    probs = classifier.probabilities(view.user, view.agent)
                    kind = max(KIND_WORDS, key=lambda k: probs[k])
                    changes = [relabel(c, kind) for c in changes]
                candidates.extend(changes)
        covered = covered_kinds(candidates)
        for view in open_turns:
            if covered.get(view.turn_id, set()) & _CALLER_KINDS:
                continue
            agreed = agreed_wishes(view)
            if agreed and classifier is not None:
                # The classifier, not a cue word, says whether the clause is a taste, a
                # limit or a recurring need: the kinds are where frames mislead most.
                probs = classifier.probabilities(view.user, view.agent)
                kind = max(KIND_WORDS, key=lambda k: probs[k])
                agreed = [relabel(c, kind) for c in agreed]
            candidates.extend(agreed)
        if self.tagger is not None:  # last: it adds only what nothing else read
            candidates.extend(tagger_candidates(self.tagger, views, candidates))
        if classifier is not None:
            candidates = settle_kinds(classifier, views, candidates)
        candidates = settle(candidates, [v.user for v in views])
        candidates = [c for c in candidates if not is_arrival_notice(c)
                      and not is_no_wish(c, views[c.position[0]].user)]
        candidates.extend(kept_candidates(transcript))
        return select_facts(
            [as_diet(c) for c in candidates],
            policy=self.policy,
            max_facts=self.max_facts,
            min_confidence=self.min_confidence,
        )

    def rule_pass(self, transcript: Transcript) -> tuple[list[Candidate], list[TurnView]]:
        """The rules' candidates before selection, and each turn as the rules saw it
        (redacted and normalised); the learned layer and its fit script read both."""
        candidates, views, _ = self._read(transcript)
        return candidates, views

    def _read(self, transcript: Transcript
              ) -> tuple[list[Candidate], list[TurnView], list[TurnView]]:
        # Also the turns in which no rule, not even a fallback, read a wish: the last
        # fallback runs there after the learned layer.
        open_turns: list[TurnView] = []
        candidates: list[Candidate] = []
        views: list[TurnView] = []
        prev_agent = ""
        asked: str | None = None
        for index, turn in enumerate(transcript.turns):
            # Redact first, on the raw words and with the agent's last question in mind:
            # "my pin is one nine eight four", or a bare "nine three one seven" after
            # "what's your PIN?", must be caught before spoken digits become numerals.
            user, agent, _ = redact_turn_text(turn.user_text or "", turn.assistant_text or "",
                                              asked=asked, policy=self.policy)
            asked = asked_for(agent)
            view = TurnView(
                index=index,
                turn_id=turn.turn_id,
                user=self._prepare(user, caller=True, reply=agent),
                agent=self._prepare(agent, caller=False),
                prev_agent=prev_agent,
                prev_user=views[-1].user if views else "",
                default_country_code=self.default_country_code,
                keep_health=not self.policy.health,
                user_raw=user,
            )
            found = len(candidates)
            for rule in _USER_RULES:
                candidates.extend(rule(view))
            candidates.extend(tails(view, _TAIL_RULES))
            # The agent's sentences no promise or booking rule read get the general reading.
            taken = {c.position[1] for c in candidates[found:]
                     if c.kind in ("commitment", "need") and c.position[1] >= len(view.user)}
            candidates.extend(
                dataclasses.replace(c, kind="need") if RECURS.search(c.text) else c
                for c in future_actions(view, taken))
            if not any(c.kind in ("commitment", "need") and c.position[1] >= len(view.user)
                       for c in candidates[found:]):
                candidates.extend(dated_confirmations(view))
            for back in (*read_back_ids(view), *answered_read_backs(view)):
                # The written read-back replaces a garbled spoken copy from this turn.
                candidates[found:] = [c for c in candidates[found:] if not (
                    c.kind == "identity" and c.slot_key != "name" and is_misheard_copy(c, back))]
                candidates.append(back)
            candidates[found:] = undertaken(view, taken_back(view, candidates[found:]))
            # A wish read with a redaction in it is dropped by the selection step; it does
            # not stand in for the fallbacks below.
            wished = {c.kind for c in candidates[found:] if "[redacted" not in c.text}
            asks = [] if wished & {"preference", "constraint"} else standing_asks(view)
            candidates.extend(asks)
            if "[redacted" not in user and not asks and not wished & WISH_KINDS:
                # The agent's "Back porch, noted." fills in only when no rule read the
                # caller's own words of this turn as a wish: those say it better. Never
                # after a redaction: the echo could restate what was redacted.
                mods = order_modifiers(view)
                fallback = (mods or echoed_preferences(view) or usual_wishes(view)
                            or asked_wishes(view) or reasoned_wishes(view)
                            or firm_wishes(view))
                candidates.extend(fallback)
                if not fallback:
                    open_turns.append(view)
                if not any(c.kind == "need" for c in candidates):
                    candidates.extend(echoed_needs(view))
            if self.policy.health and self.policy.allergy_constraints and (
                    "allerg" in (turn.user_text or "").lower()):
                # Read before redaction: the transcript loses the allergy, the fact keeps it.
                raw = restore_apostrophes(clean_fillers(turn.user_text or ""))
                candidates.extend(declared_allergies(view, raw))
            prev_agent = view.agent
            views.append(view)
        return candidates, views, open_turns

    @property
    def classifier(self) -> TurnClassifier | None:
        """The learned layer's turn classifier, or ``None`` when the rules run alone."""
        if isinstance(self._learned, TurnClassifier):
            return self._learned
        return default_classifier() if self._learned else None

    def _prepare(self, text: str, *, caller: bool, reply: str = "") -> str:
        if caller:
            text = repair_words(mark_spelled_gaps(text))
        text = clean_fillers(text)
        if caller:
            text = restore_apostrophes(text)
            text = spoken_emails_to_addresses(spoken_numbers(text))
            text = spelled_letters(text)
            written = frozenset(w.lower() for w in _CAPITALISED.findall(reply))
            text = spelled_out_to_words(spoken_numbers(spoken_digits_to_numerals(text)),
                                        written)
            text = spoken_emails_to_addresses(join_stray_digits(text))
            text = _STUTTER.sub(r"\1", text)
            text = _NUMBER_REPAIR.sub("", text)
        return text
