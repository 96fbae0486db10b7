"""Input checks shared by every entry point: bad input is refused naming the field,
before anything is written."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .._config import MAX_TIMEOUT_MS, MAX_TOP_K
from .._exceptions import BadRequest
from ..models import LANES, Caller, Lane

__all__ = [
    "MODES",
    "HugeNumber",
    "check_caller",
    "check_documents",
    "check_index_name",
    "check_lanes",
    "check_mode",
    "check_optional_dict",
    "check_optional_id",
    "check_payload",
    "check_profile_field",
    "check_text",
    "check_timeout_ms",
    "check_timestamp",
    "check_top_k",
]

MODES = ("fast", "accurate")
MAX_ID_CHARS = 256
#: A caller's name is composed into the prompt: a name, not a document.
MAX_NAME_CHARS = 256
_INDEX_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: Profile field names are composed into the LLM's context: a strict pattern keeps line
#: breaks, headings and quotes out of them (values are quoted; names are not prose).
PROFILE_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
#: Largest JSON size of tool_calls and of any metadata object, like turn text.
MAX_METADATA_BYTES = 65_536
#: Numbers must fit a 64-bit integer: both stores and every JSON reader keep them exactly.
MAX_ABS_INT = 2**63 - 1
#: Timestamps before this (2000-01-01) are almost always a unit mistake (0, or days).
MIN_TIMESTAMP = 946_684_800.0
#: Clocks disagree a little; more than a day ahead is a unit mistake (milliseconds).
MAX_FUTURE_S = 86_400.0
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class HugeNumber:
    """A JSON integer too long to convert, kept as a marker so the field can be named.

    Python refuses to turn more than 4,300 digits into an int (a denial-of-service
    guard) with a ValueError that would otherwise surface as a 500.
    """

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def parse_json_int(text: str) -> int | HugeNumber:
    """``json.loads(parse_int=...)``: an int, or a marker for one far outside int64."""
    digits = len(text.lstrip("-"))
    if digits > 20:
        return HugeNumber(digits)
    return int(text)


def check_payload(value: Any, field: str = "body") -> None:
    """Refuse, naming the field, what no store can keep losslessly on both backends.

    Checked once at the door for every operation, for REST and in-process callers alike:
    lone surrogates (not encodable as UTF-8), NUL characters (Postgres text and jsonb
    refuse them, SQLite keeps them: the same input would store differently), integers
    outside 64 bits and non-finite numbers. Refusing is chosen over rewriting because a
    silently changed id or value would no longer match what the caller holds.
    """
    stack: list[tuple[Any, str]] = [(value, field)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            _check_string(item, where)
        elif isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise BadRequest(f"{where} has a non-string key {key!r}", field=where)
                _check_string(key, where, what="a key")
                stack.append((sub, key if where == "body" else f"{where}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((sub, f"{where}[{i}]") for i, sub in enumerate(item))
        elif isinstance(item, HugeNumber):
            raise BadRequest(f"{where} is a number of {item.digits} digits; numbers must "
                             "fit in 64 bits", field=where)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int) and abs(item) > MAX_ABS_INT:
            raise BadRequest(f"{where} is out of range; integers must fit in 64 bits",
                             field=where)
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadRequest(f"{where} must be a finite number", field=where)


def _check_string(text: str, where: str, *, what: str = "text") -> None:
    if "\x00" in text:
        raise BadRequest(f"{where} contains a NUL character, which cannot be stored; "
                         "remove it", field=where)
    if not text.isascii() and _LONE_SURROGATE.search(text):
        raise BadRequest(f"{where} contains {what} that is not valid UTF-8 (a lone "
                         "surrogate)", field=where)


def check_timestamp(value: float, field: str, now: float) -> float:
    """``value`` (epoch seconds) if it lies between 2000-01-01 and a day from ``now``."""
    if not math.isfinite(value) or not MIN_TIMESTAMP <= value <= now + MAX_FUTURE_S:
        raise BadRequest(f"{field} must be epoch seconds between 2000-01-01 and a day from "
                         f"now (got {value!r}; milliseconds by mistake?)", field=field)
    return value


def check_profile_field(value: Any) -> str:
    """A profile field name: a letter, then letters, digits, '_', '.' or '-' (<= 64)."""
    if not isinstance(value, str) or not PROFILE_FIELD.match(value.strip()):
        raise BadRequest("field must be 1-64 characters of letters, digits, '_', '.' or "
                         "'-', starting with a letter (e.g. preferred_name)", field="field")
    return value.strip()


def check_caller(user: Any, user_id: Any = None) -> Caller:
    """The caller from ``user={"id", "name", "metadata"}`` or the ``user_id`` alias."""
    if user is None and user_id is None:
        raise BadRequest("user is required: pass user={'id': ...} (or user_id=...); "
                         "voxmem never files memory under a shared namespace", field="user")
    if isinstance(user, Caller):
        return user
    if user is None:
        user = {"id": user_id}
    if not isinstance(user, dict):
        raise BadRequest("user must be an object like {'id': ..., 'name': ...}", field="user")
    raw_id = user.get("id", user_id)
    if user_id is not None and raw_id != user_id:
        raise BadRequest("user['id'] and user_id disagree", field="user_id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise BadRequest("user.id must be a non-empty string", field="user.id")
    if len(raw_id) > MAX_ID_CHARS:
        raise BadRequest(f"user.id is longer than {MAX_ID_CHARS} characters", field="user.id")
    name = user.get("name")
    if name is not None and not isinstance(name, str):
        raise BadRequest("user.name must be a string", field="user.name")
    if name is not None and len(name) > MAX_NAME_CHARS:
        raise BadRequest(f"user.name is longer than {MAX_NAME_CHARS} characters",
                         field="user.name")
    metadata = check_optional_dict(user.get("metadata"), "user.metadata")
    return Caller(id=raw_id.strip(), name=name or None, metadata=metadata)


def check_text(value: Any, field: str, max_bytes: int, *, allow_empty: bool = True,
               setting: str | None = None) -> str:
    """``value`` if it is text within ``max_bytes``; a 413 naming the limit (and the
    ``setting`` that raises it, when there is one) otherwise."""
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string, got {type(value).__name__}", field=field)
    if not allow_empty and not value.strip():
        raise BadRequest(f"{field} must not be empty", field=field)
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raised = (f" (the setting {setting}, VOXMEM_{setting.upper()}, raises it)"
                  if setting else "")
        raise BadRequest(f"{field} is {size} bytes; the limit is {max_bytes}{raised}",
                         field=field, status_code=413,
                         details={"limit": max_bytes, "size": size})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{field} is not valid UTF-8 text", field=field) from None
    return value


def check_optional_id(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS:
        raise BadRequest(f"{field} must be a non-empty string of at most {MAX_ID_CHARS} "
                         "characters", field=field)
    return value


def check_optional_dict(value: Any, field: str,
                        max_bytes: int = MAX_METADATA_BYTES) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{field} must be an object", field=field)
    check_json_size(value, field, max_bytes)
    return value


def check_json_size(value: Any, field: str, max_bytes: int) -> None:
    """Refuse ``value`` if it is not JSON or its JSON is over ``max_bytes`` (413)."""
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode(
            "utf-8", "surrogatepass"))
    except (TypeError, ValueError):
        raise BadRequest(f"{field} must be JSON-serialisable", field=field) from None
    if size > max_bytes:
        raise BadRequest(f"{field} is {size} bytes as JSON; the limit is {max_bytes}",
                         field=field, status_code=413)


def check_lanes(value: Any) -> tuple[Lane, ...]:
    if value is None:
        return LANES
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise BadRequest("lanes must be a list of lane names", field="lanes")
    out: list[Lane] = []
    for lane in value:
        if lane not in LANES:
            raise BadRequest(f"unknown lane {lane!r}; lanes are {', '.join(LANES)}",
                             field="lanes")
        if lane not in out:
            out.append(lane)
    return tuple(out)


def check_timeout_ms(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise BadRequest("timeout_ms must be a number of milliseconds", field="timeout_ms")
    if value <= 0 or value > MAX_TIMEOUT_MS:
        raise BadRequest(f"timeout_ms must be within (0, {MAX_TIMEOUT_MS}]", field="timeout_ms")
    return float(value)


def check_top_k(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("top_k must be an object like {'permanent': 6}", field="top_k")
    out: dict[str, int] = {}
    for lane, k in value.items():
        if lane not in LANES:
            raise BadRequest(f"top_k names unknown lane {lane!r}", field="top_k")
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= MAX_TOP_K:
            raise BadRequest(f"top_k[{lane!r}] must be an integer within 0..{MAX_TOP_K}",
                             field="top_k")
        out[lane] = k
    return out


def check_mode(value: Any) -> str:
    if value not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}", field="mode")
    return str(value)


def check_index_name(value: Any) -> str:
    if not isinstance(value, str) or not _INDEX_NAME.match(value):
        raise BadRequest("index name must be 1-128 characters of letters, digits, '.', '_' "
                         "or '-', starting with a letter or digit", field="name")
    return value


def check_documents(value: Any, *, max_documents: int, max_bytes: int,
                    max_text_bytes: int) -> list[dict[str, Any]]:
    """Validate a create_index batch; too big is a 413 ``index.batch_too_large``."""
    if not isinstance(value, list):
        raise BadRequest("documents must be a list of {'id', 'text', 'metadata'} objects",
                         field="documents")
    if len(value) > max_documents:
        raise BadRequest(
            f"{len(value)} documents in one call; the limit is {max_documents}. Split the "
            f"batch into calls of at most {max_documents} documents and {max_bytes} bytes",
            code="index.batch_too_large", status_code=413, field="documents",
            details={"documents": len(value), "maxDocuments": max_documents})
    try:
        size = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError):
        raise BadRequest("documents must be JSON-serialisable", field="documents") from None
    if size > max_bytes:
        raise BadRequest(
            f"documents payload is {size} bytes; the limit is {max_bytes}. Split the batch "
            f"into calls of at most {max_documents} documents and {max_bytes} bytes",
            code="index.batch_too_large", status_code=413, field="documents",
            details={"bytes": size, "maxBytes": max_bytes})
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for i, doc in enumerate(value):
        where = f"documents[{i}]"
        if not isinstance(doc, dict):
            raise BadRequest(f"{where} must be an object", field=where)
        doc_id = doc.get("id")
        if not isinstance(doc_id, str) or not doc_id.strip() or len(doc_id) > MAX_ID_CHARS:
            raise BadRequest(f"{where}.id must be a non-empty string of at most "
                             f"{MAX_ID_CHARS} characters", field=f"{where}.id")
        text = check_text(doc.get("text"), f"{where}.text", max_text_bytes, allow_empty=False)
        metadata = check_optional_dict(doc.get("metadata"), f"{where}.metadata")
        if doc_id in seen:
            raise BadRequest(f"document id {doc_id!r} appears twice in one batch",
                             field=f"{where}.id")
        seen.add(doc_id)
        out.append({"id": doc_id, "text": text, "metadata": metadata})
    return out
