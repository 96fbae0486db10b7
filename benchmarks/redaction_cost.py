"""What the sensitive-data detector costs on one turn: CPU per call, best of many.

Three texts: a 64 KB turn dense with numbers (card-like groups, an IBAN-like word,
decimals, an IP address: the detector's card finders do the most work on it), 64 KB of
this repository's docs/extraction.md (prose), and a 200-byte turn. CPU is
``time.process_time`` and the best of the repeats is kept, so other work on a shared
machine costs as little as possible; compare two trees back to back (``PYTHONPATH``).

    python benchmarks/redaction_cost.py

Prints one JSON line and writes ``benchmarks/results/redaction_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
_WORDS = ["the", "order", "number", "for", "my", "card", "is", "55123", "and", "the",
          "account", "9931", "pay", "invoice", "GB82", "later", "tomorrow", "1234", "5678",
          "at", "10.0.0.1", "version", "3.14", "thanks"]


def texts() -> dict[str, str]:
    rng = random.Random(1)
    dense = " ".join(rng.choice(_WORDS) for _ in range(12_000))[:65_536]
    prose = (ROOT / "docs" / "extraction.md").read_text(encoding="utf-8")
    prose = (prose * (65_536 // len(prose) + 1))[:65_536]
    return {"digit-dense 64 KB": dense, "docs prose 64 KB": prose,
            "one 200-byte turn": prose[5_000:5_200]}


def main() -> None:
    from voxmem.extraction.sensitive import redact

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default=str(RESULTS / "redaction_cost.json"))
    args = parser.parse_args()
    out: dict[str, float] = {}
    for name, text in texts().items():
        for _ in range(3):
            redact(text)
        repeats = 30 if len(text) > 1_000 else 3_000
        best = float("inf")
        for _ in range(repeats):
            started = time.process_time()
            redact(text)
            best = min(best, time.process_time() - started)
        out[f"{name} ms"] = round(best * 1000, 3)
    print(json.dumps(out))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
