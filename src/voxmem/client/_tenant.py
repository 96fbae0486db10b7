"""Which tenant a client's calls run in, for integrations that file a caller under the
tenant their job names.

A client given ``tenant_id`` runs in it. One given none sends no tenant: the runtime
runs it in the default tenant, or in the tenant of the API key it signs in with, which
the client does not know (a key reads ``vxk_<id>_<secret>``, no tenant in it). So
``client.tenant_id`` reads ``"default"`` for a client built with only tenant acme's key,
and a LiveKit job naming tenant acme found it serving "default" and switched memory off
for every call. :func:`serves_tenant` asks the runtime instead, once per client and
tenant: a call naming the tenant is refused (403) unless the key is bound to it.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

from .._exceptions import Unauthorized
from ._core import ClientCore

if TYPE_CHECKING:
    from ._client import VoiceClient

__all__ = ["serves_tenant"]

log = logging.getLogger("voxmem.client")

#: The shape of a tenant's API key (``voxmem.store._api_keys.KEY_PREFIX``; not imported:
#: a client process never loads the store).
_KEY_PREFIX = "vxk_"
_ANSWERS: weakref.WeakKeyDictionary[VoiceClient, dict[str, bool]] = (
    weakref.WeakKeyDictionary())


def _key_of(client: VoiceClient) -> str | None:
    remote = getattr(getattr(client, "_transport", None), "_remote", None)
    token = getattr(remote, "token", None)
    return token if isinstance(token, str) and token.startswith(_KEY_PREFIX) else None


async def serves_tenant(client: VoiceClient, tenant: str, *, timeout_s: float) -> bool:
    """Whether ``client``'s calls run in ``tenant``: the tenant it was given; with none
    and a tenant's API key, whether the key is bound to ``tenant`` (asked of the runtime
    once, within ``timeout_s``; ``False`` when it cannot tell); else the default tenant.
    """
    core = client._core
    if core.wire_tenant is not None or _key_of(client) is None:
        return core.tenant_id == tenant
    answers = _ANSWERS.setdefault(client, {})
    if tenant in answers:
        return answers[tenant]
    probe = ClientCore(project_id=core.project_id, agent_id=core.agent_id, tenant_id=tenant)
    try:
        await client._transport.call(probe.call("get_memory_policy"), timeout_s=timeout_s)
    except Unauthorized as exc:
        if exc.code != "forbidden":
            raise
        answers[tenant] = False  # the key is bound to another tenant
        return False
    except Exception as exc:  # unknown, not remembered: the next call asks again
        log.warning("could not ask the runtime which tenant this client's API key serves "
                    "(%s)", exc)
        return False
    answers[tenant] = True
    return True
