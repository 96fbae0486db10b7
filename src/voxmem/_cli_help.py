"""The CLI's help text: a description and a worked example on every command's ``--help``.

Kept apart from ``cli.py`` (at its size limit) and applied to the finished parser, so a
command declared anywhere (``cli.py``, ``_cli_index.py``) gets the same treatment, and
``tests/test_cli_help.py`` can check that every example parses.
"""

from __future__ import annotations

import argparse

__all__ = ["EXAMPLES", "add_help", "demo_next"]

def demo_next(project_id: str, caller_id: str) -> str:
    """What the demo prints last: where a new user goes from there."""
    return ("\nNext:\n"
            "  your code: README.md's Quickstart (VoiceClient: preload, search_memory, "
            "save_response)\n"
            "  a voice agent: examples/livekit_agent.py (LiveKit), "
            "examples/pipecat_agent.py (Pipecat)\n"
            f"  what the demo stored: voxmem memories list --project {project_id} "
            f"--user {caller_id}")

#: One example per command, keyed by the words after ``voxmem``: what a new user would
#: type first. Each one parses (the test runs it through the parser).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("voxmem demo", "voxmem status", "voxmem memories list --project support "
         "--user +14155550123"),
    "serve": ("voxmem serve --port 7878",),
    "status": ("voxmem status --json",),
    "stop": ("voxmem stop",),
    "settings": ("voxmem settings", "VOXMEM_STORE_URL=postgresql://localhost/voxmem "
                 "voxmem settings"),
    "demo": ("voxmem demo", "voxmem demo --embedded --data-dir ./demo-data"),
    "memories": ("voxmem memories list --project support --user +14155550123",
                 "voxmem memories export --project support --user +14155550123"),
    "memories list": ("voxmem memories list --project support --user +14155550123 "
                      "--history",),
    "memories delete": ("voxmem memories delete --project support --user +14155550123 "
                        "fact_0123456789abcdef",),
    "memories forget-user": ("voxmem memories forget-user --project support "
                             "--user +14155550123 --yes",),
    "memories export": ("voxmem memories export --project support --user +14155550123 "
                        "-o dana.jsonl",),
    "memories import": ("voxmem memories import --project support dana.jsonl",),
    "backup": ("voxmem backup ./voxmem-backup-2026-12-01",),
    "restore": ("voxmem restore ./voxmem-backup-2026-12-01",),
    "index": ("voxmem index upload help-center docs/ --recursive --project support",
              "voxmem index list --project support"),
    "index upload": ("voxmem index upload help-center docs/ manual.pdf --recursive "
                     "--project support",),
    "index list": ("voxmem index list --project support",),
    "index show": ("voxmem index show help-center --project support",),
    "index delete": ("voxmem index delete help-center --project support --document "
                     "manual.pdf --yes",),
    "callers": ("voxmem callers find '(510) 555-0100' --project support",
                "voxmem callers show --project support --user ann"),
    "callers find": ("voxmem callers find '(510) 555-0100' --project support",),
    "callers show": ("voxmem callers show --project support --user ann",),
    "callers merge": ("voxmem callers merge guest-7 ann --project support",),
    "callers unmerge": ("voxmem callers unmerge mrg_0123456789abcdef --project support",),
    "keys": ("voxmem keys create --tenant acme", "voxmem keys list"),
    "keys create": ("voxmem keys create --tenant acme",),
    "keys list": ("voxmem keys list --json",),
    "keys revoke": ("voxmem keys revoke 3f9a0c1d2e4b",),
    "callers unlink": ("voxmem callers unlink phone '(510) 555-0100' --project support "
                       "--user ann",),
}

# Arguments declared without a help text, explained the same way on every command.
_DEFAULT_HELP = {
    "--json": "print JSON instead of text",
    "--log-level": "runtime.log's level (default: VOXMEM_RUNTIME_LOG_LEVEL or info)",
    "memory_id": "the memory's id, as `memories list` shows it",
    "merge_id": "the merge's id, as `callers show` or `callers merge` shows it",
    "name": "index name",
}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help_texts(parser: argparse.ArgumentParser) -> dict[str, str]:
    texts: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            texts.update({choice.dest: str(choice.help or "")
                          for choice in action._choices_actions})
    return texts


def _epilog(path: str) -> str | None:
    examples = EXAMPLES.get(path)
    if not examples:
        return None
    label = "example" if len(examples) == 1 else "examples"
    text = f"{label}:\n" + "\n".join(f"  {line}" for line in examples)
    return text if path else text + "\n\nEach command's --help has an example."


def add_help(parser: argparse.ArgumentParser, path: str = "",
             summary: str | None = None) -> None:
    """Give ``parser`` and each of its subcommands a description and their example."""
    if summary and not parser.description:
        parser.description = (summary[:1].upper() + summary[1:]
                              + ("" if summary.endswith(("?", ".")) else "."))
    parser.epilog = _epilog(path) or parser.epilog
    # The examples are laid out by hand; argparse would run them into one line.
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._actions:
        if action.help is None:
            key = action.option_strings[-1] if action.option_strings else action.dest
            action.help = _DEFAULT_HELP.get(key)
    texts = _help_texts(parser)
    for name, sub in _subcommands(parser).items():
        add_help(sub, f"{path} {name}".strip(), texts.get(name))
