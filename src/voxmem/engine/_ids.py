"""Identifiers the engine mints for calls, turns, facts and chunks."""

from __future__ import annotations

import os
import threading
import uuid

__all__ = ["new_id"]

_UUID7 = getattr(uuid, "uuid7", None)
# Random bytes are read from the OS this many at a time. uuid4() asks the OS for 16
# bytes per id: a system call, on the event loop, twice per saved turn (its event and
# turn ids) — 5.5 µs an id against 2.1 µs from this pool (docs/performance.md).
_POOL_BYTES = 4096


class _RandomPool:
    """OS randomness (``os.urandom``) read in blocks and handed out 16 bytes at a time.

    The same bytes ``uuid4`` would use, only fewer system calls. A forked child starts
    with an empty pool, so parent and child never hand out the same bytes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0

    def take16(self) -> bytearray:
        with self._lock:
            at = self._at
            if at + 16 > len(self._pool):
                self._pool, at = os.urandom(_POOL_BYTES), 0
            self._at = at + 16
            return bytearray(self._pool[at:at + 16])

    def reset(self) -> None:
        self._lock = threading.Lock()  # a lock held by another thread at fork is stuck
        self._pool, self._at = b"", 0


_random = _RandomPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_random.reset)


def new_id(prefix: str) -> str:
    """Time-ordered unique id (uuid7 when available) with a readable prefix.

    Without uuid7, a random (version 4) UUID: the same 122 random bits and the same
    spelling as ``uuid.uuid4().hex``.
    """
    if _UUID7 is not None:
        return f"{prefix}_{_UUID7().hex}"
    raw = _random.take16()
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return f"{prefix}_{raw.hex()}"
