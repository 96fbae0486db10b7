"""The memory engine: the write path, recall under a deadline, preload, org indexes.

One engine serves a whole host (the runtime) or one process (embedded mode). It owns the
journal, the store, the embedder, the warm caller and org indexes, and the applier that
moves journal records into the store.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .._config import Settings
from .._exceptions import BadRequest, IdentityMismatch, VoxmemError
from ..embeddings import Embedder, load_embedder
from ..entities._directory import CallerDirectory
from ..entities._expand import MAX_GRAPH_ITEMS, rerank
from ..extraction.redaction import Redactor
from ..journal import Journal
from ..models import (
    SHARED_SPACE,
    Caller,
    Chunk,
    Fact,
    IndexBuildResult,
    IndexRecord,
    Lane,
    Preload,
    Scope,
    SearchResult,
    SessionInfo,
    Turn,
    iso,
)
from ..store import DocumentWrite, Store, open_store
from ._chunking import chunk_text
from ._compose import compose_context, compose_preload
from ._fusion import load_fusion
from ._hot import CallerCache, CallerMemory, build_memory, read_caller, turn_doc
from ._idempotency import TURN_RETRY_WINDOW_S, TurnClaims
from ._import import import_history
from ._index import FloatArray, HybridIndex
from ._learning import Learner, build_extractor, sensitive_policy
from ._lifecycle import Lifecycle
from ._org_file import org_vector_path
from ._org_memory import ORG_SAVE_INTERVAL_S, OrgMemory
from ._rank import INTENT_ALIASES, INTENTS, RankParams, intent_params
from ._recall import Query, doc_hit, search_caller_lane, search_org_lane, top_facts
from ._text import analyze
from ._time import parse_when
from ._traces import RecallTraceLog
from ._workers import BackgroundWorkers
from ._writer import Applier, scope_from_record, scope_to_record, turn_to_record

__all__ = ["MemoryEngine"]

log = logging.getLogger("voxmem.engine")

LANE_THREADS = 4
#: Lanes whose search touches at most this many rows (vectors + postings; ~2 ms of numpy
#: on a slow core) run inline on the event loop; see ``MemoryEngine._run_lane``.
INLINE_LANE_ROWS = 60_000
PRELOAD_FACTS = 8
PRELOAD_COMMITMENTS = 5
PRELOAD_SCAN_FACTS = 200
PRELOAD_LAST_TURNS = 4
ORG_REFRESH_S = 5.0
SESSION_OWNERS_KEPT = 100_000
#: How long a save waits for the store to say whether its turn id was stored before.
#: Past it (an outage, a queue) the save goes ahead: the store's insert skips a turn id
#: it already holds, so durability never waits on this lookup.
TURN_LOOKUP_TIMEOUT_S = 0.2
DATA_DIR_MODE = 0o700


def new_id(prefix: str) -> str:
    """Time-ordered unique id (uuid7 when available) with a readable prefix."""
    maker = getattr(uuid, "uuid7", None)
    value = maker() if maker is not None else uuid.uuid4()
    return f"{prefix}_{value.hex}"


class MemoryEngine:
    """Stores what callers said and recalls the right part inside a voice turn's budget.

    Most code uses :class:`voxmem.VoiceClient`; the engine is what it drives, in-process
    (``embedded=True``) or inside the runtime.

    Example::

        engine = MemoryEngine(Settings(data_dir="/tmp/vm"))
        await engine.start()
        scope = engine.scope(project_id="p", agent_id="a", user_id="caller-42")
        await engine.save_response(scope, Caller("caller-42"), user_text="hi",
                                   assistant_text="hello")
        result = await engine.search_memory(scope, "what did I say?")
        await engine.close()
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        embedder: Embedder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.clock = clock
        self.store: Store = store or open_store(self.settings)
        self.embedder: Embedder = embedder or load_embedder(self.settings)
        data = self.settings.data_path
        self.journal = Journal(Path(data) / "journal", fsync=self.settings.journal_fsync)
        self._lanes = ThreadPoolExecutor(LANE_THREADS, thread_name_prefix="voxmem-lane")
        self.callers = CallerCache(self.store, self.embedder.dimensions,
                                   self.settings.caller_cache_size, self._pending_turns,
                                   clock)
        self.applier = Applier(self.store, self.embedder, self.callers,
                               self.settings.index_batch_size, clock)
        self._orgs: dict[tuple[str, str], OrgMemory] = {}
        self._org_checked: dict[tuple[str, str], float] = {}
        self._index_locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self._background: set[asyncio.Future[Any]] = set()
        self._started = False
        #: recent session id → caller, covering sessions journaled but not yet applied
        self._session_owners: collections.OrderedDict[tuple[str, str, str], str] = \
            collections.OrderedDict()
        #: caller key -> journal sequence number of the caller's last write
        self._last_seq: collections.OrderedDict[tuple[Any, ...], int] = \
            collections.OrderedDict()
        self._stop = asyncio.Event()
        self.turn_claims = TurnClaims()
        self._opening: dict[tuple[str, ...], asyncio.Future[SessionInfo]] = {}
        self.sensitive_policy = sensitive_policy(self.settings)
        self.redactor = Redactor(self.sensitive_policy)
        #: CPU-bound learning (extraction, entity graph) runs here, off the loop's GIL
        self.workers = BackgroundWorkers(self.settings.background_processes)
        self.learner = Learner(self, build_extractor(self.settings), clock)
        self.lifecycle = Lifecycle(self, clock)
        self.traces = RecallTraceLog(self.store, self.sensitive_policy, clock)
        self.directory = CallerDirectory(self, clock)
        self.learner.workers = self.directory.workers = self.workers
        self.params = RankParams(
            rrf_k=self.settings.rrf_k,
            recency_weight=self.settings.recency_weight,
            half_life_days=self.settings.recency_half_life_days,
            dense_weight=self.settings.dense_weight,
            dense_floor=self.settings.dense_floor,
            fusion=(load_fusion(self.embedder.name) if self.settings.fusion == "learned"
                    else None),
        )

    def _pending_turns(self, scope: Scope) -> list[Turn]:
        return self.applier.pending_turns(scope)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store and journal, replay what the store has not applied yet."""
        if self._started:
            return
        await asyncio.get_running_loop().run_in_executor(
            None, _private_dir, Path(self.settings.data_path))
        await self.store.open()
        await self.directory.load()
        applied = await self.store.applied_seq()
        try:
            # The store's position is the floor for new sequence numbers: a journal that
            # lost its tail must not reuse numbers replay would then skip.
            await asyncio.get_running_loop().run_in_executor(None, self.journal.open, applied)
        except BaseException:
            await self.store.close()
            raise
        self.applier.start(applied)
        self.applier.quarantined = len(await self.store.list_quarantined(1000))
        replayed = 0
        for record in self.journal.read_after(applied):
            self.applier.submit(record)
            self._remember_turn_id(record)
            replayed += 1
        if replayed:
            log.info("replaying %d journal records past store position %d", replayed, applied)
        self._started = True
        self._stop.clear()
        self._spawn(self._reembed_missing())
        self._spawn(self.lifecycle.run(self._stop))
        self._spawn(self.traces.run(self._stop))
        self._spawn(self.directory.run(self._stop))

    async def close(self) -> None:
        """Apply everything journaled, then close the store and the journal."""
        if not self._started:
            return
        self._started = False
        self._stop.set()
        await self.directory.idle()  # identifiers being linked reach the store first
        await self.applier.aclose()
        for task in list(self._background):
            task.cancel()
        for org in list(self._orgs.values()):
            if org.ready.is_set() and org.load_error is None:
                await asyncio.get_running_loop().run_in_executor(
                    None, functools.partial(org.save, wait=True))
        await self.callers.aclose()
        await self.traces.flush()
        applied = self.applier.applied_seq
        await asyncio.get_running_loop().run_in_executor(None, self.journal.close)
        self.journal.drop_applied(applied)
        await self.store.close()
        self._lanes.shutdown(wait=False, cancel_futures=True)
        await self.workers.aclose()

    async def flush(self, timeout: float | None = None, *, learning: bool = False) -> bool:
        """Wait until every acknowledged write is in the store (for tests and shutdown).

        With ``learning=True`` also wait until every end-of-call learning that has started
        has finished (or failed) and its facts are stored. False if ``timeout`` ran out.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if learning and not await self.learner.wait_idle(timeout):
            return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        applied = await self.applier.wait_applied(timeout=left)
        await self.traces.flush()
        return applied

    async def retry_quarantined(self, seq: int) -> int | None:
        """Journal a quarantined record again (an operator fixed its cause); its new seq.

        None when no record ``seq`` is quarantined. If the store refuses it again it is
        quarantined again under the new number.
        """
        entries = [e for e in await self.store.list_quarantined(1_000_000) if e.seq == seq]
        if not entries:
            return None
        record = {k: v for k, v in json.loads(entries[0].record).items() if k != "seq"}
        # Journaled before it leaves the quarantine: a crash in between replays a copy,
        # which the store's idempotent writes absorb, instead of losing the record.
        new_seq = await self.journal_append(record)
        if await self.store.release_quarantined(seq) is not None:
            self.applier.quarantined = max(0, self.applier.quarantined - 1)
        log.info("quarantined journal record %d journaled again as %d", seq, new_seq)
        return new_seq

    def _remember_turn_id(self, record: dict[str, Any]) -> None:
        """Replayed turns are not in the store yet: their turn ids must still dedupe."""
        if record.get("type") != "turn":
            return
        try:
            turn = record["turn"]
            if turn.get("turnId"):
                self.turn_claims.remember(scope_from_record(record["scope"]),
                                           turn["turnId"], turn["eventId"])
        except (KeyError, TypeError, AttributeError):
            pass  # malformed: the applier quarantines it

    def _spawn(self, work: Any) -> asyncio.Future[Any]:
        task: asyncio.Future[Any] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def scope(self, *, project_id: str, agent_id: str, user_id: str,
              tenant_id: str = "default") -> Scope:
        """The scope a caller's memory lives in, honouring ``memory_scope``."""
        space = agent_id if self.settings.memory_scope == "agent" else SHARED_SPACE
        # A caller merged into another is that other caller from now on (SPEC §7).
        user_id = self.directory.canonical(tenant_id, project_id, space, user_id)
        return Scope(tenant_id=tenant_id, project_id=project_id, agent_id=agent_id,
                     user_id=user_id, space=space)

    def claim_session(self, scope: Scope, session_id: str) -> None:
        """Record that ``session_id`` now belongs to ``scope``'s caller (after a merge)."""
        key = (scope.tenant_id, scope.project_id, session_id)
        self._session_owners[key] = scope.user_id
        self._session_owners.move_to_end(key)

    # -- sessions -------------------------------------------------------------------------
    async def start_session(
        self, scope: Scope, caller: Caller, *, session_id: str | None = None,
        metadata: dict[str, Any] | None = None, started_at: float | None = None,
    ) -> SessionInfo:
        """Open a call for ``caller``; reusing another caller's session id is refused."""
        mem = self.callers.peek(scope)
        if self.store.shared and mem is not None and mem.session_id is None and (
                not self.applier.has_pending(scope)) and (
                self._last_seq.get(scope.caller_key, 0) <= self.applier.applied_seq):
            # (A fact learned from the last call may still be on its way to the store:
            # reloading before it lands would forget it, and the next call's learning
            # would write it again.)
            # Another runtime may have served this caller since we cached them: a call
            # starts from the store's current state.
            self.callers.drop(scope)
            self.turn_claims.unseed(scope)
        mem = self.callers.get(scope)
        if session_id is not None:
            # Claimed synchronously, before any await: the store only learns of a
            # session once the applier reaches it, and two callers must not both get
            # one id in that window.
            key = (scope.tenant_id, scope.project_id, session_id)
            owner = self._session_owners.setdefault(key, scope.user_id)
            self._session_owners.move_to_end(key)
            while len(self._session_owners) > SESSION_OWNERS_KEPT:
                self._session_owners.popitem(last=False)
            existing = await self.store.get_session(scope.tenant_id, scope.project_id,
                                                    session_id)
            if existing is not None:
                owner = self._session_owners[key] = existing.user_id
            if owner != scope.user_id:
                raise IdentityMismatch(
                    f"session {session_id!r} belongs to another caller",
                    details={"sessionId": session_id})
            if existing is not None or mem.session_id == session_id:
                mem.session_id = session_id
                return existing or SessionInfo(id=session_id, user_id=scope.user_id,
                                               agent_id=scope.agent_id,
                                               started_at=mem.session_started_at or 0.0)
        sid = session_id or new_id("ses")
        at = self.clock() if started_at is None else started_at
        await self.journal_append({
            "type": "session_start", "scope": scope_to_record(scope), "sessionId": sid,
            "at": at, "caller": {"name": caller.name,
                                 "metadata": self.redactor.value(caller.metadata)},
            "metadata": self.redactor.value(metadata or {})})
        mem.session_id = sid
        mem.session_started_at = at
        if caller.name:
            mem.name = caller.name
        self._spawn(self.directory.warm(scope))  # for accurate recall
        self.directory.note_caller(scope, caller.name, caller.metadata, sid)
        return SessionInfo(id=sid, user_id=scope.user_id, agent_id=scope.agent_id,
                           started_at=at, metadata=metadata or {})

    async def end_session(self, scope: Scope, *, reason: str = "completed",
                          session_id: str | None = None, learn: bool = True,
                          report: dict[str, Any] | None = None,
                          wait: bool = False) -> SessionInfo | None:
        """Close the caller's current call (or ``session_id``) and learn from it.

        A ``session_id`` of another caller's call is refused with ``identity_mismatch``
        before anything is written. Learning runs in the background; with
        ``wait=True`` this returns once it has finished or failed, and the returned
        info's ``learning`` says how it went.
        """
        if session_id is not None:
            await self.check_session_owner(scope, session_id)
        mem = self.callers.get(scope)
        sid = session_id or mem.session_id
        if sid is None:
            return None
        at = self.clock()
        self.redactor.forget((scope.tenant_id, scope.project_id, sid))
        if report is not None:
            await self.journal_append({"type": "report", "scope": scope_to_record(scope),
                                       "sessionId": sid, "report": self.redactor.value(report)})
        await self.journal_append({"type": "session_end", "scope": scope_to_record(scope),
                                   "sessionId": sid, "at": at, "reason": reason})
        task = None
        if self.learner.extractor is not None and learn:
            task = self.learner.start(scope, sid)
        # The entity graph is learned from every ended call, also one ended by the idle
        # sweep (which learns facts later, with learn=False here).
        self._spawn(self.directory.learn_graph_later(scope, sid))
        started = mem.session_started_at or at
        if mem.session_id == sid:
            mem.session_id = None
            mem.session_started_at = None
        learning = None
        if wait:
            learning = (await asyncio.shield(task) if task is not None else
                        {"status": "skipped", "facts": [], "error": None})
        return SessionInfo(id=sid, user_id=scope.user_id, agent_id=scope.agent_id,
                           started_at=started, ended_at=at, end_reason=reason,
                           learning=learning)

    async def check_session_owner(self, scope: Scope, session_id: str) -> None:
        """Raise ``identity_mismatch`` if ``session_id`` is another caller's call.

        The store is the truth for applied sessions; the in-memory claims cover ones
        still on their way from the journal. An unknown id belongs to nobody yet.
        """
        key = (scope.tenant_id, scope.project_id, session_id)
        existing = await self.store.get_session(scope.tenant_id, scope.project_id,
                                                session_id)
        owner = existing.user_id if existing is not None else self._session_owners.get(key)
        if owner is not None and owner != scope.user_id:
            raise IdentityMismatch(f"session {session_id!r} belongs to another caller",
                                   details={"sessionId": session_id})

    async def journal_append(self, record: dict[str, Any]) -> int:
        """Make a write durable, then hand it to the applier."""
        seq = await self.journal.append(record)
        self._submit(seq, record)
        return seq

    async def journal_append_many(self, records: list[dict[str, Any]]) -> list[int]:
        """Make several writes durable with one disk sync, then hand them to the applier."""
        seqs = await self.journal.append_many(records)
        for seq, record in zip(seqs, records, strict=True):
            self._submit(seq, record)
        return seqs

    def _submit(self, seq: int, record: dict[str, Any]) -> None:
        self.applier.submit({"seq": seq, **record})
        where = record.get("scope")
        if isinstance(where, dict):
            key = (where.get("t"), where.get("p"), where.get("s"), where.get("u"))
            self._last_seq[key] = seq
            self._last_seq.move_to_end(key)
            while len(self._last_seq) > SESSION_OWNERS_KEPT:
                self._last_seq.popitem(last=False)

    # -- writes ---------------------------------------------------------------------------
    async def save_response(
        self, scope: Scope, caller: Caller, *, user_text: str, assistant_text: str,
        turn_id: str | None = None, tool_calls: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None, interrupted: bool = False,
        created_at: float | None = None,
    ) -> str | None:
        """Journal one turn and make it searchable in the working lane at once.

        Returns the event id, or None when memory is disabled for this project or agent.
        Sensitive data is redacted before the turn touches the disk.
        """
        if not (await self.lifecycle.policy(scope)).memory_enabled:
            return None
        if turn_id is None:
            return await self._save_turn(scope, caller, user_text, assistant_text, None,
                                         tool_calls, metadata, interrupted, created_at)
        key = TurnClaims.key(scope, turn_id)
        known = self.turn_claims.lookup(key)
        if isinstance(known, str):
            return known
        if known is not None:  # the first write of this turn id is in flight
            return await asyncio.shield(known)
        claim = self.turn_claims.claim(key)  # before any await: a racing retry waits
        try:
            event_id = await self._save_turn(scope, caller, user_text, assistant_text,
                                             turn_id, tool_calls, metadata, interrupted,
                                             created_at)
        except BaseException as exc:
            self.turn_claims.drop(key, claim, exc)
            raise
        self.turn_claims.settle(key, claim, event_id)
        return event_id

    async def _seed_turn_ids(self, scope: Scope, turn_id: str) -> str | None:
        """Learn the caller's recent stored turn ids (once per caller per process); the
        event id ``turn_id`` was stored under, if it was."""
        if self.applier.last_error is not None:
            return None  # the store is failing: do not make a save wait to find that out
        try:
            found = await asyncio.wait_for(self.store.find_turns(
                scope, [turn_id], since=self.clock() - TURN_RETRY_WINDOW_S),
                TURN_LOOKUP_TIMEOUT_S)
        except (TimeoutError, VoxmemError) as exc:
            log.debug("turn id lookup skipped (%s); the store's insert dedupes", exc)
            return None
        self.turn_claims.seed(scope, found)
        return found.get(turn_id)

    async def _open_call(self, scope: Scope, caller: Caller) -> SessionInfo:
        """Open a call for a save that arrived without one; concurrent saves of the same
        caller share it instead of each opening (and resetting) their own."""
        key = scope.caller_key
        opening = self._opening.get(key)
        if opening is None:
            opening = asyncio.ensure_future(self.start_session(scope, caller))
            self._opening[key] = opening
            opening.add_done_callback(lambda _done: self._opening.pop(key, None))
        return await asyncio.shield(opening)

    async def stored_turn_ids(self, scope: Scope, turn_ids: list[str]) -> dict[str, str]:
        """Event ids of turn ids the store holds; {} when it cannot tell in time."""
        if self.applier.last_error is not None:
            return {}  # the store is failing: do not make a save wait to find that out
        try:
            return await asyncio.wait_for(self.store.find_turns(scope, turn_ids),
                                          TURN_LOOKUP_TIMEOUT_S * max(1, len(turn_ids) // 500))
        except (TimeoutError, VoxmemError) as exc:
            log.debug("turn id lookup skipped (%s); the store's insert dedupes", exc)
            return {}

    async def _save_turn(
        self, scope: Scope, caller: Caller, user_text: str, assistant_text: str,
        turn_id: str | None, tool_calls: list[dict[str, Any]] | None,
        metadata: dict[str, Any] | None, interrupted: bool, created_at: float | None,
    ) -> str:
        mem = self.callers.get(scope)
        if mem.session_id is None:
            info = await self._open_call(scope, caller)
            mem = self.callers.get(scope)  # a shared store starts the call from fresh state
            if mem.session_id is None:  # another start reset the cache meanwhile
                mem.session_id, mem.session_started_at = info.id, info.started_at
        assert mem.session_id is not None
        if turn_id is not None and not self.turn_claims.seeded(scope):
            # After the call is open: on a shared store opening it resets what is known.
            first = await self._seed_turn_ids(scope, turn_id)
            if first is not None:
                return first  # stored before this process knew of it (a restart between)
        clean = self.redactor.turn((scope.tenant_id, scope.project_id, mem.session_id),
                                   user_text=user_text,
                                   assistant_text=assistant_text, tool_calls=tool_calls,
                                   metadata=metadata)
        user_text, assistant_text, tool_calls = (clean.user_text, clean.assistant_text,
                                                 clean.tool_calls)
        meta = clean.metadata
        flagged = interrupted or bool(meta.get("interrupted"))
        turn = Turn(
            event_id=new_id("evt"), session_id=mem.session_id, turn_id=turn_id or new_id("turn"),
            user_text=user_text, assistant_text=assistant_text,
            created_at=self.clock() if created_at is None else created_at,
            agent_id=scope.agent_id, interrupted=flagged, tool_calls=list(tool_calls or []),
            metadata=meta)
        await self.journal_append({"type": "turn", "scope": scope_to_record(scope),
                                   "turn": turn_to_record(turn)})
        mem.add_turn(turn)
        mem.last_write = self.clock()
        self.directory.observe_turn(scope, turn)
        return turn.event_id

    async def update_profile(self, scope: Scope, field: str, value: Any) -> dict[str, Any]:
        value = self.redactor.value(value, field=field, about_caller=True)
        mem = self.callers.get(scope)
        await self.journal_append({"type": "profile", "scope": scope_to_record(scope),
                                   "field": field, "value": value, "at": self.clock()})
        mem.profile[field] = value
        return dict(mem.profile)

    async def import_history(
        self, scope: Scope, caller: Caller, sessions: Sequence[dict[str, Any]],
        *, learn: bool = False,
    ) -> dict[str, int]:
        """Backfill past calls with their real timestamps (already validated).

        With ``learn=True`` the imported calls are also learned from in the background,
        like calls that end live; by default they are stored and searchable only, so a
        bulk backfill does not set off thousands of extractions. A turn id already stored
        for the caller is skipped (re-importing a call stores nothing new), and the whole
        import is made durable with one disk sync.
        """
        return await import_history(self, scope, caller, sessions, learn=learn)

    # -- recall ---------------------------------------------------------------------------
    async def _embed_query(self, text: str) -> FloatArray | None:
        if not text.strip():
            return None
        if self.embedder.cheap:
            vectors = self.embedder.embed([text])
        else:
            loop = asyncio.get_running_loop()
            vectors = await loop.run_in_executor(self._lanes, self.embedder.embed, [text])
        first: FloatArray = vectors[0]
        return first

    async def search_memory(
        self, scope: Scope, query: str, *, lanes: Sequence[Lane] = ("profile", "working",
                                                                    "permanent", "org"),
        top_k: dict[str, int] | None = None, timeout_ms: float | None = None,
        mode: str = "fast", intent: str = "answer_current_user",
    ) -> SearchResult:
        """Recall for one turn. Always returns by the deadline; late lanes are dropped.

        ``intent`` (see ``INTENTS``) adjusts ranking: ``answer_current_user`` is the
        default; ``personalize`` ranks the caller's facts above raw turns;
        ``summarise_recent`` favours the most recent calls; ``knowledge`` searches
        the org indexes only. Another value is a ``BadRequest``.
        """
        started = time.perf_counter()
        intent = INTENT_ALIASES.get(intent, intent)
        if intent not in INTENTS:
            raise BadRequest(f"unknown intent {intent!r}; use one of: "
                             + ", ".join(sorted(INTENTS)), field="intent")
        params = intent_params(self.params, intent)
        if intent == "knowledge":
            lanes = [lane for lane in lanes if lane == "org"]
        budget_s = (timeout_ms or self.settings.recall_timeout_ms) / 1000.0
        deadline = started + budget_s
        k = {"working": self.settings.top_k_working,
             "permanent": self.settings.top_k_permanent,
             "org": self.settings.top_k_org, **(top_k or {})}
        lane_ms: dict[str, float] = {}
        errors: dict[str, str] = {}
        cold: list[str] = []
        policy = await self.lifecycle.policy(scope)
        if not policy.memory_enabled:
            lanes = [lane for lane in lanes if lane == "org"]
        min_created = policy.cutoff(self.clock())
        mem = self.callers.get(scope) if any(
            lane != "org" for lane in lanes) else None

        async def timed(lane: str, coro: Any) -> Any:
            t = time.perf_counter()
            try:
                return await coro
            finally:
                lane_ms[lane] = round((time.perf_counter() - t) * 1000, 3)

        query_task = asyncio.ensure_future(self._embed_query(query))
        terms = analyze(query)
        tasks: dict[str, asyncio.Future[Any]] = {}
        for lane in lanes:
            if lane == "profile":
                assert mem is not None
                tasks[lane] = asyncio.ensure_future(timed(lane, self._profile_lane(mem)))
            elif lane == "org":
                tasks[lane] = asyncio.ensure_future(timed(lane, self._org_lane(
                    scope, query, terms, query_task, k["org"])))
            else:
                assert mem is not None
                tasks[lane] = asyncio.ensure_future(timed(lane, self._caller_lane(
                    mem, lane, query, terms, query_task, k[lane], cold, min_created, params)))
        results: dict[str, Any] = {}
        if tasks:
            done, pending = await asyncio.wait(
                tasks.values(), timeout=max(0.0, deadline - time.perf_counter()))
            for fut in pending:
                fut.cancel()
            for name, fut in tasks.items():
                if fut in done and not fut.cancelled():
                    exc = fut.exception()
                    if exc is None:
                        results[name] = fut.result()
                    else:
                        errors[name] = str(exc)
                        log.warning("recall lane %s failed: %s", name, exc)
                else:
                    errors[name] = "deadline"
        if not query_task.done():
            query_task.cancel()
        graph_trace: dict[str, Any] | None = None
        if mode == "accurate" and mem is not None and "permanent" in results:
            try:
                results["permanent"], graph_trace = await asyncio.wait_for(
                    self._accurate(mem, query, results["permanent"], k["permanent"],
                                   min_created), max(0.0, deadline - time.perf_counter()))
            except TimeoutError:
                errors["graph"] = "deadline"
        profile = results.get("profile")
        hits = {lane: results.get(lane, []) for lane in ("working", "permanent", "org")}
        context = compose_context(profile, hits, self.settings.context_char_budget)
        sources = [
            {key: h[key] for key in ("lane", "id", "score", "index", "documentId", "sessionId")
             if key in h}
            for name in ("working", "permanent", "org") for h in hits[name]
        ]
        total_ms = round((time.perf_counter() - started) * 1000, 3)
        trace = {
            "lanes": lane_ms, "lanesUsed": [lane for lane in lanes if lane in results],
            "totalMs": total_ms, "degraded": bool(errors), "errors": errors, "mode": mode,
            "intent": intent, "timeoutMs": budget_s * 1000, "coldLanes": cold,
        }
        if graph_trace is not None:
            trace["graph"] = graph_trace
        result = SearchResult(context_text=context, profile=profile, working=hits["working"],
                              permanent=hits["permanent"], org=hits["org"], sources=sources,
                              trace=trace)
        if scope.user_id:
            live = mem or self.callers.peek(scope)
            self.traces.record(scope, live.session_id if live else None, query, result)
        return result

    async def _accurate(self, mem: CallerMemory, query: str, hits: list[dict[str, Any]],
                        k: int, min_created: float | None,
                        ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The permanent lane expanded through the caller's entity graph (SPEC §7)."""
        started = time.perf_counter()
        view = await self.directory.graph_view(mem.scope)
        expansion = view.expand(query, self.clock())
        extra = []
        for item_id, _score in sorted(expansion.items.items(), key=lambda kv: -kv[1]):
            doc = mem.index.payload_of(item_id)
            if doc is None or (min_created is not None and doc.created_at < min_created) or (
                    doc.kind == "turn" and doc.session_id == mem.session_id):
                continue
            extra.append(doc_hit("permanent", item_id, doc, 0.0))
            if len(extra) >= MAX_GRAPH_ITEMS:
                break
        ranked = rerank(hits, extra, expansion, k) if expansion.items else hits
        return ranked, {**expansion.trace(), "added": len(
            [h for h in ranked if h["id"] not in {x["id"] for x in hits}]),
            "ms": round((time.perf_counter() - started) * 1000, 3)}

    async def _profile_lane(self, mem: CallerMemory) -> dict[str, Any] | None:
        await mem.ready.wait()
        if mem.load_error is not None:
            raise mem.load_error
        profile = {"name": mem.name} if mem.name else {}
        profile.update(mem.profile)
        return profile or None

    async def _caller_lane(self, mem: CallerMemory, lane: str, text: str, terms: list[str],
                           query_task: asyncio.Future[Any], k: int, cold: list[str],
                           min_created: float | None,
                           params: RankParams) -> list[dict[str, Any]]:
        if not mem.ready.is_set() and lane == "permanent":
            # Cold caller: answer from the store's rows while the warm index loads,
            # rather than spend the turn's budget waiting for the sliced load.
            done, _ = await asyncio.wait([asyncio.ensure_future(mem.ready.wait())],
                                         timeout=0.005)
            # Turns still on their way from the journal are not in the store yet: only
            # a caller with none pending can be answered from it.
            if not done and not self.applier.pending_turns(mem.scope):
                cold.append(lane)
                return await self._cold_permanent(mem, text, terms, query_task, k,
                                                  min_created, params)
        await mem.ready.wait()
        if mem.load_error is not None:
            raise mem.load_error
        vector = await query_task
        now = self.clock()
        q = Query(text=text, terms=terms, vector=vector, now=now,
                  min_created=min_created, when=parse_when(text, now))
        return await self._run_lane(mem.index, q, search_caller_lane, mem, lane, q, k,
                                    params)

    async def _run_lane(self, index: HybridIndex, q: Query,
                        fn: Callable[..., list[dict[str, Any]]],
                        *args: Any) -> list[dict[str, Any]]:
        """Run a lane function inline when it is cheap, on a lane thread otherwise.

        A warm lane costs well under a millisecond or two of numpy. Handing it to a
        thread costs more than that under load: the loop and up to four lane threads
        then contend for the GIL (a waiter can sit out a whole switch interval, 5 ms by
        default) on a host with few cores; measured, search_memory p50 fell from ~8 to
        ~3 ms running inline. Only a search large enough to matter against the deadline
        (an unusually large caller index) still goes to a thread, so the deadline can
        drop it.
        """
        if index.search_cost(q.terms, q.vector is not None) <= INLINE_LANE_ROWS:
            return fn(*args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._lanes, fn, *args)

    async def _cold_permanent(self, mem: CallerMemory, text: str, terms: list[str],
                              query_task: asyncio.Future[Any], k: int,
                              min_created: float | None,
                              params: RankParams | None = None) -> list[dict[str, Any]]:
        """Permanent lane from the store while the warm index loads.

        The caller's rows are read and ranked by the very code the warm index uses
        (built in one go on a lane thread instead of in slices), so the first search
        after a restart answers exactly what the same search answers a moment later.
        """
        now = self.clock()
        _caller, items, facts = await read_caller(self.store, mem.scope, now)
        vector = await query_task
        q = Query(text=text, terms=terms, vector=vector, now=now, min_created=min_created,
                  when=parse_when(text, now))

        def run() -> list[dict[str, Any]]:
            cold = build_memory(mem.scope, self.embedder.dimensions, mem.session_id, items,
                                facts)
            return search_caller_lane(cold, "permanent", q, k, params or self.params)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._lanes, run)

    def _org(self, scope: Scope) -> OrgMemory:
        return self._org_for(scope.tenant_id, scope.project_id)

    def _org_for(self, tenant_id: str, project_id: str) -> OrgMemory:
        key = (tenant_id, project_id)
        org = self._orgs.get(key)
        if org is None:
            org = self._new_org(tenant_id, project_id)
            self._orgs[key] = org
            self._org_checked[key] = time.monotonic()
            self._spawn(org.load(self.store))
        elif time.monotonic() - self._org_checked.get(key, 0.0) > ORG_REFRESH_S:
            # Another runtime sharing the store may have changed the indexes.
            self._org_checked[key] = time.monotonic()
            self._spawn(self._refresh_org(org))
        return org

    def _new_org(self, tenant_id: str, project_id: str) -> OrgMemory:
        path = org_vector_path(self.settings.data_path, self.store, tenant_id, project_id)
        return OrgMemory(tenant_id, project_id, self.embedder.dimensions, vector_file=path,
                         model=self.embedder.name)

    async def _refresh_org(self, org: OrgMemory) -> None:
        versions = await self.store.index_versions(org.tenant_id, org.project_id)
        if versions != org.versions and org.ready.is_set():
            fresh = self._new_org(org.tenant_id, org.project_id)
            await fresh.load(self.store)
            if fresh.load_error is None:
                self._orgs[(org.tenant_id, org.project_id)] = fresh

    async def _org_lane(self, scope: Scope, text: str, terms: list[str],
                        query_task: asyncio.Future[Any], k: int) -> list[dict[str, Any]]:
        org = self._org(scope)
        if not org.ready.is_set():
            rows = await self.store.search_chunks_text(scope.tenant_id, scope.project_id,
                                                       text, k)
            return [{"id": r.id, "lane": "org", "kind": "chunk", "score": r.score, **r.data}
                    for r in rows]
        if org.load_error is not None:
            raise org.load_error
        vector = await query_task
        q = Query(text=text, terms=terms, vector=vector, now=self.clock())
        return await self._run_lane(org.index, q, search_org_lane, org, q, k, self.params)

    async def preload(self, scope: Scope, caller: Caller | None = None) -> Preload:
        """Session-start block: profile, top facts, last call, open commitments."""
        started = time.perf_counter()
        if not (await self.lifecycle.policy(scope)).memory_enabled:
            return Preload(context_text="", profile=None, facts=[], last_session=None,
                           commitments=[], trace={"totalMs": 0.0, "memoryEnabled": False})
        # A caller not cached yet is answered from the store first and warmed after:
        # the warm load is CPU work on a worker thread, and started first it competes
        # with these few reads for the GIL (measured: cold preload ~100-300 ms -> ~10).
        mem = self.callers.get(scope, defer_load=True)
        try:
            if caller is not None and caller.name and not mem.name:
                mem.name = caller.name
            if mem.ready.is_set() and mem.load_error is None:
                profile = {"name": mem.name} if mem.name else {}
                profile.update(mem.profile)
                all_facts = top_facts(mem, PRELOAD_SCAN_FACTS)
            else:
                # Session start must not wait for the warm index of a large caller: the
                # block needs a handful of rows, which the store answers directly.
                stored = await self.store.get_caller(scope)
                name = mem.name or (stored.name if stored else None)
                profile = {"name": name} if name else {}
                profile.update(stored.profile if stored else {})
                profile.update(mem.profile)
                all_facts = [_fact_hit(f) for f in await self.store.list_facts(scope)]
                all_facts.sort(key=lambda f: (f["confidence"], f["createdAtTs"]), reverse=True)
            cutoff = (await self.lifecycle.policy(scope)).cutoff(self.clock())
            if cutoff is not None:
                all_facts = [f for f in all_facts if f["createdAtTs"] >= cutoff]
            commitments = [f for f in all_facts if f.get("factKind") == "commitment"]
            commitments.sort(key=lambda f: f["createdAtTs"], reverse=True)
            commitments = commitments[:PRELOAD_COMMITMENTS]
            facts = [f for f in all_facts if f.get("factKind") != "commitment"][:PRELOAD_FACTS]
            last: dict[str, Any] | None = None
            sessions = await self.store.recent_sessions(scope, 3)
            previous = next((s for s in sessions if s.id != mem.session_id), None)
            if previous is not None:
                turns = await self.store.session_turns(scope, previous.id,
                                                       last=PRELOAD_LAST_TURNS)
                tail = turns[-PRELOAD_LAST_TURNS:]
                last = {**previous.to_dict(), "startedAtTs": previous.started_at, "turns": [
                    doc_hit("permanent", t.event_id, turn_doc(t), 1.0) for t in tail]}
            text = compose_preload(profile or None, facts, last, commitments,
                                   self.settings.context_char_budget)
            trace = {"totalMs": round((time.perf_counter() - started) * 1000, 3),
                     "warm": mem.ready.is_set()}
            return Preload(context_text=text, profile=profile or None, facts=facts,
                           last_session=last, commitments=commitments, trace=trace)
        finally:
            self.callers.get(scope)  # starts warming the caller for the first turn

    # -- org indexes ----------------------------------------------------------------------
    async def create_index(self, tenant_id: str, project_id: str, name: str,
                           documents: list[dict[str, Any]],
                           metadata: dict[str, Any] | None = None) -> IndexBuildResult:
        """Build or append an org index (documents already validated)."""
        now = self.clock()
        writes: list[DocumentWrite] = []
        all_chunks: list[Chunk] = []
        for doc in documents:
            pieces = chunk_text(doc["text"], self.settings.chunk_chars,
                                self.settings.chunk_overlap_chars)
            chunks = [Chunk(id=new_id("chk"), index_name=name, document_id=doc["id"],
                            ordinal=i, text=piece, metadata={**(metadata or {}),
                                                             **doc["metadata"]},
                            created_at=now)
                      for i, piece in enumerate(pieces)]
            all_chunks.extend(chunks)
            writes.append(DocumentWrite(doc_id=doc["id"], text=doc["text"],
                                        metadata=doc["metadata"], chunks=chunks))
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(
            None, self.embedder.embed, [c.text for c in all_chunks]) if all_chunks else None
        embedded: dict[str, bytes] = {}
        if vectors is not None:
            for chunk, vec in zip(all_chunks, vectors, strict=True):
                embedded[chunk.id] = np.ascontiguousarray(vec).tobytes()
        stored = [DocumentWrite(doc_id=w.doc_id, text=w.text, metadata=w.metadata, chunks=[
            dataclasses.replace(c, embedding=embedded.get(c.id)) for c in w.chunks],
            embedding_model=self.embedder.name) for w in writes]
        lock = self._index_locks.setdefault((tenant_id, project_id, name), asyncio.Lock())
        async with lock:
            version, count = await self.store.write_documents(
                tenant_id, project_id, name, stored, metadata, now)
        org = self._orgs.get((tenant_id, project_id))
        if org is not None:
            org.apply_write(name, [w.doc_id for w in writes], all_chunks,
                            [None if vectors is None else vectors[i]
                             for i in range(len(all_chunks))], version)
            if org.ready.is_set():
                self._spawn(loop.run_in_executor(None, org.upkeep, ORG_SAVE_INTERVAL_S))
        else:
            # A project that is building knowledge will be searched: start loading it
            # now rather than on the first turn that asks.
            self._org_for(tenant_id, project_id)
        return IndexBuildResult(index_name=name, chunk_count=count, version=version)

    async def list_indexes(self, tenant_id: str, project_id: str) -> list[IndexRecord]:
        return await self.store.list_indexes(tenant_id, project_id)

    async def warm_org(self, scope: Scope) -> None:
        """Load a project's org indexes now instead of on its first recall."""
        await self._org(scope).ready.wait()

    # -- maintenance ----------------------------------------------------------------------
    async def _reembed_missing(self) -> None:
        """Give vectors to rows that have none from the current model."""
        loop = asyncio.get_running_loop()
        for table in ("items", "chunks"):
            while True:
                try:
                    rows = await self.store.missing_embeddings(self.embedder.name, 256,
                                                               table=table)
                    if not rows:
                        break
                    vectors = await loop.run_in_executor(
                        None, self.embedder.embed, [text for _, text in rows])
                    await self.store.set_embeddings(
                        [(rid, np.ascontiguousarray(v).tobytes())
                         for (rid, _), v in zip(rows, vectors, strict=True)],
                        self.embedder.name, table=table)
                except VoxmemError as exc:
                    log.warning("re-embedding %s paused: %s", table, exc)
                    return

    def stats(self) -> dict[str, Any]:
        return {
            "journalSeq": self.journal.last_seq,
            "appliedSeq": self.applier.applied_seq,
            "backlog": self.applier.backlog,
            "turnsApplied": self.applier.turns_applied,
            "cachedCallers": len(self.callers),
            "embedder": self.embedder.name,
            "store": self.store.dialect,
            "lastWriteError": self.applier.last_error,
            "journalError": self.journal.broken or self.journal.last_error,
            "quarantined": self.applier.quarantined,
            # Unhealthy while acknowledged writes cannot reach the disk or the store.
            "healthy": self.journal.healthy and self.applier.last_error is None,
        }


def _private_dir(path: Path) -> None:
    """Create the data directory owner-only, whatever the umask: transcripts live here."""
    path.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    path.chmod(DATA_DIR_MODE)


def _fact_hit(fact: Fact) -> dict[str, Any]:
    """A stored fact in the shape recall hits have."""
    return {"id": fact.id, "lane": "permanent", "kind": "fact", "text": fact.text,
            "score": fact.confidence, "confidence": fact.confidence,
            "slotKey": fact.slot_key, "factKind": fact.kind,
            "createdAt": iso(fact.created_at), "createdAtTs": fact.created_at,
            "sessionId": fact.source_session_id}
