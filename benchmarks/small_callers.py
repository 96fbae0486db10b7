"""CPU of one search of a small warm caller (the load test's shape), and its answers.

``request_cpu.py`` measures a whole request (HTTP app, journal, store writer) of 1,000
callers; a search is about half of it, and the machine's neighbours move one run by
more than a change to the search. This measures the search alone, in-process, at a
fixed clock: ``--callers`` callers, each in a call of ``--turns`` turns of the shared
corpus; after every saved turn (once the store writer has applied it, as it has long
before a caller's next turn in a real call) the caller asks a question, and the CPU
time of the event loop's thread for that ``search_memory`` is recorded. The first
search after a save is the one measured, since that is what a call makes (a repeat
would find the saved turn already read). Every answer (working and permanent lanes:
text and score) is written to ``--out`` so two versions of the code can be compared:

    python benchmarks/small_callers.py --out before.json
    python benchmarks/small_callers.py --out after.json
    python benchmarks/small_callers.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recall_latency import corpus, pct

#: The clock every run saves and searches at (recency is part of the score).
FIXED_NOW = 1.8e9


async def measure(callers: int, turns: int) -> dict[str, Any]:
    from voxmem import Settings
    from voxmem.engine import MemoryEngine
    from voxmem.models import Caller

    lines, questions = corpus()
    rng = random.Random(1)
    cpu_ms: list[float] = []
    answers: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="voxmem-small-callers-") as tmp:
        engine = MemoryEngine(Settings(data_dir=tmp, embedder="static",
                                       caller_cache_size=callers + 100),
                              clock=lambda: FIXED_NOW)
        await engine.start()
        try:
            scopes = [engine.scope(project_id="load", agent_id="agent", user_id=f"caller-{n}")
                      for n in range(callers)]
            for n, scope in enumerate(scopes):
                await engine.preload(scope)
                await engine.start_session(scope, Caller(f"caller-{n}"))
            for t in range(turns):
                for n, scope in enumerate(scopes):
                    await engine.save_response(
                        scope, Caller(f"caller-{n}"),
                        user_text=lines[(n * 7919 + t) % len(lines)],
                        assistant_text="Okay, noted.")
                await engine.flush()
                for scope in scopes:
                    query = rng.choice(questions)
                    started = time.thread_time()
                    found = await engine.search_memory(scope, query, timeout_ms=10_000)
                    cpu_ms.append((time.thread_time() - started) * 1000)
                    answers.append({lane: [(h["text"][:60], h["score"])
                                           for h in getattr(found, lane)]
                                    for lane in ("working", "permanent")}
                                   | {"degraded": found.trace["degraded"]})
        finally:
            await engine.close()
    return {"searches": len(cpu_ms), "callers": callers, "turns": turns,
            "loop_cpu_ms_p50": round(pct(cpu_ms, 50), 3),
            "loop_cpu_ms_p95": round(pct(cpu_ms, 95), 3),
            "loop_cpu_ms_mean": round(sum(cpu_ms) / len(cpu_ms), 3),
            "degraded": sum(1 for a in answers if a["degraded"]),
            "load_average": os.getloadavg()[0], "answers": answers}


def compare(before: str, after: str) -> None:
    a = json.loads(Path(before).read_text())["answers"]
    b = json.loads(Path(after).read_text())["answers"]
    same = sum(1 for x, y in zip(a, b, strict=True) if x == y)
    print(json.dumps({"searches": len(a), "identical": same}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--out", default="")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    out = asyncio.run(measure(args.callers, args.turns))
    print(json.dumps({k: v for k, v in out.items() if k != "answers"}))
    if args.out:
        Path(args.out).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
