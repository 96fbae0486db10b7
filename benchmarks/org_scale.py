"""Org knowledge at scale: 100k / 1M chunks through the engine (and the runtime).

Builds one project's org index with ``create_index`` calls of 100 documents (as a client
sends them), real conversational text from the shared dev data (each chunk joins two
utterances, so chunks are distinct yet read like real text), then reports:

- build time, and the time of the last create_index calls against the first (a build
  that costs the same per call at every size);
- load time in a fresh engine on the same store (the persisted vector index is loaded,
  not rebuilt), and start to first answered org search;
- resident memory after the load;
- org search p50/p95 in-process (``search_index``) and through the runtime's HTTP API;
- recall@10 of the org lane's vector side against exact search over the same vectors.

    python benchmarks/org_scale.py --quick             # 10,000 chunks (CI-sized)
    python benchmarks/org_scale.py                     # 100,000 chunks
    python benchmarks/org_scale.py --size 1000000      # a million
    python benchmarks/org_scale.py --backend postgres  # embedded Postgres store

Prints a table and writes ``benchmarks/results/org_scale_<backend>_<size>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VOXMEM_SHARED_DIR", ROOT.parent / "shared"))
RESULTS = ROOT / "benchmarks" / "results"
DOCS_PER_CALL = 100
K = 10


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@functools.cache
def _utterances() -> tuple[list[str], list[str]]:
    locomo = json.loads((SHARED / "eval" / "data" / "locomo_dev.json").read_text())
    lines: list[str] = []
    questions: list[str] = []
    for sample in locomo:
        for key, value in sample["conversation"].items():
            if key.startswith("session_") and isinstance(value, list):
                lines.extend(str(t["text"]) for t in value)
        questions.extend(str(q["question"]) for q in sample["qa"])
    lme = json.loads((SHARED / "eval" / "data" / "longmemeval_s_dev40.json").read_text())
    for item in lme:
        questions.append(str(item["question"]))
        for session in item["haystack_sessions"]:
            lines.extend(t["content"][:300] for t in session if t.get("content"))
    return lines, questions


def chunk_texts(n: int, seed: int = 11) -> list[str]:
    """``n`` distinct chunk texts, each two real utterances joined (short: one chunk)."""
    lines, _ = _utterances()
    rng = np.random.default_rng(seed)
    first = rng.integers(len(lines), size=n)
    second = rng.integers(len(lines), size=n)
    return [f"{lines[a]} {lines[b]}" for a, b in zip(first.tolist(), second.tolist(),
                                                     strict=True)]


def question_texts(n: int) -> list[str]:
    _, questions = _utterances()
    return [questions[i % len(questions)] for i in range(n)]
