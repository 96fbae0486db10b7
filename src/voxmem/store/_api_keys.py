"""Per-tenant API keys: made, listed, revoked and checked against the store.

A key reads ``vxk_<id>_<secret>``: the id (12 hex digits) names the row, the secret (32
random bytes, URL-safe base64) is what proves it. The store keeps the id, the tenant and
a BLAKE2b of the secret keyed with the store's own random id (``store_identity``), never
the key itself, so the ``api_keys`` table (or a dump of it) signs nobody in.

Why a fast keyed hash rather than bcrypt/scrypt/argon2: those are slow on purpose, to
make guessing a *low-entropy* password expensive. A 256-bit random secret cannot be
guessed however fast the hash is, and a slow hash would cost every request of a voice
turn milliseconds of CPU. The check looks the row up by id, then compares the hashes
with :func:`hmac.compare_digest`, so the time taken tells nothing about how much of a
guessed secret matched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from typing import Any, Protocol, cast

from . import _sql as sql

__all__ = ["KEY_PREFIX", "ApiKey", "KeyStore", "create_key", "find_key", "hash_secret",
           "list_keys", "looks_like_key", "revoke_key", "touch_key"]

KEY_PREFIX = "vxk_"
_KEY = re.compile(r"^vxk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")

_INSERT = sql.shared("INSERT INTO api_keys (key_id, tenant_id, key_hash, created_at)"
                     " VALUES (?, ?, ?, ?)")
_LIST = sql.shared("SELECT key_id, tenant_id, created_at, last_used_at, revoked_at"
                   " FROM api_keys ORDER BY created_at, key_id")
_BY_ID = sql.shared("SELECT key_id, tenant_id, key_hash, revoked_at FROM api_keys"
                    " WHERE key_id = ?")
_REVOKE = sql.shared("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?"
                     " AND revoked_at IS NULL")
_TOUCH = sql.shared("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?")


class KeyStore(Protocol):
    """What the key functions need of a store (both backends have it)."""

    async def store_id(self) -> str: ...

    async def operator_rows(self, statement: sql.Statement,
                            params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows of one read of operator data (no tenant in force)."""
        ...

    async def operator_change(self, statement: sql.Statement, params: Sequence[Any]) -> int:
        """Run one write of operator data; the number of rows it changed."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class ApiKey:
    """One key as ``voxmem keys list`` shows it: never its secret."""

    key_id: str
    tenant_id: str
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"keyId": self.key_id, "tenantId": self.tenant_id,
                "createdAt": self.created_at, "lastUsedAt": self.last_used_at,
                "revokedAt": self.revoked_at}


def _keys(store: object) -> KeyStore:
    return cast(KeyStore, store)


def hash_secret(store_id: str, secret: str) -> str:
    """The stored form of a key's secret: BLAKE2b keyed with the store's id."""
    return hashlib.blake2b(secret.encode("ascii"), key=store_id.encode("utf-8")[:64],
                           digest_size=32).hexdigest()


def looks_like_key(presented: str) -> bool:
    """Whether ``presented`` has the shape of an API key (not whether it is valid)."""
    return presented.startswith(KEY_PREFIX)


async def create_key(store: object, tenant_id: str, *,
                     now: float | None = None) -> tuple[ApiKey, str]:
    """A new key for ``tenant_id``: its record and the key itself (shown once)."""
    if not tenant_id.strip():
        raise ValueError("a key needs a non-empty tenant")
    ks = _keys(store)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    at = time.time() if now is None else now
    await ks.operator_change(_INSERT, (key_id, tenant_id,
                                       hash_secret(await ks.store_id(), secret), at))
    return ApiKey(key_id, tenant_id, at), f"{KEY_PREFIX}{key_id}_{secret}"


async def list_keys(store: object) -> list[ApiKey]:
    """Every key ever made, revoked ones too, oldest first."""
    found = await _keys(store).operator_rows(_LIST, ())
    return [ApiKey(str(r[0]), str(r[1]), float(r[2]),
                   None if r[3] is None else float(r[3]),
                   None if r[4] is None else float(r[4])) for r in found]


async def revoke_key(store: object, key_id: str, *, now: float | None = None) -> bool:
    """Revoke key ``key_id``; False when no live key has that id."""
    at = time.time() if now is None else now
    return await _keys(store).operator_change(_REVOKE, (at, key_id)) > 0


async def find_key(store: object, presented: str, store_id: str) -> tuple[str, str] | None:
    """(key id, tenant) of a live key ``presented``; None for anything else.

    Unknown, malformed and revoked keys are all just None: the caller answers each with
    the same 401, so an attacker learns nothing from which it was.
    """
    match = _KEY.match(presented)
    if match is None:
        return None
    key_id, secret = match.groups()
    found = await _keys(store).operator_rows(_BY_ID, (key_id,))
    if not found:
        # Hash anyway: an unknown id then costs as long as a known one.
        hmac.compare_digest(hash_secret(store_id, secret), "0" * 64)
        return None
    _id, tenant, stored, revoked = found[0]
    if not hmac.compare_digest(hash_secret(store_id, secret), str(stored)):
        return None
    return None if revoked is not None else (key_id, str(tenant))


async def touch_key(store: object, key_id: str, at: float) -> None:
    """Record that key ``key_id`` was used at ``at``."""
    await _keys(store).operator_change(_TOUCH, (at, key_id))
