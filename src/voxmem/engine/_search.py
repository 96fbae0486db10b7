"""Recall for one turn: the lanes run under the deadline (a warm caller's inline, the
rest as tasks), then compose.

:class:`Recall` is given the caller cache, the org knowledge, the store (the cold path
reads a caller's rows while the warm index loads), the write path's view of turns not
stored yet, the policies, the lane runner, the caller directory's entity graph (for
``mode="accurate"``), the trace log and the recall settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from .._config import Settings
from .._exceptions import BadRequest
from ..entities._directory import CallerDirectory
from ..models import Lane, Scope, SearchResult
from ..store import Store
from ._accurate import accurate
from ._analysis import analyze
from ._caller_memory import CallerCache, CallerMemory, build_memory, read_caller
from ._compose import compose_context
from ._index import HybridIndex
from ._lanes import LaneRunner
from ._org_knowledge import OrgKnowledge
from ._policy import Policies, Policy
from ._rank import INTENT_ALIASES, INTENTS, RankParams, intent_params
from ._recall import Query, caller_keyword_phase, search_caller_lane
from ._second import SECOND_WAIT_SHARE, SecondQuery
from ._time import parse_when
from ._traces import RecallTraceLog

__all__ = ["Recall", "RecallSettings"]

log = logging.getLogger("voxmem.engine")

T = TypeVar("T")


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
        #: policy reads a search left to finish after its deadline
        self._reads: set[asyncio.Future[Policy]] = set()
        #: the org graph library's import, started by the engine's start (None: none)
        self.org_ready: asyncio.Future[Any] | None = None

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
        #: what each lane is waiting for now (the trace names it for a lane left late)
        waits: dict[str, str] = {}
        policy = await self._policy(scope, deadline)
        if policy is None:
            # The store has not answered the policy's first read by the deadline (a
            # restart, a slow connection): nothing may be searched before it is known.
            # The read goes on, so the next search has it.
            errors.update(dict.fromkeys(lanes, "deadline"))
            waits.update(dict.fromkeys(lanes, "policy"))
            lanes = []
        elif not policy.memory_enabled:
            lanes = [lane for lane in lanes if lane == "org"]
        min_created = policy.cutoff(self._clock()) if policy is not None else None
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
               if mem is not None and mem.primed.is_set() and not mem.threads_busy
               and query_task.done() and not second.pending() else None)
        now_q = now[0] if now is not None else None
        # The org graph's library is imported on a thread at the engine's start; a
        # search before that is done must not import it on the loop (0.3-1 s).
        org_ready = self.org_ready is None or self.org_ready.done()
        org_dense = (self._org.start_dense(scope, query_task, k["org"])
                     if "org" in lanes and org_ready else None)
        org_words, org_words_ms = None, 0.0
        # The words worker, when it holds this index as it is, searches the org lane's
        # words meanwhile (``OrgWords``); else the loop does, here or in the lane.
        org_asked = (self._org.keyword_ask(scope, terms, k["org"])
                     if "org" in lanes and org_ready else None)
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
        if ("org" in lanes and org_ready and org_dense is None and now_lanes
                and org_asked is None
                and self._org_now(scope, query, terms, query_task, k["org"], results,
                                  errors, lane_ms)):
            now_lanes = {*now_lanes, "org"}
        for lane in lanes:
            if lane in now_lanes:
                continue
            if lane == "profile":
                assert mem is not None
                tasks[lane] = asyncio.ensure_future(timed(lane, self._profile_lane(mem,
                                                                                   waits)))
            elif lane == "org":
                tasks[lane] = asyncio.ensure_future(timed(lane, self._org.lane(
                    scope, query, terms, query_task, k["org"], org_dense, org_words,
                    org_asked) if org_ready else self._org_later(
                        scope, query, terms, query_task, k["org"], waits)))
            else:
                assert mem is not None
                tasks[lane] = asyncio.ensure_future(timed(lane, self._caller_lane(
                    mem, lane, query, terms, query_task, k[lane], cold, min_created, params,
                    second, waits)))
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
                    if name == "org" and name not in waits:
                        org = self._org.loaded(scope.tenant_id, scope.project_id)
                        waits[name] = ("search" if org is not None and org.ready.is_set()
                                       else "org index load")
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
                    accurate(self._directory, mem, query, results["permanent"],
                             k["permanent"], min_created, self._clock()),
                    max(0.0, deadline - time.perf_counter()))
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
        late = {lane: waits.get(lane, "search") for lane, why in errors.items()
                if why == "deadline" and lane != "graph"}
        if late:
            # What each lane left out was still waiting for at the deadline: "policy",
            # "caller load", "store read", "embedding", "second model", "lane thread",
            # "cold build", "org index load" or "search".
            trace["waited"] = late
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

    async def _org_later(self, scope: Scope, text: str, terms: list[str],
                         query_task: asyncio.Future[Any], k: int,
                         waits: dict[str, str]) -> list[dict[str, Any]]:
        """The org lane once the graph library is imported (see ``org_ready``)."""
        assert self.org_ready is not None
        waits["org"] = "org index load"
        await asyncio.shield(self.org_ready)  # a search's deadline leaves the import be
        del waits["org"]
        return await self._org.lane(scope, text, terms, query_task, k)

    async def _policy(self, scope: Scope, deadline: float) -> Policy | None:
        """The policy in force, or None when its first read from the store has not
        answered by ``deadline`` (the read goes on and is kept for the next search)."""
        if self._policies.known(scope):
            return await self._policies.policy(scope)  # cached: no store wait
        read = asyncio.ensure_future(self._policies.policy(scope))
        await asyncio.wait([read], timeout=max(0.0, deadline - time.perf_counter()))
        if read.done():
            return read.result()
        self._reads.add(read)
        read.add_done_callback(self._reads.discard)
        return None

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

    async def _profile_lane(self, mem: CallerMemory,
                            waits: dict[str, str]) -> dict[str, Any] | None:
        waits["profile"] = "caller load"
        await mem.ready.wait()
        if mem.load_error is not None:
            raise mem.load_error
        return self._profile(mem)

    async def _caller_lane(self, mem: CallerMemory, lane: str, text: str, terms: list[str],
                           query_task: asyncio.Future[Any], k: int, cold: list[str],
                           min_created: float | None, params: RankParams,
                           second: SecondQuery, waits: dict[str, str],
                           ) -> list[dict[str, Any]]:
        waits[lane] = "caller load"
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
                                                 min_created, params, second, waits)
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
            words = await self._run(mem, early, waits, lane, caller_keyword_phase, mem, lane,
                                    early, k, params)
        waits[lane] = "embedding"
        vector = await query_task
        waits[lane] = "second model"
        q = dataclasses.replace(q, vector=vector, second=await second.vector(lane),
                                second_scan=second.scan)
        return await self._run(mem, q, waits, lane, search_caller_lane, mem, lane, q, k,
                               params, words)

    async def _run(self, mem: CallerMemory, q: Query, waits: dict[str, str], lane: str,
                   fn: Callable[..., T], *args: Any) -> T:
        """Run a caller lane's search inline when it is cheap (``LaneRunner.run``), on a
        lane thread when the caller is not primed yet.

        An unprimed caller's first searches read the ranking features of their candidates
        themselves, beside the priming thread (and its lock): measured 50 ms of the
        loop's CPU and 220 ms of its wall at 2,000 turns after a restart, all of it on
        the event loop, where no deadline can cut it short. On a thread the deadline
        answers without it.
        """
        if mem.primed.is_set() and not mem.threads_busy:
            waits[lane] = "search"
            return await self._lanes.run(mem.index, q, fn, *args)
        # Likewise while an earlier search's lane job still runs (its deadline left it
        # running): inline, this one would wait on the loop for the locks it holds.
        waits[lane] = "lane thread"
        loop = asyncio.get_running_loop()
        mem.threads_busy += 1

        def finished(_job: Any) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: no search is left
                loop.call_soon_threadsafe(_one_less, mem)

        job = self._lanes.submit(fn, *args)
        job.add_done_callback(finished)
        return await asyncio.wrap_future(job)

    async def cold_permanent(self, mem: CallerMemory, text: str, terms: list[str],
                             query_task: asyncio.Future[Any], k: int,
                             min_created: float | None,
                             params: RankParams | None = None,
                             second: SecondQuery | None = None,
                             waits: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Permanent lane from the store while the warm index loads.

        The caller's rows are read and ranked by the very code the warm index uses
        (built in one go on a lane thread instead of in slices), so the first search
        after a restart answers exactly what the same search answers a moment later.
        """
        waits = {} if waits is None else waits
        now = self._clock()
        waits["permanent"] = "store read"
        _caller, items, facts = await read_caller(self._store, mem.scope, now)
        waits["permanent"] = "embedding"
        vector = await query_task
        waits["permanent"] = "second model"
        q = Query(text=text, terms=terms, vector=vector, now=now, min_created=min_created,
                  when=parse_when(text, now),
                  second=None if second is None else await second.vector("permanent"))
        rank = params or self.params

        def run() -> list[dict[str, Any]]:
            cold = build_memory(mem.scope, self._settings.dimensions, mem.session_id,
                                items, facts, self._settings.second_dimensions)
            return search_caller_lane(cold, "permanent", q, k, rank)

        waits["permanent"] = "cold build"
        return await self._lanes.on_thread(run)


def _one_less(mem: CallerMemory) -> None:
    mem.threads_busy -= 1
