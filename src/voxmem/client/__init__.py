"""Clients: async and sync, embedded or talking to the local runtime."""

from ._client import VoiceClient, VoiceClientSync

__all__ = ["VoiceClient", "VoiceClientSync"]
