"""voxmem: local-first memory for real-time voice agents.

Example::

    from voxmem import VoiceClient

    client = VoiceClient(project_id="support", agent_id="front-desk", embedded=True)
    user = {"id": "caller-42", "name": "Dana"}
    await client.save_response(user_text="Mornings suit me best",
                               assistant_text="I'll book mornings.", user=user)
    result = await client.search_memory("when should we call?", user=user)
"""

from typing import TYPE_CHECKING, Any

from ._config import Settings, settings_table
from ._exceptions import (
    BadRequest,
    IdentityMismatch,
    InternalError,
    MemoryTimeout,
    NotFound,
    PoolError,
    RuntimeStartFailed,
    StoreUnavailable,
    Unauthorized,
    VoxmemError,
)
from .client import CallerSession, CallerSessionSync, MemoryTool, VoiceClient, VoiceClientSync
from .models import Caller, IndexBuildResult, Preload, Scope, SearchResult

if TYPE_CHECKING:
    from .compaction import CompactedTranscript, compact_transcript

__version__ = "0.1.0"

__all__ = [
    "BadRequest",
    "Caller",
    "CallerSession",
    "CallerSessionSync",
    "CompactedTranscript",
    "IdentityMismatch",
    "IndexBuildResult",
    "InternalError",
    "MemoryTimeout",
    "MemoryTool",
    "NotFound",
    "PoolError",
    "Preload",
    "RuntimeStartFailed",
    "Scope",
    "SearchResult",
    "Settings",
    "StoreUnavailable",
    "Unauthorized",
    "VoiceClient",
    "VoiceClientSync",
    "VoxmemError",
    "__version__",
    "compact_transcript",
    "settings_table",
]

#: Public names imported on first access: every voice worker imports voxmem, and a
#: worker that only talks to a runtime must not pay for what it does not use (the
#: compactor's LLM summariser alone imports httpx and its CLI).
_LAZY = {"CompactedTranscript": "compaction", "compact_transcript": "compaction"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

