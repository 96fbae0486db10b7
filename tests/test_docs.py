"""The docs stay in step with the code: the README's settings table is generated, and
the code blocks a user pastes compile, import and (where they can run here) run."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._runtime import runtime_data_dir

ROOT = Path(__file__).resolve().parent.parent


def test_readme_settings_table_is_current() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "update_readme.py"),
                          "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_readme_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1: lines.index("```bash") + 3]
    assert block[0].endswith("voxmem demo")
    assert block[1].endswith("-m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert block[1] in ci, ".ci/run must run the README's test command"


def test_the_runtime_route_table_lists_every_operation() -> None:
    """docs/runtime.md's route table is written by hand; it must not lose an operation,
    a ``GET`` twin, or keep one that is gone."""
    from voxmem._api import OPERATION_SPECS

    text = (ROOT / "docs" / "runtime.md").read_text(encoding="utf-8")
    rows = {(route.split("?")[0], name) for route, name in
            re.findall(r"^\| `([A-Z]+ [^`]+)` \| `([a-z_]+)` \|", text, re.MULTILINE)}
    expected = {(f"{spec.method} {spec.path}", name) for name, spec in OPERATION_SPECS.items()}
    expected |= {(f"GET {spec.read_path}", name) for name, spec in OPERATION_SPECS.items()
                 if spec.read_path}
    assert rows == expected, (f"missing: {sorted(expected - rows)}; "
                              f"not operations: {sorted(rows - expected)}")
    # The POST rows say what the operation table says (the OpenAPI summary).
    summaries = {name: summary for route, name, summary in re.findall(
        r"^\| `POST ([^`]+)` \| `([a-z_]+)` \| (.*) \|$", text, re.MULTILINE)}
    stale = {name: (summaries.get(name), spec.summary) for name, spec in OPERATION_SPECS.items()
             if summaries.get(name) != spec.summary}
    assert not stale, f"summaries that differ from OPERATION_SPECS: {stale}"


# -- the code a user pastes ----------------------------------------------------------------
# Every Python block of the pages a new user reads first is compiled, its imports are
# resolved, and the blocks that can run here are run: the client's against a real runtime
# process (started by the client on first use, as on a user's machine), the LiveKit ones
# in an in-process AgentSession with a scripted LLM (the provider is the only fake).

USER_DOCS = ("README.md", "docs/livekit.md", "docs/pipecat.md", "docs/typescript.md",
             "docs/migrating-from-memoair.md", "docs/memories.md", "docs/callers.md",
             "docs/runtime.md")
PORTS = (18800, 18849)  # away from the default range and the other process tests'


@dataclasses.dataclass(frozen=True)
class Block:
    doc: str
    line: int
    code: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def python_blocks(doc: str) -> list[Block]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return [Block(doc, text[:m.start()].count("\n") + 2, m.group(1))
            for m in re.finditer(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)]


def blocks_of(doc: str, *starts: str) -> list[Block]:
    """The blocks of ``doc`` that begin with each of ``starts``, in that order."""
    blocks = python_blocks(doc)
    found = [next((b for b in blocks if b.code.startswith(s)), None) for s in starts]
    missing = [s for s, b in zip(starts, found, strict=True) if b is None]
    assert not missing, f"{doc} has no Python block starting {missing}"
    return [b for b in found if b is not None]


ALL_BLOCKS = [b for doc in USER_DOCS for b in python_blocks(doc)]


def compiled(block: Block) -> types.CodeType:
    code: types.CodeType = compile(block.code, str(block), "exec",
                                   flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    return code


async def run_block(block: Block, namespace: dict[str, Any]) -> None:
    """Run ``block`` as pasted into an async REPL (top-level ``await`` allowed)."""
    result = eval(compiled(block), namespace)
    if inspect.iscoroutine(result):
        await result


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=str)
def test_every_python_block_compiles_and_its_imports_resolve(block: Block) -> None:
    tree = ast.parse(block.code)
    compiled(block)
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    for node in imports:
        root = node.names[0].name if isinstance(node, ast.Import) else node.module or ""
        if root.split(".")[0] in ("livekit", "pipecat"):
            pytest.importorskip(root)
        if root.startswith(("memoair_voice", "memoair_livekit")):  # the "before" lines
            continue
        exec(compile(ast.Module(body=[node], type_ignores=[]), str(block), "exec"), {})


@pytest.fixture
def runtime_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield from runtime_data_dir(tmp_path, monkeypatch, PORTS)


async def test_readme_quickstart_runs_against_the_runtime(
        runtime_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quickstart, session = blocks_of("README.md", "from voxmem import VoiceClient",
                                    "async with client.session(")
    namespace: dict[str, Any] = {}
    try:
        await run_block(quickstart, namespace)
        assert isinstance(namespace["system_message"], str)
        assert "degraded" in capsys.readouterr().out  # the printed trace
        # The next block goes on with the same client, as a reader pasting both would.
        await run_block(session, namespace)
        assert "vegetarian" in capsys.readouterr().out.lower()
        assert (runtime_env / "runtime.json").exists()  # the client started the runtime
    finally:
        if "client" in namespace:
            await namespace["client"].aclose()


async def test_memories_callers_and_runtime_docs_run_against_the_runtime(
        runtime_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from voxmem import VoiceClient

    client = VoiceClient(project_id="support", agent_id="front-desk")
    caller = {"id": "+14155550123", "name": "Dana"}
    namespace: dict[str, Any] = {"client": client, "caller": caller}
    try:
        for block in blocks_of("docs/memories.md", "async with client.session("):
            await run_block(block, namespace)
        assert "vegetarian" in capsys.readouterr().out.lower()
        for block in blocks_of("docs/runtime.md", "async with client.session("):
            await run_block(block, namespace)
        assert namespace["call"].ended

        # docs/callers.md speaks of Ann (e-mail, phone) and a guest who signed in as her.
        ann = {"id": "ann", "name": "Ann Lee"}
        await client.save_response(user_text="Hi, it's Ann.", assistant_text="Hello Ann.",
                                   user=ann)
        await client.link_identifier("email", "ann.lee@example.com", user_id="ann")
        await client.link_identifier("phone", "+14155550199", user_id="ann")
        await client.save_response(user_text="I'd like a table for two.",
                                   assistant_text="Booked.", user={"id": "guest-7"})
        await client.flush()
        resolve, merge, unlink = blocks_of(
            "docs/callers.md", "found = await client.resolve_caller(",
            "row = await client.merge_callers(", "await client.unlink_identifier(")
        await run_block(resolve, namespace)
        assert namespace["found"]["userId"] == "ann"
        await run_block(merge, namespace)
        assert namespace["row"]["mergeId"]
        await client.link_identifier("phone", "(510) 555-0100", user_id="ann")
        await run_block(unlink, namespace)
    finally:
        await client.aclose()


def doc_session_class(llm_: Any, sessions: list[Any]) -> type:
    """``AgentSession`` as a doc's code builds it, run in-process: the doc's STT / LLM /
    TTS names are LiveKit Inference models (a LiveKit server and keys), so the session
    gets the scripted LLM instead, and ``start(room=...)`` runs without a room."""
    from livekit.agents import AgentSession

    class DocSession(AgentSession):  # type: ignore[type-arg]
        def __init__(self, **_models: Any) -> None:
            super().__init__(llm=llm_)
            sessions.append(self)

        async def start(self, agent: Any, *, room: Any = None, **kwargs: Any) -> Any:
            return await super().start(agent, **kwargs)

    return DocSession


def fake_job(proc: Any, metadata: dict[str, str]) -> Any:
    room = types.SimpleNamespace(local_participant=None, remote_participants={})
    return types.SimpleNamespace(proc=proc, room=room,
                                 job=types.SimpleNamespace(metadata=json.dumps(metadata)))


@pytest.mark.parametrize("doc", ["README.md", "docs/livekit.md"])
async def test_the_livekit_setup_serves_two_calls_of_one_caller(
        doc: str, runtime_env: Path) -> None:
    pytest.importorskip("livekit.agents")
    from livekit.agents import llm

    from tests.livekit_fakes import ScriptedLLM
    from voxmem.integrations.livekit import MEMORY_MESSAGE_ID, MemoryAgent

    (setup,) = blocks_of(doc, "import os\nfrom typing import Any\n\nfrom livekit.agents")
    namespace: dict[str, Any] = {"__name__": "doc_block"}  # not __main__: no cli.run_app
    await run_block(setup, namespace)
    fake, sessions = ScriptedLLM(), list[Any]()
    namespace["AgentSession"] = doc_session_class(fake, sessions)
    proc = types.SimpleNamespace(userdata={})
    namespace["prewarm"](proc)
    caller = {"user_id": "+14155550123", "name": "Dana"}
    try:
        for words in ("My dog is called Rex.", "What's my dog called again?"):
            await namespace["entrypoint"](fake_job(proc, caller))
            session = sessions[-1]
            assert isinstance(session.current_agent, MemoryAgent)
            await session.run(user_input=words)
            await session.aclose()
            memory = session.current_agent.memory
            assert memory is not None and await memory.wait_closed(10)
            await proc.userdata["voxmem"].flush(learning=True)
    finally:
        await proc.userdata["voxmem"].aclose()
    memory_message = fake.requests[-1].get_by_id(MEMORY_MESSAGE_ID)
    assert isinstance(memory_message, llm.ChatMessage)
    assert "Rex" in (memory_message.text_content or "")


async def test_the_livekit_own_agent_class_blocks_run(runtime_env: Path) -> None:
    pytest.importorskip("livekit.agents")
    from livekit.agents import Agent, AgentSession, llm

    from tests.livekit_fakes import ScriptedLLM
    from voxmem import VoiceClient
    from voxmem.integrations.livekit import MEMORY_MESSAGE_ID, CallMemory, attach_memory

    class CompanyAgent(Agent):
        """A team's own agent class, as the doc assumes one."""

        def __init__(self, *, brand: str, tools: list[Any] | None = None) -> None:
            super().__init__(instructions=f"You are the front desk of {brand}.",
                             tools=tools or [])

    client = VoiceClient(project_id="acme-support", agent_id="front-desk")
    caller = {"id": "+14155550123", "name": "Dana"}
    mixin, by_hand = blocks_of("docs/livekit.md",
                               "from voxmem.integrations.livekit import MemoryMixin",
                               "from livekit.agents import Agent\nfrom voxmem")
    fake, sessions = ScriptedLLM(), list[Any]()
    try:
        for block, words in ((mixin, "My dog is called Rex."), (by_hand, "Who is my dog?")):
            session: AgentSession[Any] = doc_session_class(fake, sessions)()
            namespace: dict[str, Any] = {"CompanyAgent": CompanyAgent, "session": session,
                                         "client": client, "caller": caller,
                                         "ctx": types.SimpleNamespace(room=None)}
            await run_block(block, namespace)
            if CallMemory.of(session) is None:  # the by-hand block only defines the class
                await attach_memory(session, client=client, user=caller)
                await session.start(namespace["FrontDesk"](brand="Acme"))
            await session.run(user_input=words)
            memory = CallMemory.of(session)
            await session.aclose()
            assert memory is not None and await memory.wait_closed(10)
            await client.flush(learning=True)
    finally:
        await client.aclose()
    request = next(r for r in fake.requests if r.messages()[-1].text_content == "Who is my dog?")
    memory_message = request.get_by_id(MEMORY_MESSAGE_ID)
    assert isinstance(memory_message, llm.ChatMessage)
    assert "Rex" in (memory_message.text_content or "")


