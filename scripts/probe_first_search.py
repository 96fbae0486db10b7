"""The first searches after a restart of a real ``voxmem serve``, against their deadline.

Starts the runtime on a fresh data directory, saves ``--turns`` turns of one caller
through the HTTP client, then restarts it ``--restarts`` times; after each start the
caller's first ``--searches`` searches go out at once (``timeout_ms`` ``--deadline-ms``),
as the first turn of a call would, and each one's client wall time, the runtime's own
``totalMs``, ``degraded`` and ``waited`` (what a lane left out was waiting for) are
printed::

    python scripts/probe_first_search.py --turns 300 --restarts 3

"Never late" means ``totalMs`` at most the deadline plus the loop's scheduling on the
host; a search past it must say ``degraded``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUESTIONS = ("what did I order last time", "when is my appointment",
             "what is my dog called", "which plan am I on")


def start(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "voxmem", "serve", "--data-dir",
                                 str(data_dir), "--port-range", "8100-8200"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    line = ""
    while "serving" not in line:  # the runtime's one line once it answers
        if proc.poll() is not None:
            raise SystemExit("voxmem serve exited:\n" + log_path.read_text())
        time.sleep(0.05)
        found = [x for x in log_path.read_text().splitlines() if "serving" in x]
        line = found[0] if found else ""
    url = re.search(r"at (http://\S+)", line)
    assert url is not None, line
    return proc, url[1], (data_dir / "runtime.token").read_text().strip()


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--searches", type=int, default=3)
    parser.add_argument("--deadline-ms", type=float, default=250.0)
    args = parser.parse_args()
    from voxmem import VoiceClientSync

    root = Path(tempfile.mkdtemp(prefix="voxmem-first-search-"))
    data_dir, log_path = root / "data", root / "serve.log"
    user = {"id": "+14155550100", "name": "Dana"}
    proc, url, token = start(data_dir, log_path)
    try:
        with VoiceClientSync(project_id="support", agent_id="agent", runtime_url=url,
                             api_key=token) as vm:
            for t in range(args.turns):
                vm.save_response(user=user, user_text=f"order {t}: my dog Rex needs the "
                                 f"grain-free food, plan {t % 3}", assistant_text="Noted.")
            vm.end_session(user=user, wait=True)
    finally:
        stop(proc)
    rows: list[dict[str, Any]] = []
    for restart in range(args.restarts):
        proc, url, token = start(data_dir, log_path)
        try:
            with VoiceClientSync(project_id="support", agent_id="agent", runtime_url=url,
                                 api_key=token) as vm:
                for n in range(args.searches):
                    began = time.perf_counter()
                    result = vm.search_memory(QUESTIONS[n % len(QUESTIONS)], user=user,
                                              timeout_ms=args.deadline_ms)
                    trace = result.trace
                    rows.append({"restart": restart, "search": n,
                                 "client_ms": round((time.perf_counter() - began) * 1000, 1),
                                 "total_ms": trace["totalMs"], "degraded": trace["degraded"],
                                 "waited": trace.get("waited", {})})
        finally:
            stop(proc)
    for row in rows:
        print(json.dumps(row))
    late = [r for r in rows if r["total_ms"] > args.deadline_ms]
    print(json.dumps({"searches": len(rows), "past_deadline": len(late),
                      "past_deadline_not_degraded": len([r for r in late
                                                         if not r["degraded"]]),
                      "max_total_ms": max(r["total_ms"] for r in rows)}))


if __name__ == "__main__":
    main()
