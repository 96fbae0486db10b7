-- Callers, sessions, searchable caller memory (turns, facts, summaries), org indexes,
-- and the journal position the store has applied.

CREATE TABLE callers (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    space       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    name        TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    profile     TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (tenant_id, project_id, space, user_id)
);

CREATE TABLE sessions (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    id          TEXT NOT NULL,
    space       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    started_at  REAL NOT NULL,
    ended_at    REAL,
    end_reason  TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, project_id, id)
);
CREATE INDEX sessions_by_caller ON sessions (tenant_id, project_id, space, user_id, started_at);

-- One table for everything recall searches about a caller, so one FTS index and one
-- vector set cover it. Columns that only apply to one kind are NULL for the others.
CREATE TABLE items (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    space           TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    agent_id        TEXT NOT NULL DEFAULT '',
    session_id      TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('turn', 'fact', 'summary')),
    text            TEXT NOT NULL,
    search_key      TEXT NOT NULL,
    turn_id         TEXT,
    user_text       TEXT,
    assistant_text  TEXT,
    interrupted     INTEGER NOT NULL DEFAULT 0,
    tool_calls      TEXT,
    metadata        TEXT,
    fact_kind       TEXT,
    slot_key        TEXT,
    confidence      REAL NOT NULL DEFAULT 1.0,
    source_turn_ids TEXT,
    valid_from      REAL,
    valid_to        REAL,
    created_at      REAL NOT NULL,
    deleted_at      REAL,
    embedding       BLOB,
    embedding_model TEXT
);
CREATE INDEX items_by_caller ON items (tenant_id, project_id, space, user_id, created_at);
CREATE INDEX items_by_session ON items (tenant_id, project_id, session_id);
CREATE INDEX items_unembedded ON items (embedding_model);

-- search_key is a per-caller token; matching it in the same FTS query keeps the
-- BM25 search inside one caller without scanning the others' postings.
CREATE VIRTUAL TABLE items_fts USING fts5 (
    text, search_key,
    content = 'items', content_rowid = 'rowid',
    tokenize = 'porter unicode61'
);
CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, text, search_key) VALUES (new.rowid, new.text, new.search_key);
END;
CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text, search_key)
        VALUES ('delete', old.rowid, old.text, old.search_key);
END;
CREATE TRIGGER items_au AFTER UPDATE OF text, search_key ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text, search_key)
        VALUES ('delete', old.rowid, old.text, old.search_key);
    INSERT INTO items_fts (rowid, text, search_key) VALUES (new.rowid, new.text, new.search_key);
END;

CREATE TABLE org_indexes (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (tenant_id, project_id, name)
);

CREATE TABLE org_documents (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    index_name  TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    text        TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    version     INTEGER NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (tenant_id, project_id, index_name, doc_id)
);

CREATE TABLE chunks (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    index_name      TEXT NOT NULL,
    doc_id          TEXT NOT NULL,
    ordinal         INTEGER NOT NULL,
    text            TEXT NOT NULL,
    search_key      TEXT NOT NULL,
    metadata        TEXT NOT NULL DEFAULT '{}',
    created_at      REAL NOT NULL,
    embedding       BLOB,
    embedding_model TEXT
);
CREATE INDEX chunks_by_document ON chunks (tenant_id, project_id, index_name, doc_id);

CREATE VIRTUAL TABLE chunks_fts USING fts5 (
    text, search_key,
    content = 'chunks', content_rowid = 'rowid',
    tokenize = 'porter unicode61'
);
CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text, search_key) VALUES (new.rowid, new.text, new.search_key);
END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text, search_key)
        VALUES ('delete', old.rowid, old.text, old.search_key);
END;

CREATE TABLE journal_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    applied_seq INTEGER NOT NULL
);
INSERT INTO journal_state (id, applied_seq) VALUES (1, 0);
