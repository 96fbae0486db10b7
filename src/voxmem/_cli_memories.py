"""``voxmem memories``: list, delete, erase, export and import one caller's memories.

Example::

    voxmem memories export --project support --user +14155550123 -o caller.jsonl
    voxmem memories forget-user --project support --user +14155550123 --yes
    voxmem memories import caller.jsonl --project support

An export file is JSON lines: a ``caller`` line (with the export's ``format``), a
``session`` line per call, a line per stored item (``turn``, ``fact``) and, from format
2 on, an ``identifier`` line per linked identifier, a ``merge`` line per merge and one
``graph`` line; ``import`` also takes ``export_user``'s answer saved as one JSON object
(what the dashboard's Export button downloads). It sends the caller through the
runtime's ``import_user``, in parts of at most 1,000 calls and 10,000 items (the
import's limits), oldest first; the identifiers, merges and graph go with the first.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config import Settings
from ._exceptions import BadRequest
from ._files import write_private_text

if TYPE_CHECKING:
    from .client import VoiceClientSync

__all__ = ["add_memories_parser", "read_export"]

#: What one ``import_user`` request carries at most (its limits on the runtime).
PART_SESSIONS = 1_000
PART_ITEMS = 10_000


def _whole_json(path: Path) -> dict[str, Any] | None:
    """The file as one JSON object when it is ``export_user``'s answer as it stands (the
    dashboard's Export button downloads that), else None (JSON lines)."""
    with path.open(encoding="utf-8") as f:
        if f.read(1) != "{":
            return None
        f.seek(0)
        try:
            whole = json.load(f)
        except ValueError:
            return None  # one JSON object per line
    if not isinstance(whole, dict) or "format" not in whole or "items" not in whole:
        return None
    return whole


def read_export(path: Path) -> dict[str, Any]:
    """An export file as ``export_user`` answers it; refuses another format by name."""
    try:
        return _read_export(path)
    except UnicodeDecodeError as exc:  # a database or an archive given by mistake
        raise BadRequest(f"{path} is not UTF-8 text (byte {exc.start}), so no voxmem "
                         "export", field="file") from None


def _read_export(path: Path) -> dict[str, Any]:
    whole = _whole_json(path)
    if whole is not None:
        return whole
    data: dict[str, Any] = {"sessions": [], "items": [], "identifiers": [], "merges": []}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise BadRequest(f"{path} line {number} is not JSON: {exc}",
                                 field="file") from None
            kind = row.pop("type", None) if isinstance(row, dict) else None
            if kind == "caller":
                # Files written before the format was recorded are format 1.
                data.update({"format": row.pop("format", 1), **row})
            elif kind == "session":
                data["sessions"].append(row)
            elif kind in ("turn", "fact", "summary"):
                data["items"].append(row)
            elif kind in ("identifier", "merge"):
                data[kind + "s"].append(row)
            elif kind == "graph":
                data["graph"] = row
            else:
                raise BadRequest(f"{path} line {number} is not a line of a voxmem export "
                                 f"(type {kind!r})", field="file")
    if "format" not in data:
        raise BadRequest(f"{path} has no caller line: not a voxmem memories export",
                         field="file")
    return data


def _parts(export: dict[str, Any]) -> list[dict[str, Any]]:
    """The export cut into requests within the import's limits, calls with their items,
    oldest first."""
    by_call: dict[str | None, list[dict[str, Any]]] = {}
    for item in export["items"]:
        by_call.setdefault(item.get("sessionId"), []).append(item)
    head = {k: v for k, v in export.items()
            if k not in ("sessions", "items", "identifiers", "merges", "graph")}
    first: dict[str, Any] = {k: export[k] for k in ("identifiers", "merges", "graph")
                             if k in export}
    parts: list[dict[str, Any]] = [{**head, **first, "sessions": [],
                                    "items": list(by_call.pop(None, []))}]
    for call in export["sessions"]:
        items = by_call.pop(call["sessionId"], [])
        last = parts[-1]
        if (len(last["sessions"]) >= PART_SESSIONS
                or len(last["items"]) + len(items) > PART_ITEMS):
            last = {**head, "sessions": [], "items": []}
            parts.append(last)
        last["sessions"].append(call)
        last["items"].extend(items)
    for orphans in by_call.values():  # items of calls the file does not list
        parts[-1]["items"].extend(orphans)
    return parts


def _import(client: VoiceClientSync, export: dict[str, Any], user: str | None,
            trust: bool = False) -> int:
    totals: dict[str, int] = {}
    shared: list[dict[str, Any]] = []
    for part in _parts(export):
        done = client.import_user(part, user_id=user, trust_identifiers=trust)
        shared += done.pop("sharedIdentifiers", [])
        for key, value in done.items():
            if isinstance(value, bool):
                continue
            totals[key] = totals.get(key, 0) + int(value)
    who = user or export.get("userId")
    print(f"imported caller {who}: {totals.get('sessions', 0)} calls, "
          f"{totals.get('turns', 0)} turns, {totals.get('facts', 0)} facts, "
          f"{totals.get('identifiers', 0)} identifiers, {totals.get('merges', 0)} merges, "
          f"{totals.get('entities', 0)} graph entities "
          f"({totals.get('alreadyStored', 0)} items were already stored)")
    for row in shared:  # the operator decides: merge the callers, or unlink one
        print(f"voxmem: {row['kind']} {row['value']} is also linked to "
              f"{', '.join(row['otherUserIds'])}: it no longer picks one caller out "
              "(merge them with voxmem callers merge, or unlink it)", file=sys.stderr)
    return 0


