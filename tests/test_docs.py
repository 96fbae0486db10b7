"""The README stays in step with the code: its settings table is generated."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_settings_table_is_current() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "update_readme.py"),
                          "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_readme_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1: lines.index("```bash") + 3]
    assert block[0].endswith("voxmem demo")
    assert block[1].endswith("-m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert block[1] in ci, ".ci/run must run the README's test command"


def test_the_runtime_route_table_lists_every_operation() -> None:
    """docs/runtime.md's route table is written by hand; it must not lose an operation,
    a ``GET`` twin, or keep one that is gone."""
    from voxmem._api import OPERATION_SPECS

    text = (ROOT / "docs" / "runtime.md").read_text(encoding="utf-8")
    rows = {(route.split("?")[0], name) for route, name in
            re.findall(r"^\| `([A-Z]+ [^`]+)` \| `([a-z_]+)` \|", text, re.MULTILINE)}
    expected = {(f"{spec.method} {spec.path}", name) for name, spec in OPERATION_SPECS.items()}
    expected |= {(f"GET {spec.read_path}", name) for name, spec in OPERATION_SPECS.items()
                 if spec.read_path}
    assert rows == expected, (f"missing: {sorted(expected - rows)}; "
                              f"not operations: {sorted(rows - expected)}")
    # The POST rows say what the operation table says (the OpenAPI summary).
    summaries = {name: summary for route, name, summary in re.findall(
        r"^\| `POST ([^`]+)` \| `([a-z_]+)` \| (.*) \|$", text, re.MULTILINE)}
    stale = {name: (summaries.get(name), spec.summary) for name, spec in OPERATION_SPECS.items()
             if summaries.get(name) != spec.summary}
    assert not stale, f"summaries that differ from OPERATION_SPECS: {stale}"
