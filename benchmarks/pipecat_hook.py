"""Latency the Pipecat memory processor adds to a voice turn, with 10,000 memories.

Runs a real Pipecat pipeline in-process — user aggregator → memory → scripted LLM →
assistant aggregator, turns driven as a turn-detecting service drives them — and times
how long each ``LLMContextFrame`` is held by the memory processor before it reaches the
LLM. That is the latency memory adds to a turn. Target: p95 <= 20 ms.

The caller's memory is 10,000 turns of real conversational text (LoCoMo and LongMemEval
utterances from the shared dev data) over 500 past calls in the last year, loaded with
``import_history``; the questions are LoCoMo questions.

Next to it, Pipecat's own ``Mem0MemoryService`` runs in the same pipeline against a local
fake Mem0 (no Mem0 install, no network) whose search takes as long as voxmem's median
search did, so the comparison is of the integrations, not of the stores: how long each
holds the frame, and how many memory messages pile up in the context.

    python benchmarks/pipecat_hook.py                  # 10,000 memories, 200 turns
    python benchmarks/pipecat_hook.py --quick          # 1,000 memories, 50 turns
    python benchmarks/pipecat_hook.py --mode runtime   # behind the local runtime

Needs ``voxmem[pipecat]``. Prints a table and writes benchmarks/results/pipecat_hook.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VOXMEM_SHARED_DIR", ROOT.parent / "shared"))
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))  # tests.pipecat_fakes: the same pipeline the tests run

CALLER = {"id": "bench-caller", "name": "Robin"}
SESSIONS = 500
TARGET_P95_MS = 20.0
DAY_S = 86_400.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": round(pct(values, 50), 3), "p95": round(pct(values, 95), 3),
            "p99": round(pct(values, 99), 3), "max": round(max(values), 3),
            "mean": round(statistics.fmean(values), 3)}


def corpus() -> tuple[list[str], list[str]]:
    """(utterances, questions): real conversational text from the shared dev data."""
    locomo = json.loads((SHARED / "eval" / "data" / "locomo_dev.json").read_text())
    lines: list[str] = []
    questions: list[str] = []
    for sample in locomo:
        for key, value in sample["conversation"].items():
            if key.startswith("session_") and isinstance(value, list):
                lines.extend(t["text"] for t in value if t.get("text"))
        questions.extend(str(q["question"]) for q in sample["qa"])
    lme = json.loads((SHARED / "eval" / "data" / "longmemeval_s_dev40.json").read_text())
    for item in lme:
        for session in item["haystack_sessions"]:
            lines.extend(t["content"][:600] for t in session if t.get("content"))
    # Unique questions: a repeated one would be served from the recall cache.
    return lines, list(dict.fromkeys(questions))


def progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total)
    print(f"\r  {label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
          end="" if done < total else "\n", file=sys.stderr, flush=True)


async def load_memories(client: Any, lines: list[str], n_turns: int) -> float:
    """Import ``n_turns`` past turns over ``SESSIONS`` calls in the last year."""
    per_session = max(1, n_turns // SESSIONS)
    now = time.time()
    sessions = []
    for s in range(SESSIONS):
        started = now - 365 * DAY_S + s * (365 * DAY_S / SESSIONS)
        turns = [{"user_text": lines[((s * per_session + t) * 2) % len(lines)],
                  "assistant_text": lines[((s * per_session + t) * 2 + 1) % len(lines)],
                  "created_at": started + t * 30} for t in range(per_session)]
        sessions.append({"started_at": started, "ended_at": started + per_session * 30,
                         "turns": turns})
    started_at = time.perf_counter()
    for base in range(0, len(sessions), 50):
        await client.import_history(user=CALLER, sessions=sessions[base:base + 50])
        progress("importing memories", min(len(sessions), base + 50) * per_session,
                 SESSIONS * per_session)
    await client.flush(600)
    return time.perf_counter() - started_at


async def wait_until_warm(client: Any, query: str, limit_s: float = 120.0) -> float:
    """Seconds until the caller's recall stops being degraded (index loaded)."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        if not (await client.search_memory(query, user=CALLER)).degraded:
            break
        await asyncio.sleep(0.1)
    return round(time.perf_counter() - started, 2)


def memory_messages(messages: Sequence[Any], marker: str) -> int:
    return sum(1 for m in messages if isinstance(m.get("content"), str)
               and m["content"].startswith(marker))


