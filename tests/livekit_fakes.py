"""Fakes of the external services a LiveKit agent talks to (the LLM and the STT), and the
helpers the LiveKit integration tests share.

The fakes are shaped like livekit-agents' own test fakes: they subclass the real
``llm.LLM`` / ``stt.STT`` bases, so the real ``AgentSession`` drives them exactly as it
drives a provider plugin. Nothing here fakes voxmem: the helpers at the end build real
clients on temporary data directories and read back what was durably stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from livekit.agents import (
    NOT_GIVEN,
    AgentSession,
    APIConnectOptions,
    NotGivenOr,
    TurnHandlingOptions,
    llm,
    stt,
)
from livekit.agents.language import LanguageCode
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS
from livekit.agents.voice.events import EventTypes

from voxmem import Settings, VoiceClient
from voxmem.engine import MemoryEngine
from voxmem.models import SessionInfo, Turn


@dataclasses.dataclass
class Reply:
    """What the scripted LLM answers: text, tool calls, and how slowly."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    #: When set, the stream stops after ``hold_after_words`` words and waits for this
    #: event, so a test can act while a reply is known to be mid-stream (no timing).
    hold: asyncio.Event | None = None
    hold_after_words: int = 0
    #: Set once the stream has sent ``hold_after_words`` words and is holding.
    holding: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


def default_script(chat_ctx: llm.ChatContext) -> Reply:
    """Echo the last user message, read back a tool's output, or greet."""
    last = chat_ctx.items[-1] if chat_ctx.items else None
    if isinstance(last, llm.FunctionCallOutput):
        return Reply(text=f"tool said: {last.output}")
    if isinstance(last, llm.ChatMessage) and last.role == "user":
        return Reply(text=f"you said: {last.text_content}")
    return Reply(text="Hello!")


Script = Callable[[llm.ChatContext], Reply]


def by_user_text(replies: Mapping[str, Reply], default: Script = default_script) -> Script:
    """A script keyed on the text of the latest user message (tool outputs fall through)."""

    def script(chat_ctx: llm.ChatContext) -> Reply:
        last = chat_ctx.items[-1] if chat_ctx.items else None
        if isinstance(last, llm.ChatMessage) and last.role == "user":
            reply = replies.get(last.text_content or "")
            if reply is not None:
                return reply
        return default(chat_ctx)

    return script


class ScriptedLLM(llm.LLM[Any]):
    """An LLM that answers from a script and keeps every context it was given."""

    def __init__(self, script: Script = default_script) -> None:
        super().__init__()
        self.script = script
        self.requests: list[llm.ChatContext] = []
        self.chunks_sent = 0
        # Tests wait on these instead of sleeping: a request arrived, a chunk went out.
        self._progress = asyncio.Condition()

    async def wait_progress(self, *, requests: int = 0, chunks: int = 0) -> None:
        """Return once at least ``requests`` requests came in and ``chunks`` chunks left."""
        async with self._progress:
            await self._progress.wait_for(
                lambda: len(self.requests) >= requests and self.chunks_sent >= chunks)

    async def _tick(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        self.requests.append(chat_ctx.copy())
        return _ScriptedStream(self, chat_ctx=chat_ctx, tools=tools or [],
                               conn_options=conn_options)

    def texts(self, index: int = -1) -> list[tuple[str, str]]:
        """(role, text) of every message of request ``index``, in the order sent."""
        return [(item.role, item.text_content or "")
                for item in self.requests[index].items if isinstance(item, llm.ChatMessage)]


class _ScriptedStream(llm.LLMStream):
    def __init__(self, owner: ScriptedLLM, *, chat_ctx: llm.ChatContext,
                 tools: list[llm.Tool], conn_options: APIConnectOptions) -> None:
        super().__init__(owner, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._owner = owner

    async def _run(self) -> None:
        reply = self._owner.script(self.chat_ctx)
        await self._owner._tick()  # the request (recorded in chat()) is visible
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        words = reply.text.split(" ") if reply.text else []
        for i, word in enumerate(words):
            if reply.hold is not None and i == reply.hold_after_words:
                reply.holding.set()
                await reply.hold.wait()
            self._send(content=word if i == 0 else f" {word}")
            self._owner.chunks_sent += 1
            await self._owner._tick()
            if reply.chunk_delay_s:
                await asyncio.sleep(reply.chunk_delay_s)
        if reply.tool_calls:
            calls = [llm.FunctionToolCall(name=name, arguments=json.dumps(args),
                                          call_id=f"call_{i}_{name}")
                     for i, (name, args) in enumerate(reply.tool_calls)]
            self._send(tool_calls=calls)

    def _send(self, *, content: str | None = None,
              tool_calls: list[llm.FunctionToolCall] | None = None) -> None:
        self._event_ch.send_nowait(llm.ChatChunk(
            id=str(id(self)),
            delta=llm.ChoiceDelta(role="assistant", content=content,
                                  tool_calls=tool_calls or [])))


class QueuedSTT(stt.STT[Any]):
    """A streaming STT that turns queued strings into one user turn each.

    Every ``say(text)`` becomes START_OF_SPEECH → (PREFLIGHT_TRANSCRIPT) →
    FINAL_TRANSCRIPT → END_OF_SPEECH, which with ``turn_detection="stt"`` ends the user's
    turn and runs ``Agent.on_user_turn_completed`` — the speech path.
    """

    def __init__(self) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True,
                                                          interim_results=False))
        self._queue: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()

    def say(self, text: str, *, preflight: bool = False) -> None:
        self._queue.put_nowait((text, preflight))

    async def _recognize_impl(self, buffer: Any, *, language: NotGivenOr[str] = NOT_GIVEN,
                              conn_options: APIConnectOptions) -> stt.SpeechEvent:
        raise NotImplementedError("QueuedSTT only streams")

    def stream(self, *, language: NotGivenOr[str] = NOT_GIVEN,
               conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
               ) -> stt.RecognizeStream:
        return _QueuedStream(stt=self, conn_options=conn_options, queue=self._queue)


