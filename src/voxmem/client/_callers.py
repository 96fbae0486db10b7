"""Client methods for callers and entities (SPEC §7): resolution, identifiers, merges.

Kept apart from the memory methods as two small mixins, one for :class:`VoiceClient`
and its blocking twin for :class:`VoiceClientSync`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._blocking import blocking

if TYPE_CHECKING:
    from ._core import ClientCore, OperationCall, UserArg

__all__ = ["CallerMethods", "CallerMethodsSync"]


class CallerMethods:
    """Async caller-directory methods of :class:`VoiceClient`."""

    _core: ClientCore
    if TYPE_CHECKING:
        async def _send(self, call: OperationCall, *, timeout_s: float | None = None) -> Any: ...

    async def resolve_caller(self, identifiers: Sequence[dict[str, str]], *,
                             user_id: str | None = None, name: str | None = None,
                             default_user_id: str | None = None,
                             session_id: str | None = None) -> dict[str, Any]:
        """The canonical caller of a starting call from its identifiers.

        ``identifiers`` are ``{"kind", "value", "source"}`` (kinds: phone, email, account,
        policy, external_id, livekit_identity, order, invoice, ticket, name, sip_call_id).
        Strong identifiers link on their own; a name only with an identifier its owner
        has. Returns ``{"userId", "linked", "created", "reason", "evidence", ...}``.

        Example::

            found = await client.resolve_caller(
                [{"kind": "phone", "value": "+1 510 555 0100", "source": "sip"}],
                default_user_id="+15105550100")
            await client.preload(user={"id": found["userId"]})
        """
        return self._core.parse_dict(await self._send(self._core.call(
            "resolve_caller", identifiers=list(identifiers), user_id=user_id, name=name,
            default_user_id=default_user_id, session_id=session_id)))

    async def link_identifier(self, kind: str, value: str, *, user: UserArg = None,
                              user_id: str | None = None, source: str = "api") -> dict[str, Any]:
        """Link one identifier (as written or spoken) to the caller."""
        return self._core.parse_dict(await self._send(self._core.call(
            "link_identifier", user=user, user_id=user_id, kind=kind, value=value,
            source=source)))

    async def unlink_identifier(self, kind: str, value: str, *, user: UserArg = None,
                                user_id: str | None = None) -> dict[str, Any]:
        """Remove one identifier from the caller (a phone linked by mistake).

        ``value`` is read as when it was linked ("(510) 555-0100" finds "+15105550100").
        Returns the link removed; ``NotFound`` when the caller has no such identifier.
        Identifiers in the caller's metadata are linked again at their next call start.

        Example::

            await client.unlink_identifier("phone", "+1 510 555 0100", user_id="ann")
        """
        return self._core.parse_dict(await self._send(self._core.call(
            "unlink_identifier", user=user, user_id=user_id, kind=kind, value=value)))

    async def find_callers(self, identifier: str) -> list[dict[str, Any]]:
        """Callers linked to ``identifier`` (phone, e-mail, account, ... or a name)."""
        return self._core.parse_list(await self._send(self._core.call(
            "find_callers", identifier=identifier)))

    async def show_caller(self, *, user: UserArg = None,
                          user_id: str | None = None) -> dict[str, Any]:
        """The caller's identifiers, merges and entity graph."""
        return self._core.parse_dict(await self._send(self._core.call(
            "show_caller", user=user, user_id=user_id)))

    async def merge_callers(self, from_id: str, to_id: str, *, reason: str | None = None,
                            propose: bool = False) -> dict[str, Any]:
        """Merge caller ``from_id`` into ``to_id`` (undoable; ``propose`` only records it)."""
        return self._core.parse_dict(await self._send(self._core.call(
            "merge_callers", from_id=from_id, to_id=to_id, reason=reason,
            status="proposed" if propose else "merged")))

    async def unmerge_callers(self, merge_id: str) -> dict[str, Any]:
        """Undo merge ``merge_id``: both callers get back exactly what they had."""
        return self._core.parse_dict(await self._send(self._core.call(
            "unmerge_callers", merge_id=merge_id)))

    async def list_merges(self, *, user_id: str | None = None) -> list[dict[str, Any]]:
        """Recorded merges of the project (or of one caller), newest first."""
        return self._core.parse_list(await self._send(self._core.call(
            "list_merges", user_id=user_id)))


class CallerMethodsSync:
    """Blocking caller-directory methods of :class:`VoiceClientSync`, derived from
    :class:`CallerMethods` (see ``_blocking``)."""

    resolve_caller = blocking(CallerMethods.resolve_caller)
    link_identifier = blocking(CallerMethods.link_identifier)
    unlink_identifier = blocking(CallerMethods.unlink_identifier)
    find_callers = blocking(CallerMethods.find_callers)
    show_caller = blocking(CallerMethods.show_caller)
    merge_callers = blocking(CallerMethods.merge_callers)
    unmerge_callers = blocking(CallerMethods.unmerge_callers)
    list_merges = blocking(CallerMethods.list_merges)
