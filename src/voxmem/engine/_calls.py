"""Calls and turns: open and close a call, save a turn, update a profile, import history.

:class:`Calls` is given the write path (durable appends, turn claims, call ownership),
the caller cache, the redactor, the policies, the caller directory (which notes who
called and learns the entity graph) and a callable that starts learning from an ended
call. Everything it writes goes through the journal first.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .._exceptions import StoreUnavailable
from ..entities._directory import CallerDirectory
from ..extraction.redaction import Redactor
from ..models import Caller, Scope, SessionInfo, Turn
from ..store import (
    ProfileWrite,
    SessionEnd,
    SessionReport,
    SessionStart,
    TurnWrite,
)
from ._caller_memory import CallerCache, CallerMemory
from ._idempotency import TurnClaims
from ._ids import new_id
from ._import import import_history
from ._policy import Policies
from ._text_batch import TurnText
from ._text_work import TextWork
from ._write_path import WritePath

__all__ = ["Calls", "LearnCall"]

#: Starts learning from an ended call in the background: (caller, call id) -> outcome,
#: or None when there is no extractor.
LearnCall = Callable[[Scope, str], "asyncio.Future[dict[str, Any]] | None"]


class Calls:
    """The write operations of a call, in the order a call makes them."""

    def __init__(self, writes: WritePath, callers: CallerCache, redactor: Redactor,
                 policies: Policies, directory: CallerDirectory, learn: LearnCall, *,
                 shared_store: bool, spawn: Callable[[Awaitable[Any]], Any],
                 clock: Callable[[], float], text_worker: bool = False) -> None:
        self._writes = writes
        self._callers = callers
        self._redactor = redactor
        self._policies = policies
        self._directory = directory
        self._learn = learn
        self._shared_store = shared_store
        self._spawn = spawn
        self._clock = clock
        self._opening: dict[tuple[str, ...], asyncio.Future[SessionInfo]] = {}
        #: a turn's redaction, claim scan and terms: in a worker process, or inline
        self.text = TextWork(redactor, process=text_worker)

    async def aclose(self) -> None:
        """Stop the text worker (after the last save: the runtime drains requests first)."""
        await self.text.aclose()

    async def start_session(
        self, scope: Scope, caller: Caller, *, session_id: str | None = None,
        metadata: dict[str, Any] | None = None, started_at: float | None = None,
    ) -> SessionInfo:
        """Open a call for ``caller``; reusing another caller's session id is refused."""
        mem = self._callers.peek(scope)
        if self._shared_store and mem is not None and mem.session_id is None and (
                self._writes.settled(scope)):
            # (A fact learned from the last call may still be on its way to the store:
            # reloading before it lands would forget it, and the next call's learning
            # would write it again.)
            # Another runtime may have served this caller since we cached them: a call
            # starts from the store's current state.
            self._callers.drop(scope)
            self._writes.turn_claims.unseed_caller(scope)
        mem = self._callers.get(scope)
        if session_id is not None:
            existing = await self._writes.own_session(scope, session_id)
            if existing is not None or mem.session_id == session_id:
                mem.session_id = session_id
                return existing or SessionInfo(id=session_id, user_id=scope.user_id,
                                               agent_id=scope.agent_id,
                                               started_at=mem.session_started_at or 0.0)
        sid = session_id or new_id("ses")
        at = self._clock() if started_at is None else started_at
        await self._writes.write(SessionStart(
            scope=scope, session_id=sid, started_at=at, caller_name=caller.name,
            caller_metadata=self._redactor.value(caller.metadata),
            metadata=self._redactor.value(metadata or {})))
        mem.session_id = sid
        mem.session_started_at = at
        self._writes.turn_claims.opened(scope, sid)  # a new call: its turns are all here
        if caller.name:
            mem.name = caller.name
        self._spawn(self._directory.warm(scope))  # for accurate recall
        self._directory.note_caller(scope, caller.name, caller.metadata, sid)
        return SessionInfo(id=sid, user_id=scope.user_id, agent_id=scope.agent_id,
                           started_at=at, metadata=metadata or {})

    async def end_session(self, scope: Scope, *, reason: str = "completed",
                          session_id: str | None = None, learn: bool = True,
                          report: dict[str, Any] | None = None,
                          wait: bool = False) -> SessionInfo | None:
        """See :meth:`MemoryEngine.end_session`."""
        if session_id is not None:
            await self._writes.check_session_owner(scope, session_id)
        mem = self._callers.get(scope)
        sid = session_id or mem.session_id
        if sid is None:
            return None
        stored = None
        if sid != mem.session_id:
            # Not the call this process holds open: answer from the store, never with a
            # record made up for a call that was never opened or was erased.
            known, stored = await self._writes.find_session(scope, sid)
            if known and stored is None:
                return None
        at = self._clock()
        self._redactor.forget((scope.tenant_id, scope.project_id, sid))
        if report is not None:
            # Also for a call already ended (by the idle sweep, say): its report still
            # arrives with the agent's own end.
            await self._writes.write(SessionReport(
                scope=scope, session_id=sid, report=self._redactor.value(report)))
        if stored is None or stored.ended_at is None:
            await self._writes.write(SessionEnd(
                scope=scope, session_id=sid, ended_at=at, reason=reason))
        self._writes.turn_claims.ended(scope, sid)
        task = self._learn(scope, sid) if learn else None
        # The entity graph is learned from every ended call, also one ended by the idle
        # sweep (which learns facts later, with learn=False here).
        self._spawn(self._directory.learn_graph_later(scope, sid))
        started = mem.session_started_at or at
        if mem.session_id == sid:
            mem.session_id = None
            mem.session_started_at = None
        learning = None
        if wait:
            learning = (await asyncio.shield(task) if task is not None else
                        {"status": "skipped", "facts": [], "error": None})
        if stored is not None:
            return dataclasses.replace(stored, ended_at=stored.ended_at or at,
                                       end_reason=stored.end_reason or reason,
                                       learning=learning)
        return SessionInfo(id=sid, user_id=scope.user_id, agent_id=scope.agent_id,
                           started_at=started, ended_at=at, end_reason=reason,
                           learning=learning)

    async def save_response(
        self, scope: Scope, caller: Caller, *, user_text: str, assistant_text: str,
        turn_id: str | None = None, tool_calls: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None, interrupted: bool = False,
        created_at: float | None = None, prepared: TurnText | None = None,
        own_claim: asyncio.Future[str] | None = None,
    ) -> str | None:
        """See :meth:`MemoryEngine.save_response`; ``prepared``: the turn's text work,
        done already (a turn moved to the caller it was merged into meanwhile), and
        ``own_claim`` that save's claim of the turn id, which the merge carried to this
        caller: not a first write to wait for (it would wait for itself)."""
        if not (await self._policies.policy(scope)).memory_enabled:
            return None
        if turn_id is None:
            return await self._save_turn(scope, caller, user_text, assistant_text, None,
                                         tool_calls, metadata, interrupted, created_at,
                                         prepared)
        # A turn id names a turn of one call, so the call comes first.
        mem = await self._call_for_save(scope, caller)
        sid = mem.session_id
        assert sid is not None
        claims = self._writes.turn_claims
        key = TurnClaims.key(scope, sid, turn_id)
        if claims.lookup(key) is None:
            first: str | asyncio.Future[str] | None = None
            if not claims.seeded(scope, sid):
                await self._writes.seed_turn_ids(scope, sid)
            if claims.for_save(scope, sid) and claims.lookup(key) is None:
                # A call opened for a save that found none open (a restart, say): the
                # client may still be in the caller's call that never ended, and this
                # a retry of its turn; also after a save that had no turn id opened it.
                first = claims.recent(scope, turn_id) or (
                    await self._writes.turn_of_earlier_call(scope, sid, turn_id))
            if first is own_claim:
                first = None
            if first is not None and claims.lookup(key) is None:
                if isinstance(first, str):
                    claims.remember(scope, sid, turn_id, first)
                    return first
                return await asyncio.shield(first)
        known = claims.lookup(key)
        if isinstance(known, str):
            return known
        if known is not None and known is not own_claim:  # the first write is in flight
            return await asyncio.shield(known)
        claim = claims.claim(key)  # before any await: a racing retry waits
        try:
            event_id = await self._save_turn(scope, caller, user_text, assistant_text,
                                             turn_id, tool_calls, metadata, interrupted,
                                             created_at, prepared, call=mem, claim=claim)
        except BaseException as exc:
            claims.drop(key, claim, exc)
            raise
        claims.settle(key, claim, event_id)
        return event_id

    async def _open_call(self, scope: Scope, caller: Caller) -> SessionInfo:
        """Open a call for a save that arrived without one; concurrent saves of the same
        caller share it instead of each opening (and resetting) their own."""
        key = scope.caller_key
        opening = self._opening.get(key)
        if opening is None:
            opening = asyncio.ensure_future(self._open_past_erasures(scope, caller))
            self._opening[key] = opening
            opening.add_done_callback(lambda _done: self._opening.pop(key, None))
        return await asyncio.shield(opening)

    async def _open_past_erasures(self, scope: Scope, caller: Caller) -> SessionInfo:
        """Open a call for a save; one an erasure of the caller overlapped is opened
        again, with the same id, once the erasure is done.

        The erasure waited for the writes begun before it, not for this call's start
        begun during it: the start reached the store before the erasure's delete (the
        call is gone) or after it (the call stays). The save, seeing the erasure, then
        files its turn after it; opened anew, a call that stayed would be left empty
        beside the turn's. Its start written again (the store keeps one call per id, and
        puts back the caller's row, which the erasure may have deleted after the call's
        row landed), it is the one call either way.
        """
        erasures = self._callers.erasures
        seen = erasures.count(scope)
        info = await self.start_session(scope, caller)
        self._writes.turn_claims.opened_for_save(scope, info.id)
        while erasures.count(scope) != seen or seen % 2:
            async with erasures.lock(scope):
                seen = erasures.count(scope)
            await self._writes.write(SessionStart(
                scope=scope, session_id=info.id, started_at=info.started_at,
                caller_name=caller.name,
                caller_metadata=self._redactor.value(caller.metadata)))
            mem = self._callers.get(scope)  # the erasure dropped the caller's entry
            mem.session_id, mem.session_started_at = info.id, info.started_at
            self._writes.turn_claims.opened(scope, info.id)  # no turn in it yet
        return info

    async def _call_for_save(self, scope: Scope, caller: Caller) -> CallerMemory:
        """The caller's memory with a call open (one opened for this save is noted in the
        turn claims: ``TurnClaims.opened_for_save``)."""
        # Not loaded yet: on a shared store, opening the call drops this entry and loads
        # the caller afresh, so a load started here would read every row for nothing
        # (and, still running after the drop, race the load that counts).
        mem = self._callers.get(scope, defer_load=True)
        if mem.session_id is not None:
            return self._callers.get(scope)  # starts a deferred load, if any
        info = await self._open_call(scope, caller)
        mem = self._callers.get(scope)  # a shared store starts the call from fresh state
        if mem.session_id is None:  # another start reset the cache meanwhile
            mem.session_id, mem.session_started_at = info.id, info.started_at
        return mem

    async def _save_turn(
        self, scope: Scope, caller: Caller, user_text: str, assistant_text: str,
        turn_id: str | None, tool_calls: list[dict[str, Any]] | None,
        metadata: dict[str, Any] | None, interrupted: bool, created_at: float | None,
        prepared: TurnText | None = None, call: CallerMemory | None = None,
        claim: asyncio.Future[str] | None = None,
    ) -> str:
        """``call``: the caller's memory with the call open, as ``save_response`` found
        it; found again only if the turn-id lookups since ended that call or evicted it.
        ``claim``: this save's claim of its turn id, when it has one."""
        mem = call
        if mem is None or mem.session_id is None or mem is not self._callers.peek(scope):
            mem = await self._call_for_save(scope, caller)
        # Noted once the call is open: an erasure from here on deletes the call.
        erasures = self._callers.erasures
        seen = erasures.count(scope)
        assert mem.session_id is not None
        session_id = mem.session_id
        if prepared is None and self._moved(scope) is None:
            # Before the move check below: from there to the journal append there is no
            # await (a merge starting later waits for this write, see wait_applied).
            prepared = await self.text.turn(
                (scope.tenant_id, scope.project_id, session_id), user_text=user_text,
                assistant_text=assistant_text, tool_calls=tool_calls, metadata=metadata,
                scan=self._directory.link_mode != "off", region=self._directory.region)
            # The entry searched now: evicted and loaded again while this waited, the old
            # one would take the turn where no search looks.
            mem = self._callers.get(scope)
        if (now := self._moved(scope)) is not None:
            # The caller was merged away while this save waited (its scope was resolved
            # before the merge): file the turn under the caller it is now, or it would
            # land under an id nothing reads any more. Through save_response, so the turn
            # id is claimed under that caller too; redacted once (the text work done
            # here, if it was), in the order of this call's turns.
            moved = await self.save_response(
                dataclasses.replace(scope, user_id=now), caller, user_text=user_text,
                assistant_text=assistant_text, turn_id=turn_id, tool_calls=tool_calls,
                metadata=metadata, interrupted=interrupted, created_at=created_at,
                prepared=prepared, own_claim=claim)
            if moved is None:
                raise StoreUnavailable("memory was turned off while this turn was saved",
                                       retryable=True)
            return moved
        assert prepared is not None
        if erasures.count(scope) != seen or seen % 2:
            # The caller was erased while this save waited for its text work (or is
            # being erased), and their call with them: the turn, acknowledged after the
            # erasure, would land in a call that no longer exists. It waits for the
            # erasure to finish and opens a new call. No await from here to the journal
            # append: an erasure starting later waits for this write (wait_applied).
            async with erasures.lock(scope):
                pass
            return await self._save_turn(scope, caller, user_text, assistant_text,
                                         turn_id, tool_calls, metadata, interrupted,
                                         created_at, prepared)
        clean = prepared.clean
        meta = clean.metadata
        flagged = interrupted or bool(meta.get("interrupted"))
        turn = Turn(
            event_id=new_id("evt"), session_id=session_id,
            turn_id=turn_id or new_id("turn"), user_text=clean.user_text,
            assistant_text=clean.assistant_text,
            created_at=self._clock() if created_at is None else created_at,
            agent_id=scope.agent_id, interrupted=flagged,
            tool_calls=list(clean.tool_calls or []), metadata=meta)
        await self._writes.write(TurnWrite(scope=scope, turn=turn))
        mem.add_turn(turn, terms=prepared.terms)
        if (reloaded := self._callers.peek(scope)) is not None and reloaded is not mem:
            # The entry was dropped and loaded again while the turn went to disk (a merge
            # into the caller reloads them): that load read the turns on their way and
            # the store before this one reached either, and would never find it.
            reloaded.add_turn(turn, terms=prepared.terms)
        mem.last_write = self._clock()
        self._directory.observe_turn(scope, turn, prepared.claims)
        return turn.event_id

    def _moved(self, scope: Scope) -> str | None:
        """The caller ``scope``'s caller was merged into, if it was merged away."""
        now = self._directory.canonical(scope.tenant_id, scope.project_id, scope.space,
                                        scope.user_id)
        return None if now == scope.user_id else now

    async def update_profile(self, scope: Scope, field: str, value: Any) -> dict[str, Any]:
        """Set one profile field (redacted first); the caller's whole profile after it."""
        value = self._redactor.value(value, field=field, about_caller=True)
        mem = self._callers.get(scope)
        await self._writes.write(ProfileWrite(
            scope=scope, field=field, value=value, at=self._clock()))
        mem.profile[field] = value
        return dict(mem.profile)

    async def import_history(self, scope: Scope, caller: Caller,
                             sessions: Sequence[dict[str, Any]], *,
                             learn: bool = False) -> dict[str, int]:
        """See :meth:`MemoryEngine.import_history`."""
        return await import_history(self._writes, self._callers, self._redactor, scope,
                                    caller, sessions, learn=learn, moved=self._moved)
