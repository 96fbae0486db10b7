"""Memory for a plain LiveKit ``Agent``, without subclassing: preload, tools, saves.

For agents you cannot (or would rather not) derive from ``MemoryAgent``:

- ``attach_memory(session, ...)`` opens the caller's memory, saves every turn from the
  session's events and ends the call when the session closes;
- the preload goes into your instructions with ``render_memory_instructions``;
- ``memory_tools()`` lets the model search and keep memories itself.

What you give up is the automatic recall before every reply: here the model asks for
memory through ``search_memories`` when it needs it.

    pip install 'voxmem[livekit]'
    python examples/livekit_plain_agent.py console
    python examples/livekit_plain_agent.py dev

Same environment as examples/livekit_agent.py.
"""

from __future__ import annotations

import os
from typing import Any

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli

from voxmem import VoiceClient
from voxmem.integrations.livekit import (
    CallerIdentity,
    attach_memory,
    memory_tools,
    on_session_end,
    render_memory_instructions,
    resolve_caller_for_job,
)

INSTRUCTIONS = """\
You are Max, a friendly voice concierge. Spoken replies: short, no lists.

{{memory}}

Use search_memories when the caller refers to an earlier call, remember_detail to keep
lasting preferences, and update_profile when they tell you their name or email."""


server = AgentServer()


@server.rtc_session(agent_name="voxmem-concierge", on_session_end=on_session_end)
async def entrypoint(ctx: JobContext) -> None:
    client = VoiceClient(project_id=os.environ.get("VOXMEM_PROJECT_ID", "concierge"),
                         agent_id="concierge",
                         embedded=os.environ.get("VOXMEM_EMBEDDED") == "1")
    ctx.add_shutdown_callback(client.aclose)
    caller = (CallerIdentity.explicit(os.environ.get("VOXMEM_CONSOLE_CALLER", "console-caller"))
              if ctx.is_fake_job() else await resolve_caller_for_job(ctx))

    session: AgentSession[Any] = AgentSession(
        stt=os.environ.get("VOXMEM_STT", "deepgram/nova-3"),
        llm=os.environ.get("VOXMEM_LLM", "openai/gpt-4.1-mini"),
        tts=os.environ.get("VOXMEM_TTS", "cartesia/sonic-3"),
    )
    # Before start: the preload is in the instructions of the very first reply.
    memory = await attach_memory(session, client=client, user=caller)
    preload = memory.preload.context_text if memory.preload is not None else None
    agent = Agent(instructions=render_memory_instructions(INSTRUCTIONS, preload),
                  tools=memory_tools())
    await session.start(agent=agent, room=ctx.room)
    session.generate_reply(instructions="Greet the caller; by name if you know it.")


if __name__ == "__main__":
    cli.run_app(server)
