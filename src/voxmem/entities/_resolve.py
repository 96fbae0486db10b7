"""Linking decisions, as pure functions: which caller (if any) a set of identifiers proves.

Kept free of I/O so the rules can be read in one place and measured on labelled cases
(``benchmarks/identity.py``). The rules, in order of precedence:

1. Ambiguity never links: an identifier owned by two callers (a family phone) is
   evidence for neither.
2. Strong identifiers (phone, e-mail, account, ...) link on their own, but only when
   every strong identifier with an owner points at the same caller.
3. A corroborating identifier (order, invoice, ticket) links only together with a
   claimed name that matches its owner's name, by spelling or by sound.
4. A name alone never links.
5. A name that contradicts the owner's name blocks the link ("this is Mary" with
   John's account number is someone else, or someone calling for John).
6. In a call, speaking for someone else ("my son's account") never links.
7. In a call, an identifier the caller says is no proof on its own (anyone can read out
   an e-mail address or a phone number): it attaches the call only with a matching name
   or a second identifier of the same owner said in the call; a first-time caller who
   gives one with nothing else gets a merge *proposed* for review.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .._exceptions import BadRequest
from ..models import Scope
from ._identifiers import strength_of
from ._speech import names_match

__all__ = ["Candidate", "Decision", "decide_in_call", "decide_start", "merge_target"]


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """One identifier given for the call and the callers already linked to it."""

    kind: str
    value: str
    owners: frozenset[str]
    source: str = ""

    def evidence(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "source": self.source,
                "owners": sorted(self.owners)}


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """The outcome: ``user_id`` is the caller linked to (None: no link)."""

    user_id: str | None
    reason: str
    evidence: tuple[dict[str, Any], ...] = ()
    ambiguous: tuple[dict[str, Any], ...] = ()
    #: ``user_id`` is only a merge to propose for review, not a link
    propose: bool = False

    @property
    def linked(self) -> bool:
        return self.user_id is not None and not self.propose


def _name_verdict(claimed: Sequence[str], owner_names: Iterable[str]) -> str:
    """``match``, ``conflict`` or ``unknown`` (no claim, or the owner has no name)."""
    known = [n for n in owner_names if n]
    if not claimed or not known:
        return "unknown"
    if any(names_match(c, n) for c in claimed for n in known):
        return "match"
    return "conflict"


def decide_start(candidates: Sequence[Candidate], claimed_names: Sequence[str],
                 owner_names: Mapping[str, Sequence[str]]) -> Decision:
    """Which known caller the identifiers of a starting call prove, if any."""
    ambiguous = tuple(c.evidence() for c in candidates
                      if len(c.owners) > 1 and strength_of(c.kind) != "call")
    strong = [c for c in candidates if strength_of(c.kind) == "strong" and len(c.owners) == 1]
    owners = {next(iter(c.owners)) for c in strong}
    if len(owners) > 1:
        return Decision(None, "conflicting strong identifiers",
                        tuple(c.evidence() for c in strong), ambiguous)
    if owners:
        owner = next(iter(owners))
        if _name_verdict(claimed_names, owner_names.get(owner, ())) == "conflict":
            return Decision(None, "name contradicts the identifier's owner",
                            tuple(c.evidence() for c in strong), ambiguous)
        return Decision(owner, "strong identifier", tuple(c.evidence() for c in strong),
                        ambiguous)
    support = [c for c in candidates
               if strength_of(c.kind) == "corroborating" and len(c.owners) == 1]
    owners = {next(iter(c.owners)) for c in support}
    if len(owners) == 1:
        owner = next(iter(owners))
        if _name_verdict(claimed_names, owner_names.get(owner, ())) == "match":
            return Decision(owner, "name corroborated by an identifier the caller owns",
                            tuple(c.evidence() for c in support), ambiguous)
        return Decision(None, "corroborating identifier without a matching name",
                        tuple(c.evidence() for c in support), ambiguous)
    if len(owners) > 1:
        return Decision(None, "corroborating identifiers of different callers",
                        tuple(c.evidence() for c in support), ambiguous)
    return Decision(None, "no identifier of a known caller", (), ambiguous)


def decide_in_call(candidate: Candidate, current: str, *, claimed_names: Sequence[str],
                   owner_names: Sequence[str], current_is_new: bool, on_behalf: bool,
                   also_said: Sequence[Candidate] = ()) -> Decision:
    """Whether an identifier said during a call by caller ``current`` moves the call to
    the identifier's owner (``propose``: only a merge to review is recorded).

    An identifier said aloud is no secret (an e-mail address is on a business card), so
    it attaches the call only with a second, independent piece of evidence: a matching
    name, or another identifier of the same owner said in the call (``also_said``).
    Alone, said by a caller with no history, it proposes the merge.
    """
    others = candidate.owners - {current}
    ev = (candidate.evidence(),)
    if not others:
        return Decision(None, "identifier is the caller's own or unknown", ev)
    if len(candidate.owners) > 1:
        return Decision(None, "identifier has several owners", ev, ev)
    owner = next(iter(others))
    if on_behalf:
        return Decision(None, "caller speaks for someone else", ev)
    verdict = _name_verdict(claimed_names, owner_names)
    if verdict == "conflict":
        return Decision(None, "name contradicts the identifier's owner", ev)
    strength = strength_of(candidate.kind)
    second = tuple(c.evidence() for c in also_said
                   if c.owners == {owner} and (c.kind, c.value) != (candidate.kind, candidate.value)
                   and strength_of(c.kind) in ("strong", "corroborating"))
    if verdict == "match" and strength == "strong":
        return Decision(owner, "strong identifier of another caller, with a matching name", ev)
    if verdict == "match" and strength == "corroborating":
        return Decision(owner, "name corroborated by an identifier the caller owns", ev)
    if current_is_new and second and strength in ("strong", "corroborating"):
        return Decision(owner, "two identifiers of the same caller said in the call",
                        ev + second)
    if strength == "strong" and current_is_new:
        return Decision(owner, "an identifier said in the call, with nothing to corroborate "
                        "it", ev, propose=True)
    if strength == "strong":
        return Decision(None, "known caller gave another caller's identifier without a "
                        "matching name", ev)
    return Decision(None, "corroborating identifier without a matching name", ev)


def merge_target(canonical: Callable[[Scope], str], source: Scope, target: Scope) -> Scope:
    """``target`` as it stands now (under the merge lock); refuses a merge another one
    made moot while this one waited.

    Both ids were resolved before the lock: two merges racing the opposite ways (a into
    b, b into a) both went through and left each id redirecting to the other, each merge
    "in force" with the rows moved back and forth.
    """
    if (now := canonical(source)) != source.user_id:
        raise BadRequest(f"caller {source.user_id!r} was merged into {now!r} meanwhile",
                         field="from_id")
    current = canonical(target)
    if current == source.user_id:
        raise BadRequest("from_id and to_id are the same caller", field="to_id")
    return target if current == target.user_id else dataclasses.replace(
        target, user_id=current)
