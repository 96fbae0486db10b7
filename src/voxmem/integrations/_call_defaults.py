"""Defaults one call's memory shares across the LiveKit and Pipecat integrations.

Both integrations open a call, recall each turn, save turns and close the call the same
way; their deadlines and sizes live here once so the two cannot drift apart. Nothing
here imports a framework.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from .._config import setting_default
from ..compaction import DEFAULT_KEEP_LAST_TURNS
from ..models import LANES

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT_S",
    "DEFAULT_COMPACT_AFTER_TOKENS",
    "DEFAULT_COMPACT_KEEP_LAST_TURNS",
    "DEFAULT_PRELOAD_TIMEOUT_MS",
    "DEFAULT_SEARCH_TIMEOUT_MS",
    "DEFAULT_TURN_LANES",
    "END_SESSION_TIMEOUT_S",
    "RECALL_CACHE_SIZE",
    "RECALL_TIMINGS_KEPT",
    "SAVE_TIMEOUT_S",
    "check_call_options",
    "failure",
    "runtime_starting",
    "settle_opening",
    "until_deadline_or_start",
    "wait_deadline_or_start",
]

T = TypeVar("T")
#: Work a call stopped waiting for, referenced until it ends (the loop keeps only weak
#: references to tasks).
_LEFT_RUNNING: set[asyncio.Future[Any]] = set()

#: Deadline of the per-turn recall, queueing included (SPEC §1; the engine's own default).
DEFAULT_SEARCH_TIMEOUT_MS = float(setting_default("recall_timeout_ms"))
#: Deadline of start_session + preload before the first reply. Generous because a cold
#: embedded engine opens its store on the first call; warm, it takes a few milliseconds.
DEFAULT_PRELOAD_TIMEOUT_MS = 1500.0
#: Lanes searched on each turn: the caller's earlier calls and facts, and the knowledge
#: base. The profile and last call are in the instructions (preload) and this call is in
#: the chat context, so "profile" and "working" would repeat them (and, at 10,000
#: memories, "working" about doubles the search time).
DEFAULT_TURN_LANES: tuple[str, ...] = ("permanent", "org")
#: How long one turn's save may take before it is logged as lost.
SAVE_TIMEOUT_S = 10.0
#: How long ending the voxmem session may take at the end of a call.
END_SESSION_TIMEOUT_S = 10.0
#: How long the end of a call waits for queued saves before ending the session.
DEFAULT_CLOSE_TIMEOUT_S = 30.0
#: Finished recalls kept per call, keyed by user message.
RECALL_CACHE_SIZE = 64
#: Recent recall timings kept per call for inspection.
RECALL_TIMINGS_KEPT = 1000
#: The LLM is sent a compacted conversation once it holds this many tokens (about five
#: minutes of a phone call)...
DEFAULT_COMPACT_AFTER_TOKENS = 1000
#: ...keeping this many of the latest messages word for word.
DEFAULT_COMPACT_KEEP_LAST_TURNS = DEFAULT_KEEP_LAST_TURNS


def failure(exc: BaseException, timeout_s: float) -> str:
    """What a lost save or session end is logged with. A deadline's ``TimeoutError`` has
    no message, which left an operator with "()" and no cause."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"no answer within {timeout_s:g} s"
    return str(exc) or type(exc).__name__


def check_call_options(search_timeout_ms: object, preload_timeout_ms: object,
                       lanes: Sequence[str] | None) -> tuple[str, ...] | None:
    """The turn lanes as a tuple, once the options are known to work; else ``ValueError``.

    Checked when the agent or processor is built: a mistake here (``lanes="permanent"``,
    an unknown lane, a NaN deadline) otherwise fails every turn's recall of every call,
    each with a warning only, while the calls go on without memory.
    """
    for name, value in (("search_timeout_ms", search_timeout_ms),
                        ("preload_timeout_ms", preload_timeout_ms)):
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or value <= 0):
            raise ValueError(f"{name} must be a positive number of milliseconds, "
                             f"not {value!r}")
    if lanes is None:
        return None
    if isinstance(lanes, str):
        raise ValueError(f"lanes must be a sequence of lane names such as "
                         f"({lanes!r},), not the string {lanes!r}")
    unknown = [lane for lane in lanes if lane not in LANES]
    if unknown:
        raise ValueError(f"unknown lane {', '.join(map(repr, unknown))}; lanes are "
                         f"{', '.join(LANES)}")
    return tuple(lanes)


async def settle_opening(opening: asyncio.Future[Any], timeout_s: float) -> bool:
    """Wait for a call's opening (start_session + preload) at most ``timeout_s`` at the
    end of the call, cancelling it past that; whether it finished.

    On a hung or starting runtime the opening waits out the client's request timeouts
    (30 s each by default): the end of the call has its own budget, and what it does
    next (end_session) is bounded too.
    """
    if (await asyncio.wait([opening], timeout=timeout_s))[0]:
        return True
    opening.cancel()
    return False


async def runtime_starting(client: object) -> None:
    """Return once ``client`` finds its runtime still starting (never, for a client of
    another make, which cannot tell)."""
    wait = getattr(client, "_wait_runtime_starting", None)
    await (wait() if wait is not None else asyncio.Event().wait())


def _left_running(task: asyncio.Future[Any]) -> None:
    _LEFT_RUNNING.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: the work reports its own failures


async def wait_deadline_or_start(client: object, task: asyncio.Future[Any],
                                 timeout_s: float) -> bool:
    """Wait for ``task`` at most ``timeout_s``, or until ``client`` finds its runtime
    still starting (seconds on a cold host: the caller would hear the wait); ``task`` is
    left as it is. True when the runtime was found starting."""
    starting = asyncio.ensure_future(runtime_starting(client))
    try:
        await asyncio.wait({task, starting}, timeout=timeout_s,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        starting.cancel()
    return starting.done() and not starting.cancelled()


async def until_deadline_or_start(client: object, work: Coroutine[Any, Any, T],
                                  timeout_s: float) -> T | None:
    """``work``'s result, or ``None`` once :func:`wait_deadline_or_start` stops waiting;
    the work then goes on in the background."""
    task = asyncio.ensure_future(work)
    try:
        await wait_deadline_or_start(client, task, timeout_s)
    except BaseException:
        task.cancel()
        raise
    if task.done():
        return task.result()
    _LEFT_RUNNING.add(task)
    task.add_done_callback(_left_running)
    return None
