"""Which library validates the wire types: msgspec, pydantic v2, or dataclasses + checks.

Measures what the choice costs on the recall path — validating one ``search_memory``
body (camelCase, unknown fields refused) — and what it costs every voice worker at
import. The figures are in docs/architecture.md.

    python benchmarks/wire_codecs.py

Prints a table and writes ``benchmarks/results/wire_codecs.json``.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import timeit
from pathlib import Path
from typing import Any, Literal

import msgspec

from voxmem._api import spellings, validate
from voxmem._api_types import SearchRequest

RESULTS = Path(__file__).resolve().parent / "results" / "wire_codecs.json"
BODY: dict[str, Any] = {
    "projectId": "support", "agentId": "front-desk", "tenantId": "default",
    "user": {"id": "caller-42", "name": "Dana"}, "query": "when should we call back?",
    "lanes": ["profile", "working", "permanent"], "intent": "answer_current_user",
    "topK": {"permanent": 6}, "timeoutMs": 250, "mode": "fast", "deadlineAt": 1.8e9,
}


def pydantic_validator() -> Any:
    from pydantic import BaseModel, ConfigDict
    from pydantic.alias_generators import to_camel

    class Model(BaseModel):
        model_config = ConfigDict(extra="forbid", alias_generator=to_camel,
                                  populate_by_name=True, strict=True)

    class CallerRef(Model):
        id: str
        name: str | None = None
        metadata: dict[str, Any] | None = None

    class Search(Model):
        project_id: str
        tenant_id: str | None = None
        agent_id: str | None = None
        user: CallerRef | None = None
        user_id: str | None = None
        query: str
        lanes: list[str] | None = None
        intent: str | None = None
        top_k: dict[str, int] | None = None
        timeout_ms: float | None = None
        mode: Literal["fast", "accurate"] | None = None
        deadline_at: float | None = None

    return Search.model_validate


@dataclasses.dataclass
class _DataclassSearch:
    project_id: str
    query: str
    extra: dict[str, Any]


_KNOWN = {"projectId", "agentId", "tenantId", "user", "userId", "query", "lanes",
          "intent", "topK", "timeoutMs", "mode", "deadlineAt"}


def dataclass_validate(body: dict[str, Any]) -> _DataclassSearch:
    """The hand-written equivalent: unknown keys, then each field's type by hand."""
    unknown = set(body) - _KNOWN
    if unknown:
        raise ValueError(unknown)
    for key in ("projectId", "query"):
        if not isinstance(body.get(key), str):
            raise ValueError(key)
    user = body.get("user")
    if user is not None and not (isinstance(user, dict) and isinstance(user.get("id"), str)
                                 and set(user) <= {"id", "name", "metadata"}):
        raise ValueError("user")
    lanes = body.get("lanes")
    if lanes is not None and not all(isinstance(x, str) for x in lanes):
        raise ValueError("lanes")
    timeout = body.get("timeoutMs")
    if timeout is not None and (isinstance(timeout, bool)
                                or not isinstance(timeout, int | float)):
        raise ValueError("timeoutMs")
    return _DataclassSearch(body["projectId"], body["query"], body)


def import_ms(module: str, runs: int = 7) -> float:
    """Median cumulative import time of ``module`` in a fresh interpreter."""
    times = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                              capture_output=True, text=True, check=True)
        for line in done.stderr.splitlines():
            parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] == module:
                times.append(int(parts[1]) / 1000)
    return round(statistics.median(times), 1)


def per_call_us(fn: Any, number: int = 20_000) -> float:
    best = min(timeit.repeat(lambda: fn(BODY), number=number, repeat=5))
    return round(best / number * 1e6, 2)


def main() -> None:
    def voxmem_decode(body: dict[str, Any]) -> None:
        _snake, camel = spellings(SearchRequest, body)
        validate(SearchRequest, camel)

    rows = {
        "msgspec convert": (per_call_us(lambda b: msgspec.convert(b, SearchRequest)),
                            import_ms("msgspec")),
        "msgspec + voxmem spellings (as dispatched)": (per_call_us(voxmem_decode), None),
        "pydantic v2 model_validate": (per_call_us(pydantic_validator()),
                                       import_ms("pydantic")),
        "dataclass + hand checks": (per_call_us(dataclass_validate), None),
    }
    print("| validate one search_memory body | µs per call (best of 5) | import ms |")
    print("|---|---|---|")
    for name, (us, imp) in rows.items():
        print(f"| {name} | {us} | {imp if imp is not None else '-'} |")
    out = {k: {"us_per_body": v[0], "import_ms_median": v[1]} for k, v in rows.items()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