async def voxmem_turns(client: Any, questions: list[str], n: int,
                       gap_s: float) -> dict[str, Any]:
    from tests.pipecat_fakes import Conversation, ScriptedLLM

    from voxmem.integrations.pipecat import MemoryProcessor

    llm = ScriptedLLM()
    with_memory = 0
    async with Conversation(llm, lambda aggregators: MemoryProcessor(
            client=client, user=CALLER, context_aggregator=aggregators)) as conversation:
        memory = conversation.memory
        await memory.open()
        warm_s = await wait_until_warm(client, questions[0])
        for i in range(n):
            messages = await conversation.say(questions[i % len(questions)])
            await conversation.reply()
            with_memory += memory_messages(messages, "## Memory") > 0
            progress("voxmem turns", i + 1, n)
            await asyncio.sleep(gap_s)
        last = conversation.context.get_messages()
    return {"frame_ms": list(memory.frame_ms), "recall_ms": list(memory.recall_ms),
            "warm_s": warm_s, "turns_with_memory": with_memory, "saves": memory.saves,
            "compacted_frames": memory.compactions,
            "memory_messages_at_end": memory_messages(last, "## Memory")}


class FakeMem0:
    """A local stand-in for ``mem0.Memory``: keyword search over what was added, taking
    ``search_s`` per search (blocking, as the real client is)."""

    def __init__(self, search_s: float, lines: list[str]) -> None:
        self.search_s = search_s
        self.items = [{"memory": line} for line in lines]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FakeMem0:
        return cls(config["search_s"], config["lines"])

    def search(self, query: str, **_: Any) -> dict[str, Any]:
        started = time.perf_counter()
        words = set(query.lower().split())
        hits = [m for m in self.items[:200] if words & set(m["memory"].lower().split())]
        # Whatever the keyword scan did not use of the budget is spent waiting.
        time.sleep(max(0.0, self.search_s - (time.perf_counter() - started)))
        return {"results": hits[:5]}

    def add(self, messages: Any, **_: Any) -> None:
        self.items.extend({"memory": m.get("content", "")} for m in messages[-2:])

    def get_all(self, **_: Any) -> dict[str, Any]:
        return {"results": self.items}


async def mem0_turns(questions: list[str], lines: list[str], n: int, search_s: float,
                     gap_s: float) -> dict[str, Any]:
    fake = types.ModuleType("mem0")
    fake.Memory = FakeMem0  # type: ignore[attr-defined]
    fake.MemoryClient = FakeMem0  # type: ignore[attr-defined]
    sys.modules["mem0"] = fake
    from pipecat.frames.frames import LLMContextFrame
    from pipecat.services.mem0.memory import Mem0MemoryService
    from tests.pipecat_fakes import Conversation, ScriptedLLM

    held: list[float] = []

    class TimedMem0(Mem0MemoryService):
        async def process_frame(self, frame: Any, direction: Any) -> None:
            started = time.perf_counter()
            await super().process_frame(frame, direction)
            if isinstance(frame, LLMContextFrame):
                held.append((time.perf_counter() - started) * 1000)

    llm = ScriptedLLM()
    config = {"search_s": search_s, "lines": lines}
    marker = Mem0MemoryService.InputParams().system_prompt[:20]
    async with Conversation(llm, lambda _aggregators: TimedMem0(
            local_config=config, user_id=CALLER["id"])) as conversation:
        for i in range(n):
            await conversation.say(questions[i % len(questions)])
            await conversation.reply()
            progress("Mem0 service turns", i + 1, n)
            await asyncio.sleep(gap_s)
        last = conversation.context.get_messages()
    return {"frame_ms": held, "memory_messages_at_end": memory_messages(last, marker)}


