import asyncio
import os

from dotenv import load_dotenv
from livekit.agents import AgentSession, JobContext, WorkerOptions, cli
from livekit.plugins import deepgram, openai, silero
from livekit.plugins.turn_detector.english import EnglishModel

from memoair_livekit import MemoAirLiveKitAgent

load_dotenv()


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()

    raw = ctx.room.local_participant.identity
    user_id = raw if isinstance(raw, str) and raw.strip() else "console-user"

    agent = MemoAirLiveKitAgent(
        api_key=os.environ["MEMOAIR_API_KEY"],
        project_id=os.environ["MEMOAIR_PROJECT_ID"],
        agent_id=os.environ["MEMOAIR_AGENT_ID"],
        user_id=user_id,
        instructions=(
            "You are a helpful voice assistant with access to long-term memory. "
            "Relevant memories are injected as a system message before each reply — "
            "ground your answers in that context whenever it applies. Keep replies "
            "concise; the user is hearing them spoken aloud."
        ),
    )

    session = AgentSession(
        stt=deepgram.STT(),
        llm=openai.LLM(model="gpt-4o"),
        tts=openai.TTS(),
        turn_detection=EnglishModel(),
        vad=silero.VAD.load(),
    )

    @session.on("conversation_item_added")
    def _on_item_added(event) -> None:
        if getattr(event.item, "role", None) == "assistant":
            asyncio.create_task(
                agent.on_agent_response_completed(None, event.item)
            )

    await session.start(agent=agent, room=ctx.room)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
