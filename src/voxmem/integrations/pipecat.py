"""voxmem for Pipecat (>= 1.14): a memory processor, caller identity and memory tools.

- :class:`MemoryProcessor` — a ``FrameProcessor`` placed between the user context
  aggregator and the LLM service. It preloads the caller's memory when the pipeline
  starts, recalls for every user message under a deadline and puts the result
  immediately before that message (replacing the previous one, never piling up), saves
  turns from the aggregators' events in the background, and ends the call when the
  pipeline ends, so learning runs.
- :func:`caller_from_runner_args` — the caller from Pipecat's runner arguments (your
  backend's ``user_id``, Daily dial-in ``From``, Twilio / Telnyx ``from``).
- :func:`memory_tools` / :func:`memory_tools_schema` — the memory tools as Pipecat
  ``FunctionSchema`` objects with their handlers.

Example::

    context = LLMContext([{"role": "system", "content": "You are Ava."}],
                         tools=memory_tools_schema(client=client, user=caller))
    aggregators = LLMContextAggregatorPair(context)
    memory = MemoryProcessor(client=client, user=caller, context_aggregator=aggregators)
    pipeline = Pipeline([transport.input(), stt, aggregators.user(), memory, llm, tts,
                         transport.output(), aggregators.assistant()])
"""

from __future__ import annotations

try:
    from pipecat.frames.frames import (
        CancelFrame,
        EndFrame,
        Frame,
        LLMContextFrame,
        StartFrame,
    )
    from pipecat.processors.aggregators.llm_context import LLMContext, standard_message_text
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("voxmem.integrations.pipecat needs Pipecat: "
                      "pip install 'voxmem[pipecat]'") from exc

import asyncio
import collections
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .._log_ids import caller_ref
from ..client import VoiceClient
from ..compaction._tokens import warm_up as warm_token_counter
from ..models import Preload
from ._call_defaults import (
    DEFAULT_CLOSE_TIMEOUT_S,
    DEFAULT_COMPACT_AFTER_TOKENS,
    DEFAULT_COMPACT_KEEP_LAST_TURNS,
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
)
from ._instructions import MEMORY_PLACEHOLDER, render_memory_instructions
from ._livekit_identity import CallerIdentity, normalize_e164
from ._pipecat_compaction import ContextCompaction
from ._pipecat_context import (
    Instructions,
    insert_before_last_user,
    last_user_index,
    remove_messages,
)
from ._pipecat_identity import caller_from_runner_args
from ._pipecat_saves import Turn, TurnSaver
from ._pipecat_tools import DEFAULT_PROFILE_FIELDS, TOOL_NAMES, memory_tools, memory_tools_schema
from ._transcript import storable

__all__ = [
    "DEFAULT_PRELOAD_TIMEOUT_MS",
    "DEFAULT_PROFILE_FIELDS",
    "DEFAULT_SEARCH_TIMEOUT_MS",
    "DEFAULT_TURN_LANES",
    "MEMORY_PLACEHOLDER",
    "TOOL_NAMES",
    "CallerIdentity",
    "MemoryProcessor",
    "caller_from_runner_args",
    "memory_tools",
    "memory_tools_schema",
    "normalize_e164",
    "render_memory_instructions",
]

log = logging.getLogger("voxmem.pipecat")

#: Our hard stop past the client's deadline, for a runtime that stops answering.
DEADLINE_SLACK_S = 0.02

UserArg = str | Mapping[str, Any] | CallerIdentity


def _identity(user: UserArg | None) -> CallerIdentity:
    if user is None:
        return CallerIdentity.anonymous_caller()
    if isinstance(user, CallerIdentity):
        return user
    return CallerIdentity.explicit(user)


def _text_key(ordinal: int, text: str) -> str:
    return f"{ordinal}:{' '.join(text.lower().split())}"


