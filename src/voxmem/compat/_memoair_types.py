"""Result types, the error, and the small shared helpers of the MemoAir compat layer.

The result dataclasses keep the SDK's field names (``contextText`` included) and types,
so code that reads them, compares them or builds them keeps working.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Iterator
from typing import Any

from .._config import setting_default
from .._exceptions import VoxmemError
from ..engine._rank import INTENT_ALIASES, INTENTS
from ..models import IndexBuildResult as VoxmemIndexBuildResult
from ..models import SearchResult as VoxmemSearchResult

__all__ = [
    "DEFAULT_CLOUD_BASE_URL",
    "DEFAULT_SEARCH_TIMEOUT_MS",
    "IndexBuildResult",
    "IndexLoadResult",
    "MemoAirVoiceMemoryError",
    "SearchResult",
    "embedded_from_env",
    "mapped_errors",
    "note_local_only",
    "sdk_intent",
    "to_memoair_error",
    "warn_once",
]

log = logging.getLogger("voxmem.compat")

#: The SDK's default cloud URL: accepted, never contacted.
DEFAULT_CLOUD_BASE_URL = "https://backend.memoair.space"
#: The SDK's search deadline, which is voxmem's own default.
DEFAULT_SEARCH_TIMEOUT_MS: int = setting_default("recall_timeout_ms")

# voxmem error codes → the SDK's runtime codes. Codes with a namespace of their own
# (pool.*, index.*) are the same in both.
_CODES = {
    "bad_request": "runtime.bad_request",
    "session_not_found": "runtime.session_not_found",
    "identity_mismatch": "runtime.identity_mismatch",
    "timeout": "runtime.timeout",
    "internal": "runtime.internal",
    "runtime.start_failed": "runtime.bootstrap_failed",
    "store.unavailable": "runtime.projection_unavailable",
    "unauthorized": "runtime.unauthorized",
    "forbidden": "runtime.forbidden",
    "not_found": "runtime.not_found",
}

_warned: set[str] = set()


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """One turn's recall, as the MemoAir SDK shapes it."""

    contextText: str  # noqa: N815 - the SDK's field name
    profile: dict[str, Any] | None
    working: list[dict[str, Any]]
    permanent: list[dict[str, Any]]
    org: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    trace: dict[str, Any]

    @classmethod
    def from_voxmem(cls, result: VoxmemSearchResult) -> SearchResult:
        return cls(contextText=result.context_text, profile=result.profile,
                   working=result.working, permanent=result.permanent, org=result.org,
                   sources=result.sources, trace=result.trace)


@dataclasses.dataclass(frozen=True)
class IndexBuildResult:
    """What ``create_index`` returns."""

    index_name: str
    chunk_count: int
    version: int | None

    @classmethod
    def from_voxmem(cls, result: VoxmemIndexBuildResult) -> IndexBuildResult:
        return cls(index_name=result.index_name, chunk_count=result.chunk_count,
                   version=result.version)


@dataclasses.dataclass(frozen=True)
class IndexLoadResult:
    """What opening a caller's session loaded (``load_index``)."""

    session_id: str
    profile_version: int | None
    permanent_manifest_version: int | None
    org_manifest_version: int | None
    scopes_loaded: list[str]


class MemoAirVoiceMemoryError(Exception):
    """A hard memory error, with the SDK's attributes.

    Attributes:
        code: e.g. ``"runtime.bad_request"``, ``"pool.exhausted"``,
            ``"index.batch_too_large"``.
        message: what went wrong and what to do about it.
        status_code: the HTTP status it maps to (413 for an oversized index batch).
        details: extra context (for a bad request, ``{"field": ...}``).
    """

    def __init__(self, message: str, *, code: str = "runtime.internal",
                 status_code: int | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status_code = status_code
        self.details: dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return (f"MemoAirVoiceMemoryError(code={self.code!r}, message={self.message!r}, "
                f"status_code={self.status_code!r})")


def to_memoair_error(exc: VoxmemError) -> MemoAirVoiceMemoryError:
    """The SDK's error for a voxmem error (code mapped, status and details kept)."""
    code = _CODES.get(exc.code, exc.code)
    return MemoAirVoiceMemoryError(exc.message, code=code, status_code=exc.status_code,
                                   details={**exc.details, "voxmem_code": exc.code})


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    """Raise voxmem errors as :class:`MemoAirVoiceMemoryError`."""
    try:
        yield
    except VoxmemError as exc:
        raise to_memoair_error(exc) from exc


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` at WARNING the first time ``key`` is seen in this process."""
    if key in _warned:
        return
    _warned.add(key)
    log.warning(message, *args)


def sdk_intent(intent: object) -> str:
    """The intent to search with for the SDK's ``intent``.

    The SDK documents ``intent`` as a free-form hint reserved for future use, so SDK code
    passes values of its own; voxmem ranks by four intents and refuses any other with
    ``bad_request``. An intent voxmem does not know searches as ``answer_current_user``
    (the SDK's default), said once per value in the log.
    """
    if isinstance(intent, str) and INTENT_ALIASES.get(intent, intent) in INTENTS:
        return intent
    warn_once(f"intent:{intent!r}",
              "intent %r is not one voxmem ranks by (%s); searching as answer_current_user",
              intent, ", ".join(sorted(INTENTS)))
    return "answer_current_user"


def note_local_only(api_key: str | None, cloud_base_url: str | None,
                    internal_token: str | None = None) -> None:
    """The one line saying a given key / cloud URL is accepted but nothing leaves here."""
    given = [name for name, value in (("api_key", api_key), ("internal_token", internal_token),
                                      ("cloud_base_url", cloud_base_url)) if value]
    if given:
        log.info("MemoAir %s accepted and ignored: voxmem keeps every memory on this machine "
                 "and sends nothing to a cloud", " and ".join(given))


def embedded_from_env(embedded: bool | None) -> bool:
    """``embedded`` as given, else ``VOXMEM_EMBEDDED=1`` in the environment (read when a
    client is built, so SDK code that passes no voxmem options can still choose)."""
    if embedded is not None:
        return embedded
    return os.environ.get("VOXMEM_EMBEDDED", "").strip().lower() in {"1", "true", "yes"}
