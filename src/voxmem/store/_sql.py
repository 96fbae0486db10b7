"""SQL written once for both dialects.

A statement here is written in SQLite's form (``?`` placeholders, ``rowid`` as the
insertion order) and translated once, at import, into Postgres's form (``%s``
placeholders, the ``seq`` column that plays ``rowid``'s part). Each dialect module reads
its own spelling: ``sql.GET_CALLER.sqlite`` or ``sql.GET_CALLER.postgres``.

What truly differs stays in the dialect modules: full-text search (FTS5 against
``tsvector``), vector search, JSON merging in upserts, ``MAX`` against ``GREATEST``,
``IN (?, ?)`` against ``= ANY(%s)``, and Postgres's row-security plumbing.
``tests/test_store_sql.py`` fails when a statement is written twice in ``store/``.
"""

from __future__ import annotations

import dataclasses
import re

__all__ = ["CALLER", "LIVE", "Statement", "calls_where", "for_postgres", "like_pattern",
           "missing_embeddings", "set_embeddings", "shared", "traces_where"]

#: One caller's rows: (tenant, project, space, user), :attr:`Scope.caller_key` order.
CALLER = "tenant_id = ? AND project_id = ? AND space = ? AND user_id = ?"
#: Items recall may use at time ``?``: not deleted, not superseded.
LIVE = "deleted_at IS NULL AND (valid_to IS NULL OR valid_to > ?)"

_ROWID = re.compile(r"\browid\b")


def for_postgres(sql: str) -> str:
    """``sql`` with psycopg's placeholders and Postgres's insertion-order column.

    A literal ``%`` is doubled, since psycopg reads ``%`` as the start of a placeholder;
    shared statements hold no ``?`` except placeholders.
    """
    return _ROWID.sub("seq", sql.replace("%", "%%").replace("?", "%s"))


@dataclasses.dataclass(frozen=True, slots=True)
class Statement:
    """One statement in each dialect's spelling."""

    sqlite: str
    postgres: str

    def format(self, **parts: str) -> Statement:
        """Fill ``{name}`` slots with fragments already written for each dialect
        (``parts`` are given in SQLite's spelling and translated the same way)."""
        return Statement(self.sqlite.format(**parts),
                         self.postgres.format(**{k: for_postgres(v) for k, v in parts.items()}))


def shared(sql: str) -> Statement:
    """A statement both dialects run, written once in SQLite's spelling."""
    return Statement(sql, for_postgres(sql))


# -- schema --------------------------------------------------------------------------------
SCHEMA_VERSION = shared("SELECT COALESCE(MAX(version), 0) FROM schema_version")
STORE_ID = shared("SELECT store_id FROM store_identity WHERE id = 1")
RECORD_MIGRATION = shared(
    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)")

# -- caller reads ----------------------------------------------------------------------------
GET_CALLER = shared(f"SELECT user_id, name, metadata, profile FROM callers WHERE {CALLER}")
ITEM_COLUMNS = ("id, kind, text, created_at, session_id, confidence, slot_key, fact_kind,"
                " embedding, user_text, assistant_text, turn_id, second_embedding")
LOAD_ITEMS = shared(f"SELECT {ITEM_COLUMNS} FROM items WHERE {CALLER} AND {LIVE}"
                    " ORDER BY created_at, rowid")
FACT_COLUMNS = ("id, text, fact_kind, slot_key, confidence, session_id, source_turn_ids,"
                " valid_from, valid_to, created_at, deleted_at")
