"""What recall shows for one indexed memory or chunk (:class:`Doc`), how the index keeps
it (msgpack, :func:`encode_doc`), and a stored vector read back from its blob."""

from __future__ import annotations

import dataclasses
import operator
from typing import Any

import msgspec
import numpy as np

from ..models import Chunk, Fact, Turn
from ._index import FloatArray

__all__ = ["Doc", "chunk_doc", "decode_doc", "encode_doc", "fact_doc", "turn_doc",
           "vector_from_blob"]


@dataclasses.dataclass(frozen=True, slots=True)
class Doc:
    """What recall shows for one indexed memory or chunk.

    The index keeps it encoded (see :func:`encode_doc`).
    """

    kind: str
    text: str
    created_at: float
    session_id: str | None = None
    confidence: float = 1.0
    user_text: str | None = None
    assistant_text: str | None = None
    turn_id: str | None = None
    slot_key: str | None = None
    fact_kind: str | None = None
    index: str | None = None
    document_id: str | None = None
    metadata: dict[str, Any] | None = None


def turn_doc(turn: Turn) -> Doc:
    """What recall shows for a saved turn."""
    return Doc(kind="turn", text=turn.text, created_at=turn.created_at,
               session_id=turn.session_id, user_text=turn.user_text,
               assistant_text=turn.assistant_text, turn_id=turn.turn_id)


def fact_doc(fact: Fact) -> Doc:
    """What recall shows for a stored fact."""
    return Doc(kind="fact", text=fact.text, created_at=fact.created_at,
               session_id=fact.source_session_id, confidence=fact.confidence,
               slot_key=fact.slot_key, fact_kind=fact.kind)


def chunk_doc(chunk: Chunk) -> Doc:
    """What recall shows for an org chunk."""
    return Doc(kind="chunk", text=chunk.text, created_at=chunk.created_at,
               index=chunk.index_name, document_id=chunk.document_id,
               metadata=chunk.metadata)


_DOC_FIELDS = tuple(f.name for f in dataclasses.fields(Doc))
_doc_values = operator.attrgetter(*_DOC_FIELDS)
_doc_encoder = msgspec.msgpack.Encoder()
_doc_decoder = msgspec.msgpack.Decoder()
_TEXT, _USER, _ASSISTANT = (_DOC_FIELDS.index(name)
                            for name in ("text", "user_text", "assistant_text"))


def encode_doc(doc: Doc) -> bytes:
    """``doc`` as msgpack: an array of its fields in order (no field names).

    The index keeps these bytes in one packed buffer (``_payloads.PackedRecords``), so a
    payload costs its encoded size instead of a dataclass or tuple with a string object
    per field; and the garbage collector has nothing to track (measured, when payloads
    were 100k tracked objects: full collections of up to ~250 ms while an org index
    loaded next to live recall). A turn's text is both sides joined: it is left out
    and joined again on decoding, which halves a turn's bytes.
    """
    values: tuple[Any, ...] = _doc_values(doc)
    if doc.user_text and doc.assistant_text and doc.text == _joined(doc):
        values = (values[0], None, *values[2:])
    return _doc_encoder.encode(values)


def decode_doc(raw: bytes) -> Doc:
    values = _doc_decoder.decode(raw)
    if values[_TEXT] is None:
        # A turn's text, left out by ``encode_doc``: joined before the Doc is made, not
        # by ``dataclasses.replace`` after (which built it twice; every hit is decoded).
        values[_TEXT] = f"{values[_USER]}\n{values[_ASSISTANT]}"
    return Doc(*values)



def _joined(doc: Doc) -> str:
    # The same join as ``models.Turn.text``.
    return f"{doc.user_text}\n{doc.assistant_text}"


def vector_from_blob(blob: bytes | None, dimensions: int) -> FloatArray | None:
    if blob is None or len(blob) != dimensions * 4:
        return None  # a vector from another model: re-embedded in the background
    vec: FloatArray = np.frombuffer(blob, dtype=np.float32)
    return vec
