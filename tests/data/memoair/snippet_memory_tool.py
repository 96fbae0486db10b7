from memoair_voice import MemoAirVoiceClient  # noqa: F401  (the client is given)

tool = client.search_memory_tool()

openai_tools = [tool.schema()]

context = await tool("what does the user prefer for follow-ups?")
print(context)
print("trace:", tool.last_trace)