_FACTS = f"SELECT {FACT_COLUMNS} FROM items WHERE {CALLER} AND kind = 'fact'"
_CURRENT = " AND valid_to IS NULL AND deleted_at IS NULL"
_OF_CALL = " AND session_id = ?"
_NEWEST = " ORDER BY created_at DESC, rowid DESC"
#: Facts by (include_history, of one call).
LIST_FACTS = {
    (False, False): shared(_FACTS + _CURRENT + _NEWEST),
    (False, True): shared(_FACTS + _CURRENT + _OF_CALL + _NEWEST),
    (True, False): shared(_FACTS + _NEWEST),
    (True, True): shared(_FACTS + _OF_CALL + _NEWEST),
}
COUNT_ITEMS = shared(f"SELECT COUNT(*) FROM items WHERE {CALLER} AND deleted_at IS NULL")
SESSION_COLUMNS = "id, user_id, agent_id, started_at, ended_at, end_reason, metadata"
GET_SESSION = shared(f"SELECT {SESSION_COLUMNS} FROM sessions"
                     " WHERE tenant_id = ? AND project_id = ? AND id = ?")
RECENT_SESSIONS = shared(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE {CALLER}"
                         " ORDER BY started_at DESC LIMIT ?")
#: The limit is the dialect's "no limit" when every turn is wanted (-1 / NULL).
SESSION_TURNS = shared(
    "SELECT id, session_id, turn_id, user_text, assistant_text, created_at, agent_id,"
    f" interrupted, tool_calls, metadata FROM items WHERE {CALLER} AND session_id = ?"
    " AND kind = 'turn' AND deleted_at IS NULL ORDER BY created_at DESC, rowid DESC LIMIT ?")
#: Columns of an org chunk hit after (id, score), read by ``_rows.chunk_hit``.
CHUNK_HIT_COLUMNS = "index_name, doc_id, ordinal, text, metadata, created_at"
#: The vector columns a model's vectors are kept in, by (table, column); each has its
#: model's name beside it in ``<column>_model``. ``items.second_embedding`` holds the
#: full model's vector of embedder "static+onnx" (migration 0009).
VECTOR_COLUMNS = (("items", "embedding"), ("chunks", "embedding"),
                  ("items", "second_embedding"))
SET_EMBEDDINGS = {
    (table, column): shared(
        f"UPDATE {table} SET {column} = ?, {column}_model = ? WHERE id = ?")
    for table, column in VECTOR_COLUMNS
}
_MISSING = "SELECT id, text FROM {table} WHERE {column}_model {distinct} ? ORDER BY rowid LIMIT ?"
# Postgres has no ``IS NOT <value>``; SQLite's ``IS NOT`` is its ``IS DISTINCT FROM``.
MISSING_EMBEDDINGS = {
    (table, column): Statement(
        _MISSING.format(table=table, column=column, distinct="IS NOT"),
        for_postgres(_MISSING.format(table=table, column=column, distinct="IS DISTINCT FROM")))
    for table, column in VECTOR_COLUMNS
}


def set_embeddings(table: str, column: str = "embedding") -> Statement:
    """The embedding update of ``table``'s vector ``column``; any pair but those of
    :data:`VECTOR_COLUMNS` is refused, which also keeps a caller's table and column
    names out of the SQL around them."""
    if (table, column) not in SET_EMBEDDINGS:
        raise ValueError(f"unknown table {table!r}" if all(t != table for t, _ in VECTOR_COLUMNS)
                         else f"unknown vector column {table}.{column}")
    return SET_EMBEDDINGS[table, column]


def missing_embeddings(table: str, column: str = "embedding") -> Statement:
    """(id, text) of ``table``'s rows whose ``column`` has no vector from the model
    given as the first parameter (the limit is the second); checked as
    :func:`set_embeddings` checks."""
    set_embeddings(table, column)
    return MISSING_EMBEDDINGS[table, column]


QUARANTINE_COLUMNS = ("seq, record, error, quarantined_at, tenant_id, project_id, space,"
                      " user_id")

# -- writes (one WriteBatch) ------------------------------------------------------------------
START_SESSION = shared(
    "INSERT INTO sessions (tenant_id, project_id, id, space, user_id, agent_id, started_at,"
    " metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, project_id, id)"
    " DO NOTHING")
# A memory stored outside a call (remember, an import without calls) makes the caller's
# row, as a call's start does: the caller list reads rows, and such a caller was missing
# from it. An existing row is left as it is (its name, metadata and order in the list).
CALLER_SEEN = shared(
    "INSERT INTO callers (tenant_id, project_id, space, user_id, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, project_id, space, user_id)"
    " DO NOTHING")
