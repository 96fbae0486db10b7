"""The memory engine: a facade over named parts, each given only what it needs.

One engine serves a whole host (the runtime) or one process (embedded mode). It builds
its parts and exposes the operations; the parts never see the engine:

- ``writes`` (:class:`WritePath`): the journal, the applier, turn-id claims, call owners
- ``calls`` (:class:`Calls`): open and close calls, save turns, profiles, imports
- ``recall`` (:class:`Recall`) and ``preloader`` (:class:`Preloader`): reads on a turn
- ``org`` (:class:`OrgKnowledge`): org indexes, built, warm and searched
- ``learner`` (:class:`Learner`): facts learned from ended calls
- ``lifecycle`` (:class:`Lifecycle`) and ``maintenance`` (:class:`Maintenance`):
  deletion, erasure, merges, slots; the idle-call and retention sweep
- ``console`` (:class:`Console`): reads for the memory and operator views
- ``directory`` (:class:`CallerDirectory`): caller identity, merges, the entity graph

``docs/architecture.md`` draws them and the path of one search and one save.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._config import Settings
from .._files import private_dir
from ..embeddings import Embedder, load_embedder, load_second_embedder
from ..entities._directory import CallerDirectory
from ..extraction.redaction import Redactor
from ..journal import Journal
from ..models import (
    DEFAULT_TENANT,
    SHARED_SPACE,
    Caller,
    Fact,
    IndexBuildResult,
    IndexRecord,
    Lane,
    Preload,
    Scope,
    SearchResult,
    SessionInfo,
)
from ..store import Store, open_store
from ._applier import Applier
from ._background import Background
from ._caller_memory import CallerCache
from ._calls import Calls
from ._console import Console
from ._engine_views import OperatorViews
from ._fusion import load_fusion
from ._ids import new_id
from ._lanes import LaneRunner
from ._learning import Learner, build_extractor, sensitive_policy
from ._lifecycle import Lifecycle
from ._maintenance import Maintenance, MaintenanceSettings
from ._malloc import GrowthTrimmer, configure_allocator
from ._org_knowledge import OrgKnowledge
from ._pending import PendingWrites
from ._policy import Policies, Policy
from ._preload import Preloader
from ._rank import RankParams
from ._reembed import reembed_own_model
from ._restore import EXPORT_FORMAT, restore_caller
from ._search import Recall, RecallSettings
from ._second import SecondVectors, fusion_name, rank_params
from ._topic import topic_model
from ._traces import RecallTraceLog
from ._workers import BackgroundWorkers
from ._write_path import WritePath, require_applied

__all__ = ["MemoryEngine", "new_id"]


class MemoryEngine(OperatorViews):
    """Stores what callers said and recalls the right part inside a voice turn's budget.

    Most code uses :class:`voxmem.VoiceClient`; the engine is what it drives, in-process
    (``embedded=True``) or inside the runtime. Example::

        engine = MemoryEngine(Settings(data_dir="/tmp/vm"))
        await engine.start()
        scope = engine.scope(project_id="p", agent_id="a", user_id="caller-42")
        await engine.save_response(scope, Caller("caller-42"), user_text="hi",
                                   assistant_text="hello")
        result = await engine.search_memory(scope, "what did I say?")
        await engine.close()
    """

    def __init__(self, settings: Settings | None = None, *, store: Store | None = None,
                 embedder: Embedder | None = None, second_embedder: Embedder | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``second_embedder``: the full model of ``embedder="static+onnx"`` (MiniLM)."""
        configure_allocator()  # before the tokenizer's threads allocate (see _malloc.py)
        s = self.settings = settings or Settings.from_env()
        self.clock = clock
        self.store: Store = store or open_store(s)
        self.embedder: Embedder = embedder or load_embedder(s)
        second = load_second_embedder(s, second_embedder)
        self.background = Background()
        self._stop = asyncio.Event()
        self._started = False
        #: set when the start's re-embedding sweep of the engine's own model has ended
        self.reembedded = asyncio.Event()
        dims = self.embedder.dimensions
        # -- the write path -----------------------------------------------------------
        pending = PendingWrites()
        fusion = load_fusion(fusion_name(self.embedder, second)) if s.fusion == "learned" else None
        topic = topic_model(self.embedder) if fusion is not None else None
        self.callers = CallerCache(self.store, dims, s.caller_cache_size, pending, clock, topic,
                                   second.dimensions if second else 0)
        #: the full model's vectors of ``embedder="static+onnx"``, written in the background
        self.second = SecondVectors(self.store, second, self.callers) if second else None
        self.applier = Applier(self.store, self.embedder, pending, self.callers.set_vector,
                               s.index_batch_size, clock, topic=topic,
                               on_stored=self.second.stored if self.second else None)
        self.journal = Journal(Path(s.data_path) / "journal", fsync=s.journal_fsync)
        self.writes = WritePath(self.store, self.journal, self.applier, pending, clock)
        self.turn_claims = self.writes.turn_claims
        self.policies = Policies(self.store, memory_enabled=s.memory_enabled,
                                 retention_days=s.memory_retention_days, clock=clock)
        self.sensitive_policy = sensitive_policy(s)
        self.redactor = Redactor(self.sensitive_policy)
        #: CPU-bound learning (extraction, entity graph) runs here, off the loop's GIL
        self.workers = BackgroundWorkers(s.background_processes)
        self.directory = CallerDirectory(
            self.store, self.callers, self.writes.wait_applied, self.writes.claim_session,
            self.workers, region=s.default_region, link_mode=s.caller_link_mode, clock=clock)
        self.learner = Learner(self.store, self.callers, self.embedder, self.writes.append,
                               self.writes.wait_applied, self.background.spawn,
                               build_extractor(s), self.workers, clock, self.directory.canonical)
        self.calls = Calls(self.writes, self.callers, self.redactor, self.policies,
                           self.directory, self.learner.start_if_enabled,
                           shared_store=self.store.shared, spawn=self.background.spawn,
                           clock=clock, text_worker=s.text_worker)
        # -- recall ---------------------------------------------------------------------
        self.lanes = LaneRunner(self.embedder, second)
        params = rank_params(s, fusion, topic, second is not None)
        self.org = OrgKnowledge(self.store, self.embedder, self.lanes, params,
                                data_path=s.data_path, chunk_chars=s.chunk_chars,
                                chunk_overlap_chars=s.chunk_overlap_chars,
                                spawn=self.background.spawn, clock=clock,
                                words_worker=s.org_words_worker)
        self.traces = RecallTraceLog(self.store, self.sensitive_policy, clock)
        self.recall = Recall(self.callers, self.org, self.store, self.writes.has_pending_turns,
                             self.policies, self.lanes, self.directory, self.traces, params,
                             RecallSettings.of(s, dims, self.callers.second_dimensions), clock)
        self.preloader = Preloader(self.callers, self.store, self.policies,
                                   context_char_budget=s.context_char_budget, clock=clock)
        # -- lifecycle and reads --------------------------------------------------------
        self.lifecycle = Lifecycle(self.store, self.writes, self.callers, self.directory,
                                   self.learner, self.traces, self.sensitive_policy, clock)
        self.maintenance = Maintenance(
            self.store, self.callers, self._end_idle_call, self.learner.learn,
            MaintenanceSettings(interval_s=s.maintenance_interval_s,
                                session_idle_timeout_s=s.session_idle_timeout_s,
                                extraction_max_attempts=s.extraction_max_attempts,
                                retention_days=s.memory_retention_days), clock,
            self.writes.compact_journal, self.org.purge_deleted_files)
        self.trimmer = GrowthTrimmer()
        self.console = Console(self.store, self.writes.wait_applied, self.directory,
                               self.traces, self.stats, region=s.default_region or None,
                               extraction_max_attempts=s.extraction_max_attempts,
                               clock=clock)

    @property
    def shared_store(self) -> bool:
        """True when other runtimes may write the same store (a database server)."""
        return self.store.shared

    @property
    def params(self) -> RankParams:
        """The ranking parameters recall and the org lane use (tunable at run time)."""
        return self.recall.params

    @params.setter
    def params(self, value: RankParams) -> None:
        self.recall.params = value
        self.org.params = value

    async def _end_idle_call(self, scope: Scope, session_id: str) -> None:
        # The sweep learns from idle calls itself, in its own pass.
        await self.calls.end_session(scope, reason="idle_timeout", session_id=session_id,
                                     learn=False)

    # -- start, close, flush --------------------------------------------------------------
    async def start(self) -> None:
        """Open the store and journal, replay what the store has not applied yet, and
        finish erasures a crash cut off."""
        if self._started:
            return
        await asyncio.to_thread(private_dir, Path(self.settings.data_path))
        await self.store.open()
        try:
            await self.org.open()
            await self.directory.load()
            await self.writes.open()
            await self.lifecycle.resume_erasures()  # cut off by a crash: before serving
        except BaseException:
            await self.store.close()
            raise
        self._started = True
        self._stop.clear()
        # The org graph's library takes 0.3-1 s to import: on a thread now, rather than
        # on the event loop inside the first search of a project (``Recall.org_ready``).
        self.recall.org_ready = asyncio.ensure_future(
            asyncio.to_thread(importlib.import_module, "usearch.index"))
        spawn = self.background.spawn
        spawn(self._reembed())
        if self.second is not None:
            self.second.start(spawn)
        spawn(self.maintenance.run(self._stop))
        spawn(self.trimmer.run(self._stop))
        spawn(self.traces.run(self._stop))
        spawn(self.directory.run(self._stop))
        spawn(self.lifecycle.watch_erasures(self._stop))

    async def _reembed(self) -> None:
        try:
            await reembed_own_model(self.store, self.embedder,
                                    self.callers.set_vector_anywhere, self.org.reload_loaded)
        finally:
            self.reembedded.set()

    async def close(self) -> None:
        """Apply everything journaled, then close the store and the journal."""
        if not self._started:
            return
        self._started = False
        self._stop.set()
        await self.directory.idle()  # identifiers being linked reach the store first
        await self.applier.aclose()
        self.background.cancel_all()
        await self.org.save_all()
        await self.callers.aclose()
        await self.traces.flush()
        await self.writes.close()
        await self.store.close()
        self.lanes.shutdown()
        await asyncio.gather(self.workers.aclose(), self.calls.aclose(),
                             self.org.words.aclose())

    async def flush(self, timeout: float | None = None, *, learning: bool = False) -> bool:
        """Wait until every acknowledged write is in the store (for tests and shutdown).

        With ``learning=True`` also wait until every end-of-call learning that has started
        has finished (or failed) and its facts are stored. False if ``timeout`` ran out.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if learning and not await self.learner.wait_idle(timeout):
            return False
        # Identifiers being linked and said in calls (merges, proposals) are writes too.
        await self.directory.idle()
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        applied = await self.writes.wait_applied(left)
        await self.traces.flush()
        return applied

    def stats(self) -> dict[str, Any]:
        """Counters for health checks and metrics."""
        return {**self.writes.stats(), "cachedCallers": len(self.callers),
                "embedder": self.embedder.name, "store": self.store.dialect}

    # -- identity -------------------------------------------------------------------------
    def scope(self, *, project_id: str, agent_id: str, user_id: str,
              tenant_id: str = DEFAULT_TENANT) -> Scope:
        """The scope a caller's memory lives in, honouring ``memory_scope``."""
        space = agent_id if self.settings.memory_scope == "agent" else SHARED_SPACE
        # A caller merged into another is that other caller from now on (SPEC §7).
        user_id = self.directory.canonical(tenant_id, project_id, space, user_id)
        return Scope(tenant_id=tenant_id, project_id=project_id, agent_id=agent_id,
                     user_id=user_id, space=space)

    async def check_session_owner(self, scope: Scope, session_id: str) -> None:
        """Raise ``identity_mismatch`` if ``session_id`` is another caller's call."""
        await self.writes.check_session_owner(scope, session_id)

    # -- calls and turns ------------------------------------------------------------------
    async def start_session(
        self, scope: Scope, caller: Caller, *, session_id: str | None = None,
        metadata: dict[str, Any] | None = None, started_at: float | None = None,
    ) -> SessionInfo:
        """Open a call for ``caller``; reusing another caller's session id is refused."""
        return await self.calls.start_session(scope, caller, session_id=session_id,
                                              metadata=metadata, started_at=started_at)

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
        return await self.calls.end_session(scope, reason=reason, session_id=session_id,
                                            learn=learn, report=report, wait=wait)

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
        return await self.calls.save_response(
            scope, caller, user_text=user_text, assistant_text=assistant_text,
            turn_id=turn_id, tool_calls=tool_calls, metadata=metadata,
            interrupted=interrupted, created_at=created_at)

    async def update_profile(self, scope: Scope, field: str, value: Any) -> dict[str, Any]:
        """Set one profile field; the caller's whole profile after it."""
        return await self.calls.update_profile(scope, field, value)

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
        return await self.calls.import_history(scope, caller, sessions, learn=learn)

    async def journal_append(self, record: dict[str, Any]) -> int:
        """Make a write durable, then hand it to the applier."""
        return await self.writes.append(record)

    async def retry_quarantined(self, seq: int) -> int | None:
        """Journal a quarantined record again (an operator fixed its cause); its new seq.

        None when no record ``seq`` is quarantined.
        """
        return await self.writes.retry_quarantined(seq)

    # -- recall ---------------------------------------------------------------------------
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
        return await self.recall.search_memory(scope, query, lanes=lanes, top_k=top_k,
                                               timeout_ms=timeout_ms, mode=mode,
                                               intent=intent)

    async def preload(self, scope: Scope, caller: Caller | None = None) -> Preload:
        """Session-start block: profile, top facts, last call, open commitments."""
        return await self.preloader.preload(scope, caller)

    # -- org indexes ----------------------------------------------------------------------
    async def create_index(self, tenant_id: str, project_id: str, name: str,
                           documents: list[dict[str, Any]],
                           metadata: dict[str, Any] | None = None) -> IndexBuildResult:
        """Build or append an org index (documents already validated)."""
        return await self.org.create_index(tenant_id, project_id, name, documents, metadata)

    async def list_indexes(self, tenant_id: str, project_id: str) -> list[IndexRecord]:
        """The project's org indexes."""
        return await self.org.list_indexes(tenant_id, project_id)

    async def warm_org(self, scope: Scope) -> None:
        """Load a project's org indexes now instead of on its first recall."""
        await self.org.warm(scope.tenant_id, scope.project_id)

    # -- policies and the memory lifecycle ------------------------------------------------
    async def policy(self, scope: Scope) -> Policy:
        """The memory policy in force for the scope's agent."""
        return await self.policies.policy(scope)

    async def get_policies(self, tenant_id: str, project_id: str) -> dict[str, Any]:
        """The project's policy and each agent's."""
        return await self.policies.policies(tenant_id, project_id)

    async def set_policy(self, tenant_id: str, project_id: str, agent_id: str, *,
                         memory_enabled: bool, retention_days: int) -> dict[str, Any]:
        """Store a project (``agent_id=""``) or agent policy; the policies after it."""
        return await self.policies.set_policy(tenant_id, project_id, agent_id,
                                              memory_enabled=memory_enabled,
                                              retention_days=retention_days)

    async def list_facts(self, scope: Scope, *, include_history: bool = False,
                         session_id: str | None = None) -> list[Fact]:
        """The caller's facts, after the caller's acknowledged writes are stored."""
        return await self.console.list_facts(scope, include_history=include_history,
                                             session_id=session_id)

    async def delete_memory(self, scope: Scope, memory_id: str) -> dict[str, Any]:
        """Hide a memory from recall now; cleanup deletes it for good."""
        return await self.lifecycle.delete_memory(scope, memory_id)

    async def remember(self, scope: Scope, memory_type: str, content: str) -> dict[str, Any]:
        """Upsert one value per (caller, memory_type)."""
        return await self.lifecycle.remember(scope, memory_type, content)

    async def recall_slot(self, scope: Scope, memory_type: str) -> dict[str, Any]:
        """The caller's value for ``memory_type`` (``content`` None when unset)."""
        return await self.lifecycle.recall(scope, memory_type)

    async def forget_slot(self, scope: Scope, memory_type: str) -> dict[str, Any]:
        """Delete the caller's value for ``memory_type``."""
        return await self.lifecycle.forget(scope, memory_type)

    async def forget_user(self, scope: Scope) -> dict[str, int]:
        """Erase the caller everywhere: rows, search indexes, journal, caches."""
        return await self.lifecycle.forget_user(scope)

    async def export_user(self, scope: Scope) -> dict[str, Any]:
        """Everything stored about the caller (a data request)."""
        return {"format": EXPORT_FORMAT, **await self.console.export_caller(scope)}

    async def import_user(self, scope: Scope, data: dict[str, Any]) -> dict[str, Any]:
        """Put a caller back from ``export_user``'s data (validated), ids and times kept;
        what the store already holds is skipped, so importing twice stores once."""
        done = await restore_caller(self.store, self.writes, self.callers, scope, data,
                                    self.clock())
        if done.get("identifiers") or done.get("merges") or done.get("entities"):
            await self.directory.reload(scope)  # merges in force, the caller's graph
        return done

    async def merge_users(self, source: Scope, target: Scope) -> dict[str, Any]:
        """Move everything of one caller (a guest) to another (the account)."""
        return await self.lifecycle.merge_users(source, target)

    async def list_quarantined(self) -> list[dict[str, Any]]:
        """Journal records the store refused."""
        return await self.console.list_quarantined()

    # -- caller identity (the caller directory) -------------------------------------------
    async def resolve_caller(self, scope: Scope, identifiers: Sequence[tuple[str, str, str]],
                             *, user_id: str | None = None, name: str | None = None,
                             default_user_id: str | None = None,
                             session_id: str | None = None) -> dict[str, Any]:
        """The canonical caller of a starting call from everything known about it."""
        return await self.directory.resolve(scope, identifiers, user_id=user_id, name=name,
                                            default_user_id=default_user_id,
                                            session_id=session_id)

    async def link_identifier(self, scope: Scope, kind: str, value: str, *,
                              source: str = "api") -> dict[str, Any]:
        """Link one identifier (a phone, an e-mail, ...) to the caller."""
        return await self.directory.link(scope, kind, value, source=source)

    async def unlink_identifier(self, scope: Scope, kind: str, value: str) -> dict[str, Any]:
        """Remove one identifier from the caller (linked by mistake): the link removed."""
        return await self.lifecycle.unlink_identifier(scope, kind, value)

    async def find_caller_ids(self, scope: Scope, text: str) -> list[dict[str, Any]]:
        """Callers linked to ``text`` read as any identifier kind."""
        return await self.directory.find(scope, text)

    async def show_caller(self, scope: Scope) -> dict[str, Any]:
        """One caller: profile, identifiers, merges and entity graph."""
        return await self.directory.show(scope)

    async def merge_callers(self, source: Scope, target: Scope, *, reason: str,
                            status: str = "merged") -> dict[str, Any]:
        """Merge (or propose merging) ``source`` into ``target``, undoably."""
        await require_applied(self.writes.wait_applied, "merged")  # or strand queued writes
        return (await self.directory.merge(source, target, evidence={"reason": reason},
                                           status=status)).to_dict()

    async def unmerge_callers(self, scope: Scope, merge_id: str) -> dict[str, Any]:
        """Undo a merge: both callers get back exactly what they had."""
        return await self.directory.unmerge(scope, merge_id)

    async def list_merges(self, scope: Scope, user_id: str | None) -> list[dict[str, Any]]:
        """The project's merges (one caller's when ``user_id`` is given)."""
        return await self.directory.merges(scope, user_id)
