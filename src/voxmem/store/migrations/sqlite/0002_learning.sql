-- Learning from calls and the memory lifecycle: extraction state per call, session
-- reports, per-project / per-agent memory policy, and a record of caller merges.

ALTER TABLE sessions ADD COLUMN last_activity_at REAL;
ALTER TABLE sessions ADD COLUMN extracted_at REAL;
ALTER TABLE sessions ADD COLUMN extraction_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN extraction_error TEXT;
ALTER TABLE sessions ADD COLUMN report TEXT;
CREATE INDEX sessions_pending_extraction ON sessions (ended_at) WHERE extracted_at IS NULL;
CREATE INDEX sessions_open ON sessions (last_activity_at) WHERE ended_at IS NULL;
CREATE INDEX items_by_source_session ON items (tenant_id, project_id, session_id, kind);
CREATE INDEX items_slot ON items (tenant_id, project_id, space, user_id, slot_key)
    WHERE kind = 'fact' AND valid_to IS NULL AND deleted_at IS NULL;

-- agent_id '' is the project-wide default; an agent row overrides it.
CREATE TABLE memory_policies (
    tenant_id       TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    agent_id        TEXT NOT NULL DEFAULT '',
    memory_enabled  INTEGER NOT NULL DEFAULT 1,
    retention_days  INTEGER NOT NULL DEFAULT 90,
    updated_at      REAL NOT NULL,
    PRIMARY KEY (tenant_id, project_id, agent_id)
);

CREATE TABLE caller_merges (
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    space       TEXT NOT NULL,
    from_user   TEXT NOT NULL,
    to_user     TEXT NOT NULL,
    at          REAL NOT NULL,
    items_moved INTEGER NOT NULL
);
