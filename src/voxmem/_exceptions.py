"""The voxmem error family and its wire envelope.

Every failure a user can see is a :class:`VoxmemError` carrying a stable ``code``::

    VoxmemError
     ├── BadRequest            bad_request, index.batch_too_large      (4xx, not retryable)
     ├── Unauthorized          unauthorized, forbidden                 (401/403)
     ├── NotFound              not_found, session_not_found,           (404)
     │                         index_not_found, caller_not_found
     ├── IdentityMismatch      identity_mismatch                       (409)
     ├── MemoryTimeout         timeout                                 (504, retryable)
     ├── StoreUnavailable      store.unavailable                       (503, retryable)
     ├── RuntimeStartFailed    runtime.start_failed                    (503, retryable)
     ├── PoolError             pool.exhausted, pool.port_exhausted, pool.closed
     └── InternalError         internal                                (500)

On the wire the same error travels as ``{"error": {"code", "message", "details"}}``;
:func:`error_from_envelope` turns it back into the matching class, so a caller sees the
same exception whether the engine runs in-process or behind the runtime.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "IdentityMismatch",
    "InternalError",
    "MemoryTimeout",
    "NotFound",
    "PoolError",
    "RuntimeStartFailed",
    "StoreUnavailable",
    "Unauthorized",
    "VoxmemError",
    "error_from_envelope",
]


class VoxmemError(Exception):
    """Base of every error voxmem raises.

    Attributes:
        code: stable machine-readable code, e.g. ``"bad_request"``.
        message: human-readable explanation naming the field or setting at fault.
        status_code: the HTTP status this error maps to.
        details: extra structured context (for ``bad_request``, ``{"field": ...}``).
        retryable: whether the same call may succeed if tried again later.
    """

    default_code = "internal"
    default_status = 500
    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.status_code = status_code if status_code is not None else self.default_status
        self.details: dict[str, Any] = dict(details or {})
        self.retryable = self.default_retryable if retryable is None else retryable

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def to_envelope(self) -> dict[str, Any]:
        """The JSON body sent on the wire for this error."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(VoxmemError):
    """The input is invalid; ``details["field"]`` names the field. Nothing was written."""

    default_code = "bad_request"
    default_status = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        merged = dict(details or {})
        if field is not None:
            merged.setdefault("field", field)
        super().__init__(message, code=code, status_code=status_code, details=merged)

    @property
    def field(self) -> str | None:
        value = self.details.get("field")
        return value if isinstance(value, str) else None


class Unauthorized(VoxmemError):
    """Missing or wrong runtime token / API key."""

    default_code = "unauthorized"
    default_status = 401


class NotFound(VoxmemError):
    """The named thing (session, memory, index) does not exist in this scope."""

    default_code = "not_found"
    default_status = 404


class IdentityMismatch(VoxmemError):
    """A session id was used with a caller other than the one that opened it."""

    default_code = "identity_mismatch"
    default_status = 409


class MemoryTimeout(VoxmemError):
    """An operation missed its deadline."""

    default_code = "timeout"
    default_status = 504
    default_retryable = True


class StoreUnavailable(VoxmemError):
    """The store cannot take writes (disk full, database unreachable)."""

    default_code = "store.unavailable"
    default_status = 503
    default_retryable = True


class RuntimeStartFailed(VoxmemError):
    """The local runtime could not be started or reached."""

    default_code = "runtime.start_failed"
    default_status = 503
    default_retryable = True


class PoolError(VoxmemError):
    """The client's caller-handle pool refused the call (exhausted, no port, closed)."""

    default_code = "pool.exhausted"
    default_status = 503
    default_retryable = True


class InternalError(VoxmemError):
    """A bug: something voxmem did not expect. Please report it."""


_BY_CODE: dict[str, type[VoxmemError]] = {
    "bad_request": BadRequest,
    "index.batch_too_large": BadRequest,
    "unauthorized": Unauthorized,
    "forbidden": Unauthorized,
    "not_found": NotFound,
    "session_not_found": NotFound,
    "index_not_found": NotFound,
    "caller_not_found": NotFound,
    "identity_mismatch": IdentityMismatch,
    "timeout": MemoryTimeout,
    "store.unavailable": StoreUnavailable,
    "runtime.start_failed": RuntimeStartFailed,
    "pool.exhausted": PoolError,
    "pool.port_exhausted": PoolError,
    "pool.closed": PoolError,
    "internal": InternalError,
}


def error_from_envelope(body: Any, status_code: int) -> VoxmemError:
    """Rebuild the matching :class:`VoxmemError` from a wire envelope.

    Tolerates malformed bodies: anything unparseable becomes ``internal`` with the status.
    """
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return InternalError(
            f"runtime answered {status_code} without an error envelope",
            status_code=status_code,
        )
    code = str(err.get("code") or "internal")
    message = str(err.get("message") or code)
    details = err.get("details") if isinstance(err.get("details"), dict) else {}
    cls = _BY_CODE.get(code, VoxmemError)
    if cls is BadRequest:
        return BadRequest(message, code=code, status_code=status_code, details=details)
    return cls(message, code=code, status_code=status_code, details=details)
