"""A LiveKit voice agent that remembers its callers: voxmem + LiveKit Agents 1.8.

What it shows, end to end:

- the caller is identified from the job metadata, the SIP caller number or the remote
  participant (never the agent itself); in ``console`` mode, a fixed demo caller;
- ``MemoryAgent`` preloads the caller's memory into a message of its own after the
  instructions (which stay the same for every caller, so the LLM provider can cache
  them) before it greets them, recalls under 250 ms on every turn, compacts long calls
  and saves every turn on its own;
- one memory client per worker process, made in LiveKit's per-process set-up
  (``AgentServer(setup_fnc=prewarm)``) and shared by the process's jobs;
- ``memory_tools()`` lets the model remember details and look up the knowledge base;
- a handoff to a billing agent keeps the same call memory;
- ``on_session_end`` stores LiveKit's session report with the call.

Run it::

    pip install 'voxmem[livekit]'
    python examples/livekit_agent.py seed            # once: a small FAQ knowledge base
    python examples/livekit_agent.py download-files  # once: VAD / turn-detector models
    python examples/livekit_agent.py console         # talk to it in this terminal
    python examples/livekit_agent.py dev             # serve rooms of your LiveKit server

The speech and language models go through LiveKit Inference, so ``dev`` and ``console``
need ``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET``; choose other models
with ``VOXMEM_STT``, ``VOXMEM_LLM`` and ``VOXMEM_TTS``. Memory is local: by default the
first call starts the host's voxmem runtime (shared by every worker process); set
``VOXMEM_EMBEDDED=1`` to run the engine inside the worker instead. Call twice in
``console`` mode and the agent greets you by name the second time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobProcess,
    RunContext,
    cli,
    function_tool,
)

from voxmem import VoiceClient
from voxmem.integrations.livekit import (
    CallerIdentity,
    MemoryAgent,
    memory_tools,
    on_session_end,
    resolve_caller_for_job,
)

PROJECT_ID = os.environ.get("VOXMEM_PROJECT_ID", "acme-support")
AGENT_ID = os.environ.get("VOXMEM_AGENT_ID", "front-desk")
CONSOLE_CALLER = os.environ.get("VOXMEM_CONSOLE_CALLER", "console-caller")

FRONT_DESK = """\
You are Ava, the voice assistant at the front desk of Acme Grooming.
Your replies are spoken: one or two short sentences, no lists, no markdown.
What you know about the caller from earlier calls comes in the next message.

Greet returning callers by name and pick up open commitments. When a caller tells you
something worth keeping (a pet's name, a preferred time), remember it with
remember_detail. Look up prices, hours and policies with search_knowledge. Hand
billing questions to the billing desk."""

BILLING = """\
You are the billing desk of Acme Grooming. Short spoken answers only."""

FAQ = [
    {"id": "hours", "text": "Acme Grooming is open 8am to 6pm, Tuesday to Saturday."},
    {"id": "prices", "text": "A full groom costs 65 dollars for small dogs and 90 dollars "
                             "for large dogs. Nail trims are 15 dollars."},
    {"id": "cancellations", "text": "Appointments can be moved or cancelled free of "
                                    "charge up to 24 hours ahead."},
]


def memory_client() -> VoiceClient:
    embedded = os.environ.get("VOXMEM_EMBEDDED") == "1"
    return VoiceClient(project_id=PROJECT_ID, agent_id=AGENT_ID, embedded=embedded)


class FrontDesk(MemoryAgent):
    """The receptionist. Everything memory does comes from ``MemoryAgent``."""

    def __init__(self, client: VoiceClient, caller: CallerIdentity) -> None:
        super().__init__(
            client=client, user=caller, instructions=FRONT_DESK, tools=memory_tools(),
            greeting_instructions="Greet the caller; by name if you know it.")
        self._client = client
        self._caller = caller

    @function_tool
    async def transfer_to_billing(self, context: RunContext[Any]) -> Agent:
        """Hand the caller to the billing desk for invoices, charges and refunds."""
        return MemoryAgent(client=self._client, user=self._caller, instructions=BILLING,
                           tools=memory_tools(include=["search_memories", "search_knowledge"]),
                           greeting_instructions="Say you are the billing desk and ask "
                                                 "how you can help.")


def prewarm(proc: JobProcess) -> None:
    """Once per worker process: the memory client every job of the process shares.

    A job's caller gets their own session inside it (the client's pool), and the host's
    runtime (or the embedded engine) loads the embedding model once, not per call.
    """
    proc.userdata["voxmem"] = memory_client()


server = AgentServer(setup_fnc=prewarm)


@server.rtc_session(agent_name="voxmem-front-desk", on_session_end=on_session_end)
async def entrypoint(ctx: JobContext) -> None:
    client: VoiceClient = ctx.proc.userdata["voxmem"]
    if ctx.is_fake_job():
        # console mode: no room, no dispatch metadata; a fixed caller makes calls repeatable
        caller = CallerIdentity.explicit(CONSOLE_CALLER)
    else:
        caller = await resolve_caller_for_job(ctx)
    logging.getLogger("voxmem.example").info("caller %s (from %s)", caller.user_id,
                                             caller.source)
    session: AgentSession[Any] = AgentSession(
        stt=os.environ.get("VOXMEM_STT", "deepgram/nova-3"),
        llm=os.environ.get("VOXMEM_LLM", "openai/gpt-4.1-mini"),
        tts=os.environ.get("VOXMEM_TTS", "cartesia/sonic-3"),
    )
    await session.start(agent=FrontDesk(client, caller), room=ctx.room)


async def seed() -> None:
    """Build (or refresh) the knowledge base the agent searches."""
    client = memory_client()
    try:
        result = await client.create_index("faq", FAQ)
        print(f"indexed {result.chunk_count} chunks into 'faq' (version {result.version})")
    finally:
        await client.aclose()


#: What LiveKit's commands that serve calls need; without them LiveKit fails with a
#: traceback (and exit status 0) after it has started.
LIVEKIT_VARIABLES = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


def missing_livekit_variables(argv: list[str]) -> str | None:
    """A one-line reason this command cannot run, or ``None``."""
    missing = [name for name in LIVEKIT_VARIABLES if not os.environ.get(name)]
    if argv[1:2] in (["console"], ["dev"], ["start"], ["connect"]) and missing:
        return (f"{argv[1]} needs {', '.join(missing)} (your LiveKit server or LiveKit "
                "Cloud project; the speech and language models go through LiveKit "
                "Inference). The memory needs none: try `seed` first.")
    return None


if __name__ == "__main__":
    if sys.argv[1:2] == ["seed"]:
        asyncio.run(seed())
    elif (reason := missing_livekit_variables(sys.argv)) is not None:
        sys.exit(reason)
    else:
        cli.run_app(server)
