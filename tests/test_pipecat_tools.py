"""Memory tools as Pipecat FunctionSchema objects, and the caller from runner arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

pytest.importorskip("pipecat")

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.adapters.llm.services.open_ai_adapter import OpenAILLMAdapter
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.runner.types import CallData, DailyRunnerArguments, WebSocketRunnerArguments
from pipecat.services.llm_service import FunctionCallParams

from tests.pipecat_fakes import (
    Conversation,
    Reply,
    ScriptedLLM,
    make_client,
    make_settings,
    stored_calls,
)
from voxmem import Settings, VoiceClient
from voxmem.integrations.pipecat import (
    TOOL_NAMES,
    CallerIdentity,
    MemoryProcessor,
    caller_from_runner_args,
    memory_tools,
    memory_tools_schema,
)

CALLER = {"id": "caller-9", "name": "Ivy"}

#: The runner arguments of a telephony call carry its socket; reading the caller never
#: touches it, and these tests have none.
NO_SOCKET: Any = None


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


async def call(tool: FunctionSchema, **arguments: Any) -> str:
    """Run a tool's handler the way Pipecat's LLM service does."""
    answers: list[str] = []

    async def result_callback(result: Any, **_: Any) -> None:
        answers.append(result)

    assert tool.handler is not None
    # Our handler reads only the arguments and the callback: no LLM service or pipeline
    # worker exists in this test, and Pipecat's types have no "none" for them.
    await tool.handler(FunctionCallParams(
        function_name=tool.name, tool_call_id="call-1", arguments=arguments,
        llm=cast(Any, None), pipeline_worker=cast(Any, None), context=LLMContext(),
        result_callback=result_callback))
    assert len(answers) == 1
    return answers[0]


def by_name(tools: list[FunctionSchema]) -> dict[str, FunctionSchema]:
    return {tool.name: tool for tool in tools}


def test_search_memory_tool_is_accepted_by_pipecat(settings: Settings) -> None:
    # Regression: to_pipecat_tool() gave a dict and ToolsSchema raised
    # "TypeError: Unsupported tool type: dict".
    client = make_client(settings)
    tool = client.to_pipecat_tool(user=CALLER)
    context = LLMContext(tools=ToolsSchema(standard_tools=[tool["schema"]]))
    assert isinstance(context.tools, ToolsSchema)
    adapter = OpenAILLMAdapter()  # type: ignore[no-untyped-call]  # pipecat leaves it untyped
    [converted] = adapter.to_provider_tools_format(context.tools)
    assert converted["function"]["name"] == "search_memory"
    assert converted["function"]["parameters"]["required"] == ["query"]
    assert tool["schema"].handler is tool["handler"]


async def test_search_memory_tool_answers_through_the_result_callback(
        settings: Settings) -> None:
    client = make_client(settings)
    await client.save_response(user_text="My plan is Premium", assistant_text="Got it",
                               user=CALLER)
    tool = client.to_pipecat_tool(user=CALLER)
    assert "Premium" in await call(tool["schema"], query="which plan am I on?")
    await client.aclose()


async def test_memory_tools_remember_recall_forget_and_list(settings: Settings) -> None:
    client = make_client(settings)
    tools = by_name(memory_tools(client=client, user=CALLER))
    assert tuple(tools) == TOOL_NAMES
    assert await call(tools["remember_detail"], memory_type="Favorite Color",
                      content="teal") == "Remembered favorite_color: teal"
    assert await call(tools["recall_detail"], memory_type="favorite_color") == (
        "favorite_color: teal")
    assert "teal" in await call(tools["list_user_memories"])
    assert "teal" in await call(tools["search_memories"], query="favorite color")
    assert await call(tools["forget_detail"], memory_type="favorite_color") == (
        "Forgot favorite_color.")
    assert "Nothing is stored" in await call(tools["recall_detail"],
                                             memory_type="favorite_color")
    await client.aclose()


async def test_update_profile_is_allow_listed(settings: Settings) -> None:
    client = make_client(settings)
    tools = by_name(memory_tools(client=client, user=CALLER, profile_fields=["name"]))
    assert await call(tools["update_profile"], field="name", value="Ivy Chen") == (
        "Updated name to Ivy Chen.")
    refused = await call(tools["update_profile"], field="credit_limit", value="1000000")
    assert "cannot be changed" in refused and "name" in refused
    preload = await client.preload(user=CALLER)
    assert "Ivy Chen" in preload.context_text and "1000000" not in preload.context_text
    await client.aclose()


async def test_search_knowledge_reads_the_knowledge_base(settings: Settings) -> None:
    client = make_client(settings)
    await client.create_index("faq", [{"id": "returns", "text":
                                       "Returns are accepted within 30 days with a receipt."}])
    [tool] = memory_tools(client=client, include=["search_knowledge"])
    assert "30 days" in await call(tool, query="how long do I have to return something?")
    assert "empty" in await call(tool, query="  ")
    await client.aclose()


async def test_tools_follow_the_processor_caller_and_refuse_an_anonymous_one(
        settings: Settings) -> None:
    client = make_client(settings)
    processor = MemoryProcessor(client=client, user=None)
    tools = by_name(memory_tools(memory=processor))
    refused = await call(tools["remember_detail"], memory_type="pet", content="a cat")
    assert "not identified" in refused
    await processor.open(user=CALLER)  # the caller became known (client connected)
    assert await call(tools["remember_detail"], memory_type="pet", content="a cat") == (
        "Remembered pet: a cat")
    assert await client.recall(user=CALLER, memory_type="pet") == "a cat"
    await client.aclose()


async def test_a_memory_failure_is_a_sentence_for_the_model(tmp_path: Path) -> None:
    client = VoiceClient(project_id="p", agent_id="a", embedded=True,
                         settings=make_settings(tmp_path))
    await client.aclose()  # every call now fails with pool.closed
    tools = by_name(memory_tools(client=client, user=CALLER))
    answer = await call(tools["remember_detail"], memory_type="pet", content="a cat")
    assert "unavailable" in answer and "pool.closed" in answer


def test_tools_schema_and_bad_arguments() -> None:
    client = VoiceClient(project_id="p", agent_id="a", embedded=True)
    schema = memory_tools_schema(client=client, user=CALLER, include=["recall_detail"])
    assert [tool.name for tool in schema.standard_tools] == ["recall_detail"]
    with pytest.raises(ValueError, match="unknown memory tools"):
        memory_tools(client=client, include=["delete_everything"])
    with pytest.raises(ValueError, match="needs client"):
        memory_tools()


async def test_the_model_remembers_through_a_tool_in_a_real_pipeline(
        settings: Settings) -> None:
    client = make_client(settings)

    def script(text: str) -> Reply:
        if text == "remember that my dog is called Rex":
            return Reply(tool_calls=[("remember_detail", {"memory_type": "dog_name",
                                                          "content": "Rex"})])
        return Reply(f"You said: {text}")

    llm = ScriptedLLM(script)
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators)) as conversation:
        conversation.context.set_tools(memory_tools_schema(memory=conversation.memory))
        await conversation.say("remember that my dog is called Rex")
        after_tool = await llm.wait_contexts(2)
        assert (await conversation.reply()).content == ""  # the step that called the tool
        reply = await conversation.reply()
        memory = conversation.memory
    assert after_tool[-1]["role"] == "tool"
    # Pipecat hands a tool's result to the LLM JSON-encoded.
    assert reply.content == 'tool said: "Remembered dog_name: Rex"'
    assert await client.recall(user=CALLER, memory_type="dog_name") == "Rex"
    await client.aclose()
    # One turn saved: the caller's words with the reply that followed the tool.
    [(_info, turns)] = await stored_calls(settings, CALLER["id"])
    assert [(t.user_text, t.assistant_text) for t in turns] == [
        ("remember that my dog is called Rex", reply.content)]
    assert memory.saves == 1


# -- caller identity ---------------------------------------------------------------------
def test_daily_dial_in_caller_is_the_from_number() -> None:
    args = DailyRunnerArguments(room_url="https://example.daily.co/room", body={
        "dialin_settings": {"From": "+1 (510) 555-0100", "To": "+18005550199",
                            "call_id": "c-1", "call_domain": "d-1"}})
    identity = caller_from_runner_args(args)
    assert identity == CallerIdentity(user_id="+15105550100", source="sip",
                                      phone="+15105550100", sip_call_id="c-1")


def test_twilio_and_telnyx_callers_are_the_from_number() -> None:
    twilio = WebSocketRunnerArguments(websocket=NO_SOCKET, call_data=CallData.model_validate(
        {"call_id": "CA123", "from": "+44 20 7946 0018", "to": "+18005550199"}))
    assert caller_from_runner_args(twilio).user_id == "+442079460018"
    telnyx = {"call_id": "v3:abc", "from": "5105550100"}  # parse_telephony_websocket dict
    identity = caller_from_runner_args(None, call_data=telnyx, default_country_code="1")
    assert identity.user_id == "+15105550100" and identity.sip_call_id == "v3:abc"


def test_backend_user_id_wins_and_withheld_numbers_are_anonymous() -> None:
    args = DailyRunnerArguments(room_url="https://example.daily.co/room", body={
        "user_id": "acct-77", "name": "Ivy", "dialin_settings": {"From": "+15105550100"}})
    identity = caller_from_runner_args(args)
    assert (identity.user_id, identity.name, identity.source) == ("acct-77", "Ivy",
                                                                  "job_metadata")
    twilio = WebSocketRunnerArguments(websocket=NO_SOCKET, call_data=CallData.model_validate(
        {"from": "+15105550100", "body": {"user_id": "acct-88"}}))
    assert caller_from_runner_args(twilio).user_id == "acct-88"
    withheld = WebSocketRunnerArguments(websocket=NO_SOCKET, call_data=CallData.model_validate(
        {"from": "anonymous"}))
    assert caller_from_runner_args(withheld).anonymous
    assert caller_from_runner_args(DailyRunnerArguments(room_url="r")).anonymous
    assert caller_from_runner_args(None).anonymous