class _QueuedStream(stt.RecognizeStream):
    def __init__(self, *, stt: QueuedSTT, conn_options: APIConnectOptions,
                 queue: asyncio.Queue[tuple[str, bool]]) -> None:
        super().__init__(stt=stt, conn_options=conn_options)
        self._queue = queue

    async def _run(self) -> None:
        while True:
            text, preflight = await self._queue.get()
            self._emit(stt.SpeechEventType.START_OF_SPEECH)
            if preflight:
                self._emit(stt.SpeechEventType.PREFLIGHT_TRANSCRIPT, text)
            self._emit(stt.SpeechEventType.FINAL_TRANSCRIPT, text)
            self._emit(stt.SpeechEventType.END_OF_SPEECH)

    def _emit(self, kind: stt.SpeechEventType, text: str | None = None) -> None:
        alternatives = ([stt.SpeechData(language=LanguageCode("en"), text=text,
                                        confidence=1.0)] if text is not None else [])
        self._event_ch.send_nowait(stt.SpeechEvent(type=kind, alternatives=alternatives))


class RecordingRealtimeModel(llm.RealtimeModel):
    """A speech-to-speech model that records what the agent configures its sessions with.

    It never speaks (``generate_reply`` is refused): enough to see what a realtime session
    is told (instructions, chat context), which is where memory has to arrive.
    """

    def __init__(self) -> None:
        super().__init__(capabilities=llm.RealtimeCapabilities(
            message_truncation=False, turn_detection=True, user_transcription=True,
            auto_tool_reply_generation=False, audio_output=False, manual_function_calls=False,
            mutable_chat_context=True, mutable_instructions=True, mutable_tools=True))
        self.instructions: list[str] = []
        self._waiters: list[tuple[Callable[[str], bool], asyncio.Future[str]]] = []

    def session(self, *, turn_detection_disabled: bool = False) -> llm.RealtimeSession[Any]:
        return _RecordingRealtimeSession(self)

    async def aclose(self) -> None:
        return None

    def instructions_matching(self, predicate: Callable[[str], bool]) -> asyncio.Future[str]:
        """The first instructions (sent already, or later) that satisfy ``predicate``."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        for text in self.instructions:
            if predicate(text):
                future.set_result(text)
                return future
        self._waiters.append((predicate, future))
        return future

    def _record(self, text: str) -> None:
        self.instructions.append(text)
        for predicate, future in self._waiters:
            if not future.done() and predicate(text):
                future.set_result(text)


class _RecordingRealtimeSession(llm.RealtimeSession[Any]):
    def __init__(self, model: RecordingRealtimeModel) -> None:
        super().__init__(model)
        self._model = model
        self._chat_ctx = llm.ChatContext.empty()
        self._tools = llm.ToolContext.empty()

    @property
    def chat_ctx(self) -> llm.ChatContext:
        return self._chat_ctx.copy()

    @property
    def tools(self) -> llm.ToolContext:
        return self._tools.copy()

    async def update_instructions(self, instructions: str) -> None:
        self._model._record(instructions)

    async def update_chat_ctx(self, chat_ctx: llm.ChatContext) -> None:
        self._chat_ctx = chat_ctx.copy()

    async def update_tools(self, tools: list[llm.Tool]) -> None:
        self._tools = llm.ToolContext(tools)

    def update_options(self, *, tool_choice: NotGivenOr[llm.ToolChoice | None] = NOT_GIVEN
                       ) -> None:
        return None

    def push_audio(self, frame: Any) -> None:
        return None

    def push_video(self, frame: Any) -> None:
        return None

    def generate_reply(self, *, instructions: NotGivenOr[str] = NOT_GIVEN,
                       tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
                       tools: NotGivenOr[list[llm.Tool]] = NOT_GIVEN,
                       ) -> asyncio.Future[llm.GenerationCreatedEvent]:
        raise llm.RealtimeError("the recording model does not speak")

    def commit_audio(self) -> None:
        return None

    def clear_audio(self) -> None:
        return None

    def interrupt(self) -> None:
        return None

    def truncate(self, *, message_id: str, modalities: list[Any], audio_end_ms: int,
                 audio_transcript: NotGivenOr[str] = NOT_GIVEN) -> None:
        return None

    async def aclose(self) -> None:
        return None


def speech_session(llm_: ScriptedLLM, stt_: QueuedSTT, **options: Any) -> AgentSession[Any]:
    """A session whose user turns end on the STT's end of speech (no VAD, no audio)."""
    turn_handling: dict[str, Any] = {"turn_detection": "stt",
                                     "endpointing": {"min_delay": 0.0, "max_delay": 0.5}}
    turn_handling.update(options.pop("turn_handling", {}))
    return AgentSession(llm=llm_, stt=stt_, vad=None,
                        turn_handling=cast(TurnHandlingOptions, turn_handling), **options)