class MemoryProcessor(FrameProcessor):
    """A Pipecat ``FrameProcessor`` that gives the LLM the caller's memory.

    Put it between the user context aggregator and the LLM service, and hand it the
    aggregator pair so it can save turns:

    - **Preload** when the pipeline starts (``StartFrame``), or when you call
      :meth:`open` (from ``on_client_connected``, say, once you know who called): the
      caller's profile, top facts, last call and open commitments go into a system
      message of their own right after the instructions, which stay byte-identical for
      every caller so the provider's prompt cache keeps working (as in the LiveKit
      integration; a ``{{memory}}`` placeholder in the instructions is removed). The
      first turn waits for the preload only within its own deadline; one that comes
      later (a runtime still starting) goes into the next context frame.
    - **Recall** on each downstream ``LLMContextFrame``: ``search_memory`` for the latest
      user message under ``search_timeout_ms`` (queueing included); a missed deadline
      means this turn goes without recall, never a late frame. One search per user
      message, however many times the context is sent for it.
    - **Inject by replacement**: the previous memory message is removed and the new one
      put immediately before the latest user message — one memory message, ever.
    - **Speculative** context frames get recall (their reply may be the one spoken) and
      are never a reason to save.
    - **Saves** come from the aggregators' turn events (user turn stopped, assistant turn
      stopped with its ``interrupted`` flag): several user turns before one reply are
      saved together, a barge-in reply is flagged ``interrupted``. A background task
      writes them; nothing awaits the store inside ``process_frame``.
    - **End** (``EndFrame`` / ``CancelFrame``): words the caller said that were never
      answered are saved, queued saves drain (``close_timeout_s``), and the voxmem
      session ends so learning runs.
    - **Compaction** of a long call: past ``compact_after_tokens`` tokens of
      conversation, the LLM is sent a copy of the context whose older turns are replaced
      by their compact record (``voxmem.compact_transcript``); the conversation's own
      context keeps every message.
    - **Anonymous callers** (no ``user`` and nothing from :meth:`open`) are neither
      recorded nor recalled. Memory failures are logged on ``voxmem.pipecat`` and the
      call goes on without memory.

    Example::

        memory = MemoryProcessor(client=client, user=caller_from_runner_args(runner_args),
                                 context_aggregator=aggregators)

    Args:
        client: the memory client (shared; closed only with ``owns_client=True``).
        user: the caller: an id, ``{"id", "name"}`` or a :class:`CallerIdentity`.
        context_aggregator: the ``LLMContextAggregatorPair`` whose turns are saved
            (or call :meth:`attach` with it later). Without it nothing is saved.
        search_timeout_ms: deadline of each turn's recall.
        preload_timeout_ms: deadline of session start + preload.
        lanes: lanes searched each turn (``None``: all).
        recall_role: role of the per-turn recall message: ``"system"``, ``"developer"``
            (OpenAI's instruction slot) or ``"assistant"`` (caller-derived text with no
            more authority than the agent's own words), as in the LiveKit integration.
        memory_enabled: ``False`` passes every frame through untouched (a ``{{memory}}``
            placeholder is still removed).
        compact_after_tokens: compaction threshold in conversation tokens (``None``:
            never compact).
        keep_last_turns: messages compaction keeps word for word.
        close_timeout_s: how long the end of the pipeline waits for queued saves, and
            then for ``end_session``.
        session_metadata: extra metadata stored with the voxmem session.
        owns_client: close ``client`` when the call ends.
    """

    def __init__(
        self,
        *,
        client: VoiceClient | None,
        user: UserArg | None = None,
        context_aggregator: Any = None,
        search_timeout_ms: float = DEFAULT_SEARCH_TIMEOUT_MS,
        preload_timeout_ms: float = DEFAULT_PRELOAD_TIMEOUT_MS,
        lanes: Sequence[str] | None = DEFAULT_TURN_LANES,
        recall_role: str = "system",
        memory_enabled: bool = True,
        compact_after_tokens: int | None = DEFAULT_COMPACT_AFTER_TOKENS,
        keep_last_turns: int = DEFAULT_COMPACT_KEEP_LAST_TURNS,
        close_timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S,
        session_metadata: Mapping[str, Any] | None = None,
        owns_client: bool = False,
        **kwargs: Any,
    ) -> None:
        checked_lanes = check_call_options(search_timeout_ms, preload_timeout_ms, lanes)
        if memory_enabled and client is None:
            raise ValueError("MemoryProcessor needs client=VoiceClient(...), "
                             "or memory_enabled=False")
        super().__init__(**kwargs)
        self.client = client
        self.identity = _identity(user)
        self.search_timeout_ms = search_timeout_ms
        self.preload_timeout_ms = preload_timeout_ms
        self.lanes = checked_lanes
        if recall_role not in ("system", "developer", "assistant"):
            raise ValueError("recall_role must be 'system', 'developer' or 'assistant'")
        self.recall_role = recall_role
        self.memory_enabled = memory_enabled
        if compact_after_tokens is not None and (compact_after_tokens <= 0
                                                 or keep_last_turns < 1):
            raise ValueError("compact_after_tokens must be positive and keep_last_turns >= 1")
        self.compact_after_tokens = compact_after_tokens
        self.keep_last_turns = keep_last_turns
        self.close_timeout_s = close_timeout_s
        self._session_metadata = dict(session_metadata or {})
        self._owns_client = owns_client
        #: The voxmem session id of this call once opened.
        self.session_id: str | None = None
        #: The session-start memory block once loaded (``None`` if it failed).
        self.preload: Preload | None = None
        #: Searches run so far (cache hits are not counted), and their wall times.
        self.recalls = 0
        self.recall_ms: collections.deque[float] = collections.deque(maxlen=RECALL_TIMINGS_KEPT)
        #: Wall time each context frame spent in this processor, in milliseconds.
        self.frame_ms: collections.deque[float] = collections.deque(maxlen=RECALL_TIMINGS_KEPT)
        #: Turns written / turns that could not be written.
        self.saves = 0
        self.save_failures = 0
        self._instructions = Instructions()
        self._compaction = (None if compact_after_tokens is None else ContextCompaction(
            after_tokens=compact_after_tokens, keep_last_turns=keep_last_turns))
        self._open_task: asyncio.Future[Preload | None] | None = None
        # Finished recalls per user message: a context sent again for the same message
        # (a re-run, a confirmed speculation) is not searched again.
        self._recalls: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._injected: collections.deque[dict[str, Any]] = collections.deque(maxlen=8)
        self._injected_texts: collections.deque[str] = collections.deque(maxlen=8)
        self._turns = TurnSaver(self._save, accepting=self._accepting_saves)
        self._close_reason = "completed"
        self._close_task: asyncio.Future[None] | None = None
        self._closed = asyncio.Event()
        if context_aggregator is not None:
            self.attach(context_aggregator)

    # -- wiring ---------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """Whether this call is recorded and recalled (memory on, a known caller)."""
        return (self.memory_enabled and self.client is not None
                and not self.identity.anonymous)

    def attach(self, context_aggregator: Any) -> None:
        """Save turns from an ``LLMContextAggregatorPair`` (or a ``(user, assistant)``
        pair of aggregators): the user turns it finishes and the assistant's replies."""
        self._turns.attach(context_aggregator)

    # -- frames ---------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Recall into downstream context frames; open at start, close at the end."""
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            if self.enabled:
                self._open_soon()
        elif isinstance(frame, LLMContextFrame) and direction == FrameDirection.DOWNSTREAM:
            started = time.perf_counter()
            try:
                frame.context = await self._prepare(frame.context,
                                                    speculative=frame.speculation)
            except Exception as exc:  # memory must never stop a turn
                log.warning("memory could not prepare the context (%s); the turn goes on "
                            "without it", exc)
            self.frame_ms.append((time.perf_counter() - started) * 1000)
            await self.push_frame(frame, direction)
        elif isinstance(frame, (EndFrame, CancelFrame)):
            self._close_reason = "completed" if isinstance(frame, EndFrame) else "cancelled"
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        """End the call's memory when the pipeline is torn down (after ``EndFrame`` or
        ``CancelFrame`` went through every processor, so the last reply is in)."""
        await super().cleanup()  # type: ignore[no-untyped-call]
        await self.aclose(self._close_reason)

    # -- open -----------------------------------------------------------------------------
    async def open(self, user: UserArg | None = None) -> Preload | None:
        """Open the caller's voxmem session and preload their memory (once per call).

        Pass ``user`` when the caller becomes known after construction (in
        ``on_client_connected``, say). Returns the preload, or ``None`` when memory is
        off or did not answer within ``preload_timeout_ms``.
        """
        if user is not None and self._open_task is None:
            self.identity = _identity(user)
        if not self.enabled:
            return None
        # Past the deadline the opening goes on (a runtime still starting): its preload
        # reaches the next context frame, and the saves wait for it.
        opening = self._open_soon()
        await asyncio.wait([opening], timeout=self.preload_timeout_ms / 1000)
        return opening.result() if opening.done() else None

    def _open_soon(self) -> asyncio.Future[Preload | None]:
        if self._open_task is None:
            self._open_task = asyncio.ensure_future(self._open())
        return self._open_task

    async def _open(self) -> Preload | None:
        if self.compact_after_tokens is not None:
            # Tens of milliseconds once per process: here, while the call opens, rather
            # than inside the caller's first turn.
            warm_token_counter()
        client = self._client()
        started = time.perf_counter()
        try:
            metadata = {"source": "pipecat", **self.identity.identifiers(),
                        **self._session_metadata}
            info = await client.start_session(user=self.identity.to_user(), metadata=metadata)
            session_id = info.get("sessionId")
            self.session_id = session_id if isinstance(session_id, str) else None
            self.preload = await client.preload(user=self.identity.to_user())
        except Exception as exc:  # memory must never stop a call
            log.warning("memory preload failed (%s); the call starts without memory", exc)
        else:
            log.debug("memory preloaded for %s in %.1f ms", caller_ref(self.identity.user_id),
                      (time.perf_counter() - started) * 1000)
        return self.preload

    def _client(self) -> VoiceClient:
        if self.client is None or not self.enabled:
            raise RuntimeError("memory is off for this call")
        return self.client

    # -- recall ---------------------------------------------------------------------------
    async def _prepare(self, context: LLMContext, *, speculative: bool) -> LLMContext:
        """The context to send on: recall in place, the preload after the instructions,
        a long conversation compacted (in a copy)."""
        deadline = time.monotonic() + self.search_timeout_ms / 1000 + DEADLINE_SLACK_S
        if not self.enabled:
            self._instructions.update(context, None)  # drop a bare {{memory}}
            return context
        messages = context.get_messages()
        index = last_user_index(messages)
        key = text = None
        if index is not None:
            text = storable(standard_message_text(messages[index]))
            ordinal = sum(1 for m in messages[:index] if isinstance(m, dict)
                          and m.get("role") == "user")
            key = _text_key(ordinal, text)
        context_text = self._recalls.get(key) if key is not None else None
        # The first turn waits for the preload within this frame's deadline, searching
        # meanwhile. Later turns search inline: no task to schedule on a busy loop.
        preload = self._open_soon()
        search: asyncio.Future[str | None] | None = None
        if not preload.done():
            if key is not None and text is not None and context_text is None:
                search = asyncio.ensure_future(self._search(text, deadline))
            waiting = [f for f in (preload, search) if f is not None]
            await asyncio.wait(waiting, timeout=max(0.0, deadline - time.monotonic()),
                               return_when=asyncio.ALL_COMPLETED)
        block = (preload.result() or None) if preload.done() else None
        memory_text = block.context_text if block is not None else None
        self._instructions.update(context, memory_text)
        remove_messages(context, self._injected, set(self._injected_texts),
                        self.recall_role)
        if not speculative and self._compaction is not None:
            context = self._compaction.compacted(context)
        if key is None or text is None:
            return context
        if context_text is None:
            if search is None:
                context_text = await self._search(text, deadline)
            elif search.done():
                context_text = search.result()
            else:
                search.cancel()
        if context_text is None:
            log.warning("memory recall missed its %.0f ms deadline; this turn goes without "
                        "it", self.search_timeout_ms)
            return context
        self._recalls[key] = context_text
        while len(self._recalls) > RECALL_CACHE_SIZE:
            self._recalls.popitem(last=False)
        if context_text:
            message = {"role": self.recall_role, "content": context_text}
            if insert_before_last_user(context, message):
                self._injected.append(message)
                self._injected_texts.append(context_text)
        return context

    async def _search(self, query: str, deadline: float) -> str | None:
        """The recall text for ``query`` ("" for none), or None when ``deadline`` (a
        ``time.monotonic()`` instant) passed first."""
        client = self._client()
        started = time.perf_counter()
        self.recalls += 1
        try:
            # Our own hard stop, for a runtime that stops answering: the client's
            # deadline covers the search, not a hung connection.
            async with asyncio.timeout_at(asyncio.get_running_loop().time()
                                          + max(0.0, deadline - time.monotonic())):
                result = await client.search_memory(
                    query, user=self.identity.to_user(), lanes=self.lanes,
                    timeout_ms=self.search_timeout_ms)
        except TimeoutError:
            return None
        except Exception as exc:  # memory must never stop a call
            log.warning("memory recall failed (%s); answering without memory", exc)
            return ""
        finally:
            self.recall_ms.append((time.perf_counter() - started) * 1000)
        if result.degraded:
            log.debug("memory recall degraded: %s", result.trace.get("errors") or "late lanes")
        return result.context_text

    # -- compaction -----------------------------------------------------------------------
    @property
    def compactions(self) -> int:
        """Context frames sent to the LLM compacted so far (``_pipecat_compaction``)."""
        return self._compaction.compactions if self._compaction is not None else 0

    async def wait_compacted(self) -> None:
        """Wait for a compaction running in the background, if any (tests, benchmarks)."""
        if self._compaction is not None:
            await self._compaction.wait()

    # -- saves ----------------------------------------------------------------------------
    def _accepting_saves(self) -> bool:
        return self.enabled and self._close_task is None

    async def _save(self, turn: Turn) -> None:
        metadata: dict[str, Any] = {"source": "pipecat"}
        if turn.unanswered:
            metadata["unanswered"] = True
        await asyncio.wait([self._open_soon()])  # said while the runtime starts: in order
        try:
            await asyncio.wait_for(self._client().save_response(
                user_text="\n".join(turn.user_texts), assistant_text=turn.assistant_text,
                user=self.identity.to_user(), metadata=metadata,
                interrupted=turn.interrupted), timeout=SAVE_TIMEOUT_S)
        except Exception as exc:  # a lost save is logged, the call goes on
            self.save_failures += 1
            log.warning("could not save a turn of %s (%s)", caller_ref(self.identity.user_id),
                        failure(exc, SAVE_TIMEOUT_S))
        else:
            self.saves += 1

    # -- close ----------------------------------------------------------------------------
    async def aclose(self, reason: str = "completed") -> None:
        """End the call's memory now: save unanswered words, drain the queued saves
        (at most ``close_timeout_s``), then end the voxmem session. Idempotent."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._close(reason))
        await asyncio.shield(self._close_task)

    @property
    def closed(self) -> bool:
        """True once the call's memory is closed (the voxmem session ended)."""
        return self._closed.is_set()

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the call's memory is closed; ``False`` if ``timeout`` passed first."""
        try:
            await asyncio.wait_for(self._closed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _close(self, reason: str) -> None:
        try:
            if not self.enabled or self._open_task is None:
                return  # never opened: nothing was said to this caller's memory
            # Words the caller said that the call ended before answering are kept too.
            if not await self._turns.finish(self.close_timeout_s):
                log.warning("memory saves still pending after %g s at the end of the "
                            "call", self.close_timeout_s)
            # An opening still waiting on a starting (or hung) runtime gets the same budget.
            await settle_opening(self._open_task, self.close_timeout_s)
            try:
                await asyncio.wait_for(self._client().end_session(
                    user=self.identity.to_user(), reason=reason, session_id=self.session_id),
                    timeout=min(END_SESSION_TIMEOUT_S, self.close_timeout_s))
            except Exception as exc:
                log.warning("could not end the memory session of %s (%s)",
                            caller_ref(self.identity.user_id),
                            failure(exc, min(END_SESSION_TIMEOUT_S, self.close_timeout_s)))
        finally:
            if self._compaction is not None:
                self._compaction.cancel()
            self._closed.set()
            if self._owns_client and self.client is not None:
                try:
                    await self.client.aclose()
                except Exception as exc:
                    log.warning("closing the memory client failed (%s)", exc)
