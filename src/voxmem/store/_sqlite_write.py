"""The SQLite statements that apply one :class:`WriteBatch` and write org documents.

Run on the store's writer thread inside its ``BEGIN IMMEDIATE`` transaction. Every insert
is idempotent (``ON CONFLICT DO NOTHING`` or a guarded update), so replaying a batch
after a crash changes nothing, and the journal position moves in the same transaction.
Statement for statement the Postgres store's ``_pg_write``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from . import _sql as sql
from ._base import DocumentWrite, QuarantinedRecord, TurnWrite, WriteBatch
from ._keys import search_key

__all__ = ["apply_batch", "quarantine_record", "write_documents"]

_TURN_STORED = (f"SELECT id FROM items WHERE {sql.CALLER} AND kind = 'turn' AND turn_id = ?"
                " AND session_id = ? LIMIT 1")
_MOVE_POSITION = "UPDATE journal_state SET applied_seq = MAX(applied_seq, ?) WHERE id = 1"


def _turns_not_stored(conn: sqlite3.Connection, batch: WriteBatch) -> list[TurnWrite]:
    """The batch's turns minus those whose turn id their call already has stored.

    The engine answers a retried turn id with the first event id; this catches the rest
    (a retry while the store could not be asked, two writers racing).
    """
    out: list[TurnWrite] = []
    seen: set[tuple[str, ...]] = set()
    for w in batch.turns:
        key = (*w.scope.caller_key, w.turn.turn_id, w.turn.session_id)
        if key in seen:
            continue
        seen.add(key)
        row = conn.execute(_TURN_STORED, key).fetchone()
        if row is None or row[0] == w.turn.event_id:
            out.append(w)
    return out


def _callers_of_facts(batch: WriteBatch) -> list[tuple[str, str, str, str, float, float]]:
    """One (caller key, at, at) per caller the batch's facts belong to (``CALLER_SEEN``)."""
    first: dict[tuple[str, str, str, str], float] = {}
    for f in batch.facts:
        first.setdefault(f.scope.caller_key, f.valid_from)
    return [(*key, at, at) for key, at in first.items()]


def apply_batch(batch: WriteBatch, conn: sqlite3.Connection) -> None:
    """Write ``batch`` in its documented order inside the caller's transaction."""
    for s in batch.sessions_started:
        t, p, sp, u = s.scope.caller_key
        conn.execute(
            "INSERT INTO callers (tenant_id, project_id, space, user_id, name, metadata,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " name = COALESCE(excluded.name, callers.name),"
            " metadata = json_patch(callers.metadata, excluded.metadata),"
            " updated_at = excluded.updated_at",
            (t, p, sp, u, s.caller_name, json.dumps(s.caller_metadata), s.started_at,
             s.started_at),
        )
        conn.execute(sql.START_SESSION.sqlite, (t, p, s.session_id, sp, u, s.scope.agent_id,
                                                s.started_at, json.dumps(s.metadata)))
    turns = _turns_not_stored(conn, batch)
    if turns:
        # search_key scoped the caller full-text table that migration 0006 dropped; the
        # column stays (NOT NULL, and dropping it would rewrite every items row).
        # No conflict target: the key is (id, tenant_id) from migration 0012, id before,
        # and the tests that upgrade an older file write it with this same code.
        conn.executemany(
            "INSERT INTO items (id, tenant_id, project_id, space, user_id, agent_id, session_id,"
            " kind, text, search_key, turn_id, user_text, assistant_text, interrupted,"
            " tool_calls, metadata, created_at, embedding, embedding_model)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'turn', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(w.turn.event_id, *w.scope.caller_key, w.scope.agent_id, w.turn.session_id,
              w.turn.text, search_key(*w.scope.caller_key), w.turn.turn_id, w.turn.user_text,
              w.turn.assistant_text, int(w.turn.interrupted), json.dumps(w.turn.tool_calls),
              json.dumps(w.turn.metadata), w.turn.created_at, w.embedding,
              batch.embedding_model if w.embedding is not None else None)
             for w in turns],
        )
    conn.executemany(sql.CALLER_SEEN.sqlite, _callers_of_facts(batch))
    for f in batch.facts:
        if f.supersedes:
            conn.executemany(sql.SUPERSEDE_FACT.sqlite,
                             [(f.valid_from, old, *f.scope.caller_key) for old in f.supersedes])
        conn.execute(
            "INSERT INTO items (id, tenant_id, project_id, space, user_id, agent_id, session_id,"
            " kind, text, search_key, fact_kind, slot_key, confidence, source_turn_ids,"
            " valid_from, valid_to, created_at, embedding, embedding_model)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'fact', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (f.id, *f.scope.caller_key, f.scope.agent_id, f.source_session_id, f.text,
             search_key(*f.scope.caller_key), f.kind, f.slot_key, f.confidence,
             json.dumps(list(f.source_turn_ids)), f.valid_from, f.valid_to, f.valid_from,
             f.embedding,
             batch.embedding_model if f.embedding is not None else None),
        )
    for pw in batch.profile:
        t, p, sp, u = pw.scope.caller_key
        conn.execute(
            "INSERT INTO callers (tenant_id, project_id, space, user_id, profile, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, json_object(?, json(?)), ?, ?)"
            " ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " profile = json_set(callers.profile, '$.' || json_quote(?), json(?)),"
            " updated_at = excluded.updated_at",
            (t, p, sp, u, pw.field, json.dumps(pw.value), pw.at, pw.at, pw.field,
             json.dumps(pw.value)),
        )
    for e in batch.sessions_ended:
        t, p, _sp, _u = e.scope.caller_key
        conn.execute(sql.END_SESSION.sqlite, (e.ended_at, e.reason, t, p, e.session_id))
    if batch.turns:
        last: dict[tuple[str, str, str], float] = {}
        for w in batch.turns:
            key = (w.scope.tenant_id, w.scope.project_id, w.turn.session_id)
            last[key] = max(last.get(key, 0.0), w.turn.created_at)
        conn.executemany(
            "UPDATE sessions SET last_activity_at = MAX(COALESCE(last_activity_at, 0), ?) "
            "WHERE tenant_id = ? AND project_id = ? AND id = ?",
            [(at, t, p, sid) for (t, p, sid), at in last.items()],
        )
    for d in batch.deletes:
        conn.execute(sql.DELETE_ITEM.sqlite, (d.at, d.item_id, *d.scope.caller_key))
    for x in batch.extractions:
        t, p, _sp, _u = x.scope.caller_key
        if x.error is None:
            conn.execute(sql.EXTRACTION_DONE.sqlite, (x.at, t, p, x.session_id))
        else:
            conn.execute(sql.EXTRACTION_FAILED.sqlite, (x.error[:500], t, p, x.session_id))
    for r in batch.reports:
        t, p, _sp, _u = r.scope.caller_key
        conn.execute(sql.SET_REPORT.sqlite, (json.dumps(r.report), t, p, r.session_id))
    if batch.applied_seq is not None:
        conn.execute(_MOVE_POSITION, (batch.applied_seq,))


