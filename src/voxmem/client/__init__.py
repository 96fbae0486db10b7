"""Clients: async and sync; talking to the host's runtime (default), a remote runtime,
or an in-process engine."""

from ._client import CallerSession, VoiceClient
from ._sync import CallerSessionSync, VoiceClientSync
from ._tools import MemoryTool

__all__ = ["CallerSession", "CallerSessionSync", "MemoryTool", "VoiceClient",
           "VoiceClientSync"]
