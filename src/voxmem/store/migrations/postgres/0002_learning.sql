-- Learning from calls and the memory lifecycle: extraction state per call, session
-- reports, per-project / per-agent memory policy, and a record of caller merges.
-- (The SQLite 0002 migration, with Postgres types and the tenant policies.)

ALTER TABLE sessions ADD COLUMN last_activity_at DOUBLE PRECISION;
ALTER TABLE sessions ADD COLUMN extracted_at DOUBLE PRECISION;
ALTER TABLE sessions ADD COLUMN extraction_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN extraction_error TEXT;
ALTER TABLE sessions ADD COLUMN report JSONB;
-- The job queues are read per tenant (row security), so the tenant leads these indexes.
CREATE INDEX sessions_pending_extraction ON sessions (tenant_id, ended_at)
    WHERE extracted_at IS NULL;
CREATE INDEX sessions_open ON sessions (tenant_id, last_activity_at) WHERE ended_at IS NULL;
CREATE INDEX items_by_source_session ON items (tenant_id, project_id, session_id, kind);
CREATE INDEX items_slot ON items (tenant_id, project_id, space, user_id, slot_key)
    WHERE kind = 'fact' AND valid_to IS NULL AND deleted_at IS NULL;

-- agent_id '' is the project-wide default; an agent row overrides it.
CREATE TABLE memory_policies (
    tenant_id       TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    agent_id        TEXT NOT NULL DEFAULT '',
    memory_enabled  BOOLEAN NOT NULL DEFAULT TRUE,
    retention_days  INTEGER NOT NULL DEFAULT 90,
    updated_at      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, project_id, agent_id)
);

CREATE TABLE caller_merges (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    space       TEXT NOT NULL,
    from_user   TEXT NOT NULL,
    to_user     TEXT NOT NULL,
    at          DOUBLE PRECISION NOT NULL,
    items_moved INTEGER NOT NULL
);
CREATE INDEX caller_merges_by_caller ON caller_merges (tenant_id, project_id, space);

ALTER TABLE memory_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memory_policies
    USING (tenant_id = current_setting('voxmem.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('voxmem.tenant_id', true));

ALTER TABLE caller_merges ENABLE ROW LEVEL SECURITY;
ALTER TABLE caller_merges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON caller_merges
    USING (tenant_id = current_setting('voxmem.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('voxmem.tenant_id', true));
