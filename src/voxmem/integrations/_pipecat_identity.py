"""Who is on the line in a Pipecat bot: the caller, read from the runner's arguments.

Pipecat's runner hands a bot its session arguments; what identifies the caller depends
on how the call came in:

1. **Your backend** — a ``user_id`` (optionally ``name``, ``tenant_id``) in the request
   body your server sent when it started the bot, or in a media stream's custom
   parameters (Twilio ``<Parameter>``). The strongest signal.
2. **Daily dial-in** — ``body["dialin_settings"]["From"]``, the PSTN / SIP caller number.
3. **Twilio / Telnyx / Plivo / Exotel media streams** — the ``from`` number of the
   parsed telephony handshake (``runner_args.call_data``, or the dict that
   ``parse_telephony_websocket`` returns).
4. **Anonymous** — nothing is recorded and nothing is recalled.

Phone numbers go through the package's one E.164 normaliser
(:func:`voxmem.entities.normalize_phone`), so the same phone is the same caller whether it
rang through LiveKit SIP, Daily or Twilio. This module reads
attributes and keys only; it does not import Pipecat.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .._log_ids import caller_ref
from ._livekit_identity import CallerIdentity, normalize_e164

__all__ = ["caller_from_runner_args"]

log = logging.getLogger("voxmem.pipecat")


def _get(source: Any, *keys: str) -> Any:
    """The first of ``keys`` found on a mapping or as an attribute (Pydantic models)."""
    if source is None:
        return None
    for key in keys:
        if isinstance(source, Mapping):
            if key in source and source[key] is not None:
                return source[key]
        else:
            value = getattr(source, key, None)
            if value is not None:
                return value
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _phone_caller(raw: Any, *, source_name: str, call_id: Any,
                  default_country_code: str | None) -> CallerIdentity | None:
    text = _text(raw)
    if text is None:
        return None
    phone = normalize_e164(text, default_country_code=default_country_code)
    if phone is None:
        # A withheld number ("anonymous", "unknown") or a national number of an unknown
        # country: guessing would file different people under one id.
        log.info("the %s caller number (%s, %d digits) is not a usable phone number; the "
                 "call is anonymous", source_name, caller_ref(text),
                 sum(c.isdigit() for c in text))
        return None
    return CallerIdentity(user_id=phone, source="sip", phone=phone,
                          sip_call_id=_text(call_id))


def _backend_caller(body: Any, default_country_code: str | None) -> CallerIdentity | None:
    if not isinstance(body, Mapping):
        return None
    user_id = _text(body.get("user_id"))
    if user_id is None:
        return None
    return CallerIdentity(user_id=user_id, source="job_metadata",
                          tenant_id=_text(body.get("tenant_id")), name=_text(body.get("name")),
                          phone=normalize_e164(_text(body.get("phone")),
                                               default_country_code=default_country_code))


def caller_from_runner_args(
    runner_args: Any = None,
    *,
    call_data: Any = None,
    default_country_code: str | None = None,
) -> CallerIdentity:
    """Resolve the caller of a Pipecat bot session; anonymous when nothing identifies them.

    Args:
        runner_args: the ``RunnerArguments`` given to ``bot()`` (Daily, WebSocket or
            any other kind), or a plain request-body dict.
        call_data: the telephony handshake when you parsed it yourself (the dict from
            ``parse_telephony_websocket`` or its ``CallData`` model); by default
            ``runner_args.call_data`` is read.
        default_country_code: country of national numbers sent without a prefix
            (``"1"``, ``"44"``).

    Example::

        async def bot(runner_args: RunnerArguments) -> None:
            transport = await create_transport(runner_args, transport_params)
            caller = caller_from_runner_args(runner_args)
            memory = MemoryProcessor(client=client, user=caller)
    """
    body: Any = runner_args
    if runner_args is not None and not isinstance(runner_args, Mapping):
        body = getattr(runner_args, "body", None)
        if call_data is None:
            call_data = getattr(runner_args, "call_data", None)
    # Custom parameters of a media stream (Twilio's TwiML <Parameter>s) are your backend
    # speaking too.
    stream_body = _get(call_data, "body")
    for source in (body, stream_body):
        identity = _backend_caller(source, default_country_code)
        if identity is not None:
            return identity
    if isinstance(body, Mapping):
        dialin = body.get("dialin_settings")
        if dialin is not None:
            identity = _phone_caller(_get(dialin, "From", "from"), source_name="Daily dial-in",
                                     call_id=_get(dialin, "call_id", "callId"),
                                     default_country_code=default_country_code)
            if identity is not None:
                return identity
    if call_data is not None:
        identity = _phone_caller(_get(call_data, "from_number", "from"),
                                 source_name="telephony",
                                 call_id=_get(call_data, "call_id", "call_sid"),
                                 default_country_code=default_country_code)
        if identity is not None:
            return identity
    return CallerIdentity.anonymous_caller()
