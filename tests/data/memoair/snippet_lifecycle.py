from memoair_voice import MemoAirVoiceClient  # noqa: F401  (the client is given)

session = await client.session(user={"id": "caller_42", "name": "Alex"})
async with session as s:
    result = await s.search_memory("what did we discuss?")
    await s.save_response(user_text="what did we discuss?", assistant_text="...")

await client.aclose()
