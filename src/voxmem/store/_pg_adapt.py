"""Python values in and out of Postgres: pgvector vectors, full-text queries, errors.

The store protocol carries vectors as little-endian float32 bytes (what numpy's
``tobytes()`` gives and what the SQLite store keeps as a blob). pgvector's binary wire
format is a big-endian header (``uint16`` dimensions, ``uint16`` unused) followed by
big-endian ``float4`` values, so the conversion is one byte swap each way and round-trips
every float32 exactly. The type's OID differs per database (it is an extension type), so
the adapters are bound to it when a connection is configured.
"""

from __future__ import annotations

import array
import logging
import struct
import sys
from typing import Any

import numpy as np
import psycopg
from psycopg import AsyncConnection
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.pq import Format

from ._errors import DatabaseErrors

__all__ = ["LOAD_BATCH_ROWS", "POSTGRES_ERRORS", "SEARCH_TIMEOUT_MS", "Float32Vector",
           "checked_dims", "register_vector", "text_query", "vector_dims"]

log = logging.getLogger("voxmem.store")

#: psycopg's errors as ``store_errors`` maps them (bad data is not retried).
POSTGRES_ERRORS = DatabaseErrors(psycopg.Error,
                                 poison=(psycopg.DataError, psycopg.IntegrityError),
                                 outage=(psycopg.OperationalError,))
#: Longest a search statement may run; searches are the cold path of a recall that has
#: a deadline of its own (250 ms by default), so anything longer is wasted work.
SEARCH_TIMEOUT_MS = 1000
#: Rows decoded between two turns of the event loop (about 5 ms of work per slice).
LOAD_BATCH_ROWS = 1000

#: Words beyond this many are ignored: a 64 KB query must not become a 10,000-term OR.
MAX_QUERY_WORDS = 64

_HEADER = struct.Struct(">HH")
_SWAP = sys.byteorder == "little"


class Float32Vector:
    """A vector parameter: float32 bytes as the protocol carries them.

    Example::

        await cur.execute("UPDATE chunks SET embedding = %s WHERE id = %s",
                          (Float32Vector(vec.tobytes()), chunk_id))
    """

    __slots__ = ("blob",)

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    @classmethod
    def maybe(cls, blob: bytes | None) -> Float32Vector | None:
        """Wrap ``blob``, or None when there is nothing storable.

        pgvector refuses NaN, infinity and empty vectors, and one refused row would fail
        its whole batch forever (the applier retries a batch until it lands), so such a
        vector is stored as NULL and the row keeps its text.
        """
        if not blob:
            return None
        if len(blob) % 4:
            log.warning("dropping a vector of %d bytes (not float32)", len(blob))
            return None
        values = np.frombuffer(blob, dtype="<f4")
        if not np.isfinite(values).all():
            log.warning("dropping a vector with non-finite values")
            return None
        return cls(blob)


def vector_dims(blob: bytes) -> int:
    """Dimensions of a float32 vector blob."""
    return len(blob) // 4


def _swap(data: Buffer) -> bytes:
    """float32 values between network (big-endian) and host order.

    array's byteswap is about three times faster than numpy for one 256-1024 value
    vector, which matters when a caller's 10,000 rows load at call start.
    """
    values = array.array("f")
    values.frombytes(data)
    if _SWAP:
        values.byteswap()
    return values.tobytes()


class _VectorBinaryDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> Buffer | None:
        blob: bytes = obj.blob
        return _HEADER.pack(len(blob) // 4, 0) + _swap(blob)


class _VectorBinaryLoader(Loader):
    format = Format.BINARY

    def load(self, data: Buffer) -> bytes:
        return _swap(memoryview(data)[_HEADER.size:])


class _VectorTextLoader(Loader):
    format = Format.TEXT

    def load(self, data: Buffer) -> bytes:
        text = bytes(data).decode("ascii").strip("[]")
        if not text:
            return b""
        return np.array(text.split(","), dtype="<f4").tobytes()


def register_vector(conn: AsyncConnection[Any], oid: int) -> None:
    """Teach one connection to send :class:`Float32Vector` and read ``vector`` as bytes."""
    dumper = type("VectorDumper", (_VectorBinaryDumper,), {"oid": oid})
    conn.adapters.register_dumper(Float32Vector, dumper)
    conn.adapters.register_loader(oid, _VectorBinaryLoader)
    conn.adapters.register_loader(oid, _VectorTextLoader)


def text_query(text: str) -> str | None:
    """A ``websearch_to_tsquery`` input that ORs the words of ``text``, or None.

    Only letters and digits survive, so user text is never query syntax; joining with
    ``or`` gives the any-word matching of the SQLite store's FTS5 OR-query, ranked by
    how well each row covers the words. websearch_to_tsquery never raises on input.
    """
    words: list[str] = []
    for raw in text.split():
        word = "".join(ch for ch in raw if ch.isalnum()).lower()
        if word and word != "or":
            words.append(word)
    unique = list(dict.fromkeys(words))[:MAX_QUERY_WORDS]
    if not unique:
        return None
    return " or ".join(unique)


def checked_dims(vector: bytes) -> int:
    """The dimension of a query vector (float32 bytes), refusing an empty or torn one."""
    if not vector or len(vector) % 4:
        raise ValueError("a query vector must be non-empty float32 bytes")
    return vector_dims(vector)
