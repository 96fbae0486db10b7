"""Extraction quality and speed: the rule extractor against the labelled call set.

    python benchmarks/extraction.py            # table + benchmarks/results/extraction.json
    python benchmarks/extraction.py --verbose  # also every miss and false positive

The set has three splits (the ``split`` field). ``dev`` was written first and the rules
were developed on it; ``holdout1`` was written after the rules, measured once, then used
to improve them; ``holdout2`` was written after that and has never been tuned on, so it
is the honest estimate of quality on calls the rules have not seen. All three are
reported.

Precision = matched predicted facts / all predicted facts; a fact containing a
``must_not_contain`` string (a card number, a diagnosis, a volatile detail) counts as a
false positive and is also reported as a violation. Recall = matched expected facts /
all expected facts. Throughput = transcripts per second through ``extract``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from voxmem.extraction import FACT_KINDS, Extractor, RuleExtractor  # noqa: E402
from voxmem.extraction._evaluate import (  # noqa: E402
    CaseResult,
    load_labelled_set,
    score_case,
    summarize,
    to_transcript,
)

DEFAULT_SET = ROOT / "tests" / "data" / "extraction_set.jsonl"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "extraction.json"
#: Passes over the set when timing throughput.
DEFAULT_REPEATS = 20


async def evaluate(extractor: Extractor, cases: list[dict[str, Any]]) -> list[CaseResult]:
    """Run ``extractor`` over every case and score it."""
    results = []
    for case in cases:
        facts = await extractor.extract(to_transcript(case))
        results.append(score_case(case, facts))
    return results


async def throughput(extractor: Extractor, cases: list[dict[str, Any]], repeats: int) -> float:
    """Transcripts per second over ``repeats`` passes of the set."""
    transcripts = [to_transcript(c) for c in cases]
    start = time.perf_counter()
    for i in range(repeats):
        for transcript in transcripts:
            await extractor.extract(transcript)
        done = (i + 1) * len(transcripts)
        print(f"\r  timing: {done}/{repeats * len(transcripts)} transcripts", end="",
              file=sys.stderr)
    print(file=sys.stderr)
    return repeats * len(transcripts) / (time.perf_counter() - start)


def per_kind(cases: list[dict[str, Any]], results: list[CaseResult]) -> dict[str, dict[str, int]]:
    """Expected and missed facts per kind (recall by kind)."""
    table = {kind: {"expected": 0, "missed": 0} for kind in (*FACT_KINDS, "any")}
    for case, result in zip(cases, results, strict=True):
        for fact in case["expected_facts"]:
            table[fact.get("kind") or "any"]["expected"] += 1
        for fact in result.missed_expected:
            table[fact.get("kind") or "any"]["missed"] += 1
    return {k: v for k, v in table.items() if v["expected"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="labelled JSONL set")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--verbose", action="store_true", help="list misses and extras")
    args = parser.parse_args(argv)

    cases = load_labelled_set(args.set)
    extractor = RuleExtractor()
    results = asyncio.run(evaluate(extractor, cases))
    score = summarize(results)
    rate = asyncio.run(throughput(extractor, cases, args.repeats))
    kinds = per_kind(cases, results)

    if args.verbose:
        for r in results:
            if r.violations or r.unmatched_predicted or r.missed_expected:
                print(f"- {r.case_id}")
                for v in r.violations:
                    print(f"    VIOLATION  {v}")
                for u in r.unmatched_predicted:
                    print(f"    extra      {u}")
                for m in r.missed_expected:
                    print(f"    missed     {m}")
        print()

    splits: dict[str, list[CaseResult]] = {}
    for case, result in zip(cases, results, strict=True):
        splits.setdefault(str(case.get("split", "all")), []).append(result)
    split_scores = {name: summarize(rs) for name, rs in splits.items()}

    zero_cases = [r for r in results if r.expected == 0]
    zero_clean = sum(1 for r in zero_cases if r.predicted == 0)
    print(f"extractor {extractor.name} on {args.set.name}: {score.cases} calls, "
          f"{score.expected} expected facts")
    print()
    print("| metric | value |")
    print("|---|---|")
    print(f"| precision | {score.precision:.3f} ({score.matched}/{score.predicted}) |")
    print(f"| recall | {score.recall:.3f} ({score.matched}/{score.expected}) |")
    print(f"| must_not_contain violations | {score.violations} |")
    print(f"| zero-fact calls left empty | {zero_clean}/{len(zero_cases)} |")
    print(f"| throughput | {rate:,.0f} transcripts/s |")
    print()
    print("| split | calls | expected | predicted | precision | recall | violations |")
    print("|---|---|---|---|---|---|---|")
    for name, sc in [*split_scores.items(), ("all", score)]:
        print(f"| {name} | {sc.cases} | {sc.expected} | {sc.predicted} | {sc.precision:.3f} | "
              f"{sc.recall:.3f} | {sc.violations} |")
    print()
    print("| kind | expected | found | recall |")
    print("|---|---|---|---|")
    for kind, row in kinds.items():
        found = row["expected"] - row["missed"]
        print(f"| {kind} | {row['expected']} | {found} | {found / row['expected']:.2f} |")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "extractor": extractor.name,
        "set": str(args.set.relative_to(ROOT)) if args.set.is_relative_to(ROOT) else str(args.set),
        "cases": score.cases,
        "expected_facts": score.expected,
        "predicted_facts": score.predicted,
        "matched": score.matched,
        "precision": round(score.precision, 4),
        "recall": round(score.recall, 4),
        "violations": score.violations,
        "zero_fact_calls": len(zero_cases),
        "zero_fact_calls_left_empty": zero_clean,
        "throughput_transcripts_per_s": round(rate, 1),
        "by_split": {
            name: {
                "cases": sc.cases,
                "expected_facts": sc.expected,
                "predicted_facts": sc.predicted,
                "matched": sc.matched,
                "precision": round(sc.precision, 4),
                "recall": round(sc.recall, 4),
                "violations": sc.violations,
            }
            for name, sc in split_scores.items()
        },
        "recall_by_kind": kinds,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "failures": [
            {
                "id": r.case_id,
                "violations": r.violations,
                "extra": r.unmatched_predicted,
                "missed": r.missed_expected,
            }
            for r in results
            if r.violations or r.unmatched_predicted or r.missed_expected
        ],
    }
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
