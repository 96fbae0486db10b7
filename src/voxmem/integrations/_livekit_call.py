"""One call's memory, bound to a LiveKit ``AgentSession``.

A :class:`CallMemory` belongs to the session, not to an agent: a handoff between agents
keeps the same caller, the same voxmem session and the same save queue, and the call's
memory is closed when the *session* closes (``on_exit`` also fires on handoffs).

What it does, and why each part is shaped the way it is:

- **open** — ``start_session`` then ``preload``, sequential on purpose (preload's "last
  call" must not be the call being opened). The first reply waits for them up to the
  preload deadline, and not at all once the client finds the host's runtime is still
  starting (seconds on a cold host: an audible pause). Past that the open goes on: the
  preload reaches the agent when it arrives, for its next reply, and the turns said
  meanwhile wait for it in the save queue, in order, rather than being lost.
- **recall** — ``search_memory`` under the turn deadline plus a little slack of our own,
  because a hung runtime must not hold a turn even if the client's deadline fails. The
  result is cached per user message (and briefly per text) so the speech hook, a
  preemptive generation and every tool step of one turn share one search.
- **saves** — from ``conversation_item_added``: user messages wait until the assistant
  answers, then go out as one turn (several user turns before one reply are kept
  together); a barge-in reply is saved with ``interrupted=True``. One worker drains the
  queue so turns are written in order and never on the audio path (``_livekit_saves``).
- **close** — on the session's ``close`` event: drain the queue, save what the caller said
  that was never answered, ``end_session`` (with LiveKit's session report when running in
  a job and the client takes one; ``_livekit_report``).

Every failure is logged on ``voxmem.livekit`` and swallowed: memory is an aid to the call,
never a reason to drop it.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from livekit.agents import AgentSession, CloseEvent, get_job_context

from .._exceptions import BadRequest
from .._log_ids import caller_ref
from ..client import VoiceClient
from ..models import Preload
from ._call_defaults import (
    DEFAULT_CLOSE_TIMEOUT_S,
    DEFAULT_PRELOAD_TIMEOUT_MS,
    DEFAULT_SEARCH_TIMEOUT_MS,
    DEFAULT_TURN_LANES,
    END_SESSION_TIMEOUT_S,
    RECALL_CACHE_SIZE,
    RECALL_TIMINGS_KEPT,
    SAVE_TIMEOUT_S,
    check_call_options,
    failure,
    settle_opening,
    wait_deadline_or_start,
)
from ._livekit_context import DEFAULT_RECALL_ROLE, CompactionOptions, RecallRole
from ._livekit_identity import CallerIdentity
from ._livekit_report import accepts, close_reason_text, session_report
from ._livekit_saves import PendingTurn, TurnQueue
from ._transcript import storable

__all__ = [
    "DEFAULT_PRELOAD_TIMEOUT_MS",
    "DEFAULT_SEARCH_TIMEOUT_MS",
    "DEFAULT_TURN_LANES",
    "CallMemory",
]

log = logging.getLogger("voxmem.livekit")

#: Our hard stop past the client's deadline, for a runtime that stops answering.
DEADLINE_SLACK_S = 0.05
#: A recall for the same words is reused this long (preemptive generation vs. the hook).
RECALL_TEXT_TTL_S = 10.0

_SESSIONS: weakref.WeakKeyDictionary[AgentSession[Any], CallMemory] = (
    weakref.WeakKeyDictionary())


@dataclasses.dataclass(slots=True)
class _CachedRecall:
    future: asyncio.Future[str]
    text_key: str
    at: float


class CallMemory:
    """The memory of one call: caller, voxmem session, recall cache and save queue.

    Created by :class:`~voxmem.integrations.livekit.MemoryAgent` on entering a session, or
    by :func:`~voxmem.integrations.livekit.attach_memory` for a plain ``Agent``. Every
    agent of the session (handoffs included) finds it with :meth:`of`.

    Attributes:
        identity: who the caller is and how we know.
        session_id: the voxmem session id of this call once opened.
        preload: the session-start memory block once opened (``None`` if it failed).
        recalls: per-turn searches run so far (cache hits are not counted).
        recall_ms: wall time of recent searches in milliseconds.
        saves, save_failures: turns written / turns that could not be written.

    Example::

        memory = CallMemory(client=client, identity=CallerIdentity.explicit("caller-42"))
        memory.attach(session)            # saves and session end follow the session
        preload = await memory.open()     # start_session + preload, under the deadline
        block = await memory.recall("when is my appointment?")
    """

    def __init__(
        self,
        *,
        client: VoiceClient | None,
        identity: CallerIdentity,
        owns_client: bool = False,
        search_timeout_ms: float = DEFAULT_SEARCH_TIMEOUT_MS,
        preload_timeout_ms: float = DEFAULT_PRELOAD_TIMEOUT_MS,
        lanes: Sequence[str] | None = DEFAULT_TURN_LANES,
        session_metadata: Mapping[str, Any] | None = None,
        recall_role: RecallRole = DEFAULT_RECALL_ROLE,
        compaction: CompactionOptions | None = None,
        close_timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S,
    ) -> None:
        checked_lanes = check_call_options(search_timeout_ms, preload_timeout_ms, lanes)
        if recall_role not in ("system", "developer", "assistant"):
            raise ValueError("recall_role must be 'system', 'developer' or 'assistant'")
        self.recall_role: RecallRole = recall_role
        #: Compaction of long calls (``None``: send the whole conversation).
        self.compaction = compaction
        self.identity = identity
        # Kept for an anonymous caller too: the knowledge base (org lane) serves everybody.
        self.client = client
        self._owns_client = owns_client
        self.search_timeout_ms = search_timeout_ms
        self.preload_timeout_ms = preload_timeout_ms
        #: The end of the call waits at most this long for saves, the opening, end_session.
        self.close_timeout_s = close_timeout_s
        self.lanes = checked_lanes
        self._session_metadata = dict(session_metadata or {})
        self.session_id: str | None = None
        self.preload: Preload | None = None
        self.recalls = 0
        self.recall_ms: collections.deque[float] = collections.deque(maxlen=RECALL_TIMINGS_KEPT)
        self.saves = 0
        self.save_failures = 0
        self._open_task: asyncio.Future[Preload | None] | None = None
        self._open_late = False
        #: ``time.monotonic()`` when the opening finished (ok or failed), else ``None``.
        self.opened_at: float | None = None
        self._by_message: collections.OrderedDict[str, _CachedRecall] = (
            collections.OrderedDict())
        self._by_text: dict[str, _CachedRecall] = {}
        self._turns = TurnQueue(self._save, accepting=lambda: self._close_task is None)
        self._close_task: asyncio.Future[None] | None = None
        self._closed = asyncio.Event()
        self._report_source: Callable[[], Mapping[str, Any]] | None = None
        #: Where LiveKit's session report went, once stored.
        self.report_location: str | None = None
        self._livekit_close_reason: object = None

    # -- attachment -----------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """Whether this call is recorded and recalled (a known caller and a client)."""
        return self.client is not None and not self.identity.anonymous

    @property
    def user(self) -> dict[str, Any]:
        """The ``user=`` argument for client calls (only valid when :attr:`enabled`)."""
        return self.identity.to_user()

    @classmethod
    def of(cls, session: AgentSession[Any]) -> CallMemory | None:
        """The memory attached to ``session``, if any."""
        return _SESSIONS.get(session)

    def attach(self, session: AgentSession[Any]) -> CallMemory:
        """Bind to ``session``: wire saves and session end to its events.

        Returns the memory already attached to the session if there is one (the first
        agent of a call opens its memory; later agents share it).
        """
        existing = _SESSIONS.get(session)
        if existing is not None:
            return existing
        _SESSIONS[session] = self
        if self.enabled:
            self._turns.attach(session)
        else:
            log.info("caller is anonymous or memory is off: this call is not recorded")
        session.on("close", self._on_close)  # an owned client is released either way
        job = get_job_context(required=False)
        if job is not None:
            # A job that shuts down without the session closing still ends the call.
            job.add_shutdown_callback(self._on_job_shutdown)
            # By the close event the session's recorder is closed, so LiveKit can build
            # the report then, and it can travel with end_session.
            self._report_source = lambda: job.make_session_report(session).to_dict()
        return self

    # -- open -----------------------------------------------------------------------------
    async def open(self) -> Preload | None:
        """Open the caller's voxmem session and preload their memory (once per call).

        Returns the preload, or ``None`` when memory is off, failed, or is not ready by
        the preload deadline or once the runtime is found starting; the opening then
        goes on (:meth:`wait_open` gives its preload when it arrives).
        """
        if not self.enabled:
            return None
        if self._open_task is None:
            self._open_task = asyncio.ensure_future(self._open())
        if self._open_task.done():
            return self._open_task.result()
        starting = await wait_deadline_or_start(self._require_client(), self._open_task,
                                                self.preload_timeout_ms / 1000)
        if self._open_task.done():
            return self._open_task.result()
        self._open_late = True
        log.warning("memory is not ready %s; the call starts without it, and it is loaded "
                    "for the next reply once the runtime answers",
                    "(the runtime is starting)" if starting
                    else f"within its {self.preload_timeout_ms:.0f} ms preload deadline")
        return None

    @property
    def opening(self) -> bool:
        """Whether the call's session and preload are still on their way."""
        return self._open_task is not None and not self._open_task.done()

    async def wait_open(self) -> Preload | None:
        """Wait for the opening however long it takes; the preload, or ``None`` when
        memory is off or the opening failed (bounded by the client's runtime start and
        request timeouts)."""
        if not self.enabled:
            return None
        if self._open_task is None:
            self._open_task = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(self._open_task)
        except asyncio.CancelledError:
            if self._open_task.cancelled():  # the end of the call gave up on it
                return None
            raise

    async def _open(self) -> Preload | None:
        started = time.perf_counter()
        try:
            await self._start_session()
            self.preload = await self._require_client().preload(user=self.user)
        except Exception as exc:  # memory must never stop a call
            log.warning("memory preload failed (%s); the call goes on without memory", exc)
        else:
            log.debug("memory preloaded for %s in %.1f ms", caller_ref(self.identity.user_id),
                      (time.perf_counter() - started) * 1000)
        self.opened_at = time.monotonic()
        return self.preload

    async def refresh(self) -> Preload | None:
        """Preload again (for an agent taking over mid-call): what the call has learnt
        so far is included. Falls back to the last preload if memory does not answer."""
        if not self.enabled:
            return None
        await self.open()
        try:
            async with asyncio.timeout(self.preload_timeout_ms / 1000):
                self.preload = await self._require_client().preload(user=self.user)
        except TimeoutError:
            log.warning("memory preload missed its %.0f ms deadline; keeping the earlier one",
                        self.preload_timeout_ms)
        except Exception as exc:  # memory must never stop a call
            log.warning("memory preload failed (%s); keeping the earlier one", exc)
        return self.preload

    async def _start_session(self) -> None:
        metadata = {"source": "livekit", **self.identity.identifiers(),
                    **self._session_metadata}
        info = await self._require_client().start_session(user=self.user, metadata=metadata)
        session_id = info.get("sessionId")
        self.session_id = session_id if isinstance(session_id, str) else None

    def _require_client(self) -> VoiceClient:
        if self.client is None or self.identity.anonymous:
            raise RuntimeError("memory is off for this call")
        return self.client

    # -- recall ---------------------------------------------------------------------------
    async def recall(self, text: str | None, *, message_id: str | None = None,
                     extra_lanes: Sequence[str] = ()) -> str:
        """The memory block for one user turn, or ``""``; never raises, never overruns.

        A message already recalled (by the speech hook, an earlier tool step or a
        preemptive generation) is not searched again. ``extra_lanes`` are searched on top
        of :attr:`lanes` for this turn.
        """
        query = storable(text or "").strip()
        if not self.enabled or not query or (self._open_late and self.opening):
            # Still opening past its deadline: the runtime is starting or slow, a search
            # would only wait out its own deadline in silence.
            return ""
        cached = self._cached(message_id, query)
        if cached is None:
            lanes = (None if self.lanes is None else
                     tuple(dict.fromkeys((*self.lanes, *extra_lanes))))
            cached = _CachedRecall(asyncio.ensure_future(self._search(query, lanes)),
                                   _text_key(query), time.monotonic())
            self._by_text[cached.text_key] = cached
        if message_id is not None:
            self._by_message[message_id] = cached
            self._by_message.move_to_end(message_id)
            while len(self._by_message) > RECALL_CACHE_SIZE:
                self._by_message.popitem(last=False)
        # Shielded: a cancelled turn leaves the search to finish and fill the cache.
        return await asyncio.shield(cached.future)

    def _cached(self, message_id: str | None, query: str) -> _CachedRecall | None:
        if message_id is not None and message_id in self._by_message:
            return self._by_message[message_id]
        now = time.monotonic()
        for key, entry in list(self._by_text.items()):
            if now - entry.at > RECALL_TEXT_TTL_S:
                del self._by_text[key]
        return self._by_text.get(_text_key(query))

    async def _search(self, query: str, lanes: tuple[str, ...] | None) -> str:
        client = self._require_client()
        started = time.perf_counter()
        self.recalls += 1
        try:
            result = await asyncio.wait_for(
                client.search_memory(query, user=self.user, lanes=lanes,
                                     timeout_ms=self.search_timeout_ms),
                timeout=self.search_timeout_ms / 1000 + DEADLINE_SLACK_S)
        except TimeoutError:
            log.warning("memory recall missed its %.0f ms deadline; answering without memory",
                        self.search_timeout_ms)
            return ""
        except Exception as exc:  # memory must never stop a call
            log.warning("memory recall failed (%s); answering without memory", exc)
            return ""
        finally:
            self.recall_ms.append((time.perf_counter() - started) * 1000)
        if result.degraded:
            log.debug("memory recall degraded: %s", result.trace.get("errors") or "late lanes")
        return result.context_text

    # -- saves ----------------------------------------------------------------------------
    async def flush(self) -> None:
        """Wait until every turn handed to the save queue so far is written.

        Useful before reading the call back (a report, a test) while the call goes on;
        at session close this happens on its own.
        """
        await self._turns.flush()

    async def _save(self, turn: PendingTurn) -> None:
        metadata: dict[str, Any] = {"source": "livekit", "user_item_ids": turn.user_item_ids}
        if turn.assistant_item_id:
            metadata["assistant_item_id"] = turn.assistant_item_id
        if turn.unanswered:
            metadata["unanswered"] = True
        # A turn said while the runtime starts waits here (the queue keeps the order):
        # it belongs in the session being opened, and a save timing out is a lost turn.
        await self.wait_open()
        try:
            await asyncio.wait_for(self._require_client().save_response(
                user_text="\n".join(turn.user_texts), assistant_text=turn.assistant_text,
                user=self.user, turn_id=turn.assistant_item_id, tool_calls=turn.tool_calls,
                metadata=metadata, interrupted=turn.interrupted), timeout=SAVE_TIMEOUT_S)
        except Exception as exc:  # a lost save is logged, the call goes on
            self.save_failures += 1
            log.warning("could not save a turn of %s (%s)", caller_ref(self.identity.user_id),
                        failure(exc, SAVE_TIMEOUT_S))
        else:
            self.saves += 1

    # -- close ----------------------------------------------------------------------------
    def _on_close(self, event: CloseEvent) -> None:
        self._livekit_close_reason = event.reason
        self.close_soon(close_reason_text(event.reason))

    def close_soon(self, reason: str = "completed") -> asyncio.Future[None]:
        """Start closing the call's memory; returns the future of the close."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._close(reason))
        return self._close_task

    async def aclose(self, reason: str = "completed") -> None:
        """Close the call's memory now: drain saves, then end the voxmem session."""
        await asyncio.shield(self.close_soon(reason))

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the call's memory is closed; ``False`` if ``timeout`` passed first."""
        try:
            await asyncio.wait_for(self._closed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _close(self, reason: str) -> None:
        try:
            if not self.enabled:
                return
            # What the caller said that was never answered is saved too.
            if not await self._turns.finish(self.close_timeout_s):
                log.warning("memory saves still pending after %g s at session end",
                            self.close_timeout_s)
            # An opening still waiting on a hung (or starting) runtime gets the same budget.
            if self._open_task is not None and not await settle_opening(
                    self._open_task, self.close_timeout_s):
                log.warning("memory was still opening after %g s at session end",
                            self.close_timeout_s)
            await self._end_session(reason, min(END_SESSION_TIMEOUT_S, self.close_timeout_s))
        finally:
            try:
                await self._close_client()
            finally:
                # Closed means the owned client too: its engine has let go of the data
                # directory, so another engine may open it once this is set.
                self._closed.set()

    async def _end_session(self, reason: str, timeout_s: float) -> None:
        client = self._require_client()
        report = (session_report(self._report_source, self._livekit_close_reason)
                  if self._report_source is not None and accepts(client.end_session, "report")
                  else None)
        if report is not None:
            try:
                await asyncio.wait_for(client.end_session(
                    user=self.user, reason=reason, session_id=self.session_id,
                    report=report), timeout=timeout_s)
            except BadRequest as exc:
                # A report the store refuses (too large, say) must not keep the call open.
                log.warning("the session report was refused (%s); ending the call without it",
                            exc)
            except Exception as exc:
                log.warning("could not end the memory session of %s (%s)",
                            caller_ref(self.identity.user_id),
                            failure(exc, timeout_s))
                return
            else:
                self.report_location = f"voxmem:session/{self.session_id}"
                return
        try:
            await asyncio.wait_for(client.end_session(
                user=self.user, reason=reason, session_id=self.session_id), timeout=timeout_s)
        except Exception as exc:
            log.warning("could not end the memory session of %s (%s)",
                        caller_ref(self.identity.user_id), failure(exc, timeout_s))

    async def _close_client(self) -> None:
        if self._owns_client and self.client is not None:
            try:
                await self.client.aclose()
            except Exception as exc:
                log.warning("closing the memory client failed (%s)", exc)

    async def _on_job_shutdown(self, reason: str) -> None:
        await self.aclose(reason or "job_shutdown")

    # -- session report -------------------------------------------------------------------
    def report_stored(self) -> str | None:
        """Where LiveKit's session report of this call is stored, or ``None``.

        In a LiveKit job the report is built when the session closes (its recorder is
        closed by then) and travels with ``end_session(report=...)``, which files it with
        the call, so ``forget_user`` erases it with the rest. ``None`` when memory is off,
        when there was no job, or when the report could not be built or was refused
        (logged at close).
        """
        return self.report_location if self.enabled else None


def _text_key(text: str) -> str:
    return " ".join(text.lower().split())
