"""The LiveKit integration with a client built from only a tenant's API key, against a
real runtime on loopback (SQLite and Postgres; the runtime of tests/test_tenant_keys.py).

Found by this test: such a client reads ``tenant_id == "default"`` (it was given none, and
its calls run in its key's tenant), so a job naming the key's own tenant ("acme") had
memory switched off for every call. The client now asks the runtime whether its key
serves the job's tenant; a job naming another tenant still gets no memory.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("livekit.agents")
from livekit.agents import AgentSession

from tests.livekit_fakes import TEMPLATE, ScriptedLLM
from tests.test_tenant_keys import Runtime, runtime  # noqa: F401  (the fixture)
from voxmem.integrations.livekit import CallerIdentity, MemoryAgent, attach_memory

SAID = "Please leave my parcels in the blue shed"


class _Entering(MemoryAgent):
    """Says when on_enter is done: the memory is open (the first call of a client with a
    key asks the runtime about its tenant first, a round trip)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entered = asyncio.Event()

    async def on_enter(self) -> None:
        await super().on_enter()
        self.entered.set()


def _caller(tenant: str) -> CallerIdentity:
    return CallerIdentity(user_id="caller-key", source="job_metadata", tenant_id=tenant)


async def test_a_client_with_only_a_tenant_key_serves_callers_of_its_tenant(
        runtime: Runtime) -> None:  # noqa: F811
    client = runtime.client("acme")  # acme's key, no tenant_id
    admin = runtime.client(tenant_id="acme")
    try:
        assert client.tenant_id == "default"  # what it was given: nothing
        session: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
        agent = _Entering(client=client, user=_caller("acme"), instructions=TEMPLATE)
        await session.start(agent)
        await agent.entered.wait()
        await session.run(user_input=SAID)
        await session.aclose()
        memory = agent.memory
        assert memory is not None and memory.enabled
        assert await memory.wait_closed(30) and memory.save_failures == 0
        exported = await admin.export_user(user={"id": "caller-key"})
        turns = [i for i in exported["items"] if i["kind"] == "turn"]
        assert [t["userText"] for t in turns] == [SAID]

        # A caller of another tenant: memory is off, nothing is written anywhere.
        for tenant in ("beta", "default"):
            other: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
            refused = MemoryAgent(client=client, user=_caller(tenant), instructions=TEMPLATE)
            await other.start(refused)
            await other.run(user_input="hello")
            await other.aclose()
            assert refused.memory is not None and not refused.memory.enabled
        plain: AgentSession[Any] = AgentSession(llm=ScriptedLLM())
        attached = await attach_memory(plain, client=client, user=_caller("acme"))
        assert attached.enabled
        await attached.aclose()
    finally:
        await client.aclose()
        await admin.aclose()
