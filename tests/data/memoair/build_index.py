import asyncio
import os

from dotenv import load_dotenv

from memoair_voice import MemoAirVoiceClient

load_dotenv()

INDEX_NAME = "agent-memory"

MEMORIES = [
    {
        "id": "return-policy",
        "text": "Returns accepted within 30 days of purchase with a receipt.",
        "metadata": {"kind": "faq", "topic": "returns"},
    },
    {
        "id": "shipping",
        "text": "Standard shipping is 3-5 business days. Express is 1-2 days.",
        "metadata": {"kind": "faq", "topic": "shipping"},
    },
    {
        "id": "support",
        "text": "Support is available 24/7 at support@example.com.",
        "metadata": {"kind": "faq", "topic": "support"},
    },
]


async def main() -> None:
    client = MemoAirVoiceClient(
        api_key=os.environ["MEMOAIR_API_KEY"],
        project_id=os.environ["MEMOAIR_PROJECT_ID"],
        agent_id=os.environ["MEMOAIR_AGENT_ID"],
    )
    try:
        result = await client.create_index(INDEX_NAME, MEMORIES)
        print(f"Indexed {result.chunk_count} chunks (version={result.version})")
    finally:
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
