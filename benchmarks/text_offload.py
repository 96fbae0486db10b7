"""Would a worker process for a save's text work pay? The runtime's side of the hop.

A saved turn's text work — sensitive-data redaction, the entity-claim scan and the
turn's analysis for the warm index — is pure and runs on the event loop with the GIL
held. docs/performance.md ("Several runtime processes: the design", option 1) proposes
sending it, batched per loop pass, to a worker process. This measures what the runtime
process itself would still spend per turn (its CPU time, all threads; the worker's CPU
is on the other core) against doing the work inline, on the shared corpus's turns:

- ``inline``: the three steps in this process;
- ``worker, batch N``: N turns pickled down one pipe to a worker process, the results
  (redacted texts, claims, terms) pickled back — the cheapest hop, without
  ``concurrent.futures``' feeder and result threads.

Run: ``python benchmarks/text_offload.py [--turns 4000] [--batches 1,8,32]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import time
from multiprocessing.connection import Connection
from typing import Any

from recall_latency import corpus

AGENT = "Okay, noted."


def work(user: str) -> tuple[str, str, Any, list[str]]:
    """A save's text work on one turn, as the write path does it."""
    from voxmem.engine._analysis import analyze
    from voxmem.entities._identifiers import spoken_claims
    from voxmem.extraction.redaction import redact_turn_text

    clean_user, clean_agent, _answered = redact_turn_text(user, AGENT)
    return (clean_user, clean_agent, spoken_claims(user),
            analyze(clean_user + "\n" + clean_agent))


def worker(conn: Connection) -> None:
    while True:
        batch = conn.recv()
        if batch is None:
            return
        conn.send([work(text) for text in batch])


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=4000)
    parser.add_argument("--batches", default="1,8,32")
    args = parser.parse_args()
    lines, _questions = corpus()
    texts = random.Random(1).sample(lines, args.turns)
    for text in texts[:200]:
        work(text)  # patterns compiled, stemmer loaded
    out: dict[str, Any] = {"turns": args.turns}

    cpu = process_cpu_s()
    for text in texts:
        work(text)
    out["inline_us_per_turn"] = round((process_cpu_s() - cpu) / len(texts) * 1e6, 1)

    ctx = mp.get_context("spawn")
    for size in (int(b) for b in args.batches.split(",")):
        here, there = ctx.Pipe()
        proc = ctx.Process(target=worker, args=(there,), daemon=True)
        proc.start()
        here.send(texts[:200])
        here.recv()  # the worker is warm
        cpu, wall = process_cpu_s(), time.perf_counter()
        for start in range(0, len(texts), size):
            here.send(texts[start:start + size])
            here.recv()
        out[f"worker_batch{size}_us_per_turn"] = round(
            (process_cpu_s() - cpu) / len(texts) * 1e6, 1)
        out[f"worker_batch{size}_wall_us_per_turn"] = round(
            (time.perf_counter() - wall) / len(texts) * 1e6, 1)
        here.send(None)
        proc.join()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