# Scoped to the caller: a fact can only ever supersede its own caller's facts.
SUPERSEDE_FACT = shared(
    f"UPDATE items SET valid_to = ? WHERE id = ? AND {CALLER} AND valid_to IS NULL")
END_SESSION = shared(
    "UPDATE sessions SET ended_at = ?, end_reason = ?"
    " WHERE tenant_id = ? AND project_id = ? AND id = ? AND ended_at IS NULL")
DELETE_ITEM = shared(
    f"UPDATE items SET deleted_at = ? WHERE id = ? AND {CALLER} AND deleted_at IS NULL")
EXTRACTION_DONE = shared(
    "UPDATE sessions SET extracted_at = ?, extraction_error = NULL"
    " WHERE tenant_id = ? AND project_id = ? AND id = ?")
EXTRACTION_FAILED = shared(
    "UPDATE sessions SET extraction_attempts = extraction_attempts + 1,"
    " extraction_error = ? WHERE tenant_id = ? AND project_id = ? AND id = ?")
SET_REPORT = shared(
    "UPDATE sessions SET report = ? WHERE tenant_id = ? AND project_id = ? AND id = ?")

# -- org indexes -------------------------------------------------------------------------------
DELETE_DOCUMENT_CHUNKS = shared(
    "DELETE FROM chunks WHERE tenant_id = ? AND project_id = ? AND index_name = ?"
    " AND doc_id = ?")
UPSERT_DOCUMENT = shared(
    "INSERT INTO org_documents (tenant_id, project_id, index_name, doc_id, text, metadata,"
    " version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (tenant_id, project_id, index_name, doc_id) DO UPDATE SET"
    " text = excluded.text, metadata = excluded.metadata, version = excluded.version,"
    " updated_at = excluded.updated_at")
LIST_INDEXES = shared(
    "SELECT i.name, i.version, i.metadata, i.created_at, i.updated_at,"
    " (SELECT COUNT(*) FROM org_documents d WHERE d.tenant_id = i.tenant_id"
    " AND d.project_id = i.project_id AND d.index_name = i.name),"
    " (SELECT COUNT(*) FROM chunks c WHERE c.tenant_id = i.tenant_id"
    " AND c.project_id = i.project_id AND c.index_name = i.name)"
    " FROM org_indexes i WHERE i.tenant_id = ? AND i.project_id = ? ORDER BY i.name")
INDEX_VERSIONS = shared(
    "SELECT name, version FROM org_indexes WHERE tenant_id = ? AND project_id = ?")
LOAD_CHUNKS = shared(
    "SELECT id, index_name, doc_id, ordinal, text, metadata, created_at, embedding"
    " FROM chunks WHERE tenant_id = ? AND project_id = ? ORDER BY rowid")
#: One page of a project's chunks after insertion order ``?`` (keyset paging: each page
#: starts where the last ended, so a million-chunk load never holds them all at once).
#: The order column comes last, after :func:`_rows.chunk`'s columns. SQLite walks the
#: table in rowid order from the last page's end (NOT INDEXED): through its
#: (tenant, project, index, document) index it sorted the whole project for every page,
#: 21 s against 4 s for 100,000 chunks. Postgres has (tenant, project, seq).
_CHUNK_PAGE = ("SELECT id, index_name, doc_id, ordinal, text, metadata, created_at,"
               " embedding, rowid FROM chunks{hint}"
               " WHERE tenant_id = ? AND project_id = ? AND rowid > ? ORDER BY rowid LIMIT ?")
CHUNK_PAGE = Statement(_CHUNK_PAGE.format(hint=" NOT INDEXED"),
                       for_postgres(_CHUNK_PAGE.format(hint="")))
BUMP_INDEX = shared(
    "UPDATE org_indexes SET version = ?, updated_at = ?"
    " WHERE tenant_id = ? AND project_id = ? AND name = ?")