def stop_runtime(data_dir: str) -> None:
    subprocess.run([sys.executable, "-m", "voxmem", "stop", "--data-dir", data_dir],
                   check=False, capture_output=True, timeout=60)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    import pipecat

    from voxmem import Settings, VoiceClient

    n_memories = 1_000 if args.quick else args.memories
    n_turns = 50 if args.quick else args.turns
    lines, questions = corpus()
    load_start = list(os.getloadavg())
    tmp = tempfile.TemporaryDirectory(prefix="voxmem-pc-bench-")
    # Learning is off: it runs when a call ends, never in a turn. A year of history:
    # retention is a policy, not latency (90 days would refuse the import).
    settings = Settings(data_dir=tmp.name, embedder=args.embedder, extractor="off",
                        memory_retention_days=0)

    def new_client() -> VoiceClient:
        return VoiceClient(project_id="bench", agent_id="front-desk",
                           embedded=args.mode == "embedded", settings=settings)

    try:
        loader = new_client()
        try:
            import_s = await load_memories(loader, lines, n_memories)
        finally:
            await loader.aclose()
        if args.mode == "runtime":
            stop_runtime(tmp.name)
        client = new_client()  # a fresh engine, as a new worker would have
        try:
            await client.list_indexes()
            voxmem = await voxmem_turns(client, questions, n_turns, args.gap_ms / 1000)
        finally:
            await client.aclose()
    finally:
        if args.mode == "runtime":
            stop_runtime(tmp.name)
        tmp.cleanup()
    search_s = statistics.median(voxmem["recall_ms"]) / 1000
    mem0 = await mem0_turns(questions, lines, n_turns, search_s, args.gap_ms / 1000)
    out: dict[str, Any] = {
        "memories": n_memories, "embedder": args.embedder, "mode": args.mode,
        "turns": n_turns, "gap_ms": args.gap_ms, "import_s": round(import_s, 1),
        "caller_index_warm_after_s": voxmem["warm_s"],
        "voxmem_first_frame_ms": round(voxmem["frame_ms"][0], 3),
        "voxmem_frame_ms": summary(voxmem["frame_ms"][1:]),
        "voxmem_recall_ms": summary(voxmem["recall_ms"][1:]),
        # What the integration adds on top of the engine's search, turn by turn.
        "voxmem_overhead_ms": summary([f - r for f, r in zip(
            voxmem["frame_ms"][1:], voxmem["recall_ms"][1:], strict=False)]),
        "voxmem_turns_with_memory_in_llm_input": voxmem["turns_with_memory"],
        "voxmem_memory_messages_at_end": voxmem["memory_messages_at_end"],
        "voxmem_saves": voxmem["saves"],
        "voxmem_frames_sent_compacted": voxmem["compacted_frames"],
        "mem0_fake_search_ms": round(search_s * 1000, 3),
        "mem0_frame_ms": summary(mem0["frame_ms"][1:]),
        "mem0_memory_messages_at_end": mem0["memory_messages_at_end"],
        "target_p95_ms": TARGET_P95_MS,
        "environment": {
            "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "pipecat": pipecat.__version__,
            "date": time.strftime("%Y-%m-%d"),
            # The machine is shared: a busy host inflates every figure here.
            "loadavg_start": load_start, "loadavg_end": list(os.getloadavg()),
        },
    }
    out["pass"] = out["voxmem_frame_ms"]["p95"] <= TARGET_P95_MS
    return out


def report(out: dict[str, Any]) -> None:
    print(f"\nPipecat memory processor: {out['memories']:,} memories for the caller, "
          f"embedder={out['embedder']}, {out['mode']} engine, {out['turns']} turns, "
          f"{out['gap_ms']:.0f} ms apart")
    print(f"{'measure (ms)':<52}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
    for name, row in (("voxmem MemoryProcessor: context frame held", out["voxmem_frame_ms"]),
                      ("voxmem: search_memory inside it", out["voxmem_recall_ms"]),
                      ("voxmem: frame held minus search (integration)",
                       out["voxmem_overhead_ms"]),
                      ("Pipecat Mem0MemoryService (fake Mem0): frame held",
                       out["mem0_frame_ms"])):
        print(f"{name:<52}{row['p50']:>8.2f}{row['p95']:>8.2f}{row['p99']:>8.2f}"
              f"{row['max']:>8.2f}")
    print(f"first voxmem frame (waits for the preload): {out['voxmem_first_frame_ms']:.2f} ms;"
          f" LLM inputs with memory: {out['voxmem_turns_with_memory_in_llm_input']}"
          f"/{out['turns']}; saves: {out['voxmem_saves']}; frames sent compacted: "
          f"{out['voxmem_frames_sent_compacted']}")
    print(f"memory messages in the context after {out['turns']} turns: voxmem "
          f"{out['voxmem_memory_messages_at_end']}, Mem0 service "
          f"{out['mem0_memory_messages_at_end']} (fake Mem0 search: "
          f"{out['mem0_fake_search_ms']:.2f} ms)")
    env = out["environment"]
    print(f"host load average at start / end: {env['loadavg_start'][0]:.1f} / "
          f"{env['loadavg_end'][0]:.1f} on {env['cpus']} CPUs")
    verdict = "PASS" if out["pass"] else "FAIL"
    print(f"target: voxmem frame p95 <= {TARGET_P95_MS:.0f} ms -> {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 memories, 50 turns")
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--mode", choices=("embedded", "runtime"), default="embedded")
    parser.add_argument("--gap-ms", type=float, default=100.0,
                        help="pause between turns (0: back to back)")
    parser.add_argument("--json", default=str(RESULTS / "pipecat_hook.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from loguru import logger  # Pipecat logs every frame at DEBUG through loguru

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    out = asyncio.run(bench(args))
    report(out)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
