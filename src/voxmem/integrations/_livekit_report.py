"""LiveKit's session report of a call, made ready to travel with ``end_session``.

LiveKit builds the report (its recorder's events, the chat history, timings) when the
session closes; voxmem files it with the call so ``forget_user`` erases it with the rest.
Nothing here talks to voxmem; :class:`~voxmem.integrations._livekit_call.CallMemory`
sends what these helpers return.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["accepts", "close_reason_text", "proto_close_reason", "session_report"]

log = logging.getLogger("voxmem.livekit")


def session_report(source: Callable[[], Mapping[str, Any]],
                   close_reason: object) -> dict[str, Any] | None:
    """The report ``source`` builds, JSON-safe and with LiveKit's close reason in it;
    ``None`` (logged) when it cannot be built."""
    try:
        # JSON-safe: a report carries enums and timestamps the wire must not see raw.
        report: dict[str, Any] = json.loads(json.dumps(source(), default=str))
    except Exception as exc:
        log.warning("could not build the LiveKit session report (%s)", exc)
        return None
    if "close_reason" not in report and close_reason is not None:
        # LiveKit adds the close reason to its report from 1.8.9 on; earlier 1.8
        # releases leave it out. The stored report carries it either way, named as
        # LiveKit names it (the CloseReason proto value).
        report["close_reason"] = proto_close_reason(close_reason)
    return report


def close_reason_text(reason: object) -> str:
    """The ``reason`` for ``end_session`` from a LiveKit ``CloseReason`` (or a string)."""
    value = getattr(reason, "value", reason)
    return str(value) if value else "completed"


def proto_close_reason(reason: object) -> str:
    """A LiveKit ``CloseReason`` as its report names it (``CR_COMPLETED``, ...)."""
    name = getattr(reason, "name", None)
    if not isinstance(name, str):
        return "CR_UNKNOWN"
    return "CR_COMPLETED" if name == "TASK_COMPLETED" else f"CR_{name}"


def accepts(function: Callable[..., Any], parameter: str) -> bool:
    """Whether ``function`` takes ``parameter`` (a client without reports does not)."""
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
