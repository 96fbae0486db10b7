"""Who is on the line: the caller of a LiveKit job, resolved in a fixed order.

1. **Job metadata** — JSON with ``user_id`` (and optional ``tenant_id``, ``name``) that
   your token server stamps on the agent dispatch. The strongest signal: your backend
   vouches for it.
2. **SIP caller number** — the ``sip.phoneNumber`` attribute of a SIP participant,
   normalised to E.164, so the same phone is the same caller whichever trunk it came in on.
3. **Remote participant identity** — of a participant who is a person (standard, SIP or
   connector kind). Never the agent's own local participant and never another agent: an
   agent's identity is the same for every call, and filing callers under it would pour
   everybody's memory into one namespace.
4. **Anonymous** — nothing is recorded and nothing is recalled.

This module only reads attributes, so it works with LiveKit's objects and with plain test
doubles of the same shape; it does not import LiveKit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol

from .._log_ids import caller_ref
from ..entities import normalize_phone, region_for_country_code

__all__ = [
    "CALLER_PARTICIPANT_KINDS",
    "CallerIdentity",
    "IdentitySource",
    "ParticipantLike",
    "RoomLike",
    "caller_from_job_metadata",
    "caller_from_participants",
    "normalize_e164",
    "resolve_caller",
]

log = logging.getLogger("voxmem.livekit")

IdentitySource = Literal["explicit", "job_metadata", "sip", "participant", "anonymous"]

# livekit.rtc.ParticipantKind values (stable protocol numbers). These are the kinds
# LiveKit itself treats as the person an agent serves (job.DEFAULT_PARTICIPANT_KINDS).
PARTICIPANT_KIND_STANDARD = 0
PARTICIPANT_KIND_SIP = 3
PARTICIPANT_KIND_AGENT = 4
PARTICIPANT_KIND_CONNECTOR = 5
CALLER_PARTICIPANT_KINDS = frozenset(
    {PARTICIPANT_KIND_STANDARD, PARTICIPANT_KIND_SIP, PARTICIPANT_KIND_CONNECTOR})

SIP_PHONE_ATTRIBUTE = "sip.phoneNumber"
SIP_CALL_ID_ATTRIBUTE = "sip.callID"


class ParticipantLike(Protocol):
    """What identity resolution reads from a ``livekit.rtc`` participant."""

    @property
    def identity(self) -> str: ...

    @property
    def kind(self) -> int: ...

    @property
    def attributes(self) -> Mapping[str, str]: ...


class RoomLike(Protocol):
    """What identity resolution reads from a ``livekit.rtc.Room``."""

    @property
    def local_participant(self) -> ParticipantLike: ...

    @property
    def remote_participants(self) -> Mapping[str, ParticipantLike]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class CallerIdentity:
    """The caller of one call, and how we know who they are.

    ``user_id`` is ``None`` for an anonymous caller: such a call is neither recorded nor
    recalled. ``tenant_id`` is set only when job metadata names one.

    Example::

        identity = resolve_caller(job_metadata=ctx.job.metadata, room=ctx.room)
        if not identity.anonymous:
            await client.preload(user=identity.to_user())
    """

    user_id: str | None
    source: IdentitySource
    tenant_id: str | None = None
    name: str | None = None
    phone: str | None = None
    participant_identity: str | None = None
    sip_call_id: str | None = None

    @property
    def anonymous(self) -> bool:
        """True when there is no stable id: memory is off for this call."""
        return self.user_id is None

    @classmethod
    def anonymous_caller(cls) -> CallerIdentity:
        """The identity of a caller we cannot recognise."""
        return cls(user_id=None, source="anonymous")

    @classmethod
    def explicit(cls, user: str | Mapping[str, Any], *,
                 tenant_id: str | None = None) -> CallerIdentity:
        """An identity you already know: a user id, or ``{"id": ..., "name": ...}``."""
        user_id: str | None
        if isinstance(user, str):
            user_id, name = user, None
        elif not isinstance(user, Mapping):
            user_id, name = None, None
        else:
            raw = user.get("id", user.get("user_id"))
            user_id = raw if isinstance(raw, str) else None
            raw_name = user.get("name")
            name = raw_name if isinstance(raw_name, str) and raw_name.strip() else None
        if user_id is None or not user_id.strip():
            raise ValueError("user must be a non-empty user id or a dict with a non-empty 'id'")
        return cls(user_id=user_id.strip(), source="explicit", tenant_id=tenant_id, name=name)

    def identifiers(self) -> dict[str, str]:
        """Every identifier seen for this caller, for later linking (§7 entity resolution)."""
        found = {"identity_source": self.source, "phone": self.phone,
                 "livekit_identity": self.participant_identity,
                 "sip_call_id": self.sip_call_id}
        return {k: v for k, v in found.items() if v}

    def to_user(self) -> dict[str, Any]:
        """The ``user=`` argument of :class:`voxmem.VoiceClient` calls.

        Raises:
            ValueError: for an anonymous caller, who must not be written anywhere.
        """
        if self.user_id is None:
            raise ValueError("an anonymous caller has no user id; memory is off for this call")
        user: dict[str, Any] = {"id": self.user_id, "metadata": self.identifiers()}
        if self.name:
            user["name"] = self.name
        return user


def normalize_e164(raw: str | None, *, default_country_code: str | None = None) -> str | None:
    """A phone number as E.164 (``+15105550100``), or ``None`` when it is not one.

    Accepts what SIP trunks and people send: ``tel:`` / ``sip:`` URIs, spaces, dashes,
    dots and parentheses, an international ``00`` prefix, and a missing ``+`` on a
    number long enough to carry its country code. A short national number (``(510)
    555-0100``) is only completed when ``default_country_code`` says which country it
    belongs to; guessing would file two people under one id.

    Example::

        normalize_e164("sip:+1 (510) 555-0100@trunk.example")   # '+15105550100'
        normalize_e164("020 7946 0018", default_country_code="44")  # '+442079460018'
    """
    region = region_for_country_code(default_country_code) if default_country_code else None
    return normalize_phone(raw, region)


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def caller_from_job_metadata(metadata: str | Mapping[str, Any] | None) -> CallerIdentity | None:
    """The caller named by the job's metadata (``{"user_id": ..., "tenant_id": ...}``).

    Returns ``None`` when the metadata is empty, not a JSON object, or has no ``user_id``.

    Example::

        caller_from_job_metadata('{"user_id": "u-123", "tenant_id": "acme"}').user_id  # 'u-123'
    """
    if metadata is None or metadata == "":
        return None
    data: Any = metadata
    if isinstance(metadata, str):
        try:
            data = json.loads(metadata)
        except ValueError:
            log.debug("job metadata is not JSON; not using it for caller identity")
            return None
    if not isinstance(data, Mapping):
        return None
    user_id = _text(data.get("user_id"))
    if user_id is None:
        return None
    return CallerIdentity(user_id=user_id, source="job_metadata",
                          tenant_id=_text(data.get("tenant_id")),
                          name=_text(data.get("name") or data.get("user_name")),
                          phone=normalize_e164(_text(data.get("phone"))))


def _is_caller(participant: ParticipantLike, local_identity: str | None) -> bool:
    identity = participant.identity
    if not isinstance(identity, str) or not identity.strip():
        return False
    if local_identity is not None and identity == local_identity:
        return False
    return participant.kind in CALLER_PARTICIPANT_KINDS


def _withheld(number: str | None) -> bool:
    """A SIP number attribute that names no number ("anonymous", "Restricted", "")."""
    return number is not None and not any(c.isdigit() for c in number)


def caller_from_participants(
    participants: Iterable[ParticipantLike], *, local_identity: str | None = None,
    default_country_code: str | None = None,
) -> CallerIdentity | None:
    """The caller among ``participants``: a SIP caller's phone first, else a person's identity.

    Participants that are the agent itself (``local_identity``), other agents, egress or
    ingress are skipped. Returns ``None`` when no participant is a person, and when a SIP
    caller withholds their number (``sip.phoneNumber`` "anonymous", "Restricted", ...).

    Example::

        caller_from_participants(room.remote_participants.values(),
                                 local_identity=room.local_participant.identity)
    """
    people = [p for p in participants if _is_caller(p, local_identity)]
    withheld = False
    for person in people:
        if person.kind != PARTICIPANT_KIND_SIP:
            continue
        attributes = person.attributes
        raw = attributes.get(SIP_PHONE_ATTRIBUTE)
        phone = normalize_e164(raw, default_country_code=default_country_code)
        if phone is not None:
            return CallerIdentity(user_id=phone, source="sip", phone=phone,
                                  participant_identity=person.identity,
                                  sip_call_id=attributes.get(SIP_CALL_ID_ATTRIBUTE) or None)
        withheld = withheld or _withheld(raw)
    if withheld:
        # A SIP caller who withholds their number has no stable id: their participant
        # identity ("sip_anonymous") is the same for every such caller, and taking it (or
        # another person in the room) would show one stranger another's memory.
        return None
    if not people:
        return None
    if len(people) > 1:
        log.debug("%d people in the room; taking %s as the caller", len(people),
                  caller_ref(people[0].identity))
    person = people[0]
    return CallerIdentity(user_id=person.identity, source="participant",
                          participant_identity=person.identity,
                          sip_call_id=person.attributes.get(SIP_CALL_ID_ATTRIBUTE) or None)


def resolve_caller(
    *,
    job_metadata: str | Mapping[str, Any] | None = None,
    room: RoomLike | None = None,
    participant: ParticipantLike | None = None,
    default_country_code: str | None = None,
) -> CallerIdentity:
    """Resolve the caller: job metadata → SIP phone → participant identity → anonymous.

    Args:
        job_metadata: ``ctx.job.metadata`` (a JSON string) or an already parsed mapping.
        room: the job's room; its remote participants are the candidates, and its local
            participant (the agent) is never taken as the caller.
        participant: the participant the session is linked to, when known; it is then the
            only candidate.
        default_country_code: country of national phone numbers without a prefix.

    Example::

        identity = resolve_caller(job_metadata=ctx.job.metadata, room=ctx.room)
    """
    from_job = caller_from_job_metadata(job_metadata)
    local_identity: str | None = None
    candidates: list[ParticipantLike] = []
    if room is not None:
        try:
            local_identity = room.local_participant.identity
            candidates = list(room.remote_participants.values())
        except Exception as exc:  # a room that is not connected has no participants yet
            log.debug("room participants unavailable (%s)", exc)
    if participant is not None:
        candidates = [participant]
    from_room = caller_from_participants(candidates, local_identity=local_identity,
                                         default_country_code=default_country_code)
    if from_job is not None:
        if from_room is None:
            return from_job
        # The backend's id wins; what the room tells us is kept as linked identifiers.
        return dataclasses.replace(
            from_job, phone=from_job.phone or from_room.phone,
            participant_identity=from_room.participant_identity,
            sip_call_id=from_room.sip_call_id)
    if from_room is not None:
        return from_room
    return CallerIdentity.anonymous_caller()


# -- caller resolution (SPEC §7) -----------------------------------------------------------

class _Resolver(Protocol):
    async def resolve_caller(self, identifiers: Any, *, user_id: str | None = None,
                             name: str | None = None, default_user_id: str | None = None,
                             session_id: str | None = None) -> dict[str, Any]: ...


def resolution_identifiers(identity: CallerIdentity) -> list[dict[str, str]]:
    """The identifiers of ``identity`` as ``resolve_caller`` takes them."""
    source = {"job_metadata": "metadata", "sip": "sip", "participant": "livekit",
              "explicit": "app"}.get(identity.source, identity.source)
    found = []
    if identity.phone:
        found.append({"kind": "phone", "value": identity.phone, "source": "sip"
                      if identity.source == "sip" else source})
    if identity.participant_identity and identity.participant_identity != identity.phone:
        found.append({"kind": "livekit_identity", "value": identity.participant_identity,
                      "source": "livekit"})
    if identity.sip_call_id:
        found.append({"kind": "sip_call_id", "value": identity.sip_call_id, "source": "sip"})
    if identity.source == "job_metadata" and identity.user_id:
        found.append({"kind": "external_id", "value": identity.user_id, "source": "metadata"})
    return found


async def canonical_identity(client: _Resolver, identity: CallerIdentity) -> CallerIdentity:
    """``identity`` with ``user_id`` replaced by the canonical caller its identifiers
    resolve to (a caller ringing from a new number whose e-mail or account is known).

    The app's own id (job metadata, or given explicitly) is kept as it is, and the
    room's identifiers are linked to it in the background (nothing to wait for). A SIP
    phone or participant identity is only a default, used when no known caller owns the
    call's identifiers. Resolution failing leaves the identity unchanged: memory must
    never abort a call.
    """
    identifiers = resolution_identifiers(identity)
    if identity.anonymous or not identifiers:
        return identity
    if identity.source in ("job_metadata", "explicit"):
        task = asyncio.ensure_future(_resolve(client, identity, identifiers, authoritative=True))
        _LINKING.add(task)
        task.add_done_callback(_LINKING.discard)
        return identity
    found = await _resolve(client, identity, identifiers, authoritative=False)
    user_id = found.get("userId")
    if isinstance(user_id, str) and user_id and user_id != identity.user_id:
        log.info("%s resolved to %s (%s)", caller_ref(identity.user_id), caller_ref(user_id),
                 found.get("reason"))
        return dataclasses.replace(identity, user_id=user_id)
    return identity


#: Background linking of an app's caller id to the room's identifiers.
_LINKING: set[asyncio.Future[dict[str, Any]]] = set()


async def _resolve(client: _Resolver, identity: CallerIdentity,
                   identifiers: list[dict[str, str]], *, authoritative: bool) -> dict[str, Any]:
    try:
        return await client.resolve_caller(
            identifiers, user_id=identity.user_id if authoritative else None,
            name=identity.name, default_user_id=None if authoritative else identity.user_id)
    except Exception as exc:
        log.warning("caller resolution failed (%s); keeping %s", exc, caller_ref(identity.user_id))
        return {}
