"""Recall for one turn: the lanes run under the deadline (a warm caller's inline, the
rest as tasks), then compose.

:class:`Recall` is given the caller cache, the org knowledge, the store (the cold path
reads a caller's rows while the warm index loads), the write path's view of turns not
stored yet, the policies, the lane runner, the caller directory's entity graph (for
``mode="accurate"``), the trace log and the recall settings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .._config import Settings
from .._exceptions import BadRequest
from ..entities._directory import CallerDirectory
from ..entities._expand import MAX_GRAPH_ITEMS, rerank
from ..models import Lane, Scope, SearchResult
from ..store import Store
from ._analysis import analyze
from ._caller_memory import CallerCache, CallerMemory, build_memory, read_caller
from ._compose import compose_context
from ._index import HybridIndex
from ._lanes import LaneRunner
from ._org_knowledge import OrgKnowledge
from ._policy import Policies
from ._rank import INTENT_ALIASES, INTENTS, RankParams, intent_params
from ._recall import Query, caller_keyword_phase, doc_hit, search_caller_lane
from ._second import SECOND_WAIT_SHARE, SecondQuery
from ._time import parse_when
from ._traces import RecallTraceLog

__all__ = ["Recall", "RecallSettings"]

log = logging.getLogger("voxmem.engine")


@dataclasses.dataclass(frozen=True, slots=True)
class RecallSettings:
    """The settings recall reads."""

    timeout_ms: float
    top_k_working: int
    top_k_permanent: int
    top_k_org: int
    context_char_budget: int
    dimensions: int
    #: the second model's (``embedder="static+onnx"``), 0 without one
    second_dimensions: int = 0

    @classmethod
    def of(cls, s: Settings, dimensions: int, second_dimensions: int = 0) -> RecallSettings:
        """Recall's settings from the engine's."""
        return cls(timeout_ms=s.recall_timeout_ms, top_k_working=s.top_k_working,
                   top_k_permanent=s.top_k_permanent, top_k_org=s.top_k_org,
                   context_char_budget=s.context_char_budget, dimensions=dimensions,
                   second_dimensions=second_dimensions)


class Recall:
    """``search_memory``: profile, working, permanent and org lanes, then composition."""

    def __init__(self, callers: CallerCache, org: OrgKnowledge, store: Store,
                 has_pending_turns: Callable[[Scope], bool], policies: Policies,
                 lanes: LaneRunner, directory: CallerDirectory, traces: RecallTraceLog,
                 params: RankParams, settings: RecallSettings,
                 clock: Callable[[], float]) -> None:
        self._callers = callers
        self._org = org
        self._store = store
        self._has_pending_turns = has_pending_turns
        self._policies = policies
        self._lanes = lanes
        self._directory = directory
        self._traces = traces
        self.params = params
        self._settings = settings
        self._clock = clock

    async def search_memory(
        self, scope: Scope, query: str, *, lanes: Sequence[Lane] = ("profile", "working",
                                                                    "permanent", "org"),
        top_k: dict[str, int] | None = None, timeout_ms: float | None = None,
        mode: str = "fast", intent: str = "answer_current_user",
    ) -> SearchResult:
        """See :meth:`MemoryEngine.search_memory`."""
        started = time.perf_counter()
        intent = INTENT_ALIASES.get(intent, intent)
        if intent not in INTENTS:
            raise BadRequest(f"unknown intent {intent!r}; use one of: "
                             + ", ".join(sorted(INTENTS)), field="intent")
        # First, so an embedder that runs on a thread computes while the policy is read
        # and the lanes search the query's words. Only the caller lanes rank by the
        # second model (the org lane stays on the first); it is started before the
        # first, which may run inline, and scans a warm caller's second matrix next.
        second_task = (self._lanes.start_second(query, self._warm_index(scope))
                       if self._lanes.has_second and intent != "knowledge" and any(
                           lane in ("working", "permanent") for lane in lanes) else None)
        query_task = self._lanes.start_embedding(query)
        params = intent_params(self.params, intent)
        if intent == "knowledge":
            lanes = [lane for lane in lanes if lane == "org"]
        s = self._settings
        budget_s = (timeout_ms or s.timeout_ms) / 1000.0
        deadline = started + budget_s
        second = SecondQuery(second_task, started + budget_s * SECOND_WAIT_SHARE)
        k = {"working": s.top_k_working, "permanent": s.top_k_permanent,
             "org": s.top_k_org, **(top_k or {})}
        lane_ms: dict[str, float] = {}
        errors: dict[str, str] = {}
        cold: list[str] = []
        policy = await self._policies.policy(scope)
        if not policy.memory_enabled:
            lanes = [lane for lane in lanes if lane == "org"]
        min_created = policy.cutoff(self._clock())
        mem = self._callers.get(scope) if any(
            lane != "org" for lane in lanes) else None

        async def timed(lane: str, coro: Awaitable[Any]) -> Any:
            t = time.perf_counter()
            try:
                return await coro
            finally:
                lane_ms[lane] = round((time.perf_counter() - t) * 1000, 3)

        terms = analyze(query)
        tasks: dict[str, asyncio.Future[Any]] = {}
        results: dict[str, Any] = {}
        # A warm caller with the query's vector at hand (the cheap embedder) has nothing
        # to wait for: its lanes run right here, one after the other, rather than as a
        # task each (a task per lane and the loop turns between them were ~5-10 % of a
        # search, and the lanes never overlapped anyway: they hold the GIL).
        # The caller's vector scan and the org lane's graph search, started first on lane
        # threads (both release the GIL), run beside the loop's work below instead of
        # inside it. The scan first: the permanent lane needs it within a millisecond,
        # the org lane its walk only after the caller lanes.
        now = (self._now_query(mem, query, terms, query_task, min_created, lanes, second)
               if mem is not None and mem.ready.is_set() and query_task.done()
               and not second.pending() else None)
        now_q = now[0] if now is not None else None
        org_dense = (self._org.start_dense(scope, query_task, k["org"])
                     if "org" in lanes else None)
        org_words, org_words_ms = None, 0.0
        # The words worker, when it holds this index as it is, searches the org lane's
        # words meanwhile (``OrgWords``); else the loop does, here or in the lane.
        org_asked = (self._org.keyword_ask(scope, terms, k["org"])
                     if "org" in lanes else None)
        if org_dense is not None and now_q is not None and org_asked is None:
            # The org lane's keyword half, which the loop computes anyway, runs now,
            # while the threads work: the caller lanes below then find the scan done.
            t = time.perf_counter()
            try:
                org_words = self._org.keyword_now(scope, terms, k["org"])
            except Exception as err:  # the org lane's task searches again and reports it
                log.debug("org keyword phase failed inline: %s", err)
            org_words_ms = (time.perf_counter() - t) * 1000
        now_lanes = (self._now_lanes(mem, lanes, *now, k, params, results, errors, lane_ms,
                                     second)
                     if mem is not None and now is not None else ())
        if ("org" in lanes and org_dense is None and now_lanes and org_asked is None
                and self._org_now(scope, query, terms, query_task, k["org"], results,
                                  errors, lane_ms)):
            now_lanes = {*now_lanes, "org"}
        for lane in lanes:
            if lane in now_lanes:
                continue
            if lane == "profile":
                assert mem is not None
                tasks[lane] = asyncio.ensure_future(timed(lane, self._profile_lane(mem)))
            elif lane == "org":
                tasks[lane] = asyncio.ensure_future(timed(lane, self._org.lane(
                    scope, query, terms, query_task, k["org"], org_dense, org_words,
                    org_asked)))
            else:
                assert mem is not None
                tasks[lane] = asyncio.ensure_future(timed(lane, self._caller_lane(
                    mem, lane, query, terms, query_task, k[lane], cold, min_created, params,
                    second)))
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
        if now_q is not None and now_q.scan is not None:
            now_q.scan.cancel()  # not taken by a thread and not used: drop it
        if "org" in lane_ms and org_words is not None:
            lane_ms["org"] = round(lane_ms["org"] + org_words_ms, 3)
        if not query_task.done():
            query_task.cancel()
        elif not query_task.cancelled():
            # Marks a failure as seen: the lanes that needed the vector reported it, and
            # asyncio would otherwise log it again when the future is collected.
            query_task.exception()
        full_model = second.finish()
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
        context = compose_context(profile, hits, s.context_char_budget)
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
        if full_model is not None:
            # Which caller lanes ranked with the full model's list (embedder
            # "static+onnx"), and which ranked without it: "deadline" or "failed".
            trace["fullModel"] = full_model
        result = SearchResult(context_text=context, profile=profile, working=hits["working"],
                              permanent=hits["permanent"], org=hits["org"], sources=sources,
                              trace=trace)
        if scope.user_id:
            live = mem or self._callers.peek(scope)
            self._traces.record(scope, live.session_id if live else None, query, result)
        return result

    async def _accurate(self, mem: CallerMemory, query: str, hits: list[dict[str, Any]],
                        k: int, min_created: float | None,
                        ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The permanent lane expanded through the caller's entity graph (SPEC §7)."""
        started = time.perf_counter()
        view = await self._directory.graph_view(mem.scope)
        expansion = view.expand(query, self._clock())
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

    def _warm_index(self, scope: Scope) -> HybridIndex | None:
        """The caller's index if it is loaded (a second model's scan has rows to
        score); the lanes check the policy and whether the scan is still current."""
        mem = self._callers.peek(scope)
        return mem.index if mem is not None and mem.ready.is_set() else None

    def _now_query(self, mem: CallerMemory, text: str, terms: list[str],
                   query_task: asyncio.Future[Any], min_created: float | None,
                   lanes: Sequence[Lane], second: SecondQuery) -> tuple[Query, bool] | None:
        """The query a warm caller's lanes search inline and whether its caller lanes
        are cheap enough to (:meth:`LaneRunner.cheap`); None when the embedding failed
        (the lane tasks report it). A permanent lane that will search inline has its
        vector scan begun on a lane thread here (``LaneRunner.start_scan``)."""
        if query_task.cancelled() or query_task.exception() is not None:
            return None
        now = self._clock()
        q = Query(text=text, terms=terms, vector=query_task.result(), now=now,
                  min_created=min_created, when=parse_when(text, now),
                  second=second.now("caller"), second_scan=second.scan)
        # Both caller lanes search the same index for the same query: one cost check.
        cheap = self._lanes.cheap(mem.index, q)
        if cheap and "permanent" in lanes:
            scan = self._lanes.start_scan(mem.index, q)
            if scan is not None:
                q = dataclasses.replace(q, scan=scan)
        return q, cheap

    def _now_lanes(self, mem: CallerMemory, lanes: Sequence[Lane], q: Query, cheap: bool,
                   k: dict[str, int], params: RankParams, results: dict[str, Any],
                   errors: dict[str, str], lane_ms: dict[str, float],
                   second: SecondQuery) -> set[str]:
        """Run the caller lanes of a warm caller inline, when they are cheap; the names
        of those it ran (their hits in ``results``, or their failure in ``errors``)."""
        ran: set[str] = set()
        for lane in lanes:
            if lane == "org" or (lane != "profile" and not cheap):
                continue
            t = time.perf_counter()
            try:
                if mem.load_error is not None:
                    raise mem.load_error
                results[lane] = (self._profile(mem) if lane == "profile"
                                 else search_caller_lane(mem, lane, q, k[lane], params))
            except Exception as exc:  # as a lane task's failure is reported
                errors[lane] = str(exc)
                log.warning("recall lane %s failed: %s", lane, exc)
            lane_ms[lane] = round((time.perf_counter() - t) * 1000, 3)
            ran.add(lane)
        got = second.lanes.pop("caller", None)
        if got is not None:
            second.lanes.update(dict.fromkeys(ran - {"profile"}, got))
        return ran

    def _org_now(self, scope: Scope, text: str, terms: list[str],
                 query_task: asyncio.Future[Any], k: int, results: dict[str, Any],
                 errors: dict[str, str], lane_ms: dict[str, float]) -> bool:
        """Run the org lane inline when it has nothing to wait for; whether it ran.

        Called once the caller lanes ran inline (the query's vector is at hand). A
        loaded org index small enough to search inline then answers right here, rather
        than from a task the loop schedules under a deadline timer (~5 % of a small
        caller's search, where the project has little or no org knowledge).
        """
        t = time.perf_counter()
        try:
            hits = self._org.lane_now(scope, text, terms, query_task.result(), k)
            if hits is None:
                return False
            results["org"] = hits
        except Exception as err:  # as a lane task's failure is reported
            errors["org"] = str(err)
            log.warning("recall lane org failed: %s", err)
        lane_ms["org"] = round((time.perf_counter() - t) * 1000, 3)
        return True

    @staticmethod
    def _profile(mem: CallerMemory) -> dict[str, Any] | None:
        profile = {"name": mem.name} if mem.name else {}
        profile.update(mem.profile)
        return profile or None

    async def _profile_lane(self, mem: CallerMemory) -> dict[str, Any] | None:
        await mem.ready.wait()
        if mem.load_error is not None:
            raise mem.load_error
        return self._profile(mem)

    async def _caller_lane(self, mem: CallerMemory, lane: str, text: str, terms: list[str],
                           query_task: asyncio.Future[Any], k: int, cold: list[str],
                           min_created: float | None, params: RankParams,
                           second: SecondQuery) -> list[dict[str, Any]]:
        if not mem.ready.is_set() and lane == "permanent":
            # Cold caller: answer from the store's rows while the warm index loads,
            # rather than spend the turn's budget waiting for the sliced load.
            done, _ = await asyncio.wait([asyncio.ensure_future(mem.ready.wait())],
                                         timeout=0.005)
            # Turns still on their way from the journal are not in the store yet: only
            # a caller with none pending can be answered from it.
            if not done and not self._has_pending_turns(mem.scope):
                cold.append(lane)
                return await self.cold_permanent(mem, text, terms, query_task, k,
                                                 min_created, params, second)
        await mem.ready.wait()
        if mem.load_error is not None:
            raise mem.load_error
        now = self._clock()
        q = Query(text=text, terms=terms, vector=None, now=now,
                  min_created=min_created, when=parse_when(text, now))
        words = None
        if not query_task.done() or second.pending():
            # An embedding is still running on its thread: search the words meanwhile,
            # and the first model's vector too when it is at hand (the second model's
            # is the one computing).
            first = (query_task.result() if query_task.done() and not query_task.cancelled()
                     and query_task.exception() is None else None)
            early = dataclasses.replace(q, vector=first)
            words = await self._lanes.run(mem.index, early, caller_keyword_phase, mem, lane,
                                          early, k, params)
        q = dataclasses.replace(q, vector=await query_task, second=await second.vector(lane),
                                second_scan=second.scan)
        return await self._lanes.run(mem.index, q, search_caller_lane, mem, lane, q, k,
                                     params, words)

    async def cold_permanent(self, mem: CallerMemory, text: str, terms: list[str],
                             query_task: asyncio.Future[Any], k: int,
                             min_created: float | None,
                             params: RankParams | None = None,
                             second: SecondQuery | None = None) -> list[dict[str, Any]]:
        """Permanent lane from the store while the warm index loads.

        The caller's rows are read and ranked by the very code the warm index uses
        (built in one go on a lane thread instead of in slices), so the first search
        after a restart answers exactly what the same search answers a moment later.
        """
        now = self._clock()
        _caller, items, facts = await read_caller(self._store, mem.scope, now)
        vector = await query_task
        q = Query(text=text, terms=terms, vector=vector, now=now, min_created=min_created,
                  when=parse_when(text, now),
                  second=None if second is None else await second.vector("permanent"))
        rank = params or self.params

        def run() -> list[dict[str, Any]]:
            cold = build_memory(mem.scope, self._settings.dimensions, mem.session_id,
                                items, facts, self._settings.second_dimensions)
            return search_caller_lane(cold, "permanent", q, k, rank)

        return await self._lanes.on_thread(run)
