"""One translation of database errors into voxmem's: :class:`~voxmem.StoreUnavailable`.

Both dialects run every statement inside :func:`store_errors`, so an outage (server gone,
disk full, a locked file, a pool timeout) reaches the engine the same way from either.
Bad data (a NUL byte, a broken constraint) fails the same way on every retry, so it is
marked not retryable and the journal applier sets the record aside instead of waiting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator

from .._exceptions import StoreUnavailable

__all__ = ["DatabaseErrors", "store_errors"]

log = logging.getLogger("voxmem.store")


@dataclasses.dataclass(frozen=True, slots=True)
class DatabaseErrors:
    """A driver's exception classes, as :func:`store_errors` needs them."""

    #: Every error the driver raises.
    base: type[Exception] | tuple[type[Exception], ...]
    #: Errors that repeat on every retry (bad data).
    poison: tuple[type[Exception], ...]
    #: Errors of the connection or server rather than the statement; others are logged.
    outage: tuple[type[Exception], ...] = ()


@contextlib.contextmanager
def store_errors(errors: DatabaseErrors, what: str) -> Iterator[None]:
    """Raise the driver's errors inside the block as ``StoreUnavailable(what: error)``."""
    try:
        yield
    except errors.base as exc:
        if errors.outage and not isinstance(exc, errors.outage):
            log.error("%s: the database rejected a statement: %s", what, exc)
        poison = isinstance(exc, errors.poison)
        raise StoreUnavailable(f"{what}: {exc}", retryable=not poison) from exc