DELETE_INDEX = shared(
    "DELETE FROM org_indexes WHERE tenant_id = ? AND project_id = ? AND name = ?"
    " RETURNING name")
DELETE_INDEX_CHUNKS = shared(
    "DELETE FROM chunks WHERE tenant_id = ? AND project_id = ? AND index_name = ?")
DELETE_INDEX_DOCUMENTS = shared(
    "DELETE FROM org_documents WHERE tenant_id = ? AND project_id = ? AND index_name = ?"
    " RETURNING doc_id")
LIST_DOCUMENTS = shared(
    "SELECT d.doc_id, d.metadata, d.version, d.updated_at, LENGTH(d.text),"
    " (SELECT COUNT(*) FROM chunks c WHERE c.tenant_id = d.tenant_id"
    " AND c.project_id = d.project_id AND c.index_name = d.index_name"
    " AND c.doc_id = d.doc_id)"
    " FROM org_documents d WHERE d.tenant_id = ? AND d.project_id = ?"
    " AND d.index_name = ? ORDER BY d.doc_id")

# -- lifecycle -----------------------------------------------------------------------------------
GET_POLICIES = shared(
    "SELECT agent_id, memory_enabled, retention_days, updated_at FROM memory_policies"
    " WHERE tenant_id = ? AND project_id = ?")
SET_POLICY = shared(
    "INSERT INTO memory_policies (tenant_id, project_id, agent_id, memory_enabled,"
    " retention_days, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (tenant_id, project_id, agent_id) DO UPDATE SET"
    " memory_enabled = excluded.memory_enabled, retention_days = excluded.retention_days,"
    " updated_at = excluded.updated_at")
#: Soft-deleted items, but a turn only once it is older than the given time: a turn id
#: retried after a restart is matched against the call's stored turns of the retry
#: window, deleted ones included, and a turn gone from disk would be saved again.
#: ``created_at`` below which every soft-deleted turn goes too (no retry window kept).
ALL_DELETED = 1e18
# A recall's trace keeps the text it injected (the dashboard's call page, for a week):
# one that cited a deleted memory goes with it, or its words would outlive the deletion.
_PURGE_DELETED_TRACES = (
    "DELETE FROM recall_traces WHERE id IN (SELECT t.id FROM items i JOIN recall_traces t"
    " ON t.tenant_id = i.tenant_id AND t.project_id = i.project_id AND t.space = i.space"
    " AND t.user_id = i.user_id WHERE i.tenant_id = ? AND i.project_id = ?"
    " AND i.deleted_at IS NOT NULL AND t.sources{text} LIKE '%\"' || i.id || '\"%')")
PURGE_DELETED_TRACES = Statement(_PURGE_DELETED_TRACES.format(text=""),
                                 for_postgres(_PURGE_DELETED_TRACES.format(text="::text")))
# Memories past the retention go too (docs/memories.md: hard-deleted by the cleanup), and
# so do the traces that cited them. ``{agents}``: the purge's agent condition on ``i``.
_PURGE_EXPIRED_TRACES = (
    "DELETE FROM recall_traces WHERE id IN (SELECT t.id FROM items i JOIN recall_traces t"
    " ON t.tenant_id = i.tenant_id AND t.project_id = i.project_id AND t.space = i.space"
    " AND t.user_id = i.user_id WHERE i.tenant_id = ? AND i.project_id = ?"
    " AND i.created_at < ?{agents} AND t.sources{text} LIKE '%\"' || i.id || '\"%')")
PURGE_EXPIRED_TRACES = Statement(
    _PURGE_EXPIRED_TRACES.replace("{text}", ""),
    for_postgres(_PURGE_EXPIRED_TRACES.replace("{text}", "::text")))
