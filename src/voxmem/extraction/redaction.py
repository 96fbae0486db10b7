"""Redaction of everything a caller can make us store: turns, tool calls, metadata, profiles.

:func:`~voxmem.extraction.sensitive.redact` handles one string. A stored turn carries more
than two strings (tool-call arguments, often a JSON string; free-form metadata), profile
values can be any JSON value, and a session report is a nested object. :class:`Redactor`
applies the detector to all of it, and adds what a single string cannot know: the
conversation. After the agent asks "what PIN would you like?", the answer "let's do uh
nine three one seven" is a PIN even though it says no such thing, and when the agent reads
it back ("9 3 1 7, got it") that copy is redacted too.

Example::

    >>> from voxmem.extraction.redaction import Redactor
    >>> r = Redactor()
    >>> r.turn("ses_1", user_text="hi", assistant_text="What PIN would you like to use?").user_text
    'hi'
    >>> r.turn("ses_1", user_text="let's do uh nine three one seven",
    ...        assistant_text="Done.").user_text
    "let's do uh [redacted:password_pin]"
    >>> r.value({"cardNumber": "4111 1111 1111 1111", "note": "pin is 4432"})
    {'cardNumber': '[redacted:payment_card]', 'note': 'pin is [redacted:password_pin]'}
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from ._context import (
    asked_for,
    card_begun,
    find_answer_values,
    find_echoes,
    is_short_wait,
    left_open,
)
from ._kept import KEPT_KEY, kept_constraints, kept_from_metadata
from .sensitive import DEFAULT_POLICY, SensitivePolicy, find_sensitive, luhn_valid

__all__ = ["KEPT_KEY", "RedactedTurn", "Redactor", "TurnContext", "kept_from_metadata",
           "redact_turn", "redact_turn_text", "redact_value"]

#: What a session's last turn leaves for its next: what the agent asked the caller for
#: (None: nothing) and the agent's last words, redacted.
TurnContext = tuple[str | None, str]

#: Sessions whose last agent words are remembered for context; the oldest are forgotten.
DEFAULT_SESSIONS_KEPT = 10_000

# A key (field name, metadata key, tool argument name) that says its value is sensitive.
# Keys are compared as lower-case words: "cardNumber", "card-number" and "card_number" are
# all ["card", "number"].
_KEY_WORDS: tuple[tuple[str, tuple[frozenset[str], ...]], ...] = (
    ("payment_card", (frozenset({"card", "number"}), frozenset({"cardnumber"}),
                      frozenset({"pan"}), frozenset({"cc"}), frozenset({"ccnumber"}),
                      frozenset({"card", "no"}), frozenset({"creditcard"}),
                      frozenset({"credit", "card"}), frozenset({"debit", "card"}))),
    ("password_pin", (frozenset({"password"}), frozenset({"passwd"}), frozenset({"pwd"}),
                      frozenset({"passcode"}), frozenset({"pin"}), frozenset({"pincode"}),
                      frozenset({"cvv"}), frozenset({"cvv2"}), frozenset({"cvc"}),
                      frozenset({"csc"}), frozenset({"otp"}), frozenset({"secret"}),
                      frozenset({"security", "code"}), frozenset({"security", "answer"}),
                      frozenset({"verification", "code"}), frozenset({"one", "time", "code"}),
                      frozenset({"maiden", "name"}), frozenset({"passphrase"}))),
    ("government_id", (frozenset({"ssn"}), frozenset({"social", "security"}),
                       frozenset({"passport"}), frozenset({"nino"}),
                       frozenset({"national", "insurance"}), frozenset({"tax", "id"}),
                       frozenset({"itin"}), frozenset({"licence", "number"}),
                       frozenset({"license", "number"}), frozenset({"drivers", "license"}),
                       frozenset({"driving", "licence"}), frozenset({"national", "id"}))),
    ("health", (frozenset({"diagnosis"}), frozenset({"medical"}), frozenset({"health"}),
                frozenset({"medication"}), frozenset({"medications"}), frozenset({"meds"}),
                frozenset({"allergy"}), frozenset({"allergies"}), frozenset({"condition"}),
                frozenset({"conditions"}), frozenset({"prescription"}),
                frozenset({"prescriptions"}))),
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_KEY_SPLIT = re.compile(r"[^a-z0-9]+")
# Tool names that say what their arguments are: verify_pin(value="4432").
_TOOL_NAME_KEYS = ("name", "tool", "function", "tool_name", "toolName")
_CARD_DIGITS = re.compile(r"^\d{13,19}$")
_LOOKS_JSON = re.compile(r"^\s*[\[{]")
_HAS_DIGIT = re.compile(r"\d")
# Argument names that carry whatever the tool's name says ("verify_pin(value=...)"); an
# "account" argument of the same tool is not its PIN.
_GENERIC_KEYS = frozenset({"value", "code", "input", "digits", "answer", "number", "text",
                           "entered", "response", "spoken", "said"})


@functools.lru_cache(maxsize=4096)
def _key_category(key: str) -> str | None:
    words = frozenset(_KEY_SPLIT.split(_CAMEL.sub("_", key).lower())) - {""}
    for category, sets in _KEY_WORDS:
        if any(s <= words for s in sets):
            return category
    return None


#: Shorter strings hold nothing the detector can recognise without a key naming them.
_MIN_TEXT = 4


def _redact_text(text: str, policy: SensitivePolicy, about_caller: bool) -> str:
    if len(text) < _MIN_TEXT:
        return text
    findings = find_sensitive(text, policy, about_caller=about_caller)
    return _replace(text, [(f.start, f.end, f.category) for f in findings], policy)


def _replace(text: str, spans: list[tuple[int, int, str]], policy: SensitivePolicy) -> str:
    if not spans:
        return text
    spans.sort()
    merged: list[tuple[int, int, str]] = []
    for start, end, category in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, category))
    out: list[str] = []
    last_end = 0
    for start, end, category in merged:
        out.append(text[last_end:start])
        out.append(policy.placeholder.format(category=category))
        last_end = end
    out.append(text[last_end:])
    return "".join(out)


def redact_value(
    value: Any, policy: SensitivePolicy = DEFAULT_POLICY, *, key: str | None = None,
    about_caller: bool = False,
) -> Any:
    """``value`` (any JSON value) with every sensitive part redacted; the input is not changed.

    Strings go through the detector; a JSON object or array inside a string (tool-call
    arguments usually arrive that way) is redacted inside and written back; a number that
    is a Luhn-valid card is replaced; and a value under a key that names a secret
    (``"pin"``, ``"cardNumber"``, ``"passport_no"``, ``"medications"``) is replaced whole,
    because its key says what it is even when it looks like nothing ("1234", "yes").
    """
    return _walk(value, policy, key, None, about_caller, 0)


_MAX_DEPTH = 64


def _walk(value: Any, policy: SensitivePolicy, key: str | None, hint: str | None,
          about_caller: bool, depth: int) -> Any:
    category = _key_category(key) if key else None
    if (category is not None and policy.enabled(category)
            and value not in (None, "", [], {}) and not isinstance(value, bool)):
        return policy.placeholder.format(category=category)
    if depth > _MAX_DEPTH:  # deeper than any real payload; the validator bounds sizes
        return value
    if isinstance(value, str):
        return _walk_string(value, policy, key, hint, about_caller, depth)
    if hint is not None and key is not None and key not in _GENERIC_KEYS and not isinstance(
            value, (dict, list, tuple)):
        hint = None
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        digits = str(abs(value))
        if policy.payment_card and _CARD_DIGITS.match(digits) and luhn_valid(digits):
            return policy.placeholder.format(category="payment_card")
        if hint and policy.enabled(hint) and len(digits) >= 3:
            return policy.placeholder.format(category=hint)
        return value
    if isinstance(value, dict):
        tool_hint = hint
        for name_key in _TOOL_NAME_KEYS:
            name = value.get(name_key)
            if isinstance(name, str):
                tool_hint = _key_category(name) or tool_hint
        out: dict[Any, Any] = {}
        for k, v in value.items():
            # Keys are field names; only one holding digits can carry a number worth hiding.
            new_key = (_redact_text(k, policy, about_caller)
                       if isinstance(k, str) and _HAS_DIGIT.search(k) else k)
            out[new_key] = _walk(v, policy, k if isinstance(k, str) else None,
                                 None if k in _TOOL_NAME_KEYS else tool_hint,
                                 about_caller, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_walk(v, policy, None, hint, about_caller, depth + 1) for v in value]
    return value


def _walk_string(value: str, policy: SensitivePolicy, key: str | None, hint: str | None,
                 about_caller: bool, depth: int) -> Any:
    if _LOOKS_JSON.match(value):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            cleaned = _walk(parsed, policy, None, hint, about_caller, depth + 1)
            return value if cleaned == parsed else json.dumps(cleaned, ensure_ascii=False)
    if hint and (key is None or key in _GENERIC_KEYS) and policy.enabled(hint) and (
            _HAS_DIGIT.search(value) and len(value) <= 40):
        # verify_pin(value="4432"): the tool's name says what its short values are.
        return policy.placeholder.format(category=hint)
    return _redact_text(value, policy, about_caller)


@dataclasses.dataclass(frozen=True, slots=True)
class RedactedTurn:
    """A turn's caller-supplied parts after redaction, ready to be journaled."""

    user_text: str
    assistant_text: str
    tool_calls: list[dict[str, Any]]
    metadata: dict[str, Any]


