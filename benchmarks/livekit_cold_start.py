"""The first LiveKit call on a cold host: when the caller hears the agent, when the
caller's memory reaches the agent, and whether the turns said meanwhile are kept.

A real ``voxmem serve`` is started on a data directory holding the caller's earlier call
and held at its import of the server (as a loaded host holds a start for ~9 s: it has
taken the runtime lock, so the client waits for it instead of launching another) for
``--hold-s`` seconds, then let go. Meanwhile a real LiveKit ``AgentSession`` (scripted
fake LLM, text turns) runs ``MemoryAgent`` with a greeting, through a client of that data
directory; the caller says one thing every ``--gap-s`` seconds. Measured from
``session.start``:

- **first reply** — the greeting is in the conversation;
- **memory** — the first reply whose LLM request held the caller's preload message;
- **turns kept** — the call's turns in the store afterwards, against those said.

Prints a table and writes JSON to ``benchmarks/results/livekit_cold_start.json``::

    python benchmarks/livekit_cold_start.py                  # held 9 s, 20 turns, 3 runs
    python benchmarks/livekit_cold_start.py --hold-s 3 --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests._held_serve import WAIT_S, HeldServe  # noqa: E402
from tests.livekit_fakes import (  # noqa: E402
    AGENT,
    PROJECT,
    TEMPLATE,
    Replies,
    ScriptedLLM,
    make_client,
)

CALLER = {"id": "caller-cold", "name": "Dana"}
PORTS = "18980-18989"


async def one_call(base: Path, hold_s: float, gap_s: float, turns: int) -> dict[str, Any]:
    from livekit.agents import AgentSession

    from voxmem import Settings, VoiceClient
    from voxmem.integrations.livekit import MEMORY_MESSAGE_ID, CallMemory, MemoryAgent

    settings = Settings(data_dir=str(base / "data"), embedder="hashing",
                        runtime_start_timeout_s=WAIT_S)
    seeding = make_client(settings)
    await seeding.save_response(user=CALLER, user_text="My dog Biscuit needs grooming",
                                assistant_text="Noted.")
    await seeding.end_session(user=CALLER)
    await seeding.aclose()
    serve = HeldServe(base, settings.data_path, PORTS)
    client = VoiceClient(project_id=PROJECT, agent_id=AGENT, settings=settings)
    out: dict[str, Any] = {"turns_said": 0}
    try:
        await asyncio.to_thread(serve.wait_held)
        fake = ScriptedLLM()
        session: AgentSession[Any] = AgentSession(llm=fake)
        replies = Replies(session)
        agent = MemoryAgent(client=client, user=CALLER, instructions=TEMPLATE,
                            greeting_instructions="Greet the caller.")
        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        loop.call_later(hold_s, serve.release)
        await session.start(agent)
        await replies.wait(1, timeout=WAIT_S)
        out["first_reply_s"] = time.perf_counter() - began
        out["memory_s"] = None
        for i in range(turns):
            await asyncio.sleep(max(0.0, began + (i + 1) * gap_s - time.perf_counter()))
            await session.run(user_input=f"Turn {i}: about my dog's appointment")
            out["turns_said"] += 1
            if out["memory_s"] is None and fake.requests[-1].get_by_id(MEMORY_MESSAGE_ID):
                out["memory_s"] = time.perf_counter() - began
        memory = CallMemory.of(session)
        await session.aclose()
        assert memory is not None
        await memory.wait_closed(WAIT_S)
        exported = await client.export_user(user=CALLER)
        kept = [i for i in exported["items"] if i["kind"] == "turn"
                and str(i.get("userText") or "").startswith("Turn ")]
        out["turns_kept"] = len(kept)
    finally:
        await client.aclose()
        serve.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hold-s", type=float, default=9.0)
    parser.add_argument("--gap-s", type=float, default=2.0)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="voxmem-cold-") as tmp:
            load = os.getloadavg()[0]
            run = asyncio.run(one_call(Path(tmp), args.hold_s, args.gap_s, args.turns))
            runs.append({**run, "load_average": round(load, 1)})
    print(f"{'run':>4} {'load':>6} {'first reply s':>14} {'memory s':>9} {'turns kept':>11}")
    for n, run in enumerate(runs, 1):
        memory = "never" if run["memory_s"] is None else f"{run['memory_s']:.2f}"
        print(f"{n:>4} {run['load_average']:>6} {run['first_reply_s']:>14.2f} {memory:>9} "
              f"{run['turns_kept']:>5} of {run['turns_said']}")
    firsts = [r["first_reply_s"] for r in runs]
    result = {"hold_s": args.hold_s, "gap_s": args.gap_s, "turns": args.turns,
              "first_reply_median_s": round(statistics.median(firsts), 3), "runs": [
                  {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
                  for r in runs]}
    out = ROOT / "benchmarks" / "results" / "livekit_cold_start.json"
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
