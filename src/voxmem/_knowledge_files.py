"""Turning files (text, Markdown, PDF) into org-index documents, in batches that fit one
``create_index`` call. Shared by ``voxmem index upload`` and the dashboard's upload.

A file too large for one call becomes several documents (``guide.pdf``, ``guide.pdf#2``,
...) split with the engine's chunker at paragraph or sentence ends. Every part carries
the file's content hash, so a re-run can skip what is already indexed.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._exceptions import BadRequest
from .engine._chunking import chunk_text

__all__ = [
    "SUPPORTED_SUFFIXES",
    "batch_documents",
    "collect_files",
    "content_hash",
    "document_size",
    "extract_text",
    "file_documents",
    "is_indexed",
]

SUPPORTED_SUFFIXES = {".txt": "text", ".text": "text", ".md": "markdown",
                      ".markdown": "markdown", ".pdf": "pdf"}
#: Share of the per-call byte cap one batch fills: JSON quoting of the text and the
#: metadata add a little to what is counted here.
BATCH_FILL = 0.8
PART_SEPARATOR = "#"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def extract_text(filename: str, data: bytes) -> str:
    """The text of a ``.txt``, ``.md`` or ``.pdf`` file; a 400 naming the file otherwise."""
    kind = SUPPORTED_SUFFIXES.get(Path(filename).suffix.lower())
    if kind is None:
        raise BadRequest(f"{filename}: only {', '.join(sorted(SUPPORTED_SUFFIXES))} files "
                         "can be indexed", field="file")
    if kind != "pdf":
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{filename} is not UTF-8 text (byte {exc.start})",
                             field="file") from None
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise BadRequest(f"{filename} is not a readable PDF ({exc})", field="file") from None
    return "\n\n".join(p.strip() for p in pages if p.strip())


def file_documents(doc_id: str, text: str, *, digest: str, max_bytes: int,
                   metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One document per part of ``text``, each small enough for one call."""
    text = text.strip()
    if not text:
        return []
    budget = max(1, int(max_bytes * BATCH_FILL))
    if len(text.encode("utf-8")) <= budget:
        pieces = [text]
    else:
        # Characters, not bytes, for the chunker: four bytes per character at worst.
        pieces = chunk_text(text, max(100, budget // 4), 0)
    base = {**(metadata or {}), "source": doc_id, "contentHash": digest,
            "parts": len(pieces)}
    return [{"id": doc_id if i == 0 else f"{doc_id}{PART_SEPARATOR}{i + 1}", "text": piece,
             "metadata": {**base, "part": i + 1}} for i, piece in enumerate(pieces)]


def document_size(doc: dict[str, Any]) -> int:
    """Bytes ``doc`` adds to a create_index payload."""
    return len(json.dumps(doc, ensure_ascii=False).encode("utf-8"))


def batch_documents(documents: Iterable[dict[str, Any]], *, max_documents: int,
                    max_bytes: int) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches of at most ``max_documents`` and about ``max_bytes``."""
    budget = int(max_bytes * BATCH_FILL)
    batch: list[dict[str, Any]] = []
    size = 0
    for doc in documents:
        doc_size = document_size(doc)
        if batch and (len(batch) >= max_documents or size + doc_size > budget):
            yield batch
            batch, size = [], 0
        batch.append(doc)
        size += doc_size
    if batch:
        yield batch


def is_indexed(existing: dict[str, dict[str, Any]], doc_id: str, digest: str) -> bool:
    """Whether every part of ``doc_id`` with this content is already in the index.

    Parts are written in order, so the last part being there with the same hash means
    the whole file is.
    """
    first = existing.get(doc_id)
    if first is None or first.get("contentHash") != digest:
        return False
    parts = int(first.get("parts") or 1)
    last_id = doc_id if parts == 1 else f"{doc_id}{PART_SEPARATOR}{parts}"
    last = existing.get(last_id)
    return last is not None and last.get("contentHash") == digest


def collect_files(paths: Sequence[str | Path], *, recursive: bool) -> list[tuple[Path, str]]:
    """``(file, document id)`` for every supported file named or found under a folder.

    A folder's files get ids relative to it (``faq/returns.md``), so two folders with a
    file of the same name do not overwrite each other.
    """
    found: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            for child in sorted(path.glob(pattern)):
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append((child, f"{path.name}/{child.relative_to(path).as_posix()}"))
        elif path.is_file():
            found.append((path, path.name))
        else:
            raise BadRequest(f"{raw}: no such file or folder", field="path")
    return found