def pipecat_parts() -> dict[str, Any]:
    """Stand-ins for a bot's transport and services: processors that pass frames on."""
    from pipecat.processors.frame_processor import FrameProcessor

    from tests.pipecat_fakes import ScriptedLLM

    transport = types.SimpleNamespace(input=FrameProcessor, output=FrameProcessor)
    return {"transport": transport, "stt": FrameProcessor(), "tts": FrameProcessor(),
            "llm": ScriptedLLM(), "runner_args": {"dialin_settings": {"From": "+14155550123"}}}


async def test_the_pipecat_blocks_build_their_pipeline(runtime_env: Path) -> None:
    pytest.importorskip("pipecat")
    from pipecat.pipeline.pipeline import Pipeline

    from voxmem import VoiceClient
    from voxmem._exceptions import PoolError
    from voxmem.integrations.pipecat import MemoryProcessor

    (readme,) = blocks_of("README.md", "from pipecat.pipeline.pipeline import Pipeline")
    namespace = pipecat_parts()
    await run_block(readme, namespace)
    assert isinstance(namespace["pipeline"], Pipeline)
    assert namespace["memory"].identity.user_id == "+14155550123"
    # The block makes a client per call; left open, each call kept its idle reaper task
    # and its connection for the life of the bot process. The end of the call closes it.
    await namespace["memory"].aclose()
    with pytest.raises(PoolError):
        await namespace["memory"].client.preload(user={"id": "+14155550123"})

    setup, tools = blocks_of("docs/pipecat.md", "from pipecat.pipeline.pipeline import Pipeline",
                             "from pipecat.adapters.llm.schemas.tools_schema import")
    namespace = pipecat_parts()
    await run_block(setup, namespace)
    await namespace["bot"](namespace["runner_args"])  # the doc's bot builds its pipeline
    client = VoiceClient(project_id="support", agent_id="bot")
    try:
        namespace.update(memory=MemoryProcessor(client=client, user={"id": "+14155550123"}),
                         messages=[{"role": "system", "content": "You are Ava."}])
        await run_block(tools, namespace)
    finally:
        await client.aclose()
    names = {tool.name for tool in namespace["context"].tools.standard_tools}
    assert {"remember_detail", "search_memories"} <= names


