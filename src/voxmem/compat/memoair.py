"""Code written for the ``memoair-voice`` / ``memoair-livekit`` SDKs, running on voxmem.

Change only the imports::

    from memoair_voice import MemoAirVoiceClient        # before
    from memoair_livekit import MemoAirLiveKitAgent
    from voxmem.compat.memoair import MemoAirLiveKitAgent, MemoAirVoiceClient  # after

Everything runs on this machine with no network and no MemoAir account: a given API key
or cloud URL is accepted and ignored (one log line says so). Results, errors and pool
codes have the SDK's names and fields. Where the SDK's documented behaviour is a known
mistake, the same behaviour runs and a one-time warning names the voxmem way. Every
difference is listed in docs/migrating-from-memoair.md.

``MemoAirLiveKitAgent`` needs LiveKit Agents (``pip install 'voxmem[livekit]'``); it is
imported on first use, so the rest works without LiveKit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._memoair_client import MemoAirSession, MemoAirVoiceClient, MemoAirVoiceMemory
from ._memoair_sync import MemoAirVoiceMemorySync, MemoryToolSync
from ._memoair_tool import MemoryTool
from ._memoair_types import (
    IndexBuildResult,
    IndexLoadResult,
    MemoAirVoiceMemoryError,
    SearchResult,
)

if TYPE_CHECKING:  # imported lazily below: it needs LiveKit Agents
    from ._memoair_livekit import MemoAirLiveKitAgent

__all__ = [
    "IndexBuildResult",
    "IndexLoadResult",
    "MemoAirLiveKitAgent",
    "MemoAirSession",
    "MemoAirVoiceClient",
    "MemoAirVoiceMemory",
    "MemoAirVoiceMemoryError",
    "MemoAirVoiceMemorySync",
    "MemoryTool",
    "MemoryToolSync",
    "SearchResult",
]


def __getattr__(name: str) -> Any:
    if name == "MemoAirLiveKitAgent":
        try:
            from ._memoair_livekit import MemoAirLiveKitAgent
        except ImportError as exc:
            raise ImportError("MemoAirLiveKitAgent needs LiveKit Agents: "
                              "pip install 'voxmem[livekit]'") from exc
        return MemoAirLiveKitAgent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
