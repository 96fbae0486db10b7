from memoair_voice import MemoAirVoiceClient  # noqa: F401  (the client is given)

await client.save_response(
    user_text="What time is standup?",
    assistant_text="10:30 IST.",
    user={"id": "caller_42", "name": "Alex"},
    metadata={"framework": "livekit", "interrupted": False},
)
