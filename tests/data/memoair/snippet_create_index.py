from memoair_voice import MemoAirVoiceClient  # noqa: F401  (the client is given)

result = await client.create_index(
    "agent-memory",
    documents=[
        {"id": "returns", "text": "30-day returns with receipt.", "metadata": {"topic": "returns"}},
        {"id": "shipping", "text": "Express ships in 1-2 days.", "metadata": {"topic": "shipping"}},
    ],
)
print(f"Indexed {result.chunk_count} chunks, version={result.version}")
