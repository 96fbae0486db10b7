"""Where a project's org index files live, and adopting files saved under older names.

The files (vector graph, exact vectors, rows: ~3 GB at a million chunks, tens of minutes
of CPU to rebuild) are named by the store's own identity (:meth:`Store.store_id`, a
random id the store records when its schema is made) and the project. They used to be
named by a hash of the store's location (its path, or its connection target with the
password cut out): a data directory that was moved, restored from a backup or mounted
under another name, or a Postgres URL spelt differently, no longer found them and the
start rebuilt the index from the store.

Files under such a location name are adopted once (renamed to the identity name) when
no file under the identity name exists:

- the name of the store's present location: as trusted as it was before;
- another location name for the same project (the directory moved): only when it is
  the one such file and the store holds the chunks it was saved for (a sample of its
  chunk ids; ids are random, so another store's file matches none of them).

Either way the load still reconciles the files with the store (``_org_file.py``,
``_org_snapshot.py``): versions, chunk ids and checksums decide what is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import struct
from pathlib import Path

import numpy as np

from ..store import Store

__all__ = ["ID_SAMPLE", "adopt_legacy_files", "legacy_store_key", "org_vector_path",
           "sample_ids"]

log = logging.getLogger("voxmem.engine")

#: Chunk ids of a file from a moved directory looked up in the store before adopting
#: it; at least half must be there (documents deleted since its save are gone).
ID_SAMPLE = 32
_PASSWORD = re.compile(r"(password=|://[^:/@]*:)[^ @]*")
#: A location-named vector file: 16 hex digits, then the project's 16.
_LEGACY = re.compile(r"[0-9a-f]{16}-[0-9a-f]{16}\.usearch")
_MAGIC = b"VXORGVEC"
_HEADER_LEN = struct.Struct("<I")


def _project_key(tenant_id: str, project_id: str) -> str:
    return hashlib.sha256(f"{tenant_id}\0{project_id}".encode()).hexdigest()[:16]


def org_vector_path(data_dir: Path, store_id: str, tenant_id: str, project_id: str) -> Path:
    """Where a project's org vector index is saved (the rows and exact vectors beside
    it share its name)."""
    return (data_dir / "org-vectors"
            / f"{store_id}-{_project_key(tenant_id, project_id)}.usearch")


def legacy_store_key(store: object) -> str:
    """The location hash older releases named the files by (never holds a secret: the
    password is cut before hashing)."""
    where = getattr(store, "path", None) or getattr(store, "_conninfo", None) or ""
    masked = _PASSWORD.sub(r"\1", str(where))
    text = f"{type(store).__name__}:{masked}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _companions(vector_file: Path) -> list[Path]:
    # The rows file and the exact vectors (``rows_path``, ``exact_path``), then the
    # vector file itself last: its presence under the new name marks the adoption done.
    return [vector_file.with_suffix(".rows"),
            vector_file.with_name(vector_file.name + ".exact"), vector_file]


def sample_ids(vector_file: Path, count: int = ID_SAMPLE) -> list[str]:
    """Up to ``count`` chunk ids spread over the file's ids ([] when the file is not a
    readable vector file). Reads the header and those ids only: the checksums are the
    load's to check."""
    try:
        with vector_file.open("rb") as f:
            head = f.read(len(_MAGIC) + _HEADER_LEN.size)
            if len(head) < len(_MAGIC) + _HEADER_LEN.size or head[:len(_MAGIC)] != _MAGIC:
                return []
            (header_len,) = _HEADER_LEN.unpack_from(head, len(_MAGIC))
            header = json.loads(f.read(header_len))
            lengths = [int(n) for n in header["lengths"]]
            n_ids, width = int(header["count"]), int(header["id_width"])
            if n_ids <= 0 or width <= 0 or lengths[2] != n_ids * width:
                return []
            ids_at = len(head) + header_len + lengths[0] + lengths[1]
            picks = np.unique(np.linspace(0, n_ids - 1, min(count, n_ids)).astype(np.int64))
            found: list[str] = []
            for i in picks.tolist():
                f.seek(ids_at + i * width)
                found.append(f.read(width).rstrip(b"\0").decode())
            return found
    except (OSError, ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
        return []


def _candidate(target: Path, store: object, tenant_id: str,
               project_id: str) -> tuple[Path, bool] | None:
    """A location-named vector file to adopt as ``target`` and whether its name is the
    store's present location (trusted as before), or None."""
    if target.exists():
        return None
    folder = target.parent
    project = _project_key(tenant_id, project_id)
    own = folder / f"{legacy_store_key(store)}-{project}.usearch"
    if own.exists():
        return own, True
    try:
        others = [p for p in folder.glob(f"*-{project}.usearch") if _LEGACY.fullmatch(p.name)]
    except OSError:
        return None
    if len(others) == 1:
        return others[0], False
    if others:
        log.warning("org index of project %s: %d saved indexes of other data directories, "
                    "none adopted (loading from the store)", project_id, len(others))
    return None


def _rename(source: Path, target: Path) -> None:
    for old, new in zip(_companions(source), _companions(target), strict=True):
        with contextlib.suppress(FileNotFoundError):
            old.replace(new)


async def adopt_legacy_files(data_dir: Path, store: Store, store_id: str, tenant_id: str,
                             project_id: str) -> bool:
    """Rename a project's files saved under a location name to the store-identity name
    (module doc); returns whether it did. A few small reads and renames, once per
    project and process."""
    loop = asyncio.get_running_loop()
    target = org_vector_path(data_dir, store_id, tenant_id, project_id)
    found = await loop.run_in_executor(None, _candidate, target, store, tenant_id,
                                       project_id)
    if found is None:
        return False
    source, trusted = found
    if not trusted:
        ids = await loop.run_in_executor(None, sample_ids, source)
        present = await store.count_chunks(tenant_id, project_id, ids) if ids else 0
        if not ids or 2 * present < len(ids):
            log.warning("org index file %s is not this store's (%d of %d sampled chunks "
                        "found): not adopted", source.name, present, len(ids))
            return False
    await loop.run_in_executor(None, _rename, source, target)
    log.info("org index of project %s adopted from %s (now named by the store's id)",
             project_id, source.name)
    return True
