"""The Postgres statements that apply one :class:`WriteBatch`, under row security.

Statement for statement the SQLite store's ``_apply_batch``: every insert is idempotent
(``ON CONFLICT DO NOTHING`` or a guarded update), so replaying a batch after a crash
changes nothing, and the journal position moves in the same transaction.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection, AsyncCursor, pq
from psycopg.types.json import Jsonb

from ..models import Scope
from . import _sql as sql
from ._base import DocumentWrite, QuarantinedRecord, TurnWrite, WriteBatch
from ._pg_adapt import Float32Vector

__all__ = ["apply_batch", "batch_tenants", "close_if_unsettled", "quarantine_record",
           "set_tenant", "write_documents"]

Cursor = AsyncCursor[tuple[Any, ...]]

log = logging.getLogger("voxmem.store")

TENANT_SETTING = "voxmem.tenant_id"
_MOVE_POSITION = sql.for_postgres(
    "INSERT INTO journal_positions (journal_id, applied_seq, updated_at)"
    " VALUES (?, ?, ?) ON CONFLICT (journal_id) DO UPDATE SET"
    " applied_seq = GREATEST(journal_positions.applied_seq, excluded.applied_seq),"
    " updated_at = excluded.updated_at")


async def set_tenant(cur: Cursor, tenant_id: str) -> None:
    """Make ``tenant_id`` the tenant whose rows the rest of the transaction may touch."""
    # Transaction-local (is_local = true): a pooled connection never carries a tenant
    # into the next transaction, and this works behind PgBouncer in transaction mode.
    await cur.execute("SELECT set_config(%s, %s, true)", (TENANT_SETTING, tenant_id))


async def close_if_unsettled(conn: AsyncConnection[tuple[Any, ...]]) -> None:
    """Close a connection that an interrupted transaction left mid-exchange, so the pool
    replaces it instead of handing it on.

    A task cancelled while psycopg waits for a pipeline's sync (a turn-id lookup or a
    recall lane at its deadline) can leave the connection in pipeline mode, inside a
    transaction, with that exchange's replies still queued. The pool's own reset rolls
    the transaction back but not the pipeline, and the next transaction on it reads
    replies meant for other statements: a merge's ``SELECT`` read an empty one and
    refused to merge a caller with 41 stored turns; it could as well be another
    tenant's rows. An ordinary error leaves the connection idle and it is kept.
    """
    if conn.closed:
        return
    if (conn.pgconn.pipeline_status == pq.PipelineStatus.OFF
            and conn.info.transaction_status == pq.TransactionStatus.IDLE):
        return
    # Info, not a warning: a read cancelled at its deadline or at shutdown is expected,
    # and nothing is left for an operator to do once the pool has replaced it.
    log.info("closing a Postgres connection left %s%s by an interrupted transaction",
                conn.info.transaction_status.name,
                "" if conn.pgconn.pipeline_status == pq.PipelineStatus.OFF
                else " in pipeline mode")
    with contextlib.suppress(Exception):
        await conn.close()


def batch_tenants(batch: WriteBatch) -> set[str]:
    """Every tenant a batch writes to."""
    scopes: list[Scope] = [s.scope for s in batch.sessions_started]
    scopes += [w.scope for w in batch.turns] + [f.scope for f in batch.facts]
    scopes += [p.scope for p in batch.profile] + [e.scope for e in batch.sessions_ended]
    scopes += [d.scope for d in batch.deletes] + [x.scope for x in batch.extractions]
    scopes += [r.scope for r in batch.reports]
    return {s.tenant_id for s in scopes}


class _Tenant:
    """Switches the tenant setting inside one transaction only when it changes."""

    def __init__(self, cur: Cursor) -> None:
        self._cur = cur
        self._current: str | None = None

    async def use(self, tenant_id: str) -> None:
        if tenant_id != self._current:
            await set_tenant(self._cur, tenant_id)
            self._current = tenant_id


async def apply_batch(cur: Cursor, batch: WriteBatch, journal_id: str) -> None:
    """Write ``batch`` in its documented order inside the caller's transaction.

    A batch can span tenants (the applier takes whatever is queued), so the tenant
    setting follows the rows; row security refuses any row written under another.
    """
    tenant = _Tenant(cur)
    for s in batch.sessions_started:
        t, p, sp, u = s.scope.caller_key
        await tenant.use(t)
        await cur.execute(
            "INSERT INTO callers (tenant_id, project_id, space, user_id, name, metadata,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " name = COALESCE(excluded.name, callers.name),"
            " metadata = voxmem_merge_patch(callers.metadata, excluded.metadata),"
            " updated_at = excluded.updated_at",
            (t, p, sp, u, s.caller_name, Jsonb(s.caller_metadata), s.started_at, s.started_at))
        await cur.execute(sql.START_SESSION.postgres, (t, p, s.session_id, sp, u,
                                                       s.scope.agent_id, s.started_at,
                                                       Jsonb(s.metadata)))
    await _insert_turns(cur, tenant, batch)
    seen: set[tuple[str, str, str, str]] = set()
    for f in batch.facts:
        await tenant.use(f.scope.tenant_id)
        if f.scope.caller_key not in seen:  # see sql.CALLER_SEEN
            seen.add(f.scope.caller_key)
            await cur.execute(sql.CALLER_SEEN.postgres,
                              (*f.scope.caller_key, f.valid_from, f.valid_from))
        if f.supersedes:
            await cur.executemany(
                sql.SUPERSEDE_FACT.postgres,
                [(f.valid_from, old, *f.scope.caller_key) for old in f.supersedes])
        await cur.execute(
            "INSERT INTO items (id, tenant_id, project_id, space, user_id, agent_id,"
            " session_id, kind, text, fact_kind, slot_key, confidence, source_turn_ids,"
            " valid_from, valid_to, created_at, embedding, embedding_model)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, 'fact', %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s) ON CONFLICT DO NOTHING",
            (f.id, *f.scope.caller_key, f.scope.agent_id, f.source_session_id, f.text, f.kind,
             f.slot_key, f.confidence, Jsonb(list(f.source_turn_ids)), f.valid_from,
             f.valid_to, f.valid_from, Float32Vector.maybe(f.embedding),
             batch.embedding_model if f.embedding is not None else None))
    for pw in batch.profile:
        t, p, sp, u = pw.scope.caller_key
        await tenant.use(t)
        await cur.execute(
            "INSERT INTO callers (tenant_id, project_id, space, user_id, profile, created_at,"
            " updated_at) VALUES (%s, %s, %s, %s, jsonb_build_object(%s::text, %s::jsonb),"
            " %s, %s) ON CONFLICT (tenant_id, project_id, space, user_id) DO UPDATE SET"
            " profile = callers.profile || excluded.profile, updated_at = excluded.updated_at",
            (t, p, sp, u, pw.field, Jsonb(pw.value), pw.at, pw.at))
    for e in batch.sessions_ended:
        t, p, _sp, _u = e.scope.caller_key
        await tenant.use(t)
        await cur.execute(sql.END_SESSION.postgres, (e.ended_at, e.reason, t, p, e.session_id))
    await _touch_sessions(cur, tenant, batch)
    for d in batch.deletes:
        await tenant.use(d.scope.tenant_id)
        await cur.execute(sql.DELETE_ITEM.postgres, (d.at, d.item_id, *d.scope.caller_key))
    for x in batch.extractions:
        t, p, _sp, _u = x.scope.caller_key
        await tenant.use(t)
        if x.error is None:
            await cur.execute(sql.EXTRACTION_DONE.postgres, (x.at, t, p, x.session_id))
        else:
            await cur.execute(sql.EXTRACTION_FAILED.postgres,
                              (x.error[:500], t, p, x.session_id))
    for r in batch.reports:
        t, p, _sp, _u = r.scope.caller_key
        await tenant.use(t)
        await cur.execute(sql.SET_REPORT.postgres, (Jsonb(r.report), t, p, r.session_id))
    if batch.applied_seq is not None:
        await cur.execute(_MOVE_POSITION, (journal_id, batch.applied_seq, time.time()))


async def _insert_turns(cur: Cursor, tenant: _Tenant, batch: WriteBatch) -> None:
    start = 0
    while start < len(batch.turns):
        # Consecutive turns of one tenant go in one executemany (one pipeline).
        t = batch.turns[start].scope.tenant_id
        end = start
        while end < len(batch.turns) and batch.turns[end].scope.tenant_id == t:
            end += 1
        await tenant.use(t)
        turns = await _turns_not_stored(cur, t, batch.turns[start:end])
        start = end
        if not turns:
            continue
        # No conflict target: the key is (id, tenant_id) from migration 0012, id before,
        # and the tests that upgrade an older database write it with this same code.
        await cur.executemany(
            "INSERT INTO items (id, tenant_id, project_id, space, user_id, agent_id,"
            " session_id, kind, text, turn_id, user_text, assistant_text, interrupted,"
            " tool_calls, metadata, created_at, embedding, embedding_model)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, 'turn', %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s) ON CONFLICT DO NOTHING",
            [(w.turn.event_id, *w.scope.caller_key, w.scope.agent_id, w.turn.session_id,
              w.turn.text, w.turn.turn_id, w.turn.user_text, w.turn.assistant_text,
              w.turn.interrupted, Jsonb(w.turn.tool_calls), Jsonb(w.turn.metadata),
              w.turn.created_at, Float32Vector.maybe(w.embedding),
              batch.embedding_model if w.embedding is not None else None)
             for w in turns])


async def _turns_not_stored(cur: Cursor, tenant_id: str,
                            turns: list[TurnWrite]) -> list[TurnWrite]:
    """``turns`` minus those whose turn id their call already has stored.

    The engine answers a retried turn id with the first event id; this catches the rest
    (a retry while the store could not be asked, two writers racing).
    """
    keys = list({(*w.scope.caller_key[1:], w.turn.turn_id, w.turn.session_id)
                 for w in turns})
    # Joined on the whole key so the lookup uses the (caller, turn_id) index.
    await cur.execute(
        "SELECT i.project_id, i.space, i.user_id, i.turn_id, i.session_id, i.id FROM items i"
        " JOIN unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
        " AS k(p, sp, u, tid, sid) ON i.project_id = k.p AND i.space = k.sp"
        " AND i.user_id = k.u AND i.turn_id = k.tid AND i.session_id = k.sid"
        " WHERE i.tenant_id = %s AND i.kind = 'turn'",
        ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
         [k[3] for k in keys], [k[4] for k in keys], tenant_id))
    stored = {tuple(r[:5]): r[5] for r in await cur.fetchall()}
    out: list[TurnWrite] = []
    for w in turns:
        _t, p, sp, u = w.scope.caller_key
        key = (p, sp, u, w.turn.turn_id, w.turn.session_id)
        if stored.setdefault(key, w.turn.event_id) == w.turn.event_id:
            out.append(w)
    return out


async def _touch_sessions(cur: Cursor, tenant: _Tenant, batch: WriteBatch) -> None:
    """Move each session's last activity to its newest turn (idle-call detection)."""
    last: dict[tuple[str, str, str], float] = {}
    for w in batch.turns:
        key = (w.scope.tenant_id, w.scope.project_id, w.turn.session_id)
        last[key] = max(last.get(key, 0.0), w.turn.created_at)
    for (t, p, sid), at in sorted(last.items()):
        await tenant.use(t)
        await cur.execute(
            "UPDATE sessions SET last_activity_at = GREATEST(COALESCE(last_activity_at, 0),"
            " %s) WHERE tenant_id = %s AND project_id = %s AND id = %s", (at, t, p, sid))


