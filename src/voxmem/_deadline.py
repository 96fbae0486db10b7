"""A request's deadline counts from when it arrived, not from when it got its turn.

Under load a search can sit in the runtime's queue (behind other requests on the event
loop, waiting for its body) for longer than its whole ``timeout_ms``. Counting the
budget from when the engine starts would answer such a search late; counting from
arrival answers it at once, ``degraded``, and the agent speaks without memory rather
than after a stall. The runtime stamps arrival before a request waits for anything;
a client on the same clock may also send its own ``deadline_at``.
"""

from __future__ import annotations

import contextvars
import math
import time
from typing import Any

from ._exceptions import BadRequest
from .models import SearchResult

__all__ = ["MAX_CLOCK_SKEW_S", "budget_left_ms", "expired_search", "request_arrived",
           "shed_reason", "shed_search"]

#: A client's ``deadline_at`` further off than this from the runtime's clock is ignored:
#: the two clocks disagree, and the runtime's own arrival stamp is used instead.
MAX_CLOCK_SKEW_S = 120.0

_arrived_at: contextvars.ContextVar[float] = contextvars.ContextVar("voxmem_arrived_at")
_shed: contextvars.ContextVar[str | None] = contextvars.ContextVar("voxmem_shed",
                                                                   default=None)


class request_arrived:  # noqa: N801 (used as a function: ``with request_arrived(...)``)
    """Within the block, the request being handled arrived at ``at`` (epoch seconds;
    ``None``: now, for in-process calls that never queue). ``shed``: the runtime's
    admission control answers this search without recall, for this reason.

    A class rather than ``@contextmanager``: every request enters it, and the generator
    machinery cost ~3 % of a request's CPU under load (docs/performance.md).
    """

    __slots__ = ("_at", "_shed", "_tokens")

    def __init__(self, at: float | None, shed: str | None = None) -> None:
        self._at = at
        self._shed = shed

    def __enter__(self) -> None:
        self._tokens = (_arrived_at.set(time.time() if self._at is None else float(self._at)),
                        _shed.set(self._shed))

    def __exit__(self, *_exc: object) -> None:
        arrived, shed = self._tokens
        _shed.reset(shed)
        _arrived_at.reset(arrived)


def shed_reason() -> str | None:
    """Why the runtime sheds the search being handled (None: run it)."""
    return _shed.get()


def budget_left_ms(timeout_ms: float, deadline_at: Any = None) -> tuple[float, float]:
    """(milliseconds left, milliseconds already spent queued) for a ``timeout_ms`` budget.

    The deadline is arrival + ``timeout_ms``, or the client's ``deadline_at`` when that
    is earlier and plausibly on the same clock.
    """
    now = time.time()
    arrived = min(_arrived_at.get(now), now)
    deadline = arrived + timeout_ms / 1000.0
    if deadline_at is not None:
        if isinstance(deadline_at, bool) or not isinstance(deadline_at, int | float) or (
                not math.isfinite(deadline_at)):
            raise BadRequest("deadline_at must be epoch seconds", field="deadline_at")
        if abs(float(deadline_at) - now) <= MAX_CLOCK_SKEW_S:
            deadline = min(deadline, float(deadline_at))
    return (deadline - now) * 1000.0, (now - arrived) * 1000.0


def expired_search(timeout_ms: float, late_ms: float, mode: str, intent: str) -> Any:
    """The answer to a search whose deadline passed before recall could start: empty,
    ``degraded``, with the reason in ``trace.errors.deadline``."""
    return _empty_search({"deadline": f"expired {late_ms:.0f} ms before recall started "
                                      "(queued behind other requests)"},
                         timeout_ms, mode, intent)


def shed_search(timeout_ms: float, reason: str, mode: str, intent: str) -> Any:
    """The answer to a search the overloaded runtime does not run: empty, ``degraded``,
    with the reason in ``trace.errors.overload``."""
    return _empty_search({"overload": reason}, timeout_ms, mode, intent)


def _empty_search(errors: dict[str, str], timeout_ms: float, mode: str, intent: str) -> Any:
    trace = {"lanes": {}, "lanesUsed": [], "totalMs": 0.0, "degraded": True,
             "errors": errors, "mode": mode, "intent": intent, "timeoutMs": timeout_ms,
             "coldLanes": []}
    return SearchResult(context_text="", profile=None, working=[], permanent=[], org=[],
                        sources=[], trace=trace).to_dict()