class Redactor:
    """Applies the sensitive-data detector to every caller-supplied value before it is stored.

    One instance serves a whole engine. It remembers, per session, what the agent said
    last (already redacted), so a bare answer to "what's your PIN?" is recognised in the
    next turn. Thread-safe; memory is bounded by ``sessions_kept``.

    Args:
        policy: which categories are redacted and how the placeholder reads.
        sessions_kept: how many sessions' last agent words are kept for context.
    """

    def __init__(self, policy: SensitivePolicy = DEFAULT_POLICY, *,
                 sessions_kept: int = DEFAULT_SESSIONS_KEPT) -> None:
        self.policy = policy
        self._sessions_kept = max(1, sessions_kept)
        # session key -> (what the agent asked for, or None; the agent's last words)
        self._context: OrderedDict[Hashable, TurnContext] = OrderedDict()
        self._lock = threading.Lock()

    def turn(
        self, session_id: Hashable | None, *, user_text: str, assistant_text: str,
        tool_calls: list[dict[str, Any]] | None = None, metadata: dict[str, Any] | None = None,
    ) -> RedactedTurn:
        """Redact one turn, using what the agent asked in the session's previous turn.

        Turns of one session must be passed in the order they happened; a turn without a
        session id is redacted without context. ``session_id`` is any hashable key; where
        session ids are chosen by clients, include the tenant and project in it so two
        tenants' "call-1" do not share context.
        """
        context: TurnContext = (None, "")
        if session_id is not None:
            context = self.context(session_id)
        clean, after = redact_turn(context, user_text=user_text, assistant_text=assistant_text,
                                   tool_calls=tool_calls, metadata=metadata,
                                   policy=self.policy)
        if session_id is not None:
            self.remember(session_id, after)
        return clean

    def context(self, session_id: Hashable) -> TurnContext:
        """What the session's last turn left for the next one (see :func:`redact_turn`)."""
        with self._lock:
            return self._context.get(session_id, (None, ""))

    def remember(self, session_id: Hashable, context: TurnContext) -> None:
        """Keep ``context`` for the session's next turn (a turn redacted elsewhere, in
        the order the session's turns happened)."""
        with self._lock:
            self._context[session_id] = context
            self._context.move_to_end(session_id)
            while len(self._context) > self._sessions_kept:
                self._context.popitem(last=False)

    def value(self, value: Any, *, field: str | None = None, about_caller: bool = False) -> Any:
        """Redact any JSON value: a profile value (``field`` is its name), a report, metadata.

        Pass ``about_caller=True`` for values that describe the caller by construction
        (profile fields), so "diabetic" counts as health data without an "i am" before it.
        """
        return redact_value(value, self.policy, key=field, about_caller=about_caller)

    def forget(self, session_id: Hashable) -> None:
        """Drop a finished session's context."""
        with self._lock:
            self._context.pop(session_id, None)


