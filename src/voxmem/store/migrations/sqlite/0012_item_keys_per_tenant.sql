-- Item ids become keys per tenant: (id, tenant_id) instead of id alone, as on Postgres.
--
-- An export keeps its ids (event ids answer a retried turn id after an import), so a
-- caller imported into another tenant of the same file brings the ids the first tenant
-- holds; with id alone the key, that import was refused for rows of another tenant.
-- Tenants share no keys now, as they share no rows. SQLite cannot change a table's key
-- in place, so the table is copied once; rowid is copied too, since reads break ties
-- on created_at by it (insertion order). id leads the key, so the lookups by id alone
-- (re-embedding) still use it.
CREATE TABLE items_0012 (
    id              TEXT NOT NULL,
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
    embedding_model TEXT,
    second_embedding BLOB,
    second_embedding_model TEXT,
    PRIMARY KEY (id, tenant_id)
);
INSERT INTO items_0012 (rowid, id, tenant_id, project_id, space, user_id, agent_id,
    session_id, kind, text, search_key, turn_id, user_text, assistant_text, interrupted,
    tool_calls, metadata, fact_kind, slot_key, confidence, source_turn_ids, valid_from,
    valid_to, created_at, deleted_at, embedding, embedding_model, second_embedding,
    second_embedding_model)
SELECT rowid, id, tenant_id, project_id, space, user_id, agent_id,
    session_id, kind, text, search_key, turn_id, user_text, assistant_text, interrupted,
    tool_calls, metadata, fact_kind, slot_key, confidence, source_turn_ids, valid_from,
    valid_to, created_at, deleted_at, embedding, embedding_model, second_embedding,
    second_embedding_model
FROM items;
DROP TABLE items;
ALTER TABLE items_0012 RENAME TO items;
CREATE INDEX items_by_caller ON items (tenant_id, project_id, space, user_id, created_at);
CREATE INDEX items_by_session ON items (tenant_id, project_id, session_id);
CREATE INDEX items_unembedded ON items (embedding_model);
CREATE INDEX items_slot ON items (tenant_id, project_id, space, user_id, slot_key)
    WHERE kind = 'fact' AND valid_to IS NULL AND deleted_at IS NULL;
CREATE INDEX items_by_turn_id ON items (tenant_id, project_id, space, user_id, turn_id)
    WHERE turn_id IS NOT NULL;
CREATE INDEX items_facts_by_caller ON items (tenant_id, project_id, space, user_id, created_at)
    WHERE kind = 'fact';
CREATE INDEX items_by_session_time ON items (tenant_id, project_id, session_id, kind, created_at);
