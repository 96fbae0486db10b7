import asyncio
import os
from memoair_voice import MemoAirVoiceClient


async def main() -> None:
    client = MemoAirVoiceClient(
        api_key=os.environ["MEMOAIR_API_KEY"],
        project_id=os.environ["MEMOAIR_PROJECT_ID"],
        agent_id=os.environ["MEMOAIR_AGENT_ID"],
    )
    try:
        await client.create_index(
            "agent-memory",
            documents=[
                {"id": "returns", "text": "Returns accepted within 30 days with a receipt.", "metadata": {"topic": "returns"}},
                {"id": "shipping", "text": "Express ships in 1-2 business days.", "metadata": {"topic": "shipping"}},
            ],
        )

        user_text = "How long do I have to return something?"

        user = {"id": "caller_42", "name": "Alex"}
        recall = await client.search_memory(
            user_text,
            user=user,
            timeout_ms=250,
        )
        print("context:", recall.contextText)

        assistant_text = "You have 30 days from purchase to return with a receipt."
        await client.save_response(
            user_text=user_text,
            assistant_text=assistant_text,
            user=user,
        )
    finally:
        await client.aclose()


asyncio.run(main())