class Replies:
    """Collects what the agent says, so a test can wait for the next reply."""

    def __init__(self, session: AgentSession[Any]) -> None:
        self.items: list[llm.ChatMessage] = []
        self._waiters: list[tuple[int, asyncio.Future[llm.ChatMessage]]] = []
        session.on("conversation_item_added", self._on_item)

    def _on_item(self, event: Any) -> None:
        item = event.item
        if isinstance(item, llm.ChatMessage) and item.role == "assistant":
            self.items.append(item)
            for count, future in list(self._waiters):
                if len(self.items) >= count and not future.done():
                    future.set_result(self.items[count - 1])

    async def wait(self, count: int, timeout: float = 5.0) -> llm.ChatMessage:
        """The ``count``-th assistant message (1-based), once it exists."""
        if len(self.items) >= count:
            return self.items[count - 1]
        future: asyncio.Future[llm.ChatMessage] = asyncio.get_running_loop().create_future()
        self._waiters.append((count, future))
        return await asyncio.wait_for(future, timeout)


def expect_event(session: AgentSession[Any], event: EventTypes,
                 predicate: Callable[[Any], bool]) -> asyncio.Future[Any]:
    """A future of the next ``event`` of ``session`` that satisfies ``predicate``.

    The listener is in place when this returns, so nothing emitted afterwards is missed.
    """
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def handler(ev: Any) -> None:
        if not future.done() and predicate(ev):
            future.set_result(ev)

    session.on(event, handler)
    future.add_done_callback(lambda _: session.off(event, handler))
    return future


# -- real clients and stores -----------------------------------------------------------------
PROJECT = "proj"
AGENT = "front-desk"
TEMPLATE = "You are Ava, the front desk of Acme.\n\n{{memory}}\n\nKeep answers short."


def make_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), embedder="hashing")


def make_client(settings: Settings, **kwargs: Any) -> VoiceClient:
    return VoiceClient(project_id=PROJECT, agent_id=AGENT, embedded=True, settings=settings,
                       **kwargs)


async def stored_calls(settings: Settings, user_id: str, *,
                       tenant_id: str = "default") -> list[tuple[SessionInfo, list[Turn]]]:
    """Every call of ``user_id`` as the store has it, oldest first.

    Opens its own engine on the data directory, so call it after the client under test
    is closed: what it reads is what was durably written.
    """
    engine = MemoryEngine(settings)
    await engine.start()
    try:
        scope = engine.scope(project_id=PROJECT, agent_id=AGENT, user_id=user_id,
                             tenant_id=tenant_id)
        sessions = await engine.store.recent_sessions(scope, 50)
        calls = [(info, await engine.store.session_turns(scope, info.id)) for info in sessions]
    finally:
        await engine.close()
    return sorted(calls, key=lambda call: call[0].started_at)