async def quarantine_record(cur: Cursor, entry: QuarantinedRecord, journal_id: str) -> None:
    """Set a refused journal record aside and move this journal's position past it."""
    key = entry.scope.caller_key if entry.scope else (None, None, None, None)
    await cur.execute(
        "INSERT INTO journal_quarantine (journal_id, seq, tenant_id, project_id, space,"
        " user_id, record, error, quarantined_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (journal_id, seq) DO NOTHING",
        (journal_id, entry.seq, *key, entry.record, entry.error, entry.at))
    await cur.execute(_MOVE_POSITION, (journal_id, entry.seq, time.time()))


async def write_documents(cur: Cursor, tenant_id: str, project_id: str, index_name: str,
                          documents: Sequence[DocumentWrite],
                          index_metadata: dict[str, Any] | None, now: float) -> tuple[int, int]:
    """Create-or-append an org index; ``(version, chunks written)``."""
    # The upsert takes the index row's lock, so concurrent calls from two runtimes get
    # distinct, consecutive versions.
    await cur.execute(
        "INSERT INTO org_indexes (tenant_id, project_id, name, version, metadata,"
        " created_at, updated_at) VALUES (%s, %s, %s, 1, %s, %s, %s)"
        " ON CONFLICT (tenant_id, project_id, name) DO UPDATE SET"
        " version = org_indexes.version + 1,"
        " metadata = org_indexes.metadata || excluded.metadata,"
        " updated_at = excluded.updated_at RETURNING version",
        (tenant_id, project_id, index_name, Jsonb(index_metadata or {}), now, now))
    row = await cur.fetchone()
    assert row is not None
    version = int(row[0])
    written = 0
    for doc in documents:
        await cur.execute(sql.DELETE_DOCUMENT_CHUNKS.postgres,
                          (tenant_id, project_id, index_name, doc.doc_id))
        await cur.execute(sql.UPSERT_DOCUMENT.postgres,
                          (tenant_id, project_id, index_name, doc.doc_id, doc.text,
                           Jsonb(doc.metadata), version, now))
        if doc.chunks:
            await cur.executemany(
                "INSERT INTO chunks (id, tenant_id, project_id, index_name, doc_id,"
                " ordinal, text, metadata, created_at, embedding, embedding_model)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(c.id, tenant_id, project_id, index_name, doc.doc_id, c.ordinal,
                  c.text, Jsonb(c.metadata), now, Float32Vector.maybe(c.embedding),
                  doc.embedding_model if c.embedding else None)
                 for c in doc.chunks])
        written += len(doc.chunks)
    return version, written