def shell_commands(prefix: str = "voxmem ") -> list[tuple[str, str]]:
    """Every line of a shell block in the docs and README that runs ``voxmem``:
    (where, the line without its comment)."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        inside = False
        for number, line in enumerate(doc.read_text("utf-8").splitlines(), 1):
            if line.startswith("```"):
                inside = line.strip("`").strip() in ("bash", "sh", "shell", "console")
                continue
            command = re.sub(r"\s+#.*$", "", line).strip()
            if inside and command.startswith(prefix):
                found.append((f"{doc.relative_to(ROOT)}:{number}", command))
    return found


@pytest.mark.parametrize(("where", "command"), shell_commands(), ids=[
    where for where, _ in shell_commands()])
def test_every_documented_voxmem_command_parses(where: str, command: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Each ``voxmem`` line as written (without its ``[optional]`` parts, then with all of
    them) names a subcommand and options the CLI has, in an order it takes."""
    import shlex

    from voxmem.cli import build_parser

    bare = re.sub(r"\s*\[[^\]]*\]", "", command)
    full = command.replace("[", "").replace("]", "")
    for line in dict.fromkeys([bare, full]):
        try:
            args = build_parser().parse_args(shlex.split(line)[1:])
        except SystemExit:
            pytest.fail(f"{where}: `{line}` does not parse: {capsys.readouterr().err}")
        assert callable(getattr(args, "func", None)), f"{where}: `{line}` runs nothing"
