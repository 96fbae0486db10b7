"""The write path: a write is durable in the journal, then the applier stores it.

:class:`WritePath` owns the journal, the applier, the turn-id claims (idempotent saves)
and which caller owns which call while its records are on their way to the store. It
is given the store, the journal, the applier and the :class:`PendingWrites` the applier
keeps; callers of :meth:`append` get a journal sequence number back only once the
record is durable.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from .._exceptions import IdentityMismatch, StoreUnavailable, VoxmemError
from ..journal import Journal
from ..models import Scope, SessionInfo
from ..store import JournalWrite, Store, encode_record
from ._applier import Applier, scope_from_record, scope_to_record
from ._idempotency import TURN_RETRY_WINDOW_S, TurnClaims
from ._pending import PendingWrites

__all__ = ["CATCH_UP_S", "WritePath", "require_applied"]

log = logging.getLogger("voxmem.engine")

SESSION_OWNERS_KEPT = 100_000
#: How long a save waits for the store to say whether its turn id was stored before.
#: Past it (an outage, a queue) the save goes ahead: the store's insert skips a turn id
#: it already holds, so durability never waits on this lookup.
TURN_LOOKUP_TIMEOUT_S = 0.2
#: How many of the caller's latest calls a call opened for a save looks through for
#: earlier calls that never ended (each one's turn ids read once).
EARLIER_CALLS_LOOKED = 4
#: How long an erasure or a merge waits for the writes before it to reach the store.
CATCH_UP_S = 60.0
#: How long ``end_session`` of a call this process does not hold waits for the store.
SESSION_LOOKUP_TIMEOUT_S = 10.0


async def require_applied(wait_applied: Callable[[float | None], Awaitable[bool]],
                          undone: str) -> None:
    """Wait until every write begun so far is in the store, or raise ``store.unavailable``
    (nothing was ``undone``): an erasure or merge that went ahead would have a queued
    write land after it, bringing an erased caller back or stranding a merged one's."""
    if not await wait_applied(CATCH_UP_S):
        raise StoreUnavailable(f"the store has not caught up with earlier writes; nothing "
                               f"was {undone}, retry", retryable=True)


