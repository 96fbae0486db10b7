"""Stand-ins for what the MemoAir documentation examples take from the outside world.

The examples build a LiveKit ``AgentSession`` from cloud plugins (Deepgram STT, OpenAI
LLM and TTS, Silero VAD, the turn detector) inside a LiveKit job. Here the same names give
a real ``AgentSession`` (subclassed) that runs in-process: user turns come from
:class:`tests.livekit_fakes.QueuedSTT`, replies from :class:`tests.livekit_fakes.
ScriptedLLM`, and no room is joined. :data:`world` holds the instances the examples
create, so a test can speak into them and read what the LLM was sent.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any, cast

from livekit import agents
from livekit.agents.voice.turn import TurnHandlingOptions

from tests.livekit_fakes import QueuedSTT, ScriptedLLM


@dataclasses.dataclass
class World:
    """What the examples created in the current test."""

    stt: QueuedSTT = dataclasses.field(default_factory=QueuedSTT)
    llm: ScriptedLLM = dataclasses.field(default_factory=ScriptedLLM)
    sessions: list[AgentSession] = dataclasses.field(default_factory=list)
    agents: list[Any] = dataclasses.field(default_factory=list)


world = World()


def reset() -> World:
    """A fresh world for the next example."""
    global world
    world = World()
    return world


class AgentSession(agents.AgentSession):  # type: ignore[type-arg]
    """``AgentSession(stt=, llm=, tts=, turn_detection=, vad=)`` run in-process: turns end
    on the STT's end of speech, ``start(room=...)`` joins no room."""

    def __init__(self, *, stt: Any, llm: Any, tts: Any = None, turn_detection: Any = None,
                 vad: Any = None) -> None:
        turn_handling = {"turn_detection": "stt",
                         "endpointing": {"min_delay": 0.0, "max_delay": 0.5},
                         "preemptive_generation": {"enabled": False}}
        super().__init__(stt=stt, llm=llm, vad=None,
                         turn_handling=cast(TurnHandlingOptions, turn_handling))
        world.sessions.append(self)

    async def start(self, agent: Any, *, room: Any = None, **_: Any) -> Any:
        world.agents.append(agent)
        return await super().start(agent, record=False)


class _STTPlugin:
    @staticmethod
    def STT(**_: Any) -> QueuedSTT:  # noqa: N802 - the plugin's name
        return world.stt


class _OpenAIPlugin:
    @staticmethod
    def LLM(**_: Any) -> ScriptedLLM:  # noqa: N802 - the plugin's name
        return world.llm

    @staticmethod
    def TTS(**_: Any) -> None:  # noqa: N802 - the plugin's name
        return None  # text only: nothing is spoken


class _VAD:
    @staticmethod
    def load(**_: Any) -> None:
        return None  # turns come from the STT


deepgram = _STTPlugin()
openai = _OpenAIPlugin()
silero = SimpleNamespace(VAD=_VAD)


def EnglishModel(**_: Any) -> str:  # noqa: N802 - the plugin's name
    return "stt"


class FakeRoom:
    """The room of a LiveKit job as far as the examples (and ``JobContext``) read it:
    joined by the agent, nobody else yet."""

    name = "fake-room"

    def __init__(self, agent_identity: str) -> None:
        self.local_participant = SimpleNamespace(identity=agent_identity)
        self.remote_participants: dict[str, Any] = {}

    def on(self, _event: str, callback: Any = None) -> Any:
        return callback

    def off(self, _event: str, _callback: Any) -> None:
        return None

    def isconnected(self) -> bool:
        return True


def fake_room(agent_identity: str = "agent-AJ_demo") -> Any:
    """A :class:`FakeRoom` for ``fake_job_context(room=...)``."""
    return FakeRoom(agent_identity)
