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
from ._detector import UtteranceDetector, default_detector, detected_candidates
from ._kept import kept_candidates
from ._learned import (
    TurnClassifier,
    covered_kinds,
    default_classifier,
    learned_candidates,
    settle_kinds,
)
from ._notices import drop_booking_notices
from ._rules_absorbed import absorbed_wishes
from ._rules_addressed import ADDRESS_RULES
from ._rules_agent import AGENT_RULES, RECURS
from ._rules_agreed import KIND_WORDS, agreed_wishes, relabel
from ._rules_amend import WISH_KINDS, is_arrival_notice, is_no_wish, taken_back
from ._rules_arranged import ARRANGED_RULES
from ._rules_bookings import BOOKING_RULES
from ._rules_changed import standing_changes
from ._rules_channel import channel_taken_up
from ._rules_choices import CHOICE_RULES, tails
from ._rules_commitments import commitments
from ._rules_common import Rule, TurnView
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
)
from ._verify import FactVerifier, default_verifier, mark, source_of
from .redaction import redact_turn_text
from .sensitive import DEFAULT_POLICY, SensitivePolicy

__all__ = ["DEFAULT_MIN_CONFIDENCE", "RuleExtractor"]

#: Calls with more turns than this are extracted on a worker thread, not inline.
INLINE_TURNS = 6
#: Candidates below this confidence are not kept.
DEFAULT_MIN_CONFIDENCE = 0.5

# "its its kathy", "the the order", "lucy, lucy brennan": a repeated word is a stutter, said once.
_STUTTER = re.compile(r"\b([a-z][a-z']+)(?:,?\s+\1\b)+", re.IGNORECASE)
# "773 uh sorry 778221": a number the caller corrected at once is dropped for the new one.
_NUMBER_REPAIR = re.compile(
    r"\b\d[\d-]*,?\s+(?:(?:uh|um|er|oh)\s+)?(?:(?:no|sorry|i\s+mean|wait|scratch\s+that|"
    r"hang\s+on)[\s,]+)+(?:(?:it's|its|it\s+is)\s+)?(?=\d)", re.IGNORECASE)
# Words the agent wrote with a capital: the names it heard.
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+\b")

_CALLER_KINDS = WISH_KINDS | {"note"}
_USER_RULES: tuple[Rule, ...] = (
    *IDENTITY_RULES, *PEOPLE_RULES, *INTRO_RULES, *PET_RULES, *ADDRESS_RULES, *THING_RULES,
    *PREFERENCE_RULES, *SPOKEN_RULES, *NEED_RULES, *AGENT_RULES, *OFFER_RULES,
    *ARRANGED_RULES, *BOOKING_RULES, *STANDING_RULES, *HABIT_RULES, *USUAL_RULES,
    *NOTED_RULES, *WISH_RULES, *TASTE_RULES, *PROMISED_RULES, *CHOICE_RULES, commitments)
