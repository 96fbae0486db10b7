"""A real Pipecat pipeline in-process, with a scripted LLM service and no network.

The pipeline is the one a voice bot runs, minus audio: user aggregator → memory processor
→ LLM service → assistant aggregator. A turn is driven as a turn-detecting service would
(proposed start, final transcript, proposed stop), so the aggregators run their real
turn logic, interruptions included.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    FunctionCallFromLLM,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    TranscriptionFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import WorkerRunner
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies

from voxmem import Settings, VoiceClient
from voxmem.engine import MemoryEngine
from voxmem.models import SessionInfo, Turn

PROJECT = "pipecat-tests"
AGENT = "front-desk"
TEMPLATE = "You are Ava, the front desk of Acme.\n\n{{memory}}\n\nKeep replies short."


def make_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), embedder="hashing")


def make_client(settings: Settings, **kwargs: Any) -> VoiceClient:
    return VoiceClient(project_id=PROJECT, agent_id=AGENT, embedded=True, settings=settings,
                       **kwargs)


async def stored_calls(settings: Settings, user_id: str) -> list[tuple[SessionInfo, list[Turn]]]:
    """Every call of ``user_id`` as the store has it, oldest first (open after the client
    under test is closed: what it reads is what was durably written)."""
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        scope = engine.scope(project_id=PROJECT, agent_id=AGENT, user_id=user_id)
        sessions = await engine.store.recent_sessions(scope, 50)
        calls = [(info, await engine.store.session_turns(scope, info.id)) for info in sessions]
    finally:
        await engine.close()
    return sorted(calls, key=lambda call: call[0].started_at)


@dataclasses.dataclass
class Reply:
    """What the scripted LLM answers; ``hold`` keeps the reply open (mid-sentence) until
    the turn is interrupted."""

    text: str = ""
    hold: bool = False
    tool_calls: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)


def plain_messages(context: LLMContext) -> list[dict[str, Any]]:
    """The context's messages as the dicts they are at run time (OpenAI's message
    shapes; the declared type is a union of TypedDicts that tests would narrow one by
    one)."""
    return cast(list[dict[str, Any]], context.get_messages())


class ScriptedLLM(LLMService):
    """An LLM service answering from a script; records every context it was sent."""

    def __init__(self, script: Callable[[str], Reply] | None = None) -> None:
        super().__init__(settings=LLMSettings(
            model="scripted", system_instruction=None, temperature=None, max_tokens=None,
            top_p=None, top_k=None, frequency_penalty=None, presence_penalty=None,
            seed=None, filter_incomplete_user_turns=None, user_turn_completion_config=None))
        self._script = script or (lambda text: Reply(f"You said: {text}"))
        #: The messages of each context frame, as the LLM saw them, and its flag.
        self.contexts: list[list[dict[str, Any]]] = []
        self.speculative: list[bool] = []
        self._received = asyncio.Condition()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        messages = copy.deepcopy(plain_messages(frame.context))
        async with self._received:
            self.contexts.append(messages)
            self.speculative.append(frame.speculation)
            self._received.notify_all()
        if messages and messages[-1]["role"] == "tool":
            reply = Reply(f"tool said: {messages[-1]['content']}")  # read the result back
        else:
            user_text = next((m["content"] for m in reversed(messages)
                              if m["role"] == "user"), "")
            reply = self._script(user_text)
        await self.push_frame(LLMFullResponseStartFrame())
        if reply.tool_calls:
            await self.run_function_calls([
                FunctionCallFromLLM(function_name=name, tool_call_id=f"call_{i}_{name}",
                                    arguments=arguments, context=frame.context)
                for i, (name, arguments) in enumerate(reply.tool_calls)])
        if reply.text:
            await self.push_frame(LLMTextFrame(reply.text))
        if reply.hold:
            await asyncio.Event().wait()  # until an interruption cancels this frame
        await self.push_frame(LLMFullResponseEndFrame())

    async def wait_contexts(self, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` contexts were received; returns the last one."""
        async with self._received:
            await self._received.wait_for(lambda: len(self.contexts) >= count)
        return self.contexts[count - 1]


def external_turns() -> LLMUserAggregatorParams:
    """User aggregator parameters for turns driven as these tests drive them."""
    return LLMUserAggregatorParams(user_turn_strategies=ExternalUserTurnStrategies())


class Conversation:
    """A pipeline run in the background; ``say`` drives one user turn."""

    def __init__(self, llm: ScriptedLLM,
                 make_memory: Callable[[LLMContextAggregatorPair], Any] | None = None,
                 *, template: str = TEMPLATE,
                 parts: tuple[LLMContext, LLMContextAggregatorPair, Any] | None = None
                 ) -> None:
        self.llm = llm
        if parts is not None:
            # A context, aggregators and memory built elsewhere (an example's own).
            self.context, self.aggregators, self.memory = parts
        else:
            assert make_memory is not None
            self.context = LLMContext([{"role": "system", "content": template}])
            self.aggregators = LLMContextAggregatorPair(self.context,
                                                        user_params=external_turns())
            self.memory = make_memory(self.aggregators)
        self.assistant_turns: asyncio.Queue[Any] = asyncio.Queue()
        self.replies_started: asyncio.Queue[None] = asyncio.Queue()
        self.aggregators.assistant().add_event_handler(
            "on_assistant_turn_started", self._on_assistant_turn_started)
        self.aggregators.assistant().add_event_handler(
            "on_assistant_turn_stopped", self._on_assistant_turn)
        self.pipeline = Pipeline([self.aggregators.user(), self.memory, llm,
                                  self.aggregators.assistant()])
        self.worker = PipelineWorker(self.pipeline, cancel_on_idle_timeout=False)
        self._started = asyncio.Event()
        self.worker.add_event_handler("on_pipeline_started", self._on_started)
        self._run: asyncio.Task[None] | None = None

    async def _on_started(self, _worker: Any, _frame: Any) -> None:
        self._started.set()

    async def _on_assistant_turn_started(self, _aggregator: Any) -> None:
        await self.replies_started.put(None)

    async def _on_assistant_turn(self, _aggregator: Any, message: Any) -> None:
        await self.assistant_turns.put(message)

    async def __aenter__(self) -> Conversation:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.worker)
        self._run = asyncio.ensure_future(runner.run())
        await self._started.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._run is not None and not self._run.done():
            await self.end()

    async def say(self, text: str) -> list[dict[str, Any]]:
        """One user turn; returns the messages the LLM was given for it."""
        count = len(self.llm.contexts) + 1
        await self.worker.queue_frames([
            ProposedUserStartedSpeakingFrame(), TranscriptionFrame(text, "caller", "now"),
            ProposedUserStoppedSpeakingFrame()])
        return await self.llm.wait_contexts(count)

    async def reply_started(self) -> None:
        """Wait until the next reply has started (the bot is talking)."""
        await self.replies_started.get()

    async def reply(self) -> Any:
        """The next finished assistant turn (``content``, ``interrupted``)."""
        return await self.assistant_turns.get()

    async def end(self, *, cancel: bool = False) -> None:
        """End the pipeline (``EndFrame``, or ``CancelFrame``) and wait until it is down."""
        assert self._run is not None
        if cancel:
            await self.worker.queue_frame(CancelFrame())
        else:
            await self.worker.queue_frame(EndFrame())
        await self._run
