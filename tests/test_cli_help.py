"""Every command's ``--help`` describes it and shows an example that parses."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

import pytest

from voxmem._cli_help import EXAMPLES
from voxmem.cli import build_parser


def commands(parser: argparse.ArgumentParser, path: str = "") -> dict[str, argparse.ArgumentParser]:
    found = {path: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(commands(sub, f"{path} {name}".strip()))
    return found


ALL = commands(build_parser())


def test_every_command_has_an_example_and_every_example_a_command() -> None:
    missing = sorted(path for path in ALL if path not in EXAMPLES)
    assert not missing, f"add an example to voxmem/_cli_help.py EXAMPLES for: {missing}"
    assert sorted(set(EXAMPLES) - set(ALL)) == []


@pytest.mark.parametrize("path", sorted(ALL), ids=lambda p: p or "voxmem")
def test_help_describes_the_command_and_its_examples_parse(path: str) -> None:
    text = ALL[path].format_help()
    assert ALL[path].description, f"voxmem {path} --help has no description"
    assert "example" in text and all(line in text for line in EXAMPLES[path])
    # Every argument is explained: no bare "--json" or "merge_id" line.
    bare = [a.dest for a in ALL[path]._actions if not a.help and a.dest != "help"]
    assert bare == [] or path in ("", "memories", "index", "callers"), bare  # groups
    for example in EXAMPLES[path]:
        words = shlex.split(example)
        words = words[words.index("voxmem") + 1:]  # past a leading VAR=value
        args = build_parser().parse_args(words)
        assert args.command == (words[0] if words else None)


def test_help_runs_as_a_command() -> None:
    out = subprocess.run([sys.executable, "-m", "voxmem", "memories", "list", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "The caller's facts." in out
    assert "  voxmem memories list --project support --user +14155550123" in out
