"""A Pipecat voice bot that remembers its callers, with voxmem.

What it shows:

- the caller from Pipecat's runner arguments (your backend's ``user_id``, a Daily dial-in
  ``From``, a Twilio / Telnyx ``from``), through :func:`caller_from_runner_args`;
- :class:`MemoryProcessor` between the user aggregator and the LLM: the caller's memory
  is preloaded (in its own message after the instructions, which stay the same for
  every caller) when the pipeline starts, recalled before each reply under a 250 ms
  deadline, and every turn is saved in the background;
- the memory tools (remember / recall / forget / search / list / update_profile /
  search_knowledge) in the context, so the LLM can manage what it keeps.

Run it with Pipecat's development runner (needs ``pip install 'voxmem[pipecat]'
'pipecat-ai[openai,webrtc,runner]'`` and ``OPENAI_API_KEY``)::

    python examples/pipecat_agent.py             # browser client at http://localhost:7860
    python examples/pipecat_agent.py --seed      # build the knowledge base first

The memory itself needs no key and no network: the voxmem runtime starts on first use
(or set ``VOXMEM_EMBEDDED=1`` to run the engine inside the bot).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)

from voxmem import VoiceClient
from voxmem.integrations.pipecat import (
    MemoryProcessor,
    caller_from_runner_args,
    memory_tools_schema,
)

PROJECT_ID = "acme-support"
AGENT_ID = "front-desk"
INSTRUCTIONS = """You are Ava, the voice assistant of Acme's front desk.

What you know about the caller from earlier calls follows these instructions.
Keep replies short: they are spoken. Greet a returning caller by name. When the caller
shares a lasting preference or detail, remember it with remember_detail. Answer policy
questions from search_knowledge; never guess them."""

FAQ = [
    {"id": "returns", "text": "Returns are accepted within 30 days with a receipt."},
    {"id": "hours", "text": "The front desk is open 8am to 6pm, Monday to Saturday."},
    {"id": "delivery", "text": "Express delivery takes 1-2 business days and costs $9."},
]


def memory_client() -> VoiceClient:
    """The bot's memory: the host's voxmem runtime, or in-process with VOXMEM_EMBEDDED=1."""
    return VoiceClient(project_id=PROJECT_ID, agent_id=AGENT_ID,
                       embedded=os.environ.get("VOXMEM_EMBEDDED") == "1")


def memory_for_call(client: VoiceClient, runner_args: Any, **aggregator_options: Any
                    ) -> tuple[LLMContext, LLMContextAggregatorPair, MemoryProcessor]:
    """The context, aggregators and memory processor of one call."""
    memory = MemoryProcessor(client=client, user=caller_from_runner_args(runner_args))
    context = LLMContext([{"role": "system", "content": INSTRUCTIONS}],
                         tools=memory_tools_schema(memory=memory))
    aggregators = LLMContextAggregatorPair(context, **aggregator_options)
    memory.attach(aggregators)
    return context, aggregators, memory


async def bot(runner_args: Any) -> None:
    """Entry point of Pipecat's development runner: one call."""
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import WorkerRunner
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.runner.utils import create_transport
    from pipecat.services.openai.llm import OpenAILLMService
    from pipecat.services.openai.stt import OpenAISTTService
    from pipecat.services.openai.tts import OpenAITTSService
    from pipecat.transports.base_transport import TransportParams

    def audio_params() -> TransportParams:
        return TransportParams(audio_in_enabled=True, audio_out_enabled=True)

    transport = await create_transport(runner_args, {
        "webrtc": audio_params, "daily": audio_params, "twilio": audio_params,
        "telnyx": audio_params})
    client = memory_client()
    # Pipecat 1.x detects speech in the user aggregator, not in the transport.
    _context, aggregators, memory = memory_for_call(
        client, runner_args, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()))
    key = os.environ["OPENAI_API_KEY"]  # checked before the runner starts
    pipeline = Pipeline([
        transport.input(),
        OpenAISTTService(api_key=key),
        aggregators.user(),
        memory,                                  # recall goes in right before the LLM
        OpenAILLMService(api_key=key),
        OpenAITTSService(api_key=key),
        transport.output(),
        aggregators.assistant(),
    ])
    worker = PipelineWorker(pipeline, params=PipelineParams(enable_metrics=True))

    @transport.event_handler("on_client_disconnected")  # type: ignore[untyped-decorator]
    async def on_client_disconnected(_transport: Any, _client: Any) -> None:
        await worker.cancel()  # the memory processor ends the call as the pipeline ends

    try:
        await WorkerRunner(handle_sigint=runner_args.handle_sigint).run(worker)
    finally:
        await client.aclose()


async def seed() -> None:
    """Build the knowledge base ``search_knowledge`` reads (build-or-append)."""
    client = memory_client()
    try:
        result = await client.create_index("faq", FAQ)
        print(f"knowledge base 'faq': {result.chunk_count} chunks, version {result.version}")
    finally:
        await client.aclose()


def cannot_serve() -> str | None:
    """A one-line reason the bot cannot serve calls here, or ``None``.

    Without the key every call would fail with a traceback once a client connects;
    without the runner's extras the runner's import fails with one.
    """
    if not os.environ.get("OPENAI_API_KEY"):
        return ("the bot's speech and language models are OpenAI's: set OPENAI_API_KEY "
                "(the memory needs no key: try --seed first)")
    try:
        import pipecat.runner.run  # noqa: F401
    except ImportError as exc:
        return (f"Pipecat's development runner is not installed ({exc}): pip install "
                "'pipecat-ai[openai,webrtc,runner]'")
    return None


if __name__ == "__main__":
    if "--seed" in sys.argv:
        asyncio.run(seed())
    elif (reason := cannot_serve()) is not None:
        sys.exit(reason)
    else:
        from pipecat.runner.run import main

        main()
