"""The ``voxmem`` command: serve, status, stop, settings, demo, memories, index, callers,
backup, restore, keys.

Example::

    voxmem demo              # starts the local runtime if needed, runs two calls
    voxmem status            # is a runtime serving this data directory?
    voxmem serve --port 7878 # run the runtime in the foreground
    voxmem memories export --project support --user +14155550123 > caller.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ._cli_backup import add_backup_parsers
from ._cli_help import add_help, demo_next
from ._cli_index import add_index_parser
from ._cli_keys import add_keys_parser
from ._cli_memories import add_memories_parser
from ._config import Settings, mask_secrets, settings_table
from ._exceptions import VoxmemError
from .runtime._stop import STOP_TIMEOUT_S, stop_runtime

if TYPE_CHECKING:
    from .runtime._discovery import StopProgress

__all__ = ["main", "stop_runtime"]

log = logging.getLogger("voxmem.cli")

#: How often ``voxmem stop`` says how many journaled writes are still being stored.
STOP_PROGRESS_EVERY_S = 2.0
#: Exit code of a command whose output pipe closed early (128 + SIGPIPE, as a shell
#: reports a process killed by it).
EXIT_BROKEN_PIPE = 141


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = str(Path(args.data_dir).expanduser().resolve())
    if getattr(args, "embedder", None):
        overrides["embedder"] = args.embedder
    return Settings.from_env(overrides)


def _port_range(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        return (int(lo), int(hi if sep else lo))
    except ValueError:
        raise argparse.ArgumentTypeError("expected a port range like 7878-7977") from None


def _port(text: str) -> int:
    # Checked here: out of range, the socket layer failed with an OverflowError, and 0
    # (any port) was taken as "no port given" and silently used the configured range.
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"expected a port within 1..65535 (got {text!r})")
    return port


# -- serve ---------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from .runtime._discovery import RUNTIME_LOCK_FILE, FileLock, ensure_data_dir

    extra: dict[str, Any] = {"runtime_log_level": args.log_level}
    if args.port_range:
        extra["runtime_port_min"], extra["runtime_port_max"] = args.port_range
    settings = _settings(args, **extra)
    # The lock before the runtime's imports (seconds on a loaded host): a client arriving
    # meanwhile sees a runtime starting and waits for it. Without it, the client launched a
    # runtime of its own that won the lock, and this command exited without serving.
    early = FileLock(ensure_data_dir(settings.data_path) / RUNTIME_LOCK_FILE)
    held = early if early.try_acquire() else None  # taken: serve() retries and reports
    from .runtime._server import configure_logging, serve

    configure_logging(settings)

    def announce(found: Any) -> None:
        print(f"voxmem runtime serving {settings.data_path} at {found.url} "
              f"(pid {found.pid}); token in {found.token_path}", flush=True)
        print(f"dashboard: {found.url}/ (sign in with the token)", flush=True)

    return serve(settings, host=args.host, port=args.port, announce=announce, lock=held)


# -- status / stop -------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    import httpx

    from .runtime._discovery import read_discovery, read_token, runtime_lock_held

    settings = _settings(args)
    data_dir = settings.data_path
    found = read_discovery(data_dir)
    alive = runtime_lock_held(data_dir)
    report: dict[str, Any] = {"dataDir": str(data_dir), "running": alive and found is not None}
    if alive and found is not None:
        report.update(found.to_dict())
        token = read_token(found.token_path) or ""
        try:
            response = httpx.get(f"{found.url}/v1/runtime", timeout=2.0, trust_env=False,
                                 headers={"authorization": f"Bearer {token}"})
            report["healthy"] = response.status_code == 200
            if response.status_code == 200:
                body = response.json()
                report["stats"] = body.get("stats", {})
                # Answering is not enough: its journal and store must take writes.
                report["healthy"] = bool(report["stats"].get("healthy", True))
                # What an operator pages on: is it shedding load, how far the store
                # trails the journal. Both were served and never shown.
                report["saturation"] = body.get("saturation", {})
                report["journalLag"] = (int(report["stats"].get("journalSeq", 0))
                                        - int(report["stats"].get("appliedSeq", 0)))
        except httpx.HTTPError as exc:
            report["healthy"] = False
            report["error"] = str(exc)
    elif alive:
        report["note"] = "a runtime holds the lock but has not published itself (starting?)"
    if args.json:
        print(json.dumps(report, indent=2))
    elif report["running"]:
        state = ("healthy" if report.get("healthy") else
                 "UNHEALTHY: writes are not reaching the journal or the store"
                 if "stats" in report else "NOT answering")
        print(f"runtime running: pid {report['pid']} at {report['url']} ({state})")
        if "saturation" in report:
            load = report["saturation"]
            print(f"  saturated: {'YES' if load.get('saturated') else 'no'} (loop lag "
                  f"{load.get('loopLagMs', 0)} ms, searches shed {load.get('shedShare', 0)}, "
                  f"in flight {load.get('inFlight', 0)}, saves waiting "
                  f"{load.get('savesWaiting', 0)})")
            print(f"  journal lag: {report['journalLag']} records not yet in the store")
        for key, value in sorted(report.get("stats", {}).items()):
            print(f"  {key}: {value}")
    else:
        print(f"no runtime serves {data_dir}" + (f" ({report['note']})"
                                                  if "note" in report else ""))
    return 0 if report["running"] else 1


def cmd_stop(args: argparse.Namespace) -> int:
    shown = [0.0]

    def show(progress: StopProgress) -> None:
        # At most every few seconds: a long drain should say it is moving, not scroll.
        if progress.left and time.monotonic() - shown[0] >= STOP_PROGRESS_EVERY_S:
            shown[0] = time.monotonic()
            print(f"runtime: storing {progress.left} journaled writes before it exits",
                  file=sys.stderr, flush=True)

    outcome = stop_runtime(_settings(args).data_path, args.timeout, on_progress=show)
    print(f"runtime: {outcome}")
    return 0 if outcome in {"stopped", "killed", "not running"} else 1


# -- settings ------------------------------------------------------------------------------
def cmd_settings(args: argparse.Namespace) -> int:
    rows = settings_table()
    current = Settings.from_env().to_dict()
    if args.json:
        print(json.dumps([{**row, "value": current[row["name"]]} for row in rows], indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        value = current[row["name"]]
        changed = "" if value == row["default"] else f"   (now {value!r})"
        print(f"{row['name']:<{width}}  {row['default']!r:<14} {row['env']}{changed}")
        print(f"{'':<{width}}  {row['help']}")
    return 0


# -- demo ----------------------------------------------------------------------------------
DEMO_FIRST_CALL = [
    ("Hi, this is Dana Whitfield. My internet keeps dropping since Monday, order 4421.",
     "Sorry about that, Dana. I've opened ticket 8842 for your modem; a technician will "
     "call you back."),
    ("Please call me in the mornings, before 9am. I'm at work after that.",
     "Noted: mornings before 9am. We'll call you tomorrow morning about ticket 8842."),
]
DEMO_QUESTION = "When should we call her back, and what was her problem about?"


async def _demo(args: argparse.Namespace) -> int:
    from .client import VoiceClient

    settings = _settings(args)
    client = VoiceClient(project_id="voxmem-demo", agent_id="front-desk",
                         embedded=args.embedded, settings=settings)
    caller = {"id": f"demo-{uuid.uuid4().hex[:8]}", "name": "Dana"}
    where = "in-process engine" if args.embedded else f"runtime for {settings.data_path}"
    print(f"voxmem demo — {where}, caller {caller['id']}\n")
    try:
        started = time.perf_counter()
        async with client.session(user=caller) as call:
            print(f"call 1 opened in {(time.perf_counter() - started) * 1000:.0f} ms "
                  "(includes starting the runtime if it was not running)")
            for user_text, assistant_text in DEMO_FIRST_CALL:
                await call.save_response(user_text=user_text, assistant_text=assistant_text)
                print(f"  caller: {user_text}\n  agent:  {assistant_text}")
            ended = await call.end(wait=True)  # returns once learning from it is done
        outcome = ended.get("learning") or {}
        print(f"call 1 ended; learning from it: {outcome.get('status', 'skipped')}")
        learned: list[dict[str, Any]] = outcome.get("facts") or []
        for fact in learned:
            print(f"  learned: {fact['text']} ({fact['kind']}, confidence "
                  f"{fact['confidence']:.2f})")
        print()
        async with client.session(user=caller) as call:
            preload = await call.preload()
            print("call 2 — preload (at session start; send it as a system message right "
                  "after your instructions):")
            print(_indent(preload.contextText or "(empty)"))
            result = await call.search_memory(DEMO_QUESTION)
            print(f"\ncall 2 — search_memory({DEMO_QUESTION!r}):")
            print(_indent(result.contextText or "(nothing recalled)"))
            print("\ntrace:", json.dumps(result.trace))
        if not args.embedded:
            print("\nThe runtime keeps running for other processes; `voxmem stop` stops it.")
        print(demo_next("voxmem-demo", caller["id"]))
        return 0 if result.contextText else 1
    finally:
        await client.aclose()


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def cmd_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))


# -- callers -------------------------------------------------------------------------------
def cmd_callers(args: argparse.Namespace) -> int:
    from .client import VoiceClientSync

    with VoiceClientSync(project_id=args.project, agent_id=args.agent,
                         embedded=args.embedded, settings=_settings(args)) as client:
        result: Any
        if args.action == "find":
            result = client.find_callers(args.identifier)
            if not args.json:
                for row in result:
                    print(f"{row['userId']}  {row['kind']} {row['value']}  ({row['source']})")
                if not result:
                    print(f"no caller is linked to {args.identifier!r}", file=sys.stderr)
                return 0 if result else 1
        elif args.action == "show":
            result = client.show_caller(user={"id": args.user})
            if not args.json:
                print(f"caller {result['userId']}" + (f" ({result['name']})"
                                                       if result.get("name") else ""))
                for row in result["identifiers"]:
                    print(f"  {row['kind']:<16} {row['value']:<28} {row['source']}")
                for m in result["merges"]:
                    print(f"  merge {m['mergeId']} {m['fromUserId']} -> {m['toUserId']} "
                          f"[{m['status']}] {m['evidence'].get('reason', '')}")
                for e in result["graph"]["entities"]:
                    print(f"  {e['kind']:<12} {e['label']}  (x{e['mentions']})")
                return 0
        elif args.action == "merge":
            result = client.merge_callers(args.from_id, args.to_id, reason=args.reason,
                                          propose=args.propose)
            if not args.json:
                print(f"{result['status']} {result['fromUserId']} into {result['toUserId']}: "
                      f"merge id {result['mergeId']} (undo: voxmem callers unmerge "
                      f"{result['mergeId']})")
                return 0
        elif args.action == "unlink":
            result = client.unlink_identifier(args.kind, args.value, user={"id": args.user})
            if not args.json:
                print(f"unlinked {result['kind']} {result['value']} from {result['userId']}")
                return 0
        else:
            result = client.unmerge_callers(args.merge_id)
            if not args.json:
                print(f"unmerged {result['fromUserId']} from {result['toUserId']}: "
                      f"{result['itemsRestored']} memories restored")
                return 0
        print(json.dumps(result, indent=1))
        return 0


def _add_callers_parser(sub: Any, with_data_dir: Any) -> None:
    callers = sub.add_parser("callers", help="find callers by any identifier, show, merge "
                             "and unmerge them, unlink an identifier")
    actions = callers.add_subparsers(dest="action", required=True)
    for name, text in (("find", "callers linked to a phone, e-mail, account number, ..."),
                       ("show", "a caller's identifiers, merges and entity graph"),
                       ("merge", "merge one caller into another (undoable)"),
                       ("unmerge", "undo a merge"),
                       ("unlink", "remove one identifier from a caller (linked by mistake)")):
        action = with_data_dir(actions.add_parser(name, help=text))
        action.add_argument("--project", required=True, help="project id")
        action.add_argument("--agent", default="cli", help="agent id recorded on the change")
        action.add_argument("--embedded", action="store_true", help="open the store "
                            "in-process instead of going through the runtime")
        action.add_argument("--json", action="store_true")
        action.set_defaults(func=cmd_callers)
        if name == "find":
            action.add_argument("identifier", help="as written or spoken, e.g. "
                                "'(510) 555-0100' or 'invoice four four two one'")
        elif name == "show":
            action.add_argument("--user", required=True, help="caller id")
        elif name == "merge":
            action.add_argument("from_id", help="the caller merged away")
            action.add_argument("to_id", help="the caller that keeps everything")
            action.add_argument("--reason", help="why (kept as the merge's evidence)")
            action.add_argument("--propose", action="store_true",
                                help="only record the merge for review")
        elif name == "unlink":
            action.add_argument("--user", required=True, help="caller id")
            action.add_argument("kind", help="phone, email, account, policy, ...")
            action.add_argument("value", help="as written or spoken")
        else:
            action.add_argument("merge_id")


# -- entry point ---------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (argparse prints the usage block too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="voxmem", description="Local-first memory for "
                     "real-time voice agents.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", help="data directory (default: VOXMEM_DATA_DIR or "
                       "$XDG_DATA_HOME/voxmem)")
        return p

    serve = with_data_dir(sub.add_parser("serve", help="run the runtime in the foreground"))
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="exact port (default: first free port of "
                       "the configured range)")
    serve.add_argument("--port-range", type=_port_range, help="e.g. 7878-7977")
    serve.add_argument("--embedder", help="static, onnx, static+onnx, openai or hashing")
    serve.add_argument("--log-level", type=str.lower,  # DEBUG is the same level
                       choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)

    status = with_data_dir(sub.add_parser("status", help="is a runtime serving?"))
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    stop = with_data_dir(sub.add_parser("stop", help="flush and stop the runtime"))
    stop.add_argument("--timeout", type=float, default=STOP_TIMEOUT_S,
                      help="seconds the stopping runtime may show no sign of life before "
                           "SIGKILL (a runtime still storing its backlog is waited for)")
    stop.set_defaults(func=cmd_stop)

    table = sub.add_parser("settings", help="print the settings table")
    table.add_argument("--json", action="store_true")
    table.set_defaults(func=cmd_settings)

    demo = with_data_dir(sub.add_parser("demo", help="two calls by one caller, the second "
                                        "recalling the first"))
    demo.add_argument("--embedded", action="store_true", help="run the engine in-process "
                      "instead of the runtime")
    demo.add_argument("--embedder", help="static, onnx, static+onnx, openai or hashing")
    demo.set_defaults(func=cmd_demo)

    add_memories_parser(sub, with_data_dir, _settings)
    add_backup_parsers(sub, with_data_dir, _settings)
    add_index_parser(sub, _settings)
    add_keys_parser(sub, with_data_dir, _settings)
    _add_callers_parser(sub, with_data_dir)
    add_help(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code.

    Every failure is one line on stderr and a non-zero exit; a traceback is logged at
    debug level only (``voxmem.cli``), for bug reports.
    """
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a closed pipe must fail here, inside the handler below
    except VoxmemError as exc:
        return _fail(str(exc), exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `voxmem memories list ... | head`: the reader has what it wanted. Point stdout
        # at /dev/null so the interpreter's own flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        output = getattr(args, "output", None)
        if output and exc.filename == output:  # the user's file, not the data directory
            return _fail(f"cannot write {output}: {exc.strerror or exc}", exc)
        given = getattr(args, "file", None) or getattr(args, "path", None)
        if given and str(exc.filename or "").startswith(
                (given, str(Path(given).expanduser().absolute()))):
            return _fail(f"cannot use {exc.filename}: {exc.strerror or exc}", exc)
        return _unusable_data_dir(exc)
    except sqlite3.Error as exc:
        return _unusable_data_dir(exc)
    except Exception as exc:
        return _fail(f"unexpected {type(exc).__name__}: {exc}", exc)
    return code


def _unusable_data_dir(exc: OSError | sqlite3.Error) -> int:
    where = f" {exc.filename}" if isinstance(exc, OSError) and exc.filename else (
        " the data directory")
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return _fail(f"cannot use{where}: {why} (check that the data directory exists, is "
                 "a directory and is writable; --data-dir or VOXMEM_DATA_DIR choose "
                 "another)", exc)


def _fail(message: str, exc: BaseException) -> int:
    log.debug("command failed", exc_info=exc)
    line = " ".join(mask_secrets(message).split())  # one line, whatever the message held
    print(f"voxmem: {line}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
