"""Memory for an agent class you already have: ``MemoryMixin`` + ``attach_memory``.

For teams with their own ``Agent`` subclass (their own constructor, hooks, ``llm_node``):

- ``attach_memory(session, ...)`` before ``session.start`` opens the caller's memory,
  saves every turn from the session's events and ends the call when the session closes;
- adding ``MemoryMixin`` to the class (first or last among the bases, either works) gives
  it the preload in its own message after the instructions, recall before every reply on
  speech and text input, and compaction of long calls. The class's own ``on_enter``,
  ``on_user_turn_completed`` and ``llm_node`` keep working, ``super()`` or not;
- one ``VoiceClient`` per worker process, made in LiveKit's per-process set-up
  (``AgentServer(setup_fnc=...)``) and shared by every job the process runs.

    pip install 'voxmem[livekit]'
    python examples/livekit_plain_agent.py console
    python examples/livekit_plain_agent.py dev

Same environment as examples/livekit_agent.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncGenerator
from typing import Any

from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobProcess,
    cli,
    llm,
)
from livekit.agents.voice import ModelSettings

from voxmem import VoiceClient
from voxmem.integrations.livekit import (
    CallerIdentity,
    MemoryMixin,
    attach_memory,
    memory_tools,
    on_session_end,
    resolve_caller_for_job,
)

# The instructions carry no per-caller text, so every call shares one cached prompt prefix.
INSTRUCTIONS = """\
You are Max, a friendly voice concierge. Spoken replies: short, no lists.

Use search_memories when the caller refers to an earlier call, remember_detail to keep
lasting preferences, and update_profile when they tell you their name or email."""


class CompanyAgent(Agent):
    """Stands for the agent base class a team already has."""

    def __init__(self, *, brand: str) -> None:
        super().__init__(instructions=INSTRUCTIONS, tools=memory_tools())
        self.brand = brand

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions=f"Greet the caller on behalf of "
                                                 f"{self.brand}; by name if you know it.")

    async def llm_node(self, chat_ctx: llm.ChatContext, tools: list[llm.Tool],
                       model_settings: ModelSettings) -> AsyncGenerator[Any, None]:
        # A team's own node: whatever it does, it ends in LiveKit's default node.
        async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
            yield chunk


class Concierge(MemoryMixin, CompanyAgent):
    """The same agent, with memory."""


def prewarm(proc: JobProcess) -> None:
    """Once per worker process: one memory client for every job the process runs."""
    proc.userdata["voxmem"] = VoiceClient(
        project_id=os.environ.get("VOXMEM_PROJECT_ID", "concierge"), agent_id="concierge",
        embedded=os.environ.get("VOXMEM_EMBEDDED") == "1")


server = AgentServer(setup_fnc=prewarm)


@server.rtc_session(agent_name="voxmem-concierge", on_session_end=on_session_end)
async def entrypoint(ctx: JobContext) -> None:
    client: VoiceClient = ctx.proc.userdata["voxmem"]
    caller = (CallerIdentity.explicit(os.environ.get("VOXMEM_CONSOLE_CALLER", "console-caller"))
              if ctx.is_fake_job() else await resolve_caller_for_job(ctx))
    session: AgentSession[Any] = AgentSession(
        stt=os.environ.get("VOXMEM_STT", "deepgram/nova-3"),
        llm=os.environ.get("VOXMEM_LLM", "openai/gpt-4.1-mini"),
        tts=os.environ.get("VOXMEM_TTS", "cartesia/sonic-3"),
    )
    await attach_memory(session, client=client, user=caller)
    await session.start(agent=Concierge(brand="Harbor Hotel"), room=ctx.room)


if __name__ == "__main__":
    # Without a LiveKit server's URL and keys LiveKit fails with a traceback once started.
    missing = [name for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
               if not os.environ.get(name)]
    if sys.argv[1:2] in (["console"], ["dev"], ["start"], ["connect"]) and missing:
        sys.exit(f"{sys.argv[1]} needs {', '.join(missing)} (your LiveKit server or LiveKit "
                 "Cloud project; the models go through LiveKit Inference)")
    cli.run_app(server)
