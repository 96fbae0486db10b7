"""``voxmem index``: bulk upload of files into an org index, and list / show / delete.

Example::

    voxmem index upload faq docs/ handbook.pdf --recursive --project support
    voxmem index list --project support
    voxmem index show faq --project support
    voxmem index delete faq --document handbook.pdf --project support
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config import Settings
from ._exceptions import NotFound, VoxmemError
from ._knowledge_files import (
    BATCH_FILL,
    batch_documents,
    collect_files,
    content_hash,
    document_size,
    extract_text,
    file_documents,
    is_indexed,
)

if TYPE_CHECKING:
    from .client import VoiceClientSync

__all__ = ["add_index_parser"]

CLI_AGENT = "cli"


@dataclasses.dataclass(slots=True)
class _FileOutcome:
    path: Path
    doc_id: str
    status: str  # indexed | unchanged | failed
    parts: int = 0
    chars: int = 0
    error: str = ""


def _client(args: argparse.Namespace, settings: Settings) -> VoiceClientSync:
    from .client import VoiceClientSync

    return VoiceClientSync(project_id=args.project, agent_id=CLI_AGENT,
                           embedded=args.embedded, settings=settings)


def _existing(client: VoiceClientSync, name: str) -> dict[str, dict[str, Any]]:
    try:
        listing = client.list_documents(name)
    except NotFound:
        return {}
    return {d["documentId"]: d.get("metadata") or {} for d in listing["documents"]}


def upload(client: VoiceClientSync, name: str, files: list[tuple[Path, str]],
           settings: Settings, *, on_file: Callable[[], None] = lambda: None,
           ) -> list[_FileOutcome]:
    """Index ``files`` into ``name``, skipping files already indexed with this content.

    Documents from several small files share one call; a large file's parts may span
    several. A file counts as indexed once the call holding its last part succeeded.
    """
    existing = _existing(client, name)
    max_docs, budget = settings.index_max_documents, int(settings.index_max_bytes * BATCH_FILL)
    outcomes: list[_FileOutcome] = []
    pending: list[dict[str, Any]] = []
    pending_files: list[_FileOutcome] = []
    pending_size = 0

    def flush() -> None:
        nonlocal pending_size
        try:
            for batch in batch_documents(pending, max_documents=max_docs,
                                         max_bytes=settings.index_max_bytes):
                client.create_index(name, batch)
        except VoxmemError as exc:
            for outcome in pending_files:
                outcome.status, outcome.error = "failed", str(exc)
        else:
            for outcome in pending_files:
                outcome.status = "indexed"
        pending.clear()
        pending_files.clear()
        pending_size = 0

    for path, doc_id in files:
        outcome = _FileOutcome(path=path, doc_id=doc_id, status="failed")
        outcomes.append(outcome)
        try:
            data = path.read_bytes()
            digest = content_hash(data)
            if is_indexed(existing, doc_id, digest):
                outcome.status = "unchanged"
            else:
                text = extract_text(path.name, data)
                docs = file_documents(doc_id, text, digest=digest,
                                      max_bytes=settings.index_max_bytes,
                                      metadata={"filename": path.name})
                if not docs:
                    outcome.error = "no text found"
                else:
                    outcome.parts, outcome.chars = len(docs), len(text)
                    size = sum(document_size(d) for d in docs)
                    if pending and (len(pending) + len(docs) > max_docs
                                    or pending_size + size > budget):
                        flush()
                    pending.extend(docs)
                    pending_files.append(outcome)
                    pending_size += size
                    if len(pending) >= max_docs or pending_size >= budget:
                        flush()
        except (OSError, VoxmemError) as exc:
            outcome.error = str(exc)
        on_file()
    if pending:
        flush()
    return outcomes


def cmd_upload(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    files = collect_files(args.paths, recursive=args.recursive)
    if not files:
        print("voxmem: no .txt, .md or .pdf files found", file=sys.stderr)
        return 1
    err = Console(stderr=True)
    with _client(args, settings) as client, Progress(
            TextColumn("indexing into [bold]{task.description}"), BarColumn(),
            MofNCompleteColumn(), console=err, transient=True) as progress:
        task = progress.add_task(args.name, total=len(files))
        outcomes = upload(client, args.name, files, settings,
                          on_file=lambda: progress.advance(task))
    table = Table(title=f"index {args.name}")
    for column in ("document", "status", "parts", "characters", "note"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(escape(o.doc_id), o.status, str(o.parts or ""), str(o.chars or ""),
                      escape(o.error))
    Console().print(table)
    counts = {s: sum(1 for o in outcomes if o.status == s)
              for s in ("indexed", "unchanged", "failed")}
    print(f"{counts['indexed']} indexed, {counts['unchanged']} unchanged, "
          f"{counts['failed']} failed")
    return 1 if counts["failed"] else 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    with _client(args, settings) as client:
        indexes = client.list_indexes()
    if args.json:
        print(json.dumps(indexes, indent=1))
        return 0
    if not indexes:
        print(f"project {args.project} has no indexes")
    for i in indexes:
        print(f"{i['name']}  version {i['version']}  {i['documentCount']} documents  "
              f"{i['chunkCount']} chunks")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    with _client(args, settings) as client:
        listing = client.list_documents(args.name)
    if args.json:
        print(json.dumps(listing, indent=1))
        return 0
    index = listing["index"]
    print(f"{index['name']}: version {index['version']}, {index['documentCount']} documents, "
          f"{index['chunkCount']} chunks")
    for d in listing["documents"]:
        print(f"  {d['documentId']}  {d['chars']} chars  {d['chunkCount']} chunks")
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    with _client(args, settings) as client:
        if args.document:
            named = list(dict.fromkeys(args.document))
            done = client.delete_documents(args.name, named)
            print(f"removed {done['removed']} documents from {args.name} "
                  f"(now version {done['version']})")
            if done["removed"] < len(named):
                # A mistyped id removes nothing; saying so beats a quiet exit 0.
                print(f"voxmem: {len(named) - done['removed']} of the {len(named)} named "
                      f"documents are not in {args.name}; use the ids `voxmem index show "
                      f"{args.name}` lists (a file named on the command line is its file "
                      "name, a folder's files are folder/relative/path)", file=sys.stderr)
                return 1
            return 0
        if not args.yes:
            print(f"voxmem: deleting index {args.name} removes all its documents; "
                  "add --yes to confirm", file=sys.stderr)
            return 2
        gone = client.delete_index(args.name)
        print(f"deleted index {args.name} ({gone['documentsRemoved']} documents)")
        return 0


def add_index_parser(sub: Any, settings_of: Callable[[argparse.Namespace],
                                                     Settings]) -> None:
    """Register ``voxmem index ...`` on the CLI's subparsers."""
    index = sub.add_parser("index", help="upload files into org knowledge indexes; list, "
                           "show or delete them")
    actions = index.add_subparsers(dest="action", required=True)

    def action(name: str, text: str,
               run: Callable[[argparse.Namespace, Settings], int]) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=text)
        p.add_argument("--project", required=True, help="project id")
        p.add_argument("--data-dir", help="data directory (default: VOXMEM_DATA_DIR or "
                       "$XDG_DATA_HOME/voxmem)")
        p.add_argument("--embedded", action="store_true", help="open the store in-process "
                       "instead of going through the runtime")
        p.set_defaults(func=lambda args: run(args, settings_of(args)))
        return p

    up = action("upload", "index .txt, .md and .pdf files (re-runs skip unchanged files)",
                cmd_upload)
    up.add_argument("name", help="index name")
    up.add_argument("paths", nargs="+", help="files or folders")
    up.add_argument("-r", "--recursive", action="store_true", help="descend into folders")
    listing = action("list", "the project's indexes", cmd_list)
    listing.add_argument("--json", action="store_true")
    show = action("show", "one index and its documents", cmd_show)
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    delete = action("delete", "delete an index, or some of its documents", cmd_delete)
    delete.add_argument("name")
    delete.add_argument("--document", action="append", help="document id to remove "
                        "(repeatable); without it the whole index is deleted")
    delete.add_argument("--yes", action="store_true", help="confirm deleting the index")
