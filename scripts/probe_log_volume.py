"""How many log lines a real ``voxmem serve`` writes at INFO over many calls.

Starts the runtime (default log level, INFO) on a fresh data directory, makes
``--calls`` calls through the HTTP client (start, ``--turns`` saves each followed by a
search, end with learning), stops it, and counts its log lines by logger and level::

    python scripts/probe_log_volume.py --calls 1000 --turns 4

An operator's log should grow with calls and events, never with turns: the count per
call is printed, and lines that repeat per turn would show as a count near
``calls * turns``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=4)
    args = parser.parse_args()
    from voxmem import VoiceClientSync

    data_dir = Path(tempfile.mkdtemp(prefix="voxmem-logs-"))
    log_path = data_dir / "serve.log"
    env = {**os.environ, "VOXMEM_EMBEDDER": "hashing", "PYTHONUNBUFFERED": "1"}
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "voxmem", "serve", "--data-dir",
                                 str(data_dir / "data"), "--port-range", "8100-8200"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        line = ""
        while "serving" not in line:  # the runtime's one line once it answers
            if proc.poll() is not None:
                raise SystemExit("voxmem serve exited:\n" + log_path.read_text())
            time.sleep(0.2)
            found = [x for x in log_path.read_text().splitlines() if "serving" in x]
            line = found[0] if found else ""
        url = re.search(r"at (http://\S+)", line)
        token = (data_dir / "data" / "runtime.token").read_text().strip()
        assert url is not None, line
        began = time.perf_counter()
        with VoiceClientSync(project_id="support", agent_id="agent", runtime_url=url[1],
                             api_key=token) as vm:
            for c in range(args.calls):
                user = {"id": f"+1415555{c:04d}", "name": f"Caller {c}",
                        "metadata": {"email": f"caller{c}@example.com"}}
                vm.start_session(user=user)
                for t in range(args.turns):
                    vm.save_response(user=user, user_text=f"My order {c}-{t} is late, I'm "
                                     "vegetarian and my dog Rex is allergic to chicken",
                                     assistant_text="Sorry, let me check.")
                    vm.search_memory("what about my order", user=user)
                vm.end_session(user=user, wait=True)
        spent = time.perf_counter() - began
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    lines = log_path.read_text().splitlines()
    by_kind: collections.Counter[str] = collections.Counter()
    for text in lines:
        match = re.search(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b\s+(\S+)", text)
        by_kind[f"{match[1]} {match[2]}" if match else "other"] += 1
    print(json.dumps({"calls": args.calls, "turns_per_call": args.turns,
                      "seconds": round(spent, 1), "log_lines": len(lines),
                      "lines_per_call": round(len(lines) / args.calls, 3),
                      "by_level_and_logger": dict(by_kind.most_common())}, indent=1))
    for text in [*lines[:5], "...", *lines[-5:]]:
        print(text[:200])


if __name__ == "__main__":
    main()
