"""The caller directory: identifiers → one canonical caller, merges and their undo, the
entity graph learned at call end, and the graph walk of ``mode="accurate"``.

One per engine. The pipeline is written out here: normalise → look up owners →
decide (``_resolve``) → record (store) → redirect (merges in force send a merged-away
caller id to the caller it was merged into, from the next request on).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .._exceptions import BadRequest, NotFound, VoxmemError
from .._log_ids import caller_ref
from ..engine._caller_memory import CallerCache
from ..engine._ids import new_id
from ..engine._workers import BackgroundWorkers
from ..models import Scope, Turn
from ..store import Store
from ..store import _entities as ops
from ..store._entities import Graph, IdentifierRow, MergeRow
from ._expand import GraphView
from ._graph import extract_graph
from ._identifiers import (
    FIND_KINDS,
    METADATA_KINDS,
    STRENGTH_SCORE,
    SpokenClaims,
    checked_identifier,
    normalize_identifier,
    strength_of,
)
from ._in_call import UNVERIFIED_SOURCES, InCallLinking
from ._resolve import Candidate, decide_start, merge_target

__all__ = ["LINK_MODES", "CallerDirectory"]

log = logging.getLogger("voxmem.entities")

#: What an in-call identifier of another caller does: attach the call, propose, nothing.
LINK_MODES = ("attach", "propose", "off")
GRAPHS_KEPT = 2_000
#: How often a runtime sharing its store with others reloads the merges in force.
ALIAS_REFRESH_S = 5.0
#: Longest chain of merges followed (A merged into B merged into C).
MAX_ALIAS_HOPS = 8


class CallerDirectory:
    """Caller resolution, merges and the entity graph for one engine."""

    def __init__(self, store: Store, callers: CallerCache,
                 wait_applied: Callable[[float | None], Awaitable[bool]],
                 claim_session: Callable[[Scope, str, Scope], None], workers: BackgroundWorkers,
                 *, region: str | None, link_mode: str, clock: Callable[[], float]) -> None:
        """Given the store, the caller cache, the write path's hooks, workers, settings."""
        self._store = store
        #: The store (read by the in-call linking too).
        self.store = store
        self._callers = callers
        self._wait_applied = wait_applied
        self._claim_session = claim_session
        #: The default region of phone numbers without a country code.
        self.region = region or None
        self.link_mode = link_mode
        self._clock = clock
        #: Where the CPU-bound graph extraction runs: the engine's worker processes.
        self.workers = workers
        #: (tenant, project, space, from_user) -> to_user, for merges in force
        self._aliases: dict[tuple[str, str, str, str], str] = {}
        #: bumped whenever this runtime changes a redirect (see :meth:`load`)
        self._alias_changes = 0
        self._graphs: collections.OrderedDict[tuple[str, str, str, str], GraphView] = \
            collections.OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._in_call = InCallLinking(self, clock)
        self._merge_lock = asyncio.Lock()

    # -- merges in force ------------------------------------------------------------------
    async def load(self) -> None:
        """Load the merges in force (at engine start, and to catch up with other runtimes)."""
        changes, busy = self._alias_changes, self._merge_lock.locked()
        aliases: dict[tuple[str, str, str, str], str] = {}
        for tenant in await self._store.entity_tenants():
            for project, space, src, dst in await self._store.run_entities(
                    tenant, ops.active_merges(tenant), write=False):
                aliases[(tenant, project, space, src)] = dst
        if busy or self._merge_lock.locked() or self._alias_changes != changes:
            # A merge, unmerge or erasure here changed the redirects while the store was
            # read (a merge redirects before it commits): this snapshot may predate it,
            # and would undo it until the next reload, serving a merged-away caller as
            # itself. The next reload catches up with the other runtimes instead.
            return
        self._aliases = aliases

    async def run(self, stop: asyncio.Event) -> None:
        """Reload merges in force now and then when other runtimes share the store."""
        if not self._store.shared:
            return
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=ALIAS_REFRESH_S)
            if stop.is_set():
                return
            try:
                await self.load()
            except VoxmemError as exc:
                log.warning("reloading caller merges failed: %s", exc)

    async def reload(self, scope: Scope) -> None:
        """Catch up with merges and a graph written around the directory (an import)."""
        self._graphs.pop(scope.caller_key, None)
        await self.load()

    def canonical(self, tenant_id: str, project_id: str, space: str, user_id: str) -> str:
        """The caller id ``user_id`` now stands for (itself unless merged away)."""
        seen = 0
        while seen < MAX_ALIAS_HOPS:
            nxt = self._aliases.get((tenant_id, project_id, space, user_id))
            if nxt is None:
                return user_id
            user_id, seen = nxt, seen + 1
        return user_id

    def merged_away(self, tenant_id: str, project_id: str, user_id: str) -> dict[str, str]:
        """Space -> canonical caller, for each space where ``user_id`` was merged away."""
        return {space: self.canonical(tenant_id, project_id, space, user_id)
                for (t, p, space, src) in list(self._aliases)
                if t == tenant_id and p == project_id and src == user_id}

    # -- identifiers ------------------------------------------------------------------------
    def _normalise(self, kind: str, raw: str) -> str:
        return checked_identifier(kind, raw, self.region)

    async def owners(self, scope: Scope, kind: str, value: str, *,
                     verified: bool = False) -> frozenset[str]:
        """Callers linked to the identifier; ``verified``: only by a system's link.

        A link made only from words said in a call (an unverified strength, below
        ``strong``'s) proves nothing about who a starting call is: anyone can read out
        a number or an address before its owner ever calls, and would then be the
        caller the owner's calls resolve to."""
        rows = await self._store.run_entities(
            scope.tenant_id, ops.find_identifier(scope, kind, value), write=False)
        return frozenset(r.user_id for r in rows if not verified or not (
            r.source.startswith(UNVERIFIED_SOURCES) and r.strength < STRENGTH_SCORE["strong"]))

    async def names_of(self, scope: Scope, user_id: str) -> list[str]:
        other = _with_user(scope, user_id)
        names = [r.value for r in await self._store.run_entities(
            scope.tenant_id, ops.caller_identifiers(other), write=False) if r.kind == "name"]
        stored = await self._store.get_caller(other)
        if stored and stored.name:
            names.append(stored.name)
        mem = self._callers.peek(other)
        if mem is not None and mem.name:
            names.append(mem.name)
        return names

    async def link(self, scope: Scope, kind: str, raw: str, *, source: str = "api",
                   session_id: str | None = None, turn_id: str | None = None) -> dict[str, Any]:
        """Link one identifier to the caller of ``scope`` (no merge is implied)."""
        value = self._normalise(kind, raw)
        row = IdentifierRow(kind=kind, value=value, user_id=scope.user_id, raw=raw,
                            source=source, session_id=session_id, turn_id=turn_id,
                            strength=STRENGTH_SCORE[strength_of(kind)], created_at=self._clock())
        await self._store.run_entities(scope.tenant_id, ops.add_identifiers(scope, [row]))
        owners = await self.owners(scope, kind, value)
        return {**row.to_dict(), "ambiguous": len(owners) > 1}

    async def resolve(self, scope: Scope, identifiers: Sequence[tuple[str, str, str]], *,
                      user_id: str | None = None, name: str | None = None,
                      default_user_id: str | None = None,
                      session_id: str | None = None) -> dict[str, Any]:
        """The canonical caller of a starting call from everything known about it.

        ``identifiers`` are (kind, raw value, source). ``user_id`` is the app's own id
        for the caller when it has one: it is then the answer, and the identifiers are
        linked to it. Otherwise the identifiers decide (see ``_resolve``); with no link,
        ``default_user_id`` (or a new id) is a new caller. The identifiers are then
        linked to the answer, so the next call from any of them finds it.
        """
        candidates: list[Candidate] = []
        rows: list[IdentifierRow] = []
        now = self._clock()
        for kind, raw, source in identifiers:
            value = self._normalise(kind, raw)
            owners = frozenset(self.canonical(scope.tenant_id, scope.project_id, scope.space,
                                              o) for o in await self.owners(
                                                  scope, kind, value, verified=True))
            candidates.append(Candidate(kind, value, owners, source))
            rows.append(IdentifierRow(kind=kind, value=value, user_id="", raw=raw,
                                      source=source, session_id=session_id, turn_id=None,
                                      strength=STRENGTH_SCORE[strength_of(kind)],
                                      created_at=now))
        claimed = [name] if name else []
        owner_names = {o: await self.names_of(scope, o)
                       for c in candidates for o in c.owners}
        decision = decide_start(candidates, claimed, owner_names)
        if user_id is not None:
            answer, created = self.canonical(scope.tenant_id, scope.project_id, scope.space,
                                             user_id), False
            reason = "the app's own caller id"
        elif decision.user_id is not None:
            answer, created, reason = decision.user_id, False, decision.reason
        else:
            answer = default_user_id or new_id("caller")
            answer = self.canonical(scope.tenant_id, scope.project_id, scope.space, answer)
            created, reason = True, decision.reason
        target = _with_user(scope, answer)
        if name:
            rows.append(IdentifierRow(kind="name", value=self._normalise("name", name),
                                      user_id="", raw=name, source="metadata",
                                      session_id=session_id, turn_id=None,
                                      strength=STRENGTH_SCORE["weak"], created_at=now))
        await self._store.run_entities(scope.tenant_id, ops.add_identifiers(target, rows))
        log.info("caller resolved to %s (%s)", caller_ref(answer), reason)
        return {"userId": answer, "linked": decision.linked and user_id is None,
                "created": created, "reason": reason, "evidence": list(decision.evidence),
                "ambiguous": list(decision.ambiguous)}

    async def find(self, scope: Scope, text: str) -> list[dict[str, Any]]:
        """Callers linked to ``text`` read as any identifier kind (phone, e-mail, ...)."""
        found: dict[tuple[str, str, str], IdentifierRow] = {}
        region = self.region
        for kind in FIND_KINDS:
            value = normalize_identifier(kind, text, region)
            if value is None:
                continue
            for row in await self._store.run_entities(
                    scope.tenant_id, ops.find_identifier(scope, kind, value), write=False):
                found.setdefault((row.user_id, row.kind, row.value), row)
        return [{"userId": r.user_id, "kind": r.kind, "value": r.value, "source": r.source,
                 "strength": r.strength} for r in found.values()]

    async def show(self, scope: Scope) -> dict[str, Any]:
        """One caller: profile, identifiers, merges and entity graph."""
        await self._wait_applied(30)
        caller = await self._store.get_caller(scope)
        idents = await self._store.run_entities(scope.tenant_id,
                                                ops.caller_identifiers(scope), write=False)
        merges = await self._store.run_entities(
            scope.tenant_id, ops.list_merges(scope, scope.user_id), write=False)
        graph = await self._store.run_entities(scope.tenant_id, ops.load_graph(scope),
                                               write=False)
        return {"userId": scope.user_id, "name": caller.name if caller else None,
                "profile": caller.profile if caller else {},
                "identifiers": [r.to_dict() for r in idents],
                "merges": [m.to_dict() for m in merges], "graph": graph.to_dict()}

    async def merges(self, scope: Scope, user_id: str | None) -> list[dict[str, Any]]:
        rows = await self._store.run_entities(scope.tenant_id, ops.list_merges(scope, user_id),
                                              write=False)
        return [m.to_dict() for m in rows]

    # -- merges -------------------------------------------------------------------------------
    async def merge(self, source: Scope, target: Scope, *, evidence: dict[str, Any],
                    status: str = "merged") -> MergeRow:
        """Merge ``source`` into ``target`` (or only record a proposal), undoably."""
        if source.caller_key == target.caller_key:
            raise BadRequest("from_id and to_id are the same caller", field="to_id")
        merging = status == "merged"
        async with self._merge_lock:
            if merging:  # ids resolved before the lock: another merge may have moved them
                target = merge_target(lambda c: self.canonical(*c.caller_key), source, target)
            call: tuple[str, float | None] | None = None
            if merging:
                # Refused before the redirect below, never after it: a save redirected
                # meanwhile would have filed the source's words under the target of a
                # merge that did not happen.
                if self._open_call(source) is None and not await self._has_anything(source):
                    raise NotFound(f"caller {source.user_id!r} has no memories, calls or "
                                   "identifiers to merge (is the id right?)",
                                   details={"fromId": source.user_id})
                # Redirect first: a turn saved while the rows move is filed under the
                # target (in the call in progress), not under the id being merged away.
                self._aliases[source.caller_key] = target.user_id
                self._alias_changes += 1
                call = self._open_call(source)
                if call is not None:
                    self._continue_call(source, target, call, drop=False)
            try:
                await self._wait_applied(60)
                row: MergeRow = await self._store.run_entities(
                    source.tenant_id, ops.merge(source, target, self._clock(), new_id("mrg"),
                                                status, evidence))
            except BaseException:
                if merging:
                    self._aliases.pop(source.caller_key, None)
                    self._alias_changes += 1
                raise
            if merging:
                # Both callers' warm state is stale now: reload the target with what moved.
                self._callers.drop(source)
                for sid in row.sessions:  # every call moved, the one in progress or not
                    self._claim_session(target, sid, source)
                self._continue_call(source, target, call, drop=True)
                self._graphs.pop(source.caller_key, None)
                self._graphs.pop(target.caller_key, None)
        # The merge id, not the caller ids (phone numbers): the merge row names them.
        log.info("callers %s: merge %s (%s)", status, row.id, evidence.get("reason", ""))
        return row

    async def _has_anything(self, source: Scope) -> bool:
        """Whether a merge of ``source`` (no call open here) would move anything: asked
        of the store as it is, and once more after the writes in flight landed before
        it says no. (A call open here is something: its start is journaled, and the
        merge waits for it before it moves the rows, so the redirect comes at once.)"""
        for settle in (False, True):
            if settle:
                await self._wait_applied(60)
            if await self._store.run_entities(source.tenant_id, ops.has_anything(source),
                                              write=False):
                return True
        return False

    def _open_call(self, scope: Scope) -> tuple[str, float | None] | None:
        mem = self._callers.peek(scope)
        if mem is None or mem.session_id is None:
            return None
        return mem.session_id, mem.session_started_at

    def _continue_call(self, source: Scope, target: Scope,
                       call: tuple[str, float | None] | None, *, drop: bool) -> None:
        """The call in progress (if any) continues as ``target``'s call, from the
        redirect on: a retried turn id meanwhile is looked up in that call."""
        callers = self._callers
        if drop:
            callers.drop(target)
        if call is None:
            return
        mem = callers.get(target)
        mem.session_id, mem.session_started_at = call
        self._claim_session(target, call[0], source)

    async def unmerge(self, scope: Scope, merge_id: str) -> dict[str, Any]:
        """Undo merge ``merge_id``: both callers get back exactly what they had."""
        async with self._merge_lock:
            found = await self._store.run_entities(scope.tenant_id,
                                                   ops.get_merge(scope.tenant_id, merge_id),
                                                   write=False)
            if found is None:
                raise NotFound(f"merge {merge_id!r} does not exist", details={"mergeId": merge_id})
            row, project, space = found
            if project != scope.project_id:
                raise NotFound(f"merge {merge_id!r} does not exist", details={"mergeId": merge_id})
            if row.status != "merged":
                raise BadRequest(f"merge {merge_id!r} is {row.status}, not in force",
                                 field="merge_id")
            source = Scope(scope.tenant_id, project, scope.agent_id, row.from_user, space)
            target = Scope(scope.tenant_id, project, scope.agent_id, row.to_user, space)
            # The inner merge of a chain: a merge of the target since moved what this
            # one brought on, where this one's undo would not find it.
            outer = [m for m in await self._store.run_entities(
                scope.tenant_id, ops.list_merges(target, row.to_user), write=False)
                if m.status == "merged" and m.from_user == row.to_user]
            if outer:
                raise BadRequest(
                    f"merge {merge_id!r} brought {row.from_user!r} into {row.to_user!r}, "
                    f"since merged into {outer[0].to_user!r} by merge {outer[0].id!r}: "
                    f"undo {outer[0].id!r} first", field="merge_id",
                    details={"mergeId": merge_id, "undoFirst": outer[0].id})
            await self._wait_applied(60)
            out, back = await self._store.run_entities(
                scope.tenant_id, ops.unmerge(source, target, merge_id, self._clock()))
            self._aliases.pop(source.caller_key, None)
            self._alias_changes += 1
            moved = self._callers.peek(target)
            sid = moved.session_id if moved is not None else None
            self._callers.drop(source)
            self._callers.drop(target)
            # Every call given back is the source's again, also one no longer open here:
            # an owner left behind would refuse the source's own call (an import of it).
            for given in back:
                self._claim_session(source, given, target)
            if sid is not None and sid in back:
                self._callers.get(source).session_id = sid
            elif sid is not None:
                self._callers.get(target).session_id = sid
            self._graphs.pop(source.caller_key, None)
            self._graphs.pop(target.caller_key, None)
        return {"mergeId": merge_id, "fromUserId": row.from_user, "toUserId": row.to_user,
                **out}

    def note_caller(self, scope: Scope, name: str | None, metadata: dict[str, Any],
                    session_id: str) -> None:
        """Link the identifiers in a new call's caller metadata to the caller, in the background."""
        found: list[tuple[str, str]] = []
        for key, raw in metadata.items():
            kind = METADATA_KINDS.get(str(key).lower())
            if kind is not None and isinstance(raw, str | int) and not isinstance(raw, bool):
                found.append((kind, str(raw)))
        if name:
            found.append(("name", name))
        if not found:
            return
        task = asyncio.ensure_future(self._note(scope, found, session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _note(self, scope: Scope, found: list[tuple[str, str]], session_id: str) -> None:
        now = self._clock()
        rows = []
        for kind, raw in found:
            value = normalize_identifier(kind, raw, self.region)
            if value is not None:
                rows.append(IdentifierRow(kind=kind, value=value, user_id=scope.user_id,
                                          raw=raw, source="metadata", session_id=session_id,
                                          turn_id=None,
                                          strength=STRENGTH_SCORE[strength_of(kind)],
                                          created_at=now))
        try:
            await self._store.run_entities(scope.tenant_id, ops.add_identifiers(scope, rows))
        except Exception as exc:  # a background step: never lost silently, never raised
            log.warning("identifiers of call %s not linked: %s", session_id, exc)

    # -- in call ------------------------------------------------------------------------------
    def observe_turn(self, scope: Scope, turn: Turn, claims: SpokenClaims | None = None) -> None:
        """Act on identifiers the caller said (``claims``: its scan, if made), in the
        background (see ``_in_call``)."""
        self._in_call.observe_turn(scope, turn, claims, self.link_mode)

    async def idle(self) -> None:
        """Wait until every identifier seen so far (call metadata, said in a call) has
        been acted on."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._in_call.idle()

    # -- entity graph ---------------------------------------------------------------------------
    async def learn_graph(self, scope: Scope, session_id: str) -> int:
        """Extract the entity graph of one ended call and add it to the caller's."""
        erasures, seen = self._callers.erasures, self._callers.erasures.count(scope)
        await self._wait_applied(60)
        turns = await self._store.session_turns(scope, session_id)
        # Pure-Python regex work in a worker process: off the event loop's GIL.
        graph = await self.workers.run(extract_graph, turns) if turns else Graph()
        async with erasures.lock(scope):  # none for a caller erased meanwhile
            if graph.entities and erasures.unchanged(scope, seen):
                # Filed under whom the caller is now: a merge moves only what came before.
                scope = _with_user(scope, self.canonical(*scope.caller_key))
                await self._store.run_entities(scope.tenant_id, ops.write_graph(scope, graph))
        if self._graphs.pop(scope.caller_key, None) is not None or graph.entities:
            await self.graph_view(scope)  # loaded again off the turn path: warm for recall
        return len(graph.entities)

    async def learn_graph_later(self, scope: Scope, session_id: str) -> None:
        """:meth:`learn_graph` as a background step of call end: failures are logged."""
        try:
            await self.learn_graph(scope, session_id)
        except Exception as exc:
            log.warning("entity graph of call %s not learned: %s", session_id, exc)

    async def graph_view(self, scope: Scope) -> GraphView:
        """The caller's graph, cached until the next write to it."""
        view = self._graphs.get(scope.caller_key)
        if view is None:
            graph: Graph = await self._store.run_entities(scope.tenant_id,
                                                          ops.load_graph(scope), write=False)
            view = GraphView(graph)
            self._graphs[scope.caller_key] = view
            while len(self._graphs) > GRAPHS_KEPT:
                self._graphs.popitem(last=False)
        else:
            self._graphs.move_to_end(scope.caller_key)
        return view

    async def warm(self, scope: Scope) -> None:
        """Load the caller's graph ahead of the first accurate recall (at call start)."""
        try:
            await self.graph_view(scope)
        except VoxmemError as exc:
            log.warning("entity graph not loaded (%s); accurate recall will load it", exc)

    def forget(self, scope: Scope, *, redirects: bool = True) -> None:
        """Drop what is cached about an erased caller; ``redirects``: the merges into and
        out of them too (not for an erasure seen late: merges since may be in force)."""
        self._graphs.pop(scope.caller_key, None)
        self._in_call.forget(scope)
        if not redirects:
            return
        for key in [k for k, v in self._aliases.items()
                    if scope.caller_key in (k, (*k[:3], v))]:
            self._aliases.pop(key, None)
            self._alias_changes += 1


def _with_user(scope: Scope, user_id: str) -> Scope:
    return Scope(tenant_id=scope.tenant_id, project_id=scope.project_id,
                 agent_id=scope.agent_id, user_id=user_id, space=scope.space)
