"""What the store's typed records cost on the recall path: msgspec Struct, frozen
dataclass, or the plain camelCase dicts the store returned before.

A caller's warm load reads every fact with its history (``list_facts``) and the
handlers turn records into wire JSON; both run per caller, so the per-row cost of
building a record from a row and of its wire conversion is what the choice decides.
The figures are in docs/architecture.md.

    python benchmarks/store_records.py

Prints a table and writes ``benchmarks/results/store_records.json``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import timeit
from pathlib import Path
from typing import Any

import msgspec

from voxmem.models import Fact
from voxmem.store._rows import fact as fact_record

RESULTS = Path(__file__).resolve().parent / "results" / "store_records.json"
ROWS = 1_000
REPEAT = 7
ROW: tuple[Any, ...] = ("fact_42f168988a0b45fd8ac4ea2d2a8db66f", "Is vegetarian", "preference",
                        "diet", 0.85, "call-1", ["t1"], 1.78e9, None, 1.78e9, None)


@dataclasses.dataclass(frozen=True, slots=True)
class FactDataclass:
    id: str
    text: str
    kind: str
    slot_key: str | None
    confidence: float
    source_session_id: str | None
    source_turn_ids: list[str]
    valid_from: float
    valid_to: float | None
    created_at: float
    deleted_at: float | None


_CAMEL = {f.name: "".join(p.capitalize() if i else p for i, p in enumerate(f.name.split("_")))
          for f in dataclasses.fields(FactDataclass)}


def as_dict(r: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": r[0], "text": r[1], "kind": r[2], "slotKey": r[3], "confidence": r[4],
            "sourceSessionId": r[5], "sourceTurnIds": r[6], "validFrom": r[7],
            "validTo": r[8], "createdAt": r[9], "deletedAt": r[10]}


def as_dataclass(r: tuple[Any, ...]) -> FactDataclass:
    return FactDataclass(*r)


def dataclass_wire(f: FactDataclass) -> dict[str, Any]:
    return {_CAMEL[k]: v for k, v in dataclasses.asdict(f).items()}


def per_row_us(fn: Any, arg: Any) -> float:
    """Best of REPEAT runs over ROWS calls, in microseconds per call."""
    best = min(timeit.repeat(lambda: [fn(arg) for _ in range(ROWS)], number=1,
                             repeat=REPEAT))
    return best / ROWS * 1e6


def main() -> None:
    struct, dc, plain = fact_record(ROW), as_dataclass(ROW), as_dict(ROW)
    assert struct.to_wire() == dataclass_wire(dc) == plain, "all three give the same JSON"
    results = {
        "msgspec Struct (voxmem.models.Fact)": {
            "build_us": per_row_us(fact_record, ROW), "wire_us": per_row_us(Fact.to_wire, struct),
            "read_attr_us": per_row_us(lambda f: f.slot_key, struct)},
        "frozen dataclass (slots)": {
            "build_us": per_row_us(as_dataclass, ROW), "wire_us": per_row_us(dataclass_wire, dc),
            "read_attr_us": per_row_us(lambda f: f.slot_key, dc)},
        "camelCase dict (before)": {
            "build_us": per_row_us(as_dict, ROW), "wire_us": 0.0,
            "read_attr_us": per_row_us(lambda f: f["slotKey"], plain)},
    }
    print(f"{'record':40} {'build µs':>9} {'to wire µs':>11} {'read µs':>8}")
    for name, r in results.items():
        print(f"{name:40} {r['build_us']:9.2f} {r['wire_us']:11.2f} {r['read_attr_us']:8.3f}")
    RESULTS.write_text(json.dumps({"python": sys.version.split()[0],
                                   "msgspec": msgspec.__version__, "rows": ROWS,
                                   "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
