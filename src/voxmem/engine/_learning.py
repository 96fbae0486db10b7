"""Learning from calls: transcript → extractor → facts that update, never duplicate.

The pipeline, in one place::

    call ends (explicit, room closed, or idle timeout)
      → wait until its turns are in the store (the journal is the source)
      → extractor reads the transcript           (rules offline, or an LLM endpoint)
      → each fact is resolved against the caller's current facts:
            same slot key, or near-identical text  → supersedes the old one
            same text again                        → kept as is, nothing new written
      → facts journaled (durable) and added to the warm index
      → the call is marked learned; a failure is recorded and retried later

Fact resolution for one caller runs under a per-caller lock, so two calls ending at
once cannot both insert the same fact. On a store other runtimes share (Postgres) the
lock is the store's too: the holder resolves against the caller as stored (reloaded, so
facts another runtime learned count) and releases it once its facts are in the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pickle
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from .._config import Settings
from .._exceptions import VoxmemError
from ..embeddings import Embedder
from ..entities import country_code_for_region
from ..extraction import (
    ExtractedFact,
    Extractor,
    LLMExtractor,
    RuleExtractor,
    SensitivePolicy,
    Transcript,
    TranscriptTurn,
)
from ..extraction.redaction import kept_from_metadata
from ..models import Scope, iso
from ..store import ExtractionDone, FactWrite, Store, encode_record
from ._analysis import analyze, normalize_line
from ._caller_memory import FACT_GROUP, CallerCache, CallerMemory, Doc
from ._ids import new_id
from ._workers import BackgroundWorkers

__all__ = ["Learner", "build_extractor", "sensitive_policy"]

log = logging.getLogger("voxmem.engine.learning")

#: Two fact texts whose word sets overlap this much say the same thing.
NEAR_DUPLICATE_JACCARD = 0.75
#: ...or whose vectors are this close.
NEAR_DUPLICATE_COSINE = 0.93
#: How long learning waits for writes to reach a shared store (before reloading the
#: caller, and before handing the caller's lock to another runtime).
STORED_WAIT_S = 60.0


def sensitive_policy(settings: Settings) -> SensitivePolicy:
    enabled = set(filter(None, (c.strip() for c in settings.sensitive_categories.split(","))))
    return SensitivePolicy(payment_card="payment_card" in enabled,
                           password_pin="password_pin" in enabled,
                           government_id="government_id" in enabled,
                           health="health" in enabled,
                           allergy_constraints="allergy" not in enabled)


def build_extractor(settings: Settings) -> Extractor | None:
    if settings.extractor == "off":
        return None
    policy = sensitive_policy(settings)
    if settings.extractor == "llm":
        return LLMExtractor(settings.llm_base_url, settings.llm_model,
                            settings.llm_api_key or None, policy=policy)
    if not settings.default_region:
        # No region: the directory then accepts international numbers only; the rule
        # extractor keeps its own default, and an unplaceable number stays bare digits.
        return RuleExtractor(policy=policy)
    # Numbers a caller says without a prefix are read in the configured region, as the
    # caller directory reads them, so a fact and an identifier agree on the number.
    return RuleExtractor(policy=policy, default_country_code=country_code_for_region(
        settings.default_region))


def _for_worker(extractor: object) -> bool:
    """Whether a worker process can run ``extractor``: it pickles, and its class is
    importable there (a worker does not run the application's ``__main__``)."""
    if type(extractor).__module__ == "__main__":
        return False
    try:
        pickle.dumps(extractor)
    except Exception:  # pickling raises many types (PicklingError, TypeError, ...)
        return False
    return True


def _words(text: str) -> set[str]:
    return set(analyze(text))


def _same_fact(a: str, b: str) -> bool:
    return normalize_line(a) == normalize_line(b)


def _near_duplicate(a: str, b: str, cos: float) -> bool:
    wa, wb = _words(a), _words(b)
    if wa and wb and len(wa & wb) / len(wa | wb) >= NEAR_DUPLICATE_JACCARD:
        return True
    return cos >= NEAR_DUPLICATE_COSINE


#: Makes a journal record durable and hands it to the applier; its sequence number.
Append = Callable[[dict[str, Any]], Awaitable[int]]
#: Waits until every acknowledged write is in the store; False on timeout.
WaitApplied = Callable[[float | None], Awaitable[bool]]
#: (tenant, project, space, user id) -> the caller id it stands for now (after merges)
Canonical = Callable[[str, str, str, str], str]


class Learner:
    """Runs extraction for ended calls and writes the facts it finds.

    Given the store (to read an ended call's transcript), the caller cache (facts are
    resolved against the caller's warm facts), the embedder, the write path's
    ``append`` and ``wait_applied``, where to run background work, the extractor and
    the worker processes CPU-bound extraction runs in.
    """

    def __init__(self, store: Store, callers: CallerCache, embedder: Embedder,
                 append: Append, wait_applied: WaitApplied,
                 spawn: Callable[[Awaitable[dict[str, Any]]], asyncio.Future[dict[str, Any]]],
                 extractor: Extractor | None, workers: BackgroundWorkers,
                 clock: Callable[[], float], canonical: Canonical | None = None) -> None:
        self._store = store
        self._callers = callers
        self._embedder = embedder
        self._append = append
        self._wait_applied = wait_applied
        self._spawn = spawn
        self.extractor = extractor
        #: Where CPU-bound extraction runs: the engine's worker processes.
        self.workers = workers
        self._clock = clock
        self._canonical = canonical
        self._tasks: dict[tuple[str, str, str], asyncio.Future[dict[str, Any]]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.sessions_learned = 0

    def start(self, scope: Scope, session_id: str) -> asyncio.Future[dict[str, Any]]:
        """Learn from one ended call in the background; the task's result is the outcome.

        A call already being learned from gets the running task, not a second one.
        """
        key = (scope.tenant_id, scope.project_id, session_id)
        task = self._tasks.get(key)
        if task is None:
            task = self._spawn(self._outcome(scope, session_id))
            self._tasks[key] = task
            self._idle.clear()
            task.add_done_callback(lambda _t: self._finished(key))
        return task

    def _finished(self, key: tuple[str, str, str]) -> None:
        self._tasks.pop(key, None)
        if not self._tasks:
            self._idle.set()

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no learning is running (each call's facts are journaled by then)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def start_if_enabled(self, scope: Scope,
                         session_id: str) -> asyncio.Future[dict[str, Any]] | None:
        """:meth:`start`, or None when no extractor is configured."""
        return None if self.extractor is None else self.start(scope, session_id)

    async def learn(self, scope: Scope, session_id: str) -> list[dict[str, Any]]:
        """Extract facts from one ended call; returns the facts written (may be none)."""
        if self.extractor is None:
            return []
        outcome = await asyncio.shield(self.start(scope, session_id))
        facts: list[dict[str, Any]] = outcome["facts"]
        return facts

    async def _outcome(self, scope: Scope, session_id: str) -> dict[str, Any]:
        """Run the pipeline for one call: ``{"status", "facts", "error"}``."""
        try:
            seen = self._callers.erasures.count(scope)  # before reading the call
            await self._wait_applied(60)
            turns = await self._store.session_turns(scope, session_id)
            caller = await self._store.get_caller(scope)
            transcript = Transcript(
                session_id=session_id, user_id=scope.user_id,
                caller_name=caller.name if caller else None,
                turns=[TranscriptTurn(turn_id=t.turn_id, user_text=t.user_text,
                                      assistant_text=t.assistant_text, created_at=t.created_at,
                                      interrupted=t.interrupted,
                                      kept=kept_from_metadata(t.metadata)) for t in turns])
            facts = await self._extract(transcript) if turns else []
            written = await self.write_facts(scope, facts, session_id=session_id, seen=seen)
            if not self._callers.erasures.unchanged(scope, seen):
                return {"status": "skipped", "facts": [], "error": None}  # no record names them
            await self._append(encode_record(ExtractionDone(
                scope=scope, session_id=session_id, at=self._clock())))
            self.sessions_learned += 1
            log.info("learned %d facts from call %s", len(written), session_id)
            return {"status": "learned", "facts": written, "error": None}
        except Exception as exc:
            # The transcript stays in the store; the maintenance sweep retries the call.
            reason = exc.message if isinstance(exc, VoxmemError) else repr(exc)
            log.warning("extraction for call %s failed: %s", session_id, reason)
            try:
                await self._append(encode_record(ExtractionDone(
                    scope=scope, session_id=session_id, at=self._clock(), error=reason)))
            except VoxmemError:
                log.exception("could not record the extraction failure")
            return {"status": "failed", "facts": [], "error": reason}

    async def _extract(self, transcript: Transcript) -> list[ExtractedFact]:
        assert self.extractor is not None
        extract_sync = getattr(self.extractor, "extract_sync", None)
        if extract_sync is None:
            # An LLM extractor waits on I/O: it stays on the event loop.
            return await self.extractor.extract(transcript)
        # The rule extractor is pure CPU (hundreds of ms for a long call). On a thread it
        # would hold the GIL that saves and searches on the event loop need, so it runs
        # in a worker process; an extractor a worker cannot load (defined inside a
        # function or in the application's main script, holding a connection) still
        # runs, on a thread.
        workers = self.workers
        if not workers.in_process and _for_worker(self.extractor):
            facts: list[ExtractedFact] = await workers.run(extract_sync, transcript)
            return facts
        loop = asyncio.get_running_loop()
        facts = await loop.run_in_executor(None, extract_sync, transcript)
        return facts

    async def write_facts(self, scope: Scope, facts: list[ExtractedFact], *,
                          session_id: str | None, seen: int | None = None,
                          ) -> list[dict[str, Any]]:
        """Resolve ``facts`` against the caller's current ones and journal the changes.

        ``seen``: the caller's erasure count when what ``facts`` were learned from was
        read; none are written if the caller was erased since.
        """
        if not facts:
            return []
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(None, self._embedder.embed,
                                             [f.text for f in facts])
        written: list[dict[str, Any]] = []
        async with self._store.caller_lock(scope), self._callers.erasures.lock(scope):
            if not self._callers.erasures.unchanged(scope, seen):
                log.info("caller erased while learning from call %s: no facts kept",
                         session_id)
                return []
            mem = await self._as_stored(scope)
            for i, (fact, vector) in enumerate(zip(facts, vectors, strict=True)):
                if (now := self._now(scope)) != scope.user_id:
                    # Merged away since the call was read: the rest go to the caller it
                    # is now (a merge moves only what was written before it).
                    moved, rest = dataclasses.replace(scope, user_id=now), facts[i:]
                    break
                decision = self._resolve(mem, fact, vector)
                if decision is None:
                    continue
                written.append(await self._write_one(mem, fact, vector, decision, session_id))
            else:
                if written and self._store.shared:
                    # The next runtime to take the lock reads the caller from the store.
                    await self._wait_applied(STORED_WAIT_S)
                return written
        return written + await self.write_facts(moved, rest, session_id=session_id)

    async def _as_stored(self, scope: Scope) -> CallerMemory:
        """The caller's memory to resolve facts against: on a shared store, reloaded
        (another runtime may have learned for the caller since it was cached here),
        unless a call of theirs is open here or this runtime's own writes are still on
        their way (a reload would miss them)."""
        mem = self._callers.get(scope)
        if self._store.shared and mem.session_id is None and await self._wait_applied(
                STORED_WAIT_S):
            self._callers.drop(scope)
            mem = self._callers.get(scope)
        await mem.ready.wait()
        return mem

    def _now(self, scope: Scope) -> str:
        if self._canonical is None:
            return scope.user_id
        return self._canonical(scope.tenant_id, scope.project_id, scope.space, scope.user_id)

    def _resolve(self, mem: CallerMemory, fact: ExtractedFact,
                 vector: np.ndarray[Any, Any]) -> list[str] | None:
        """Ids the new fact supersedes, or None when it restates a current fact."""
        supersedes: list[str] = []
        for doc_id, doc, cos in current_facts(mem, vector):
            same_slot = bool(fact.slot_key) and doc.slot_key == fact.slot_key
            if _same_fact(doc.text, fact.text) and (same_slot or not fact.slot_key):
                return None
            if same_slot or _near_duplicate(doc.text, fact.text, cos):
                supersedes.append(doc_id)
        return supersedes

    async def _write_one(self, mem: CallerMemory, fact: ExtractedFact,
                         vector: np.ndarray[Any, Any], supersedes: list[str],
                         session_id: str | None) -> dict[str, Any]:
        at = self._clock()
        fact_id = new_id("fact")
        await self._append(encode_record(FactWrite(
            scope=mem.scope, id=fact_id, text=fact.text, kind=fact.kind,
            slot_key=fact.slot_key, confidence=float(fact.confidence),
            source_session_id=session_id, source_turn_ids=tuple(fact.source_turn_ids),
            valid_from=at, supersedes=tuple(supersedes))))
        for old in supersedes:
            mem.index.remove(old)
        mem.index.add(fact_id, analyze(fact.text), created_at=at, group=FACT_GROUP,
                      vector=np.ascontiguousarray(vector, dtype=np.float32),
                      payload=Doc(kind="fact", text=fact.text, created_at=at,
                                  session_id=session_id, confidence=float(fact.confidence),
                                  slot_key=fact.slot_key, fact_kind=fact.kind))
        mem.note_fact(fact_id, fact.slot_key, fact.source_turn_ids, supersedes)
        return {"id": fact_id, "text": fact.text, "kind": fact.kind, "slotKey": fact.slot_key,
                "confidence": float(fact.confidence), "sourceSessionId": session_id,
                "sourceTurnIds": list(fact.source_turn_ids), "validFrom": iso(at),
                "supersedes": supersedes}


def current_facts(mem: CallerMemory,
                  vector: np.ndarray[Any, Any]) -> list[tuple[str, Doc, float]]:
    """The caller's live facts with each one's cosine to ``vector``."""
    out = []
    for pos, doc_id, doc in mem.live_facts():
        stored = mem.index.vector_at(pos)
        out.append((doc_id, doc, float(stored @ vector) if stored is not None else 0.0))
    return out
