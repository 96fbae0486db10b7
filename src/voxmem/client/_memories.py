"""Client methods for a caller's memories, memory policies and the quarantine.

A mixin of :class:`VoiceClient`, like the caller-directory methods in ``_callers``;
``VoiceClientSync`` derives its blocking twins from these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._config import UNSET, Unset

if TYPE_CHECKING:
    from ._core import ClientCore, OperationCall, UserArg

__all__ = ["MemoryMethods"]


class MemoryMethods:
    """Async memory-management methods of :class:`VoiceClient`."""

    _core: ClientCore
    if TYPE_CHECKING:
        async def _send(self, call: OperationCall, *, timeout_s: float | None = None) -> Any: ...

    async def list_memories(self, *, user: UserArg = None, user_id: str | None = None,
                            include_deleted: bool = False) -> list[dict[str, Any]]:
        """The caller's facts, newest first; ``include_deleted`` adds superseded and
        deleted ones (with ``validTo`` / ``deletedAt``)."""
        return self._core.parse_list(await self._send(self._core.call(
            "list_memories", user=user, user_id=user_id, include_deleted=include_deleted)))

    async def session_memories(self, *, user: UserArg = None, user_id: str | None = None,
                               session_id: str) -> list[dict[str, Any]]:
        """Memories written during one call."""
        return self._core.parse_list(await self._send(self._core.call(
            "session_memories", user=user, user_id=user_id, session_id=session_id)))

    async def delete_memory(self, memory_id: str, *, user: UserArg = None,
                            user_id: str | None = None) -> dict[str, Any]:
        """Delete one memory: gone from recall at once, from disk at the next cleanup."""
        return self._core.parse_dict(await self._send(self._core.call(
            "delete_memory", user=user, user_id=user_id, memory_id=memory_id)))

    async def remember(self, *, user: UserArg = None, user_id: str | None = None,
                       memory_type: str, content: str) -> dict[str, Any]:
        """Upsert the caller's value for ``memory_type`` (one value per type)."""
        return self._core.parse_dict(await self._send(self._core.call(
            "remember", user=user, user_id=user_id, memory_type=memory_type,
            content=content)))

    async def recall(self, *, user: UserArg = None, user_id: str | None = None,
                     memory_type: str) -> str | None:
        """The caller's current value for ``memory_type``, or None."""
        data = self._core.parse_dict(await self._send(self._core.call(
            "recall", user=user, user_id=user_id, memory_type=memory_type)))
        content = data.get("content")
        return str(content) if content is not None else None

    async def forget(self, *, user: UserArg = None, user_id: str | None = None,
                     memory_type: str) -> bool:
        """Delete the caller's value for ``memory_type``; True when there was one."""
        data = self._core.parse_dict(await self._send(self._core.call(
            "forget", user=user, user_id=user_id, memory_type=memory_type)))
        return bool(data.get("forgotten"))

    async def forget_user(self, *, user: UserArg = None,
                          user_id: str | None = None) -> dict[str, Any]:
        """Erase everything about the caller: facts, turns, calls, journal, profile."""
        return self._core.parse_dict(await self._send(self._core.call(
            "forget_user", user=user, user_id=user_id)))

    async def export_user(self, *, user: UserArg = None,
                          user_id: str | None = None) -> dict[str, Any]:
        """Everything stored about the caller, for a data request."""
        return self._core.parse_dict(await self._send(self._core.call(
            "export_user", user=user, user_id=user_id)))

    async def import_user(self, export: dict[str, Any], *, user: UserArg = None,
                          user_id: str | None = None,
                          trust_identifiers: bool = False) -> dict[str, Any]:
        """Put a caller back from ``export_user``'s answer (``voxmem memories import``
        reads an export file into the same shape): calls, turns and facts under their
        ids and times, the profile, deletions and supersessions, and (format 2) the
        caller's identifiers, merges and entity graph. Into the export's own caller
        unless ``user``/``user_id`` names another. Importing twice stores once; an
        export of a format this release does not read is refused. Identifier links come
        back unverified (a call start does not resolve to them) unless
        ``trust_identifiers`` says the file is the operator's own; a merge in force of
        an id the store holds is refused (docs/callers.md, "Importing a caller")."""
        keys = ["format", "name", "metadata", "profile", "sessions", "items"]
        if export.get("format") != 1:  # format 1 listed them without what imports them
            keys += ["identifiers", "merges", "graph"]
        fields = {key: export[key] for key in keys if key in export}
        if trust_identifiers:  # sent only when set: a runtime before it refuses the field
            fields["trust_identifiers"] = True
        if user is None and user_id is None:
            user_id = export.get("userId")
        return self._core.parse_dict(await self._send(self._core.call(
            "import_user", user=user, user_id=user_id, **fields)))

    async def merge_users(self, from_id: str, to_id: str) -> dict[str, Any]:
        """Move everything of caller ``from_id`` (a guest) to ``to_id`` (the account)."""
        return self._core.parse_dict(await self._send(self._core.call(
            "merge_users", from_id=from_id, to_id=to_id)))

    async def get_memory_policy(self) -> dict[str, Any]:
        """Memory on/off and retention of the project and its agents."""
        return self._core.parse_dict(await self._send(self._core.call(
            "get_memory_policy")))

    async def set_memory_policy(self, *, memory_enabled: bool | Unset = UNSET,
                                memory_retention_days: int | Unset = UNSET,
                                level: str = "project") -> dict[str, Any]:
        """Set memory on/off and retention (days, 0 = no cap) for the project, or for
        this client's agent with ``level="agent"``. An argument not given keeps the
        value in force at that level (its policy, else the runtime's settings)."""
        return self._core.parse_dict(await self._send(self._core.call(
            "set_memory_policy", memory_enabled=memory_enabled,
            memory_retention_days=memory_retention_days, level=level)))

    async def list_quarantined(self) -> list[dict[str, Any]]:
        """Journal records the store refused for bad data (not an outage), set aside so
        later writes go on: ``{"seq", "error", "at", "userId", "projectId", "record"}``."""
        result = self._core.parse_dict(await self._send(self._core.call(
            "list_quarantined")))
        records: list[dict[str, Any]] = result.get("records", [])
        return records

    async def retry_quarantined(self, seq: int) -> dict[str, Any]:
        """Send quarantined record ``seq`` to the store again (its cause is fixed); if
        refused again it is quarantined again under a new number."""
        return self._core.parse_dict(await self._send(self._core.call(
            "retry_quarantined", seq=seq)))