def redact_turn(
    context: TurnContext, *, user_text: str, assistant_text: str,
    tool_calls: list[dict[str, Any]] | None = None, metadata: dict[str, Any] | None = None,
    policy: SensitivePolicy = DEFAULT_POLICY,
) -> tuple[RedactedTurn, TurnContext]:
    """Redact one turn given what the session's previous turn left; the turn and what it
    leaves for the next.

    :meth:`Redactor.turn` is this with the context kept per session. It is a pure
    function of its arguments, so a save's redaction can run in another process (the
    engine's text worker) with the same answer, provided each session's turns are passed
    in order, each with the context its predecessor returned.
    """
    pending = context[0]
    user, assistant, answered = redact_turn_text(
        user_text, assistant_text, asked=pending, policy=policy)
    asked = asked_for(assistant)
    if asked is None and pending is not None and not answered and is_short_wait(assistant):
        asked = pending  # "take your time": the question is still open
    if asked is None and ("?" not in assistant or len(assistant.split()) <= 3):
        # "my pin is" ... (next turn) "1234", unless the agent asked about something else;
        # "my card is 4111 1111" ... "1111 1111" likewise.
        asked = left_open(user) or (
            "payment_card" if user_text and card_begun(user_text) else None)
    # The kept facts are ours to write: a client's value under the key would be learned
    # as something the caller never said.
    meta: dict[str, Any] = redact_value(
        {k: v for k, v in (metadata or {}).items() if k != KEPT_KEY}, policy)
    if user != user_text and (kept := kept_constraints(user_text, policy)):
        # The redacted text no longer says it; the learner reads it from here.
        meta[KEPT_KEY] = kept
    return RedactedTurn(
        user_text=user,
        assistant_text=assistant,
        tool_calls=[redact_value(c, policy) for c in (tool_calls or [])],
        metadata=meta,
    ), (asked, assistant)


