"""The dashboard under real data: page load times in headless Chromium.

Builds a project of ``--callers`` callers (each one call of two turns, a phone, an
e-mail and a name linked; some with odd data: right-to-left names, emoji, empty
names, 4 KB turns), one caller with ``--memories`` memories over 100 calls, and one
call of ``--turns`` turns; starts a real ``voxmem serve`` on it, signs in with
Chromium and loads each page ``--repeat`` times, reading the browser's own
navigation timing (request start to the load event: server time, transfer, parsing
and rendering) and the page's size. Prints a table and writes JSON to ``benchmarks/results/``::

    python benchmarks/dashboard_pages.py            # 10,000 callers, 2,000 memories
    python benchmarks/dashboard_pages.py --callers 500 --memories 200 --turns 100

Needs the system packages ``chromium`` and ``chromium-driver`` (as the browser tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests import _browser  # noqa: E402

from voxmem.entities import normalize_identifier  # noqa: E402

#: Three weeks ago: imports keep their times, and memories older than the project's
#: retention (90 days by default) are removed by the runtime's next cleanup.
START = time.time() - 21 * 86_400
ODD_NAMES = ("", "שרה כהן", "محمد علي", "🦊 Foxy 🚀", "Zoë O'Brien-Ñúñez", "x" * 200)
BIG = "caller-big"
LONG_CALL = "call-long"


def _caller(i: int) -> dict[str, Any]:
    name = ODD_NAMES[i % len(ODD_NAMES)] if i % 50 == 0 else f"Caller {i} Example"
    text = ("My internet drops every evening. " * 120) if i % 97 == 0 else \
        f"My order number is {100000 + i} and it has not arrived"
    return {
        "format": 2, "userId": f"caller-{i:05d}", "name": name or None,
        "metadata": {"plan": "gold" if i % 3 else "basic"},
        "profile": {}, "merges": [], "graph": {},
        "sessions": [{"sessionId": f"call-{i:05d}", "startedAt": START + i,
                      "endedAt": START + i + 60, "endReason": "completed"}],
        "items": [{"id": f"evt-{i:05d}-{t}", "kind": "turn", "sessionId": f"call-{i:05d}",
                   "turnId": f"t{t}", "createdAt": START + i + t,
                   "userText": text if t == 0 else "Thanks, bye 👋",
                   "assistantText": "Let me check that for you."} for t in range(2)],
        "identifiers": [
            {"kind": "phone", "value": f"+1415{5550000 + i:07d}", "raw": f"+1415{5550000 + i}",
             "source": "sip", "strength": 1.0, "createdAt": START + i},
            {"kind": "email", "value": f"caller{i}@example.com",
             "raw": f"caller{i}@example.com", "source": "metadata", "strength": 1.0,
             "createdAt": START + i}] + ([
            # A name given at call start is linked as an identifier too (found by sound).
            {"kind": "name", "value": normalize_identifier("name", name) or name,
             "raw": name, "source": "metadata", "strength": 0.2, "createdAt": START + i}]
            if name and normalize_identifier("name", name) else []),
    }


def _big(memories: int) -> dict[str, Any]:
    calls = 100
    sessions = [{"sessionId": f"big-call-{c}", "startedAt": START + 20_000 + c * 100,
                 "endedAt": START + 20_000 + c * 100 + 60, "endReason": "completed"}
                for c in range(calls)]
    items = [{"id": f"fact-big-{m:05d}", "kind": "fact", "sessionId": f"big-call-{m % calls}",
              "createdAt": START + 20_000 + (m % calls) * 100 + 1 + m / 10_000,
              "text": f"Fact {m}: prefers delivery slot {m % 24}:00 for parcel {m} ✅",
              "factKind": "note", "confidence": 0.8} for m in range(memories)]
    return {"format": 2, "userId": BIG, "name": "Big History", "metadata": {}, "profile": {},
            "sessions": sessions, "items": items, "identifiers": [], "merges": []}


def _long_call(turns: int) -> dict[str, Any]:
    return {"format": 2, "userId": "caller-long", "name": "Long Talker", "metadata": {},
            "profile": {}, "identifiers": [], "merges": [],
            "sessions": [{"sessionId": LONG_CALL, "startedAt": START + 30_000,
                          "endedAt": START + 30_000 + turns * 10, "endReason": "completed"}],
            "items": [{"id": f"evt-long-{t:05d}", "kind": "turn", "sessionId": LONG_CALL,
                       "turnId": f"t{t}", "createdAt": START + 30_000 + t * 10,
                       "userText": f"Turn {t}: and another thing about my account…",
                       "assistantText": "I understand. Anything else? مرحبا"}
                      for t in range(turns)]}


async def build(data_dir: Path, callers: int, memories: int, turns: int) -> float:
    from voxmem import Settings
    from voxmem._operations import dispatch
    from voxmem.engine import MemoryEngine

    began = time.perf_counter()
    engine = MemoryEngine(Settings(data_dir=str(data_dir), embedder="hashing",
                                   extractor="off"))
    await engine.start()
    body = {"project_id": _browser.PROJECT, "agent_id": _browser.AGENT}

    async def put(export: dict[str, Any]) -> None:
        user = export.pop("userId")
        await dispatch(engine, "import_user", {**body, "user_id": user, **export})

    try:
        for start in range(0, callers, 50):
            await asyncio.gather(*(put(_caller(i))
                                   for i in range(start, min(start + 50, callers))))
        await put(_big(memories))
        await put(_long_call(turns))
    finally:
        await engine.close()
    return time.perf_counter() - began


def measure(runtime: _browser.Runtime, repeat: int,
            callers: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    pages = {
        "callers list": "/callers",
        "search by phone": "/callers?q=" + urllib.parse.quote("(415) 555-0042"),
        "search by e-mail": "/callers?q=caller4242%40example.com",
        "search by name": "/callers?q=Caller+4242",
        "search, no match": "/callers?q=nobody-at-all",
        f"caller with {BIG}": f"/callers/{BIG}",
        "caller, RTL name": "/callers/caller-00050",
        "calls list": "/calls",
        "long call": f"/calls/{LONG_CALL}",
    }
    out: dict[str, list[float]] = {name: [] for name in pages}
    sizes: dict[str, int] = {}
    with _browser.chromium(Path(tempfile.mkdtemp())) as driver:
        _browser.sign_in(driver, runtime)
        for _ in range(repeat):
            for name, path in pages.items():
                driver.get(runtime.url + path)
                # get() can return inside the load event, before its end is recorded.
                ms = _browser.wait(driver, lambda d: d.execute_script(
                    "const t = performance.getEntriesByType('navigation')[0];"
                    "return t && t.loadEventEnd > 0 ?"
                    " [t.loadEventEnd - t.requestStart, document.title, t.decodedBodySize]"
                    " : null;"))
                if "error" in str(ms[1]).lower():
                    raise RuntimeError(f"{path} answered an error page: {ms[1]}")
                out[name].append(float(ms[0]))
                sizes[name] = int(ms[2])
    return out, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=10_000)
    parser.add_argument("--memories", type=int, default=2_000)
    parser.add_argument("--turns", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data-dir", help="reuse (or build once into) this directory")
    args = parser.parse_args()
    missing = _browser.browser_missing()
    if missing:
        raise SystemExit(f"cannot run: {missing}")
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="voxmem-dash-")) / "data"
    built = 0.0
    if not (data_dir / "ready").exists():
        built = asyncio.run(build(data_dir, args.callers, args.memories, args.turns))
        (data_dir / "ready").write_text("")
    with _browser.serve(data_dir, "7990-8090") as runtime:
        times, sizes = measure(runtime, args.repeat, args.callers)
    rows = {name: {"median_ms": round(statistics.median(v), 1), "max_ms": round(max(v), 1),
                   "html_kb": round(sizes[name] / 1024, 1)} for name, v in times.items()}
    print(f"{'page':28} {'median ms':>10} {'max ms':>10} {'HTML KB':>10}")
    for name, row in rows.items():
        print(f"{name:28} {row['median_ms']:>10} {row['max_ms']:>10} {row['html_kb']:>10}")
    result = {"callers": args.callers, "memories": args.memories, "turns": args.turns,
              "repeat": args.repeat, "build_s": round(built, 1), "pages": rows}
    out = ROOT / "benchmarks" / "results" / "dashboard_pages.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({"build_s": result["build_s"]}))


if __name__ == "__main__":
    main()
