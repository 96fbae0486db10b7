"""Searches at a fixed concurrency on a ``search_profile.py run --keep`` copy: how many a
second one engine answers, their latency, and the CPU per search of its event loop, of
the whole process and of the org words worker (``org_words_worker``).

The runtime's ceiling is its event loop (docs/performance.md, tenth round); this runs
the same searches without HTTP, closed loop: ``--concurrency`` searches always in
flight, each starting the next question when it ends, for ``--seconds``.

    python benchmarks/search_load.py KEPT --out off.json
    python benchmarks/search_load.py KEPT --settings '{"org_words_worker": true}' --out on.json

Works on a copy of ``KEPT`` (learning off, as ``search_profile.py``'s pairs); prints one
line and writes the JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recall_latency import corpus, pct
from search_profile import process_cpu_s, pss_mb
from search_start import started


async def run(args: argparse.Namespace, data_dir: str) -> dict[str, Any]:
    _, questions = corpus()
    settings = {"extractor": "off", **json.loads(args.settings)}
    async with started(data_dir, args.embedder, settings, questions) as (engine, scope, _):
        words = engine.org.words
        walls: list[float] = []
        degraded = 0
        errors: dict[str, int] = {}
        end = time.perf_counter() + args.seconds
        cpu0, loop0 = time.process_time(), time.thread_time()
        worker0, answered0 = process_cpu_s(words.pid()), words.answered

        async def searcher(first: int) -> None:
            nonlocal degraded
            i = first
            while time.perf_counter() < end:
                t = time.perf_counter()
                result = await engine.search_memory(scope, questions[i % len(questions)],
                                                    timeout_ms=1000)
                walls.append((time.perf_counter() - t) * 1000)
                degraded += bool(result.trace["degraded"])
                for lane, why in result.trace["errors"].items():
                    errors[f"{lane}: {why}"] = errors.get(f"{lane}: {why}", 0) + 1
                i += args.concurrency

        t0 = time.perf_counter()
        await asyncio.gather(*(searcher(i) for i in range(args.concurrency)))
        elapsed = time.perf_counter() - t0
        n = len(walls)
        return {
            "concurrency": args.concurrency, "searches": n, "per_s": n / elapsed,
            "wall_ms": {"p50": pct(walls, 50), "p95": pct(walls, 95), "p99": pct(walls, 99)},
            "loop_cpu_ms": (time.thread_time() - loop0) * 1000 / n,
            "process_cpu_ms": (time.process_time() - cpu0) * 1000 / n,
            "worker_cpu_ms": (process_cpu_s(words.pid()) - worker0) * 1000 / n,
            "worker_answered": words.answered - answered0, "degraded": degraded,
            "errors": errors,
            "pss_mb": pss_mb(os.getpid()), "worker_pss_mb": pss_mb(words.pid()),
            "load_average": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--settings", default="{}", help="JSON of Settings overrides")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="voxmem-load-") as tmp:
        copy = str(Path(tmp) / "data")
        shutil.copytree(args.dir, copy)
        out = asyncio.run(run(args, copy))
    Path(args.out).write_text(json.dumps(out, indent=0))
    print(f"{out['searches']} searches at concurrency {out['concurrency']}: "
          f"{out['per_s']:.1f}/s, wall p50/p95/p99 {out['wall_ms']['p50']:.1f}/"
          f"{out['wall_ms']['p95']:.1f}/{out['wall_ms']['p99']:.1f} ms; CPU a search: loop "
          f"{out['loop_cpu_ms']:.2f}, process {out['process_cpu_ms']:.2f}, words worker "
          f"{out['worker_cpu_ms']:.2f} ms ({out['worker_answered']} answered); degraded "
          f"{out['degraded']} {out['errors']}; load {out['load_average'][0]:.1f}")


if __name__ == "__main__":
    main()