def _refuse_output_in(data_dir: Path, output: Path) -> None:
    """An export is never written into the data directory: ``-o voxmem.db`` run from it
    overwrote the live store, ``-o runtime.token`` the token every client reads."""
    where = output.expanduser().absolute()
    inside = data_dir.expanduser().absolute()
    if where.resolve().is_relative_to(inside.resolve()) or where.is_relative_to(inside):
        raise BadRequest(f"{output} is inside the data directory {inside}, which holds the "
                         "store, its journal and the token: write the export elsewhere",
                         details={"field": "output"})


def cmd_memories(args: argparse.Namespace, settings: Settings) -> int:
    from .client import VoiceClientSync

    if args.action == "import":
        export = read_export(Path(args.file))
    if args.action == "export" and args.output:
        _refuse_output_in(settings.data_path, Path(args.output))
    with VoiceClientSync(project_id=args.project, agent_id=args.agent,
                         embedded=args.embedded, settings=settings) as client:
        if args.action == "import":
            return _import(client, export, args.user, args.trust_identifiers)
        user = {"id": args.user}
        if args.action == "list":
            facts = client.list_memories(user=user, include_deleted=args.history)
            if args.json:
                print(json.dumps(facts, indent=1))
            for fact in [] if args.json else facts:
                state = " (deleted)" if fact.get("deletedAt") else (
                    " (superseded)" if fact.get("validTo") else "")
                slot = f" [{fact['slotKey']}]" if fact.get("slotKey") else ""
                print(f"{fact['id']}  {fact['kind']}{slot}  {fact['text']}{state}")
            if not facts and not args.json:
                # On stderr: the list itself stays empty for scripts. A mistyped id
                # printed nothing at all.
                print(f"voxmem: no memories of caller {args.user!r} in project "
                      f"{args.project!r} (ids are exact; `voxmem callers find` looks one "
                      "up by phone, e-mail or account number)", file=sys.stderr)
            return 0
        if args.action == "delete":
            client.delete_memory(args.memory_id, user=user)
            print(f"deleted {args.memory_id} (gone from recall now, from disk at cleanup)")
            return 0
        if args.action == "forget-user":
            if not args.yes:
                print("voxmem: forget-user erases everything about the caller; "
                      "add --yes to confirm", file=sys.stderr)
                return 2
            counts = client.forget_user(user=user)
            print(f"erased caller {args.user}: {json.dumps(counts)}")
            return 0
        data = client.export_user(user=user)
        lines = [json.dumps({"type": "caller", "format": data["format"],
                             "userId": data["userId"], "name": data["name"],
                             "metadata": data["metadata"], "profile": data["profile"]})]
        lines += [json.dumps({"type": "session", **s}) for s in data["sessions"]]
        lines += [json.dumps({"type": item["kind"], **item}) for item in data["items"]]
        lines += [json.dumps({"type": "identifier", **r}) for r in data["identifiers"]]
        lines += [json.dumps({"type": "merge", **m}) for m in data["merges"]]
        if any(data["graph"].values()):  # an erased caller's export stays one line
            lines.append(json.dumps({"type": "graph", **data["graph"]}))
        text = "".join(line + "\n" for line in lines)
        if args.output:
            write_private_text(Path(args.output), text)  # caller data: owner-only
        else:
            sys.stdout.write(text)
        return 0


def add_memories_parser(sub: Any, with_data_dir: Callable[[argparse.ArgumentParser],
                                                          argparse.ArgumentParser],
                        settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Register ``voxmem memories ...`` on the CLI's subparsers."""
    memories = sub.add_parser("memories", help="list, delete, export, import or erase a "
                              "caller's memories")
    actions = memories.add_subparsers(dest="action", required=True)
    for name, text in (("list", "the caller's facts"), ("delete", "delete one memory"),
                       ("forget-user", "erase everything about the caller"),
                       ("export", "the caller's data as JSON lines (a data request)"),
                       ("import", "put a caller back from an export file (idempotent)")):
        action = with_data_dir(actions.add_parser(name, help=text))
        action.add_argument("--project", required=True, help="project id")
        action.add_argument("--agent", default="cli", help="agent id recorded on the change")
        action.add_argument("--user", required=name != "import",
                            help="caller id" + (" (default: the file's)" if name == "import"
                                                else ""))
        action.add_argument("--embedded", action="store_true", help="open the store "
                            "in-process instead of going through the runtime")
        action.set_defaults(func=lambda args: cmd_memories(args, settings_of(args)))
        if name == "list":
            action.add_argument("--history", action="store_true",
                                help="include superseded and deleted memories")
            action.add_argument("--json", action="store_true")
        elif name == "delete":
            action.add_argument("memory_id")
        elif name == "forget-user":
            action.add_argument("--yes", action="store_true", help="confirm the erasure")
        elif name == "export":
            action.add_argument("-o", "--output", help="file to write (default: stdout)")
        else:
            action.add_argument("file", help="a file written by voxmem memories export")
            action.add_argument(
                "--trust-identifiers", action="store_true",
                help="the file is yours (a caller moved between your stores): its phone "
                "numbers, e-mail addresses and accounts keep deciding call starts. "
                "Without it they come back unverified, like words said in a call")