# Read again on the statement that ends a run-on question ("can we sit outside we love
# the terrace"): these rules skip questions.
_TAIL_RULES: tuple[Rule, ...] = (PREFERENCE_RULES[0],)
#: Each rule's source, "family.function" ("identity.names"): the fact verifier's first feature.
_SOURCES: dict[Rule, str] = {rule: source_of(rule) for rule in _USER_RULES}


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
        verify: the fact verifier (``_verify.py``, a logistic regression over each fact
            the rest proposes: its source, kind, confidence, sentence, echo): ``True``
            (the default) for the bundled one, ``False`` to keep every fact, or a
            :class:`~voxmem.extraction._verify.FactVerifier`. It drops a fact it judges
            likely wrong; about 0.05 ms of CPU a turn.
        detector: the utterance detector (``_detector.py``, a logistic regression over
            the static embedding's sentence vectors of each caller clause; off by
            default, docs/extraction.md gives the figures): ``True`` for the bundled one,
            or an :class:`~voxmem.extraction._detector.UtteranceDetector`. It adds the
            caller's clause that states something lasting in a turn where nothing else
            read a wish or a note.

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
        verify: bool | FactVerifier = True,
        detector: bool | UtteranceDetector = False,
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
        self.verifier: FactVerifier | None = (
            verify if isinstance(verify, FactVerifier)
            else default_verifier() if verify else None)
        self.detector: UtteranceDetector | None = (
            detector if isinstance(detector, UtteranceDetector)
            else default_detector() if detector else None)

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
        facts, chosen, views = self.read(transcript)
        if self.verifier is None:
            return facts
        return self.verifier.keep(facts, chosen, views)

    def read(self, transcript: Transcript
             ) -> tuple[list[ExtractedFact], list[Candidate], list[TurnView]]:
        """The facts before the verifier, the candidate each came from (its source and
        place), and each turn as the rules saw it; the verifier's fit script reads all three."""
        candidates, views, open_turns = self._read(transcript)
        classifier = self.classifier
        if classifier is not None:
            candidates.extend(mark(learned_candidates(classifier, views, candidates), 0,
                                   "learned"))
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
                candidates.extend(mark(changes, 0, "changed"))
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
            candidates.extend(mark(agreed, 0, "agreed"))
        # After every other reading of the caller's words: the wish the agent's booking
        # repeats (``_rules_absorbed.py``).
        covered = covered_kinds(candidates)
        by_turn: dict[int, list[Candidate]] = {}
        for c in candidates:
            by_turn.setdefault(c.position[0], []).append(c)
        for view in open_turns:
            if not covered.get(view.turn_id, set()) & _CALLER_KINDS:
                candidates.extend(mark(absorbed_wishes(view, by_turn.get(view.index, [])),
                                       0, "absorbed"))
        if self.tagger is not None:  # last: it adds only what nothing else read
            candidates.extend(mark(tagger_candidates(self.tagger, views, candidates), 0, "tagger"))
        if self.detector is not None:  # after every other reading of the caller's words
            candidates.extend(mark(detected_candidates(self.detector, views, candidates), 0,
                                   "detector"))
        if classifier is not None:
            candidates = settle_kinds(classifier, views, candidates)
        candidates = settle(candidates, [v.user for v in views])
        candidates = drop_booking_notices([c for c in candidates if not is_arrival_notice(c)
                                           and not is_no_wish(c, views[c.position[0]].user)])
        candidates.extend(mark(kept_candidates(transcript), 0, "kept"))
        chosen: list[Candidate] = []
        facts = select_facts(
            [as_diet(c) for c in candidates],
            policy=self.policy,
            max_facts=self.max_facts,
            min_confidence=self.min_confidence,
            chosen_out=chosen,
        )
        return facts, chosen, views

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
                candidates.extend(mark(rule(view), 0, _SOURCES[rule]))
            candidates.extend(mark(tails(view, _TAIL_RULES), 0, "tails"))
            # The agent's sentences no promise or booking rule read get the general reading.
            taken = {c.position[1] for c in candidates[found:]
                     if c.kind in ("commitment", "need") and c.position[1] >= len(view.user)}
            candidates.extend(
                dataclasses.replace(c, kind="need") if RECURS.search(c.text) else c
                for c in mark(future_actions(view, taken), 0, "future"))
            if not any(c.kind in ("commitment", "need") and c.position[1] >= len(view.user)
                       for c in candidates[found:]):
                candidates.extend(mark(dated_confirmations(view), 0, "dated"))
            for back in (*mark(read_back_ids(view), 0, "identity.read_back"),
                         *mark(answered_read_backs(view), 0, "readback")):
                # The written read-back replaces a garbled spoken copy from this turn.
                candidates[found:] = [c for c in candidates[found:] if not (
                    c.kind == "identity" and c.slot_key != "name" and is_misheard_copy(c, back))]
                candidates.append(back)
            candidates[found:] = mark(
                undertaken(view, taken_back(view, candidates[found:])), 0, "undertaken")
            # A promise to use the channel the caller asked for is their preference.
            candidates[found:] = mark(channel_taken_up(view, candidates[found:]), 0, "channel")
            # A wish read with a redaction in it is dropped by the selection step; it does
            # not stand in for the fallbacks below.
            wished = {c.kind for c in candidates[found:] if "[redacted" not in c.text}
            asks = ([] if wished & {"preference", "constraint"}
                    else mark(standing_asks(view), 0, "requests"))
            candidates.extend(asks)
            if "[redacted" not in user and not asks and not wished & WISH_KINDS:
                # The agent's "Back porch, noted." fills in only when no rule read the
                # caller's own words of this turn as a wish: those say it better. Never
                # after a redaction: the echo could restate what was redacted.
                mods = order_modifiers(view)
                fallback = (mark(mods, 0, "modifiers")
                            or mark(echoed_preferences(view), 0, "noted.echoed")
                            or mark(usual_wishes(view), 0, "usual")
                            or mark(asked_wishes(view), 0, "usual.asked")
                            or mark(reasoned_wishes(view), 0, "reasons")
                            or mark(firm_wishes(view), 0, "firm"))
                candidates.extend(fallback)
                if not fallback:
                    open_turns.append(view)
                if not any(c.kind == "need" for c in candidates):
                    candidates.extend(mark(echoed_needs(view), 0, "noted.needs"))
            if self.policy.health and self.policy.allergy_constraints and (
                    "allerg" in (turn.user_text or "").lower()):
                # Read before redaction: the transcript loses the allergy, the fact keeps it.
                raw = restore_apostrophes(clean_fillers(turn.user_text or ""))
                candidates.extend(mark(declared_allergies(view, raw), 0, "allergy"))
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
