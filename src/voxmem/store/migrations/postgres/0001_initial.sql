-- Callers, sessions, searchable caller memory (turns, facts, summaries), org indexes,
-- per-journal applied positions, and the row-level security that keeps tenants apart.
--
-- The same shape as the SQLite schema, with Postgres types: jsonb for JSON, a stored
-- tsvector + GIN for full-text search, and pgvector `vector` columns without a fixed
-- dimension (the embedder decides it at run time; see voxmem_ensure_vector_index).

CREATE EXTENSION IF NOT EXISTS vector;

-- Tenant ids only (no memory content), readable without a tenant setting, so maintenance
-- sweeps that span tenants (re-embedding) can visit each tenant under its own setting.
CREATE TABLE tenants (
    tenant_id   TEXT PRIMARY KEY,
    created_at  DOUBLE PRECISION NOT NULL
);

-- Each runtime has its own journal with its own sequence numbers, so each keeps its own
-- applied position; one shared position would make one runtime skip another's records.
CREATE TABLE journal_positions (
    journal_id   TEXT PRIMARY KEY,
    applied_seq  BIGINT NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL
);

CREATE TABLE callers (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    space       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    name        TEXT,
    metadata    JSONB NOT NULL DEFAULT '{}',
    profile     JSONB NOT NULL DEFAULT '{}',
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, project_id, space, user_id)
);

CREATE TABLE sessions (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    id          TEXT NOT NULL,
    space       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    started_at  DOUBLE PRECISION NOT NULL,
    ended_at    DOUBLE PRECISION,
    end_reason  TEXT,
    metadata    JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, project_id, id)
);
CREATE INDEX sessions_by_caller ON sessions (tenant_id, project_id, space, user_id, started_at);

-- One table for everything recall searches about a caller. `seq` gives the insertion
-- order SQLite's rowid gives (ties on created_at are broken by it).
CREATE TABLE items (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY,
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    space           TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    agent_id        TEXT NOT NULL DEFAULT '',
    session_id      TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('turn', 'fact', 'summary')),
    text            TEXT NOT NULL,
    tsv             TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    turn_id         TEXT,
    user_text       TEXT,
    assistant_text  TEXT,
    interrupted     BOOLEAN NOT NULL DEFAULT FALSE,
    tool_calls      JSONB,
    metadata        JSONB,
    fact_kind       TEXT,
    slot_key        TEXT,
    confidence      DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    source_turn_ids JSONB,
    valid_from      DOUBLE PRECISION,
    valid_to        DOUBLE PRECISION,
    created_at      DOUBLE PRECISION NOT NULL,
    deleted_at      DOUBLE PRECISION,
    embedding       vector,
    embedding_model TEXT
);
-- Every caller query starts here: load, full-text and exact vector search all read one
-- caller's rows (hundreds to thousands), which beats any global index.
CREATE INDEX items_by_caller ON items (tenant_id, project_id, space, user_id, created_at);
CREATE INDEX items_by_session ON items (tenant_id, project_id, session_id);
CREATE INDEX items_text ON items USING gin (tsv);

CREATE TABLE org_indexes (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    metadata    JSONB NOT NULL DEFAULT '{}',
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, project_id, name)
);

CREATE TABLE org_documents (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    index_name  TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    text        TEXT NOT NULL,
    metadata    JSONB NOT NULL DEFAULT '{}',
    version     INTEGER NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, project_id, index_name, doc_id)
);

CREATE TABLE chunks (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY,
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    index_name      TEXT NOT NULL,
    doc_id          TEXT NOT NULL,
    ordinal         INTEGER NOT NULL,
    text            TEXT NOT NULL,
    tsv             TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    metadata        JSONB NOT NULL DEFAULT '{}',
    created_at      DOUBLE PRECISION NOT NULL,
    embedding       vector,
    embedding_model TEXT
);
CREATE INDEX chunks_by_document ON chunks (tenant_id, project_id, index_name, doc_id);
CREATE INDEX chunks_by_project ON chunks (tenant_id, project_id, seq);
CREATE INDEX chunks_text ON chunks USING gin (tsv);

-- RFC 7396 JSON merge patch, as SQLite's json_patch() applies it to caller metadata.
CREATE FUNCTION voxmem_merge_patch(target JSONB, patch JSONB) RETURNS JSONB
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    result JSONB;
    key TEXT;
    value JSONB;
BEGIN
    IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN
        RETURN patch;
    END IF;
    result := CASE WHEN jsonb_typeof(target) = 'object' THEN target ELSE '{}'::JSONB END;
    FOR key, value IN SELECT e.key, e.value FROM jsonb_each(patch) AS e LOOP
        IF jsonb_typeof(value) = 'null' THEN
            result := result - key;
        ELSE
            result := jsonb_set(result, ARRAY[key], voxmem_merge_patch(result -> key, value));
        END IF;
    END LOOP;
    RETURN result;
END
$$;

-- HNSW needs a fixed dimension, but the dimension is only known once an embedder writes.
-- One partial expression index per dimension (created on first sight of it) lets rows of
-- an old and a new model coexist while the re-embedding sweep runs. SECURITY DEFINER so
-- the application role, which does not own the table, can ask for it; the function only
-- ever builds this one kind of index. search_path is pinned to the schema it lives in.
CREATE FUNCTION voxmem_ensure_vector_index(table_name TEXT, dims INTEGER) RETURNS BOOLEAN
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    index_name TEXT := table_name || '_embedding_' || dims || '_hnsw';
BEGIN
    IF table_name NOT IN ('chunks') THEN
        RAISE EXCEPTION 'no vector index is kept for table %', table_name;
    END IF;
    IF dims < 1 OR dims > 2000 THEN
        RETURN FALSE;  -- pgvector's HNSW holds at most 2000 dimensions: exact search only
    END IF;
    -- Two runtimes seeing a new dimension at once must not race on the same index name.
    PERFORM pg_advisory_xact_lock(hashtext('voxmem.ensure_vector_index'));
    IF to_regclass(index_name) IS NOT NULL THEN
        RETURN FALSE;
    END IF;
    EXECUTE format(
        'CREATE INDEX %I ON %I USING hnsw ((embedding::vector(%s)) vector_cosine_ops) '
        'WHERE vector_dims(embedding) = %s', index_name, table_name, dims, dims);
    RETURN TRUE;
END
$$;

-- Row-level security: the second wall behind the tenant filter every query already has.
-- Each transaction sets voxmem.tenant_id (set_config(..., true), so it never outlives the
-- transaction on a pooled connection); a row is visible and writable only when its
-- tenant_id equals it. FORCE makes the table owner obey the policies too; only superusers
-- and BYPASSRLS roles are exempt, and the application must use neither.
ALTER TABLE callers ENABLE ROW LEVEL SECURITY;
ALTER TABLE callers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON callers
    USING (tenant_id = current_setting('voxmem.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('voxmem.tenant_id', true));

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sessions
    USING (tenant_id = current_setting('voxmem.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('voxmem.tenant_id', true));

ALTER TABLE items ENABLE ROW LEVEL SECURITY;
ALTER TABLE items FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON items
    USING (tenant_id = current_setting('voxmem.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('voxmem.tenant_id', true));

ALTER TABLE org_indexes ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_indexes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON org_indexes
    USING (tenant_id = current_setting('voxmem.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('voxmem.tenant_id', true));

ALTER TABLE org_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_documents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON org_documents
    USING (tenant_id = current_setting('voxmem.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('voxmem.tenant_id', true));

ALTER TABLE chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON chunks
    USING (tenant_id = current_setting('voxmem.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('voxmem.tenant_id', true));
