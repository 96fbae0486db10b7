"""Identifiers and names a caller says during a call: attach the call, propose, or
record the identifier as the caller's own.

Split from the directory so the in-call rule and its per-call state read in one place.
An identifier said aloud is not a secret (an e-mail address is on a business card, a
phone number on every invoice), so on its own it proves nothing about who is speaking:
the decision itself is in :func:`~._resolve.decide_in_call`, this module gathers its
evidence — the names said so far in the call and the other identifiers said in it.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..models import Scope, Turn
from ..store import Store
from ..store import _entities as ops
from ..store._entities import IdentifierRow, MergeRow
from ._identifiers import STRENGTH_SCORE, SpokenClaims, spoken_claims, strength_of
from ._resolve import Candidate, Decision, decide_in_call

__all__ = ["IMPORTED_SOURCE", "SAID_SOURCE", "SAID_STRENGTH", "UNVERIFIED_SOURCES",
           "InCallLinking"]

log = logging.getLogger("voxmem.entities")

#: Strength kept for an identifier a caller said (not verified by a system).
SAID_STRENGTH = 0.8
#: How the source of a link made from a caller's words begins (the call's id follows).
SAID_SOURCE = "said in call "
#: How the source of a link read from an import file begins (the file's source follows).
IMPORTED_SOURCE = "imported "
#: Links that decide no call start until a system links them again (docs/callers.md).
UNVERIFIED_SOURCES = (SAID_SOURCE, IMPORTED_SOURCE)
CALL_STATE_KEPT = 10_000


class _Directory(Protocol):
    """What the in-call linking uses of the caller directory (which owns it)."""

    region: str | None
    store: Store

    def canonical(self, tenant_id: str, project_id: str, space: str, user_id: str) -> str: ...

    async def owners(self, scope: Scope, kind: str, value: str, *,
                     verified: bool = False) -> frozenset[str]: ...

    async def names_of(self, scope: Scope, user_id: str) -> list[str]: ...

    async def merge(self, source: Scope, target: Scope, *, evidence: dict[str, Any],
                    status: str = "merged") -> MergeRow: ...


@dataclasses.dataclass(slots=True)
class _CallState:
    """What the caller said about who they are, so far in one call."""

    names: list[str] = dataclasses.field(default_factory=list)
    #: the caller said they act for someone else ("calling for my mother")
    on_behalf: bool = False
    #: (kind, normalised value, raw, turn id) of every identifier said, in order
    said: list[tuple[str, str, str, str]] = dataclasses.field(default_factory=list)
    #: callers a merge was proposed to (once each) and the identifiers that proposed it
    proposed: dict[str, tuple[str, str, str, str]] = dataclasses.field(default_factory=dict)
    #: one turn's identifiers are acted on at a time, in the order said
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)


class InCallLinking:
    """The in-call part of a caller directory: one per directory."""

    def __init__(self, directory: _Directory, clock: Callable[[], float]) -> None:
        """Given the directory it acts for (lookups, merges, the store) and a clock."""
        self._dir = directory
        self._clock = clock
        self._calls: collections.OrderedDict[tuple[str, ...], _CallState] = \
            collections.OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()

    def observe_turn(self, scope: Scope, turn: Turn, claims: SpokenClaims | None,
                     mode: str) -> None:
        """Act on identifiers the caller said (``claims``: its scan, if made), in the
        background; a name said after an identifier settles a merge proposed for it."""
        if mode == "off" or not turn.user_text.strip():
            return
        if claims is None:
            claims = spoken_claims(turn.user_text, self._dir.region)
        key = (*scope.caller_key, turn.session_id)
        # "I'm calling for my mother." said before her name or e-mail address: what the
        # caller gives later in this call is hers, not theirs.
        if not claims.identifiers and not claims.names:
            if claims.on_behalf:
                self._state(key).on_behalf = True
            return
        state = self._state(key)
        state.on_behalf = state.on_behalf or claims.on_behalf
        new_names = [n for n in claims.names if n not in state.names]
        state.names.extend(new_names)
        said = [(kind, value, raw, turn.turn_id) for kind, value, raw in claims.identifiers]
        state.said.extend(s for s in said if s not in state.said)
        if not said and not (new_names and state.proposed):
            return
        task = asyncio.ensure_future(self._claims(scope, turn, said, bool(new_names), state,
                                                  state.on_behalf, mode))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _state(self, key: tuple[str, ...]) -> _CallState:
        state = self._calls.setdefault(key, _CallState())
        self._calls.move_to_end(key)
        while len(self._calls) > CALL_STATE_KEPT:
            self._calls.popitem(last=False)
        return state

    async def idle(self) -> None:
        """Wait until every in-call identifier seen so far has been acted on."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def forget(self, scope: Scope) -> None:
        """Drop the call state of an erased caller."""
        for key in [k for k in self._calls if k[:4] == scope.caller_key]:
            self._calls.pop(key, None)

    async def _owners(self, scope: Scope, kind: str, value: str) -> frozenset[str]:
        d = self._dir
        # Only links a system made: a stranger who said Ann's number first must not be
        # the caller Ann's own call is attached to when she says it.
        return frozenset(d.canonical(scope.tenant_id, scope.project_id, scope.space, o)
                         for o in await d.owners(scope, kind, value, verified=True))

    async def _claims(self, scope: Scope, turn: Turn,
                      said: Sequence[tuple[str, str, str, str]], names_grew: bool,
                      state: _CallState, on_behalf: bool, mode: str) -> None:
        async with state.lock:
            todo = list(said)
            if names_grew:  # the evidence grew: look again at what only proposed a merge
                todo.extend(s for s in state.proposed.values() if s not in todo)
            await self._decide(scope, turn, todo, state, on_behalf, mode)

    async def _decide(self, scope: Scope, turn: Turn,
                      identifiers: Sequence[tuple[str, str, str, str]], state: _CallState,
                      on_behalf: bool, mode: str) -> None:
        d = self._dir
        try:
            for kind, value, raw, said_in in identifiers:
                current = d.canonical(scope.tenant_id, scope.project_id, scope.space,
                                      scope.user_id)
                here = dataclasses.replace(scope, user_id=current)
                owners = await self._owners(here, kind, value)
                candidate = Candidate(kind, value, owners, f"{SAID_SOURCE}{turn.session_id}")
                others = owners - {current}
                owner_names = await d.names_of(here, next(iter(others))) \
                    if len(others) == 1 else []
                also = [Candidate(k, v, await self._owners(here, k, v))
                        for k, v, _raw, _turn in list(state.said) if (k, v) != (kind, value)]
                sessions = await d.store.recent_sessions(here, 2)
                is_new = all(s.id == turn.session_id for s in sessions)
                decision = decide_in_call(candidate, current, claimed_names=list(state.names),
                                          owner_names=owner_names, current_is_new=is_new,
                                          on_behalf=on_behalf, also_said=also)
                await self._act(here, turn, said_in, candidate, raw, decision, mode,
                                on_behalf, state)
        except Exception:
            log.exception("acting on identifiers said in call %s failed", turn.session_id)

    async def _act(self, here: Scope, turn: Turn, said_in: str, candidate: Candidate,
                   raw: str, decision: Decision, mode: str, on_behalf: bool,
                   state: _CallState) -> None:
        d = self._dir
        if decision.user_id is not None:
            merging = mode == "attach" and not decision.propose
            if not merging and decision.user_id in state.proposed:
                return  # proposed once in this call already
            evidence = {"reason": decision.reason, "identifier": candidate.evidence(),
                        "also": list(decision.evidence[1:]),
                        "names": list(state.names), "sessionId": turn.session_id,
                        "turnId": said_in, "said": raw}
            if not merging:
                state.proposed[decision.user_id] = (candidate.kind, candidate.value, raw,
                                                    said_in)
            else:
                state.proposed.pop(decision.user_id, None)
            await d.merge(here, dataclasses.replace(here, user_id=decision.user_id),
                          evidence=evidence, status="merged" if merging else "proposed")
            return
        if not candidate.owners and not on_behalf:
            # A new identifier of this caller's, as said in this call.
            row = IdentifierRow(kind=candidate.kind, value=candidate.value,
                                user_id=here.user_id, raw=raw, source=candidate.source,
                                session_id=turn.session_id, turn_id=said_in,
                                strength=min(SAID_STRENGTH,
                                             STRENGTH_SCORE[strength_of(candidate.kind)]),
                                created_at=self._clock())
            await d.store.run_entities(here.tenant_id, ops.add_identifiers(here, [row]))
        elif decision.ambiguous or candidate.owners - {here.user_id}:
            log.info("no link for %s said in call %s: %s", candidate.kind, turn.session_id,
                     decision.reason)