# A trace that cited an org chunk no longer stored (its document deleted or replaced, its
# index deleted) quotes the document's words: it goes at the cleanup as the chunk went.
# Every project's, not only the callers' table's: a caller who only asked has no row.
_ORG_TRACES_GONE = (
    "SELECT DISTINCT t.id FROM recall_traces t, {elements} s"
    " WHERE {tenant}{lane} = 'org' AND {id} IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.id = {id}"
    " AND c.tenant_id = t.tenant_id AND c.project_id = t.project_id)")
#: Every org index of the store (of one tenant, under row security), as the cleanup
#: compares them: a chunk deleted bumps its index's version or deletes the index.
ORG_INDEX_MARKS = shared("SELECT tenant_id, project_id, name, version, created_at"
                         " FROM org_indexes ORDER BY tenant_id, project_id, name")
#: The traces citing a deleted org chunk, to delete by id (SQLite: found on a reader).
ORG_TRACES_GONE = _ORG_TRACES_GONE.format(
    elements="json_each(t.sources)", tenant="", lane="json_extract(s.value, '$.lane')",
    id="json_extract(s.value, '$.id')")
#: The same of one tenant, deleted in one statement (Postgres' writers do not queue).
PURGE_ORG_TRACES_GONE = for_postgres(
    "DELETE FROM recall_traces WHERE id IN (" + _ORG_TRACES_GONE.format(
        elements="jsonb_array_elements(t.sources)", tenant="t.tenant_id = ? AND ",
        lane="s->>'lane'", id="s->>'id'") + ")")
PURGE_DELETED = shared(
    "DELETE FROM items WHERE tenant_id = ? AND project_id = ? AND deleted_at IS NOT NULL"
    " AND (kind <> 'turn' OR created_at < ?)")
PURGE_AGENT = shared(
    "DELETE FROM items WHERE tenant_id = ? AND project_id = ? AND agent_id = ?"
    " AND created_at < ?")
#: Erasure: every table holding the caller's rows, in the order they are emptied.
FORGET = {
    table: shared(f"DELETE FROM {table} WHERE {CALLER}")
    for table in ("items", "sessions", "callers", "recall_traces", "journal_quarantine")
}
#: Erasure notices for the runtimes sharing a store: one per erased caller, kept a day
#: (a runtime polls every few seconds; one down longer starts with an empty cache).
ERASURE_NOTICE_KEPT_S = 86_400.0
ADD_ERASURE_NOTICE = shared(
    "INSERT INTO erasure_notices (caller_hash, erased_at) VALUES (?, ?)")
PURGE_ERASURE_NOTICES = shared("DELETE FROM erasure_notices WHERE erased_at < ?")
ERASURE_NOTICES = shared(
    "SELECT caller_hash, erased_at FROM erasure_notices WHERE erased_at >= ?"
    " ORDER BY erased_at")
FORGET_MERGES = shared(
    "DELETE FROM caller_merges WHERE tenant_id = ? AND project_id = ? AND space = ?"
    " AND (from_user = ? OR to_user = ?)")
MOVE_SESSIONS = shared(f"UPDATE sessions SET user_id = ? WHERE {CALLER}")
MERGE_SOURCE = shared(
    f"SELECT name, metadata, profile, created_at FROM callers WHERE {CALLER}")
RECORD_MERGE = shared(
    "INSERT INTO caller_merges (tenant_id, project_id, space, from_user, to_user, at,"
    " items_moved) VALUES (?, ?, ?, ?, ?, ?, ?)")
EXPORT_SESSIONS = shared(
    "SELECT id, agent_id, started_at, ended_at, end_reason, metadata, report FROM sessions"
    f" WHERE {CALLER} ORDER BY started_at")
EXPORT_ITEMS = shared(
    "SELECT id, kind, session_id, text, user_text, assistant_text, fact_kind, slot_key,"
    " confidence, created_at, valid_to, deleted_at, turn_id, source_turn_ids FROM items"
    f" WHERE {CALLER}"
    " ORDER BY created_at, rowid")

