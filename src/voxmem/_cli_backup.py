"""``voxmem backup`` and ``voxmem restore``: the whole embedded store, copied while it serves.

Example::

    voxmem backup /backups/voxmem-2026-12-01      # while the runtime serves
    voxmem stop && mv ~/.local/share/voxmem ~/.local/share/voxmem.old
    voxmem restore /backups/voxmem-2026-12-01     # then start it again

They work on the files directly, not through the runtime: SQLite's online backup reads
one snapshot beside the runtime's writer (see ``store/_sqlite_backup``), so a backup
needs no runtime and takes nothing from the calls it serves. A Postgres store is backed
up with ``pg_dump`` (docs/operations.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._config import Settings
from ._exceptions import BadRequest

__all__ = ["add_backup_parsers"]


def _sqlite_path(settings: Settings) -> Path:
    url = settings.store_url
    if url.startswith(("postgresql://", "postgres://")):
        raise BadRequest("this data directory's store is Postgres: back it up with pg_dump "
                         "(see docs/operations.md); voxmem backup copies an embedded SQLite "
                         "store", field="store_url")
    return Path(url.removeprefix("sqlite:///")) if url else settings.data_path / "voxmem.db"


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from .store._sqlite_backup import backup_sqlite

    made = backup_sqlite(_sqlite_path(settings), settings.data_path / "journal",
                         Path(args.path).expanduser().absolute())
    if args.json:
        print(json.dumps(made, indent=1))
    else:
        print(f"backed up to {args.path}: database {made['databaseBytes']:,} bytes (schema "
              f"{made['schemaVersion']}, applied up to journal record {made['appliedSeq']}), "
              f"{made['journalSegments']} journal segments")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from .store._sqlite_backup import restore_sqlite

    made = restore_sqlite(Path(args.path).expanduser().absolute(), _sqlite_path(settings),
                          settings.data_path / "journal")
    taken = dt.datetime.fromtimestamp(made["createdAt"], dt.UTC).isoformat(timespec="seconds")
    print(f"restored the backup taken {taken} into {settings.data_path}; the next start "
          "replays its journal")
    return 0


def add_backup_parsers(sub: Any, with_data_dir: Callable[[argparse.ArgumentParser],
                                                         argparse.ArgumentParser],
                       settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Register ``voxmem backup`` and ``voxmem restore`` on the CLI's subparsers."""
    backup = with_data_dir(sub.add_parser(
        "backup", help="copy the embedded store and its journal into a new folder, "
        "consistently, while the runtime serves"))
    backup.add_argument("path", help="a folder that does not exist yet (or is empty)")
    backup.add_argument("--json", action="store_true")
    backup.set_defaults(func=lambda args: cmd_backup(args, settings_of(args)))
    restore = with_data_dir(sub.add_parser(
        "restore", help="put a backup in place as the data directory's store (stop the "
        "runtime and move the old store aside first)"))
    restore.add_argument("path", help="a folder written by voxmem backup")
    restore.set_defaults(func=lambda args: cmd_restore(args, settings_of(args)))
