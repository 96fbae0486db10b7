"""``voxmem keys``: API keys bound to one tenant — create, list, revoke.

Example::

    voxmem keys create --tenant acme      # prints the key once; keep it
    voxmem keys list                      # ids, tenants, created / last used, never keys
    voxmem keys revoke 3f9a0c1d2e4b       # refused from the next request on

They work on the store directly, as ``backup`` does, not through the runtime: a key is
made or revoked while the runtime serves (a SQLite store takes a second writer between
the runtime's transactions; a Postgres store is shared anyway), and every runtime on the
store checks keys there on each request, so nothing needs restarting. What a key
reaches: docs/runtime.md ("Tenants and API keys").
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ._config import Settings
from ._exceptions import BadRequest, NotFound
from .engine._validate import MAX_ID_CHARS

__all__ = ["add_keys_parser"]

T = TypeVar("T")
_KEY_ID = re.compile(r"^[0-9a-f]{12}$")


def _with_store(settings: Settings, run: Callable[[Any], Awaitable[T]], *,
                changes: bool = False) -> T:
    from .store import open_store

    async def main() -> T:
        store = open_store(settings)
        await store.open()
        try:
            return await run(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    finally:
        if changes and not settings.store_url.startswith(("postgresql://", "postgres://")):
            # The embedded store's runtime remembers live keys until this changes.
            from .runtime._auth import keys_changed

            keys_changed(settings.data_path)


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


def _tenant(text: str) -> str:
    # Refused here rather than stored: a key for a tenant no request can name (blank,
    # control characters, longer than any id) would be a key that reaches nothing.
    if not text.strip() or len(text) > MAX_ID_CHARS or any(
            ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise argparse.ArgumentTypeError(
            f"a tenant id is 1..{MAX_ID_CHARS} printable characters (got {text!r:.80})")
    return text


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from .store._api_keys import create_key, list_keys, revoke_key

    if args.action == "create":
        made, key = _with_store(settings, lambda s: create_key(s, args.tenant),
                                  changes=True)
        if args.json:
            print(json.dumps({**made.to_dict(), "key": key}, indent=1))
        else:
            print(key)
            print(f"key {made.key_id} for tenant {made.tenant_id!r}: this is the only time "
                  "it is shown (the store keeps a hash); send it as 'Authorization: Bearer "
                  "<key>' or pass it as api_key=", file=sys.stderr)
        return 0
    if args.action == "list":
        keys = _with_store(settings, list_keys)
        if args.json:
            print(json.dumps([k.to_dict() for k in keys], indent=1))
            return 0
        print(f"{'id':<12}  {'tenant':<20}  {'created':<25}  {'last used':<25}  revoked")
        for k in keys:
            print(f"{k.key_id:<12}  {k.tenant_id:<20}  {_when(k.created_at):<25}  "
                  f"{_when(k.last_used_at):<25}  {_when(k.revoked_at)}")
        return 0
    if not _KEY_ID.match(args.key_id):
        raise BadRequest(f"{args.key_id!r:.40} is not a key id (12 hex digits, as "
                         "'voxmem keys list' shows them)", field="key_id")
    if not _with_store(settings, lambda s: revoke_key(s, args.key_id),
                           changes=True):
        raise NotFound(f"no live key has id {args.key_id} (see 'voxmem keys list')")
    print(f"revoked key {args.key_id}: refused from the next request on")
    return 0


def add_keys_parser(sub: Any, with_data_dir: Callable[[argparse.ArgumentParser],
                                                     argparse.ArgumentParser],
                    settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Register ``voxmem keys`` (create, list, revoke) on the CLI's subparsers."""
    keys = sub.add_parser("keys", help="API keys bound to one tenant: create, list, revoke")
    actions = keys.add_subparsers(dest="action", required=True,
                                  help="create, list or revoke (each has its --help)")
    create = with_data_dir(actions.add_parser(
        "create", help="make a key for one tenant and print it (shown once)"))
    create.add_argument("--tenant", required=True, type=_tenant,
                        help="the tenant the key is bound to (its tenantId)")
    listing = with_data_dir(actions.add_parser(
        "list", help="every key's id, tenant, creation and last use (never the key)"))
    revoke = with_data_dir(actions.add_parser(
        "revoke", help="revoke a key: refused from its next request on"))
    revoke.add_argument("key_id", help="the key's id, as 'voxmem keys list' shows it")
    for action in (create, listing):
        action.add_argument("--json", action="store_true")
    for action in (create, listing, revoke):
        action.set_defaults(func=lambda args: cmd_keys(args, settings_of(args)))