class WritePath:
    """Durable appends, turn-id claims and call ownership for one engine."""

    def __init__(self, store: Store, journal: Journal, applier: Applier,
                 pending: PendingWrites, clock: Callable[[], float]) -> None:
        self._store = store
        self.journal = journal
        self.applier = applier
        self._pending = pending
        self._clock = clock
        self.turn_claims = TurnClaims()
        #: recent session id → caller, covering sessions journaled but not yet applied
        self._session_owners: collections.OrderedDict[tuple[str, str, str], str] = \
            collections.OrderedDict()
        #: caller key -> journal sequence number of the caller's last write
        self._last_seq: collections.OrderedDict[tuple[Any, ...], int] = \
            collections.OrderedDict()
        #: one future per write on its way to the disk (settled once handed to the applier)
        self._writing: set[asyncio.Future[None]] = set()

    # -- opening and closing --------------------------------------------------------------
    async def open(self) -> None:
        """Open the journal after the store and replay what the store has not applied."""
        applied = await self._store.applied_seq()
        # The store's position is the floor for new sequence numbers: a journal that
        # lost its tail must not reuse numbers replay would then skip.
        await asyncio.get_running_loop().run_in_executor(None, self.journal.open, applied)
        self.applier.start(applied)
        await self.recount_quarantined()
        replayed = 0
        for record in self.journal.read_after(applied):
            self.applier.submit(record)
            self._remember_turn_id(record)
            replayed += 1
        if replayed:
            log.info("replaying %d journal records past store position %d", replayed, applied)

    async def close(self) -> None:
        """Store everything journaled, then close the journal and drop its applied part."""
        await self.applier.aclose()
        applied = self.applier.applied_seq
        await asyncio.get_running_loop().run_in_executor(None, self.journal.close)
        self.journal.drop_applied(applied)

    def _remember_turn_id(self, record: dict[str, Any]) -> None:
        """Replayed turns are not in the store yet: their turn ids must still dedupe
        (and a replayed end says a later call's turn ids are new turns)."""
        kind = record.get("type")
        if kind not in ("turn", "session_end"):
            return
        try:
            scope = scope_from_record(record["scope"])
            if kind == "session_end":
                self.turn_claims.ended(scope, record["sessionId"])
                return
            turn = record["turn"]
            if turn.get("turnId"):
                self.turn_claims.remember(scope, turn["sessionId"], turn["turnId"],
                                          turn["eventId"])
        except (KeyError, TypeError, AttributeError):
            pass  # malformed: the applier quarantines it

    # -- appending ------------------------------------------------------------------------
    async def append(self, record: dict[str, Any]) -> int:
        """Make a write durable, then hand it to the applier; its sequence number."""
        with self._in_flight():
            seq = await self.journal.append(record)
            self._submit(seq, record)
        return seq

    async def write(self, write: JournalWrite) -> int:
        """:meth:`append` for a typed write: the applier is handed ``write`` itself, so
        it need not decode the journal record again (every saved turn comes here)."""
        record = encode_record(write)
        with self._in_flight():
            seq = await self.journal.append(record)
            self._submit(seq, record, write)
        return seq

    async def append_many(self, records: list[dict[str, Any]]) -> list[int]:
        """Make several writes durable with one disk sync, then hand them to the applier."""
        with self._in_flight():
            seqs = await self.journal.append_many(records)
            for seq, record in zip(seqs, records, strict=True):
                self._submit(seq, record)
        return seqs

    @contextlib.contextmanager
    def _in_flight(self) -> Iterator[None]:
        """Count a write from before its journal append until the applier has it.

        Entered before the append's first await, so :meth:`wait_applied` sees every
        write begun before it was called, also one still waiting for its disk sync.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writing.add(done)
        try:
            yield
        finally:
            self._writing.discard(done)
            done.set_result(None)

    def _submit(self, seq: int, record: dict[str, Any],
                 write: JournalWrite | None = None) -> None:
        self.applier.submit({"seq": seq, **record}, write)
        where = record.get("scope")
        if isinstance(where, dict):
            key = (where.get("t"), where.get("p"), where.get("s"), where.get("u"))
            self._last_seq[key] = seq
            self._last_seq.move_to_end(key)
            while len(self._last_seq) > SESSION_OWNERS_KEPT:
                self._last_seq.popitem(last=False)

    async def wait_applied(self, timeout: float | None = None) -> bool:
        """Wait until every write begun so far is in the store (or failed); False on
        timeout.

        Writes still waiting for their disk sync count too: a caller merge or erasure
        that waited only for the applier's queue would run before such a write reached
        the store, and the write would then land under the caller merged away (or bring
        an erased caller back).
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        writing = list(self._writing)
        if writing:
            _done, pending = await asyncio.wait(writing, timeout=timeout)
            if pending:
                return False
        left = None if deadline is None else max(0.0, deadline - loop.time())
        return await self.applier.wait_applied(timeout=left)

    def settled(self, scope: Scope) -> bool:
        """Whether everything this caller wrote is in the store (nothing in flight)."""
        return not self._pending.any(scope) and (
            self._last_seq.get(scope.caller_key, 0) <= self.applier.applied_seq)

    def has_pending_turns(self, scope: Scope) -> bool:
        """Whether turns of this caller are durable but not in the store yet."""
        return bool(self._pending.turns(scope))

    async def retry_quarantined(self, seq: int) -> int | None:
        """Journal a quarantined record again (an operator fixed its cause); its new seq.

        None when no record ``seq`` is quarantined. If the store refuses it again it is
        quarantined again under the new number.
        """
        entries = [e for e in await self._store.list_quarantined(1_000_000) if e.seq == seq]
        if not entries:
            return None
        record = {k: v for k, v in json.loads(entries[0].record).items() if k != "seq"}
        # Journaled before it leaves the quarantine: a crash in between replays a copy,
        # which the store's idempotent writes absorb, instead of losing the record.
        new_seq = await self.append(record)
        if await self._store.release_quarantined(seq) is not None:
            self.applier.quarantined = max(0, self.applier.quarantined - 1)
        log.info("quarantined journal record %d journaled again as %d", seq, new_seq)
        return new_seq

    async def erase_caller(self, scope: Scope) -> int:
        """Remove every journal record of the caller; how many were removed.

        The caller's turn ids are forgotten too: a new turn may reuse an erased one.
        """
        key = scope_to_record(scope)

        def other_caller(record: dict[str, Any]) -> bool:
            rec = record.get("scope") or {}
            return not all(rec.get(f) == key[f] for f in ("t", "p", "s", "u"))

        loop = asyncio.get_running_loop()
        removed: int = await loop.run_in_executor(None, self.journal.rewrite, other_caller)
        self.turn_claims.forget_caller(scope)
        # The store's erasure (done first) took the caller's quarantined records with it;
        # a count left as it was kept /metrics and `voxmem status` reporting them.
        await self.recount_quarantined()
        return removed

    async def compact_journal(self) -> int:
        """Drop the journal's records the store has applied (the cleanup job's part on
        this runtime: a deleted or expired memory's words leave the disk with it)."""
        applied = self.applier.applied_seq
        loop = asyncio.get_running_loop()
        dropped: int = await loop.run_in_executor(None, self.journal.compact, applied)
        return dropped

    async def recount_quarantined(self) -> None:
        """Set the quarantine count (``stats()["quarantined"]``) from the store."""
        self.applier.quarantined = await self._store.count_quarantined()

    # -- call ownership -------------------------------------------------------------------
    def claim_session(self, scope: Scope, session_id: str, previous: Scope) -> None:
        """Record that ``session_id`` now belongs to ``scope``'s caller, ``previous``'s
        until now (a merge, or its undo); its turn ids go with it."""
        key = (scope.tenant_id, scope.project_id, session_id)
        self._session_owners[key] = scope.user_id
        self._session_owners.move_to_end(key)
        self.turn_claims.carry(previous, scope, session_id)

    async def own_session(self, scope: Scope, session_id: str) -> SessionInfo | None:
        """Claim ``session_id`` for the caller, or raise ``identity_mismatch``.

        The claim is made synchronously, before any await: the store only learns of a
        session once the applier reaches it, and two callers must not both get one id
        in that window. Returns the stored session when the store already has it.
        """
        key = (scope.tenant_id, scope.project_id, session_id)
        owner = self._session_owners.setdefault(key, scope.user_id)
        self._session_owners.move_to_end(key)
        while len(self._session_owners) > SESSION_OWNERS_KEPT:
            self._session_owners.popitem(last=False)
        existing = await self._store.get_session(scope.tenant_id, scope.project_id,
                                                 session_id)
        if existing is not None:
            owner = self._session_owners[key] = existing.user_id
        if owner != scope.user_id:
            raise IdentityMismatch(f"session {session_id!r} belongs to another caller",
                                   details={"sessionId": session_id})
        return existing

    async def check_session_owner(self, scope: Scope, session_id: str) -> None:
        """Raise ``identity_mismatch`` if ``session_id`` is another caller's call.

        The store is the truth for applied sessions; the in-memory claims cover ones
        still on their way from the journal. An unknown id belongs to nobody yet.
        """
        key = (scope.tenant_id, scope.project_id, session_id)
        existing = await self._store.get_session(scope.tenant_id, scope.project_id,
                                                 session_id)
        owner = existing.user_id if existing is not None else self._session_owners.get(key)
        if owner is not None and owner != scope.user_id:
            raise IdentityMismatch(f"session {session_id!r} belongs to another caller",
                                   details={"sessionId": session_id})

    async def find_session(self, scope: Scope, session_id: str) -> tuple[bool, SessionInfo | None]:
        """Whether the store can tell, and the call ``session_id`` as it holds it.

        A call still on its way from the journal (claimed here, or replayed at start) is
        waited for, so None with ``True`` means no such call was ever stored or it was
        erased; ``False`` means the store did not catch up in time.
        """
        key = (scope.tenant_id, scope.project_id, session_id)
        existing = await self._store.get_session(*key)
        if existing is None and (key in self._session_owners or self.applier.backlog
                                 or self._writing):
            if not await self.wait_applied(SESSION_LOOKUP_TIMEOUT_S):
                return False, None
            existing = await self._store.get_session(*key)
        return True, existing

    # -- turn ids -------------------------------------------------------------------------
    async def seed_turn_ids(self, scope: Scope, session_id: str) -> None:
        """Learn a call's recent stored turn ids (once per call per process, for a call
        this process did not open)."""
        if self.applier.last_error is not None:
            return  # the store is failing: do not make a save wait to find that out
        try:
            found = await asyncio.wait_for(self._store.find_turns(
                scope, [], since=self._clock() - TURN_RETRY_WINDOW_S,
                session_id=session_id), TURN_LOOKUP_TIMEOUT_S)
        except (TimeoutError, VoxmemError) as exc:
            log.debug("turn id lookup skipped (%s); the store's insert dedupes", exc)
            return
        self.turn_claims.seed(scope, session_id, found)

    async def turn_of_earlier_call(self, scope: Scope, session_id: str,
                                   turn_id: str) -> str | asyncio.Future[str] | None:
        """The event id ``turn_id`` has in an earlier call of the caller that never
        ended, for a save into ``session_id``, a call the engine opened for a save (a
        retry reaching a restarted runtime, say). The store is asked once per call:
        which earlier calls never ended, and their turn ids of the retry window."""
        claims = self.turn_claims
        if claims.followed(scope, session_id) is None:
            if self.applier.last_error is not None:
                return None
            try:
                calls = await asyncio.wait_for(
                    self._store.recent_sessions(scope, EARLIER_CALLS_LOOKED),
                    TURN_LOOKUP_TIMEOUT_S)
            except (TimeoutError, VoxmemError) as exc:
                log.debug("turn id lookup skipped (%s)", exc)
                return None
            # The calls since the caller's last ended one (latest first): a call
            # ended means the client moved on, and its earlier calls are not this one.
            earlier: tuple[str, ...] = ()
            for info in (c for c in calls if c.id != session_id):
                if info.ended_at is not None:
                    break
                earlier += (info.id,)
            for call in earlier:
                if not claims.seeded(scope, call):
                    await self.seed_turn_ids(scope, call)
                    if not claims.seeded(scope, call):
                        return None  # not read in time: asked again by the next save
            claims.follow(scope, session_id, earlier)
        return claims.earlier(scope, session_id, turn_id)

    async def stored_turn_ids(self, scope: Scope, session_id: str,
                              turn_ids: list[str]) -> dict[str, str]:
        """Event ids of the call's turn ids the store holds; {} when it cannot tell in
        time."""
        if self.applier.last_error is not None:
            return {}  # the store is failing: do not make a save wait to find that out
        try:
            return await asyncio.wait_for(self._store.find_turns(scope, turn_ids,
                                                                 session_id=session_id),
                                          TURN_LOOKUP_TIMEOUT_S * max(1, len(turn_ids) // 500))
        except (TimeoutError, VoxmemError) as exc:
            log.debug("turn id lookup skipped (%s); the store's insert dedupes", exc)
            return {}

    def stats(self) -> dict[str, Any]:
        """The write path's part of the engine's stats."""
        return {
            "journalSeq": self.journal.last_seq,
            "appliedSeq": self.applier.applied_seq,
            "backlog": self.applier.backlog,
            "turnsApplied": self.applier.turns_applied,
            "lastWriteError": self.applier.last_error,
            "journalError": self.journal.broken or self.journal.last_error,
            "quarantined": self.applier.quarantined,
            # Unhealthy while acknowledged writes cannot reach the disk or the store.
            "healthy": self.journal.healthy and self.applier.last_error is None,
        }