def redact_turn_text(
    user_text: str, assistant_text: str, *, asked: str | None = None,
    policy: SensitivePolicy = DEFAULT_POLICY,
) -> tuple[str, str, bool]:
    """Redact one exchange; ``asked`` is what the agent's previous turn asked the caller for.

    Returns the caller's text, the agent's text and whether an answer to ``asked`` was
    found and redacted.
    """
    spans = [(f.start, f.end, f.category)
             for f in find_sensitive(user_text or "", policy)]
    if policy.payment_card and user_text and (begun := card_begun(user_text)):
        spans.append((*begun, "payment_card"))  # the first half of a card is half of it
    captured: set[str] = set()
    if asked is not None and policy.enabled(asked) and user_text:
        for start, end, digits in find_answer_values(user_text, asked):
            spans.append((start, end, asked))
            if digits:
                captured.add(digits)
    agent_spans = [(f.start, f.end, f.category)
                   for f in find_sensitive(assistant_text or "", policy)]
    if asked is not None:
        agent_spans.extend((s, e, asked) for s, e in find_echoes(assistant_text or "", captured))
    answered = any(cat == asked for _, _, cat in spans) if asked else False
    return (_replace(user_text or "", spans, policy),
            _replace(assistant_text or "", agent_spans, policy), answered)
