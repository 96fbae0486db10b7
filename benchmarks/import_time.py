"""What ``import voxmem`` plus constructing a runtime ``VoiceClient`` costs a voice worker.

Every LiveKit job process imports voxmem; a client that talks to a runtime must not pay
for the engine (numpy, indexes, extractors). Runs a fresh interpreter ``--runs`` times
with ``python -X importtime``, reads the cumulative microseconds of the top-level
``voxmem`` import, and reports min / median / p90 plus which heavy modules got loaded.
The machine is shared, so the minimum is the figure to compare; the median shows the
noise.

    python benchmarks/import_time.py --runs 15
    python benchmarks/import_time.py --src ../other-checkout/src   # compare a checkout
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "import_time.json"
BUDGET_MS = 150.0
HEAVY = ("numpy", "voxmem.engine._engine", "voxmem._operations", "voxmem.compaction",
         "starlette", "httpx", "tokenizers", "Stemmer", "phonenumbers")
SNIPPET = (
    "import sys, voxmem\n"
    "voxmem.VoiceClient(project_id='bench', agent_id='bench')\n"
    f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
)


def one_run(src: Path) -> tuple[float, float, list[str]]:
    """(voxmem import ms from -X importtime, wall ms of the interpreter, heavy modules)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", SNIPPET], env=env,
                          capture_output=True, text=True, check=True)
    wall_ms = (time.perf_counter() - started) * 1000
    import_us = 0
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == "voxmem":
            import_us = int(parts[1])
    heavy = json.loads(done.stdout.split("HEAVY", 1)[1].strip().replace("'", '"'))
    return import_us / 1000, wall_ms, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    runs = [one_run(args.src) for _ in range(args.runs)]
    imports = sorted(r[0] for r in runs)
    walls = sorted(r[1] for r in runs)
    heavy = sorted({m for r in runs for m in r[2]})
    row = {
        "runs": args.runs,
        "import_ms_min": round(imports[0], 1),
        "import_ms_median": round(statistics.median(imports), 1),
        "import_ms_p90": round(imports[int(0.9 * (len(imports) - 1))], 1),
        "interpreter_wall_ms_median": round(statistics.median(walls), 1),
        "heavy_modules_loaded": heavy,
        "budget_ms": BUDGET_MS,
        "python": sys.version.split()[0],
    }
    print("| import voxmem + VoiceClient() | min ms | median ms | p90 ms | heavy modules |")
    print("|---|---|---|---|---|")
    print(f"| {args.runs} runs | {row['import_ms_min']} | {row['import_ms_median']} | "
          f"{row['import_ms_p90']} | {', '.join(heavy) or 'none'} |")
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(row, indent=2) + "\n")


if __name__ == "__main__":
    main()
