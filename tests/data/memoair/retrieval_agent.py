import asyncio
import logging
import os

from dotenv import load_dotenv
from livekit.agents import (
    Agent,
    AgentSession,
    ChatContext,
    ChatMessage,
    JobContext,
    WorkerOptions,
    cli,
)
from livekit.plugins import deepgram, openai, silero
from livekit.plugins.turn_detector.english import EnglishModel

from memoair_voice import MemoAirVoiceClient

load_dotenv()
logging.basicConfig(level=logging.INFO)
logger = logging.getLogger("memoair-agent")


class MemoAirRetrievalAgent(Agent):
    def __init__(self, client: MemoAirVoiceClient, *, user_id: str):
        super().__init__(
            instructions=(
                "You are a helpful voice assistant. Use the memory context "
                "provided in system messages to answer the user. If memory "
                "does not cover the question, answer from general knowledge."
            )
        )
        self._client = client
        self._user_id = user_id
        self._pending_user_text: str | None = None

    async def on_user_turn_completed(
        self, turn_ctx: ChatContext, new_message: ChatMessage
    ) -> None:
        user_text = new_message.text_content or ""
        self._pending_user_text = user_text
        try:
            result = await self._client.search_memory(
                user_text,
                user={"id": self._user_id},
                timeout_ms=250,
            )
            context = (result.contextText or "").strip()
            if context:
                idx = turn_ctx.items.index(new_message)
                turn_ctx.items.insert(
                    idx,
                    ChatMessage(role="system", content=[context]),
                )
        except Exception as exc:
            logger.warning("search_memory failed: %s", exc)


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()

    user_id = ctx.room.local_participant.identity or "console-user"

    client = MemoAirVoiceClient(
        api_key=os.environ["MEMOAIR_API_KEY"],
        project_id=os.environ["MEMOAIR_PROJECT_ID"],
        agent_id=os.environ["MEMOAIR_AGENT_ID"],
    )
    try:
        agent = MemoAirRetrievalAgent(client, user_id=user_id)

        session = AgentSession(
            stt=deepgram.STT(),
            llm=openai.LLM(model="gpt-4o"),
            tts=openai.TTS(),
            turn_detection=EnglishModel(),
            vad=silero.VAD.load(),
        )

        @session.on("conversation_item_added")
        def _on_item_added(event) -> None:
            if (
                getattr(event.item, "role", None) == "assistant"
                and agent._pending_user_text is not None
            ):
                user_text = agent._pending_user_text
                assistant_text = event.item.text_content or ""
                agent._pending_user_text = None
                asyncio.create_task(
                    client.save_response(
                        user_text=user_text,
                        assistant_text=assistant_text,
                        user={"id": user_id},
                    )
                )

        await session.start(agent=agent, room=ctx.room)
    finally:
        await client.aclose()


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
