"""Numbered schema migrations, one folder of ``NNNN_name.sql`` files per dialect.

Each backend records applied versions in a ``schema_version`` table and applies the
missing ones in order, each in its own transaction.
"""

from __future__ import annotations

import dataclasses
import re
from importlib import resources

from .._exceptions import StoreUnavailable

__all__ = ["Migration", "check_not_newer", "load_migrations"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclasses.dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: str) -> list[Migration]:
    """The migrations shipped for ``dialect`` (``sqlite`` or ``postgres``), in order."""
    folder = resources.files("voxmem.store.migrations").joinpath(dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"{dialect} migrations are not numbered 1..n: {versions}")
    return found


def check_not_newer(dialect: str, found: int, known: int, where: str) -> None:
    """Refuse a store a newer release migrated (schema ``found`` > ``known``).

    Migrations only go forward: an older release running on a newer schema would
    write rows the newer one does not expect (or miss columns it fills), so it stops
    before it touches anything, and says which release to run.
    """
    if found > known:
        raise StoreUnavailable(
            f"{where} is at schema version {found}, newer than this voxmem knows "
            f"({known}): it was written by a newer release. Upgrade voxmem to open it, "
            f"or restore a backup taken before the upgrade ({dialect} store left "
            "unchanged).", retryable=False)