def quarantine_record(conn: sqlite3.Connection, entry: QuarantinedRecord) -> None:
    """Set a refused journal record aside and move the applied position past it."""
    key = entry.scope.caller_key if entry.scope else (None, None, None, None)
    conn.execute(
        "INSERT INTO journal_quarantine (seq, tenant_id, project_id, space, user_id,"
        " record, error, quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (seq) DO NOTHING",
        (entry.seq, *key, entry.record, entry.error, entry.at))
    conn.execute(_MOVE_POSITION, (entry.seq,))


def write_documents(conn: sqlite3.Connection, tenant_id: str, project_id: str,
                    index_name: str, documents: Sequence[DocumentWrite],
                    index_metadata: dict[str, Any] | None, now: float) -> tuple[int, int]:
    """Create-or-append an org index; ``(version, chunks written)``."""
    key = search_key(tenant_id, project_id)
    row = conn.execute(
        "SELECT version, metadata FROM org_indexes "
        "WHERE tenant_id = ? AND project_id = ? AND name = ?",
        (tenant_id, project_id, index_name),
    ).fetchone()
    if row is None:
        version = 1
        conn.execute(
            "INSERT INTO org_indexes (tenant_id, project_id, name, version, metadata,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tenant_id, project_id, index_name, version, json.dumps(index_metadata or {}),
             now, now),
        )
    else:
        # One writer thread: no other runtime can bump the version between the two.
        version = int(row[0]) + 1
        merged = {**json.loads(row[1]), **(index_metadata or {})}
        conn.execute(
            "UPDATE org_indexes SET version = ?, metadata = ?, updated_at = ? "
            "WHERE tenant_id = ? AND project_id = ? AND name = ?",
            (version, json.dumps(merged), now, tenant_id, project_id, index_name),
        )
    written = 0
    for doc in documents:
        conn.execute(sql.DELETE_DOCUMENT_CHUNKS.sqlite,
                     (tenant_id, project_id, index_name, doc.doc_id))
        conn.execute(sql.UPSERT_DOCUMENT.sqlite,
                     (tenant_id, project_id, index_name, doc.doc_id, doc.text,
                      json.dumps(doc.metadata), version, now))
        conn.executemany(
            "INSERT INTO chunks (id, tenant_id, project_id, index_name, doc_id, ordinal,"
            " text, search_key, metadata, created_at, embedding, embedding_model)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(c.id, tenant_id, project_id, index_name, doc.doc_id, c.ordinal, c.text,
              key, json.dumps(c.metadata), now, c.embedding,
              doc.embedding_model if c.embedding else None)
             for c in doc.chunks],
        )
        written += len(doc.chunks)
    return version, written