# -- operator views --------------------------------------------------------------------------------
#: Last call, number of calls and number of current facts of caller row ``c``.
CALLER_STATS = (
    "(SELECT MAX(s.started_at) FROM sessions s WHERE s.tenant_id = c.tenant_id"
    " AND s.project_id = c.project_id AND s.space = c.space AND s.user_id = c.user_id),"
    " (SELECT COUNT(*) FROM sessions s WHERE s.tenant_id = c.tenant_id"
    " AND s.project_id = c.project_id AND s.space = c.space AND s.user_id = c.user_id),"
    " (SELECT COUNT(*) FROM items i WHERE i.tenant_id = c.tenant_id"
    " AND i.project_id = c.project_id AND i.space = c.space AND i.user_id = c.user_id"
    " AND i.kind = 'fact' AND i.valid_to IS NULL AND i.deleted_at IS NULL)"
)
#: ``{where}``: the dialect's text and digit tests.
SEARCH_CALLERS = shared(
    "SELECT c.user_id, c.name, c.profile, c.metadata, c.space, c.created_at,"
    f" c.updated_at, {CALLER_STATS} FROM callers c WHERE {{where}}"
    " ORDER BY c.updated_at DESC, c.user_id LIMIT ? OFFSET ?")
#: A caller's current facts matching ``{tests}`` (numbers said during calls).
FACT_MATCHES = (
    "EXISTS (SELECT 1 FROM items f WHERE f.tenant_id = c.tenant_id"
    " AND f.project_id = c.project_id AND f.space = c.space"
    " AND f.user_id = c.user_id AND f.kind = 'fact' AND f.valid_to IS NULL"
    " AND f.deleted_at IS NULL AND ({tests}))")
#: The columns ``_rows.call_summary`` reads, for session row ``s``.
CALL_COLUMNS = (
    "s.id, s.user_id, s.space, s.agent_id, s.started_at, s.ended_at, s.end_reason,"
    " (SELECT COUNT(*) FROM items i WHERE i.tenant_id = s.tenant_id"
    " AND i.project_id = s.project_id AND i.session_id = s.id AND i.kind = 'turn'"
    " AND i.deleted_at IS NULL),"
    " (SELECT COUNT(*) FROM items i WHERE i.tenant_id = s.tenant_id"
    " AND i.project_id = s.project_id AND i.session_id = s.id AND i.kind = 'fact')"
)
#: ``{where}``: project, and optionally caller and space.
LIST_CALLS = shared(
    f"SELECT {CALL_COLUMNS} FROM sessions s WHERE {{where}} ORDER BY s.started_at DESC"
    " LIMIT ?")
CALL_RECORD = shared(
    f"SELECT {CALL_COLUMNS}, s.metadata, s.report, s.extracted_at, s.extraction_attempts,"
    " s.extraction_error FROM sessions s WHERE s.tenant_id = ? AND s.project_id = ?"
    " AND s.id = ?")
INSERT_TRACE = shared(
    "INSERT INTO recall_traces (id, tenant_id, project_id, space, user_id, agent_id,"
    " session_id, at, query, total_ms, degraded, trace, injected, sources)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
#: ``{where}``: project, and optionally call and start time.
RECALL_TRACES = shared(
    "SELECT id, user_id, agent_id, session_id, at, query, total_ms, degraded, trace,"
    " injected, sources FROM recall_traces WHERE {where} ORDER BY at DESC, rowid DESC"
    " LIMIT ?")


def calls_where(*, user: bool, space: bool) -> str:
    """The ``{where}`` of :data:`LIST_CALLS`: project, then caller and space if given."""
    where = "s.tenant_id = ? AND s.project_id = ?"
    return where + (" AND s.user_id = ?" if user else "") + (" AND s.space = ?" if space else "")


def traces_where(*, session: bool, since: bool) -> str:
    """The ``{where}`` of :data:`RECALL_TRACES`: project, then call and start if given."""
    where = "tenant_id = ? AND project_id = ?"
    return where + (" AND session_id = ?" if session else "") + (" AND at >= ?" if since else "")


def like_pattern(text: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern matching ``text`` anywhere, wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
