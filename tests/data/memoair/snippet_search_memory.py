from memoair_voice import MemoAirVoiceClient  # noqa: F401  (the client is given)

result = await client.search_memory(
    "what timezone does the user prefer?",
    user={
        "id": "caller_42",
        "name": "Alex",
        "metadata": {"plan": "premium"},
    },
    lanes=["profile", "working", "permanent", "org"],
    timeout_ms=250,
)
print(result.contextText)
print("hit sources:", result.sources)
