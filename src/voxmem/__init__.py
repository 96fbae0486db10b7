"""voxmem: local-first memory for real-time voice agents.

Example::

    from voxmem import VoiceClient

    client = VoiceClient(project_id="support", agent_id="front-desk", embedded=True)
    user = {"id": "caller-42", "name": "Dana"}
    await client.save_response(user_text="Mornings suit me best",
                               assistant_text="I'll book mornings.", user=user)
    result = await client.search_memory("when should we call?", user=user)
"""

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
from .compaction import CompactedTranscript, compact_transcript
from .models import Caller, IndexBuildResult, Preload, Scope, SearchResult

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
